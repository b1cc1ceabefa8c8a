"""BayesMeta: Bayesian random-effects meta-analysis by quadrature.

Checked against

* the frequentist fits: a point-mass tau^2 at the REML estimate with a flat mu prior
  gives exactly the REML/GLS estimate, its standard error, the BLUPs and the
  prediction interval; a vague normal mu prior approaches them; with a uniform tau
  prior the marginal posterior of tau is the restricted likelihood, so its mode is
  the REML estimate;
* brute-force integration of the joint posterior of (mu, tau) on a 2-D grid
  (independent code: the likelihood is evaluated directly, no conjugacy), for eight
  prior combinations (means, sds, quantiles, shrinkage estimates, marginal
  likelihood) to ~1e-4 of the posterior sd;
* direct Monte Carlo sampling of the joint posterior (grid draws of (mu, tau), then
  theta) for beta_F and zeta^2;
* published bayesmeta numbers: the eight-schools example of the bayesmeta vignette
  (Roever C, "Bayesian random-effects meta-analysis using the bayesmeta R package",
  J Stat Softw 93(6), 2020; vignette ``bayesmeta.html`` shipped with the CRAN
  package, ``print(schools.example.1)`` and the ``pposterior``/``qposterior``/
  ``post.interval``/``$theta`` outputs).
"""
import warnings

import numpy as np
import pytest
from scipy import integrate, interpolate, special, stats

import metamodels as mm
from metamodels.bayes import BayesMeta, BayesMetaResults, prior_sensitivity, priors
from metamodels.exceptions import MetaModelsWarning

SCHOOLS_Y = np.array([28.39, 7.94, -2.75, 6.82, -0.64, 0.63, 18.01, 12.16])
SCHOOLS_SE = np.array([14.9, 10.2, 16.3, 11.0, 9.4, 11.4, 10.4, 17.6])
SMALL_Y = np.array([0.12, 0.55, -0.21])
SMALL_V = np.array([0.04, 0.09, 0.05])


@pytest.fixture(scope="module")
def yv(bcg):
    return bcg["yi"].to_numpy(), bcg["vi"].to_numpy()


def _fit(y, v, mu_prior, tau_prior, **kw):
    kw.setdefault("n_draws", 20_000)
    return BayesMeta(y, v, mu_prior=mu_prior, tau_prior=tau_prior).fit(**kw)


