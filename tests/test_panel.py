"""metamodels.panel against plm (and lme4), the Hausman test, comparison tables, bad input.

* ``panel_grunfeld.json`` (shared reference, plm 2.6.2): within and Swamy-Arora random effects
  on Grunfeld and ``phtest``; reproduced to 1e-6 (in fact ~1e-12).
* ``panel_extra.json`` (``scripts/panel_extra.R``): balanced and unbalanced Grunfeld with
  every estimator -- coefficients, SEs, df, plm's R^2, Stata-style within/between/overall
  R^2, cluster-robust SEs (HC0, HC1, sss; by entity and time), variance components, theta,
  fixef -- and lme4 fits of the random-intercept model for ``re_method="ml"/"reml"``.
"""
import json
import warnings
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import metamodels as mm
from metamodels.exceptions import BoundaryWarning, MissingDataWarning, SpecificationError
from metamodels.panel import EFFECTS, HausmanTestResult, PanelModel, compare, hausman

REF = Path(__file__).parent / "reference"
SHARED = json.loads((REF / "panel_grunfeld.json").read_text())
EXTRA = json.loads((REF / "panel_extra.json").read_text())
CASES = {c["name"]: c for c in EXTRA["cases"]}
FORMULA = "inv ~ value + capital"
EFFECT_OF = {("within", "individual"): "fixed", ("within", "twoways"): "twoway",
             ("random", "individual"): "random", ("between", "individual"): "between",
             ("pooling", "individual"): "pooled", ("fd", "individual"): "first-difference"}
TIGHT = 1e-8


def _with_derived(df):
    df = df.copy()
    df["size"] = df.groupby("firm")["value"].transform("mean")
    df["trend"] = df["year"] - 1935.0
    return df


def _unbalanced(df):
    drop = {(d["firm"], d["year"]) for d in EXTRA["dropped"]}
    keep = [(f, y) not in drop for f, y in zip(df["firm"], df["year"])]
    return df.loc[keep]


@pytest.fixture(scope="module")
def grunfeld(grunfeld):
    """conftest's Grunfeld panel with the derived columns size and trend."""
    return _with_derived(grunfeld)


@pytest.fixture(scope="module")
def model(grunfeld):
    return PanelModel.from_formula(FORMULA, data=grunfeld, entity="firm", time="year")


@pytest.fixture(scope="module")
def umodel(grunfeld):
    return PanelModel.from_formula(FORMULA, data=_unbalanced(grunfeld), entity="firm",
                                   time="year")


def _model_for(case, grunfeld):
    data = grunfeld if case["dataset"] == "balanced" else _unbalanced(grunfeld)
    formula = case.get("formula", FORMULA)
    return PanelModel.from_formula(formula, data=data, entity="firm", time="year")


# --------------------------------------------------------------- reference data
def test_bundled_grunfeld_is_the_reference_data(grunfeld):
    ref = pd.DataFrame(SHARED["data"])
    ours = grunfeld[ref.columns]
    assert list(ref.columns) == ["firm", "year", "inv", "value", "capital"]
    assert ours.shape == ref.shape == (200, 5)
    np.testing.assert_array_equal(ours.to_numpy(), ref.to_numpy())
    assert len(_unbalanced(grunfeld)) == 186


# ------------------------------------------------- shared reference (plm), 1e-6
def test_shared_reference_fixed_effects(model):
    case = next(c for c in SHARED["cases"] if c["name"] == "grunfeld_fe")
    fe = model.fit(effects="fixed")
    assert list(fe.params.index) == ["value", "capital"]
    np.testing.assert_allclose(fe.params, case["coef"], rtol=1e-6)
    np.testing.assert_allclose(fe.bse, case["se"], rtol=1e-6)
    np.testing.assert_allclose(fe.params, case["coef"], rtol=TIGHT)
    np.testing.assert_allclose(fe.bse, case["se"], rtol=TIGHT)


def test_shared_reference_random_effects(model):
    case = next(c for c in SHARED["cases"] if c["name"] == "grunfeld_re")
    re = model.fit(effects="random")
    assert re.re_method == "swar"
    assert list(re.params.index) == ["Intercept", "value", "capital"]
    np.testing.assert_allclose(re.params, case["coef"], rtol=TIGHT)
    np.testing.assert_allclose(re.bse, case["se"], rtol=TIGHT)
    assert re.sigma2_idiosyncratic == pytest.approx(case["sigma2_idios"], rel=TIGHT)
    assert re.sigma2_entity == pytest.approx(case["sigma2_id"], rel=TIGHT)
    assert isinstance(re.theta, float)
    assert re.theta == pytest.approx(case["theta"], rel=TIGHT)


