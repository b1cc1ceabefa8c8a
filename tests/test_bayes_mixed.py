"""Bayesian MixedModel by Gibbs sampling (metamodels.bayes.gibbs).

Exact posteriors of conjugate cases, simulation-based calibration, agreement with REML,
diagnostics, API and the SAS PROC BGLIMM example (skipped without the data file).
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from metamodels import MixedModel
from metamodels.bayes.gibbs import (BayesMixedResults, GibbsPriors, GibbsSampler, ess,
                                    fit_bayes, hpd_interval, rhat)
from metamodels.bayes.gibbs.deviance import MarginalDeviance

from conftest import shared_path, shared_skip_reason

FEV = "fev ~ baseval + C(drug) + C(hour) + (1 | patient)"
UN = dict(repeated="hour", subject="patient:drug", cov_struct="UN")
BGLIMM_CSV = shared_path("data", "fev_bglimm.csv")
# SAS's PROC BGLIMM example 1 model, in SAS's parameterisation (last levels as reference)
SAS_FEV = "fev ~ baseval + C(drug, Treatment('p')) + C(hour, Treatment(8)) + (1 | patient)"
# its published posterior means and SDs (10,000 draws)
SAS_BGLIMM = {"Intercept": (0.995, 0.442), "baseval": (0.601, 0.159),
              "C(drug, Treatment('p'))[T.a]": (0.330, 0.081),
              "C(drug, Treatment('p'))[T.c]": (0.541, 0.083),
              "UN(7,7)": (0.350, None), "UN(8,8)": (0.346, None),
              "patient Var((Intercept))": (0.347, None)}


@pytest.fixture(scope="module")
def fev_model(fev_sim):
    return MixedModel.from_formula(FEV, fev_sim, **UN)


@pytest.fixture(scope="module")
def fev_reml(fev_model):
    return fev_model.fit()


@pytest.fixture(scope="module")
def fev_post(fev_model):
    return fit_bayes(fev_model, draws=3000, burn=500, chains=2, seed=44672057)


def _inv_gamma(rng, a, b, size=None):
    return b / rng.gamma(a, size=size)


def _ks_p(draws, cdf):
    return stats.kstest(np.ravel(draws), cdf).pvalue


# ----------------------------------------------------------------- exact posteriors
def test_one_sample_normal_unknown_variance_matches_normal_inverse_gamma():
    """Flat prior on mu, IG(a, b) on s2: s2 | y ~ IG(a + (n-1)/2, b + SS/2) and
    mu | y ~ ybar + sqrt((b + SS/2) / ((a + (n-1)/2) n)) t_(2a + n - 1)."""
    rng = np.random.default_rng(1)
    y = rng.normal(3.0, 2.0, size=12)
    n, a, b = y.size, 2.0, 1.0
    model = MixedModel(y, np.ones((n, 1)))
    post = fit_bayes(model, draws=16000, burn=200, chains=2, thin=4, seed=5,
                     priors=GibbsPriors(ig_shape=a, ig_scale=b))
    ss = np.sum((y - y.mean()) ** 2)
    a1, b1 = a + (n - 1) / 2, b + ss / 2
    mu = post.chain_array("const")
    s2 = post.chain_array("Residual")
    scale = np.sqrt(b1 / (a1 * n))
    assert _ks_p(mu, stats.t(2 * a1, loc=y.mean(), scale=scale).cdf) > 1e-3
    assert _ks_p(s2, stats.invgamma(a1, scale=b1).cdf) > 1e-3
    sf = post.summary_frame()
    assert sf.loc["Residual", "mean"] == pytest.approx(b1 / (a1 - 1), rel=0.02)
    assert sf.loc["const", "mean"] == pytest.approx(y.mean(), abs=0.02)
    # the HPD interval of the t posterior is the symmetric central interval
    q = stats.t(2 * a1, loc=y.mean(), scale=scale).ppf([0.025, 0.975])
    np.testing.assert_allclose(sf.loc["const", ["hpd_lower", "hpd_upper"]], q, atol=0.05)


def test_known_variance_normal_prior_is_exact():
    rng = np.random.default_rng(2)
    y = rng.normal(1.0, 1.5, size=8)
    s2, m0, p0 = 2.25, -1.0, 0.5
    model = MixedModel(y, np.ones((y.size, 1)))
    post = fit_bayes(model, draws=20000, burn=0, chains=1, seed=3,
                     priors=GibbsPriors(beta_mean=m0, beta_precision=p0,
                                        fixed={"Residual": s2}))
    prec = p0 + y.size / s2
    mean = (p0 * m0 + y.sum() / s2) / prec
    d = post.chain_array("const")
    assert np.all(post.chain_array("Residual") == s2)
    assert d.mean() == pytest.approx(mean, abs=4 / np.sqrt(prec * d.size))
    assert d.std() == pytest.approx(prec ** -0.5, rel=0.02)
    assert _ks_p(d, stats.norm(mean, prec ** -0.5).cdf) > 1e-3


def test_random_intercept_with_fixed_variances_gives_gls_and_blups(sleepstudy):
    """With G and s2 fixed, (b, u) | y is Gaussian: b ~ N(GLS, (X'V^-1X)^-1), E[u|y] =
    BLUP; the Gibbs draws are then independent draws of it."""
    model = MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", sleepstudy)
    g, s2 = 1378.2, 960.5
    post = fit_bayes(model, draws=20000, burn=0, chains=1, seed=4,
                     priors={"fixed": {"Subject Var((Intercept))": g, "Residual": s2}})
    X, y = model.exog, model.endog
    Z = (model.random[0].groups[:, None] == np.arange(18)).astype(float)
    V = g * Z @ Z.T + s2 * np.eye(len(y))
    Vi = np.linalg.inv(V)
    cov = np.linalg.inv(X.T @ Vi @ X)
    bhat = cov @ X.T @ Vi @ y
    blup = g * Z.T @ Vi @ (y - X @ bhat)
    B = post.chain_array()[0, :, :2]
    se = np.sqrt(np.diag(cov))
    assert np.all(np.abs(B.mean(0) - bhat) < 4 * se / np.sqrt(len(B)))
    np.testing.assert_allclose(np.cov(B.T), cov, rtol=0.05, atol=0.05 * se[0] * se[1])
    u = post.random_effects.iloc[:, 0].to_numpy()
    assert np.max(np.abs(u - blup)) < 0.05 * np.sqrt(g)
    assert list(post.random_effects.columns) == ["(Intercept)"]
    # rows labelled by subject, as MixedResults.random_effects
    reml = model.fit()
    assert post.random_effects.index.equals(reml.random_effects.index)
    assert post.random_effects.index.name == "Subject"


def test_un_residual_with_missing_visits_and_fixed_covariance_is_gls(fev_model, fev_reml):
    """R (UN, 28% of the visits missing) and G fixed at REML: b | y is the GLS
    posterior, so the draws reproduce the REML fixed effects and their covariance."""
    post = fit_bayes(fev_model, draws=2500, burn=0, chains=2, seed=6,
                     priors=GibbsPriors(fixed=dict(fev_reml.theta)))
    B = post.chain_array()[..., :fev_model.k_fe].reshape(-1, fev_model.k_fe)
    se = np.asarray(fev_reml.bse)
    z = (B.mean(0) - np.asarray(fev_reml.params)) / (se / np.sqrt(len(B)))
    assert np.max(np.abs(z)) < 4.5
    np.testing.assert_allclose(B.std(0) / se, 1.0, atol=0.05)
    np.testing.assert_allclose(post.theta, fev_reml.theta, rtol=1e-12)


# ------------------------------------------------------ simulation-based calibration
def _sbc_pvalues(model, priors, simulate, seed, n_rep=300, draws=1000, thin=10, burn=100):
    """Ranks of prior draws among posterior draws of the data they generated (Talts et
    al. 2018); one replication per vectorised chain.  Chi-square p-value per parameter
    of the ranks in 10 bins."""
    rng = np.random.default_rng(seed)
    truth, ys = zip(*[simulate(rng) for _ in range(n_rep)])
    out = GibbsSampler(model, priors).run(draws=draws, burn=burn, thin=thin, chains=n_rep,
                                          seed=seed + 1, y=np.array(ys))
    X = np.concatenate([out.beta, out.theta], axis=2)
    ranks = (X < np.array(truth)[:, None, :]).sum(axis=1)
    bins = ranks * 10 // (X.shape[1] + 1)
    counts = np.array([np.bincount(bins[:, j], minlength=10) for j in range(X.shape[2])])
    return stats.chisquare(counts, axis=1).pvalue


def _iw(rng, df, psi):
    return np.linalg.inv(np.atleast_2d(stats.wishart(df=df, scale=np.linalg.inv(psi))
                                       .rvs(random_state=rng)))


def test_sbc_random_intercept_inverse_gamma():
    g = np.repeat(np.arange(6), 4)
    n = g.size
    X = np.column_stack([np.ones(n), np.random.default_rng(11).normal(size=n)])

    def simulate(rng):
        b = rng.normal(size=2)
        G, s2 = _inv_gamma(rng, 3, 2), _inv_gamma(rng, 3, 2)
        y = X @ b + rng.normal(size=6)[g] * np.sqrt(G) + rng.normal(size=n) * np.sqrt(s2)
        return np.r_[b, G, s2], y

    model = MixedModel(simulate(np.random.default_rng(0))[1], X, groups=g)
    pri = GibbsPriors(beta_precision=1.0, ig_shape=3, ig_scale=2)
    assert _sbc_pvalues(model, pri, simulate, seed=0).min() > 1e-3
    # the check has power: a wrong prior in the sampler is detected
    wrong = GibbsPriors(beta_precision=1.0, ig_shape=3, ig_scale=1.5)
    assert _sbc_pvalues(model, wrong, simulate, seed=0).min() < 1e-4


def _visits():
    subj, vis = np.repeat(np.arange(10), 3), np.tile(np.arange(3), 10)
    keep = np.ones(30, bool)
    keep[[2, 4, 9, 13, 21, 25]] = False               # missing visits
    subj, vis = subj[keep], vis[keep]
    X = np.column_stack([np.ones(len(vis)), vis == 1, vis == 2]).astype(float)
    return subj, vis, X


def test_sbc_un_residual_with_missing_visits_inverse_wishart():
    subj, vis, X = _visits()

    def simulate(rng):
        b = rng.normal(size=3)
        R = _iw(rng, 6, np.eye(3))
        E = rng.multivariate_normal(np.zeros(3), R, size=10)
        return np.r_[b, [R[i, j] for i in range(3) for j in range(i + 1)]], \
            X @ b + E[subj, vis]

    model = MixedModel(simulate(np.random.default_rng(0))[1], X, repeated=vis, subject=subj,
                       cov_struct="UN")
    pri = GibbsPriors(beta_precision=1.0, iw_df=6, iw_scale=1.0)
    assert _sbc_pvalues(model, pri, simulate, seed=0).min() > 1e-3


def test_sbc_cs_residual():
    subj, vis, X = _visits()

    def simulate(rng):
        b = rng.normal(size=3)
        c, s2 = _inv_gamma(rng, 3, 1), _inv_gamma(rng, 3, 1)
        E = rng.multivariate_normal(np.zeros(3), c + s2 * np.eye(3), size=10)
        return np.r_[b, c, s2], X @ b + E[subj, vis]

    model = MixedModel(simulate(np.random.default_rng(0))[1], X, repeated=vis, subject=subj,
                       cov_struct="CS")
    pri = GibbsPriors(beta_precision=1.0, ig_shape=3, ig_scale=1)
    assert _sbc_pvalues(model, pri, simulate, seed=0).min() > 1e-3


def test_sbc_random_slopes_huang_wand_and_half_cauchy():
    g = np.repeat(np.arange(8), 4)
    t = np.tile(np.arange(4.0), 8)
    X = np.column_stack([np.ones(g.size), t])

    def simulate(rng):
        b = rng.normal(size=2)
        a = _inv_gamma(rng, 0.5, 1.0, size=2)                   # Huang-Wand, nu = 2, A = 1
        S = _iw(rng, 3, 4 * np.diag(1 / a))
        s2 = stats.t.rvs(1, random_state=rng) ** 2              # half-Cauchy(1) on the SD
        U = rng.multivariate_normal(np.zeros(2), S, size=8)
        y = X @ b + U[g, 0] + U[g, 1] * t + rng.normal(size=g.size) * np.sqrt(s2)
        return np.r_[b, S[0, 0], S[1, 0], S[1, 1], s2], y

    model = MixedModel(simulate(np.random.default_rng(0))[1], X, groups=g, exog_re=X)
    pri = GibbsPriors(beta_precision=1.0, variance="half-t", half_t_df=1, half_t_scale=1.0,
                      covariance="half-t", hw_df=2)
    assert _sbc_pvalues(model, pri, simulate, seed=0).min() > 1e-3


# --------------------------------------------------------------- agreement with REML
def test_posterior_means_close_to_reml_on_fev_sim(fev_post, fev_reml, fev_model):
    sf = fev_post.summary_frame()
    k = fev_model.k_fe
    z = (sf["mean"].to_numpy()[:k] - np.asarray(fev_reml.params)) / sf["sd"].to_numpy()[:k]
    assert np.max(np.abs(z)) < 1.5
    theta = sf["mean"].to_numpy()[k:]
    zt = (theta - fev_reml.theta.to_numpy()) / sf["sd"].to_numpy()[k:]
    assert np.max(np.abs(zt)) < 1.5
    assert (sf["rhat"] < 1.01).all()
    assert (sf["ess"] > 500).all()
    c = fev_post.estimate("C(drug)[T.c] - C(drug)[T.p]")
    tt = fev_reml.t_test("C(drug)[T.c] - C(drug)[T.p]")
    assert abs(c.mean[0] - float(np.squeeze(tt.effect))) < 1.5 * c.sd[0]
    assert c.hpd_lower[0] < float(np.squeeze(tt.effect)) < c.hpd_upper[0]


@pytest.mark.parametrize("formula, kw", [
    ("Reaction ~ Days + (Days | Subject)", {}),
    ("Reaction ~ Days + (Days | Subject)", {"re_struct": "VC"}),
])
def test_random_slopes_close_to_reml(sleepstudy, formula, kw):
    model = MixedModel.from_formula(formula, sleepstudy, **kw)
    r = model.fit()
    post = fit_bayes(model, draws=2000, burn=300, seed=8)
    sf = post.summary_frame()
    z = (sf["mean"] - np.r_[r.params, r.theta]) / sf["sd"]
    assert np.abs(z).max() < 1.0
    assert list(sf.index[2:]) == list(r.theta.index)


@pytest.mark.parametrize("kw", [
    dict(repeated="hour", subject="patient:drug", cov_struct="CS"),
    dict(repeated="hour", subject="patient:drug", cov_struct="VC"),
    dict(cov_group="drug"),
])
def test_other_residual_structures_close_to_reml(fev_sim, kw):
    model = MixedModel.from_formula("fev ~ baseval + C(drug) + C(hour) + (1 | patient)"
                                    if kw.get("cov_struct") != "CS" else
                                    "fev ~ baseval + C(drug) + C(hour)", fev_sim, **kw)
    r = model.fit()
    post = fit_bayes(model, draws=1500, burn=300, seed=9)
    sf = post.summary_frame()
    z = (sf["mean"] - np.r_[r.params, r.theta]) / sf["sd"]
    assert np.abs(z).max() < 1.0
    assert list(post.theta.index) == list(r.theta.index)


def test_fast_paths_give_the_same_draws(fev_model, sleepstudy):
    """The compact per-subject accumulation of W' R^-1 W (UN residuals) and the
    precomputed basis T (independent residuals) equal the plain dense products."""
    def run(sampler):
        out = sampler.run(draws=60, burn=0, chains=2, seed=7)
        return np.concatenate([out.beta, out.theta], axis=2)

    s = GibbsSampler(fev_model)
    assert s.layout.compact
    fast = run(s)
    s.layout.compact = False
    np.testing.assert_allclose(run(s), fast, rtol=1e-8, atol=1e-10)
    s = GibbsSampler(MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleepstudy))
    fast = run(s)
    s.layout.T = None
    np.testing.assert_allclose(run(s), fast, rtol=1e-8, atol=1e-10)


# ----------------------------------------------------------------- results and API
def test_results_api(fev_post, fev_model):
    names = list(fev_model.exog_names) + list(fev_model.spec.param_names)
    sf = fev_post.summary_frame()
    assert list(sf.index) == names
    assert list(sf.columns) == ["mean", "sd", "hpd_lower", "hpd_upper", "ess", "rhat"]
    assert (sf.hpd_lower < sf["mean"]).all() and (sf["mean"] < sf.hpd_upper).all()
    d = fev_post.draws
    assert list(d.columns[:2]) == ["chain", "iteration"] and list(d.columns[2:]) == names
    assert d.shape == (2 * 3000, 2 + len(names))
    assert sorted(d.chain.unique()) == [0, 1]
    np.testing.assert_allclose(d[names].mean().to_numpy(), sf["mean"].to_numpy())
    assert isinstance(fev_post, BayesMixedResults)
    assert list(fev_post.params.index) == list(fev_model.exog_names)
    text = str(fev_post.summary())
    assert "UN(8,8)" in text and "DIC" in text and "IW(df=9" in text
    assert fev_post.cov_resid.shape == (8, 8)
    assert fev_post.random_effects.shape == (24, 1)


def test_estimate_strings_and_vectors_agree(fev_post, fev_model):
    names = list(fev_model.exog_names)
    L = np.zeros(len(names))
    L[names.index("C(drug)[T.c]")], L[names.index("C(drug)[T.p]")] = 1, -1
    a = fev_post.estimate("C(drug)[T.c] - C(drug)[T.p]")
    b = fev_post.estimate(L)
    np.testing.assert_allclose(a.mean, b.mean)
    np.testing.assert_allclose([a.hpd_lower, a.hpd_upper], [b.hpd_lower, b.hpd_upper])
    two = fev_post.estimate(["C(drug)[T.c]", "C(drug)[T.p] = 0.1"], alpha=0.1)
    frame = two.summary_frame()
    assert list(frame.index) == ["C(drug)[T.c]", "C(drug)[T.p] = 0.1"]
    assert frame.loc["C(drug)[T.c]", "mean"] == pytest.approx(fev_post.params["C(drug)[T.c]"])
    assert frame.iloc[1, 0] == pytest.approx(fev_post.params["C(drug)[T.p]"] - 0.1)
    assert a.prob_positive[0] == pytest.approx(1.0)
    assert "HPD" in str(a)
    with pytest.raises(ValueError, match="columns"):
        fev_post.estimate([1.0, 2.0])


def test_dic_uses_the_marginal_deviance(fev_model, fev_post):
    ml = fev_model.fit(reml=False)
    dev = MarginalDeviance(fev_model)
    assert dev(ml.params.to_numpy()[None], ml.theta.to_numpy()[None])[0] == \
        pytest.approx(-2 * ml.llf, rel=1e-9, abs=1e-8)
    dic = fev_post.dic
    assert dic.dic == pytest.approx(dic.dbar + dic.pd)
    assert dic.dhat >= -2 * ml.llf - 1e-6              # ML minimises the deviance
    assert 30 < dic.pd < 60                   # 11 fixed + 37 covariance parameters


def test_dic_effective_parameters_of_a_random_intercept_model(sleepstudy):
    post = fit_bayes(MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", sleepstudy),
                     draws=2000, burn=300, seed=1)
    assert 2.5 < post.dic.pd < 6                        # 2 fixed + 2 variance parameters


def test_reproducible_with_seed(sleepstudy):
    model = MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleepstudy)
    a = fit_bayes(model, draws=300, burn=50, seed=123)
    b = fit_bayes(model, draws=300, burn=50, seed=123)
    c = fit_bayes(model, draws=300, burn=50, seed=124)
    pd.testing.assert_frame_equal(a.draws, b.draws)
    assert not np.allclose(a.draws.iloc[:, 2:], c.draws.iloc[:, 2:])
    assert a.settings.seed == 123
    assert fit_bayes(model, draws=10, burn=0).settings.seed is not None


def test_thinning_and_chains(sleepstudy):
    model = MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", sleepstudy)
    post = fit_bayes(model, draws=1000, burn=10, chains=3, thin=5, seed=2)
    assert post.ndraws == 200 and post.nchains == 3
    assert post.draws.iteration.iloc[:3].tolist() == [5, 10, 15]


def test_fit_bayes_method_if_available(sleepstudy):
    if not hasattr(MixedModel, "fit_bayes"):
        pytest.skip("MixedModel.fit_bayes not wired yet")
    model = MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", sleepstudy)
    a = model.fit_bayes(draws=200, burn=20, seed=3)
    pd.testing.assert_frame_equal(a.draws, fit_bayes(model, draws=200, burn=20, seed=3).draws)


def test_unsupported_and_invalid_input(fev_sim, sleepstudy):
    ar1 = MixedModel.from_formula("fev ~ baseval", fev_sim, repeated="hour",
                                  subject="patient:drug", cov_struct="AR1")
    with pytest.raises(NotImplementedError, match="AR1"):
        fit_bayes(ar1, draws=10)
    model = MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleepstudy)
    with pytest.raises(NotImplementedError, match="fixed together"):
        fit_bayes(model, draws=10, priors=GibbsPriors(fixed={"Subject Var(Days)": 1.0}))
    with pytest.raises(ValueError, match="unknown parameter"):
        fit_bayes(model, draws=10, priors=GibbsPriors(fixed={"nope": 1.0}))
    with pytest.raises(ValueError, match="variance"):
        GibbsPriors(variance="uniform")
    with pytest.raises(ValueError, match="ig_shape"):
        GibbsPriors(ig_shape=0)
    with pytest.raises(ValueError, match="draws"):
        fit_bayes(model, draws=0)
    with pytest.raises(TypeError):
        fit_bayes(model, draws=10, priors=[1, 2])


def test_prior_settings_take_effect(sleepstudy):
    model = MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", sleepstudy)
    tight = fit_bayes(model, draws=1000, burn=100, seed=1,
                      priors=GibbsPriors(beta_mean=[0.0, 50.0], beta_precision=[0.0, 1e6]))
    assert tight.params["Days"] == pytest.approx(50.0, abs=0.01)
    text = str(tight.summary())
    assert "normal" in text and "IG(shape=0.001, scale=0.001)" in text


# -------------------------------------------------------------------- diagnostics
def test_hpd_interval():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200000)
    np.testing.assert_allclose(hpd_interval(x, 0.05), [-1.96, 1.96], atol=0.03)
    e = rng.exponential(size=200000)                   # shortest interval starts at 0
    lo, hi = hpd_interval(e, 0.1)
    assert lo < 0.001 and hi == pytest.approx(-np.log(0.1), abs=0.03)
    both = hpd_interval(np.stack([x, e], axis=-1)[None], 0.05)
    assert both.shape == (2, 2)


def test_ess_and_rhat():
    rng = np.random.default_rng(1)
    iid = rng.normal(size=(4, 5000))
    assert ess(iid) == pytest.approx(20000, rel=0.1)
    assert rhat(iid) < 1.005
    rho = 0.8
    ar = np.zeros((4, 20000))
    z = rng.normal(size=ar.shape)
    for t in range(1, ar.shape[1]):
        ar[:, t] = rho * ar[:, t - 1] + z[:, t]
    assert ess(ar) == pytest.approx(80000 * (1 - rho) / (1 + rho), rel=0.2)
    shifted = iid + np.array([0, 0, 0, 1.0])[:, None]
    assert rhat(shifted) > 1.1
    assert np.isnan(rhat(np.ones((2, 100))))


# --------------------------------------------------------------- SAS PROC BGLIMM
@pytest.mark.skipif(not BGLIMM_CSV.exists(), reason=shared_skip_reason(
    "data", "fev_bglimm.csv", what="the seed trial data: SAS's PROC BGLIMM example"))
def test_sas_bglimm_example_neighbourhood():
    """SAS's published posterior means (10,000 draws, BGLIMM's own priors): intercept
    0.995, baseval 0.601, drug a 0.330, drug c 0.541 (placebo reference), patient
    variance 0.347.  SAS's GLM parameterisation makes the last level the reference of
    every CLASS variable, so the intercept is placebo at hour 8."""
    df = pd.read_csv(BGLIMM_CSV)
    model = MixedModel.from_formula(SAS_FEV, df, **UN)
    post = fit_bayes(model, draws=3000, burn=500, seed=44672057)
    sf = post.summary_frame()
    sas = {"Intercept": 0.995, "baseval": 0.601, "C(drug, Treatment('p'))[T.a]": 0.330,
           "C(drug, Treatment('p'))[T.c]": 0.541, "patient Var((Intercept))": 0.347}
    for name, value in sas.items():
        assert abs(sf.loc[name, "mean"] - value) < 2.5 * sf.loc[name, "sd"], name
    # SAS's drug effects sit ~1.7 posterior SD below REML; an inverse Wishart
    # IW(dim + 3, (dim + 3) I) on R (PROC BCHOICE's documented default) reproduces them
    post = fit_bayes(model, draws=2000, burn=300, seed=1,
                     priors=GibbsPriors(iw_df=11, iw_scale=11.0))
    for name in ("C(drug, Treatment('p'))[T.a]", "C(drug, Treatment('p'))[T.c]"):
        assert post.params[name] == pytest.approx(sas[name], abs=0.02)


@pytest.mark.skipif(not BGLIMM_CSV.exists(), reason=shared_skip_reason(
    "data", "fev_bglimm.csv", what="the seed trial data: SAS's PROC BGLIMM example"))
def test_sas_priors_reproduce_the_bglimm_example():
    """priors="sas" (flat b, IW(11, 11 I) on the 8 x 8 R, IG(2, 2) on the patient
    variance) reproduces all seven published posterior means within 0.3 posterior SD
    (five of them within 0.15 SD; 0.3 SD is three Monte Carlo SEs of a SAS chain with
    an effective sample size of 100 -- SAS does not print its ESS), where this package's
    vague defaults miss three of them by 2 to 3 SD (R's variances, drug a)."""
    df = pd.read_csv(BGLIMM_CSV)
    model = MixedModel.from_formula(SAS_FEV, df, **UN)
    names = list(SAS_BGLIMM)
    sas_mean = np.array([SAS_BGLIMM[n][0] for n in names])
    sas = fit_bayes(model, draws=3000, burn=500, chains=2, seed=20261206, priors="sas")
    sf = sas.summary_frame().loc[names]
    z = (sf["mean"].to_numpy() - sas_mean) / sf["sd"].to_numpy()
    assert np.all(np.abs(z) < 0.3), dict(zip(names, z.round(3)))
    assert np.sum(np.abs(z) < 0.15) >= 5, dict(zip(names, z.round(3)))
    assert sf["rhat"].max() < 1.01
    # posterior SDs of the fixed effects: 8-15 % above SAS's (a gap we cannot close with
    # the documented prior families or missing-data rules, and not a sampler error: see
    # test_sas_priors_sds_agree_with_an_independent_augmented_sampler, docs/bayes_mixed.md)
    for name in names[:4]:
        ratio = sf.loc[name, "sd"] / SAS_BGLIMM[name][1]
        assert 1.0 < ratio < 1.2, (name, ratio)
    vague = fit_bayes(model, draws=3000, burn=500, chains=2, seed=20261206)
    sv = vague.summary_frame().loc[names]
    zv = (sv["mean"].to_numpy() - sas_mean) / sv["sd"].to_numpy()
    assert np.sum(np.abs(zv) > 1.5) >= 3 and np.abs(zv).max() > 2.5, dict(zip(names, zv))


def _augmented_reference_sampler(df, draws, burn, seed, nu=11.0, psi=11.0, a=2.0, b=2.0):
    """Independent textbook data-augmentation Gibbs sampler (Tanner and Wong 1987) of the
    BGLIMM example model -- fev ~ baseval + drug + hour, patient random intercept
    IG(a, b), 8 x 8 UN R per patient:drug IW(nu, psi I), flat b -- on the complete
    patient x drug x hour grid: missing visits y_m | y_o, b, u, R are imputed from their
    conditional normal, then (b, u) are drawn from the complete data with the full R^-1
    (the way PROC BGLIMM documents its MAR handling), R and the patient variance from
    their conjugate conditionals.  Returns draws of (b_0..b_3, R_77, R_88, patient var)."""
    rng = np.random.default_rng(seed)
    units = df.groupby(["patient", "drug"], sort=True).baseval.first().reset_index()
    N, d = len(units), 8
    grid = units.loc[units.index.repeat(d)].reset_index(drop=True)
    grid["hour"] = np.tile(np.arange(1, d + 1), N)
    grid = grid.merge(df[["patient", "drug", "hour", "fev"]], how="left",
                      on=["patient", "drug", "hour"])
    obs = grid.fev.notna().to_numpy().reshape(N, d)
    Y = grid.fev.fillna(0.0).to_numpy().reshape(N, d)
    X = np.column_stack([np.ones(len(grid)), grid.baseval, grid.drug == "a",
                         grid.drug == "c"] + [grid.hour == h for h in range(1, d)])
    pats, pid = np.unique(grid.patient, return_inverse=True)
    Wd = np.hstack([X.astype(float), np.eye(len(pats))[pid]]).reshape(N, d, -1)
    p, K = X.shape[1], Wd.shape[2]
    R, g, Yc, out = 0.2 * np.eye(d), 0.2, Y.copy(), []
    mis_eye = np.eye(d) * ~obs[:, None, :]
    for it in range(burn + draws):
        Ri = np.linalg.inv(R)
        RW = Ri @ Wd                                                    # (N, d, K)
        P = np.einsum("uik,uil->kl", Wd, RW)
        P[p:, p:] += np.eye(K - p) / g
        L = np.linalg.cholesky(P)
        bu = np.linalg.solve(P, np.einsum("uik,ui->k", RW, Yc) + L @ rng.standard_normal(K))
        mu = Wd @ bu
        # y_m | y_o: draw eps ~ N(0, R), condition it on the observed residuals
        eps = rng.standard_normal((N, d)) @ np.linalg.cholesky(R).T
        Roo = np.linalg.inv(np.where(obs[:, :, None] & obs[:, None, :], R, 0.0) + mis_eye)
        k = np.einsum("uij,uj->ui", Roo - mis_eye, np.where(obs, Y - mu - eps, 0.0))
        Yc = np.where(obs, Y, mu + eps + k @ R)
        E = Yc - mu
        R = _iw(rng, nu + N, psi * np.eye(d) + E.T @ E)
        u = bu[p:]
        g = _inv_gamma(rng, a + 0.5 * len(u), b + 0.5 * u @ u)
        if it >= burn:
            out.append(np.r_[bu[:4], R[6, 6], R[7, 7], g])
    return np.array(out)


@pytest.mark.skipif(not BGLIMM_CSV.exists(), reason=shared_skip_reason(
    "data", "fev_bglimm.csv", what="the seed trial data: SAS's PROC BGLIMM example"))
def test_sas_priors_sds_agree_with_an_independent_augmented_sampler():
    """The fixed effects' posterior SDs under priors="sas" (8-15 % above SAS's printed
    ones) are those of the posterior: an independent sampler of another design -- the
    textbook data augmentation, (b, u) drawn from the completed data -- gives the same
    means and SDs.  Monte Carlo error: effective sample sizes >= 2000 for both runs, so
    an SD ratio has an SE of about 2 % (0.98-1.05 over three seed pairs); the tolerance
    is 6 %."""
    df = pd.read_csv(BGLIMM_CSV)
    model = MixedModel.from_formula(SAS_FEV, df, **UN)
    names = list(SAS_BGLIMM)
    sf = fit_bayes(model, draws=3000, burn=500, chains=2, seed=11,
                   priors="sas").summary_frame().loc[names]
    ref = _augmented_reference_sampler(df, draws=4000, burn=500, seed=12)
    np.testing.assert_allclose(sf["sd"].to_numpy()[:4] / ref[:, :4].std(0), 1.0, atol=0.06)
    z = (sf["mean"].to_numpy() - ref.mean(0)) / ref.std(0)
    assert np.all(np.abs(z) < 0.15), dict(zip(names, z.round(3)))


def test_sas_prior_preset():
    """GibbsPriors.sas(): IW(q + 3, (q + 3) I) on every q x q matrix, IG(2, 2) on scalar
    variances, flat fixed effects; "sas" strings and dicts resolve to it; overrides
    apply."""
    from metamodels.bayes.gibbs.priors import resolve_priors
    pri = GibbsPriors.sas()
    assert pri.defaults == "sas" and pri.beta_precision is None
    full = pri.component("full", 8, 1.0, psi_default=np.eye(8) * 0.01)
    assert full.family == "iw" and full.df == 11
    np.testing.assert_array_equal(full.psi, 11 * np.eye(8))
    two = pri.component("full", 2, 1.0)
    assert two.df == 5 and np.allclose(two.psi, 5 * np.eye(2))
    diag = pri.component("diag", 1, 1.0)
    assert (diag.family, diag.shape, diag.scale) == ("ig", 2.0, 2.0)
    assert resolve_priors("sas") == pri and resolve_priors("SAS") == pri
    assert resolve_priors(None) == GibbsPriors() == resolve_priors("metamodels")
    over = resolve_priors({"defaults": "sas", "iw_df": 20, "beta_precision": 1e-4})
    assert over.component("full", 8, 1.0).df == 20 and over.ig_shape == 2.0
    assert over.component("full", 8, 1.0).psi[0, 0] == 11.0
    with pytest.raises(ValueError, match="priors must be"):
        resolve_priors("bglimm")
    with pytest.raises(ValueError, match="defaults"):
        GibbsPriors(defaults="stan")
    with pytest.raises(TypeError):
        resolve_priors(3)


def test_one_dimensional_inverse_wishart_is_the_inverse_gamma():
    """IW_1(nu, psi) = IG(nu / 2, psi / 2): the q = 1 case of the SAS rule, IW(4, 4), is
    the IG(2, 2) that priors="sas" puts on scalar variances."""
    from metamodels.bayes.gibbs.priors import sample_iw
    rng = np.random.default_rng(7)
    S = sample_iw(np.full(20000, 4.0), np.full((20000, 1, 1), 4.0), rng, inverse=False)[0]
    assert _ks_p(S[:, 0, 0], stats.invgamma(2.0, scale=2.0).cdf) > 0.01


def test_sas_priors_fit_and_sas_summary_layout(sleepstudy):
    post = fit_bayes(MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleepstudy),
                     draws=400, burn=100, chains=2, seed=3, priors="sas")
    pri = post._layout.describe_priors()
    assert pri["Subject"] == "IW(df=5, scale=5 I)" and pri["Residual"] == \
        "IG(shape=2, scale=2)"
    table = post.summary(style="sas")
    frame = table.frame
    sf = post.summary_frame()
    assert list(frame.columns) == ["N", "Mean", "Standard Deviation", "HPD Lower",
                                   "HPD Upper"]
    assert (frame["N"] == 800).all() and list(frame.index) == post.names
    np.testing.assert_allclose(frame["Mean"], sf["mean"])
    np.testing.assert_allclose(frame[["HPD Lower", "HPD Upper"]],
                               sf[["hpd_lower", "hpd_upper"]])
    text = str(table)
    assert "Posterior Summaries and Intervals" in text and "95% HPD Interval" in text
    assert "Standard" in text and "Deviation" in text
    row = next(line for line in text.splitlines() if line.startswith("Days "))
    assert row.split()[1] == "800" and float(row.split()[2]) == pytest.approx(
        sf.loc["Days", "mean"], abs=1e-4)
    assert "90% HPD Interval" in str(post.summary(alpha=0.1, style="sas"))
    with pytest.raises(ValueError, match="style"):
        post.summary(style="stata")