# ------------------------------------------------------------------ brute force
def brute_force(y, v, mu_logprior, tau_logprior, mu_lim, tau_lim, n=2001):
    """Joint posterior of (mu, tau) on a grid; ``tau = lo + (hi - lo) u^2``."""
    lo, hi = tau_lim
    u = np.linspace(0.0, 1.0, n)
    tau = lo + (hi - lo) * u * u
    jac = 2 * (hi - lo) * u
    mu = np.linspace(mu_lim[0], mu_lim[1], n)
    s2 = v[None, :] + tau[:, None] ** 2                                     # (n_tau, k)
    lp = -0.5 * np.sum(np.log(2 * np.pi * s2), axis=1)[:, None]
    for yi, s2i in zip(y, s2.T):
        lp = lp - 0.5 * (yi - mu[None, :]) ** 2 / s2i[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = lp + mu_logprior(mu)[None, :] + tau_logprior(tau)[:, None]
    top = np.max(lp[np.isfinite(lp)])
    dens = np.nan_to_num(np.exp(lp - top) * jac[:, None])
    simp = integrate.simpson
    Z = simp(simp(dens, x=mu, axis=1), x=u)
    p = dens / Z
    pu, pm = simp(p, x=mu, axis=1), simp(p, x=u, axis=0)
    out = {"log_evidence": float(np.log(Z) + top), "mu": mu, "tau": tau, "p": p, "u": u}

    def summ(x, dens_x, grid):
        m = simp(dens_x * x, x=grid)
        sd = np.sqrt(simp(dens_x * (x - m) ** 2, x=grid))
        # CDF: trapezoid with the Euler-Maclaurin end correction (O(h^4) on the uniform
        # grid), inverted through the cubic Hermite interpolant with the exact density
        h = grid[1] - grid[0]
        cdf = (integrate.cumulative_trapezoid(dens_x, grid, initial=0.0)
               - h * h / 12 * (np.gradient(dens_x, h, edge_order=2) - np.gradient(
                   dens_x, h, edge_order=2)[0]))
        spline = interpolate.CubicHermiteSpline(grid, cdf / cdf[-1], dens_x / cdf[-1])
        q = []
        for p in (0.025, 0.5, 0.975):
            rough = np.interp(p, cdf / cdf[-1], grid)
            roots = spline.solve(p, extrapolate=False)
            q.append(float(roots[np.argmin(np.abs(roots - rough))]))
        if x is not grid:                                  # tau = lo + (hi - lo) u^2
            q = [lo + (hi - lo) * qi * qi for qi in q]
        return {"mean": m, "sd": sd, "q025": q[0], "median": q[1], "q975": q[2]}

    out["mu_stats"] = summ(mu, pm, mu)
    out["tau_stats"] = summ(tau, pu, u)
    t2 = tau[:, None] ** 2
    cm = (y[0] * t2 + mu[None, :] * v[0]) / (v[0] + t2)      # theta_0 | mu, tau, y
    cv = v[0] * t2 / (v[0] + t2)
    e1 = simp(simp(p * cm, x=mu, axis=1), x=u)
    e2 = simp(simp(p * (cv + cm ** 2), x=mu, axis=1), x=u)
    out["theta0"] = {"mean": e1, "sd": np.sqrt(e2 - e1 ** 2)}
    return out


def _lp_normal(m, s):
    return lambda x: stats.norm.logpdf(x, m, s)


FLAT = lambda x: np.zeros_like(x)  # noqa: E731

# (label, data, mu prior, log mu prior, tau prior, log tau prior, mu grid, tau grid)
CASES = [
    ("bcg-normal-halfnormal", "bcg", priors.Normal(0, 2), _lp_normal(0, 2),
     priors.HalfNormal(0.5), lambda t: np.log(2) + stats.norm.logpdf(t, 0, 0.5),
     (-3, 1.5), (0, 3)),
    ("bcg-flat-halfcauchy", "bcg", None, FLAT, priors.HalfCauchy(0.5),
     lambda t: np.log(2) + stats.cauchy.logpdf(t, 0, 0.5), (-4, 2.5), (0, 6)),
    ("bcg-flat-jeffreys", "bcg", None, FLAT, priors.Jeffreys(), None, (-4, 2.5), (0, 6)),
    ("bcg-normal-gammaprec", "bcg", priors.Normal(0, 10), _lp_normal(0, 10),
     priors.GammaPrecision(0.001, 0.001),
     lambda t: (0.001 * np.log(0.001) - special.gammaln(0.001) + np.log(2)
                - 1.002 * np.log(t) - 0.001 / t ** 2), (-4, 2.5), (0, 6)),
    ("bcg-flat-loguniform", "bcg", None, FLAT, priors.LogUniformTau2(0.01, 4.0),
     lambda t: np.log(2 / np.log(400.0)) - np.log(t), (-4, 2.5), (0.1, 2.0)),
    ("bcg-normal-pareto", "bcg", priors.Normal(0, 1), _lp_normal(0, 1),
     priors.ParetoPrecision(1.5, 0.25),
     lambda t: np.log(3.0) + 1.5 * np.log(0.25) + 2 * np.log(t), (-3, 1.5), (0, 2.0)),
    ("small-flat-uniform", "small", None, FLAT, priors.Uniform(0, 3),
     lambda t: np.full_like(t, -np.log(3)), (-12, 12), (0, 3)),
    ("small-normal-halft", "small", priors.Normal(0.5, 1), _lp_normal(0.5, 1),
     priors.HalfT(3, 0.3), lambda t: np.log(2) + stats.t.logpdf(t, 3, scale=0.3),
     (-4, 5), (0, 40)),
]


@pytest.fixture(scope="module")
def brute(yv):
    cache = {}

    def get(case):
        label, data, mp, lmp, tp, ltp, mlim, tlim = case
        if label not in cache:
            y, v = yv if data == "bcg" else (SMALL_Y, SMALL_V)
            if ltp is None:                      # Jeffreys: sqrt(sum (t/(v+t^2))^2)
                ltp = lambda t: 0.5 * np.log(np.sum((t[:, None] / (v + t[:, None] ** 2)) ** 2,  # noqa: E731
                                                    axis=1))
            n_draws = 200_000 if label in (CASES[0][0], CASES[1][0]) else 2000
            cache[label] = (brute_force(y, v, lmp, ltp, mlim, tlim),
                            _fit(y, v, mp, tp, n_draws=n_draws, random_state=1))
        return cache[label]
    return get


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_against_brute_force_grid(case, brute):
    bf, res = brute(case)
    for name, key in (("mu", "mu_stats"), ("tau", "tau_stats")):
        ref = bf[key]
        sd = ref["sd"]
        assert res.posterior_mean(name) == pytest.approx(ref["mean"], abs=1e-4 * sd)
        assert res.posterior_sd(name) == pytest.approx(sd, abs=1e-4 * sd)
        assert res.posterior_median(name) == pytest.approx(ref["median"], abs=1e-4 * sd)
        lo, hi = res.central_interval(name)
        assert lo == pytest.approx(ref["q025"], abs=1e-4 * sd)
        assert hi == pytest.approx(ref["q975"], abs=1e-4 * sd)
    assert res.posterior_mean("theta[0]") == pytest.approx(bf["theta0"]["mean"],
                                                          abs=1e-4 * bf["theta0"]["sd"])
    assert res.posterior_sd("theta[0]") == pytest.approx(bf["theta0"]["sd"], rel=1e-4)
    assert res.integration_error < 1e-9
    if case[2] is not None and res.tau_prior.proper:
        assert res.log_marginal_likelihood == pytest.approx(bf["log_evidence"], abs=1e-5)


@pytest.mark.parametrize("case", [CASES[0], CASES[1]], ids=[CASES[0][0], CASES[1][0]])
def test_beta_f_and_zeta2_by_direct_monte_carlo(case, brute, yv):
    """Draw (mu, tau) from the brute-force grid, then theta | mu, tau, y."""
    bf, res = brute(case)
    y, v = yv
    rng = np.random.default_rng(7)
    n = 200_000
    p = bf["p"] * np.gradient(bf["u"])[:, None] * np.gradient(bf["mu"])[None, :]
    idx = rng.choice(p.size, size=n, p=(p / p.sum()).ravel())
    it, im = np.unravel_index(idx, p.shape)
    tau, mu = bf["tau"][it], bf["mu"][im]
    t2 = tau[:, None] ** 2
    cm = (y * t2 + mu[:, None] * v) / (v + t2)
    theta = cm + np.sqrt(v * t2 / (v + t2)) * rng.standard_normal((n, y.size))
    w = 1 / v
    beta = theta @ w / w.sum()
    zeta2 = np.sum(w * (theta - beta[:, None]) ** 2, axis=1) / w.sum()
    for name, draws in (("beta_F", beta), ("zeta2", zeta2)):
        se = draws.std() / np.sqrt(n)
        assert res.posterior_mean(name) == pytest.approx(draws.mean(), abs=5 * se)
        assert res.posterior_sd(name) == pytest.approx(draws.std(), rel=0.01)
        for q in (0.025, 0.5, 0.975):
            assert res.posterior_quantile(name, q) == pytest.approx(np.quantile(draws, q),
                                                                    abs=0.02 * draws.std())
    # the model's own joint draws agree as well
    draws = res.sample(50_000, random_state=3)
    assert draws["zeta2"].mean() == pytest.approx(res.posterior_mean("zeta2"),
                                                  abs=5 * zeta2.std() / np.sqrt(50_000))
    assert draws["mu"].std() == pytest.approx(res.posterior_sd("mu"), rel=0.02)


def test_beta_f_is_robust_to_the_prior_and_equals_fixed_effects(yv):
    y, v = yv
    fe = mm.MetaFixed(y, v).fit()
    tab = prior_sensitivity(y, v)
    assert list(tab.columns.get_level_values(0).unique()) == ["mu", "beta_F", "tau", "zeta"]
    assert tab.shape == (8, 12)
    spread = (tab.xs("mean", axis=1, level=1).max() - tab.xs("mean", axis=1, level=1).min())
    assert spread["beta_F"] < 0.05 * spread["mu"]
    assert spread["beta_F"] < 0.05 * spread["tau"]
    assert np.allclose(tab[("beta_F", "mean")], fe.params[0], atol=2e-3)
    # custom entries: (mu prior, tau prior) tuples and dicts, HPD intervals
    small = prior_sensitivity(y, v, priors={"a": (priors.Normal(0, 1), priors.HalfNormal(0.5)),
                                            "b": {"tau_prior": priors.HalfCauchy(1.0)}},
                              interval="hpd", quantities=("mu", "tau"))
    assert list(small.index) == ["a", "b"]
    assert np.all(small.xs("lower", axis=1, level=1) < small.xs("upper", axis=1, level=1))


# ------------------------------------------------------ frequentist agreement
def test_fixed_tau2_flat_prior_reproduces_reml(yv):
    y, v = yv
    reml = mm.MetaRandom(y, v).fit(method="REML")
    res = _fit(y, v, None, priors.Fixed(reml.tau2))
    assert res.posterior_mean("mu") == pytest.approx(reml.params[0], abs=1e-12)
    assert res.posterior_sd("mu") == pytest.approx(reml.bse[0], abs=1e-12)
    ci = np.asarray(reml.conf_int())[0]
    assert np.allclose(res.central_interval("mu"), ci, atol=1e-10)
    assert np.allclose(res.hpd("mu"), ci, atol=1e-8)
    blup = reml.blup()
    means = [res.posterior_mean(f"theta[{i}]") for i in range(len(y))]
    sds = [res.posterior_sd(f"theta[{i}]") for i in range(len(y))]
    assert np.allclose(means, blup["pred"], atol=1e-12)
    assert np.allclose(sds, blup["se"], atol=1e-12)
    pred = reml.get_prediction().summary_frame()
    assert np.allclose(res.central_interval("theta_new"),
                       pred[["obs_ci_lower", "obs_ci_upper"]].iloc[0], atol=1e-10)
    assert res.posterior_mean("tau2") == pytest.approx(reml.tau2, rel=1e-14)
    assert res.posterior_sd("tau") == 0
    assert res.hpd("tau") == (np.sqrt(reml.tau2), np.sqrt(reml.tau2))
    with pytest.raises(ValueError, match="point mass"):
        res.posterior_pdf("tau")


def test_fixed_tau2_meta_regression_reproduces_reml(bcg):
    reml = mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi="vi").fit(method="REML")
    res = BayesMeta.from_formula("yi ~ ablat", data=bcg, vi="vi",
                                 tau_prior=priors.Fixed(reml.tau2)).fit(n_draws=5000)
    assert res.coef_names == ["Intercept", "ablat"]
    assert np.allclose([res.posterior_mean(n) for n in res.coef_names], reml.params, atol=1e-12)
    assert np.allclose([res.posterior_sd(n) for n in res.coef_names], reml.bse, atol=1e-12)
    assert np.allclose([res.posterior_mean(f"theta[{i}]") for i in range(13)],
                       reml.blup()["pred"], atol=1e-12)
    with pytest.raises(ValueError, match="intercept-only"):
        res.posterior_mean("theta_new")


