"""The block-diagonal Gaussian engine against dense brute force."""
import numpy as np
import pytest

from metamodels.core.blocks import BlockLayout
from metamodels.core.covariance import CovarianceSpec, LinearCovariance
from metamodels.core.likelihood import NotPositiveDefiniteError, evaluate
from metamodels.core.optimize import maximize


def dense_v(spec, theta):
    n = spec.layout.nobs
    V = np.zeros((n, n))
    for rows, v in zip(spec.layout.groups, spec.build(theta)):
        for b in range(rows.shape[0]):
            idx = rows[b]
            V[np.ix_(idx, idx)] = v[b] if v.ndim == 3 else np.diag([v[b]])
    return V


def dense_dv(spec, theta):
    n = spec.layout.nobs
    out = np.zeros((spec.n_params, n, n))
    for rows, dv in zip(spec.layout.groups, spec.jacobian(theta)):
        for j in range(spec.n_params):
            for b in range(rows.shape[0]):
                idx = rows[b]
                out[j][np.ix_(idx, idx)] = dv[j, b] if dv.ndim == 4 else np.diag([dv[j, b]])
    return out


def dense_llf(y, X, V, reml):
    n, p = X.shape
    Vi = np.linalg.inv(V)
    xvx = X.T @ Vi @ X
    b = np.linalg.solve(xvx, X.T @ Vi @ y)
    r = y - X @ b
    ll = -0.5 * (np.linalg.slogdet(V)[1] + r @ Vi @ r)
    if reml:
        return ll - 0.5 * ((n - p) * np.log(2 * np.pi) + np.linalg.slogdet(xvx)[1])
    return ll - 0.5 * n * np.log(2 * np.pi)


def dense_info(X, V, dV, reml):
    Vi = np.linalg.inv(V)
    A = Vi - Vi @ X @ np.linalg.solve(X.T @ Vi @ X, X.T @ Vi) if reml else Vi
    q = dV.shape[0]
    return np.array([[0.5 * np.trace(A @ dV[j] @ A @ dV[k]) for k in range(q)] for j in range(q)])


def random_intercept_spec(groups, sizes_known=None, slope=None):
    """Random intercept (+ optional random slope variance) + residual variance."""
    layout = BlockLayout.from_labels(groups)
    comps, known = [], []
    for rows in layout.groups:
        nb, m = rows.shape
        J = np.ones((nb, m, m))
        I = np.broadcast_to(np.eye(m), (nb, m, m)).copy()
        parts = [J, I]
        if slope is not None:
            z = slope[rows]
            parts.insert(1, np.einsum("bi,bj->bij", z, z))
        comps.append(np.stack(parts))
        known.append(None if sizes_known is None else
                     np.einsum("bi,ij->bij", sizes_known[rows], np.eye(m)))
    names = ["g", "slope", "resid"] if slope is not None else ["g", "resid"]
    return LinearCovariance(layout, known, comps, names)


@pytest.fixture
def unbalanced():
    rng = np.random.default_rng(1)
    sizes = [1, 2, 2, 3, 3, 3, 4, 5]
    groups = np.repeat(np.arange(len(sizes)), sizes)
    perm = rng.permutation(groups.size)
    groups = groups[perm]
    n = groups.size
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    slope = rng.normal(size=n)
    y = X @ [1.0, 0.5, -0.3] + rng.normal(size=len(sizes))[groups] + rng.normal(size=n)
    return y, X, groups, slope


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("with_slope", [False, True])
def test_dense_blocks_against_brute_force(unbalanced, reml, with_slope):
    y, X, groups, slope = unbalanced
    spec = random_intercept_spec(groups, slope=slope if with_slope else None)
    theta = np.array([0.7, 0.2, 1.3]) if with_slope else np.array([0.7, 1.3])
    ev = evaluate(theta, y, X, spec, reml=reml, order=1)
    V = dense_v(spec, theta)
    dV = dense_dv(spec, theta)
    assert ev.llf == pytest.approx(dense_llf(y, X, V, reml), rel=1e-12)
    # gradient and observed information by central differences
    h = 1e-6
    f = lambda t: evaluate(t, y, X, spec, reml=reml).llf  # noqa: E731
    g_num = np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(theta.size)])
    np.testing.assert_allclose(ev.grad, g_num, rtol=1e-6, atol=1e-7)
    gfun = lambda t: evaluate(t, y, X, spec, reml=reml, order=1).grad  # noqa: E731
    H = np.array([(gfun(theta + h * e) - gfun(theta - h * e)) / (2 * h) for e in np.eye(theta.size)])
    np.testing.assert_allclose(ev.obs_info, -0.5 * (H + H.T), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ev.info, dense_info(X, V, dV, reml), rtol=1e-10)


