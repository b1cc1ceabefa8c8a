"""The equal-variance bivariate model (two mean differences per study, unknown unit
variances) as a statsmodels-style results object: the closed-form ML fits against a general
optimiser, the covariance against the inverse observed information, the LR test of one
common unit variance against one per outcome, and the joint confidence ellipse (and its
plot, also for BivariateMeta)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import optimize, stats  # noqa: E402

import metamodels as mm  # noqa: E402
from metamodels.plots import confidence_region_plot  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    k = 14
    nt, nc = rng.integers(10, 60, (k, 2)), rng.integers(10, 60, (k, 2))
    w = 1 / nt + 1 / nc
    D = np.array([0.4, -0.2]) + rng.normal(0, 1, (k, 2)) * np.sqrt(w * [1.5, 4.0])
    D[4, 0] = np.nan
    return D, nt, nc


def _model(data):
    D, nt, nc = data
    return mm.BivariateMeta.from_group_sizes(D[:, 0], D[:, 1], nt[:, 0], nc[:, 0], nt[:, 1],
                                             nc[:, 1], names=("PD", "AL"))


def _brute_force(model, common):
    """Maximise the log-likelihood over (mu1, mu2, log s2...) with a general optimiser."""
    def negll(p):
        s2 = np.exp([p[2], p[2]] if common else p[2:4])
        return -model.loglike(p[:2], s2)
    start = np.zeros(3 if common else 4)
    sol = optimize.minimize(negll, start, method="BFGS", options={"gtol": 1e-10})
    sol = optimize.minimize(negll, sol.x, method="Nelder-Mead",
                            options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 20000})
    return sol


@pytest.mark.parametrize("common", [False, True])
def test_closed_form_is_the_maximum(data, common):
    m = _model(data)
    res = m.fit(common_variance=common)
    sol = _brute_force(m, common)
    np.testing.assert_allclose(res.params, sol.x[:2], atol=1e-6)
    s2 = np.exp([sol.x[2]] * 2 if common else sol.x[2:4])
    np.testing.assert_allclose(res.unit_variance, s2, rtol=1e-5)
    assert res.llf == pytest.approx(-sol.fun, abs=1e-9)
    assert res.llf >= -sol.fun - 1e-12
    assert list(res.params.index) == ["PD", "AL"]
    assert res.n_params_total == (3 if common else 4)
    assert res.aic == pytest.approx(-2 * res.llf + 2 * res.n_params_total)


def test_covariance_is_the_inverse_observed_information(data):
    m = _model(data)
    res = m.fit()
    theta = np.r_[np.asarray(res.params), np.asarray(res.unit_variance)]

    def ll(t):
        return m.loglike(t[:2], t[2:])
    h = 1e-4 * np.maximum(np.abs(theta), 1e-2)
    H = np.empty((4, 4))
    for a in range(4):
        for b in range(4):
            ea, eb = np.eye(4)[a] * h[a], np.eye(4)[b] * h[b]
            H[a, b] = (ll(theta + ea + eb) - ll(theta + ea - eb) - ll(theta - ea + eb)
                       + ll(theta - ea - eb)) / (4 * h[a] * h[b])
    cov = np.linalg.inv(-H)
    np.testing.assert_allclose(np.asarray(res.cov_params()), cov[:2, :2], rtol=1e-4,
                               atol=1e-10)
    ci = np.asarray(res.conf_int(0.1))
    np.testing.assert_allclose(ci[:, 1] - np.asarray(res.params),
                               stats.norm.ppf(0.95) * np.sqrt(np.diag(cov[:2, :2])), rtol=1e-4)


def test_lr_test_common_against_per_outcome_variances(data):
    m = _model(data)
    full, common = m.fit(), m.fit(common_variance=True)
    assert common.unit_variance.iloc[0] == common.unit_variance.iloc[1]
    np.testing.assert_allclose(common.params, full.params)
    lr = full.compare_lr_test(common)
    stat, p, df = lr
    assert df == 1 and stat == pytest.approx(2 * (full.llf - common.llf)) and stat > 0
    assert p == pytest.approx(stats.chi2.sf(stat, 1))
    # closed form of the statistic: sum_j k_j log(s^2 / s_j^2)
    D = data[0]
    k = np.isfinite(D).sum(axis=0)
    s2, s2j = common.unit_variance.iloc[0], full.unit_variance.to_numpy()
    assert stat == pytest.approx(np.sum(k * np.log(s2 / s2j)), rel=1e-10)
    assert "one unit variance for both outcomes" in str(common.summary())
    table = mm.lr_test(full, common)
    assert table["df"].iloc[1] == 1


def test_confidence_region_and_plot(data):
    res = _model(data).fit()
    pts = res.confidence_region(alpha=0.05, n_points=90)
    b = np.asarray(res.params)
    Cinv = np.linalg.inv(np.asarray(res.cov_params()))
    q = np.einsum("ij,jk,ik->i", pts - b, Cinv, pts - b)
    np.testing.assert_allclose(q, stats.chi2.ppf(0.95, 2), rtol=1e-10)
    swapped = res.confidence_region(which=("AL", "PD"), n_points=90)[:, ::-1]   # by name
    q2 = np.einsum("ij,jk,ik->i", swapped - b, Cinv, swapped - b)
    np.testing.assert_allclose(q2, stats.chi2.ppf(0.95, 2), rtol=1e-10)
    fig = res.plot_confidence_region(alpha=[0.05, 0.5])
    ax = fig.axes[0]
    regions = [a for a in ax.get_lines() if a.get_gid() == "region"]
    assert len(regions) == 2
    np.testing.assert_allclose(regions[0].get_xydata(), res.confidence_region(0.05))
    (est,) = [c for c in ax.collections if c.get_gid() == "estimate"]
    np.testing.assert_allclose(est.get_offsets()[0], b)
    cross = [a for a in ax.get_lines() if a.get_gid() == "marginal_ci"]
    np.testing.assert_allclose(cross[0].get_xdata(), np.asarray(res.conf_int(0.05))[0])
    assert ax.get_xlabel() == "PD" and ax.get_ylabel() == "AL"
    with pytest.raises(ValueError, match="two different"):
        res.confidence_region(which=(0, 0))
    with pytest.raises(ValueError, match="alpha"):
        res.confidence_region(alpha=1.5)


def test_bivariate_meta_region_plot():
    d = mm.datasets.load("berkey1998")
    pd_, al = d[d.outcome == "PD"].set_index("trial"), d[d.outcome == "AL"].set_index("trial")
    wide = pd.DataFrame({"PD": pd_.yi, "AL": al.yi, "vPD": pd_.v1i, "cov": pd_.v2i,
                         "vAL": al.v2i})
    res = mm.BivariateMeta.from_formula("PD + AL ~ 1", wide,
                                        within_cov=["vPD", "cov", "vAL"]).fit()
    fig, ax = plt.subplots()
    out = confidence_region_plot(res, ax=ax, refline=None, marginal=False)
    assert out is fig
    (line,) = [a for a in ax.get_lines() if a.get_gid() == "region"]
    pts = line.get_xydata()
    C = np.asarray(res.cov_params())
    q = np.einsum("ij,jk,ik->i", pts - np.asarray(res.params), np.linalg.inv(C),
                  pts - np.asarray(res.params))
    np.testing.assert_allclose(q, stats.chi2.ppf(0.95, 2), rtol=1e-10)
    assert [a for a in ax.get_lines() if a.get_gid() in ("refline", "marginal_ci")] == []