def test_shared_reference_hausman(model):
    case = next(c for c in SHARED["cases"] if c["name"] == "grunfeld_hausman")
    h = hausman(model.fit(effects="fixed"), model.fit(effects="random"))
    assert h.statistic == pytest.approx(case["statistic"], rel=TIGHT)
    assert h.df == case["df"]
    assert h.pvalue == pytest.approx(case["pval"], rel=TIGHT)


# ------------------------------------------------------- extra plm cases
PLM_CASES = [c for c in EXTRA["cases"] if "effect" in c]


@pytest.mark.parametrize("case", PLM_CASES, ids=[c["name"] for c in PLM_CASES])
def test_against_plm(case, grunfeld):
    m = _model_for(case, grunfeld)
    effects = EFFECT_OF[(case["model"], case["effect"])]
    res = m.fit(effects=effects)
    names = [n.replace("(Intercept)", "Intercept") for n in case["names"]]
    assert list(res.params.index) == names
    np.testing.assert_allclose(res.params, case["coef"], rtol=TIGHT)
    np.testing.assert_allclose(res.bse, case["se"], rtol=TIGHT)
    assert res.df_resid == case["df_resid"]
    assert res.nobs == case["nobs"]
    assert res.rsquared == pytest.approx(case["rsquared"], rel=TIGHT)
    assert res.rsquared_adj == pytest.approx(case["rsquared_adj"], rel=TIGHT)
    r2 = case["stata_r2"]
    assert res.rsquared_within == pytest.approx(r2["within"], rel=TIGHT)
    assert res.rsquared_between == pytest.approx(r2["between"], rel=TIGHT)
    assert res.rsquared_overall == pytest.approx(r2["overall"], rel=TIGHT)
    if "sigma2" in case:
        assert res.sigma2_idiosyncratic == pytest.approx(case["sigma2"], rel=TIGHT)
    if "fixef" in case:
        np.testing.assert_allclose(res.fixed_effects(), case["fixef"], rtol=1e-8, atol=1e-8)
    if effects == "random":
        assert res.sigma2_idiosyncratic == pytest.approx(case["sigma2_idios"], rel=TIGHT)
        assert res.sigma2_entity == pytest.approx(case["sigma2_id"], rel=TIGHT)
        np.testing.assert_allclose(np.atleast_1d(res.theta), case["theta"], rtol=TIGHT)


CLUSTER_CASES = [c for c in PLM_CASES if "se_cluster_HC1" in c]


@pytest.mark.parametrize("case", CLUSTER_CASES, ids=[c["name"] for c in CLUSTER_CASES])
def test_cluster_robust_against_plm_vcovHC(case, grunfeld):
    m = _model_for(case, grunfeld)
    effects = EFFECT_OF[(case["model"], case["effect"])]
    for corr in ("HC0", "sss"):
        r = m.fit(effects=effects, cov_type="cluster", cov_kwds={"correction": corr})
        np.testing.assert_allclose(r.bse, case[f"se_cluster_{corr}"], rtol=TIGHT)
    r = m.fit(effects=effects, cov_type="cluster")          # default: entity, HC1
    assert r.cov_type == "cluster" and r.n_clusters == 10
    rt = m.fit(effects=effects, cov_type="cluster", cov_kwds={"cluster": "time"})
    if effects != "first-difference":
        np.testing.assert_allclose(r.bse, case["se_cluster_HC1"], rtol=TIGHT)
        np.testing.assert_allclose(rt.bse, case["se_cluster_time_HC1"], rtol=TIGHT)
    else:
        # plm's HC1 for first differences divides by the number of observations in levels
        # minus k; metamodels uses the differenced count (documented in docs/panel.md)
        k = len(case["coef"])
        n_fd, n_lev = case["nobs"], case["nobs"] + 10
        fac = np.sqrt((n_lev - k) / (n_fd - k))
        np.testing.assert_allclose(r.bse, np.asarray(case["se_cluster_HC1"]) * fac, rtol=TIGHT)
        np.testing.assert_allclose(rt.bse, np.asarray(case["se_cluster_time_HC1"]) * fac,
                                   rtol=TIGHT)
    # the inference uses the robust covariance
    np.testing.assert_allclose(r.tvalues, np.asarray(r.params) / np.asarray(r.bse))
    assert "cluster" in str(r.summary())


