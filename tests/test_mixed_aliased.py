"""Rank-deficient designs kept with aliased columns (issue 20, point 9; accept_singular=True)
against lme4/lmerTest, which drop the same columns (tests/reference/scripts/mixed_aliased.R),
and against the fit of the design without them."""
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metamodels as mm
from metamodels.exceptions import MetaModelsWarning, SpecificationError

REF = json.loads((Path(__file__).parent / "reference" / "mixed_aliased.json").read_text())
DATA = pd.DataFrame(REF["data"])
FORMULA = "fev1 ~ basefev1 + base2 + C(drug) * C(hourf) + (1 | unit)"


def _py(name):
    name = name.replace("(Intercept)", "Intercept")
    name = re.sub(r"drug(\w)", r"C(drug)[T.\1]", name)
    return re.sub(r"hourf(h\d)", r"C(hourf)[T.\1]", name)


@pytest.fixture(scope="module")
def fitted():
    return mm.MixedModel.from_formula(FORMULA, DATA, accept_singular=True).fit()


def test_refused_unless_accepted():
    with pytest.raises(SpecificationError, match="accept_singular=True"):
        mm.MixedModel.from_formula(FORMULA, DATA)


def test_equal_lme4_which_drops_the_same_columns(fitted):
    res = fitted
    assert res.llf == pytest.approx(REF["logLik"], rel=1e-10)
    assert sorted(res.model.aliased_names) == sorted(_py(n) for n in REF["dropped"])
    assert res.model.rank == 12 and res.df_resid == res.nobs - 12
    names = [_py(n) for n in REF["coef_names"]]
    np.testing.assert_allclose(res.params[names], REF["beta"], rtol=1e-6)
    np.testing.assert_allclose(res.bse[names], REF["se"], rtol=1e-5)
    np.testing.assert_allclose(res.df_fixed()[names], REF["df"], rtol=1e-5)
    aliased = res.model.aliased_names
    assert res.params[aliased].isna().all() and res.bse[aliased].isna().all()
    assert res.coef_table().loc[aliased].isna().all().all()
    assert "Not estimable (aliased)" in str(res.summary())


def test_type1_anova_equals_lmertest(fitted):
    ref = REF["anova1"]
    tab = fitted.anova(1, basis="lmertest")
    tab.index = [re.sub(r"C\((\w+)\)", r"\1", t) for t in tab.index]
    for term, num, den, F in zip(ref["term"], ref["NumDF"], ref["DenDF"], ref["F"]):
        if num is None:                          # lmerTest lists the aliased base2 as NA
            assert term not in tab.index
            continue
        assert tab.loc[term, "num_df"] == num
        assert tab.loc[term, "den_df"] == pytest.approx(den, rel=1e-5)
        assert tab.loc[term, "F"] == pytest.approx(F, rel=1e-6)
    with pytest.raises(NotImplementedError, match="aliased columns"):
        fitted.anova(3)
    # SAS's row basis needs the re-coded design, not available with aliased columns
    with pytest.warns(MetaModelsWarning, match="aliased columns"):
        fitted.anova(1)


def test_same_as_the_fit_without_the_aliased_columns(fitted):
    res = fitted
    m = res.model
    keep = ~m.aliased
    red = mm.MixedModel(m.endog, m.exog[:, keep], groups=DATA["unit"]).fit()
    assert red.llf == pytest.approx(res.llf, rel=1e-10)
    np.testing.assert_allclose(res.params.to_numpy()[keep], red.params, rtol=1e-7)
    np.testing.assert_allclose(np.asarray(res.cov_params())[np.ix_(keep, keep)],
                               red.cov_params(), rtol=1e-6)
    for ct in ("empirical", "empirical-bias-reduced"):
        a = res.get_robustcov_results(ct).cov_params().to_numpy()[np.ix_(keep, keep)]
        np.testing.assert_allclose(a, red.get_robustcov_results(ct).cov_params(), rtol=1e-6)
    kr = res.coef_table(ddf="kenward-roger").to_numpy()[keep]
    np.testing.assert_allclose(kr, red.coef_table(ddf="kenward-roger").to_numpy(), rtol=1e-5)
    # predictions: SAS's g2 solution
    np.testing.assert_allclose(res.predict(), red.predict(), rtol=1e-9)


def test_estimable_contrasts_work_and_others_raise(fitted):
    res = fitted
    # base2 = 2 basefev1 - 1: the slope on basefev1 is b_basefev1 + 2 b_base2, estimable
    t = res.t_test("basefev1 + 2 * base2 = 0")
    assert float(t.effect[0]) == pytest.approx(res.params["basefev1"], rel=1e-10)
    assert float(t.sd[0]) == pytest.approx(res.bse["basefev1"], rel=1e-10)
    f = res.f_test("C(drug)[T.c] = 0, C(drug)[T.p] = 0")
    assert int(f.df_num) == 2 and np.isfinite(float(f.fvalue))
    with pytest.raises(ValueError, match="not estimable"):
        res.t_test("C(drug)[T.p]:C(hourf)[T.h4] = 0")
    with pytest.raises(ValueError, match="not estimable"):
        res.wald_test("basefev1 = 0", use_f=False)


def test_bayes_refuses_aliased_designs(fitted):
    with pytest.raises(NotImplementedError, match="full-rank"):
        fitted.model.fit_bayes(draws=10)
