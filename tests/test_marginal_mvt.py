"""Single-step (multivariate t) adjustments -- Dunnett's test -- and polynomial contrasts
of marginal means (issue 16, point 4).

References: mvtnorm (Miwa's deterministic algorithm for the normal, Genz-Bretz with
abseps 1e-8 for the t), metafor and emmeans, made by
tests/reference/scripts/marginal_mvt_poly.R; and exact one-dimensional integrals for
equicorrelated families, which need no reference software.
"""
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, special, stats

import metamodels as mm
from metamodels.inference.adjust import adjust_family, check_adjust
from metamodels.inference.mvt import _Box, box_probability, box_quantile, single_step_pvalues

REF = json.loads((Path(__file__).parent / "reference" / "marginal_mvt_poly.json").read_text())
CORR = {k: np.asarray(v, dtype=float) for k, v in REF["corr"].items()}


def _df(x):
    return np.inf if x == "inf" else float(x)


def _equicorrelated_box(c, m, rho, df=np.inf):
    """Exact P(max_j |T_j| < c), T_j = (sqrt(rho) z + sqrt(1 - rho) e_j) / s: a one- (normal)
    or two-dimensional (t) integral."""
    a, b = np.sqrt(rho), np.sqrt(1.0 - rho)

    # closed-form densities (scipy.stats' pdf methods cost ~50 us a call inside quad)
    log_norm0 = -0.5 * np.log(2 * np.pi)

    def normal(cs):
        f = lambda z: np.exp(log_norm0 - 0.5 * z * z) * (  # noqa: E731
            special.ndtr((cs + a * z) / b) - special.ndtr((-cs + a * z) / b)) ** m
        return integrate.quad(f, -10, 10, epsabs=1e-13, epsrel=1e-12, limit=200)[0]

    if np.isinf(df):
        return normal(c)
    # density of s = chi_df / sqrt(df): chi pdf at s sqrt(df), times sqrt(df)
    log_chi0 = 0.5 * np.log(df) - (0.5 * df - 1) * np.log(2.0) - special.gammaln(0.5 * df)

    def g(s):
        x = s * np.sqrt(df)
        if x <= 0:
            return 0.0
        return normal(c * s) * np.exp(log_chi0 + (df - 1) * np.log(x) - 0.5 * x * x)
    return integrate.quad(g, 0, np.inf, epsabs=1e-12, epsrel=1e-10, limit=200)[0]


@pytest.mark.parametrize("case", REF["kernel"], ids=lambda c: f"{c['corr']}-df{c['df']}-c{c['c']}")
def test_box_probability_equals_mvtnorm(case):
    prob, se = box_probability(case["c"], CORR[case["corr"]], _df(case["df"]))
    assert prob == pytest.approx(case["prob"], abs=3e-5)
    assert se < 1e-5


@pytest.mark.parametrize("case", REF["crits"], ids=lambda c: f"{c['corr']}-df{c['df']}")
def test_critical_values_equal_mvtnorm(case):
    c = box_quantile(case["level"], CORR[case["corr"]], _df(case["df"]))
    assert c == pytest.approx(case["crit"], abs=2e-4)


@pytest.mark.parametrize("m, rho, df", [(5, 0.5, np.inf), (4, 0.3, 8.0), (3, 0.8, 2.5)])
def test_box_probability_equals_exact_integral_for_equal_correlations(m, rho, df):
    R = np.full((m, m), rho) + (1 - rho) * np.eye(m)
    for c in (1.5, 2.5):
        assert box_probability(c, R, df)[0] == pytest.approx(
            _equicorrelated_box(c, m, rho, df), abs=3e-5)


def _equicorrelated_exceed(c, m, rho):
    """Exact P(max_j |Z_j| >= c) for an equicorrelated normal family, accurate in the tail:
    1 - q^m = -expm1(m log1p(-u)) with u the conditional two-sided tail mass."""
    a, b = np.sqrt(rho), np.sqrt(1.0 - rho)
    def f(z):
        u = np.minimum(special.ndtr((-c - a * z) / b) + special.ndtr((-c + a * z) / b), 1.0)
        with np.errstate(divide="ignore"):
            return np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi) * -np.expm1(m * np.log1p(-u))
    return integrate.quad(f, -12, 12, epsabs=0, epsrel=1e-11, limit=400, points=[0.0])[0]