@pytest.mark.parametrize("name", ["bal_ml", "bal_reml", "unb_reml"])
def test_likelihood_random_effects_against_lme4(name, grunfeld):
    case = CASES[name]
    m = _model_for(case, grunfeld)
    res = m.fit(effects="random", method=case["re_method"])
    np.testing.assert_allclose(res.params, case["coef"], rtol=1e-6)
    np.testing.assert_allclose(res.bse, case["se"], rtol=1e-6)
    assert res.sigma2_entity == pytest.approx(case["sigma2_id"], rel=1e-6)
    assert res.sigma2_idiosyncratic == pytest.approx(case["sigma2_idios"], rel=1e-6)
    assert res.llf == pytest.approx(case["logLik"], abs=1e-6)
    assert not res.use_t


def test_ml_random_effects_is_the_mixed_model(model, grunfeld):
    res = model.fit(effects="random", method="REML")
    mixed = mm.MixedModel.from_formula("inv ~ value + capital + (1 | firm)", grunfeld).fit()
    np.testing.assert_allclose(res.params, mixed.params, rtol=1e-10)
    np.testing.assert_allclose(res.bse, np.sqrt(np.diag(mixed.cov_params())), rtol=1e-10)
    assert res.sigma2_idiosyncratic == pytest.approx(mixed.scale, rel=1e-10)
    assert res.mixed_results is not None
    th = 1 - np.sqrt(res.sigma2_idiosyncratic / (20 * res.sigma2_entity
                                                 + res.sigma2_idiosyncratic))
    assert res.theta == pytest.approx(th)
    # GLS = OLS on the quasi-demeaned data: those residuals are orthogonal to the design
    np.testing.assert_allclose(res._fit.design.T @ res._fit.resid, 0, atol=1e-6)


@pytest.mark.parametrize("name", ["bal_hausman", "unb_hausman"])
def test_hausman_against_phtest(name, grunfeld):
    case = CASES[name]
    m = _model_for(case, grunfeld)
    h = hausman(m.fit(effects="fixed"), m.fit(effects="random"))
    assert h.statistic == pytest.approx(case["statistic"], rel=TIGHT)
    assert h.df == case["df"]
    assert h.pvalue == pytest.approx(case["pval"], rel=TIGHT)


# ----------------------------------------------------------------- unbalanced
def test_unbalanced_theta_per_entity(umodel):
    re = umodel.fit(effects="random")
    assert isinstance(re.theta, pd.Series)
    assert list(re.theta.index) == list(range(1, 11)) and re.theta.index.name == "firm"
    Ti = umodel.entity_sizes
    expected = 1 - np.sqrt(re.sigma2_idiosyncratic / (Ti * re.sigma2_entity
                                                       + re.sigma2_idiosyncratic))
    np.testing.assert_allclose(re.theta, expected)
    assert not umodel.balanced and umodel.n_periods == 20
    assert "theta (min/med/max)" in str(re.summary())


def test_unbalanced_twoway_equals_dummy_regression(grunfeld):
    u = _unbalanced(grunfeld)
    tw = PanelModel.from_formula(FORMULA, u, entity="firm", time="year").fit(effects="twoway")
    lsdv = smf.ols("inv ~ value + capital + C(firm) + C(year)", u).fit()
    np.testing.assert_allclose(tw.params, lsdv.params[["value", "capital"]], rtol=1e-9)
    np.testing.assert_allclose(tw.bse, lsdv.bse[["value", "capital"]], rtol=1e-9)
    assert tw.df_resid == lsdv.df_resid


def test_first_difference_uses_time_order_not_row_order(grunfeld):
    u = _unbalanced(grunfeld)
    shuffled = u.sample(frac=1.0, random_state=3)
    a = PanelModel.from_formula(FORMULA, u, entity="firm", time="year").fit(effects="fd")
    b = PanelModel.from_formula(FORMULA, shuffled, entity="firm", time="year").fit(effects="fd")
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12)
    for eff in EFFECTS:
        ra = PanelModel.from_formula(FORMULA, u, entity="firm", time="year").fit(effects=eff)
        rb = PanelModel.from_formula(FORMULA, shuffled, entity="firm",
                                     time="year").fit(effects=eff)
        np.testing.assert_allclose(ra.params, rb.params, rtol=1e-10)


