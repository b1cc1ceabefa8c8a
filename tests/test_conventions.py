"""statsmodels conventions on every model class (issue 13): one shared test module.

For each class (formula fits where the class has ``from_formula``): the LR test unpacks
like statsmodels' (``lr, p, df = res.compare_lr_test(restricted)``); ``predict`` with
``exog=None``, a DataFrame and an array; ``get_prediction(new).summary_frame()`` with
statsmodels' columns and prediction intervals; pickling and ``save``/``load`` of formula
fits; labelled ``params``/``bse``/``conf_int``; statsmodels' ``summary_col``;
``fittedvalues``/``resid``.  Plus metafor's residuals, the one LR rule, the deprecated
spellings and the import structure.
"""
import ast
import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.iolib.summary2 import summary_col

import metamodels as mm
from metamodels import (BayesMeta, BivariateMeta, LocationScaleMeta, MetaFixed, MetaMixed,
                        MetaRandom, MixedModel, PanelModel, priors)
from metamodels.exceptions import MissingDataWarning

ROOT = Path(__file__).resolve().parents[1]
REF = Path(__file__).parent / "reference"
COLUMNS = ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]


# ------------------------------------------------------------------ the fits
def _bcg():
    return mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos",
                          di="cneg")


def _berkey_wide():
    d = mm.datasets.load("berkey1998")
    pd_, al = d[d.outcome == "PD"].set_index("trial"), d[d.outcome == "AL"].set_index("trial")
    return pd.DataFrame({"PD": pd_.yi, "AL": al.yi, "vPD": pd_.v1i, "cov": pd_.v2i,
                         "vAL": al.v2i, "year": pd_.year})


def _locscale_data():
    data = pd.DataFrame(json.loads((REF / "location_scale.json").read_text())["data"])
    return data.dropna(subset=["meta", "lni"]).reset_index(drop=True)


def build(name):
    """``(full, restricted, new)``: two nested fits (None: no LR test) and new data."""
    if name in ("MetaFixed", "MetaRandom"):
        bcg = _bcg()
        cls = MetaFixed if name == "MetaFixed" else MetaRandom
        kw = {} if name == "MetaFixed" else {"method": "ML"}
        full = cls.from_formula("yi ~ ablat + C(alloc)", bcg, vi="vi").fit(**kw)
        rest = cls.from_formula("yi ~ ablat", bcg, vi="vi").fit(**kw)
        return full, rest, bcg.iloc[[0, 5, 9]][["ablat", "alloc"]]
    if name == "MetaMixed":
        k11 = mm.datasets.load("konstantopoulos2011")
        full = MetaMixed.from_formula("yi ~ I(year - 1990) + (1 | district/school)", k11,
                                      vi="vi").fit()
        rest = MetaMixed.from_formula("yi ~ I(year - 1990) + (1 | district)", k11,
                                      vi="vi").fit()
        return full, rest, k11.iloc[[0, 20, 40]]
    if name == "BivariateMeta":
        wide = _berkey_wide()
        kw = dict(within_cov=["vPD", "cov", "vAL"])
        full = BivariateMeta.from_formula("PD + AL ~ I(year - 1983)", wide, **kw).fit(method="ML")
        rest = BivariateMeta.from_formula("PD + AL ~ 1", wide, **kw).fit(method="ML")
        return full, rest, wide.iloc[[0, 3]][["year"]]
    if name == "LocationScaleMeta":
        data = _locscale_data()
        full = LocationScaleMeta.from_formula("yi ~ meta", data, vi="vi",
                                              scale_formula="~ lni").fit()
        rest = LocationScaleMeta.from_formula("yi ~ meta", data, vi="vi",
                                              scale_formula="~ 1").fit()
        return full, rest, pd.DataFrame({"meta": [0, 1], "lni": [3.5, 5.0]}, index=[7, 8])
    if name == "MixedModel":
        sleep = mm.datasets.load("sleepstudy")
        full = MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleep).fit()
        rest = MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", sleep).fit()
        return full, rest, sleep.iloc[[0, 15, 33]]
    if name == "PanelModel":
        g = mm.datasets.load("grunfeld")
        full = PanelModel.from_formula("inv ~ value + capital", g, entity="firm",
                                       time="year").fit(effects="fixed")
        rest = PanelModel.from_formula("inv ~ value", g, entity="firm",
                                       time="year").fit(effects="fixed")
        return full, rest, g.iloc[[0, 50, 120]][["value", "capital"]]
    if name == "BayesMeta":
        bcg = _bcg()
        res = BayesMeta.from_formula("yi ~ ablat", bcg, vi="vi",
                                     tau_prior=priors.HalfNormal(0.5)).fit(n_draws=2000)
        return res, None, pd.DataFrame({"ablat": [10.0, 30.0, 50.0]})
    if name == "EqualVariance":
        rng = np.random.default_rng(0)
        k = 8
        nt, nc = rng.integers(10, 60, (k, 2)), rng.integers(10, 60, (k, 2))
        D = rng.normal([0.3, 0.1], 0.3, (k, 2))
        D[2, 1] = np.nan
        res = BivariateMeta.from_group_sizes(D[:, 0], D[:, 1], nt[:, 0], nc[:, 0], nt[:, 1],
                                             nc[:, 1], names=("a", "b")).fit()
        return res, None, np.eye(2)
    raise KeyError(name)


