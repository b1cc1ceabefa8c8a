"""Diagnostics of MetaFixed/MetaRandom fits with user weights (``fit(weights=)``):
every refit keeps the weights of the studies it uses, as metafor's leave1out, cumul,
influence, rstudent, regtest, trimfill and permutest (reference numbers from
tests/reference/scripts/meta_weighted_diagnostics.R); selection models refuse them, as
metafor's selmodel; the model constructor refuses ``weights=`` (it belongs to fit).
Likewise a Sidik-Jonkman fit's starting value (``tau2_init``) is used by every refit."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metamodels as mm
import metamodels.diagnostics as D
from metamodels.diagnostics import permutation as perm_mod
from metamodels.exceptions import SpecificationError

REF = json.loads((Path(__file__).parent / "reference" / "meta_weighted_diagnostics.json")
                 .read_text())
DAT = pd.DataFrame({"yi": REF["yi"], "vi": REF["vi"], "ablat": REF["ablat"]})
W = np.array(REF["w"])
METHODS = list(REF["cases"])


def _fit(method, formula="yi ~ 1", data=DAT, w=W):
    return mm.MetaRandom.from_formula(formula, data=data, vi="vi").fit(
        method=method, weights=w, tol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_leave_one_out_cumulative_and_rstudent_keep_the_weights(method):
    c = REF["cases"][method]
    r0, r1 = _fit(method), _fit(method, "yi ~ ablat")
    np.testing.assert_allclose(r0.params, c["beta"], rtol=1e-10)
    l1 = D.leave_one_out(r0)
    for col, key in (("estimate", "estimate"), ("se", "se"), ("tau2", "tau2"), ("q", "q")):
        np.testing.assert_allclose(l1[col], c["leave1out"][key], rtol=1e-9, atol=1e-11)
    cu = D.cumulative(r0)
    for col in ("estimate", "se", "tau2"):
        np.testing.assert_allclose(cu[col], c["cumulative"][col], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(r0.rstudent()["z"], c["rstudent"], rtol=1e-9)
    np.testing.assert_allclose(r1.rstudent()["z"], c["rstudent_mods"], rtol=1e-9)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mods", [False, True])
def test_influence_measures_keep_the_weights(method, mods):
    c = REF["cases"][method]
    inf = c["influence_mods" if mods else "influence"]
    res = _fit(method, "yi ~ ablat" if mods else "yi ~ 1")
    f = D.get_influence(res).summary_frame()
    for col in ("rstudent", "dffits", "cooks_d", "cov_ratio", "tau2_deleted", "q_deleted",
                "hat", "weight"):
        np.testing.assert_allclose(f[col], inf[col], rtol=1e-9, atol=1e-12, err_msg=col)
    for name, vals in inf["dfbetas"].items():
        if name in ("slab", "digits"):
            continue
        col = "dfbetas_" + ("Intercept" if name == "intrcpt" else name)
        np.testing.assert_allclose(f[col], vals, rtol=1e-9, atol=1e-12, err_msg=col)


@pytest.mark.parametrize("method", METHODS)
def test_regression_test_and_trim_and_fill_keep_the_weights(method):
    c = REF["cases"][method]
    r0, r1 = _fit(method), _fit(method, "yi ~ ablat")
    eg, eg1 = D.egger_test(r0), D.egger_test(r1)
    assert eg.statistic == pytest.approx(c["regtest"]["z"], rel=1e-9)
    assert eg.pvalue == pytest.approx(c["regtest"]["p"], rel=1e-9)
    assert eg1.statistic == pytest.approx(c["regtest_mods"]["z"], rel=1e-9)
    tf = D.trim_and_fill(r0)
    assert tf.k0 == c["trimfill"]["k0"]
    filled = tf.filled
    assert float(np.asarray(filled.params)[0]) == pytest.approx(c["trimfill"]["beta"], rel=1e-9)
    assert float(np.asarray(filled.bse)[0]) == pytest.approx(c["trimfill"]["se"], rel=1e-8)


def test_trim_and_fill_gives_a_filled_study_the_weight_of_its_mirror():
    t = REF["trimfill_filled"]
    tf = D.trim_and_fill(_fit("REML", w=np.array(t["w"])))
    assert tf.k0 == t["k0"] == 1
    np.testing.assert_allclose(tf.filled._fit.weights, t["weights"], rtol=1e-12)
    np.testing.assert_allclose(tf.filled.model.endog, t["yi"], rtol=1e-12)
    assert float(np.asarray(tf.filled.params)[0]) == pytest.approx(t["beta"], rel=1e-9)
    assert float(np.asarray(tf.filled.bse)[0]) == pytest.approx(t["se"], rel=1e-8)
    assert float(tf.filled.tau2) == pytest.approx(t["tau2"], rel=1e-8)


@pytest.mark.parametrize("method", METHODS)
def test_exact_permutation_tests_keep_the_weights(method):
    c = REF["cases"][method]
    pt = D.permutation_test(_fit(method, data=DAT.iloc[4:], w=W[4:]), exact=True)
    assert pt.exact and pt.n_permutations == c["permutation"]["n"]
    assert pt.pvalues.iloc[0] == pytest.approx(c["permutation"]["pvalues"], rel=1e-12)
    d6 = DAT.iloc[:6]
    pt6 = D.permutation_test(_fit(method, "yi ~ ablat", data=d6, w=W[:6]), exact=True)
    np.testing.assert_allclose(pt6.pvalues, c["permutation_mods6"]["pvalues"], rtol=1e-12)
    assert pt6.qm_pvalue == pytest.approx(c["permutation_mods6"]["qm_pvalue"], rel=1e-12)


@pytest.mark.parametrize("method", ["FE", "DL", "HE", "REML", "ML", "PM"])
def test_batched_sign_flips_equal_the_fit_per_pattern(method, monkeypatch):
    """Intercept-only sign-flip tests fit all patterns with the batch kernels: the
    statistics of every pattern equal those of one fit per pattern (to 1e-9), and so
    do the p-values; with user weights the per-pattern fits are used."""
    dat = DAT.iloc[:9]
    res = (mm.MetaFixed.from_formula("yi ~ 1", data=dat, vi="vi").fit() if method == "FE"
           else mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit(method=method))
    fast = D.permutation_test(res, exact=True)
    seeded = D.permutation_test(res, n_permutations=300, exact=False, seed=4)
    monkeypatch.setattr(perm_mod, "BATCH_METHODS", ())
    slow = D.permutation_test(res, exact=True)
    np.testing.assert_allclose(fast.perm_statistics, slow.perm_statistics, rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(fast.perm_qm, slow.perm_qm, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(fast.pvalues, slow.pvalues)
    seeded_slow = D.permutation_test(res, n_permutations=300, exact=False, seed=4)
    np.testing.assert_allclose(seeded.perm_statistics, seeded_slow.perm_statistics,
                               rtol=1e-9, atol=1e-12)


def test_subgroups_keep_the_weights():
    sg = REF["subgroups"]
    dat = DAT.assign(alloc=sg["alloc"])
    res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit(weights=W, tol=1e-12)
    sub = mm.subgroup_analysis(res, by="alloc", between="mixed")
    table = sub.summary_frame()
    for g, ref in sg["groups"].items():
        assert table.loc[g, "estimate"] == pytest.approx(ref["estimate"], rel=1e-9)
        assert table.loc[g, "se"] == pytest.approx(ref["se"], rel=1e-8)
        assert table.loc[g, "tau2"] == pytest.approx(ref["tau2"], rel=1e-8, abs=1e-12)
    assert sub.q_between == pytest.approx(sg["qm"], rel=1e-8)
    assert sub.pvalue_between == pytest.approx(sg["qm_p"], rel=1e-8)


def test_selection_models_and_the_constructor_refuse_user_weights():
    with pytest.raises(SpecificationError, match="user weights"):
        D.selection_model(_fit("REML"), "beta")
    with pytest.raises(SpecificationError, match="user weights"):   # CR2 needs W = Phi^-1
        _fit("REML").robust(cluster=np.arange(13))
    with pytest.raises(SpecificationError, match="user weights"):
        _fit("REML").robust(cluster=np.arange(13), cov_type="CR1p")    # Satterthwaite df
    unweighted = mm.MetaRandom.from_formula("yi ~ 1", data=DAT, vi="vi").fit()
    assert unweighted.robust(cluster=np.arange(13)).n_clusters == 13


@pytest.mark.parametrize("cov_type", ["CR1p", "CR0"])
def test_cluster_robust_inference_of_weighted_fits(cov_type):
    """The sandwich of the weighted estimator (X'AX)^-1 X'A, as metafor's robust()
    (adjust=TRUE is CR1p, FALSE CR0; t tests on m - p df); no HTZ test."""
    ref = REF["robust"][cov_type]
    alloc = REF["subgroups"]["alloc"]
    r1 = _fit("REML", "yi ~ ablat", data=DAT.assign(alloc=alloc))
    rb = r1.robust(cluster="alloc", cov_type=cov_type, ddf="residual")
    f = rb.summary_frame()
    for col, key in (("se", "se"), ("t", "t"), ("df", "df"), ("pvalue", "p")):
        np.testing.assert_allclose(f[col], ref["mods"][key], rtol=1e-9, err_msg=col)
    rb0 = _fit("REML").robust(cluster=np.arange(13), cov_type=cov_type, ddf="residual")
    f0 = rb0.summary_frame()
    for col, key in (("se", "se"), ("t", "t"), ("df", "df"), ("pvalue", "p")):
        np.testing.assert_allclose(f0[col], ref["intercept"][key], rtol=1e-9, err_msg=col)
    with pytest.raises(SpecificationError, match="HTZ"):
        rb.wald_test("ablat = 0")
    with pytest.raises(TypeError, match="fit\\(weights=w\\)"):
        mm.MetaRandom.from_formula("yi ~ 1", data=DAT, vi="vi", weights=W)
    with pytest.raises(TypeError, match="fit\\(weights=w\\)"):
        mm.MetaFixed(DAT["yi"], DAT["vi"], weights=W)


def test_sidik_jonkman_refits_start_from_the_fits_starting_value():
    """SJ depends on its starting value: leave-one-out, cumulative, rstudent, influence,
    the regression test and permutation tests refit from the fit's ``tau2_init``, as
    metafor's refits use ``control$tau2.init``."""
    ref = REF["sj_init"]
    res = mm.MetaRandom.from_formula("yi ~ 1", data=DAT, vi="vi").fit(method="SJ",
                                                                        tau2_init=0.05)
    assert res.tau2 == pytest.approx(ref["tau2"], rel=1e-10)
    l1 = D.leave_one_out(res)
    np.testing.assert_allclose(l1["tau2"], ref["leave1out_tau2"], rtol=1e-9)
    np.testing.assert_allclose(l1["estimate"], ref["leave1out_estimate"], rtol=1e-9)
    np.testing.assert_allclose(D.cumulative(res)["tau2"], ref["cumul_tau2"], rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(res.rstudent()["z"], ref["rstudent"], rtol=1e-9)
    mods = mm.MetaRandom.from_formula("yi ~ ablat", data=DAT, vi="vi").fit(method="SJ",
                                                                             tau2_init=0.05)
    np.testing.assert_allclose(D.get_influence(mods).summary_frame()["tau2_deleted"],
                               ref["tau2_deleted_mods"], rtol=1e-9)
    assert D.egger_test(res).statistic == pytest.approx(ref["regtest_z"], rel=1e-9)
    r9 = mm.MetaRandom.from_formula("yi ~ 1", data=DAT.iloc[4:], vi="vi").fit(
        method="SJ", tau2_init=0.05)
    assert D.permutation_test(r9, exact=True).pvalues.iloc[0] == pytest.approx(
        ref["permutation9"], rel=1e-12)
