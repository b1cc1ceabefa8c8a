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


# ------------------------------------------------------------------ MANTRA-class
def _mantra_brute(y, s, D, mu_sd=1.0):
    """Explicit sum over all centre sets (no grouping); the marginal likelihood of the
    study-level data (multivariate normal) integrated over tau^2 with scipy.quad."""
    k = len(y)
    pc = [0.5] + [2.0 ** -c * 2 ** (k - 1) / (2 ** (k - 1) - 1) for c in range(2, k + 1)]
    if k == 1:
        pc = [1.0]
    null = np.sum(stats.norm.logpdf(y, 0, s))
    tot, c1 = 0.0, None
    post_c = np.zeros(k)
    for mask in range(1, 2 ** k):
        cent = [j for j in range(k) if mask >> j & 1]
        lab = [j if j in cent else min(cent, key=lambda c: (D[j, c], c)) for j in range(k)]
        Z = np.array([[1.0 if lab[i] == c else 0.0 for c in cent] for i in range(k)])
        c = len(cent)

        def f(t):
            cov = np.diag(s ** 2) + Z @ (t * np.eye(c) + mu_sd ** 2) @ Z.T
            return np.exp(stats.multivariate_normal.logpdf(y, np.zeros(k), cov) - null - t)

        bf = integrate.quad(f, 0, 1, epsabs=0, epsrel=1e-11, limit=500)[0] + \
            integrate.quad(f, 1, np.inf, epsabs=0, epsrel=1e-11, limit=500)[0]
        prior = pc[c - 1] / math.comb(k, c)
        tot += prior * bf
        post_c[c - 1] += prior * bf
        if c == 1:
            c1 = bf
    return np.log10(tot), np.log10(c1), 1 - post_c[0] / tot


DIST4 = np.abs(np.subtract.outer([0.1, 0.15, 0.4, 0.42], [0.1, 0.15, 0.4, 0.42]))


def test_mantra_brute_force():
    rng = np.random.default_rng(7)
    s = rng.uniform(0.1, 0.3, size=(4, 4))
    b = rng.normal(size=(4, 4)) * s
    b[1] += 0.3
    b[2] += [0.5, 0.5, -0.3, -0.2]
    b[3, 1] = np.nan
    out = batch.mantra(b, s, distance=DIST4)
    for i in range(4):
        ok = np.isfinite(b[i])
        l10, l10c1, phet = _mantra_brute(b[i, ok], s[i, ok], DIST4[np.ix_(ok, ok)])
        assert out["log10_bf"][i] == pytest.approx(l10, abs=1e-6)
        assert out["log10_bf_c1"][i] == pytest.approx(l10c1, abs=1e-6)
        assert out["p_heterogeneous"][i] == pytest.approx(phet, abs=1e-6)
    assert out["k"].tolist() == [4, 4, 4, 3]
    assert np.all(out["quad_error"] < 1e-2)


def test_mantra_ties_and_grouping():
    """Ties go to the lower index; centre sets giving one partition are grouped."""
    from metamodels.batch.mantra import partitions

    D = np.zeros((3, 3))            # all distances equal: every non-centre joins the
    part = partitions(D)            # lowest-numbered centre
    assert np.exp(part.logprior).sum() == pytest.approx(1.0)
    labels = {tuple(x) for x in part.labels}
    # {0,1}: study 2 joins 0 -> [0,1,0]; {0,2} -> [0,0,2]; {1,2}: study 0 joins 1 ->
    # [1,1,2], the partition of {0,2}; the three single centres give one partition
    assert labels == {(0, 0, 0), (0, 1, 0), (0, 0, 2), (0, 1, 2)}
    pri = dict(zip(map(tuple, part.labels), np.exp(part.logprior)))
    assert pri[(0, 0, 2)] == pytest.approx(2 * pri[(0, 1, 0)])
    assert len(labels) == part.labels.shape[0] == 4


