"""One ddf for every test of a MixedModel fit: t_test, f_test (1-, 2- and rank-deficient
3-row contrasts, with a right-hand side), wald_test, conf_int, pvalues, summary and anova
agree with each other and with lmerTest / pbkrtest (tests/reference/scripts/mixed_ddf.R)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import metamodels as mm
from metamodels.inference.ddf import fstat_ddf

REF = json.loads((Path(__file__).parent / "reference" / "mixed_ddf.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}
FORMULAS = {"sleepstudy": "Reaction ~ Days + (Days | Subject)",
            "unbalanced": "fev ~ baseval + C(drug) + hour + (1 + hour | patient)"}
R_NAMES = {"(Intercept)": "Intercept", "drugc": "C(drug)[T.c]", "drugp": "C(drug)[T.p]"}
# lmerTest's Kenward-Roger is pbkrtest's: W the inverse expected information
DDFS = {"satterthwaite": "satterthwaite", "kenward_roger": "kenward-roger-expected"}


@pytest.fixture(scope="module", params=sorted(CASES))
def fitted(request):
    case = CASES[request.param]
    data = pd.DataFrame(REF["data"][case["name"]])
    res = mm.MixedModel.from_formula(FORMULAS[case["name"]], data).fit()
    assert res.llf == pytest.approx(case["logLik"], rel=1e-9)
    order = [list(res.params.index).index(R_NAMES.get(n, n)) for n in case["coef_names"]]
    np.testing.assert_allclose(res.params.to_numpy()[order], case["beta"], rtol=1e-6)
    return case, res, order


def _python_L(L_r, order, p):
    L = np.zeros((len(L_r), p))
    L[:, order] = np.asarray(L_r, dtype=float)
    return L


@pytest.mark.parametrize("key", sorted(DDFS))
def test_f_test_equals_lmertest_contestmd(fitted, key):
    case, res, order = fitted
    for test in case["tests"]:
        L = _python_L(test["L"], order, len(order))
        ref = test[key]
        ft = res.f_test((L, np.atleast_1d(test["rhs"])), ddf=DDFS[key])
        assert int(ft.df_num) == ref["NumDF"]
        assert float(ft.df_denom) == pytest.approx(ref["DenDF"], rel=1e-5)
        assert float(ft.fvalue) == pytest.approx(ref["F"], rel=1e-6)
        assert float(ft.pvalue) == pytest.approx(ref["p"], rel=1e-5, abs=1e-300)
        wt = res.wald_test(L, q_matrix=test["rhs"], ddf=DDFS[key])
        assert float(wt.fvalue) == pytest.approx(float(ft.fvalue), rel=1e-12)
        assert float(wt.df_denom) == pytest.approx(float(ft.df_denom), rel=1e-12)


@pytest.mark.parametrize("key", sorted(DDFS))
def test_t_test_equals_lmertest_contest1d(fitted, key):
    case, res, order = fitted
    for test in case["tests"]:
        if "t" not in test[key]:
            continue
        ref = test[key]["t"]
        L = _python_L(test["L"], order, len(order))
        tt = res.t_test((L, np.atleast_1d(test["rhs"])), ddf=DDFS[key])
        assert float(np.squeeze(tt.sd)) == pytest.approx(ref["se"], rel=1e-5)
        assert float(np.squeeze(tt.df_denom)) == pytest.approx(ref["df"], rel=1e-5)
        assert float(np.squeeze(tt.tvalue)) == pytest.approx(ref["t"], rel=1e-6)
        assert float(np.squeeze(tt.pvalue)) == pytest.approx(ref["p"], rel=1e-5)
        lo, hi = np.squeeze(tt.conf_int()) + test["rhs"]        # CI of L b itself
        assert lo == pytest.approx(ref["lower"], rel=1e-6)
        assert hi == pytest.approx(ref["upper"], rel=1e-6)


@pytest.mark.parametrize("key", sorted(DDFS))
@pytest.mark.parametrize("level", [0.95, 0.9])
def test_conf_int_equals_lmertest(fitted, key, level):
    case, res, order = fitted
    ref = case["conf_int"][f"{key}_{level:g}"]
    ci = np.asarray(res.conf_int(alpha=1 - level, ddf=DDFS[key]))[order]
    np.testing.assert_allclose(ci[:, 0], ref["lower"], rtol=1e-6)
    np.testing.assert_allclose(ci[:, 1], ref["upper"], rtol=1e-6)


def test_every_test_on_one_results_uses_the_same_ddf():
    """Issue 12 point 4: sleepstudy "Days = 0" gave df 178 in f_test/wald_test and 17 in
    t_test/pvalues/summary.  Now all agree, and fit(ddf=) moves them together."""
    d = mm.datasets.load("sleepstudy")
    for ddf in mm.mixed.results.DDF_METHODS:
        r = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", d).fit(ddf=ddf)
        assert r.default_ddf == ddf
        tt = r.t_test("Days = 0")
        ft = r.f_test("Days = 0")
        wt = r.wald_test("Days = 0")
        df_t = float(np.squeeze(tt.df_denom))
        assert float(ft.df_denom) == pytest.approx(df_t, rel=1e-10)
        assert float(wt.df_denom) == pytest.approx(df_t, rel=1e-10)
        assert float(r.df_fixed()["Days"]) == pytest.approx(df_t, rel=1e-10)
        p_t = float(np.squeeze(tt.pvalue))
        assert float(ft.pvalue) == pytest.approx(p_t, rel=1e-8)
        assert np.asarray(r.pvalues)[1] == pytest.approx(p_t, rel=1e-8)
        assert float(r.bse.iloc[1]) == pytest.approx(float(np.squeeze(tt.sd)), rel=1e-12)
        q = stats.t.ppf(0.975, df_t)
        assert np.asarray(r.conf_int())[1, 1] == pytest.approx(
            r.params.iloc[1] + q * float(np.squeeze(tt.sd)), rel=1e-10)
        assert ddf in str(r.summary())
        assert r.anova().loc["Days", "den_df"] == pytest.approx(df_t, rel=1e-8)
    sat = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", d).fit()
    assert float(sat.f_test("Days = 0").df_denom) == pytest.approx(17.0, rel=1e-6)


def test_per_call_ddf_overrides_the_fit_default(fitted):
    _, res, _ = fitted
    name = res.params.index[-1]
    a = res.f_test(f"{name} = 0", ddf="residual")
    assert float(a.df_denom) == res.model.nobs - res.model.rank
    b = res.f_test(f"{name} = 0")
    assert float(b.df_denom) == pytest.approx(float(res.df_fixed()[name]), rel=1e-8)


def test_chi2_form_of_wald_test(fitted):
    case, res, order = fitted
    test = case["tests"][2]
    L = _python_L(test["L"], order, len(order))
    for ddf in DDFS.values():
        wt = res.wald_test((L, np.atleast_1d(test["rhs"])), use_f=False, ddf=ddf)
        q = int(wt.df_denom)
        assert q == 2
        d = L @ res.params.to_numpy() - np.asarray(test["rhs"])
        C = np.asarray(res._cov_for(ddf))
        chi2 = float(d @ np.linalg.solve(L @ C @ L.T, d))
        assert float(wt.statistic) == pytest.approx(chi2, rel=1e-8)
        assert float(wt.pvalue) == pytest.approx(stats.chi2.sf(chi2, 2), rel=1e-8)


def test_kenward_roger_default_gives_adjusted_standard_errors(fitted):
    case, res, _ = fitted
    data = pd.DataFrame(REF["data"][case["name"]])
    for flavour in ("KR", "kenward-roger-expected", "kenward-roger-linear"):
        kr = mm.MixedModel.from_formula(FORMULAS[case["name"]], data).fit(ddf=flavour)
        C_adj = res.kenward_roger_parts(flavour)[0]
        np.testing.assert_allclose(kr.bse.to_numpy(), np.sqrt(np.diag(C_adj)), rtol=1e-12)
        np.testing.assert_allclose(kr.pvalues, res.coef_table(ddf=flavour)["P>|t|"],
                                   rtol=1e-12)


def test_fstat_ddf_rule_of_lmertest():
    assert fstat_ddf([7.5]) == 7.5
    assert fstat_ddf([10.0, 10.0 + 1e-10]) == pytest.approx(10.0)
    assert fstat_ddf([1.5, 30.0]) == 2.0
    nu = np.array([5.0, 30.0])
    E = np.sum(nu / (nu - 2))
    assert fstat_ddf(nu) == pytest.approx(2 * E / (E - 2))


def test_bad_hypotheses_are_refused(fitted):
    _, res, _ = fitted
    with pytest.raises(ValueError, match="unknown ddf"):
        res.f_test(np.eye(len(res.params))[:1], ddf="wrong")
    with pytest.raises(ValueError, match="columns"):
        res.f_test(np.ones((1, 99)))
    with pytest.raises(ValueError, match="cannot parse"):
        res.t_test("nonexistent = 0")
    with pytest.raises(ValueError, match="cov_p not supported.*ddf"):
        res.f_test(np.eye(len(res.params))[:1], cov_p=np.eye(len(res.params)))
    with pytest.raises(ValueError, match="unknown ddf"):
        mm.MixedModel.from_formula(FORMULAS["sleepstudy"], mm.datasets.load("sleepstudy")).fit(
            ddf="lme4")


def test_mixed_results_do_not_import_fitting():
    """Issue 13: no import circle between mixed/fitting.py and mixed/results.py."""
    import ast
    import metamodels.mixed.results as mr
    tree = ast.parse(Path(mr.__file__).read_text())
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "fitting" not in mods and not any(m and m.endswith("mixed.fitting") for m in mods)


def test_string_hypotheses_on_factor_coefficients_equal_the_matrix_form():
    case = CASES["unbalanced"]
    data = pd.DataFrame(REF["data"]["unbalanced"])
    res = mm.MixedModel.from_formula(FORMULAS["unbalanced"], data).fit()
    ref = case["tests"][2]["satterthwaite"]                  # drugc = 0, drugp = 0
    ft = res.f_test("C(drug)[T.c] = 0, C(drug)[T.p] = 0")
    assert float(ft.fvalue) == pytest.approx(ref["F"], rel=1e-6)
    assert float(ft.df_denom) == pytest.approx(ref["DenDF"], rel=1e-5)
    assert res.anova(type=3).loc["C(drug)", "F"] == pytest.approx(ref["F"], rel=1e-6)


def test_ddf_table_of_term_methods_and_refusal_of_the_others():
    """ddf_table gives {term: (df, columns)} for containment and between-within and a
    clear ValueError (not an AttributeError) for the methods without a term table."""
    orth = mm.datasets.load("orthodont")
    res = mm.MixedModel.from_formula("distance ~ age * Sex + (1 | Subject)", orth).fit()
    for method in ("containment", "contain", "between-within"):
        tab = res.ddf_table(method)
        assert set(tab) == {"Intercept", "Sex", "age", "age:Sex"}
        assert all(np.isfinite(df) and df > 0 for df, _ in tab.values())
        assert sorted(c for _, cols in tab.values() for c in cols) == [0, 1, 2, 3]
    for method in ("satterthwaite", "kenward-roger", "residual"):
        with pytest.raises(ValueError, match="per-term"):
            res.ddf_table(method)
