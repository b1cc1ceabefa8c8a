"""Row basis of the multi-df ANOVA hypotheses (issue 20, point 4).

The multi-df Satterthwaite df of Fai and Cornelius depend on the rows of ``L``; SAS's are
one row per non-aliased column of the term with the LAST level of every factor aliased,
lmerTest's the same with the FIRST level as reference.  References: lmerTest on the model
as is (``basis="lmertest"``) and with every factor's levels reversed (= SAS's rows), from
tests/reference/scripts/mixed_type3_basis.R; a hand-built SAS type-III hypothesis (cell
means) with the Fai-Cornelius combination written out for an unstructured R side.
"""
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import patsy
import pytest

import metamodels as mm
from metamodels.inference.ddf import eigen_contrast
from metamodels.mixed import inference as minf

REF = json.loads((Path(__file__).parent / "reference" / "mixed_type3_basis.json").read_text())
DATA = pd.DataFrame(REF["data"])


def _r_name(term):
    return re.sub(r"C\((\w+)\)", r"\1", term)


@pytest.fixture(scope="module")
def lmer_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = mm.MixedModel.from_formula(
            "fev1 ~ basefev1 + C(drug) * C(hourf) + (1 + hour | unit)", DATA).fit()
    assert res.llf == pytest.approx(REF["logLik"], rel=1e-9)
    return res


@pytest.mark.parametrize("basis,key,types", [("lmertest", "lmertest", (1, 2, 3)),
                                             ("sas", "sas", (3,))])
def test_anova_rows_as_lmertest_and_sas(lmer_fit, basis, key, types):
    for tp in types:
        ref = REF[key][str(tp)]
        tab = lmer_fit.anova(type=tp, ddf="satterthwaite", basis=basis)
        tab.index = [_r_name(t) for t in tab.index]
        for term, num, den, F in zip(ref["term"], ref["NumDF"], ref["DenDF"], ref["F"]):
            assert tab.loc[term, "num_df"] == num
            assert tab.loc[term, "den_df"] == pytest.approx(den, rel=1e-5), (basis, tp, term)
            assert tab.loc[term, "F"] == pytest.approx(F, rel=1e-6)


def test_bases_differ_and_default_is_sas(lmer_fit):
    sas = lmer_fit.anova(3, basis="sas")
    lmt = lmer_fit.anova(3, basis="lmertest")
    pd.testing.assert_frame_equal(lmer_fit.anova(3), sas)
    assert abs(sas.loc["C(hourf)", "den_df"] - lmt.loc["C(hourf)", "den_df"]) > 2
    np.testing.assert_allclose(sas["F"], lmt["F"], rtol=1e-10)
    # Kenward-Roger's F and df do not depend on the rows
    kr = [lmer_fit.anova(3, ddf="kenward-roger", basis=b) for b in ("sas", "lmertest")]
    pd.testing.assert_frame_equal(kr[0], kr[1], rtol=1e-9)


def test_hypothesis_rows_equal_lmertest_matrices(lmer_fit):
    names = lmer_fit.model.exog_names
    r_to_py = {}
    for n in REF["coef_names"]:
        py = n.replace("(Intercept)", "Intercept")
        py = re.sub(r"drug(\w)", r"C(drug)[T.\1]", py)
        py = re.sub(r"hourf(h\d)", r"C(hourf)[T.\1]", py)
        r_to_py[n] = names.index(py)
    order = [r_to_py[n] for n in REF["coef_names"]]
    L = minf.term_contrasts(lmer_fit.model, 3, "lmertest")
    for term, Lr in REF["L_lmertest"].items():
        Lpy = L[{"basefev1": "basefev1", "drug": "C(drug)", "hourf": "C(hourf)",
                 "drug:hourf": "C(drug):C(hourf)"}[term]]
        np.testing.assert_allclose(Lpy[:, order], np.atleast_2d(Lr), atol=1e-10)


def _fai_cornelius(res, L):
    """Fai and Cornelius (1996) written out: eigen-contrasts of L C L', their
    Satterthwaite t df, E = sum nu/(nu - 2), ddf = 2E / (E - q)."""
    ec = eigen_contrast(L, np.asarray(res.params), res.ddf_method("satterthwaite").cov())
    nu = res.ddf_method("satterthwaite").t_df(ec.rows)
    E = np.sum(nu / (nu - 2))
    return 2 * E / (E - len(nu))


def test_sas_type3_rows_by_hand_unstructured():
    """SAS's type-III estimable functions of drug*hour with a covariate, written from their
    definition on the cell means mu(d, h) (covariate at 0): hour k: mean over drugs of
    mu(d, k) - mu(d, last); drug d: mean over hours of mu(d, h) - mu(last, h);
    interaction (d, k): mu(d, k) - mu(d, last) - mu(last, k) + mu(last, last)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = mm.MixedModel.from_formula("fev1 ~ basefev1 + C(drug) * C(hourf)", DATA,
                                         repeated="hourf", subject="unit",
                                         cov_struct="UN").fit()
    drugs, hours = sorted(DATA["drug"].unique()), sorted(DATA["hourf"].unique())
    grid = pd.DataFrame([(d, h, 0.0) for d in drugs for h in hours],
                        columns=["drug", "hourf", "basefev1"])
    Xg = np.asarray(patsy.build_design_matrices([res.model.design_info], grid)[0])
    mu = {(d, h): Xg[i] for i, (d, h) in enumerate(zip(grid["drug"], grid["hourf"]))}
    D, H = drugs[-1], hours[-1]
    hand = {
        "C(hourf)": np.array([np.mean([mu[d, h] - mu[d, H] for d in drugs], axis=0)
                              for h in hours[:-1]]),
        "C(drug)": np.array([np.mean([mu[d, h] - mu[D, h] for h in hours], axis=0)
                             for d in drugs[:-1]]),
        "C(drug):C(hourf)": np.array([mu[d, h] - mu[d, H] - mu[D, h] + mu[D, H]
                                      for d in drugs[:-1] for h in hours[:-1]]),
    }
    tab = res.anova(3, ddf="satterthwaite")
    ours = minf.term_contrasts(res.model, 3, "sas")
    for term, L in hand.items():
        # the same rows up to their order
        np.testing.assert_allclose(np.sort(ours[term], axis=0), np.sort(L, axis=0),
                                   atol=1e-10)
        assert tab.loc[term, "den_df"] == pytest.approx(_fai_cornelius(res, L), rel=1e-10)
    # the unstructured R side makes the choice matter
    lmt = res.anova(3, basis="lmertest")
    assert abs(lmt.loc["C(hourf)", "den_df"] - tab.loc["C(hourf)", "den_df"]) > 0.1


def test_unknown_basis_is_refused(lmer_fit):
    with pytest.raises(ValueError, match="basis must be one of"):
        lmer_fit.anova(3, basis="sum")