def test_mantra_gaussian_integrals():
    """log BF(tau^2) of a partition against a direct integral over (beta_g, mu)."""
    from metamodels.batch.mantra import _node_logbf, partitions

    y, s = np.array([0.3, 0.25, -0.2]), np.array([0.1, 0.15, 0.2])
    part = partitions(np.array([[0, 1, 5], [1, 0, 5], [5, 5, 0.0]]))
    W = 1 / s ** 2
    t = np.array([0.05, 0.7])
    got = _node_logbf((y * W)[None], W[None], part, 0.8, t)[:, 0, :]      # (P, J)
    null = np.sum(stats.norm.logpdf(y, 0, s))
    for p, lab in enumerate(part.labels):
        if len(set(lab)) != 2 or tuple(lab) != (0, 0, 2):
            continue
        b1 = np.linspace(-0.6, 1.2, 241)[:, None, None]
        b2 = np.linspace(-1.2, 0.8, 241)[None, :, None]
        mu = np.linspace(-6.0, 6.0, 481)[None, None, :]
        lik = (stats.norm.logpdf(y[0], b1, s[0]) + stats.norm.logpdf(y[1], b1, s[1])
               + stats.norm.logpdf(y[2], b2, s[2]) - null)
        for j, tau2 in enumerate(t):
            f = np.exp(lik + stats.norm.logpdf(b1, mu, np.sqrt(tau2))
                       + stats.norm.logpdf(b2, mu, np.sqrt(tau2))
                       + stats.norm.logpdf(mu, 0, 0.8))
            val = integrate.trapezoid(integrate.trapezoid(integrate.trapezoid(
                f, mu[0, 0], axis=2), b2[0, :, 0], axis=1), b1[:, 0, 0])
            assert got[p, j] == pytest.approx(np.log(val), abs=1e-6)


def test_mantra_properties():
    rng = np.random.default_rng(2)
    freq = np.array([0.1, 0.12, 0.3, 0.32, 0.5, 0.52])
    D = batch.distance_from_frequencies(np.clip(freq + rng.normal(0, 0.01, (200, 6)), 0, 1))
    m = 300
    s = rng.uniform(0.02, 0.04, size=(m, 6))
    b = rng.normal(size=(m, 6)) * s
    b[:100] += 0.12                                             # homogeneous
    b[100:200] += np.array([0.0, 0.0, 0.15, 0.15, -0.12, -0.12])  # by ancestry
    out = batch.mantra(b, s, distance=D)
    hom, anc, null = out.iloc[:100], out.iloc[100:200], out.iloc[200:]
    assert hom["log10_bf"].min() > 2 and hom["log10_bf"].median() > 10
    assert hom["p_heterogeneous"].median() < 0.1           # chance heterogeneity aside
    assert hom["p_heterogeneous"].quantile(0.9) < 0.3
    assert anc["p_heterogeneous"].min() > 0.95 and anc["log10_bf"].median() > 5
    assert (null["log10_bf"] < 0).mean() > 0.95
    assert np.all(out["quad_error"] < 0.01)
    # detail agrees with the batch and is a proper posterior
    d = batch.mantra_detail(b[150], s[150], distance=D)
    assert d.log10_bf == pytest.approx(out["log10_bf"][150], abs=1e-10)
    assert d.p_heterogeneous == pytest.approx(out["p_heterogeneous"][150], abs=1e-10)
    assert d.posterior_c.sum() == pytest.approx(1.0)
    assert np.allclose(np.diag(d.coclustering), 1.0)
    assert d.coclustering.iloc[0, 1] > 0.6 and d.coclustering.iloc[0, 4] < 0.05
    w = 1 / s[150, 2:4] ** 2                   # studies 3, 4: one cluster, shrunk a little
    assert d.effects["mean"].iloc[2] == pytest.approx(np.sum(w * b[150, 2:4]) / w.sum(),
                                                      abs=0.02)
    assert d.effects["cluster"].tolist()[:4] == [1, 1, 3, 3]


def test_mantra_missing_study_drops_out():
    rng = np.random.default_rng(4)
    s = rng.uniform(0.05, 0.1, size=(5, 4))
    b = rng.normal(size=(5, 4)) * s + 0.1
    b[:, 2] = np.nan
    full = batch.mantra(b, s, distance=DIST4)
    keep = [0, 1, 3]
    sub = batch.mantra(b[:, keep], s[:, keep], distance=DIST4[np.ix_(keep, keep)])
    np.testing.assert_allclose(full["log10_bf"], sub["log10_bf"], rtol=1e-12)
    d = batch.mantra_detail(b[0], s[0], distance=DIST4)
    assert np.isnan(d.effects["mean"].iloc[2]) and np.isnan(d.coclustering.iloc[2, 0])