def test_vague_mu_prior_approaches_flat(yv):
    y, v = yv
    reml = mm.MetaRandom(y, v).fit(method="REML")
    res = _fit(y, v, priors.Normal(0, 1e4), priors.Fixed(reml.tau2))
    assert res.posterior_mean("mu") == pytest.approx(reml.params[0], rel=1e-7)
    assert res.posterior_sd("mu") == pytest.approx(reml.bse[0], rel=1e-7)
    flat = _fit(y, v, None, priors.HalfNormal(1.0))
    vague = _fit(y, v, priors.Normal(0, 1e4), priors.HalfNormal(1.0))
    for name in ("mu", "tau", "theta[3]"):
        assert vague.posterior_mean(name) == pytest.approx(flat.posterior_mean(name), abs=1e-6)
        assert vague.posterior_sd(name) == pytest.approx(flat.posterior_sd(name), abs=1e-6)


def test_uniform_tau_prior_mode_is_reml(yv, bcg):
    """With flat mu and uniform tau priors, p(tau | y) is the restricted likelihood."""
    y, v = yv
    reml = mm.MetaRandom(y, v).fit(method="REML", tol=1e-13)
    res = _fit(y, v, None, priors.Uniform())
    assert res.posterior_mode("tau") == pytest.approx(np.sqrt(reml.tau2), rel=1e-6)
    reg = mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi="vi").fit(method="REML",
                                                                           tol=1e-13)
    rb = BayesMeta.from_formula("yi ~ ablat", data=bcg, vi="vi",
                                tau_prior=priors.Uniform()).fit(n_draws=5000)
    assert rb.posterior_mode("tau") == pytest.approx(np.sqrt(reg.tau2), rel=1e-6)


