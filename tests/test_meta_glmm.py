"""MetaGLMM against metafor's rma.glmm (tests/reference/meta_glmm.json, written by
tests/reference/scripts/meta_glmm.R)."""
import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

import metamodels as mm
from metamodels.exceptions import MissingDataWarning, SpecificationError
from metamodels.glmm import MetaGLMM
from metamodels.glmm.families import NoncentralHypergeometric

REF = json.loads((Path(__file__).parent / "reference" / "meta_glmm.json").read_text())
CASES = REF["cases"]
COUNT_ARGS = ("ai", "bi", "ci", "di", "n1i", "n2i", "x1i", "x2i", "t1i", "t2i", "xi", "mi", "ni", "ti")


def _data(name):
    return pd.DataFrame(REF["datasets"][name])


def _fit(case):
    args = dict(case["args"])
    data = _data(case["dataset"])
    counts = {k: args[k] for k in COUNT_ARGS if k in args}
    model = args.get("model", "UM.FS")
    for opt in ("coding", "cor"):
        if opt in args:
            counts[opt] = args[opt]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingDataWarning)
        if case.get("mods"):
            mod = MetaGLMM.from_formula(case["mods"], data, args["measure"], model, **counts)
        else:
            mod = MetaGLMM(args["measure"], model, data, **counts)
    return mod.fit(method=args.get("method", "ML"), test=args.get("test", "z"))


def _cm_el_or(name):
    return "CM.EL" in name and not (name.startswith("irr") or name.startswith("rothman152"))


def _tol(name):
    """Relative tolerances (estimates, standard errors).

    glmer converged with bobyqa (rhoend 1e-12) and tolPwrss 1e-12 agrees with us to
    ~1e-7 on the estimates; standard errors come from two finite-difference Hessians
    (lme4's and ours) and agree to ~1e-6.  Where lme4's penalized IRLS cannot meet
    tolPwrss 1e-12 (BCG data, large counts) the script falls back to lme4's default
    tolerance: the conditional modes then carry errors of ~1e-7 relative and R's
    optimum moves by up to 1e-4 (our log-likelihood is the higher one).  CM.EL with odds
    ratios: metafor's nlminb stops at its default tolerance (tighter ones make it fail)
    and its Hessian is a numDeriv Hessian of BiasedUrn densities (ours agrees with the
    exact information, see test_cmel_equal_effects_information_is_exact)."""
    case = CASES[name]
    if _cm_el_or(name):
        return 3e-5, 2e-3
    if case.get("glmer_fallback"):
        return 2e-4, 5e-3
    return 2e-6, 2e-5


@pytest.fixture(scope="module")
def fits():
    return {}


def _get(fits, name):
    if name not in fits:
        fits[name] = _fit(CASES[name])
    return fits[name]


@pytest.mark.parametrize("name", sorted(CASES))
def test_coefficients_and_variances(fits, name):
    case, res = CASES[name], _get(fits, name)
    rt_b, rt_se = _tol(name)
    b = np.atleast_1d(case["b"])
    assert list(res.params.index) == [c.replace("(Intercept)", "intrcpt") for c in np.atleast_1d(case["coef_names"])]
    np.testing.assert_allclose(res.params.to_numpy(), b, rtol=rt_b, atol=1e-7)
    np.testing.assert_allclose(res.bse.to_numpy(), np.atleast_1d(case["se"]), rtol=rt_se)
    np.testing.assert_allclose(res.tvalues.to_numpy(), np.atleast_1d(case["zval"]), rtol=rt_se, atol=1e-6)
    ci = res.conf_int().to_numpy()
    atol = 2 * rt_se * np.atleast_1d(case["se"]) + rt_b * np.abs(b) + 1e-8   # limits b -/+ 1.96 se
    assert np.all(np.abs(ci[:, 0] - np.atleast_1d(case["ci_lb"])) <= atol)
    assert np.all(np.abs(ci[:, 1] - np.atleast_1d(case["ci_ub"])) <= atol)
    np.testing.assert_allclose(res.pvalues.to_numpy(), np.atleast_1d(case["pval"]), rtol=50 * rt_se,
                               atol=1e-12)
    assert res.tau2 == pytest.approx(case["tau2"], rel=rt_se, abs=1e-7)
    if case.get("se_tau2") is not None:
        assert res.tau2_se == pytest.approx(case["se_tau2"], rel=5e-3)
    if case.get("sigma2") is not None:
        assert res.sigma2 == pytest.approx(case["sigma2"], rel=rt_se, abs=1e-7)
    if case.get("rho") is not None:
        assert res.rho == pytest.approx(case["rho"], rel=rt_se, abs=1e-6)
    assert res.k == case["k"]
    if np.size(b) > 1:
        assert res.qm == pytest.approx(case["QM"], rel=rt_se)
        assert res.qm_pvalue == pytest.approx(case["QMp"], rel=50 * rt_se, abs=1e-300)