CLASSES = ["MetaFixed", "MetaRandom", "MetaMixed", "BivariateMeta", "LocationScaleMeta",
           "MixedModel", "PanelModel", "BayesMeta", "EqualVariance"]
_FITS = {}


@pytest.fixture(params=CLASSES)
def fits(request):
    if request.param not in _FITS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingDataWarning)
            _FITS[request.param] = build(request.param)
    return (request.param,) + _FITS[request.param]


def _param_names(res):
    return list(res.params.index)


# -------------------------------------------------------------- LR tuple
def test_compare_lr_test_unpacks(fits):
    name, full, rest, _ = fits
    if rest is None:
        if name == "BayesMeta":
            with pytest.raises(TypeError, match="bayes_factor"):
                full.compare_lr_test(full)
        return
    out = full.compare_lr_test(rest)
    lr, p, df = out
    assert lr == pytest.approx(2 * (full.llf - rest.llf), rel=1e-12, abs=1e-12)
    assert df >= 1 and int(df) == df
    assert p == pytest.approx(stats.chi2.sf(lr, df), rel=1e-12)
    assert tuple(out) == (lr, p, df) and out[0] == lr and len(out) == 3
    assert out.df_diff == df
    assert out.llf_full == full.llf and out.llf_restricted == rest.llf
    assert out.method in ("ML", "REML") and out.check


def test_lr_rule_lives_in_one_place():
    import metamodels.univariate.results as u
    import metamodels.multivariate.results as mv
    import metamodels.multivariate.bivariate as bv
    import metamodels.locscale.results as ls
    import metamodels.mixed.results as mx
    import metamodels.panel.results as pn
    from metamodels.base.results import ResultsConventions
    for cls in (u.MetaResults, mv.MetaMixedResults, bv.BivariateResults,
                ls.LocationScaleResults, mx.MixedResults, pn.PanelResults):
        assert "compare_lr_test" not in vars(cls), cls
        assert cls.compare_lr_test is ResultsConventions.compare_lr_test


def test_reml_lr_accepts_reordered_fixed_effects():
    """Issue 20 point 8: ``A * B`` and ``B * A`` span the same columns."""
    fev = mm.datasets.load("fev_sim")
    fev = fev[fev.hour <= 3]
    f1 = "fev ~ C(drug) * C(hour) + (1 | patient)"
    f2 = "fev ~ C(hour) * C(drug) + (1 | patient)"
    a = MixedModel.from_formula(f1, fev).fit()
    b = MixedModel.from_formula(f2, fev).fit()
    assert not np.array_equal(a.model.exog, b.model.exog)
    assert a.llf == pytest.approx(b.llf, abs=1e-7)
    full = MixedModel.from_formula(f1, fev, repeated="hour", subject="patient:drug",
                                   cov_struct="CS").fit()
    lr, p, df = full.compare_lr_test(b)
    assert df == 1 and lr == pytest.approx(2 * (full.llf - b.llf))
    smaller = MixedModel.from_formula("fev ~ C(drug) + C(hour) + (1 | patient)", fev).fit()
    with pytest.raises(ValueError, match="different fixed effects"):
        full.compare_lr_test(smaller)
    ml = MixedModel.from_formula(f1, fev).fit(method="ML")
    with pytest.raises(ValueError, match="REML fit with an ML fit"):
        full.compare_lr_test(ml)
    other = MixedModel.from_formula(f1, fev.assign(fev=fev.fev * 2)).fit()
    with pytest.raises(ValueError, match="different responses"):
        full.compare_lr_test(other)
    tab = mm.lr_test(b, full)
    assert tab["chi2"].iloc[1] == pytest.approx(lr)