def test_tail_probabilities_keep_relative_accuracy():
    """Tiny adjusted p-values (below the lattice's absolute error) come from a sum of
    disjoint tail events, with a small relative error, not an absolute 1e-6."""
    m, rho = 4, 0.5
    R = np.full((m, m), rho) + (1 - rho) * np.eye(m)
    box = _Box(R, np.inf)
    for c in (3.0, 4.5, 6.0, 8.0):
        assert box.exceed(c) == pytest.approx(_equicorrelated_exceed(c, m, rho), rel=2e-3)
    p = single_step_pvalues([8.0, 0.5, 1.0, 2.0], R, np.inf)
    assert p[0] == pytest.approx(_equicorrelated_exceed(8.0, m, rho), rel=2e-3)
    assert p[1] == pytest.approx(_equicorrelated_exceed(0.5, m, rho), abs=1e-5)


def test_bivariate_normal_equals_scipy_corners():
    R = np.array([[1.0, 0.6], [0.6, 1.0]])
    mvn = stats.multivariate_normal(np.zeros(2), R)
    c = 1.9
    corners = mvn.cdf([c, c]) - mvn.cdf([-c, c]) - mvn.cdf([c, -c]) + mvn.cdf([-c, -c])
    assert box_probability(c, R)[0] == pytest.approx(corners, abs=3e-5)


def test_one_estimate_is_the_t_test():
    p, crit = adjust_family(np.array([2.1]), np.array([12.0]), 0.05, "mvt",
                            corr=np.ones((1, 1)))
    assert p[0] == pytest.approx(2 * stats.t.sf(2.1, 12))
    assert crit[0] == pytest.approx(stats.t.ppf(0.975, 12))


def test_shared_lattice_equals_separate_calls_and_undefined_df():
    """single_step (p-values and critical values from one lattice per df) equals the
    separate functions; a row with undefined df gets NaN, the others are unaffected."""
    from metamodels.inference.mvt import _primes, single_step

    R = CORR["R3"]
    t, df = np.array([2.2, -1.0, 3.1]), np.array([12.0, 12.0, 30.0])
    p, crit = single_step(t, R, df, 0.95)
    np.testing.assert_allclose(p, single_step_pvalues(t, R, df))
    np.testing.assert_allclose(crit, [box_quantile(0.95, R, d) for d in df])
    p2, crit2 = single_step(t, R, np.array([12.0, np.nan, 30.0]), 0.95)
    assert np.isnan(p2[1]) and np.isnan(crit2[1])
    assert np.all(np.isfinite(p2[[0, 2]])) and np.all(np.isfinite(crit2[[0, 2]]))
    assert list(_primes(8)) == [2, 3, 5, 7, 11, 13, 17, 19] and _primes(60)[-1] == 281


def test_names_and_refusals():
    assert check_adjust("dunnett") == "mvt"
    assert check_adjust("single-step") == "mvt"
    with pytest.raises(ValueError, match="correlation"):
        adjust_family(np.array([1.0, 2.0]), np.array([5.0, 5.0]), 0.05, "mvt")


