"""Influence diagnostics, leave-one-out, cumulative meta-analysis, permutation tests,
subgroup analysis and diagnostic plots against metafor 3.8
(tests/reference/scripts/meta_influence.R)."""
import json
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import metamodels as mm  # noqa: E402
from metamodels.diagnostics._deletion import deleted_states  # noqa: E402
from metamodels.univariate.fitting import fit_univariate  # noqa: E402

REF = json.loads((Path(__file__).parent / "reference" / "meta_influence.json").read_text())
DATA = {k: pd.DataFrame(v) for k, v in REF["data"].items()}
DATA["bcg7"] = DATA["bcg"].iloc[:7]
DATA["molloy8"] = DATA["molloy2014"].iloc[:8]
CASES = REF["cases"]
TOL = 1e-6


def _arr(x):
    return np.array([np.nan if a is None else a for a in np.atleast_1d(x)], dtype=float)


def _close(a, b, tol=TOL):
    a, b = np.asarray(a, dtype=float), _arr(b)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(b)
    np.testing.assert_allclose(a[ok], b[ok], rtol=tol, atol=tol)


def _fit(case):
    d = DATA[case["dataset"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case["method"] == "FE":
            res = mm.MetaFixed.from_formula(case["formula"], d, vi="vi").fit(test=case["test"])
        else:
            res = mm.MetaRandom.from_formula(case["formula"], d, vi="vi").fit(
                method=case["method"], test=case["test"])
    return res, d


@pytest.fixture(scope="module")
def fits():
    return {c["name"]: _fit(c) for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_influence_matches_metafor(case, fits):
    res, _ = fits[case["name"]]
    r = case["result"]
    np.testing.assert_allclose(res.params.values, r["params"], rtol=1e-8, atol=1e-10)
    frame = res.get_influence().summary_frame()
    for col in ("rstudent", "dffits", "cooks_d", "cov_ratio", "tau2_deleted", "q_deleted",
                "hat", "weight"):
        _close(frame[col], r["influence"][col])
    for name, ref in zip(res.model.exog_names, r["influence"]["dfbetas"].values()):
        _close(frame[f"dfbetas_{name}"], ref)
    np.testing.assert_array_equal(frame["is_influential"].to_numpy(),
                                  np.asarray(r["influence"]["is_influential"], dtype=bool))


SEQ_COLS = ["estimate", "se", "statistic", "pvalue", "ci_lower", "ci_upper", "q", "q_pvalue",
            "tau2", "i2", "h2"]


def _check_sequence(frame, ref, fixed):
    assert list(frame.columns) == SEQ_COLS
    for col in SEQ_COLS:
        want = ref[col]
        if col == "tau2" and fixed:     # metafor reports NA for fixed-effects models
            want = [0.0] * len(frame)
        _close(frame[col], want)


@pytest.mark.parametrize("case", [c for c in CASES if "leave1out" in c["result"]],
                         ids=lambda c: c["name"])
def test_leave_one_out_matches_metafor(case, fits):
    res, _ = fits[case["name"]]
    out = res.leave_one_out()
    _check_sequence(out, case["result"]["leave1out"], case["method"] == "FE")
    assert len(out) == res.k


@pytest.mark.parametrize("case", [c for c in CASES if "cumulative" in c["result"]],
                         ids=lambda c: c["name"])
def test_cumulative_matches_metafor(case, fits):
    res, d = fits[case["name"]]
    out = res.cumulative(order=d[case["order"]])
    _check_sequence(out, case["result"]["cumulative"], case["method"] == "FE")
    # the last row is the full fit
    assert out["estimate"].iloc[-1] == pytest.approx(float(res.params.iloc[0]), rel=1e-8)
    assert out["tau2"].iloc[-1] == pytest.approx(float(res.tau2), abs=1e-8)


@pytest.mark.parametrize("case", [c for c in CASES if "permutation" in c["result"]],
                         ids=lambda c: c["name"])
def test_exact_permutation_test_matches_metafor(case, fits):
    res, _ = fits[case["name"]]
    r = case["result"]["permutation"]
    pt = res.permutation_test(exact=True)
    assert pt.exact and pt.n_permutations == r["n"]
    np.testing.assert_allclose(pt.pvalues.values, r["pvalues"], rtol=1e-12)
    assert pt.qm_pvalue == pytest.approx(r["qm_pvalue"], rel=1e-12)


def test_permutation_test_auto_random_and_seeded(fits):
    res, _ = fits["bcg_ablat_ML"]
    a = res.permutation_test(n_permutations=200, seed=3)
    b = res.permutation_test(n_permutations=200, seed=3)
    assert not a.exact and a.n_permutations == 200
    np.testing.assert_array_equal(a.pvalues.values, b.pvalues.values)
    # the first permutation is the observed data: p-values are never 0
    assert np.all(a.pvalues.values >= 1 / 200)
    np.testing.assert_allclose(a.perm_statistics[0], a.statistic.values)
    # "auto" turns exact when there are few permutations (2^8 = 256 sign patterns)
    small, _ = fits["molloy8_DL_perm"]
    assert small.permutation_test(n_permutations=300).exact
    assert not small.permutation_test(n_permutations=100, seed=1).exact
    with pytest.raises(ValueError, match="exact"):
        res.permutation_test(exact="yes")


def test_deletion_kernel_equals_refits():
    rng = np.random.default_rng(5)
    k = 12
    X = np.column_stack([np.ones(k), rng.standard_normal(k)])
    v = rng.uniform(0.05, 0.3, k)
    y = X @ [0.2, 0.1] + rng.normal(0, 0.3, k) + rng.normal(0, np.sqrt(v))
    t = rng.uniform(0, 0.2, k)
    beta, cov, q, trp = deleted_states(y, v, X, t, with_trace=True)
    for i in range(k):
        keep = np.arange(k) != i
        f = fit_univariate(y[keep], v[keep], X[keep], "DL", tau2=t[i])
        np.testing.assert_allclose(beta[i], f.params, rtol=1e-10)
        np.testing.assert_allclose(cov[i], f.cov_params, rtol=1e-10)
    # a common tau^2 takes the rank-one downdate path: same numbers
    b2, c2, q2, tr2 = deleted_states(y, v, X, np.full(k, 0.1), with_trace=True)
    b3, c3, q3, tr3 = deleted_states(y, v, X, np.r_[np.full(k - 1, 0.1), 0.1 + 1e-300],
                                     with_trace=True)
    np.testing.assert_allclose(b2, b3, rtol=1e-10)
    np.testing.assert_allclose(q2, q3, rtol=1e-10)
    np.testing.assert_allclose(tr2, tr3, rtol=1e-10)


def test_influence_speed_k1000():
    rng = np.random.default_rng(1)
    k = 1000
    v = 4.0 / rng.integers(20, 200, k)
    y = 0.3 + rng.normal(0, np.sqrt(0.1), k) + rng.normal(0, np.sqrt(v))
    res = mm.MetaRandom(y, v).fit(method="REML")
    frame = res.get_influence().summary_frame()
    loo = res.leave_one_out()
    assert frame.shape[0] == k and np.all(np.isfinite(frame["rstudent"]))
    # spot check one deletion against a full refit
    keep = np.arange(k) != 17
    ref = mm.MetaRandom(y[keep], v[keep]).fit(method="REML")
    assert loo["estimate"].iloc[17] == pytest.approx(float(ref.params[0]), rel=1e-7)
    assert loo["tau2"].iloc[17] == pytest.approx(ref.tau2, rel=1e-6)


# --------------------------------------------------------------- subgroups
@pytest.mark.parametrize("method", ["REML", "DL"])
def test_subgroup_analysis_matches_metafor(method):
    r = REF["subgroup"][method]
    d = DATA["bcg"]
    res = mm.MetaRandom.from_formula("yi ~ 1", d, vi="vi").fit(method=method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fixed = mm.subgroup_analysis(res, by="alloc", between="fixed")
        mixed = mm.subgroup_analysis(res, by="alloc", between="mixed")
    assert list(fixed.groups.index) == r["groups"]
    np.testing.assert_allclose(fixed.groups["estimate"], r["estimate"], rtol=TOL)
    np.testing.assert_allclose(fixed.groups["se"], r["se"], rtol=TOL)
    np.testing.assert_allclose(fixed.groups["tau2"], r["tau2"], rtol=TOL, atol=TOL)
    np.testing.assert_array_equal(fixed.groups["k"], r["k"])
    assert fixed.q_between == pytest.approx(r["q_between"], rel=TOL)
    assert fixed.df_between == r["q_between_df"]
    assert fixed.pvalue_between == pytest.approx(r["q_between_pvalue"], rel=TOL)
    assert mixed.q_between == pytest.approx(r["mixed_qm"], rel=TOL)
    assert mixed.pvalue_between == pytest.approx(r["mixed_qm_pvalue"], rel=TOL)
    assert mixed.between_fit.tau2 == pytest.approx(r["mixed_tau2"], rel=TOL)


def test_subgroup_analysis_bad_input():
    d = DATA["bcg"]
    res = mm.MetaRandom.from_formula("yi ~ 1", d, vi="vi").fit()
    with pytest.raises(ValueError, match="between"):
        mm.subgroup_analysis(res, by="alloc", between="random")
    with pytest.raises(ValueError, match="not found"):
        mm.subgroup_analysis(res, by="nope")
    with pytest.raises(ValueError, match="single group"):
        mm.subgroup_analysis(res, by=np.zeros(len(d)))
    reg = mm.MetaRandom.from_formula("yi ~ ablat", d, vi="vi").fit()
    with pytest.raises(ValueError, match="without moderators"):
        mm.subgroup_analysis(reg, by="alloc")
    # an unfitted model works too (REML)
    model = mm.MetaRandom.from_formula("yi ~ 1", d, vi="vi")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = mm.subgroup_analysis(model, by="alloc")
    assert out.q_between == pytest.approx(REF["subgroup"]["REML"]["q_between"], rel=TOL)


# ----------------------------------------------------------------- MetaMixed
@pytest.fixture(scope="module")
def konst():
    d = DATA["konstantopoulos2011"]
    res = mm.MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", d, vi="vi").fit()
    return res, d


def test_metamixed_influence_rows_and_clusters(konst):
    res, d = konst
    r = REF["rma_mv"]["konst"]
    np.testing.assert_allclose(res.params.values, r["params"], rtol=1e-7)
    rows = res.get_influence().summary_frame()
    _close(rows["cooks_d"], r["cooks_d"], 1e-6)
    _close(rows["hat"], r["hat"], 1e-6)
    _close(rows["dfbetas_Intercept"], r["dfbetas"], 1e-6)
    cl = res.get_influence(cluster=d["district"]).summary_frame()
    np.testing.assert_array_equal(cl.index.to_numpy(), r["cluster_ids"])
    _close(cl["cooks_d"], r["cooks_d_cluster"], 1e-6)
    _close(cl["dfbetas_Intercept"], r["dfbetas_cluster"], 1e-6)
    # a cluster's hat value is the sum of its rows'
    assert cl["hat"].sum() == pytest.approx(rows["hat"].sum(), rel=1e-10)
    assert rows["hat"].sum() == pytest.approx(1.0, rel=1e-8)   # trace of H = p


def test_metamixed_influence_without_reestimation(konst):
    res, d = konst
    r = REF["rma_mv"]["konst"]
    cl = res.get_influence(cluster=d["district"], reestimate=False).summary_frame()
    _close(cl["cooks_d"], r["cooks_d_cluster_fixed_vc"], 1e-6)
    _close(cl["dfbetas_Intercept"], r["dfbetas_cluster_fixed_vc"], 1e-6)


def test_metamixed_leave_one_cluster_out(konst):
    res, d = konst
    r = REF["rma_mv"]["konst"]["loo_cluster"]
    out = res.leave_one_out(cluster=d["district"])
    order = np.argsort(r["ids"])
    np.testing.assert_allclose(out["estimate"], np.asarray(r["estimate"])[order], rtol=1e-6)
    np.testing.assert_allclose(out["se"], np.asarray(r["se"])[order], rtol=1e-6)
    names = list(res.theta.index)
    np.testing.assert_allclose(out[names[0]], np.asarray(r["sigma2_1"])[order], rtol=1e-5)
    np.testing.assert_allclose(out[names[1]], np.asarray(r["sigma2_2"])[order], rtol=1e-5)
    with pytest.raises(ValueError, match="entries"):
        res.leave_one_out(cluster=d["district"].iloc[:5])


def test_metamixed_bivariate_cooks_distance():
    b = DATA["berkey1998"]
    V = [b.loc[b.trial == t, ["v1i", "v2i"]].to_numpy() for t in b.trial.unique()]
    res = mm.MetaMixed.from_formula("yi ~ 0 + outcome + (0 + outcome | trial)", b,
                                    V=V).fit()
    r = REF["rma_mv"]["berkey"]
    frame = res.get_influence().summary_frame()
    ref = _arr(r["cooks_d"])
    ok = ~np.isnan(ref)                 # rows whose deletion metafor could refit
    # metafor's UN fits stop ~1e-5 short of the optimum (see test_meta_multivariate)
    np.testing.assert_allclose(frame["cooks_d"].to_numpy()[ok], ref[ok], rtol=1e-4)
    np.testing.assert_allclose(frame["hat"], r["hat"], rtol=1e-6)
    dfb = r["dfbetas"]
    for name, col in zip(res.model.exog_names, dfb.values()):
        ref = _arr(col)
        ok = ~np.isnan(ref)
        np.testing.assert_allclose(frame[f"dfbetas_{name}"].to_numpy()[ok], ref[ok],
                                   rtol=1e-4, atol=1e-5)


# -------------------------------------------------------------------- errors
def test_errors(fits):
    res, _ = fits["bcg_ablat_ML"]
    with pytest.raises(ValueError, match="without moderators"):
        res.leave_one_out()
    with pytest.raises(ValueError, match="without moderators"):
        res.cumulative()
    with pytest.raises(ValueError, match="cluster"):
        res.get_influence(cluster=np.arange(res.k))
    one, _ = fits["bcg_REML"]
    with pytest.raises(ValueError, match="order has"):
        one.cumulative(order=[1, 2, 3])
    with pytest.raises(ValueError, match="alpha"):
        one.leave_one_out(alpha=2)
    fe, _ = fits["molloy_FE"]
    with pytest.raises(ValueError, match="no variance component"):
        fe.plot_profile()


# --------------------------------------------------------------------- plots
def test_influence_plots(fits):
    res, _ = fits["bcg_REML"]
    inf = res.get_influence()
    fig = inf.plot()
    axes = fig.axes
    assert len(axes) == 8
    assert [a.get_title() for a in axes][:2] == ["rstudent", "dffits"]
    # each panel: one point per study (black + red scatter)
    assert sum(len(c.get_offsets()) for c in axes[0].collections) == res.k
    fig2 = inf.plot(which="dfbetas")
    assert len(fig2.axes) == 1
    with pytest.raises(ValueError, match="which"):
        inf.plot(which="other")
    plt.close("all")


def test_baujat_radial_qq_profile(fits, konst):
    res, _ = fits["bcg_REML"]
    fig = res.plot_baujat()
    assert len(fig.axes[0].texts) == res.k
    assert len(fig.axes[0].collections[0].get_offsets()) == res.k
    with pytest.raises(ValueError, match="labels"):
        res.plot_baujat(labels=["a"])
    fig = res.plot_radial()
    ax = fig.axes[0]
    assert len(ax.collections[-1].get_offsets()) == res.k
    # slope of the line through the origin = pooled estimate
    x, y = ax.lines[0].get_data()
    assert y[1] / x[1] == pytest.approx(float(res.params.iloc[0]))
    f1 = res.plot_qq(seed=1)
    f2 = res.plot_qq(seed=1)
    np.testing.assert_array_equal(f1.axes[0].lines[0].get_ydata(),
                                  f2.axes[0].lines[0].get_ydata())
    assert len(f1.axes[0].collections[0].get_offsets()) == res.k
    fig = res.plot_qq(envelope=False)
    assert len(fig.axes[0].lines) == 1
    fig = res.plot_profile(steps=9)
    line = fig.axes[0].lines[0]
    xs, ll = line.get_data()
    assert len(xs) == 9
    # the profile peaks at the estimate: no grid value beats the maximum
    assert np.max(ll) <= res.llf_metafor + 1e-9
    mres, _ = konst
    fig = mres.plot_profile(steps=5)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert np.nanmax(ax.lines[0].get_ydata()) <= mres.llf_metafor + 1e-6
    reg, _ = fits["bcg_ablat_ML"]
    with pytest.raises(ValueError, match="without moderators"):
        reg.plot_radial()
    plt.close("all")


def test_cumulative_forest_plot(fits):
    res, d = fits["bcg_REML"]
    cum = res.cumulative(order=d["year"])
    fig = cum.plot_forest(transform=np.exp, refline=0.0, xlabel="Risk ratio")
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == res.k
    assert len(ax.collections[-1].get_offsets()) == res.k
    loo = res.leave_one_out()
    assert type(loo).__name__ == "SequentialFrame"
    fig = loo.plot_forest()
    assert fig.axes[0].get_yticklabels()[0].get_text().startswith("- ")
    plt.close("all")
