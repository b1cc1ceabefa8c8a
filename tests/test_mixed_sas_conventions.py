"""Small SAS conventions of MixedModel (issue 20, point 9): BIC's subject count and
between-within df with an unstructured R side."""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metamodels as mm

REF = json.loads((Path(__file__).parent / "reference" / "mixed_empirical.json").read_text())
DATA = pd.DataFrame(REF["data"])
FORMULA = "fev1 ~ basefev1 + C(drug) * C(hourf)"


def _fit(data, struct="UN", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mm.MixedModel.from_formula(FORMULA, data, repeated="hourf", subject="unit",
                                          cov_struct=struct, **kw).fit()


def test_bic_counts_subjects_whose_responses_are_all_missing():
    d = DATA.copy()
    gone = sorted(d["unit"].unique())[:3]
    d.loc[d["unit"].isin(gone), "fev1"] = np.nan          # 3 subjects, no response
    res = _fit(d)
    m = res.model
    assert m.n_blocks == DATA["unit"].nunique() - 3
    assert m.n_subjects_data == DATA["unit"].nunique()
    d_par = res.n_cov_params
    ll2 = -2 * res.llf
    assert res.bic == pytest.approx(ll2 + d_par * np.log(m.n_blocks), rel=1e-12)
    ic = res.information_criteria(subjects="data")
    assert ic["bic"] == pytest.approx(ll2 + d_par * np.log(m.n_subjects_data), rel=1e-12)
    assert ic["aic"] == res.aic and ic["aicc"] == res.aicc
    # the same fit without those rows at all: the data then have 3 subjects fewer
    res2 = _fit(d.dropna(subset=["fev1"]))
    assert res2.information_criteria(subjects="data")["bic"] == pytest.approx(res.bic)
    with pytest.raises(ValueError, match="subjects must be"):
        res.information_criteria(subjects="all")


def test_bic_subjects_data_needs_a_formula_model():
    sleep = mm.datasets.load("sleepstudy")
    X = np.column_stack([np.ones(len(sleep)), sleep["Days"]])
    res = mm.MixedModel(sleep["Reaction"], X, groups=sleep["Subject"]).fit()
    with pytest.raises(ValueError, match="from_formula"):
        res.information_criteria(subjects="data")


def test_between_within_unstructured_gives_every_effect_between_df():
    """SAS: with only an R side and TYPE=UN every fixed effect gets the between-subject
    df (GLIMMIX/MIXED documentation of DDFM=BETWITHIN); other structures keep the
    within-subject df of effects that change within subjects."""
    s = DATA["unit"].nunique()
    # between-subject columns: intercept, drug (2), basefev1 -> rank 4
    between = s - 4
    un = _fit(DATA, "UN").anova(3, ddf="between-within")
    assert np.all(un["den_df"] == between)
    assert np.all(_fit(DATA, "UN").df_fixed("between-within") == between)
    cs = _fit(DATA, "CS").anova(3, ddf="between-within")
    assert cs.loc["C(drug)", "den_df"] == between
    assert cs.loc["C(hourf)", "den_df"] > between
    # a random effect besides the UN R side: the basic rule again (the rule's predicate on
    # the model's covariance; fitting that model is slow)
    from metamodels.inference.ddf import _r_side_unstructured_only
    mod = mm.MixedModel.from_formula(FORMULA + " + (1 | patient)", DATA, repeated="hourf",
                                     subject="unit", cov_struct="UN")
    assert not _r_side_unstructured_only(mod.spec)
    assert _r_side_unstructured_only(_fit(DATA, "UN").model.spec)
