"""MixedModel: API, alternatives to the formula, structures, df methods, bad input."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import metamodels as mm
from metamodels import MixedModel
from metamodels.exceptions import BoundaryWarning, MissingDataWarning


@pytest.fixture(scope="module")
def sleep_fit(sleepstudy):
    return MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleepstudy).fit()


def test_labels_and_attributes(sleep_fit):
    r = sleep_fit
    assert list(r.params.index) == ["Intercept", "Days"]
    assert list(r.fe_params.index) == ["Intercept", "Days"]
    assert list(r.cov_re.index) == ["(Intercept)", "Days"]
    assert r.cov_re.loc["Days", "(Intercept)"] == r.cov_re.loc["(Intercept)", "Days"]
    assert r.scale == pytest.approx(r.theta["Residual"])
    np.testing.assert_allclose(np.asarray(r.cov_params()), r._fit.cov_beta)
    assert r.random_effects.shape == (18, 2)
    np.testing.assert_allclose(r.fittedvalues + r.resid, r.model.endog)
    assert "Var(Days)" in " ".join(r.theta.index)
    assert (r.covariance_parameters()["std_err"] > 0).all()


def test_blups_match_statsmodels_mixedlm(sleepstudy, sleep_fit):
    sm = smf.mixedlm("Reaction ~ Days", sleepstudy, groups="Subject", re_formula="~Days").fit(reml=True)
    ours = sleep_fit.random_effects.to_numpy()
    theirs = np.array([sm.random_effects[k].to_numpy() for k in sorted(sm.random_effects)])
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-2)
    assert sleep_fit.llf >= sm.llf - 1e-6


def test_mixedlm_keywords_equal_lme4_syntax(sleepstudy, sleep_fit):
    alt = MixedModel.from_formula("Reaction ~ Days", sleepstudy, groups="Subject",
                                  re_formula="1 + Days").fit()
    np.testing.assert_allclose(alt.params, sleep_fit.params, rtol=1e-10)
    assert alt.llf == pytest.approx(sleep_fit.llf, rel=1e-12)
    intercept = MixedModel.from_formula("Reaction ~ Days", sleepstudy, groups="Subject").fit()
    ref = MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", sleepstudy).fit()
    assert intercept.llf == pytest.approx(ref.llf, rel=1e-12)


def test_vc_formula_equals_nested_term():
    rng = np.random.default_rng(5)
    school = np.repeat(np.arange(12), 20)
    classroom = np.tile(np.repeat(np.arange(4), 5), 12)
    y = rng.normal(size=12)[school] + rng.normal(0, 0.7, 48)[school * 4 + classroom] \
        + rng.normal(size=240)
    df = pd.DataFrame(dict(y=y, school=school, classroom=classroom))
    vc = {"classroom": "0 + C(classroom)"}
    a = MixedModel.from_formula("y ~ 1", df, groups="school", re_formula="1",
                                vc_formula=vc).fit()
    b = MixedModel.from_formula("y ~ 1 + (1 | school) + (1 | school:classroom)", df).fit()
    assert a.llf == pytest.approx(b.llf, rel=1e-10)
    sm = smf.mixedlm("y ~ 1", df, groups="school", re_formula="1", vc_formula=vc).fit(reml=True)
    assert a.llf == pytest.approx(sm.llf, rel=1e-6)
    # as in MixedLM, vc_formula without re_formula has no random intercept for the groups
    c = MixedModel.from_formula("y ~ 1", df, groups="school", vc_formula=vc).fit()
    d = MixedModel.from_formula("y ~ 1 + (1 | school:classroom)", df).fit()
    assert c.llf == pytest.approx(d.llf, rel=1e-10)


def test_array_constructor_equals_formula(sleepstudy, sleep_fit):
    X = np.column_stack([np.ones(len(sleepstudy)), sleepstudy["Days"].to_numpy()])
    Z = X.copy()
    r = MixedModel(sleepstudy["Reaction"].to_numpy(), X, groups=sleepstudy["Subject"].to_numpy(),
                   exog_re=Z).fit()
    np.testing.assert_allclose(r.params, sleep_fit.params.to_numpy(), rtol=1e-10)
    assert r.llf == pytest.approx(sleep_fit.llf, rel=1e-12)
    ri = MixedModel(sleepstudy["Reaction"].to_numpy(), X, groups=sleepstudy["Subject"].to_numpy()).fit()
    ref = MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", sleepstudy).fit()
    assert ri.llf == pytest.approx(ref.llf, rel=1e-12)


def test_ddf_options_in_t_test_conf_int_summary(sleep_fit):
    r = sleep_fit
    for ddf in ("satterthwaite", "kenward-roger", "residual", "containment", "between-within"):
        tt = r.t_test("Days = 0", ddf=ddf)
        assert float(np.squeeze(tt.tvalue)) == pytest.approx(
            r.params["Days"] / np.sqrt(np.asarray(r._cov_for(ddf))[1, 1]), rel=1e-10)
        df = float(np.squeeze(tt.df_denom))
        assert df == pytest.approx(r.df_fixed(ddf)["Days"], rel=1e-10)
        ci = r.conf_int(0.05, ddf=ddf)
        assert ci.shape == (2, 2)
        assert ddf in str(r.summary(ddf=ddf))
    assert r.df_fixed("residual")["Days"] == 178
    assert r.df_fixed("containment")["Days"] == 17     # Days is contained in Days*Subject
    with pytest.raises(ValueError, match="unknown ddf method"):
        r.df_fixed("bogus")
    tt = r.t_test(np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert np.asarray(tt.tvalue).size == 2


def test_between_within_split_plot():
    """Balanced split plot: between df = s - g, within df = (s - g)(t - 1)."""
    rng = np.random.default_rng(2)
    s, t = 12, 4
    subj = np.repeat(np.arange(s), t)
    time = np.tile(np.arange(t), s)
    grp = (subj % 3).astype(str)
    y = rng.normal(size=s)[subj] + 0.2 * time + rng.normal(size=s * t)
    df = pd.DataFrame(dict(y=y, subj=subj, time=time, grp=grp))
    r = MixedModel.from_formula("y ~ C(grp) * C(time)", df, repeated="time", subject="subj",
                                cov_struct="CS").fit()
    tab = r.anova(ddf="between-within")
    assert tab.loc["C(grp)", "den_df"] == s - 3
    assert tab.loc["C(time)", "den_df"] == (s - 3) * (t - 1)
    assert tab.loc["C(grp):C(time)", "den_df"] == (s - 3) * (t - 1)
    # CS on balanced data: Satterthwaite and KR agree with the classical split-plot df
    kr = r.anova(ddf="kenward-roger")
    np.testing.assert_allclose(kr["den_df"], tab["den_df"], rtol=1e-6)
    np.testing.assert_allclose(kr["F"], tab["F"], rtol=1e-6)


def _two_visit_data(seed=3):
    rng = np.random.default_rng(seed)
    n = 60
    L = np.linalg.cholesky(np.array([[1.0, 0.6], [0.6, 2.0]]))
    e = rng.standard_normal((n, 2)) @ L.T
    trt = np.arange(n) % 2
    rows = [(i, v, trt[i], 1 + 0.5 * trt[i] + 0.3 * v + e[i, v]) for i in range(n) for v in (0, 1)]
    return pd.DataFrame(rows, columns=["subj", "visit", "trt", "y"])


@pytest.mark.parametrize("struct", ["CSH", "ARH1", "TOEPH", "ANTE1", "UNR"])
def test_two_visit_structures_equal_unstructured(struct):
    df = _two_visit_data()
    kw = dict(repeated="visit", subject="subj")
    un = MixedModel.from_formula("y ~ trt + visit", df, cov_struct="UN", **kw).fit()
    other = MixedModel.from_formula("y ~ trt + visit", df, cov_struct=struct, **kw).fit()
    assert other.llf == pytest.approx(un.llf, rel=1e-8)
    np.testing.assert_allclose(other.cov_resid.values, un.cov_resid.values, rtol=1e-5)


def test_toep_two_visits_equals_cs_and_vc_is_diagonal():
    df = _two_visit_data()
    kw = dict(repeated="visit", subject="subj")
    cs = MixedModel.from_formula("y ~ trt + visit", df, cov_struct="CS", **kw).fit()
    toep = MixedModel.from_formula("y ~ trt + visit", df, cov_struct="TOEP", **kw).fit()
    assert toep.llf == pytest.approx(cs.llf, rel=1e-8)
    vc = MixedModel.from_formula("y ~ trt + visit", df, cov_struct="VC", **kw).fit()
    R = vc.cov_resid.values
    assert R[0, 1] == 0 and R[0, 0] != pytest.approx(R[1, 1])


def test_cov_group_factorises_when_fixed_effects_are_separate():
    df = _two_visit_data()
    df["arm"] = np.where(df["trt"] == 1, "T", "C")
    kw = dict(repeated="visit", subject="subj", cov_struct="UN")
    both = MixedModel.from_formula("y ~ 0 + C(arm) + C(arm):visit", df, cov_group="arm",
                                   **kw).fit(reml=False)
    assert len(both.theta) == 6 and isinstance(both.cov_resid, dict)
    sep = sum(MixedModel.from_formula("y ~ visit", df[df.arm == a], **kw).fit(reml=False).llf
              for a in ("C", "T"))
    assert both.llf == pytest.approx(sep, rel=1e-9)


def test_lr_test_table_and_refusals(sleepstudy):
    f = "Reaction ~ Days + {}"
    m_int = MixedModel.from_formula(f.format("(1 | Subject)"), sleepstudy).fit()
    m_sl = MixedModel.from_formula(f.format("(Days | Subject)"), sleepstudy).fit()
    tab = mm.lr_test(m_sl, m_int, names=["slopes", "intercept"])
    assert list(tab.index) == ["intercept", "slopes"]
    assert tab.loc["slopes", "df"] == 2
    assert tab.loc["slopes", "chi2"] == pytest.approx(2 * (m_sl.llf - m_int.llf))
    assert m_sl.compare_lr_test(m_int).statistic == pytest.approx(tab.loc["slopes", "chi2"])
    null = MixedModel.from_formula("Reaction ~ 1 + (1 | Subject)", sleepstudy).fit()
    with pytest.raises(ValueError, match="different fixed effects"):
        mm.lr_test(m_int, null)
    with pytest.raises(ValueError, match="different fixed effects"):
        m_int.compare_lr_test(null)
    ml = MixedModel.from_formula("Reaction ~ 1 + (1 | Subject)", sleepstudy).fit(reml=False)
    with pytest.raises(ValueError, match="REML"):
        mm.lr_test(m_int, ml)
    ml_full = MixedModel.from_formula(f.format("(1 | Subject)"), sleepstudy).fit(reml=False)
    assert mm.lr_test(ml, ml_full).loc["model 2", "df"] == 1


def test_oneway_anova_components_equal_reml_when_balanced():
    rng = np.random.default_rng(8)
    g = np.repeat(np.arange(15), 6)
    y = rng.normal(0, 1.5, 15)[g] + rng.normal(size=90)
    vc = mm.oneway_variance_components(y, g)
    reml = MixedModel.from_formula("y ~ 1 + (1 | g)", pd.DataFrame(dict(y=y, g=g))).fit()
    assert vc.n0 == 6
    assert vc.sigma2_between == pytest.approx(reml.theta.iloc[0], rel=1e-7)
    assert vc.sigma2_within == pytest.approx(reml.scale, rel=1e-7)
    unbal = mm.oneway_variance_components(y[:-4], g[:-4])
    assert unbal.n0 < 6 and unbal.df_within == 86 - 15
    with pytest.raises(ValueError, match="groups"):
        mm.oneway_variance_components([1.0, 2.0], [1, 1])


def test_bad_input_messages(sleepstudy):
    with pytest.raises(ValueError, match="valid"):
        MixedModel.from_formula("Reaction ~ Days", sleepstudy, repeated="Days", subject="Subject",
                                cov_struct="XYZ")
    with pytest.raises(ValueError, match="needs subject"):
        MixedModel.from_formula("Reaction ~ Days", sleepstudy, repeated="Days")
    dup = pd.concat([sleepstudy, sleepstudy.iloc[:3]])
    with pytest.raises(ValueError, match="duplicate"):
        MixedModel.from_formula("Reaction ~ Days", dup, repeated="Days", subject="Subject",
                                cov_struct="AR1")
    with pytest.raises(ValueError, match="not found"):
        MixedModel.from_formula("Reaction ~ Days + (1 | Patient)", sleepstudy)
    d = sleepstudy.assign(D2=2 * sleepstudy["Days"])
    with pytest.raises(ValueError, match="singular design"):
        MixedModel.from_formula("Reaction ~ Days + D2 + (1 | Subject)", d)
    m = sleepstudy.copy()
    m.loc[3, "Reaction"] = np.nan
    m.loc[5, "Subject"] = None
    with pytest.warns(MissingDataWarning, match="2 row"):
        mod = MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", m)
    assert mod.nobs == 178
    with pytest.raises(ValueError, match="missing"):
        MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", m, missing="raise")


def test_boundary_warning_for_zero_variance():
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(10), 5)
    e = rng.normal(size=50)
    y = e - pd.Series(e).groupby(g).transform("mean").to_numpy()   # identical group means
    df = pd.DataFrame(dict(y=y, g=g))
    with pytest.warns(BoundaryWarning, match="boundary"):
        res = MixedModel.from_formula("y ~ 1 + (1 | g)", df).fit()
    assert res.theta.iloc[0] == 0.0
    assert res.scale == pytest.approx(np.sum(y ** 2) / 49, rel=1e-8)   # OLS variance (n - p)


def test_fit_does_not_mutate_model(sleepstudy):
    m = MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleepstudy)
    before = set(vars(m))
    a = m.fit()
    b = m.fit(reml=False)
    a.anova(ddf="containment")
    assert set(vars(m)) == before and a is not b


def test_g_parameter_labels(sleepstudy):
    un = MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleepstudy)
    assert un.spec.param_names[:3] == ("Subject Var((Intercept))", "Subject Cov((Intercept),Days)",
                                       "Subject Var(Days)")
    # one variance shared by two columns is a G variance, not the residual
    idg = MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleepstudy, re_struct="ID")
    assert idg.spec.param_names == ("Subject Var", "Residual")


def test_random_effects_rows_are_labelled_by_level(sleepstudy, sleep_fit):
    re_ = sleep_fit.random_effects
    assert re_.index.name == "Subject"
    assert list(re_.index) == sorted(sleepstudy["Subject"].unique())
    # the same numbers as the long form, row for row
    frame = sleep_fit.random_effects_frame()
    first = frame[frame["column"] == "(Intercept)"]
    assert list(first["level"]) == [str(v) for v in re_.index]
    np.testing.assert_array_equal(first["estimate"].to_numpy(), re_["(Intercept)"].to_numpy())
    subject = re_.index[3]
    assert re_.loc[subject, "Days"] == re_["Days"].iloc[3]


def test_random_effects_of_nested_terms_and_array_input():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"school": np.repeat(["a", "b", "c", "d"], 12),
                       "cls": np.tile(np.repeat(["x", "y", "z"], 4), 4)})
    df["y"] = rng.normal(size=len(df)) + np.repeat(rng.normal(size=4), 12)
    res = MixedModel.from_formula("y ~ 1 + (1 | school/cls)", df).fit()
    nested = res.random_effects["school:cls"]
    assert list(nested.index[:2]) == ["a:x", "a:y"]
    assert list(res.random_effects["school"].index) == ["a", "b", "c", "d"]
    arr = MixedModel(df["y"].to_numpy(), np.ones((len(df), 1)),
                     groups=pd.factorize(df["school"])[0]).fit()
    assert list(arr.random_effects.index) == [0, 1, 2, 3]


@pytest.mark.parametrize("g_constraint", ["sas", "psd"])
def test_on_boundary_names_the_parameters_of_the_boundary_warning(g_constraint, sleep_fit):
    assert sleep_fit.on_boundary == []
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"g": np.repeat(np.arange(10), 5), "y": rng.normal(size=50)})
    with pytest.warns(BoundaryWarning, match=r"g Var\(\(Intercept\)\) = 0"):
        res = MixedModel.from_formula("y ~ 1 + (1 | g)", df).fit(g_constraint=g_constraint)
    assert res.on_boundary == ["g Var((Intercept))"]
    assert res.theta["g Var((Intercept))"] == 0


def test_covariance_parameter_pvalues_are_one_sided_only_for_variances(sleep_fit):
    from scipy import stats

    tab = sleep_fit.covariance_parameters()
    z = tab["z"]
    var = [n for n in tab.index if "Var(" in n or n == "Residual"]
    cov = [n for n in tab.index if "Cov(" in n]
    assert cov and var
    np.testing.assert_allclose(tab.loc[var, "pvalue"], stats.norm.sf(z[var]), rtol=1e-12)
    np.testing.assert_allclose(tab.loc[cov, "pvalue"], 2 * stats.norm.sf(np.abs(z[cov])),
                               rtol=1e-12)