def test_mantra_input_errors():
    b = np.zeros((2, 3))
    with pytest.raises(ValueError, match="3 x 3"):
        batch.mantra(b, b + 1, distance=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="limited to k <="):
        batch.mantra(np.zeros((1, 20)), np.ones((1, 20)), distance=np.zeros((20, 20)))
    with pytest.raises(ValueError, match="no allele frequency in common"):
        batch.distance_from_frequencies(np.array([[0.1, np.nan], [np.nan, 0.2]]))


# --------------------------------------------------------------------------- ASSET
def _asset_brute(z, a):
    k = len(z)
    best, arg = -np.inf, None
    for mask in range(1, 2 ** k):
        S = [j for j in range(k) if mask >> j & 1]
        zs = np.sum(a[S] * z[S]) / np.sqrt(np.sum(a[S] ** 2))
        if zs > best:
            best, arg = zs, "".join("1" if mask >> j & 1 else "0" for j in range(k))
    return best, arg


def _dlm_brute(zmax, a, positive=False):
    """Sum over subsets of int_z^inf phi(x) prod_neighbours P(Z_T <= x | Z_S = x) dx by
    quad; ``positive``: given every z_i > 0 (a study j added to S then has factor
    P(0 < z_j <= x c) = Phi(x c) - 1/2, and the sum is divided by P(all z_i > 0))."""
    k = len(a)
    A = lambda m: sum(a[j] ** 2 for j in range(k) if m >> j & 1)  # noqa: E731
    tot = 0.0
    for mask in range(1, 2 ** k):
        facs = []
        for j in range(k):
            other = mask ^ (1 << j)
            if other == 0:
                continue
            lo, hi = sorted([A(mask), A(other)])
            rho = np.sqrt(lo / hi)
            c = np.sqrt((1 - rho) / (1 + rho))
            facs.append((c, 0.5 if positive and not mask >> j & 1 else 0.0))

        def f(x):
            return stats.norm.pdf(x) * np.prod([stats.norm.cdf(x * c) - h for c, h in facs])
        tot += integrate.quad(f, zmax, np.inf, epsabs=0, epsrel=1e-10)[0]
    return tot * (2.0 ** k if positive else 1.0)


def test_asset_brute_force():
    rng = np.random.default_rng(8)
    s = rng.uniform(0.05, 0.2, size=(5, 4))
    b = rng.normal(size=(5, 4)) * s
    b[0, :2] += 0.5
    b[1, 3] = np.nan
    out = batch.asset(b, s, dlm_below=np.inf)
    for i in range(5):
        ok = np.isfinite(b[i])
        z, sub = _asset_brute(b[i, ok] / s[i, ok], 1 / s[i, ok])
        assert out["z"][i] == pytest.approx(z, rel=1e-12)
        full = np.array(list(out["subset"][i]))
        assert "".join(full[ok]) == sub and np.all(full[~ok] == "0")
        if z > 1:
            assert out["pvalue"][i] == pytest.approx(
                min(1.0, _dlm_brute(z, 1 / s[i, ok])), rel=0.02)
    assert out["subset"][0].startswith("11")
    # sample-size weights: sqrt(n) on the study z-scores
    n = np.array([1000.0, 4000, 2500, 900])
    o2 = batch.asset(b[2:3], s[2:3], n=n)
    z2, _ = _asset_brute(b[2] / s[2], np.sqrt(n))
    assert o2["z"][0] == pytest.approx(z2)


def test_asset_two_sided():
    """ASSET's two-sided rule: one-sided searches within the positive and within the
    negative studies, each p-value given the signs, combined by Fisher on 4 df."""
    b = np.array([[0.5, 0.4, -0.45, 0.0, -0.01]])
    s = np.full((1, 5), 0.1)
    out = batch.asset(b, s, side="two")
    assert out["subset_pos"][0] == "11000" and out["subset_neg"][0] == "00100"
    assert out["z_pos"][0] == pytest.approx(0.9 / 0.1 / np.sqrt(2))
    assert out["z_neg"][0] == pytest.approx(4.5)
    assert (out["k_pos"][0], out["k_neg"][0]) == (3, 2)       # beta = 0 counts as positive
    pp, pn = out["pvalue_pos"][0], out["pvalue_neg"][0]
    # each group's own DLM over its 2^k_g - 1 subsets, given the signs
    assert pp == pytest.approx(_dlm_brute(out["z_pos"][0], np.full(3, 10.0), True), rel=1e-3)
    assert pn == pytest.approx(_dlm_brute(4.5, np.full(2, 10.0), True), rel=1e-3)
    chi2 = -2 * (np.log(pp) + np.log(pn))
    assert out["chi2"][0] == pytest.approx(chi2)
    assert out["pvalue"][0] == pytest.approx(stats.chi2.sf(chi2, 4), rel=1e-10)
    assert out["z"][0] == out["z_pos"][0] and out["subset"][0] == "11000"
    with pytest.raises(ValueError, match="side"):
        batch.asset(b, s, side="both")


