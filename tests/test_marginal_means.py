"""Estimated marginal means and contrasts of MixedModel fits (issue 16, point 4) against
emmeans with lmerTest's Satterthwaite and pbkrtest's Kenward-Roger df
(tests/reference/scripts/marginal_means.R, on the bundled fev_sim)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import metamodels as mm
from conftest import require_shared
from metamodels.exceptions import SpecificationError
from metamodels.inference.adjust import adjust_family
from metamodels.inference.studentized_range import ptukey, qtukey

REF = json.loads((Path(__file__).parent / "reference" / "marginal_means.json").read_text())
CASES = REF["cases"]
FORMULAS = {"random_slope": "fev ~ baseval + drug + hour + (1 + hour | patient)",
            "factor_interaction": "fev ~ baseval + drug * C(hour) + (1 | patient) "
                                  "+ (1 | patient:drug)"}
# emmeans' lmer.df: Satterthwaite as lmerTest, Kenward-Roger as pbkrtest (expected information)
DDFS = {"satterthwaite": "satterthwaite", "kenward_roger": "kenward-roger-expected"}


@pytest.fixture(scope="module")
def fits():
    data = mm.datasets.load("fev_sim")
    out = {}
    for name, formula in FORMULAS.items():
        res = mm.MixedModel.from_formula(formula, data).fit()
        assert res.llf == pytest.approx(CASES[name]["logLik"], rel=1e-9)
        out[name] = res
    return out


def _slope_calls(res, ddf):
    e = res.marginal_means("drug", ddf=ddf)
    e25 = res.marginal_means("drug", at={"baseval": 2.5, "hour": 3}, ddf=ddf)
    return {
        "means": lambda: e, "means_at": lambda: e25,
        "pairs_tukey": lambda: e.pairs(),
        "pairs_bonferroni": lambda: e.contrast("pairwise", adjust="bonferroni"),
        "pairs_holm": lambda: e.contrast("pairwise", adjust="holm"),
        "pairs_none": lambda: e.contrast("pairwise", adjust="none"),
        "revpairs_tukey": lambda: e.contrast("revpairwise", adjust="tukey"),
        "trt_ctrl_bonferroni": lambda: e.contrast("trt.vs.ctrl", adjust="bonferroni"),
        "trt_ctrl_p_holm": lambda: e.contrast("trt.vs.ctrl", ref="p", adjust="holm"),
        "eff_holm": lambda: e.contrast("eff", adjust="holm"),
        "consec_bonferroni": lambda: e.contrast("consec", adjust="bonferroni"),
        "at_pairs_tukey": lambda: e25.pairs(),
        "means_sidak": lambda: res.marginal_means("drug", ddf=ddf, adjust="sidak"),
    }


def _factor_calls(res, ddf):
    e = res.marginal_means("drug", ddf=ddf)
    ep = res.marginal_means("drug", weights="proportional", ddf=ddf)
    eh = res.marginal_means("hour", ddf=ddf)
    eb = res.marginal_means("drug", by="hour", ddf=ddf)
    return {
        "means": lambda: e, "means_proportional": lambda: ep,
        "means_cells": lambda: res.marginal_means("drug", weights="cells", ddf=ddf),
        "pairs_tukey": lambda: e.pairs(),
        "pairs_proportional_holm": lambda: ep.pairs(adjust="holm"),
        "hour_means": lambda: eh, "hour_pairs_tukey": lambda: eh.pairs(),
        "hour_trt_ctrl_holm": lambda: eh.contrast("trt.vs.ctrl", adjust="holm"),
        "by_hour_means": lambda: eb,
        "by_hour_pairs_tukey": lambda: eb.pairs(),
        "by_hour_pairs_bonferroni": lambda: eb.contrast("pairwise", adjust="bonferroni"),
        "two_factor_means": lambda: res.marginal_means(["drug", "hour"], ddf=ddf),
        "two_factor_pairs_bonferroni": lambda: res.marginal_means(["drug", "hour"], ddf=ddf)
        .pairs(adjust="bonferroni"),
    }


CALLS = {"random_slope": _slope_calls, "factor_interaction": _factor_calls}
_BUILT = {}


def _calls(fits, case, key):
    if (case, key) not in _BUILT:
        _BUILT[case, key] = CALLS[case](fits[case], DDFS[key])
    return _BUILT[case, key]
PARAMS = [(case, key, what) for case in CALLS for key in DDFS
          for what in CASES[case]["results"][key]]


@pytest.mark.parametrize("case,key,what", PARAMS)
def test_against_emmeans(fits, case, key, what):
    ref = CASES[case]["results"][key][what]
    tab = _calls(fits, case, key)[what]()
    frame = tab.summary_frame()
    for col, values in ref["labels"].items():
        col = {"fhour": "hour"}.get(col, col)
        assert list(frame[col].astype(str)) == [str(v).replace("fhour", "hour")
                                                for v in values], col
    np.testing.assert_allclose(frame["estimate"], ref["estimate"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(frame["se"], ref["se"], rtol=2e-5)
    np.testing.assert_allclose(frame["df"], ref["df"], rtol=1e-4)
    np.testing.assert_allclose(frame["statistic"], ref["statistic"], rtol=2e-5)
    np.testing.assert_allclose(frame["pvalue"], ref["pvalue"], rtol=1e-3, atol=1e-8)
    np.testing.assert_allclose(frame["ci_lower"], ref["ci_lower"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(frame["ci_upper"], ref["ci_upper"], rtol=1e-5, atol=1e-7)


def test_every_ddf_method_and_default(fits):
    res = fits["random_slope"]
    for ddf in mm.inference.ddf.ddf_methods():
        e = res.marginal_means("drug", ddf=ddf)
        assert e.ddf == ddf
        method = res.ddf_method(ddf)
        np.testing.assert_allclose(e.df, method.t_df(e.L))
        np.testing.assert_allclose(e.se, np.sqrt(np.diag(e.L @ method.cov() @ e.L.T)))
        c = e.pairs(adjust="none")
        np.testing.assert_allclose(c.pvalue, 2 * stats.t.sf(np.abs(c.statistic), c.df))
    # the results' default ddf is used unless told
    kr = mm.MixedModel.from_formula(FORMULAS["random_slope"], mm.datasets.load("fev_sim")) \
        .fit(ddf="kenward-roger")
    assert kr.marginal_means("drug").ddf == "kenward-roger"
    # containment df of a drug contrast = the df of the drug columns
    c = res.contrast("drug", ddf="containment", adjust="none")
    assert set(c.df) == {res.df_fixed("containment")["drug[T.c]"]}


def test_means_are_predictions_on_the_grid(fits):
    res = fits["random_slope"]
    d = res.model.data.frame
    e = res.marginal_means("drug", at={"baseval": 3.0})
    b = res.params
    hour = d["hour"].mean()
    expect = [b["Intercept"] + 3.0 * b["baseval"] + hour * b["hour"]
              + (b[f"drug[T.{lev}]"] if lev != "a" else 0.0) for lev in "acp"]
    np.testing.assert_allclose(e.estimate, expect, rtol=1e-12)
    # shorthand contrast(...) equals marginal_means(...).contrast(...)
    c1 = res.contrast("drug", method="trt.vs.ctrl", at={"baseval": 3.0}, adjust="bonferroni")
    c2 = e.contrast("trt.vs.ctrl", adjust="bonferroni")
    pd.testing.assert_frame_equal(c1.summary_frame(), c2.summary_frame())
    assert list(c1.summary_frame().columns) == ["contrast", "estimate", "se", "df",
                                                "statistic", "pvalue", "ci_lower", "ci_upper"]
    # at= restricts factor levels; a custom contrast
    e2 = res.marginal_means("drug", at={"drug": ["a", "p"]})
    assert list(e2.labels["drug"]) == ["a", "p"]
    cc = e.contrast({"active - placebo": [0.5, 0.5, -1.0]}, adjust="none")
    assert cc.estimate[0] == pytest.approx(0.5 * (e.estimate[0] + e.estimate[1])
                                           - e.estimate[2], rel=1e-12)


def test_adjustments_family_rules():
    t = np.array([0.5, -2.2, 3.1, 1.4])
    df = np.array([10.0, 12.0, 30.0, np.inf])
    p0, c0 = adjust_family(t, df, 0.05, "none")
    pb, cb = adjust_family(t, df, 0.05, "bonferroni")
    ph, ch = adjust_family(t, df, 0.05, "holm")
    np.testing.assert_allclose(pb, np.minimum(1, 4 * p0))
    np.testing.assert_allclose(ch, cb)
    # Holm: step-down, monotone in p, never above Bonferroni
    order = np.argsort(p0)
    assert np.all(np.diff(ph[order]) >= 0) and np.all(ph <= pb + 1e-15)
    assert ph[order[0]] == pytest.approx(4 * p0[order[0]])
    # Tukey with two means is the unadjusted t test
    pt, ct = adjust_family(t[:1], df[:1], 0.05, "tukey", n_means=2)
    assert pt[0] == pytest.approx(p0[0], rel=1e-6) and ct[0] == pytest.approx(c0[0], rel=1e-6)


@pytest.mark.parametrize("k", [2, 3, 8, 24])
def test_studentized_range_quadrature_equals_scipy(k):
    q = np.array([0.4, 1.5, 3.3, 4.7, 6.0, 9.0])
    for df in (2.0, 3.7, 24.1, 381.4, 5000.0, np.inf):
        np.testing.assert_allclose(ptukey(q, k, df, upper=True),
                                   stats.studentized_range.sf(q, k, df), rtol=0, atol=1e-10)
    for df in (2.5, 30.2):
        qq = qtukey(0.95, k, df)[0]
        assert stats.studentized_range.cdf(qq, k, df) == pytest.approx(0.95, abs=1e-10)
    # df below 2: scipy's adaptive quadrature
    assert ptukey(3.0, k, 1.2) == pytest.approx(stats.studentized_range.cdf(3.0, k, 1.2),
                                                abs=1e-12)


def test_tukey_becomes_sidak_outside_pairwise_families(fits):
    e = fits["random_slope"].marginal_means("drug")
    c = e.contrast("trt.vs.ctrl", adjust="tukey")
    assert c.adjust == "sidak"
    s = e.contrast("trt.vs.ctrl", adjust="sidak")
    np.testing.assert_allclose(c.pvalue, s.pvalue)


def test_refusals(fits):
    res = fits["random_slope"]
    with pytest.raises(SpecificationError, match="not variables"):
        res.marginal_means("drug", at={"dose": 1})
    with pytest.raises(SpecificationError, match="not levels"):
        res.marginal_means("drug", at={"drug": ["z"]})
    with pytest.raises(SpecificationError, match="specs/by"):
        res.marginal_means("treatment")
    with pytest.raises(ValueError, match="unknown adjust"):
        res.marginal_means("drug", adjust="scheffe")
    with pytest.raises(ValueError, match="unknown weights"):
        res.marginal_means("drug", weights="outer")
    e = res.marginal_means("drug")
    with pytest.raises(ValueError, match="unknown contrast"):
        e.contrast("helmert")
    with pytest.raises(ValueError, match="3 coefficients"):
        e.contrast({"x": [1, -1]})
    with pytest.raises(ValueError, match="ref="):
        e.contrast("trt.vs.ctrl", ref="q")
    f = mm.datasets.load("fev_sim")
    f = f[~((f["drug"] == "a") & (f["hour"] == 2))]
    r = mm.MixedModel.from_formula("fev ~ drug + C(hour) + (1 | patient)", f).fit()
    assert np.all(np.isfinite(r.marginal_means("drug", by="hour").estimate))
    with pytest.raises(SpecificationError, match="no data rows"):
        r.marginal_means("drug", by="hour", weights="cells")
    d = mm.datasets.load("sleepstudy")
    arr = mm.MixedModel(d["Reaction"].to_numpy(), np.ones((len(d), 1)),
                        groups=d["Subject"].to_numpy()).fit()
    with pytest.raises(SpecificationError, match="formula"):
        arr.marginal_means("Days")


def test_seed_fev1_against_emmeans():
    """The complete seed trial (../shared, not redistributed; the reference holds results
    only): LSMEANS of drug and Tukey pairs, Satterthwaite and Kenward-Roger, and the same
    with SAS's containment df."""
    d = pd.read_csv(require_shared("data", "fev1_long.csv"))
    seed = CASES["seed_fev1"]
    res = mm.MixedModel.from_formula("fev1 ~ basefev1 + drug * C(hour) + (1 | patient:drug)",
                                     d).fit()
    assert res.llf == pytest.approx(seed["logLik"], rel=1e-9)
    for key, ddf in DDFS.items():
        e = res.marginal_means("drug", ddf=ddf)
        for tab, ref in ((e, seed["results"][key]["means"]),
                         (e.pairs(), seed["results"][key]["pairs_tukey"])):
            f = tab.summary_frame()
            for col in ["estimate", "se", "df", "statistic", "ci_lower", "ci_upper"]:
                np.testing.assert_allclose(f[col], ref[col], rtol=2e-5, err_msg=col)
            np.testing.assert_allclose(f["pvalue"], ref["pvalue"], rtol=1e-3, atol=1e-8)
    c = res.marginal_means("drug", ddf="containment").pairs()
    assert np.all(c.df == res.df_fixed("containment")["drug[T.c]"])