# ----------------------------------------------------------- published bayesmeta
def test_bayesmeta_eight_schools():
    """bayesmeta vignette: bayesmeta(Rubin1981, mu N(0, 50), tau half-Cauchy(25)).

    The tau summaries are exact integrals in bayesmeta and agree to 7 digits; its mu
    and theta summaries come from a grid approximation of the normal mixture (accuracy
    parameter delta = 0.01), which our quadrature and the brute-force check beat, so
    those are compared at the bayesmeta approximation's accuracy.
    """
    res = BayesMeta(SCHOOLS_Y, SCHOOLS_SE ** 2, mu_prior=priors.Normal(0, 50),
                    tau_prior=priors.HalfCauchy(25)).fit(n_draws=5000)
    assert res.posterior_mode("tau") == 0.0
    assert res.posterior_median("tau") == pytest.approx(4.758539, abs=1e-6)
    assert res.posterior_mean("tau") == pytest.approx(5.884511, abs=1e-6)
    assert res.posterior_sd("tau") == pytest.approx(4.869904, abs=1e-6)
    assert res.hpd("tau") == pytest.approx((0.0, 15.165894), abs=1e-6)
    assert res.central_interval("tau") == pytest.approx((0.2199559, 18.0531718), abs=1e-7)
    assert res.posterior_quantile("tau", 0.95) == pytest.approx(15.16589, abs=1e-5)
    # mu: median 7.962961, mean 7.985729, sd 4.995762, shortest (-1.823353, 17.824562)
    assert res.posterior_median("mu") == pytest.approx(7.962961, abs=1e-3)
    assert res.posterior_mean("mu") == pytest.approx(7.985729, abs=1e-3)
    assert res.posterior_sd("mu") == pytest.approx(4.995762, abs=1e-3)
    assert res.hpd("mu") == pytest.approx((-1.823353, 17.824562), abs=5e-3)
    assert res.posterior_mode("mu") == pytest.approx(7.929503, abs=2e-3)
    assert 1 - res.posterior_cdf("mu", 0.0) == pytest.approx(0.9487521, abs=5e-5)
    assert res.posterior_quantile("mu", 0.95) == pytest.approx(16.11009, abs=2e-3)
    # shrinkage estimate of school A: mean 11.095255, sd 7.901084, shortest (-3.21, 28.17)
    assert res.posterior_mean("theta[0]") == pytest.approx(11.095255, abs=5e-3)
    assert res.posterior_sd("theta[0]") == pytest.approx(7.901084, abs=5e-3)
    assert res.hpd("theta[0]") == pytest.approx((-3.209562, 28.169723), abs=3e-2)