# ------------------------------------------------------------------------ API
def test_effect_aliases_and_labels(model):
    for alias, canon in [("within", "fixed"), ("twoways", "twoway"), ("pooling", "pooled"),
                         ("fd", "first-difference"), ("RE", "random")]:
        assert model.fit(effects=alias).effects == canon
    fe = model.fit()
    assert fe.effects == "fixed"
    assert list(fe.bse.index) == list(fe.tvalues.index) == ["value", "capital"]
    assert list(fe.conf_int().index) == ["value", "capital"]
    assert list(fe.cov_params().columns) == ["value", "capital"]
    # the labels of one fit do not leak into the model or into other fits
    assert list(model.exog_names) == ["Intercept", "value", "capital"]
    assert list(fe.model.fit(effects="random").params.index) == ["Intercept", "value", "capital"]
    assert fe.use_t and fe.df_model == 2


def test_statsmodels_inference_tools(model):
    fe = model.fit()
    tt = fe.t_test("value = capital")
    assert float(np.squeeze(tt.effect)) == pytest.approx(fe.params["value"] - fe.params["capital"])
    w = fe.wald_test("value = 0, capital = 0", scalar=True)
    assert w.df_num == 2 and w.pvalue < 1e-10


def test_residuals_and_fitted(model):
    fe, be, fd = model.fit(), model.fit(effects="between"), model.fit(effects="fd")
    assert fe.resid.shape == (200,)
    np.testing.assert_allclose(fe.resid + fe.fittedvalues, fe._fit.yt)
    assert be.resid.shape == (10,) and be.resid.index.name == "firm"
    assert fd.resid.shape == (190,) and fd.nobs == 190
    fx = fe.fixed_effects()
    assert fx.shape == (10,) and fx.index.name == "firm"
    with pytest.raises(ValueError, match="effects='fixed' only"):
        be.fixed_effects()


def test_summary_contents(model):
    s = str(model.fit(effects="random").summary())
    for text in ("Random effects", "Swamy-Arora", "R-sq. within", "R-sq. between",
                 "R-sq. overall", "sigma2 entity", "theta", "Intercept", "P>|z|"):
        assert text in s
    s = str(model.fit().summary())
    assert "Within" in s and "P>|t|" in s and "sigma2 entity" not in s


def test_hausman_result_object(model):
    fe, re = model.fit(), model.fit(effects="random")
    h = hausman(fe, re)
    assert isinstance(h, HausmanTestResult)
    assert h.coef_names == ("value", "capital")
    with pytest.raises(FrozenInstanceError):
        h.statistic = 0.0
    text = str(h)
    assert "chi2(2) = 2.3304" in text and "not rejected" in text
    assert "rejected at 0.5" in h.conclusion(alpha=0.5)
    h2 = hausman(re, fe)                           # either order
    assert h2.statistic == pytest.approx(h.statistic, rel=1e-12)
    h3 = hausman(fe, model.fit(effects="random", method="REML"))
    assert h3.df == 2 and 0 < h3.pvalue < 1


def test_hausman_by_hand(model):
    fe, re = model.fit(), model.fit(effects="random")
    d = fe.params - re.params[["value", "capital"]]
    V = fe.cov_params() - re.cov_params().loc[["value", "capital"], ["value", "capital"]]
    assert hausman(fe, re).statistic == pytest.approx(float(d @ np.linalg.solve(V, d)))


def test_compare_table(model, grunfeld):
    fe, re = model.fit(), model.fit(effects="random")
    be = model.fit(effects="between")
    cmp = compare({"FE": fe, "RE": re, "BE": be})
    assert list(cmp.params.columns) == ["FE", "RE", "BE"]
    assert list(cmp.params.index) == ["Intercept", "value", "capital"]
    assert np.isnan(cmp.params.loc["Intercept", "FE"])
    assert cmp.params.loc["value", "RE"] == pytest.approx(re.params["value"])
    assert cmp.bse.loc["capital", "FE"] == pytest.approx(fe.bse["capital"])
    text = str(cmp.summary())
    assert "(0.0119)" in text and "0.1101***" in text and "-57.8344**" in text
    assert "R-squared" in text and "R-sq. within" in text and "200" in text
    assert "* p<0.1" in text
    frame = cmp.summary_frame(stars=False)
    assert frame.loc["N", "BE"] == "10" and "*" not in frame.loc["value", "FE"]
    ols = smf.ols(FORMULA, grunfeld).fit()           # other statsmodels results work too
    mixed = compare([fe, ols])
    assert list(mixed.params.columns) == ["Model 1", "Model 2"]
    assert mixed.params.loc["value", "Model 2"] == pytest.approx(ols.params["value"])