def test_lr_across_meta_classes():
    """MetaFixed is MetaRandom with tau^2 = 0: the ML fits compare (boundary test)."""
    bcg = _bcg()
    re = MetaRandom.from_formula("yi ~ ablat", bcg, vi="vi").fit(method="ML")
    fe = MetaFixed.from_formula("yi ~ ablat", bcg, vi="vi").fit()
    lr, p, df = re.compare_lr_test(fe)
    assert df == 1 and lr > 0
    with pytest.raises(ValueError, match="likelihood fits"):
        MetaRandom.from_formula("yi ~ ablat", bcg, vi="vi").fit(method="DL").compare_lr_test(fe)


# --------------------------------------------------------------- predict
def _design(res, new):
    """Reference design rows built independently with patsy from the formula."""
    import patsy
    m = res.model
    rhs = m.formula.split("~", 1)[1]
    if hasattr(m, "spec") and getattr(m.spec, "random", None):
        from metamodels.formula.terms import split_formula
        rhs = split_formula(m.formula)[0].split("~", 1)[1]
    X = patsy.dmatrix(rhs, m.data.frame, return_type="dataframe")
    return np.asarray(patsy.build_design_matrices([X.design_info], new)[0])


def test_predict(fits):
    name, res, _, new = fits
    params = np.asarray(res.params, dtype=float)
    y = np.asarray(res.model.endog, dtype=float)
    p0 = np.asarray(res.predict())
    assert p0.shape == y.shape
    if name == "EqualVariance":
        np.testing.assert_allclose(res.predict(new), params)
        return
    X0 = _design(res, new)
    if name == "LocationScaleMeta":
        params = params[:X0.shape[1]]
    if name == "PanelModel":
        X0 = X0[:, 1:]                       # within estimator: slopes, no effects
    if name == "BivariateMeta":
        p = X0.shape[1]
        expect = np.column_stack([X0 @ params[:p], X0 @ params[p:]]).ravel()
    else:
        expect = X0 @ params
    got = res.predict(new)
    np.testing.assert_allclose(np.asarray(got), expect, rtol=1e-10, atol=1e-12)
    if isinstance(new, pd.DataFrame) and name != "BivariateMeta":
        assert list(got.index) == list(new.index)
    if name not in ("BivariateMeta", "PanelModel", "LocationScaleMeta"):
        np.testing.assert_allclose(res.predict(X0), expect, rtol=1e-10)
        np.testing.assert_allclose(res.predict(X0[:, 1:]), expect, rtol=1e-10)   # no const


def test_conditional_predictions():
    sleep = mm.datasets.load("sleepstudy")
    res = MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleep).fit()
    np.testing.assert_allclose(res.predict(conditional=True), res.fittedvalues, rtol=1e-12)
    rows = sleep.iloc[[3, 47, 120]]
    np.testing.assert_allclose(res.predict(rows, conditional=True),
                               np.asarray(res.fittedvalues)[[3, 47, 120]], rtol=1e-12)
    new = rows.assign(Subject="new subject")            # unseen level: population value
    np.testing.assert_allclose(res.predict(new, conditional=True), res.predict(new),
                               rtol=1e-12)
    k11 = mm.datasets.load("konstantopoulos2011")
    mv = MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", k11, vi="vi").fit()
    cond = mv.predict(k11.iloc[:4], conditional=True)
    assert not np.allclose(cond, mv.predict(k11.iloc[:4]))
    np.testing.assert_allclose(mv.predict(conditional=True)[:4], cond, rtol=1e-12)
    bcg = _bcg()
    re = MetaRandom.from_formula("yi ~ ablat", bcg, vi="vi").fit()
    np.testing.assert_allclose(re.predict(conditional=True), re.blup()["pred"], rtol=1e-12)