# ------------------------------------------------------------------ intervals
def test_hpd_equals_central_for_symmetric_posterior():
    y = np.array([-1.0, -0.4, 0.4, 1.0])
    v = np.full(4, 0.2)
    res = _fit(y, v, priors.Normal(0, 10), priors.HalfNormal(1.0))
    for name in ("mu", "beta_F", "theta_new"):
        assert res.posterior_mean(name) == pytest.approx(0.0, abs=1e-12)
        assert np.allclose(res.hpd(name, 0.1), res.central_interval(name, 0.1), atol=1e-7)
    lo, hi = res.hpd("theta[0]")
    clo, chi = res.central_interval("theta[0]")
    assert hi - lo < chi - clo                    # skewed: shortest is strictly shorter
    pdf = res.posterior_pdf("theta[0]")
    assert pdf(lo) == pytest.approx(pdf(hi), rel=1e-6)    # HPD: equal density at the ends


def test_tau_hpd_starts_at_zero_when_mode_is_zero():
    res = _fit(np.array([0.10, 0.14, 0.07]), SMALL_V, priors.Normal(0, 1), priors.HalfNormal(0.5))
    assert res.posterior_mode("tau") == 0.0
    assert res.hpd("tau")[0] == 0.0
    assert res.hpd("tau2")[0] == 0.0
    lo, hi = res.hpd("tau", 0.2)
    assert res.posterior_cdf("tau", hi) == pytest.approx(0.8, abs=1e-10)
    f = res.posterior_pdf("tau")
    assert integrate.quad(f, 0, np.inf)[0] == pytest.approx(1.0, abs=1e-8)
    f2 = res.posterior_pdf("tau2")
    assert integrate.quad(f2, 0, res.posterior_quantile("tau2", 0.7), limit=200)[0] == \
        pytest.approx(0.7, abs=1e-6)


# ------------------------------------------------------ propriety and evidence
@pytest.mark.parametrize("k,mu_prior,tau_prior", [
    (2, None, priors.Uniform()),                       # flat mu + uniform tau needs k >= 3
    (1, priors.Normal(0, 1), priors.Uniform()),        # ... and k >= 2 with a normal mu prior
    (13, None, priors.LogUniformTau2(0.0, 1.0)),       # 1/tau^2 spike at zero
    (13, None, priors.UniformPrecision()),              # flat on 1/tau^2
    (13, None, lambda t: 1.0 / t),                      # user density ~ 1/tau at 0
    (13, None, priors.Custom(lambda t: t ** 11)),       # user density growing too fast
    (1, None, priors.HalfNormal(1.0)),                   # flat mu prior with one study
])
def test_improper_posteriors_raise(yv, k, mu_prior, tau_prior):
    y, v = yv
    with pytest.raises(priors.ImproperPosteriorError, match="improper"):
        BayesMeta(y[:k], v[:k], mu_prior=mu_prior, tau_prior=tau_prior)