@pytest.mark.parametrize("name", sorted(CASES))
def test_heterogeneity_and_fit_statistics(fits, name):
    case, res = CASES[name], _get(fits, name)
    rt_b, rt_se = _tol(name)
    if case.get("QE_LRT") is not None:          # metafor could not fit UM.RS's saturated model on BCG
        assert res.q_df == case["QE_df"]
        assert res.q_lrt == pytest.approx(case["QE_LRT"], rel=1e-6, abs=1e-6)
        assert res.q_lrt_pvalue == pytest.approx(case["QEp_LRT"], rel=1e-5, abs=1e-10)
    if case.get("QE_Wld") is not None and not _cm_el_or(name):
        rel = 2e-2 if (name.startswith("bcg") and "UM.RS" in name) else 5e-6
        assert res.q_wald == pytest.approx(case["QE_Wld"], rel=rel, abs=1e-6)
    assert 100 * res.i2 == pytest.approx(case["I2"], rel=rt_se, abs=1e-6)
    assert res.h2 == pytest.approx(case["H2"], rel=rt_se)
    fs = res.fit_stats_metafor()
    assert fs["ll"] == pytest.approx(case["ll"], rel=1e-6, abs=1e-6)
    assert fs["AIC"] == pytest.approx(case["AIC"], rel=1e-6)
    assert fs["BIC"] == pytest.approx(case["BIC"], rel=1e-6)
    if case.get("dev") is not None:
        assert fs["dev"] == pytest.approx(case["dev"], rel=5e-5, abs=1e-5)