# -------------------------------------------------------- get_prediction
def test_get_prediction(fits):
    name, res, _, new = fits
    frame = res.get_prediction(new).summary_frame(alpha=0.1)
    assert list(frame.columns[:6]) == COLUMNS
    np.testing.assert_allclose(frame["mean"], np.asarray(res.predict(new)), rtol=1e-10)
    assert np.all(frame["mean_ci_lower"] < frame["mean"])
    assert np.all(frame["mean_ci_upper"] > frame["mean"])
    width = frame["obs_ci_upper"] - frame["obs_ci_lower"]
    assert np.all(width >= frame["mean_ci_upper"] - frame["mean_ci_lower"] - 1e-12)
    if name not in ("MetaFixed", "EqualVariance"):     # random effects widen the interval
        assert np.all(width > frame["mean_ci_upper"] - frame["mean_ci_lower"] + 1e-8)
    if name == "LocationScaleMeta":
        assert {"tau", "tau_ci_lower", "tau_ci_upper"} <= set(frame.columns)
        assert res.get_prediction(new)["tau"].shape == (2,)
    full = res.get_prediction().summary_frame()
    assert list(full.columns[:6]) == COLUMNS


def test_prediction_interval_values():
    bcg = _bcg()
    re = MetaRandom.from_formula("yi ~ ablat", bcg, vi="vi").fit()
    new = pd.DataFrame({"ablat": [33.0]})
    f = re.get_prediction(new).summary_frame()
    se = f["mean_se"].iloc[0]
    z = stats.norm.ppf(0.975)
    assert f["obs_ci_upper"].iloc[0] == pytest.approx(f["mean"].iloc[0]
                                                     + z * np.sqrt(se ** 2 + re.tau2))
    sleep = mm.datasets.load("sleepstudy")
    mres = MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleep).fit()
    row = sleep.iloc[[4]]
    g = mres.get_prediction(row).summary_frame()
    z0 = np.array([1.0, row.Days.iloc[0]])
    var = g["mean_se"].iloc[0] ** 2 + z0 @ np.asarray(mres.cov_re) @ z0 + mres.scale
    df = mres.df_fixed().iloc[0]
    t = stats.t.ppf(0.975, mres._prediction_df(np.array([[1.0, row.Days.iloc[0]]]))[0])
    assert df > 0
    assert g["obs_ci_upper"].iloc[0] == pytest.approx(g["mean"].iloc[0] + t * np.sqrt(var))


# --------------------------------------------------------------- pickling
def test_pickle_and_save(fits, tmp_path):
    name, res, _, new = fits
    loaded = pickle.loads(pickle.dumps(res))
    np.testing.assert_allclose(np.asarray(loaded.params), np.asarray(res.params))
    np.testing.assert_allclose(np.asarray(loaded.predict(new)), np.asarray(res.predict(new)))
    if hasattr(res, "save"):
        path = tmp_path / "res.pickle"
        res.save(str(path))
        again = type(res).load(str(path))
        np.testing.assert_allclose(np.asarray(again.bse), np.asarray(res.bse))
        np.testing.assert_allclose(np.asarray(again.predict(new)),
                                   np.asarray(res.predict(new)))


def test_pickled_design_keeps_stateful_transforms():
    bcg = _bcg()
    res = MetaRandom.from_formula("yi ~ center(ablat) + C(alloc, Sum)", bcg, vi="vi").fit()
    loaded = pickle.loads(pickle.dumps(res))
    new = bcg.iloc[[1, 4]]
    np.testing.assert_allclose(loaded.predict(new), res.predict(new), rtol=1e-12)
    np.testing.assert_allclose(loaded.predict(new), np.asarray(res.fittedvalues)[[1, 4]])


# ------------------------------------------------------- labels, tables
def test_labelled_params(fits):
    name, res, _, _ = fits
    assert isinstance(res.params, pd.Series) and isinstance(res.bse, pd.Series)
    names = _param_names(res)
    assert all(isinstance(n, str) for n in names) and len(set(names)) == len(names)
    assert list(res.bse.index) == names
    ci = res.conf_int()
    assert isinstance(ci, pd.DataFrame) and list(ci.index) == names and ci.shape[1] == 2
    assert np.all(ci.iloc[:, 0] < res.params) and np.all(ci.iloc[:, 1] > res.params)


def test_summary_col(fits):
    name, res, _, _ = fits
    text = str(summary_col([res]))
    assert _param_names(res)[-1] in text


def test_fitted_and_resid(fits):
    name, res, _, _ = fits
    y = np.asarray(res.model.endog, dtype=float)
    if name == "PanelModel":                 # the transformed (within) regression
        y = res._fit.yt
    np.testing.assert_allclose(np.asarray(res.fittedvalues) + np.asarray(res.resid), y,
                               rtol=1e-12, atol=1e-10)


# -------------------------------------------------- metafor's residuals
RESID = json.loads((REF / "meta_resid.json").read_text())