@pytest.mark.parametrize("reml", [False, True])
def test_diagonal_fast_path_equals_general_path(reml):
    rng = np.random.default_rng(3)
    k = 20
    X = np.column_stack([np.ones(k), rng.normal(size=k)])
    v = rng.uniform(0.05, 0.5, k)
    y = X @ [0.3, 0.2] + rng.normal(0, np.sqrt(v + 0.1))
    D = np.vstack([np.ones(k), rng.uniform(0, 1, k)])
    fast = LinearCovariance.diagonal(v, D, ("a", "b"))
    slow = LinearCovariance(BlockLayout.diagonal(k), [v], [D], ("a", "b"))
    slow.is_linear = True
    assert slow.unit_components is False
    for theta in ([0.1, 0.05], [0.0, 0.3]):
        e1 = evaluate(theta, y, X, fast, reml, 1)
        # general path: force it by wrapping the layout into a non-single-group layout
        e2 = evaluate(theta, y, X, _TwoGroups(slow), reml, 1)
        assert e1.llf == pytest.approx(e2.llf, rel=1e-12)
        np.testing.assert_allclose(e1.grad, e2.grad, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(e1.info, e2.info, rtol=1e-10)
        np.testing.assert_allclose(e1.obs_info, e2.obs_info, rtol=1e-10, atol=1e-10)
    one = LinearCovariance.diagonal(v, np.ones((1, k)), ("tau2",))
    assert one.unit_components
    e1 = evaluate([0.2], y, X, one, reml, 1)
    e2 = evaluate([0.2], y, X, _TwoGroups(one), reml, 1)
    np.testing.assert_allclose([e1.llf, e1.grad[0], e1.info[0, 0], e1.obs_info[0, 0]],
                               [e2.llf, e2.grad[0], e2.info[0, 0], e2.obs_info[0, 0]], rtol=1e-10)


class _TwoGroups(CovarianceSpec):
    """The same diagonal covariance split into two groups (general code path)."""

    is_linear = True

    def __init__(self, spec):
        n = spec.layout.nobs
        half = n // 2
        self.base = spec
        self.layout = BlockLayout((np.arange(half)[:, None], np.arange(half, n)[:, None]), n)
        self.param_names = spec.param_names
        self.lower, self.upper = spec.lower, spec.upper
        self.half = half

    def build(self, theta):
        v = self.base.build(theta)[0]
        return [v[: self.half], v[self.half:]]

    def jacobian(self, theta):
        d = self.base.jacobian(theta)[0]
        return [d[:, : self.half], d[:, self.half:]]


def test_block_layout_from_labels_groups_by_size():
    labels = np.array(["b", "a", "b", "c", "a", "b"])
    order = np.array([3, 2, 1, 1, 1, 2])
    lay = BlockLayout.from_labels(labels, order=order)
    assert lay.nobs == 6 and lay.n_blocks == 3
    sizes = sorted(g.shape[1] for g in lay.groups)
    assert sizes == [1, 2, 3]
    g3 = [g for g in lay.groups if g.shape[1] == 3][0]
    assert list(g3[0]) == [2, 5, 0]          # "b" rows sorted by order 1, 2, 3
    g2 = [g for g in lay.groups if g.shape[1] == 2][0]
    assert list(g2[0]) == [4, 1]
    assert not lay.is_diagonal and BlockLayout.diagonal(4).is_diagonal


def test_maximize_random_intercept_matches_dense_optimum(unbalanced):
    y, X, groups, _ = unbalanced
    spec = random_intercept_spec(groups)
    out = maximize(y, X, spec, [1.0, 1.0], reml=True)
    assert out.converged
    # compare with a brute-force optimiser on the dense likelihood
    from scipy import optimize
    f = lambda t: -dense_llf(y, X, dense_v(spec, t), True)  # noqa: E731
    ref = optimize.minimize(f, [1.0, 1.0], method="L-BFGS-B", bounds=[(0, None), (1e-8, None)],
                            options={"ftol": 1e-15, "gtol": 1e-10})
    assert out.evaluation.llf >= -ref.fun - 1e-9
    np.testing.assert_allclose(out.theta, ref.x, rtol=1e-4, atol=1e-6)
    assert np.all(np.abs(out.evaluation.grad[~out.at_lower]) < 1e-6)


def test_not_positive_definite_is_reported():
    k = 5
    spec = LinearCovariance.diagonal(np.ones(k), np.ones((1, k)), ("t",), lower=[-10.0])
    with pytest.raises(NotPositiveDefiniteError):
        evaluate([-2.0], np.zeros(k), np.ones((k, 1)), spec)


def test_singular_design_is_reported():
    k = 5
    spec = LinearCovariance.diagonal(np.ones(k), np.ones((1, k)), ("t",))
    X = np.column_stack([np.ones(k), np.ones(k)])
    with pytest.raises(NotPositiveDefiniteError, match="rank deficient"):
        evaluate([0.1], np.arange(k, dtype=float), X, spec)


@pytest.mark.parametrize("reml", [False, True])
def test_scalar_kernel_matches_general_optimizer(reml):
    from metamodels.core.scalar import DiagonalTau2
    rng = np.random.default_rng(11)
    for _ in range(40):
        k = int(rng.integers(4, 60))
        X = np.column_stack([np.ones(k), rng.normal(size=(k, int(rng.integers(0, 3))))])
        v = rng.uniform(0.01, 0.5, k)
        y = X @ rng.normal(size=X.shape[1]) + rng.normal(0, np.sqrt(v + rng.uniform(0, 0.3)))
        spec = LinearCovariance.diagonal(v, np.ones((1, k)), ("tau2",))
        ref = maximize(y, X, spec, [0.1], reml=reml, restarts=[[0.0], [1.0]])
        prob = DiagonalTau2(y, v, X)
        t, ok, _ = prob.maximize(reml=reml)
        assert ok
        assert prob.loglik(t, reml) >= ref.evaluation.llf - 1e-10
        assert t == pytest.approx(ref.theta[0], rel=1e-8, abs=1e-12)


def test_global_search_finds_better_interior_maximum():
    """BCG, yi ~ ablat + alloc, ML: a local maximum at tau2 = 0 (the score is negative
    there) and the global one at 0.0294."""
    import json
    from pathlib import Path

    import pandas as pd

    import metamodels as mm
    from metamodels.core.scalar import DiagonalTau2
    ref = json.loads((Path(__file__).parent / "reference" / "meta_univariate.json").read_text())
    df = pd.DataFrame(ref["data"]["bcg"])
    m = mm.MetaRandom.from_formula("yi ~ ablat + C(alloc)", df, vi="vi")
    y, v, X = m.endog, m.vi, m.exog
    prob = DiagonalTau2(y, v, X)
    assert prob.score(0.0, reml=False)[0] < 0             # 0 is a local maximum
    t, ok, _ = prob.maximize(reml=False)
    expected = [c for c in ref["cases"] if c["name"] == "bcg_ML_knha_factor"][0]["result"]["tau2"]
    assert ok and t == pytest.approx(expected, rel=1e-8)
    assert prob.loglik(t, reml=False) > prob.loglik(0.0, reml=False)
    assert m.fit(method="ML").tau2 == pytest.approx(expected, rel=1e-8)
