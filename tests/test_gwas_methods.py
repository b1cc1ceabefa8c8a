"""Heterogeneity-aware GWAS meta-analysis: RE2, m-values, MANTRA-class model, ASSET."""
import importlib.util
import itertools
import math
import os

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from metamodels import batch
from metamodels.batch import meta_analyze, mvalues

HERE = os.path.dirname(__file__)


def _load_script(name):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(HERE, "reference", "scripts", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ----------------------------------------------------------------------------- RE2
def _re2_brute(y, s):
    v = s ** 2

    def nll(p):
        mu, t = p[0], np.exp(p[1])
        return 0.5 * np.sum(np.log(v + t) + (y - mu) ** 2 / (v + t))

    best = np.inf
    for lt in np.linspace(-12, 2, 15):
        r = optimize.minimize(nll, [np.mean(y), lt], method="Nelder-Mead",
                              options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 4000})
        best = min(best, r.fun)
    # tau2 = 0 boundary: mu = FE estimate
    w = 1 / v
    mu0 = np.sum(w * y) / np.sum(w)
    best = min(best, 0.5 * np.sum(np.log(v) + (y - mu0) ** 2 / v))
    null = 0.5 * np.sum(np.log(v) + y ** 2 / v)
    return 2 * (null - best)


def test_re2_statistic_brute_force_and_decomposition():
    rng = np.random.default_rng(11)
    m, k = 6, 5
    s = rng.uniform(0.05, 0.3, size=(m, k))
    b = rng.normal(0, 1, size=(m, k)) * s + rng.normal(0, 0.2, size=(m, 1)) \
        + rng.normal(0, 0.2, size=(m, k)) * (np.arange(m)[:, None] % 2)
    b[0, 3] = np.nan
    out = meta_analyze(b, s, method="RE2")
    for i in range(m):
        ok = np.isfinite(b[i])
        assert out["stat_re2"][i] == pytest.approx(_re2_brute(b[i, ok], s[i, ok]),
                                                   rel=1e-6, abs=1e-8)
    np.testing.assert_allclose(out["z2_total"], out["z2_fixed"] + out["q"], rtol=1e-12)
    # the asymptotic mixture p-value
    st = out["stat_re2"].to_numpy()
    asym = 0.5 * stats.chi2.sf(st, 1) + 0.5 * stats.chi2.sf(st, 2)
    np.testing.assert_allclose(out["pvalue_re2_asym"], asym, rtol=1e-10)
    assert np.all(out["pvalue_re2"] <= out["pvalue_re2_asym"] + 1e-15)


def test_re2_correction_matches_exact_equal_se():
    """The shipped table reproduces the exact null distribution (equal se)."""
    script = _load_script("re2_correction")
    from metamodels.batch.re2 import re2_pvalue

    for k, s in [(2, 9.3), (3, 20.0), (7, 4.0), (12, 30.0), (30, 14.0)]:
        lp = re2_pvalue(np.array([s]), np.array([k]))[0]
        assert 10 ** lp == pytest.approx(script.p_exact(s, k), rel=0.02)


def test_re2_null_calibration():
    rng = np.random.default_rng(5)
    m, k = 40000, 4
    s = rng.uniform(0.02, 0.1, size=(m, k))
    b = rng.normal(size=(m, k)) * s
    p = meta_analyze(b, s, method="RE2")["pvalue_re2"].to_numpy()
    for alpha in (0.05, 0.01):
        rate = np.mean(p < alpha)
        assert abs(rate - alpha) < 4 * np.sqrt(alpha * (1 - alpha) / m)


def test_re2_single_study_and_missing():
    b = np.array([[0.2, np.nan], [np.nan, np.nan]])
    s = np.array([[0.1, np.nan], [0.1, 0.1]])
    out = meta_analyze(b, s, method="RE2")
    assert out["stat_re2"][0] == pytest.approx(4.0)
    assert out["pvalue_re2"][0] == pytest.approx(stats.chi2.sf(4.0, 1))
    assert np.isnan(out["stat_re2"][1]) and np.isnan(out["pvalue_re2"][1])


# ----------------------------------------------------------------------- m-values
def _mvalues_brute(y, s, sd=0.2, a=1.0, bb=1.0):
    k = len(y)
    tot = 0.0
    num = np.zeros(k)
    for c in itertools.product([0, 1], repeat=k):
        c = np.array(c, bool)
        n1 = c.sum()
        prior = np.exp(stats.betabinom.logpmf(n1, k, a, bb)) / math.comb(k, n1)

        def lik(beta):
            mean = np.where(c, beta, 0.0)
            return np.prod(stats.norm.pdf(y, mean, s)) * stats.norm.pdf(beta, 0, sd)

        if n1:
            ml = integrate.quad(lik, -3, 3, points=[0.0], epsabs=0, epsrel=1e-11, limit=200)[0]
        else:
            ml = np.prod(stats.norm.pdf(y, 0, s))
        tot += prior * ml
        num += prior * ml * c
    return num / tot


def test_mvalues_brute_force():
    rng = np.random.default_rng(3)
    s = rng.uniform(0.05, 0.15, size=(3, 4))
    b = rng.normal(size=(3, 4)) * s
    b[0, :2] += 0.4
    b[2, 1] = np.nan
    got = mvalues(b, s, as_frame=False)
    for i in range(3):
        ok = np.isfinite(b[i])
        np.testing.assert_allclose(got[i, ok], _mvalues_brute(b[i, ok], s[i, ok]),
                                   rtol=1e-6)
    assert np.isnan(got[2, 1])
    assert got[0, 0] > 0.9 and got[0, 1] > 0.9