@pytest.mark.parametrize("k,mu_prior,tau_prior", [
    (3, None, priors.Uniform()), (2, priors.Normal(0, 1), priors.Uniform()),
    (2, None, priors.Jeffreys()), (13, None, priors.LogUniformTau2(1e-4)),
    (1, priors.Normal(0, 1), priors.HalfCauchy(0.5)), (13, None, lambda t: 1 / (1 + t ** 3)),
])
def test_proper_posteriors_fit(yv, k, mu_prior, tau_prior):
    y, v = yv
    res = _fit(y[:k], v[:k], mu_prior, tau_prior, n_draws=2000)
    assert np.isfinite(res.posterior_median("mu"))
    assert res.integration_error < 1e-9


def test_heavy_tails_give_infinite_moments_with_warning(yv):
    y, v = yv
    res = _fit(y[:3], v[:3], None, priors.Uniform())      # p(tau | y) ~ tau^-2
    with pytest.warns(MetaModelsWarning, match="does not exist"):
        assert res.posterior_mean("tau") == np.inf
    with pytest.warns(MetaModelsWarning, match="infinite"):
        assert res.posterior_sd("mu") == np.inf
    assert np.isfinite(res.posterior_median("tau"))
    assert np.isfinite(res.posterior_sd("theta[0]"))      # shrinkage estimates stay finite
    frame = res.summary_frame()
    assert np.isinf(frame.loc["tau", "mean"]) and np.isfinite(frame.loc["tau", "median"])


def test_marginal_likelihood_and_bayes_factors(yv):
    y, v = yv
    res = _fit(y, v, priors.Normal(0, 1), priors.HalfNormal(0.5))
    hn = lambda t: 2 * stats.norm.pdf(t, 0, 0.5)  # noqa: E731

    def lik(t, mu_prior_sd=None):
        s2 = v + t ** 2
        if mu_prior_sd is None:                    # mu = 0
            return np.exp(np.sum(stats.norm.logpdf(y, 0, np.sqrt(s2))))
        cov = np.diag(s2) + mu_prior_sd ** 2
        return np.exp(stats.multivariate_normal.logpdf(y, np.zeros(len(y)), cov))

    p1 = integrate.quad(lambda t: hn(t) * lik(t, 1.0), 0, np.inf, epsabs=0, epsrel=1e-11)[0]
    p0 = integrate.quad(lambda t: hn(t) * lik(t), 0, np.inf, epsabs=0, epsrel=1e-11)[0]
    assert res.log_marginal_likelihood == pytest.approx(np.log(p1), abs=1e-8)
    assert res.marginal_likelihood == pytest.approx(p1, rel=1e-8)
    bf = res.bayes_factor("mu")
    assert bf.bf01 == pytest.approx(p0 / p1, rel=1e-7)          # Savage-Dickey = direct
    assert bf.bf10 == pytest.approx(p1 / p0, rel=1e-7)
    assert "mu = 0" in str(bf)
    bft = res.bayes_factor("tau")
    assert bft.bf01 == pytest.approx(lik(0.0, 1.0) / p1, rel=1e-7)
    flat = _fit(y, v, None, priors.HalfNormal(0.5))
    with pytest.raises(ValueError, match="flat mu prior"):
        flat.log_marginal_likelihood
    with pytest.raises(ValueError, match="proper mu prior"):
        flat.bayes_factor("mu")
    assert np.isfinite(flat.bayes_factor("tau").log_bf01)     # flat constant cancels
    jef = _fit(y, v, priors.Normal(0, 1), priors.Jeffreys())
    with pytest.raises(ValueError, match="improper tau prior"):
        jef.log_marginal_likelihood
    with pytest.raises(ValueError, match="proper"):
        jef.bayes_factor("tau")