def test_cmel_equal_effects_information_is_exact():
    """CM.EL equal-effects fit: the conditional MLE and ``se = (sum_i Var(a_i))^-1/2``
    computed with scipy's Fisher noncentral hypergeometric distribution."""
    bcg = mm.datasets.load("bcg")
    res = MetaGLMM("OR", "CM.EL", bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg").fit(method="EE")
    tabs = bcg[["tpos", "tneg", "cpos", "cneg"]].to_numpy(dtype=float)
    dists = [lambda p, t=t: stats.nchypergeom_fisher(t.sum(), t[0] + t[1], t[0] + t[2], np.exp(p))
             for t in tabs]
    psi = float(res.params.iloc[0])
    score = sum(t[0] - d(psi).mean() for t, d in zip(tabs, dists))
    info = sum(d(psi).var() for d in dists)
    assert abs(score / info) < 1e-8
    assert float(res.bse.iloc[0]) == pytest.approx(info ** -0.5, rel=1e-7)
    assert res.llf == pytest.approx(sum(d(psi).logpmf(t[0]) for t, d in zip(tabs, dists)), rel=1e-10)


def test_cmel_wald_heterogeneity_against_scipy():
    """Wald test of the saturated conditional model (rothman2008 table 15-5): per-table
    conditional MLEs and informations from scipy; metafor's numerically differentiated
    value is 0.1327."""
    tabs = [(3, 9, 104, 1059), (1, 3, 5, 86)]
    phi, info = [], []
    for a, b, c, d in tabs:
        def nll(p, a=a, b=b, c=c, d=d):
            return -stats.nchypergeom_fisher(a + b + c + d, a + b, a + c, np.exp(p)).logpmf(a)
        from scipy import optimize
        p = optimize.minimize_scalar(nll, bracket=(0, 2), tol=1e-14).x
        phi.append(p)
        info.append(stats.nchypergeom_fisher(a + b + c + d, a + b, a + c, np.exp(p)).var())
    expected = info[0] * info[1] * (phi[0] - phi[1]) ** 2 / (info[0] + info[1])
    data = pd.DataFrame(tabs, columns=["ai", "bi", "ci", "di"])
    res = MetaGLMM("OR", "CM.EL", data, ai="ai", bi="bi", ci="ci", di="di").fit(method="EE")
    assert res.q_wald == pytest.approx(expected, rel=1e-6)     # Brent's CMLE: ~1e-8
    assert res.q_wald == pytest.approx(0.1327, abs=0.011)


# ------------------------------------------------------------ kernels, independent of R
def test_noncentral_hypergeometric_matches_scipy():
    a = np.array([[0.0], [3.0], [7.0]])
    n1, n2, m1 = np.array([[10.0], [12.0], [9.0]]), np.array([[8.0], [15.0], [20.0]]), np.array([[5.0], [6.0], [11.0]])
    fam = NoncentralHypergeometric(a, n1, n2, m1)
    for psi in (-1.3, 0.0, 0.8):
        eta = np.full((3, 1), psi)
        ref = stats.nchypergeom_fisher(n1 + n2, n1, m1, np.exp(psi))
        np.testing.assert_allclose(fam.loglik(eta), ref.logpmf(a), rtol=1e-10)
        mu, var = fam.mean_var(eta)
        np.testing.assert_allclose(mu, ref.mean(), rtol=1e-9)
        np.testing.assert_allclose(var, ref.var(), rtol=1e-8)


def _nch_pmf(a, n1, n2, m1, psi):
    """Fisher's noncentral hypergeometric probability of ``a`` (psi may be an array)."""
    x = np.arange(max(0, m1 - n2), min(n1, m1) + 1)
    logc = (special.gammaln(n1 + 1) - special.gammaln(x + 1) - special.gammaln(n1 - x + 1)
            + special.gammaln(n2 + 1) - special.gammaln(m1 - x + 1) - special.gammaln(n2 - m1 + x + 1))
    t = logc[None, :] + np.outer(np.atleast_1d(psi), x)
    return np.exp(t[:, x == a][:, 0] - special.logsumexp(t, axis=1))


def _cmel_brute_loglik(tables, mu, tau2):
    """Sum over tables of log int P(a | psi) N(psi; mu, tau2) dpsi by a 300-point
    Gauss-Legendre rule on mu -/+ 12 tau (not adaptive: no use of the modes)."""
    sd = np.sqrt(tau2)
    x, w = np.polynomial.legendre.leggauss(300)
    psi, w = mu + 12 * sd * x, 12 * sd * w
    dens = stats.norm.pdf(psi, mu, sd)
    return sum(np.log(np.sum(w * dens * _nch_pmf(a, a + b, c + d, a + c, psi)))
               for a, b, c, d in tables)


def test_cmel_likelihood_against_brute_force_integration():
    d = mm.datasets.load("nielweise2007")
    d = d[~((d["ai"] == 0) & (d["ci"] == 0))]
    res = MetaGLMM("OR", "CM.EL", d, ai="ai", n1i="n1i", ci="ci", n2i="n2i").fit()
    tables = np.column_stack([d["ai"], d["n1i"] - d["ai"], d["ci"], d["n2i"] - d["ci"]]).astype(int)
    b = float(res.params.iloc[0])
    brute = _cmel_brute_loglik(tables, b, res.tau2)
    assert res.llf == pytest.approx(brute, rel=1e-9)
    # the maximum: the brute-force likelihood is lower at nearby points
    for db, dt in ((0.02, 0.0), (-0.02, 0.0), (0.0, 0.05), (0.0, -0.05)):
        assert _cmel_brute_loglik(tables, b + db, res.tau2 + dt) < brute


def test_agq_converges_to_exact_integral():
    """With many quadrature points the binomial-normal likelihood equals adaptive
    quadrature by scipy (and nAGQ = 7 is already close)."""
    d = mm.datasets.load("nielweise2007")
    r7 = MetaGLMM("PLO", data=d, xi="ci", ni="n2i").fit()
    b, tau = float(r7.params.iloc[0]), np.sqrt(r7.tau2)
    exact = 0.0
    for x, n in d[["ci", "n2i"]].to_numpy(dtype=float):
        def f(v):
            eta = b + tau * v
            return np.exp(special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
                          + x * eta - n * np.logaddexp(0, eta)) * stats.norm.pdf(v)
        exact += np.log(integrate.quad(f, -12, 12, epsabs=0, epsrel=1e-12, limit=200)[0])
    r31 = MetaGLMM("PLO", data=d, xi="ci", ni="n2i").fit(nagq=31)
    assert r7.llf == pytest.approx(exact, abs=1e-3)
    from metamodels.glmm.designs import build_design
    from metamodels.glmm.quadrature import cluster_loglik
    des = build_design("PLO", "UM.FS", {"x": d["ci"].to_numpy(float), "n": d["n2i"].to_numpy(float)},
                       np.ones((len(d), 1)))
    ll31 = cluster_loglik(des.family, np.full((len(d), 1), b), des.Z * tau, 31)[0].sum()
    assert ll31 == pytest.approx(exact, rel=1e-10)
    assert r31.llf >= ll31 - 1e-9


# ------------------------------------------------------------ API and conventions
def test_results_api_and_pickle():
    bcg = mm.datasets.load("bcg")
    res = mm.MetaGLMM.from_formula("~ ablat", bcg, "OR", "UM.FS", ai="tpos", bi="tneg", ci="cpos",
                                   di="cneg").fit()
    assert list(res.params.index) == ["intrcpt", "ablat"]
    tt = res.t_test(np.array([[0.0, 1.0]]))
    assert float(np.squeeze(tt.effect)) == pytest.approx(res.params["ablat"])
    w = res.wald_test(np.array([[0.0, 1.0]]), scalar=True)
    assert float(w.statistic) == pytest.approx(res.qm, rel=1e-10)
    assert "Heterogeneity, Wald" in str(res.summary())
    again = pickle.loads(pickle.dumps(res))
    np.testing.assert_allclose(again.params, res.params)
    assert again.tau2 == res.tau2


def test_fit_does_not_mutate_and_methods():
    d = mm.datasets.load("nielweise2007")
    mod = MetaGLMM("OR", "CM.AL", d, ai="ai", n1i="n1i", ci="ci", n2i="n2i")
    before = {k: v.copy() for k, v in mod.counts.items()}
    r1 = mod.fit()
    r2 = mod.fit(method="FE")
    assert r2.method == "EE" and r2.tau2 == 0.0 and r2.i2 == 0.0
    assert all(np.array_equal(before[k], mod.counts[k]) for k in before)
    assert r1.llf > r2.llf


def test_bad_input():
    d = mm.datasets.load("nielweise2007")
    with pytest.raises(ValueError, match="measure"):
        MetaGLMM("SMD", data=d, ai="ai", n1i="n1i", ci="ci", n2i="n2i")
    with pytest.raises(ValueError, match="model"):
        MetaGLMM("OR", "XX", d, ai="ai", n1i="n1i", ci="ci", n2i="n2i")
    with pytest.raises(ValueError, match="not used"):
        MetaGLMM("PLO", data=d, xi="ai", ni="n1i", ti="n2i")
    bad = d.assign(ai=-d["ai"])
    with pytest.raises(SpecificationError, match="non-negative"):
        MetaGLMM("OR", data=bad, ai="ai", n1i="n1i", ci="ci", n2i="n2i")
    with pytest.raises(ValueError, match="method"):
        MetaGLMM("PLO", data=d, xi="ai", ni="n1i").fit(method="REML")
    with pytest.warns(MissingDataWarning, match="drop00"):
        MetaGLMM("OR", data=d, ai="ai", n1i="n1i", ci="ci", n2i="n2i")


def test_hopeless_counts():
    from metamodels.exceptions import ConvergenceWarning, DegenerateFitError
    d = pd.DataFrame({"x": [0, 0, 0, 0], "n": [10, 20, 15, 30]})
    with pytest.raises(DegenerateFitError, match="no events in every study"):
        MetaGLMM("PLO", data=d, xi="x", ni="n").fit()
    sep = pd.DataFrame({"ai": [0, 0, 1], "n1i": [10, 10, 10], "ci": [1, 2, 3], "n2i": [10, 10, 10],
                        "z": [0.0, 0.0, 1.0]})
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        MetaGLMM.from_formula("~ z", sep, "OR", "CM.AL", ai="ai", n1i="n1i", ci="ci",
                              n2i="n2i").fit(method="EE")
    with pytest.raises(ValueError, match="too few studies"):
        MetaGLMM("PLO", data=d.iloc[:1].assign(x=1), xi="x", ni="n").fit()


def test_predictions_as_metafor_analysis_example():
    """stijnen2010 analysis example of metafor: predict(res, transf=exp) for CM.EL and CM.AL
    (2 decimals in metafor's test) and the prediction interval with tau^2."""
    d = mm.datasets.load("nielweise2007")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingDataWarning)
        el = MetaGLMM("OR", "CM.EL", d, ai="ai", n1i="n1i", ci="ci", n2i="n2i").fit()
        al = MetaGLMM("OR", "CM.AL", d, ai="ai", n1i="n1i", ci="ci", n2i="n2i").fit()
    for res, expected in ((el, (0.26, 0.13, 0.51)), (al, (0.27, 0.14, 0.53))):
        sf = np.exp(res.get_prediction(np.array([[1.0]])).summary_frame())
        np.testing.assert_allclose(sf[["mean", "mean_ci_lower", "mean_ci_upper"]].to_numpy()[0],
                                   expected, atol=0.005)
        b, se, z = float(res.params.iloc[0]), float(res.bse.iloc[0]), stats.norm.ppf(0.975)
        half = z * np.sqrt(se ** 2 + res.tau2)
        np.testing.assert_allclose(np.log(sf[["obs_ci_lower", "obs_ci_upper"]].to_numpy()[0]),
                                   [b - half, b + half], rtol=1e-12)


def test_lr_test_between_glmm_fits():
    bcg = mm.datasets.load("bcg")
    kw = dict(ai="tpos", bi="tneg", ci="cpos", di="cneg")
    full = MetaGLMM.from_formula("~ ablat", bcg, "OR", "CM.AL", **kw).fit()
    red = MetaGLMM.from_formula("~ 1", bcg, "OR", "CM.AL", **kw).fit()
    stat, p, df = full.compare_lr_test(red)
    assert df == 1
    assert stat == pytest.approx(2 * (full.llf - red.llf), rel=1e-12)
    assert p == pytest.approx(stats.chi2.sf(stat, 1), rel=1e-12)
