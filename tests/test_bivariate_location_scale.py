"""BivariateLocationScaleMeta: likelihood against dense brute force, derivatives against
finite differences, the optimum against a general optimiser, the constant model against
MetaMixed with an unstructured 2 x 2 random term, predictions, LR tests and errors."""
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import metamodels as mm
from metamodels.exceptions import SpecificationError


def _data(k=80, seed=6, missing=8):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=k)
    g = rng.integers(0, 2, size=k)
    s1, s2 = np.exp(-1.0 + 0.4 * g), np.exp(-1.3 + 0 * g)
    rho = np.tanh(0.5 + 0.6 * x)
    v1, v2 = rng.uniform(0.02, 0.2, k), rng.uniform(0.02, 0.2, k)
    c12 = 0.3 * np.sqrt(v1 * v2)
    u1 = rng.normal(size=k)
    u2 = rho * u1 + np.sqrt(1 - rho ** 2) * rng.normal(size=k)
    e1 = rng.normal(size=k)
    e2 = 0.3 * e1 + np.sqrt(0.91) * rng.normal(size=k)
    y1 = 0.5 + 0.3 * x + s1 * u1 + np.sqrt(v1) * e1
    y2 = 0.2 - 0.1 * x + s2 * u2 + np.sqrt(v2) * e2
    y2[:missing] = np.nan
    y1[missing:missing + 3] = np.nan
    return pd.DataFrame(dict(y1=y1, y2=y2, x=x, g=g, v1=v1, v2=v2, c12=c12))


DF = _data()


def _model(df=DF, scale=("~ g", "~ 1"), corr="~ x", mean="~ x"):
    return mm.BivariateLocationScaleMeta.from_formula(mean, data=df, outcomes=("y1", "y2"),
                                                      V=("v1", "v2", "c12"),
                                                      scale_formula=scale, corr_formula=corr)


def _dense_parts(df):
    """Stacked observed outcomes, their design, study and outcome of each row."""
    Y = df[["y1", "y2"]].to_numpy()
    obs = np.isfinite(Y)
    study, outcome = np.nonzero(obs)
    X = np.zeros((study.size, 4))
    x = df["x"].to_numpy()[study]
    X[outcome == 0, 0], X[outcome == 0, 1] = 1, x[outcome == 0]
    X[outcome == 1, 2], X[outcome == 1, 3] = 1, x[outcome == 1]
    S = np.zeros((study.size, study.size))
    v = df[["v1", "v2"]].to_numpy()
    c12 = df["c12"].to_numpy()
    same = study[:, None] == study[None, :]
    S[same] = c12[np.broadcast_to(study[:, None], same.shape)[same]]
    S[np.diag_indices(study.size)] = v[study, outcome]
    return Y[study, outcome], X, S, study, outcome, same


def _dense_V(df, theta, parts):
    """Explicit dense marginal covariance ``S + Sigma(theta)`` of the stacked rows."""
    y, X, S, study, outcome, same = parts
    g, xs = df["g"].to_numpy()[study], df["x"].to_numpy()[study]
    sd = np.where(outcome == 0, np.exp(theta[0] + theta[1] * g), np.exp(theta[2]))
    rho = np.tanh(theta[3] + theta[4] * xs)
    K = np.where(same, rho[:, None], 0.0)
    np.fill_diagonal(K, 1.0)
    return S + K * np.outer(sd, sd)


def _dense_loglik(df, theta, reml, parts=None):
    """Explicit dense log-likelihood profiled over the means (independent code)."""
    parts = _dense_parts(df) if parts is None else parts
    y, X = parts[0], parts[1]
    V = _dense_V(df, theta, parts)
    n = y.size
    Vi = np.linalg.inv(V)
    XVX = X.T @ Vi @ X
    b = np.linalg.solve(XVX, X.T @ Vi @ y)
    r = y - X @ b
    ll = -0.5 * (n * np.log(2 * np.pi) + np.linalg.slogdet(V)[1] + r @ Vi @ r)
    if reml:
        ll += 0.5 * X.shape[1] * np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(XVX)[1]
    return ll


