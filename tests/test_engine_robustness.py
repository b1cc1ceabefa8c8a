"""Engine robustness: a trial point where V(theta) is singular, not positive definite or
gives non-finite values is a rejected step, never an exception out of the optimiser
(issue 12 point 3)."""
import numpy as np
import pytest

from metamodels.core.blocks import BlockLayout
from metamodels.core.covariance import CovarianceSpec, LinearCovariance
from metamodels.core.likelihood import NotPositiveDefiniteError, cholesky_inverse, evaluate
from metamodels.core.optimize import maximize


def _data(seed=1):
    rng = np.random.default_rng(seed)
    sizes = [1, 2, 2, 3, 3, 3, 4, 5, 4, 3]
    groups = np.repeat(np.arange(len(sizes)), sizes)
    n = groups.size
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = X @ [1.0, 0.5] + rng.normal(size=len(sizes))[groups] + rng.normal(size=n)
    return y, X, groups


def _random_intercept(groups):
    layout = BlockLayout.from_labels(groups)
    comps = []
    for rows in layout.groups:
        nb, m = rows.shape
        comps.append(np.stack([np.ones((nb, m, m)),
                               np.broadcast_to(np.eye(m), (nb, m, m)).copy()]))
    return LinearCovariance(layout, [None] * len(comps), comps, ["g", "resid"])


class _Trap(CovarianceSpec):
    """``V(theta)`` of ``base``, except that the ``bad``-th call of :meth:`build` (a trial
    point of the optimiser) returns singular blocks (``kind="singular"``: the residual
    variance dropped, ``V = g J``, which a Cholesky factorisation may pass in rounding) or
    blocks with a NaN (``kind="nan"``) or an infinite entry (``kind="inf"``)."""

    is_linear = True

    def __init__(self, base, bad=(2,), kind="singular"):
        self.base, self.bad, self.kind = base, set(bad), kind
        self.layout = base.layout
        self.param_names = base.param_names
        self.lower, self.upper = base.lower, base.upper
        self.calls = 0
        self.trapped = 0

    def build(self, theta):
        self.calls += 1
        vs = self.base.build(theta)
        if self.calls not in self.bad:
            return vs
        self.trapped += 1
        out = []
        for v in vs:
            v = v.copy()
            if self.kind == "singular":
                if v.ndim == 3 and v.shape[1] > 1:
                    v = theta[0] * np.ones_like(v)
            elif self.kind == "nan":
                v[..., 0, 0] = np.nan if v.ndim == 3 else v[..., 0, 0]
            else:
                if v.ndim == 3:
                    v[..., 0, 0] = np.inf
            out.append(v)
        return out

    def jacobian(self, theta):
        return self.base.jacobian(theta)


def test_cholesky_inverse_equals_inverse_and_rejects_singular_blocks():
    rng = np.random.default_rng(0)
    for m in (1, 3, 7, 30):
        A = rng.normal(size=(5, m, m))
        V = A @ np.swapaxes(A, 1, 2) + m * np.eye(m)
        vinv, logdet = cholesky_inverse(V)
        np.testing.assert_allclose(vinv, np.linalg.inv(V), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(logdet, np.linalg.slogdet(V)[1], rtol=1e-12)
        assert np.array_equal(vinv, np.swapaxes(vinv, 1, 2))
    # exactly singular blocks g J: Cholesky may pass them in rounding; the pivot test
    # reports them instead of returning a meaningless inverse
    J = np.full((4, 3, 3), 2.0)
    with pytest.raises(NotPositiveDefiniteError):
        cholesky_inverse(J)
    bad = np.broadcast_to(np.eye(3), (2, 3, 3)).copy()
    bad[1, 0, 0] = np.nan
    with pytest.raises(NotPositiveDefiniteError):
        cholesky_inverse(bad)


def test_evaluate_reports_a_singular_v_as_not_positive_definite():
    y, X, groups = _data()
    spec = _random_intercept(groups)
    for reml in (True, False):
        with pytest.raises(NotPositiveDefiniteError):
            evaluate([1.3, 0.0], y, X, spec, reml, 1)        # V = g J: singular


@pytest.mark.parametrize("kind", ["singular", "nan", "inf"])
@pytest.mark.parametrize("reml", [True, False])
def test_singular_trial_point_is_a_rejected_step(kind, reml):
    """The first trial steps of the ascent land on a V that is singular (or not
    finite): they are rejected (step halving) and the fit converges to the same optimum
    as without the trap."""
    y, X, groups = _data()
    clean = maximize(y, X, _random_intercept(groups), [1.0, 1.0], reml=reml)
    trap = _Trap(_random_intercept(groups), bad=(2, 3, 5), kind=kind)
    out = maximize(y, X, trap, [1.0, 1.0], reml=reml)
    assert trap.trapped == 3
    assert clean.converged and out.converged
    assert out.evaluation.llf == pytest.approx(clean.evaluation.llf, rel=1e-10, abs=1e-10)
    np.testing.assert_allclose(out.theta, clean.theta, rtol=1e-6, atol=1e-8)


def test_boundary_step_onto_singular_v_is_rejected():
    """A random intercept whose residual variance has lower bound 0: steps clipped
    onto resid = 0 make every block of size > 1 exactly singular (V = g J).  The ascent
    must step back and converge, whatever the BLAS kernel makes of the factorisation."""
    y, X, groups = _data(7)
    spec = _random_intercept(groups)
    for start in ([1.0, 1e-9], [5.0, 0.05], [0.1, 3.0]):
        out = maximize(y, X, spec, start, reml=True)
        assert out.converged and np.isfinite(out.evaluation.llf)
        assert out.theta[1] > 0
    # the dense optimum of the same likelihood (brute force over a grid, then refined)
    best = max((evaluate([a, b], y, X, spec, True).llf, a, b)
               for a in np.linspace(0.05, 4, 60) for b in np.linspace(0.05, 4, 60))
    assert out.evaluation.llf >= best[0] - 1e-9


def test_diagonal_path_rejects_a_zero_variance_trial():
    """Univariate V = diag(v + t) with t allowed below 0 (lower bound -min v): a step
    onto V = 0 is rejected."""
    rng = np.random.default_rng(2)
    k = 15
    v = np.full(k, 0.2)
    y = rng.normal(0, 0.2, k)                   # less spread than v: optimum below 0
    spec = LinearCovariance.diagonal(v, np.ones((1, k)), ("t",), lower=[-0.2])
    out = maximize(y, np.ones((k, 1)), spec, [0.5], reml=False)
    assert out.converged and out.theta[0] > -0.2 and np.isfinite(out.evaluation.llf)
    grid = np.linspace(-0.199, 0.5, 4000)
    llf = [evaluate([t], y, np.ones((k, 1)), spec, False).llf for t in grid]
    assert out.evaluation.llf >= max(llf) - 1e-9