def test_array_interface_and_time_default(grunfeld):
    X = np.column_stack([np.ones(200), grunfeld["value"], grunfeld["capital"]])
    m = PanelModel(grunfeld["inv"].to_numpy(), X, entity=grunfeld["firm"].to_numpy(),
                   time=grunfeld["year"].to_numpy())
    ref = PanelModel.from_formula(FORMULA, grunfeld, entity="firm", time="year")
    for eff in EFFECTS:
        np.testing.assert_allclose(m.fit(effects=eff).params, ref.fit(effects=eff).params,
                                   rtol=1e-12)
    # without time=, rows of an entity are consecutive periods in the order given
    m2 = PanelModel.from_formula(FORMULA, grunfeld, entity="firm")
    np.testing.assert_allclose(m2.fit(effects="fd").params, ref.fit(effects="fd").params)
    # string entity labels
    g = grunfeld.assign(firm="F" + grunfeld["firm"].astype(str).str.zfill(2))
    re = PanelModel.from_formula(FORMULA, g, entity="firm", time="year").fit(effects="random")
    np.testing.assert_allclose(re.params, ref.fit(effects="random").params, rtol=1e-12)


def test_time_invariant_regressor_is_fine_in_random_effects(grunfeld):
    for name in ("bal_random_size", "bal_random_trend"):
        case = CASES[name]
        res = _model_for(case, grunfeld).fit(effects="random")
        np.testing.assert_allclose(res.params, case["coef"], rtol=TIGHT)
        np.testing.assert_allclose(res.bse, case["se"], rtol=TIGHT)
        assert res.sigma2_entity == pytest.approx(case["sigma2_id"], rel=TIGHT)


def test_negative_swamy_arora_variance_is_truncated():
    rng = np.random.default_rng(1)
    N, T = 8, 5
    ent = np.repeat(np.arange(N), T)
    x = rng.normal(size=N * T)
    e = rng.normal(size=N * T)
    e = e - pd.Series(e).groupby(ent).transform("mean").to_numpy()   # no between variation
    y = 1 + 2 * x + e
    m = PanelModel(y, np.column_stack([np.ones(N * T), x]), entity=ent,
                   time=np.tile(np.arange(T), N))
    with pytest.warns(BoundaryWarning, match="set to 0"):
        re = m.fit(effects="random")
    assert re.sigma2_entity == 0.0 and re.theta == 0.0
    np.testing.assert_allclose(re.params, m.fit(effects="pooled").params, rtol=1e-12)


def test_missing_values_are_dropped_with_warning(grunfeld):
    d = grunfeld.copy()
    d.loc[3, "inv"] = np.nan
    d["firm"] = d["firm"].astype(float)
    d.loc[7, "firm"] = np.nan
    with pytest.warns(MissingDataWarning, match="2 row"):
        m = PanelModel.from_formula(FORMULA, d, entity="firm", time="year")
    assert m.nobs == 198 and not m.balanced
    with pytest.raises(ValueError, match="missing"):
        PanelModel.from_formula(FORMULA, d, entity="firm", time="year", missing="raise")


# ------------------------------------------------------------------ bad input
def test_unknown_effects_lists_valid_ones(model):
    with pytest.raises(ValueError, match="unknown effects 'mixed'.*fixed, twoway, random, "
                                         "between, pooled, first-difference"):
        model.fit(effects="mixed")