@pytest.mark.parametrize("method", ["ML", "REML"])
def test_loglik_against_dense(method):
    m = _model()
    rng = np.random.default_rng(1)
    for _ in range(3):
        theta = rng.normal(scale=0.5, size=5) + np.array([-1, 0, -1.3, 0.3, 0])
        assert m.loglike(theta, method=method) == pytest.approx(
            _dense_loglik(DF, theta, method == "REML"), rel=1e-11)


def test_derivatives_against_finite_differences():
    spec = _model().spec
    theta = np.array([-0.9, 0.3, -1.2, 0.4, -0.5])
    h = 1e-6
    J = spec.jacobian(theta)
    H = spec.hessian_terms(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        up, dn = spec.build(theta + e), spec.build(theta - e)
        Jup, Jdn = spec.jacobian(theta + e), spec.jacobian(theta - e)
        for g in range(len(J)):
            np.testing.assert_allclose(J[g][j], (up[g] - dn[g]) / (2 * h), atol=1e-8)
            np.testing.assert_allclose(H[g][:, j], (Jup[g] - Jdn[g]) / (2 * h), atol=1e-7)
    for g in range(len(H)):
        np.testing.assert_allclose(H[g], np.swapaxes(H[g], 0, 1), atol=1e-14)


@pytest.mark.parametrize("method", ["ML", "REML"])
def test_optimum_against_general_optimiser(method):
    m = _model()
    res = m.fit(method=method)
    assert res.converged
    parts = _dense_parts(DF)
    f = lambda t: -_dense_loglik(DF, t, method == "REML", parts)  # noqa: E731
    best = optimize.minimize(f, np.asarray(res._ev.theta) + 0.2, method="BFGS",
                             options=dict(gtol=1e-8, maxiter=2000))
    assert res.llf >= -best.fun - 1e-9
    assert res.llf == pytest.approx(-best.fun, abs=1e-7)
    np.testing.assert_allclose(res._ev.theta, best.x, atol=1e-3)


@pytest.mark.parametrize("method", ["ML", "REML"])
def test_constant_model_equals_metamixed_un(method):
    res = _model(scale="~ 1", corr="~ 1").fit(method=method)
    long = []
    blocks = []
    for i, r in DF.iterrows():
        S = np.array([[r.v1, r.c12], [r.c12, r.v2]])
        obs = np.flatnonzero(np.isfinite([r.y1, r.y2]))
        for j in obs:
            long.append({"study": i, "outcome": f"o{j + 1}", "yi": [r.y1, r.y2][j], "x": r.x})
        blocks.append(S[np.ix_(obs, obs)])
    L = pd.DataFrame(long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mix = mm.MetaMixed.from_formula("yi ~ 0 + outcome + outcome:x + (0 + outcome | study)",
                                        L, V=blocks).fit(method=method)
    assert res.llf == pytest.approx(mix.llf, rel=1e-8)
    np.testing.assert_allclose(np.sort(np.asarray(res.params_location)),
                               np.sort(np.asarray(mix.params)[:4]), rtol=1e-6)
    sd = np.exp(np.asarray(res.params_scale))
    rho = np.tanh(float(res.params_corr.iloc[0]))
    pred = res.predict_parameters().iloc[0]
    assert pred["sd1"] == pytest.approx(sd[0]) and pred["rho"] == pytest.approx(rho)
    np.testing.assert_allclose(sd ** 2, np.asarray(mix.tau2), rtol=1e-5)
    assert rho == pytest.approx(mix.rho, abs=1e-5)


def test_predictions_lr_test_and_interface():
    full = _model().fit(method="ML")
    small = _model(corr="~ 1").fit(method="ML")
    stat, p, df = full.compare_lr_test(small)
    assert df == 1 and stat == pytest.approx(2 * (full.llf - small.llf)) and 0 < p < 1
    new = pd.DataFrame({"x": [0.0, 1.0], "g": [0, 1]})
    pred = full.predict_parameters(new, alpha=0.1)
    c = np.asarray(full.params_corr)
    assert pred["rho"].iloc[1] == pytest.approx(np.tanh(c[0] + c[1]))
    a = np.asarray(full.params_scale)
    assert pred["sd1"].iloc[1] == pytest.approx(np.exp(a[0] + a[1]))
    assert pred["sd1_ci_lower"].iloc[1] < pred["sd1"].iloc[1] < pred["sd1_ci_upper"].iloc[1]
    assert list(full.params.index[:2]) == ["y1:Intercept", "y1:x"]
    assert full.check()["ok"].all()
    assert "corr:x" in str(full.summary())
    assert np.isfinite(full.aic) and full.bse.notna().all()
    lo, hi = np.asarray(full.conf_int()).T
    assert np.all(lo < hi)


def test_pickle_round_trip():
    import pickle
    res = _model().fit(method="ML")
    back = pickle.loads(pickle.dumps(res))
    assert back.llf == res.llf
    new = pd.DataFrame({"x": [0.5], "g": [1]})
    pd.testing.assert_frame_equal(back.predict_parameters(new), res.predict_parameters(new))


def test_errors():
    with pytest.raises(ValueError, match="column"):
        mm.BivariateLocationScaleMeta.from_formula("~ x", data=DF, outcomes=("y1", "zz"),
                                                   V=("v1", "v2", "c12"))
    bad = DF.copy()
    bad.loc[20, "c12"] = 10.0
    with pytest.raises(ValueError, match="correlation"):
        _model(bad)
    one = DF.copy()
    one["y2"] = np.nan
    with pytest.raises(SpecificationError):
        _model(one, corr="~ 1")
    with pytest.raises(ValueError, match="method"):
        _model().fit(method="MOM")


def _full_loglik(df, params, parts):
    """Unprofiled dense log-likelihood of (b, theta)."""
    y, X = parts[0], parts[1]
    b, theta = params[:4], params[4:]
    V = _dense_V(df, theta, parts)
    r = y - X @ b
    return -0.5 * (y.size * np.log(2 * np.pi) + np.linalg.slogdet(V)[1]
                   + r @ np.linalg.solve(V, r))


def test_joint_covariance_against_numerical_hessian():
    res = _model().fit(method="ML")
    parts = _dense_parts(DF)
    x0 = np.asarray(res.params, dtype=float)
    k = x0.size
    h = 1e-4
    H = np.zeros((k, k))
    f = lambda z: _full_loglik(DF, z, parts)  # noqa: E731
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
            H[i, j] = H[j, i] = (f(x0 + ei + ej) - f(x0 + ei - ej) - f(x0 - ei + ej)
                                 + f(x0 - ei - ej)) / (4 * h * h)
    joint = res.cov_params_joint().to_numpy()
    np.testing.assert_allclose(joint, np.linalg.inv(-H), rtol=2e-4, atol=1e-8)
    # the variance-parameter block equals the inverse profiled information
    p = res.model.k_location
    np.testing.assert_allclose(joint[p:, p:], np.asarray(res.cov_params())[p:, p:], rtol=1e-8)
    # joint location SEs are never below the conditional ones
    assert np.all(np.asarray(res.bse_joint)[:p] >= np.asarray(res.bse)[:p] - 1e-12)
    with pytest.raises(ValueError, match="ML"):
        _model().fit(method="REML").cov_params_joint()


def test_location_scale_meta_joint_covariance():
    dat = mm.datasets.load("bangertdrowns2004")
    m = mm.LocationScaleMeta.from_formula("yi ~ meta", data=dat, vi="vi",
                                          scale_formula="~ np.log(ni)")
    res = m.fit(method="ML")
    joint = res.cov_params_joint().to_numpy()
    p = m.k_location
    np.testing.assert_allclose(joint[p:, p:], np.asarray(res.cov_params())[p:, p:], rtol=1e-7)
    y, X, v = m.endog, m.exog, m.known.diagonal()
    Z = m.exog_scale

    def f(z):
        b, a = z[:p], z[p:]
        s = v + np.exp(2 * Z @ a)
        r = y - X @ b
        return -0.5 * np.sum(np.log(2 * np.pi * s) + r * r / s)

    x0 = np.asarray(res.params, dtype=float)
    k, h = x0.size, 1e-4
    H = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
            H[i, j] = H[j, i] = (f(x0 + ei + ej) - f(x0 + ei - ej) - f(x0 - ei + ej)
                                 + f(x0 - ei - ej)) / (4 * h * h)
    np.testing.assert_allclose(joint, np.linalg.inv(-H), rtol=2e-4, atol=1e-9)