def test_asset_two_sided_groups_brute_force():
    """Best subsets within each sign group by enumeration; an empty group gives z = 0,
    p = 1 and Fisher on 2 df; a single study's p-value given its sign is 2 Phi(-|z|)."""
    rng = np.random.default_rng(31)
    s = rng.uniform(0.05, 0.2, size=(6, 4))
    b = rng.normal(size=(6, 4)) * s
    b[0] = np.abs(b[0]) + 0.3                          # all positive
    b[1, 2] = np.nan
    out = batch.asset(b, s, side="two")
    for i in range(6):
        ok = np.isfinite(b[i])
        z, w = b[i, ok] / s[i, ok], 1 / s[i, ok]
        for sign, zc, sc, kc in ((1, "z_pos", "subset_pos", "k_pos"),
                                 (-1, "z_neg", "subset_neg", "k_neg")):
            g = sign * z >= 0 if sign > 0 else z < 0
            assert out[kc][i] == g.sum()
            full = np.array(list(out[sc][i]))
            if g.sum() == 0:
                assert out[zc][i] == 0 and set(full) == {"0"}
                continue
            zb, sub = _asset_brute(sign * z[g], w[g])
            assert out[zc][i] == pytest.approx(zb, rel=1e-12)
            assert "".join(full[ok][g]) == sub and np.all(full[ok][~g] == "0")
    assert out["k_neg"][0] == 0 and out["pvalue_neg"][0] == 1
    assert out["pvalue"][0] == pytest.approx(stats.chi2.sf(out["chi2"][0], 2))
    one = batch.asset(np.array([[0.3, -0.2]]), np.array([[0.1, 0.1]]), side="two")
    assert one["pvalue_pos"][0] == pytest.approx(2 * stats.norm.sf(3.0), rel=5e-4)
    assert one["pvalue_neg"][0] == pytest.approx(2 * stats.norm.sf(2.0), rel=5e-4)


def test_asset_null_calibration():
    """DLM p-values (validated by simulation): one-sided within Monte Carlo error at 0.05
    and 0.01; two-sided (ASSET's Fisher rule) and each group's p-value given the signs
    not anti-conservative, and conservative by less than 20% there (the DLM counts
    local maxima as if a subset's neighbours were independent)."""
    rng = np.random.default_rng(12)
    m, k = 20000, 4
    s = rng.uniform(0.02, 0.06, size=(m, k))
    b = rng.normal(size=(m, k)) * s
    one = batch.asset(b, s, dlm_below=np.inf)["pvalue"].to_numpy()
    two = batch.asset(b, s, side="two", dlm_below=np.inf)
    pos = two["pvalue_pos"].to_numpy()[two["k_pos"].to_numpy() == 2]
    for alpha in (0.05, 0.01):
        mc = 4 * np.sqrt(alpha * (1 - alpha) / m)
        assert abs(np.mean(one < alpha) - alpha) < mc
        rate = np.mean(two["pvalue"].to_numpy() < alpha)
        assert 0.8 * alpha - mc < rate < alpha + mc, (alpha, rate)
        mcp = 4 * np.sqrt(alpha * (1 - alpha) / pos.size)
        assert 0.8 * alpha - mcp < np.mean(pos < alpha) < alpha + mcp