def test_dunnett_on_a_meta_regression_equals_mvtnorm():
    ref = REF["meta_dunnett"]
    dat = mm.datasets.load("bcg")
    es = mm.effect_size("RR", dat, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    res = mm.MetaRandom.from_formula("yi ~ alloc", data=es, vi="vi").fit(method="REML",
                                                                         test="t")
    assert res.tau2 == pytest.approx(ref["tau2"], rel=1e-7)
    c = res.marginal_means("alloc").contrast("trt.vs.ctrl", adjust="dunnett")
    assert c.adjust == "mvt"
    np.testing.assert_allclose(c.estimate, ref["estimate"], rtol=1e-7)
    np.testing.assert_allclose(c.se, ref["se"], rtol=1e-6)
    np.testing.assert_allclose(c.df, ref["df"])
    np.testing.assert_allclose(c.pvalue, ref["pvalue"], atol=2e-5)
    np.testing.assert_allclose((c.ci_upper - c.estimate) / c.se, ref["crit"], atol=2e-4)
    # Dunnett lies between the unadjusted and the Bonferroni p-values
    unadj = 2 * stats.t.sf(np.abs(c.statistic), c.df)
    assert np.all(c.pvalue >= unadj) and np.all(c.pvalue <= np.minimum(1, 2 * unadj))


@pytest.fixture(scope="module")
def fev_fits():
    fev = mm.datasets.load("fev_sim")
    slope = mm.MixedModel.from_formula(
        "fev ~ baseval + drug + hour + (1 + hour | patient)", fev).fit()
    factor = mm.MixedModel.from_formula(
        "fev ~ baseval + drug * C(hour) + (1 | patient) + (1 | patient:drug)", fev).fit()
    assert slope.llf == pytest.approx(REF["logLik"]["random_slope"], rel=1e-9)
    assert factor.llf == pytest.approx(REF["logLik"]["factor_interaction"], rel=1e-9)
    return slope, factor


def _check(got, ref, p_atol, rtol=1e-5):
    # R's factor is called fhour (emmeans labels "fhour2 - fhour1"); ours hour
    assert list(got.labels["contrast"]) == [c.replace("fhour", "hour")
                                            for c in ref["contrast"]]
    np.testing.assert_allclose(got.estimate, ref["estimate"], rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(got.se, ref["se"], rtol=rtol)
    np.testing.assert_allclose(got.df, ref["df"], rtol=1e-4)
    np.testing.assert_allclose(got.statistic, ref["statistic"], rtol=rtol)
    np.testing.assert_allclose(got.pvalue, ref["pvalue"], atol=p_atol, rtol=1e-4)
    np.testing.assert_allclose(got.ci_lower, ref["ci_lower"], atol=p_atol, rtol=1e-4)
    np.testing.assert_allclose(got.ci_upper, ref["ci_upper"], atol=p_atol, rtol=1e-4)


def test_mvt_adjustment_equals_emmeans(fev_fits):
    """emmeans' mvt uses mvtnorm's default precision (abseps 1e-3, randomised) and
    integer-truncated df, so agreement is to ~1e-3 (the kernel is checked to 1e-5 above)."""
    slope, factor = fev_fits
    e = slope.marginal_means("drug")
    _check(e.contrast("trt.vs.ctrl", ref="p", adjust="mvt"),
           REF["emmeans"]["trt_ctrl_p_mvt"], p_atol=3e-3)
    _check(e.pairs(adjust="mvt"), REF["emmeans"]["pairs_mvt"], p_atol=3e-3)
    eh = factor.marginal_means("hour")
    _check(eh.contrast("consec", adjust="mvt"), REF["emmeans"]["hour_consec_mvt"],
           p_atol=3e-3)


def test_poly_contrasts_equal_emmeans(fev_fits):
    _, factor = fev_fits
    c = factor.marginal_means("hour").contrast("poly")
    assert c.adjust == "none" and c.method == "poly"
    _check(c, REF["emmeans"]["hour_poly"], p_atol=1e-8)


def test_poly_coefficients_are_the_textbook_tables():
    from metamodels.inference.marginal import _poly_coefficients

    got = [list(map(int, c)) for c in _poly_coefficients(6)]
    assert got == [[-5, -3, -1, 1, 3, 5], [5, -1, -4, -4, -1, 5], [-5, 7, 4, -4, -7, 5],
                   [1, -3, 2, 2, -3, 1], [-1, 5, -10, 10, -5, 1]]
    for k in (3, 4, 7, 9):
        C = np.array(_poly_coefficients(k))
        assert C.shape == (min(6, k - 1), k)
        np.testing.assert_allclose(C.sum(axis=1), 0, atol=1e-12)
        G = C @ C.T
        np.testing.assert_allclose(G - np.diag(np.diag(G)), 0, atol=1e-9)