@pytest.mark.parametrize("case", RESID["univariate"], ids=[c["name"] for c in RESID["univariate"]])
def test_meta_residuals_against_metafor(case):
    dat = pd.DataFrame(RESID["data"])
    cls = MetaFixed if case["method"] == "FE" else MetaRandom
    kw = {"test": case["test"]}
    if cls is MetaRandom:
        kw["method"] = case["method"]
    formula = case["formula"].replace("alloc", "C(alloc)")
    res = cls.from_formula(formula, dat, vi="vi").fit(**kw)
    assert res.tau2 == pytest.approx(case["tau2"], rel=1e-8, abs=1e-12)
    np.testing.assert_allclose(res.resid, case["resid"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.resid_pearson, case["pearson"], rtol=1e-8)
    rs = res.rstandard()
    for key in ("resid", "se", "z"):
        np.testing.assert_allclose(rs[key], case["rstandard"][key], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.resid_standardized, case["rstandard"]["z"], rtol=1e-8)
    rt = res.rstudent()
    for key in ("resid", "se", "z"):
        np.testing.assert_allclose(rt[key], case["rstudent"][key], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.resid_studentized, case["rstudent"]["z"], rtol=1e-8)


def test_multilevel_residuals_against_metafor():
    ref = RESID["multilevel"]
    k11 = mm.datasets.load("konstantopoulos2011")
    res = MetaMixed.from_formula(ref["formula"], k11, vi="vi").fit()
    np.testing.assert_allclose(res.sigma2, ref["sigma2"], rtol=1e-6)
    np.testing.assert_allclose(res.resid, ref["resid"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res.resid_pearson, ref["pearson"], rtol=1e-6, atol=1e-9)
    rs = res.rstandard()
    for key in ("resid", "se", "z"):
        np.testing.assert_allclose(rs[key], ref["rstandard"][key], rtol=1e-6, atol=1e-9)
    rt = res.rstudent()                     # each row deleted, variance components refitted
    for key in ("resid", "se", "z"):
        np.testing.assert_allclose(rt[key], ref["rstudent"][key], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res.resid_studentized, ref["rstudent"]["z"], rtol=1e-6)


# ------------------------------------------------------------- Bayes
def test_bayes_results_interface():
    res = build("BayesMeta")[0]
    for name in res.coef_names:
        assert res.params[name] == pytest.approx(res.posterior_mean(name), rel=1e-10)
        assert res.bse[name] == pytest.approx(res.posterior_sd(name), rel=1e-8)
        assert tuple(res.conf_int(0.1).loc[name]) == pytest.approx(
            res.central_interval(name, 0.1))
        assert tuple(res.conf_int(0.1, kind="hpd").loc[name]) == pytest.approx(
            res.hpd(name, 0.1))
    d = res.sample(100_000, random_state=2)
    np.testing.assert_allclose(res.cov_params(), np.cov(d[res.coef_names].T), rtol=0.03,
                               atol=1e-6)
    with pytest.raises(ValueError, match="kind"):
        res.conf_int(kind="wald")
    pred = res.get_prediction(pd.DataFrame({"ablat": [30.0]})).summary_frame()
    xb = d["Intercept"] + 30 * d["ablat"]
    assert pred["mean"].iloc[0] == pytest.approx(xb.mean(), abs=3e-3)
    assert pred["mean_ci_lower"].iloc[0] == pytest.approx(np.quantile(xb, 0.025), abs=1e-2)
    new = xb + d["tau"] * np.random.default_rng(3).standard_normal(len(d))
    assert pred["obs_ci_upper"].iloc[0] == pytest.approx(np.quantile(new, 0.975), abs=1.5e-2)


# ------------------------------------------------------ panel likelihood
def test_panel_within_llf_is_the_lsdv_llf():
    import statsmodels.api as sm
    g = mm.datasets.load("grunfeld")
    fe = PanelModel.from_formula("inv ~ value + capital", g, entity="firm",
                                 time="year").fit(effects="fixed")
    X = pd.get_dummies(g.firm, dtype=float).assign(value=g.value, capital=g.capital)
    ols = sm.OLS(g.inv, X).fit()
    assert fe.llf == pytest.approx(ols.llf, rel=1e-12)
    pooled = PanelModel.from_formula("inv ~ value + capital", g, entity="firm",
                                     time="year").fit(effects="pooled")
    assert pooled.llf == pytest.approx(sm.OLS(g.inv, sm.add_constant(g[["value", "capital"]]))
                                       .fit().llf, rel=1e-12)
    lr, p, df = fe.compare_lr_test(pooled)
    assert df == g.firm.nunique() - 1 and lr > 0
    assert np.isnan(PanelModel.from_formula("inv ~ value + capital", g, entity="firm",
                                            time="year").fit(effects="random").llf)


def test_bivariate_formula_equals_array_interface():
    wide = _berkey_wide()
    a = BivariateMeta.from_formula("PD + AL ~ 1", wide, within_cov=["vPD", "cov", "vAL"]).fit()
    S = np.stack([[wide.vPD, wide["cov"]], [wide["cov"], wide.vAL]]).transpose(2, 0, 1)
    b = BivariateMeta(wide[["PD", "AL"]].to_numpy(), S, names=("PD", "AL")).fit()
    np.testing.assert_allclose(np.asarray(a.params), np.asarray(b.params), rtol=1e-10)
    assert list(a.params.index) == ["PD", "AL"] and a.llf == pytest.approx(b.llf)
    assert np.isfinite(a.aic) and np.isfinite(a.bic)
    with pytest.raises(ValueError, match="two outcome columns"):
        BivariateMeta.from_formula("PD ~ 1", wide, within_cov=["vPD", "cov", "vAL"])


# ------------------------------------------------------------ vocabulary
def test_deprecated_spellings_warn_and_agree():
    sleep = mm.datasets.load("sleepstudy")
    m = MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", sleep)
    with pytest.warns(DeprecationWarning, match="method="):
        old = m.fit(reml=False)
    new = m.fit(method="ML")
    assert old.llf == new.llf and new.method == "ML"
    g = mm.datasets.load("grunfeld")
    pm = PanelModel.from_formula("inv ~ value + capital", g, entity="firm", time="year")
    with pytest.warns(DeprecationWarning, match="method="):
        old = pm.fit(effects="random", re_method="reml")
    assert old.llf == pm.fit(effects="random", method="REML").llf
    k11 = mm.datasets.load("konstantopoulos2011")
    f = "yi ~ 1 + (1 | district/school)"
    with pytest.warns(DeprecationWarning, match="struct="):
        old = MetaMixed.from_formula(f, k11, vi="vi", cov_struct="UN").fit()
    assert old.llf == MetaMixed.from_formula(f, k11, vi="vi", struct="UN").fit().llf
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # the new spellings are silent
        m.fit(method="REML")
        pm.fit(effects="random", method="ML")


# ------------------------------------------------------------ structure
def _module_imports(path):
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            out.add(("." * node.level) + (node.module or ""))
    return out


def test_no_upward_or_circular_bayes_imports():
    pkg = ROOT / "metamodels"
    for path in (pkg / "mixed").glob("*.py"):
        assert not any("bayes" in imp for imp in _module_imports(path)), path
    results = _module_imports(pkg / "bayes" / "results.py")
    assert ".meta" not in results and "..bayes.meta" not in results


def test_pickled_mixed_model_keeps_terms_and_anova():
    fev = mm.datasets.load("fev_sim")
    res = MixedModel.from_formula("fev ~ baseval + C(drug) * C(hour) + (1 | patient)", fev).fit()
    loaded = pickle.loads(pickle.dumps(res))
    for kind in (1, 2, 3):
        np.testing.assert_allclose(loaded.anova(type=kind).to_numpy(float),
                                   res.anova(type=kind).to_numpy(float), rtol=1e-12)


def test_array_model_prediction_needs_the_random_design():
    sleep = mm.datasets.load("sleepstudy")
    X = np.column_stack([np.ones(len(sleep)), sleep.Days])
    res = MixedModel(sleep.Reaction.to_numpy(), X, groups=sleep.Subject.to_numpy(),
                     exog_re=X).fit()
    frame = res.get_prediction().summary_frame()            # fitted rows: Z is known
    assert np.all(np.isfinite(frame["obs_ci_lower"]))
    with pytest.warns(mm.exceptions.MetaModelsWarning, match="random-effects design"):
        new = res.get_prediction(X[:2]).summary_frame()
    assert np.all(np.isnan(new["obs_ci_lower"])) and np.all(np.isfinite(new["mean_ci_lower"]))
    with pytest.raises(ValueError, match="conditional predictions for new rows"):
        res.predict(X[:2], conditional=True)
