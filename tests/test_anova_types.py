"""Type 1, 2 and 3 ANOVA tables of MixedModel against lmerTest / pbkrtest on an unbalanced
trial with factor-by-factor and covariate-by-factor interactions
(tests/reference/scripts/anova_types.R)."""
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metamodels as mm

REF = json.loads((Path(__file__).parent / "reference" / "anova_types.json").read_text())
DATA = pd.DataFrame(REF["data"])
CASES = {c["name"]: c for c in REF["cases"]}


@pytest.fixture(scope="module", params=sorted(CASES))
def fitted(request):
    case = CASES[request.param]
    formula = case["formula"].replace("drug", "C(drug)").replace("hourf", "C(hourf)")
    res = mm.MixedModel.from_formula(formula, DATA).fit()
    assert res.llf == pytest.approx(case["logLik"], rel=1e-8)
    return case, res


@pytest.mark.parametrize("ddf,key,types", [("satterthwaite", "satterthwaite", (1, 2, 3)),
                                           # pbkrtest's flavour (expected information)
                                           ("kenward-roger-expected", "kenward_roger", (2, 3))])
def test_anova_tables_equal_lmertest(fitted, ddf, key, types):
    case, res = fitted
    for tp in types:
        ref = case[key][str(tp)]
        tab = res.anova(type=tp, ddf=ddf, basis="lmertest")   # lmerTest's hypothesis rows
        tab.index = [re.sub(r"C\((\w+)\)", r"\1", t) for t in tab.index]
        assert sorted(tab.index) == sorted(ref["term"])
        for term, num, den, F in zip(ref["term"], ref["NumDF"], ref["DenDF"], ref["F"]):
            assert tab.loc[term, "num_df"] == num, (tp, term)
            assert tab.loc[term, "den_df"] == pytest.approx(den, rel=1e-5), (tp, term)
            assert tab.loc[term, "F"] == pytest.approx(F, rel=1e-6), (tp, term)


def test_types_differ_on_unbalanced_data(fitted):
    _, res = fitted
    F = {tp: res.anova(type=tp, ddf="satterthwaite")["F"] for tp in (1, 2, 3)}
    assert not np.allclose(F[1], F[2]) and not np.allclose(F[2], F[3])


def test_unknown_type_is_refused(fitted):
    _, res = fitted
    with pytest.raises(ValueError, match="type must be 1"):
        res.anova(type=4)


def test_array_input_gives_the_formula_tables():
    """Array input: statsmodels' constant column is the intercept (left out of the tables)
    and every other column is a term of its own."""
    d = mm.datasets.load("sleepstudy")
    X = np.column_stack([np.ones(len(d)), d["Days"], d["Days"] ** 2])
    arr = mm.MixedModel(d["Reaction"].to_numpy(), X, groups=d["Subject"].to_numpy()).fit()
    frm = mm.MixedModel.from_formula("Reaction ~ Days + I(Days**2) + (1 | Subject)", d).fit()
    for tp in (1, 2, 3):
        a, f = arr.anova(type=tp), frm.anova(type=tp)
        assert list(a.index) == ["x1", "x2"]
        np.testing.assert_allclose(a.to_numpy(float), f.to_numpy(float), rtol=1e-8)