# ----------------------------------------------------------------------------- CLI
@pytest.fixture
def gwas_files(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(21)
    m, k = 60, 3
    freq = np.array([0.2, 0.25, 0.6])
    se = rng.uniform(0.02, 0.05, size=(m, k))
    beta = rng.normal(size=(m, k)) * se
    beta[:5] += [0.2, 0.2, -0.1]
    f = np.clip(freq + rng.normal(0, 0.02, size=(m, k)), 0.01, 0.99)
    paths = []
    for j in range(k):
        b, fr, a1, a2 = beta[:, j].copy(), f[:, j].copy(), ["A"] * m, ["G"] * m
        if j == 1:                                   # swapped alleles in study 2
            b[::2] *= -1
            fr[::2] = 1 - fr[::2]
            a1 = ["G" if i % 2 == 0 else "A" for i in range(m)]
            a2 = ["A" if i % 2 == 0 else "G" for i in range(m)]
        df = pd.DataFrame({"SNP": [f"rs{i}" for i in range(m)], "A1": a1, "A2": a2,
                           "BETA": b, "SE": se[:, j], "EAF": fr})
        p = tmp_path / f"s{j}.tsv"
        df.to_csv(p, sep="\t", index=False)
        paths.append(str(p))
    return paths, beta, se, f


def test_cli_gwas_methods(gwas_files, tmp_path, capsys):
    import pandas as pd

    from metamodels.cli import main

    paths, beta, se, f = gwas_files
    out = tmp_path / "het.tsv"
    code = main(["gwas", *paths, "--out", str(out), "--method", "mantra,asset,re2",
                 "--frequencies", "--mvalues", "--side", "two", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    got = pd.read_csv(out, sep="\t")
    D = batch.distance_from_frequencies(f)
    ref = batch.mantra(beta, se, distance=D)
    np.testing.assert_allclose(got["log10_bf"], ref["log10_bf"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got["p_heterogeneous"], ref["p_heterogeneous"], atol=1e-5)
    a = batch.asset(beta, se, side="two")
    np.testing.assert_allclose(got["asset_pvalue"], a["pvalue"], rtol=1e-4)
    assert got["asset_subset_pos"].astype(str).str.zfill(3).tolist() == a["subset_pos"].tolist()
    r = meta_analyze(beta, se, method="RE2")
    np.testing.assert_allclose(got["stat_re2"], r["stat_re2"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got[["m_1", "m_2", "m_3"]], mvalues(beta, se), rtol=1e-4,
                               atol=1e-6)
    log = (tmp_path / "het.log").read_text()
    assert "MANTRA distances" in log
    # a distance file gives the same as --frequencies with that matrix
    dfile = tmp_path / "d.txt"
    np.savetxt(dfile, D)
    out2 = tmp_path / "het2.tsv"
    assert main(["gwas", *paths, "--out", str(out2), "--method", "mantra", "--distance",
                 str(dfile), "--no-progress"]) == 0
    np.testing.assert_allclose(pd.read_csv(out2, sep="\t")["log10_bf"], got["log10_bf"],
                               rtol=1e-5)


def test_cli_gwas_methods_errors(gwas_files, tmp_path, capsys):
    from metamodels.cli import main

    paths = gwas_files[0]
    o = str(tmp_path / "x.tsv")
    assert main(["gwas", *paths, "--out", o, "--method", "mantra"]) == 2
    assert "--distance FILE or --frequencies" in capsys.readouterr().err
    bad = tmp_path / "d.txt"
    bad.write_text("0 1\n1 0\n")
    assert main(["gwas", *paths, "--out", o, "--method", "mantra", "--distance",
                 str(bad)]) == 2
    assert "must be 3 x 3" in capsys.readouterr().err
    assert main(["gwas", *paths, "--out", o, "--method", "fe", "--mvalues"]) == 2
    assert "--mvalues goes with --method re2" in capsys.readouterr().err


@pytest.mark.slow
def test_re2_asset_null_calibration_small_alpha():
    """Type-1 error at 1e-3 and 1e-4 within Monte Carlo error (RE2; ASSET one- and
    two-sided)."""
    rng = np.random.default_rng(99)
    m = 400000
    s = rng.uniform(0.02, 0.1, size=(m, 5))
    b = rng.normal(size=(m, 5)) * s
    p_re2 = meta_analyze(b, s, method="RE2")["pvalue_re2"].to_numpy()
    p_asset = batch.asset(b[:, :3], s[:, :3])["pvalue"].to_numpy()
    p_two = batch.asset(b[:, :3], s[:, :3], side="two")["pvalue"].to_numpy()
    for p in (p_re2, p_asset, p_two):
        for alpha in (1e-3, 1e-4):
            sd = np.sqrt(alpha * (1 - alpha) / m)
            assert abs(np.mean(p < alpha) - alpha) < 4 * sd, (alpha, np.mean(p < alpha))
