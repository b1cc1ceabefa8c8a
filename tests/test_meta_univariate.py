"""MetaFixed / MetaRandom against metafor.

Two reference files:

* ``meta_univariate.json`` — made by ``scripts/meta_univariate.R`` with metafor's
  convergence controls tightened (threshold 1e-13, uniroot tol 1e-14), so iterative
  estimates are exact to ~1e-10 and can be compared at 1e-8.
* ``meta_bcg.json`` — the shared reference, made with metafor's *default* controls
  (ML/REML/EB stop when tau^2 changes by < 1e-5; PM uses uniroot's tol ~1.2e-4).
  Closed-form estimators are compared at 1e-10; for iterative estimators we check
  that our optimum is at least as good (higher log-likelihood) and agrees within
  metafor's stopping error.
"""
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metamodels as mm

REF = Path(__file__).parent / "reference"
TIGHT = json.loads((REF / "meta_univariate.json").read_text())
SHARED = json.loads((REF / "meta_bcg.json").read_text())
DATA = {k: pd.DataFrame(v) for k, v in TIGHT["data"].items()}
RTOL = 1e-8


def _formula(mods):
    if mods == "1":
        return "yi ~ 1"
    rhs = mods.replace("~", "").strip().replace("factor(alloc)", "C(alloc)")
    return "yi ~ " + rhs


def _metafor_name(name):
    if name == "Intercept":
        return "intrcpt"
    m = re.match(r"C\((\w+)\)\[T\.(.+)\]", name)
    return f"factor({m.group(1)}){m.group(2)}" if m else name


def _fit(case, data):
    formula = _formula(case["mods"])
    if case["method"] == "FE":
        return mm.MetaFixed.from_formula(formula, data=data, vi="vi").fit(test=case["test"])
    return mm.MetaRandom.from_formula(formula, data=data, vi="vi").fit(
        method=case["method"], test=case["test"])


def _ordered(res, names):
    ours = pd.Series(np.asarray(res.params), index=[_metafor_name(n) for n in res.model.exog_names])
    return ours, [list(ours.index).index(n) for n in names]