def test_bad_fit_options(model):
    with pytest.raises(ValueError, match="method applies to effects='random' only"):
        model.fit(effects="fixed", method="ml")
    with pytest.raises(ValueError, match="unknown method 'gmm'.*swar, ml, reml"):
        model.fit(effects="random", method="gmm")
    with pytest.warns(DeprecationWarning), \
            pytest.raises(ValueError, match="re_method applies to effects='random' only"):
        model.fit(effects="fixed", re_method="ml")
    with pytest.raises(TypeError, match="method= only"):
        model.fit(effects="random", method="ML", re_method="ml")
    with pytest.raises(ValueError, match="unknown cov_type 'hac'"):
        model.fit(cov_type="hac")
    with pytest.raises(ValueError, match="unknown cov_kwds"):
        model.fit(cov_type="cluster", cov_kwds={"groups": 1})
    with pytest.raises(ValueError, match="correction"):
        model.fit(cov_type="cluster", cov_kwds={"correction": "HC3"})
    with pytest.raises(ValueError, match="between"):
        model.fit(effects="between", cov_type="cluster")


def test_missing_entity_or_time_column(grunfeld):
    with pytest.raises(ValueError, match="entity column 'company' not found"):
        PanelModel.from_formula(FORMULA, grunfeld, entity="company", time="year")
    with pytest.raises(ValueError, match="time column 'yr' not found"):
        PanelModel.from_formula(FORMULA, grunfeld, entity="firm", time="yr")


def test_duplicate_entity_time_pairs(grunfeld):
    dup = pd.concat([grunfeld, grunfeld.iloc[[0, 21]]])
    with pytest.raises(ValueError, match=r"duplicate \(firm, year\) pairs: \(1, 1935\), "
                                         r"\(2, 1936\)"):
        PanelModel.from_formula(FORMULA, dup, entity="firm", time="year")


def test_time_invariant_regressor_in_fixed_effects(grunfeld):
    m = PanelModel.from_formula("inv ~ value + capital + size", grunfeld, entity="firm",
                                time="year")
    with pytest.raises(SpecificationError, match=r"\['size'\] do not vary within entities"):
        m.fit(effects="fixed")
    with pytest.raises(ValueError, match="size"):
        m.fit(effects="first-difference")
    m2 = PanelModel.from_formula("inv ~ value + capital + trend", grunfeld, entity="firm",
                                 time="year")
    with pytest.raises(SpecificationError, match=r"\['trend'\] vary only over time"):
        m2.fit(effects="twoway")
    with pytest.raises(SpecificationError, match="trend.*between"):
        m2.fit(effects="between")
    assert m2.fit(effects="fixed").params["trend"] == pytest.approx(
        smf.ols("inv ~ value + capital + trend + C(firm)", grunfeld).fit().params["trend"])


def test_fewer_than_two_entities(grunfeld):
    with pytest.raises(ValueError, match="at least 2 entities; got 1"):
        PanelModel.from_formula(FORMULA, grunfeld[grunfeld["firm"] == 1], entity="firm",
                                time="year")


def test_hausman_needs_fe_re_pair_of_same_data(model, grunfeld):
    fe, re = model.fit(), model.fit(effects="random")
    with pytest.raises(ValueError, match="effects='fixed'.*effects='pooled'"):
        hausman(fe, model.fit(effects="pooled"))
    with pytest.raises(ValueError, match="fixed-effects.*random-effects"):
        hausman(fe, fe)
    other = PanelModel.from_formula(FORMULA, grunfeld.iloc[:150], entity="firm", time="year")
    with pytest.raises(ValueError, match="not of the same data"):
        hausman(fe, other.fit(effects="random"))
    with pytest.raises(ValueError, match="nonrobust"):
        hausman(fe, model.fit(effects="random", cov_type="cluster"))
    with pytest.raises(TypeError, match="PanelModel results"):
        hausman(fe, smf.ols(FORMULA, grunfeld).fit())


def test_bad_array_input(grunfeld):
    X = np.column_stack([np.ones(200), grunfeld["value"]])
    y = grunfeld["inv"].to_numpy()
    with pytest.raises(ValueError, match="one label per row"):
        PanelModel(y, X, entity=grunfeld["firm"].to_numpy()[:10])
    with pytest.raises(ValueError, match="missing must be"):
        PanelModel(y, X, entity=grunfeld["firm"].to_numpy(), missing="ignore")
    y2 = y.copy()
    y2[0] = np.nan
    with pytest.raises(ValueError, match="missing='drop'"):
        PanelModel(y2, X, entity=grunfeld["firm"].to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingDataWarning)
        m = PanelModel(y2, X, entity=grunfeld["firm"].to_numpy(), missing="drop")
    assert m.nobs == 199
