"""The scalar tau^2 kernel (core/scalar.py) against dense formulas and the general engine."""
import numpy as np
import pytest

from metamodels.core.covariance import LinearCovariance
from metamodels.core.likelihood import NotPositiveDefiniteError, evaluate
from metamodels.core.scalar import DiagonalTau2
from metamodels.univariate import estimators as est


def _problems(n=12, seed=3):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        k = int(rng.integers(4, 40))
        p = int(rng.integers(1, 4))
        X = np.column_stack([np.ones(k), rng.normal(size=(k, p - 1))])
        v = rng.uniform(0.005, 0.8, k)
        y = X @ rng.normal(size=p) + rng.normal(0, np.sqrt(v + rng.uniform(0, 0.4)))
        yield y, v, X


def _dense(y, v, X, t):
    w = 1.0 / (v + t)
    W = np.diag(w)
    C = np.linalg.inv(X.T @ W @ X)
    P = W - W @ X @ C @ X.T @ W
    return w, C, P


@pytest.mark.parametrize("t", [0.0, 0.03, 0.7])
def test_moments_state_and_score_equal_dense_formulas(t):
    for y, v, X in _problems():
        k, p = X.shape
        prob = DiagonalTau2(y, v, X)
        w, C, P = _dense(y, v, X, t)
        q, trp, trpp, sw = prob.moments(t)
        np.testing.assert_allclose([q, trp, trpp, sw],
                                   [y @ P @ y, np.trace(P), np.trace(P @ P), w.sum()],
                                   rtol=1e-10)
        spec = LinearCovariance.diagonal(v, np.ones((1, k)), ("tau2",))
        for reml in (True, False):
            ev = evaluate([t], y, X, spec, reml=reml, order=2)
            st = prob.state(t, reml)
            np.testing.assert_allclose(st.beta, ev.beta, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(st.cov, C, rtol=1e-10)
            assert np.array_equal(st.cov, st.cov.T)
            assert st.llf == pytest.approx(ev.llf, rel=1e-12)
            assert st.info == pytest.approx(ev.info[0, 0], rel=1e-10)
            assert st.q == pytest.approx(ev.rss, rel=1e-10)
            g, info, obs = prob.score(t, reml)
            assert g == pytest.approx(ev.grad[0], rel=1e-9, abs=1e-9)
            assert info == pytest.approx(ev.info[0, 0], rel=1e-10)
            assert obs == pytest.approx(ev.obs_info[0, 0], rel=1e-9)
            # observed information = minus the derivative of the score (second-order
            # differences, one-sided at the boundary)
            h = 1e-5 * (t + 0.01)
            sc = lambda x: prob.score(x, reml)[0]  # noqa: E731
            fd = (-(sc(t + h) - sc(t - h)) / (2 * h) if t > h else
                  -(-3 * sc(t) + 4 * sc(t + h) - sc(t + 2 * h)) / (2 * h))
            assert obs == pytest.approx(fd, rel=1e-5)


def test_batched_pieces_equal_single_scores_and_dense_formulas():
    """The score ingredients of the global search (core/tau2.py) at several t at once:
    g, K (expected information) and H - K (observed information) equal the single-t
    kernel; F = y'P^2y, G = tr P (or tr W), H = y'P^3y the dense formulas."""
    ts = np.array([0.0, 1e-4, 0.02, 0.3, 4.0])
    for y, v, X in _problems(6):
        prob = DiagonalTau2(y, v, X)
        for reml in (True, False):
            P = prob.pieces(ts, reml)
            for i, t in enumerate(ts):
                g, info, obs = prob.score(t, reml)
                assert P.g[i] == pytest.approx(g, rel=1e-9, abs=1e-9 * abs(P.F[i]))
                assert P.K[i] == pytest.approx(info, rel=1e-9)
                assert P.H[i] - P.K[i] == pytest.approx(obs, rel=1e-8, abs=1e-9 * P.H[i])
                w, C, Pm = _dense(y, v, X, t)
                A = Pm if reml else np.diag(w)
                np.testing.assert_allclose(
                    [P.F[i], P.G[i], P.H[i], P.K[i]],
                    [y @ Pm @ Pm @ y, np.trace(A), y @ Pm @ Pm @ Pm @ y,
                     0.5 * np.trace(A @ A)], rtol=1e-9)


def test_hedges_start_equals_the_estimator():
    for y, v, X in _problems():
        assert DiagonalTau2(y, v, X).hedges() == pytest.approx(est.tau2_he(y, v, X)[0],
                                                               rel=1e-10, abs=1e-14)


def test_newton_step_is_exact_for_equal_variances_ml():
    """Intercept only, equal v, ML: g(t) (v + t)^2 is linear in t, so the scaled Newton
    step of core/tau2.py lands on the root s^2 - v from any start."""
    from metamodels.core.tau2 import scaled_step

    rng = np.random.default_rng(5)
    k, v = 25, 0.1
    y = rng.normal(0.4, np.sqrt(v + 0.3), k)
    root = np.mean((y - y.mean()) ** 2) - v
    assert root > 0
    prob = DiagonalTau2(y, np.full(k, v), np.ones((k, 1)))
    starts = np.array([0.0, 0.5 * root, 3.0 * root, 20.0])
    P = prob.pieces(starts, reml=False)
    np.testing.assert_allclose(starts + scaled_step(P), root, rtol=1e-12)
    t, ok, n_eval = prob.maximize(reml=False)
    assert ok and t == pytest.approx(root, rel=1e-12)


def test_boundary_solution_and_singular_design():
    rng = np.random.default_rng(8)
    k = 12
    v = rng.uniform(0.5, 1.0, k)
    y = rng.normal(0, 0.05, k)                     # far less spread than the v_i
    prob = DiagonalTau2(y, v, np.ones((k, 1)))
    t, ok, _ = prob.maximize(reml=True)
    assert ok and t == 0.0
    assert prob.score(0.0)[0] < 0 and prob.state(0.0).info > 0
    X = np.column_stack([np.ones(k), np.ones(k)])
    with pytest.raises(NotPositiveDefiniteError, match="rank deficient"):
        DiagonalTau2(y, v, X).score(0.1)
    with pytest.raises(NotPositiveDefiniteError, match="rank deficient"):
        DiagonalTau2(y, v, X).pieces([0.1])


def test_boundary_maximum_beats_a_worse_interior_maximum():
    """Five studies with variances 70-fold apart, REML: a local maximum at 0.0359 (where
    the ascent from the DerSimonian-Laird start would end), but S(0) < 0 makes 0 a local
    maximum too, with the higher restricted likelihood; single and batch fits both
    return 0."""
    import warnings

    from scipy import optimize

    import metamodels as mm
    from metamodels.batch import meta_analyze

    y = np.array([0.9935124711343659, 0.8202165897069613, 0.9930097296769432,
                  1.4860679223018634, 1.3850803291046896])
    v = np.array([0.00078480028920998, 0.01755367053825489, 0.00119106169803623,
                  0.03619705523613968, 0.05781659773638416])
    prob = DiagonalTau2(y, v, np.ones((5, 1)))
    q, trp, _, _ = prob.moments(0.0)
    dl = (q - 4) / trp
    assert dl > 0 and prob.score(0.0)[0] < 0
    inner = optimize.minimize_scalar(lambda t: -prob.loglik(t), bounds=(0.01, 0.1),
                                     method="bounded", options={"xatol": 1e-10}).x
    assert inner == pytest.approx(0.035877, rel=1e-4)
    assert abs(prob.score(inner)[0]) < 1e-3
    assert prob.loglik(0.0) > prob.loglik(inner) + 0.1
    t, ok, _ = prob.maximize(reml=True)
    assert ok and t == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert mm.MetaRandom(y, v).fit(method="REML").tau2 == 0.0
    out = meta_analyze(y[None, :], np.sqrt(v)[None, :], method="REML")
    assert out.loc[0, "tau2"] == 0.0


@pytest.mark.parametrize("offset", [1e3, 1e5])
def test_large_fitted_values_do_not_cost_accuracy(offset):
    """Effect sizes around ``offset`` with residuals of ~0.1: Q, coefficients and score
    stay as accurate as a direct residual computation (no cancellation in the
    cross-products)."""
    rng = np.random.default_rng(1)
    k = 30
    v = rng.uniform(0.005, 0.02, k)
    x = rng.normal(size=k)
    y = offset + 30.0 * x + rng.normal(0, np.sqrt(v + 0.01))
    X = np.column_stack([np.ones(k), x])
    prob = DiagonalTau2(y, v, X)
    for t in (0.0, 0.01):
        w = 1.0 / (v + t)
        b = np.linalg.lstsq(X * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
        r = y - X @ b
        st = prob.state(t)
        assert st.q == pytest.approx(float(np.sum(w * r * r)), rel=1e-9)
        np.testing.assert_allclose(st.beta, b, rtol=1e-12)
        # ML score 0.5 (sum w^2 r^2 - sum w) from the residuals directly
        g = 0.5 * (float(np.sum(w * w * r * r)) - float(w.sum()))
        assert prob.score(t, reml=False)[0] == pytest.approx(g, rel=1e-9, abs=1e-9 * w.sum())