META = json.loads((Path(__file__).parent / "reference" / "marginal_means_meta.json").read_text())


@pytest.mark.parametrize("test", ["z", "knha"])
def test_meta_regression_against_emmeans(test):
    es = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos",
                        di="cneg")
    res = mm.MetaRandom.from_formula("yi ~ ablat + alloc", es, vi="vi").fit(method="REML",
                                                                           test=test)
    ref = META["results"][test]
    e = res.marginal_means("alloc")
    for name, tab in {"means": e, "pairs_tukey": e.pairs(),
                      "pairs_holm": e.pairs(adjust="holm")}.items():
        r, f = ref[name], tab.summary_frame()
        assert list(f.iloc[:, 0]) == next(iter(r["labels"].values()))
        df = np.where(np.asarray(r["df"], dtype=float) < 0, np.inf, r["df"])
        np.testing.assert_array_equal(f["df"], df)
        for col in ["estimate", "se", "statistic", "pvalue", "ci_lower", "ci_upper"]:
            np.testing.assert_allclose(f[col], r[col], rtol=1e-6, atol=1e-9, err_msg=name + col)
    with pytest.raises(ValueError, match="fit\\(test"):
        res.marginal_means("alloc", ddf="satterthwaite")


def test_rows_dropped_for_missing_values_are_refused():
    es = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos",
                        di="cneg")
    es.loc[0, "ablat"] = np.nan
    with pytest.warns(Warning):
        res = mm.MetaRandom.from_formula("yi ~ ablat + alloc", es, vi="vi").fit()
    with pytest.raises(SpecificationError, match="rows"):
        res.marginal_means("alloc")