# -------------------------------------------------------------------- priors
def test_prior_densities():
    t = np.array([0.05, 0.3, 1.7])
    assert np.allclose(priors.HalfNormal(0.5).pdf(t), 2 * stats.norm.pdf(t, 0, 0.5))
    assert np.allclose(priors.HalfCauchy(0.5).pdf(t), 2 * stats.cauchy.pdf(t, 0, 0.5))
    assert np.allclose(priors.HalfT(4, 0.5).pdf(t), 2 * stats.t.pdf(t, 4, 0, 0.5))
    assert np.allclose(priors.Uniform(0, 2).pdf(t), 0.5)
    assert priors.Uniform(0, 1).pdf(1.7) == 0
    # priors stated on tau^2 or 1/tau^2, transformed to tau: they integrate to 1
    for p in (priors.LogUniformTau2(0.01, 4), priors.GammaPrecision(2.0, 0.5),
              priors.UniformPrecision(25.0, 0.04), priors.ParetoPrecision(1.5, 0.25),
              priors.Jeffreys(overall=True).bind(np.array([0.1, 0.3]))):
        lo, hi = p.support
        assert integrate.quad(p.pdf, lo, hi, limit=200)[0] == pytest.approx(1.0, rel=1e-7), p
    g = priors.GammaPrecision(2.0, 0.5)       # P(tau <= x) = P(1/tau^2 >= 1/x^2)
    assert integrate.quad(g.pdf, 0, 0.8)[0] == pytest.approx(
        stats.gamma.sf(1 / 0.64, 2.0, scale=1 / 0.5), rel=1e-8)
    v = np.array([0.1, 0.3, 0.05])
    jef = priors.Jeffreys().bind(v)
    ratio = jef.pdf(t) / np.sqrt(np.sum((t[:, None] / (v + t[:, None] ** 2)) ** 2, axis=1))
    assert np.allclose(ratio, ratio[0])
    fisher = np.sum(2 * t[:, None] ** 2 / (v + t[:, None] ** 2) ** 2, axis=1)
    assert np.allclose(jef.pdf(t), np.sqrt(fisher / 2))
    assert not jef.proper and not priors.Uniform().proper and priors.Fixed(0.1).proper


def test_custom_and_scipy_priors_match_builtin(yv):
    y, v = yv
    ref = _fit(y, v, priors.Normal(0, 1), priors.HalfCauchy(0.5))
    unnorm = _fit(y, v, priors.Normal(0, 1), lambda t: 3.0 / (1 + (t / 0.5) ** 2))
    frozen = _fit(y, v, priors.Normal(0, 1), stats.halfcauchy(scale=0.5))
    for other in (unnorm, frozen):
        for name in ("mu", "tau", "theta[2]"):
            assert other.posterior_mean(name) == pytest.approx(ref.posterior_mean(name),
                                                               rel=1e-9)
        assert other.log_marginal_likelihood == pytest.approx(ref.log_marginal_likelihood,
                                                              abs=1e-7)
    assert unnorm.tau_prior.proper and unnorm.tau_prior.tails[1] == pytest.approx(-2, abs=1e-3)


def test_meta_regression_with_normal_prior(bcg):
    res = BayesMeta.from_formula("yi ~ ablat", data=bcg, vi="vi",
                                 mu_prior=priors.Normal([0, 0], [10, 1]),
                                 tau_prior=priors.HalfNormal(0.5)).fit(n_draws=5000)
    frame = res.summary_frame()
    assert list(frame.index[:4]) == ["Intercept", "ablat", "tau", "tau2"]
    assert frame.loc["ablat", "ci_upper"] < 0
    draws = res.sample(40_000, random_state=2)
    for name in ("Intercept", "ablat", "tau"):
        assert draws[name].mean() == pytest.approx(res.posterior_mean(name),
                                                   abs=4 * res.posterior_sd(name) / 200)
    mvn = BayesMeta.from_formula("yi ~ ablat", data=bcg, vi="vi",
                                 mu_prior=priors.MultivariateNormal([0, 0], np.diag([100, 1])),
                                 tau_prior=priors.HalfNormal(0.5)).fit(n_draws=5000)
    assert mvn.posterior_mean("ablat") == pytest.approx(res.posterior_mean("ablat"), rel=1e-10)
    assert mvn.bayes_factor("ablat").bf01 == pytest.approx(res.bayes_factor("ablat").bf01,
                                                           rel=1e-9)
    with pytest.raises(ValueError, match="coefficients"):
        BayesMeta.from_formula("yi ~ ablat", data=bcg, vi="vi", mu_prior=priors.Normal([0] * 3, 1),
                               tau_prior=priors.HalfNormal(0.5))