@pytest.mark.parametrize("case", TIGHT["cases"], ids=[c["name"] for c in TIGHT["cases"]])
def test_against_metafor_tight(case):
    r = case["result"]
    res = _fit(case, DATA[case["dataset"]])
    names = list(r["coef"])
    ours, order = _ordered(res, names)
    np.testing.assert_allclose(ours.values[order], list(r["coef"].values()), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(np.asarray(res.bse)[order], np.atleast_1d(r["se"]), rtol=RTOL)
    np.testing.assert_allclose(np.asarray(res.tvalues)[order], np.atleast_1d(r["stat"]), rtol=1e-7)
    np.testing.assert_allclose(np.asarray(res.pvalues)[order], np.atleast_1d(r["pval"]), rtol=1e-6)
    ci = np.asarray(res.conf_int(0.05))[order]
    np.testing.assert_allclose(ci[:, 0], np.atleast_1d(r["ci_lower"]), rtol=RTOL)
    np.testing.assert_allclose(ci[:, 1], np.atleast_1d(r["ci_upper"]), rtol=RTOL)
    assert res.q == pytest.approx(r["QE"], rel=1e-10)
    assert res.q_pvalue == pytest.approx(r["QEp"], rel=1e-8)
    assert 100 * res.i2 == pytest.approx(r["I2"], rel=RTOL)
    assert res.h2 == pytest.approx(r["H2"], rel=RTOL)
    if len(names) > 1:
        assert res.qm == pytest.approx(r["QM"], rel=1e-7)
        assert res.qm_pvalue == pytest.approx(r["QMp"], rel=1e-6)
    # log-likelihood: ours is the lme4/SAS REML convention; metafor adds 1/2 log|X'X|
    X = res.model.exog
    shift = 0.5 * np.linalg.slogdet(X.T @ X)[1] if case["method"] == "REML" else 0.0
    assert res.llf + shift == pytest.approx(r["logLik"], rel=1e-10)
    assert res.llf_metafor == pytest.approx(r["logLik"], rel=1e-10)
    assert res.aic - 2 * shift == pytest.approx(r["AIC"], rel=1e-10)
    assert res.bic - 2 * shift == pytest.approx(r["BIC"], rel=1e-10)
    assert res.aicc - 2 * shift == pytest.approx(r["AICc"], rel=1e-10)
    pred = r["pred"]
    nd = r.get("newdata")
    frame = res.get_prediction(None if nd is None else np.asarray(nd, dtype=float)).summary_frame()
    np.testing.assert_allclose(frame["mean"], np.atleast_1d(pred["pred"]), rtol=RTOL)
    np.testing.assert_allclose(frame["mean_se"], np.atleast_1d(pred["se"]), rtol=RTOL)
    np.testing.assert_allclose(frame["mean_ci_lower"], np.atleast_1d(pred["ci_lower"]), rtol=RTOL)
    np.testing.assert_allclose(frame["obs_ci_lower"], np.atleast_1d(pred["pi_lower"]), rtol=RTOL)
    np.testing.assert_allclose(frame["obs_ci_upper"], np.atleast_1d(pred["pi_upper"]), rtol=RTOL)
    if case["method"] == "FE":
        return
    assert res.tau2 == pytest.approx(r["tau2"], rel=RTOL, abs=1e-12)
    assert res.tau2_se == pytest.approx(r["se_tau2"], rel=1e-7)
    b = res.blup()
    for ours_col, ref_col in [("pred", "pred"), ("se", "se"), ("pi_lower", "pi_lower"),
                              ("pi_upper", "pi_upper")]:
        np.testing.assert_allclose(b[ours_col], r["blup"][ref_col], rtol=1e-7, atol=1e-12)
    if "tau2_ci_qprofile" in r:
        np.testing.assert_allclose(res.conf_int_tau2(method="qprofile"), r["tau2_ci_qprofile"],
                                   rtol=1e-7, atol=1e-12)
    if "tau2_ci_profile" in r:
        np.testing.assert_allclose(res.conf_int_tau2(method="profile"), r["tau2_ci_profile"],
                                   rtol=1e-6, atol=1e-12)


SHARED_BY_NAME = {c["name"]: c for c in SHARED["cases"]}
BCG = pd.DataFrame(SHARED["data"])
CLOSED_FORM = ["bcg_FE", "bcg_DL", "bcg_HE", "bcg_HS", "bcg_SJ", "bcg_FE_mods"]
ITERATIVE = ["bcg_ML", "bcg_REML", "bcg_EB", "bcg_PM", "bcg_REML_knha", "bcg_REML_mods",
             "bcg_ML_knha_factor"]


def _shared_case(name):
    c = dict(SHARED_BY_NAME[name])
    c["mods"] = "1" if c["formula"] == "yi ~ 1" else "~" + c["formula"].split("~")[1].replace(
        "C(alloc)", "factor(alloc)")
    return c


@pytest.mark.parametrize("name", CLOSED_FORM)
def test_shared_reference_closed_form(name):
    c = _shared_case(name)
    r = c["result"]
    res = _fit(c, BCG)
    ours, order = _ordered(res, list(r["coef"]))
    np.testing.assert_allclose(ours.values[order], list(r["coef"].values()), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(res.bse)[order], np.atleast_1d(r["se"]), rtol=1e-10)
    assert res.llf_metafor == pytest.approx(r["logLik"], rel=1e-10)
    assert res.aic == pytest.approx(r["AIC"], rel=1e-10)
    assert res.aicc == pytest.approx(r["AICc"], rel=1e-10)
    assert 100 * res.i2 == pytest.approx(r["I2"], rel=1e-10)
    if "tau2" in r:
        assert res.tau2 == pytest.approx(r["tau2"], rel=1e-10)
        assert res.tau2_se == pytest.approx(r["se_tau2"], rel=1e-10)
        assert res.get_prediction().summary_frame()["obs_ci_lower"].iloc[0] == pytest.approx(
            r["pi_lower"], rel=1e-10)
        # metafor's default uniroot tolerance is eps^0.25 = 1.22e-4 (absolute)
        np.testing.assert_allclose(res.conf_int_tau2(), r["tau2_ci_qprofile"], rtol=0, atol=1.22e-4)


@pytest.mark.parametrize("name", ITERATIVE)
def test_shared_reference_iterative(name):
    """metafor stopped at its default threshold; our optimum is at least as good."""
    c = _shared_case(name)
    r = c["result"]
    res = _fit(c, BCG)
    if c["method"] in ("ML", "REML"):
        assert res.llf_metafor >= r["logLik"] - 1e-12
    # metafor's default stopping rule leaves tau^2 within ~1e-5 (absolute) of the root
    assert res.tau2 == pytest.approx(r["tau2"], abs=3e-5)
    ours, order = _ordered(res, list(r["coef"]))
    np.testing.assert_allclose(ours.values[order], list(r["coef"].values()), rtol=1e-3, atol=1e-5)


def test_md_example_published_numbers():
    dat = mm.datasets.load("md_example")
    es = mm.effect_size("MD", dat, m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i",
                        n2i="n2i")
    fe = mm.MetaFixed(es["yi"], es["vi"]).fit()
    dl = mm.MetaRandom(es["yi"], es["vi"]).fit(method="DL")
    assert np.round(np.asarray(fe.params)[0], 2) == -2.04
    np.testing.assert_allclose(np.round(np.asarray(fe.conf_int())[0], 2), [-2.45, -1.64])
    assert np.round(np.asarray(dl.params)[0], 2) == -1.21
    np.testing.assert_allclose(np.round(np.asarray(dl.conf_int())[0], 2), [-2.69, 0.28])


def test_fixed_zeta2():
    d = DATA["bcg"]
    res = mm.MetaFixed(d["yi"].values, d["vi"].values).fit()
    assert res.zeta2 == pytest.approx((res.q - 12) / np.sum(1 / d["vi"].values), rel=1e-12)


def test_eb_equals_pm_root():
    d = DATA["bcg"]
    m = mm.MetaRandom(d["yi"].values, d["vi"].values)
    assert m.fit(method="EB").tau2 == pytest.approx(m.fit(method="PM").tau2, rel=1e-9)