# -------------------------------------------------------------- API / output
def test_api_summary_and_plot(bcg):
    res = BayesMeta(bcg["yi"], bcg["vi"], mu_prior=priors.Normal(0, 1000 ** 0.5),
                    tau_prior=priors.HalfNormal(1.0)).fit(n_draws=5000)
    assert isinstance(res, BayesMetaResults)
    frame = res.summary_frame()
    assert list(frame.index) == res.names
    assert list(frame.columns) == ["mean", "sd", "median", "ci_lower", "ci_upper",
                                   "hpd_lower", "hpd_upper"]
    assert res.names[:7] == ["mu", "tau", "tau2", "theta_new", "beta_F", "zeta2", "zeta"]
    assert np.all(frame["hpd_upper"] - frame["hpd_lower"]
                  <= frame["ci_upper"] - frame["ci_lower"] + 1e-9)
    assert res.posterior_median("tau2") == pytest.approx(res.posterior_median("tau") ** 2)
    assert res.posterior_mean("tau2") == pytest.approx(res.posterior_sd("tau") ** 2
                                                       + res.posterior_mean("tau") ** 2)
    assert res.prob("mu", upper=0.0) == pytest.approx(res.posterior_cdf("mu", 0.0))
    assert res.posterior_mean("theta[0]") == res.posterior_mean("theta[ 0 ]")
    named = bcg.set_index("author")
    res_named = BayesMeta(named["yi"], named["vi"], mu_prior=priors.Normal(0, 1000 ** 0.5),
                          tau_prior=priors.HalfNormal(1.0)).fit(n_draws=2000)
    assert res_named.posterior_mean("theta[Aronson]") == res_named.posterior_mean("theta[0]")
    text = str(res.summary())
    assert "HalfNormal(scale=1)" in text and "Normal(loc=0" in text and "zeta2" in text
    fig = res.plot()
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "posterior" in labels and "prior" in labels
    fig2 = _fit(bcg["yi"].to_numpy(), bcg["vi"].to_numpy(), None,
                priors.Jeffreys(), n_draws=2000).plot()
    assert "prior (improper, rescaled)" in [ln.get_label() for ln in fig2.axes[0].get_lines()]
    res.plot("mu")
    res.plot("zeta2", prior=False)
    _fit(bcg["yi"].to_numpy(), bcg["vi"].to_numpy(), None, priors.Fixed(0.3),
         n_draws=2000).plot()
    import matplotlib.pyplot as plt
    plt.close("all")


def test_bad_input(yv):
    y, v = yv
    with pytest.raises(ValueError, match="tau_prior is required"):
        BayesMeta(y, v)
    with pytest.raises(TypeError, match="mu_prior"):
        BayesMeta(y, v, mu_prior=3.0, tau_prior=priors.HalfNormal(1))
    with pytest.raises(TypeError, match="tau_prior"):
        BayesMeta(y, v, tau_prior="half-normal")
    for bad in (lambda: priors.HalfNormal(-1), lambda: priors.Uniform(2, 1),
                lambda: priors.GammaPrecision(0, 1), lambda: priors.Fixed(-0.1),
                lambda: priors.Normal(0, 0), lambda: priors.LogUniformTau2(2, 1),
                lambda: priors.MultivariateNormal([0, 0], [[1, 2], [2, 1]])):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError, match="strictly positive"):
        BayesMeta(y, np.where(np.arange(len(v)) == 2, 0.0, v), tau_prior=priors.HalfNormal(1))
    res = _fit(y, v, None, priors.HalfNormal(1.0), n_draws=2000)
    with pytest.raises(ValueError, match="unknown quantity"):
        res.posterior_mean("sigma")
    with pytest.raises(ValueError, match="no study"):
        res.posterior_mean("theta[13]")
    with pytest.raises(ValueError, match="alpha"):
        res.hpd("mu", alpha=1.5)
    with pytest.raises(ValueError, match="n_draws"):
        BayesMeta(y, v, tau_prior=priors.HalfNormal(1)).fit(n_draws=10)


def test_quadrature_normaliser_matches_scipy_quad(yv):
    y, v = yv
    model = BayesMeta(y, v, mu_prior=priors.Normal(0, 2), tau_prior=priors.HalfCauchy(0.5))
    res = model.fit(n_draws=2000)
    f = lambda t: np.exp(model.tau_prior.logpdf(t) + model.loglike_tau(t)[0])  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = sum(integrate.quad(f, a, b, epsabs=0, epsrel=1e-12, limit=200)[0]
                for a, b in ((0, 0.5), (0.5, 2), (2, np.inf)))
    assert res.tau_posterior.log_norm == pytest.approx(np.log(z), abs=1e-10)
    assert res.weights.sum() == pytest.approx(1.0, abs=1e-14)
