"""BLUPs / random effects, t tests with residual and containment df, profile CIs of the
variance components and predictions (PIs, tau2_levels, transf) of MetaRandom and MetaMixed
against metafor 3.8 (tests/reference/scripts/metamixed_inference.R)."""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metamodels as mm
from metamodels.multivariate import MetaMixed

REF = json.loads((Path(__file__).parent / "reference" / "metamixed_inference.json").read_text())
RAUD = pd.DataFrame(REF["data"]["raudenbush1985"])
KONST = pd.DataFrame(REF["data"]["konstantopoulos2011"])
BERKEY = pd.DataFrame(REF["data"]["berkey1998"])
TOL = 1e-6


def _cols(ref, names=("pred", "se", "pi.lb", "pi.ub")):
    return np.column_stack([ref[c] for c in names])


def _close(actual, desired, rtol=TOL, atol=1e-9):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(desired, dtype=float),
                               rtol=rtol, atol=atol)


# ------------------------------------------------------------------ univariate
UNI = REF["univariate"]


def _uni_fit(case, mods):
    formula = "yi ~ weeks_c" if mods else "yi ~ 1"
    d = RAUD.rename(columns={"weeks.c": "weeks_c"})
    return mm.MetaRandom.from_formula(formula, data=d, vi="vi").fit(method=case["method"],
                                                                      test=case["test"])


@pytest.mark.parametrize("case", UNI, ids=[c["name"] for c in UNI])
@pytest.mark.parametrize("mods", [False, True], ids=["int", "mods"])
def test_univariate_blup_ranef(case, mods):
    ref = case["mods" if mods else "int"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.exceptions.BoundaryWarning)
        res = _uni_fit(case, mods)
    _close(res.params, np.atleast_1d(ref["fit"]["coef"]))
    # tau^2 = 0 (REML with weeks): metafor stops at tau^2 ~ 3e-14, whose square root
    # enters the random effects' se (~2e-7)
    atol = 1e-6 if res.tau2 == 0 else 1e-9
    b = res.blup()
    _close(b[["pred", "se", "pi_lower", "pi_upper"]], _cols(ref["blup"]), atol=atol)
    r = res.random_effects
    _close(r[["pred", "se", "pi_lower", "pi_upper"]], _cols(ref["ranef"]), atol=atol)
    assert list(r.columns) == ["pred", "se", "pi_lower", "pi_upper"]


@pytest.mark.parametrize("case", UNI, ids=[c["name"] for c in UNI])
def test_univariate_predict_transf(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.exceptions.BoundaryWarning)
        res = _uni_fit(case, True)
    new = pd.DataFrame({"weeks_c": [0, 1, 2, 3]})
    cols = ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]
    ref = case["mods"]["predict"]
    frame = res.get_prediction(new).summary_frame()
    _close(frame[cols], _cols(ref, ("pred", "se", "ci.lb", "ci.ub", "pi.lb", "pi.ub")))
    ref = case["mods"]["predict_exp"]
    frame = res.get_prediction(new, transf=np.exp).summary_frame()
    assert frame["mean_se"].isna().all()
    _close(frame[["mean", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]],
           _cols(ref, ("pred", "ci.lb", "ci.ub", "pi.lb", "pi.ub")))
    _close(res.predict(new, transf=np.exp), ref["pred"])
    # blup back-transformed: exp of the limits, se NaN
    bt = res.blup(transf=np.exp)
    b = res.blup()
    _close(bt["pi_lower"], np.exp(b["pi_lower"]))
    assert bt["se"].isna().all()


def test_univariate_conf_int_variance():
    res = mm.MetaRandom.from_formula("yi ~ 1", data=RAUD, vi="vi").fit(method="REML")
    ci = res.conf_int_variance(method="profile")
    _close(ci.loc["tau2"].to_numpy(), REF["univariate_ci"]["REML"], rtol=1e-6, atol=1e-8)
    lo, hi = res.conf_int_tau2()
    assert ci.columns.tolist() == ["estimate", "ci_lower", "ci_upper"]
    assert res.conf_int_variance().loc["tau2", "ci_upper"] == pytest.approx(hi)


# ------------------------------------------------------------ konstantopoulos
KCASES = REF["konstantopoulos"]


def _konst(case, mods):
    formula = "yi ~ year_c + (1 | district/school)" if mods else "yi ~ 1 + (1 | district/school)"
    d = KONST.rename(columns={"year.c": "year_c"})
    ddf = "containment" if case["dfs"] == "contain" else "residual"
    return MetaMixed.from_formula(formula, d, vi="vi").fit(test=case["test"], ddf=ddf, tol=1e-12)


@pytest.mark.parametrize("case", KCASES, ids=[c["name"] for c in KCASES])
@pytest.mark.parametrize("mods", [False, True], ids=["int", "mods"])
def test_konstantopoulos_tests(case, mods):
    ref = case["mods" if mods else "int"]["fit"]
    res = _konst(case, mods)
    _close(res.params, np.atleast_1d(ref["coef"]))
    _close(res.bse, np.atleast_1d(ref["se"]))
    _close(res.tvalues, np.atleast_1d(ref["zval"]))
    _close(res.pvalues, np.atleast_1d(ref["pval"]))
    ci = np.asarray(res.conf_int())
    _close(ci[:, 0], np.atleast_1d(ref["ci.lb"]))
    _close(ci[:, 1], np.atleast_1d(ref["ci.ub"]))
    _close(res.sigma2, ref["sigma2"])
    if case["test"] == "t":
        _close(res.df_coef, np.atleast_1d(ref["ddf"]), atol=0)
    if mods:
        qm = res.qm_test
        _close(qm.statistic, ref["QM"])
        _close(qm.pvalue, ref["QMp"])
        if case["test"] == "t":
            assert (qm.df_num, qm.df_denom) == tuple(ref["QMdf"])
    table = res.summary().tables[1]
    assert table.shape[0] == len(np.atleast_1d(ref["coef"]))


@pytest.mark.parametrize("case", KCASES, ids=[c["name"] for c in KCASES])
@pytest.mark.parametrize("mods", [False, True], ids=["int", "mods"])
def test_konstantopoulos_random_effects(case, mods):
    ref = case["mods" if mods else "int"]
    res = _konst(case, mods)
    re = res.random_effects
    assert set(re) == {"district", "district:school"}
    for name, rname in (("district", "district"), ("district:school", "district/school")):
        frame, r = re[name], ref["ranef"][rname]
        assert [str(i) for i in frame.index] == r["rownames"]
        _close(frame[["pred", "se", "pi_lower", "pi_upper"]],
               _cols(r, ("intrcpt", "se", "pi.lb", "pi.ub")))
    b = res.blup()
    _close(b["pred"], ref["blup"]["pred"])
    _close(b["pred"], ref["blup"]["fitted_plus_ranef"])
    _close(b["se"], ref["blup"]["se"])
    # the BLUPs of the rows are the conditional predictions
    _close(res.predict(conditional=True), b["pred"])


@pytest.mark.parametrize("case", KCASES, ids=[c["name"] for c in KCASES])
def test_konstantopoulos_predict(case):
    cols = ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]
    rcols = ("pred", "se", "ci.lb", "ci.ub", "pi.lb", "pi.ub")
    res = _konst(case, False)
    frame = res.get_prediction(np.ones((1, 1))).summary_frame()
    _close(frame[cols], _cols(case["int"]["predict"], rcols))
    res = _konst(case, True)
    new = pd.DataFrame({"year_c": [-10.0, 0.0, 10.0]})
    frame = res.get_prediction(new).summary_frame()
    _close(frame[cols], _cols(case["mods"]["predict"], rcols))
    frame = res.get_prediction(new, transf=np.exp).summary_frame()
    _close(frame[["mean", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]],
           _cols(case["mods"]["predict_exp"], ("pred", "ci.lb", "ci.ub", "pi.lb", "pi.ub")))


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_konstantopoulos_profile_ci(method):
    res = MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", KONST, vi="vi").fit(
        method=method, tol=1e-12)
    ci = res.conf_int_variance()
    ref = REF["konstantopoulos_ci"][method]
    # metafor's fit stops at nlminb rel.tol 1e-10 (estimates to ~3e-8); the limits,
    # roots of the profile at tol 1e-12, agree to ~1e-12
    for j, key in enumerate(("sigma2_1", "sigma2_2")):
        _close(ci.iloc[j, 0], ref[key][0], rtol=1e-7)
        _close(ci.iloc[j, 1:].to_numpy(), ref[key][1:], rtol=1e-9)
    if method == "REML":
        ci90 = res.conf_int_variance(alpha=0.10)
        _close(ci90.iloc[0, 1:].to_numpy(), REF["konstantopoulos_ci"]["level90"]["sigma2_1"][1:],
               rtol=1e-9)
        assert ci90.iloc[0, 1] > ci.iloc[0, 1] and ci90.iloc[0, 2] < ci.iloc[0, 2]


# ------------------------------------------------------------------- berkey
BCASES = REF["berkey"]


def _berkey_V(df):
    return [df.loc[df.trial == t, ["v1i", "v2i"]].to_numpy() for t in df.trial.unique()]


def _berkey(case, mods):
    formula = ("yi ~ 0 + outcome + outcome:year_c + (0 + outcome | trial)" if mods
               else "yi ~ 0 + outcome + (0 + outcome | trial)")
    d = BERKEY.assign(year_c=BERKEY["year"] - 1983)
    ddf = "containment" if case["dfs"] == "contain" else "residual"
    return MetaMixed.from_formula(formula, d, V=_berkey_V(d)).fit(test=case["test"], ddf=ddf,
                                                                   tol=1e-12)


@pytest.mark.parametrize("case", BCASES, ids=[c["name"] for c in BCASES])
def test_berkey_tests_and_random_effects(case):
    ref = case["int"]
    res = _berkey(case, False)
    # metafor's UN fit stops ~1e-6 short (nlminb)
    tol = 2e-5
    _close(res.params, ref["fit"]["coef"], rtol=tol)
    _close(res.pvalues, ref["fit"]["pval"], rtol=tol)
    ci = np.asarray(res.conf_int())
    _close(ci[:, 0], ref["fit"]["ci.lb"], rtol=tol)
    if case["test"] == "t":
        _close(res.df_coef, ref["fit"]["ddf"], atol=0)
        assert res.qm_test.df_denom == ref["fit"]["QMdf"][1]
    re = res.random_effects
    labels = [f"{c[len('outcome['):-1]} | {lev}" for lev, c in re.index]
    order = [ref["ranef"]["rownames"].index(x) for x in labels]
    r = {k: np.asarray(v)[order] for k, v in ref["ranef"].items() if k != "rownames"}
    _close(re[["pred", "se", "pi_lower", "pi_upper"]],
           _cols(r, ("intrcpt", "se", "pi.lb", "pi.ub")), rtol=tol, atol=1e-7)
    # fitted rows: each with the tau2 of its own outcome
    cols = ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]
    rcols = ("pred", "se", "ci.lb", "ci.ub", "pi.lb", "pi.ub")
    _close(res.get_prediction().summary_frame()[cols], _cols(ref["fitted"], rcols), rtol=tol)
    X0 = np.eye(2)
    for levels in (["AL", "PD"], ["outcome[AL]", "outcome[PD]"], [1, 2]):
        frame = res.get_prediction(X0, tau2_levels=levels).summary_frame()
        _close(frame[cols], _cols(ref["predict_levels"], rcols), rtol=tol)
    new = pd.DataFrame({"outcome": ["AL", "PD"]})
    _close(res.get_prediction(new).summary_frame()[cols], _cols(ref["predict_levels"], rcols),
           rtol=tol)
    frame = res.get_prediction(X0, tau2_levels=[2, 1]).summary_frame()
    _close(frame[cols], _cols(ref["predict_levels_num"], rcols), rtol=tol)


@pytest.mark.parametrize("case", BCASES, ids=[c["name"] for c in BCASES])
def test_berkey_predict_moderators(case):
    ref = case["mods"]
    res = _berkey(case, True)
    tol = 2e-5
    _close(res.params, ref["fit"]["coef"], rtol=tol)
    X0 = np.array([[1, 0, 2, 0], [0, 1, 0, 2], [1, 0, -3, 0]], dtype=float)
    cols = ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]
    rcols = ("pred", "se", "ci.lb", "ci.ub", "pi.lb", "pi.ub")
    lev = ["AL", "PD", "AL"]
    frame = res.get_prediction(X0, tau2_levels=lev).summary_frame()
    _close(frame[cols], _cols(ref["predict"], rcols), rtol=tol)
    frame = res.get_prediction(X0, tau2_levels=lev, transf=np.exp).summary_frame()
    _close(frame[["mean", "mean_ci_lower", "obs_ci_upper"]],
           _cols(ref["predict_exp"], ("pred", "ci.lb", "pi.ub")), rtol=tol)


def test_berkey_profile_ci():
    res = _berkey({"test": "z", "dfs": "residual"}, False)
    ci = res.conf_int_variance()
    ref = REF["berkey_ci"]
    # metafor's UN estimates stop ~1e-5 short (nlminb); the profile limits agree to ~1e-10
    for j, key in enumerate(("tau2_1", "tau2_2", "rho")):
        _close(ci.iloc[j, 0], ref[key][0], rtol=2e-5)
        _close(ci.iloc[j, 1:].to_numpy(), ref[key][1:], rtol=1e-8)
    assert ci.iloc[2, 2] == 1.0          # the profile stays above the bound: rho's range


# ------------------------------------------------------------------ errors
def test_bad_inputs():
    res = _berkey({"test": "z", "dfs": "residual"}, False)
    with pytest.raises(ValueError, match="unknown tau2 level"):
        res.get_prediction(np.eye(2), tau2_levels=["XX", "PD"])
    with pytest.raises(ValueError, match="entries"):
        res.get_prediction(np.eye(2), tau2_levels=["AL", "PD", "AL"])
    with pytest.raises(TypeError, match="callable"):
        res.get_prediction(np.eye(2), transf="exp")
    with pytest.raises(ValueError, match="unknown ddf"):
        MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", KONST, vi="vi").fit(ddf="kr")
    k = MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", KONST, vi="vi").fit()
    with pytest.raises(ValueError, match="exactly one vector"):
        k.get_prediction(np.ones((1, 1)), tau2_levels=["AL"])
    with pytest.raises(ValueError, match="alpha"):
        k.get_random_effects(alpha=1.5)


def test_containment_implies_t():
    res = MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", KONST, vi="vi").fit(
        ddf="contain")
    assert res.use_t and res.test == "t" and res.ddf == "containment"
    assert res.df_coef.iloc[0] == 10


def test_bivariate_meta_predictions():
    """BivariateMeta: the PI of each outcome adds its own tau^2 (metafor's tau2.levels)."""
    from metamodels.multivariate import BivariateMeta
    y = BERKEY.pivot(index="trial", columns="outcome", values="yi")[["AL", "PD"]]
    S = []
    for t in y.index:
        rows = BERKEY[BERKEY.trial == t].set_index("outcome")
        c = rows.loc["AL", "v1i"] if rows.index[0] == "AL" else rows.loc["PD", "v2i"]
        S.append([[rows.loc["AL", "vi"], c], [c, rows.loc["PD", "vi"]]])
    res = BivariateMeta(y.to_numpy(), np.array(S), names=("AL", "PD")).fit(method="REML")
    ref = BCASES[0]["int"]["predict_levels"]
    cols = ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]
    frame = res.get_prediction(np.eye(2)).summary_frame()
    _close(frame[cols], _cols(ref, ("pred", "se", "ci.lb", "ci.ub", "pi.lb", "pi.ub")), rtol=2e-5)
    frame = res.get_prediction(np.eye(2), transf=np.exp).summary_frame()
    _close(frame["obs_ci_upper"], np.exp(ref["pi.ub"]), rtol=2e-5)
    assert frame["mean_se"].isna().all()


def test_profile_consistency_and_plot():
    """The profile log-likelihood is at its maximum at the estimate and drops by
    chi2_1(0.95)/2 at the profile limits; plot_profile has one panel per component."""
    from scipy import stats
    from metamodels.multivariate.profile import profile_loglik
    res = MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", KONST, vi="vi").fit(tol=1e-12)
    th = np.asarray(res.theta)
    ci = res.conf_int_variance()
    for j in range(2):
        assert profile_loglik(res.model, True, th, j, th[j])[0] == pytest.approx(res.llf,
                                                                                  abs=1e-9)
        for lim in ci.iloc[j, 1:]:
            ll = profile_loglik(res.model, True, th, j, lim)[0]
            assert res.llf - ll == pytest.approx(stats.chi2.ppf(0.95, 1) / 2, abs=1e-7)
    fig = res.plot_profile(steps=4)
    assert len(fig.axes) == 2
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_containment_contrasts_and_pickle(tmp_path):
    """t_test / wald_test use the containment df; random-effect labels survive pickling."""
    d = KONST.rename(columns={"year.c": "year_c"})
    res = MetaMixed.from_formula("yi ~ year_c + (1 | district/school)", d, vi="vi").fit(
        ddf="containment", tol=1e-12)
    tt = res.t_test("year_c = 0")
    assert float(np.squeeze(tt.df_denom)) == 54
    _close(float(np.squeeze(tt.pvalue)), res.pvalues.iloc[1])
    tt2 = res.t_test("Intercept + 10 * year_c = 0")
    assert float(np.squeeze(tt2.df_denom)) == 9
    wt = res.wald_test("year_c = 0", use_f=True, scalar=True)
    assert wt.df_denom == res.qm_test.df_denom == 54
    _close(float(np.squeeze(wt.pvalue)), res.qm_test.pvalue)
    assert "t (containment df)" in str(res.summary())
    path = tmp_path / "res.pkl"
    res.save(str(path))
    back = mm.load(str(path)) if hasattr(mm, "load") else pd.read_pickle(path)
    pd.testing.assert_frame_equal(back.random_effects["district:school"],
                                  res.random_effects["district:school"])


def test_tau2_levels_dict_form():
    res = _berkey({"test": "z", "dfs": "residual"}, False)
    a = res.get_prediction(np.eye(2), tau2_levels=["AL", "PD"]).summary_frame()
    b = res.get_prediction(np.eye(2), tau2_levels={"trial": ["AL", "PD"]}).summary_frame()
    pd.testing.assert_frame_equal(a, b)
    one = res.get_prediction(np.eye(2), tau2_levels="PD").summary_frame()
    assert one["obs_ci_upper"].iloc[1] == pytest.approx(a["obs_ci_upper"].iloc[1])
    with pytest.raises(ValueError, match="one entry per vector random term"):
        res.get_prediction(np.eye(2), tau2_levels={"study": ["AL", "PD"]})


def test_random_effects_frame_long_form():
    res = _konst({"test": "z", "dfs": "residual"}, False)
    long = res.random_effects_frame()
    assert list(long.columns) == ["term", "level", "column", "estimate", "se", "lower", "upper"]
    assert len(long) == 11 + 56
    school = long[long.term == "district:school"]
    _close(school["upper"], res.random_effects["district:school"]["pi_upper"])
    rb = _berkey({"test": "z", "dfs": "residual"}, False).random_effects_frame()
    assert len(rb) == 10 and set(rb.column) == {"outcome[AL]", "outcome[PD]"}


def _bcg_fits():
    dat = mm.datasets.load("bcg")
    es = mm.effect_size("RR", dat, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    yield mm.MetaFixed.from_formula("yi ~ ablat", data=es, vi="vi").fit()
    yield mm.MetaRandom.from_formula("yi ~ ablat", data=es, vi="vi").fit(test="knha")
    yield mm.LocationScaleMeta.from_formula("yi ~ ablat", es, vi="vi", scale_formula="~ 1").fit()
    yield mm.BayesMeta.from_formula("yi ~ ablat", data=es, vi="vi",
                                    tau_prior=mm.priors.HalfNormal(0.5)).fit()
    yield MetaMixed.from_formula("yi ~ ablat + (1 | trial)", es.assign(trial=range(len(es))),
                                 vi="vi").fit(test="t")


@pytest.mark.parametrize("res", list(_bcg_fits()), ids=lambda r: type(r.model).__name__)
def test_transf_on_every_prediction(res):
    """transf maps the means and limits (re-ordered for decreasing functions), se NaN."""
    new = pd.DataFrame({"ablat": [10.0, 40.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = res.get_prediction(new).summary_frame()
        ex = res.get_prediction(new, transf=np.exp).summary_frame()
        neg = res.get_prediction(new, transf=lambda x: -x).summary_frame()
    cols = ["mean", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]
    _close(ex[cols], np.exp(raw[cols]), rtol=1e-12)
    assert ex["mean_se"].isna().all()
    _close(neg["mean_ci_lower"], -raw["mean_ci_upper"], rtol=1e-12)
    _close(neg["obs_ci_upper"], -raw["obs_ci_lower"], rtol=1e-12)
    _close(res.predict(new, transf=np.exp), np.exp(raw["mean"]), rtol=1e-12)


def test_profile_ci_on_the_boundary():
    """Kalaian and Raudenbush (ML): rho estimated at -1, the verbal tau^2 CI reaching 0 and
    rho's interval the whole range [-1, 1], as metafor's confint."""
    dat = mm.datasets.load("kalaian1996")
    same = dat.study.to_numpy()[:, None] == dat.study.to_numpy()[None, :]
    sd = np.sqrt(dat.vi.to_numpy())
    V = np.where(same, 0.66 * np.outer(sd, sd), 0.0)
    np.fill_diagonal(V, dat.vi.to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.exceptions.BoundaryWarning)
        res = MetaMixed.from_formula("yi ~ 0 + outcome + (0 + outcome | study)", dat,
                                     V=V).fit(method="ML")
    ref = REF["kalaian_ci"]
    assert res.llf_metafor == pytest.approx(ref["logLik"], abs=1e-9)
    ci = res.conf_int_variance()
    for j, key in enumerate(("tau2_1", "tau2_2", "rho")):
        _close(ci.iloc[j].to_numpy(), ref[key], rtol=1e-6, atol=1e-9)
    assert ci.iloc[1, 1] == 0.0 and tuple(ci.iloc[2]) == (-1.0, -1.0, 1.0)


def test_univariate_blup_refused_with_user_weights():
    res = mm.MetaRandom.from_formula("yi ~ 1", data=RAUD, vi="vi").fit(method="REML",
                                                                        weighted=False)
    with pytest.raises(mm.exceptions.SpecificationError, match="user weights"):
        res.blup()
    with pytest.raises(mm.exceptions.SpecificationError, match="user weights"):
        res.get_random_effects()


def test_coef_table_has_the_df():
    res = _konst({"test": "t", "dfs": "contain"}, True)
    tab = res.coef_table()
    assert tab["df"].tolist() == [9.0, 54.0]
    _close(tab["P>|t|"], res.pvalues)
    _close(tab.iloc[:, -2:], np.asarray(res.conf_int()))


def test_blups_with_a_fixed_component_against_dense_formulas():
    """sigma2 of the districts fixed (metafor's sigma2=c(0.05, NA)): the study BLUPs and
    random effects from the dense V = S + s1 [same district] + s2 [same school]."""
    res = MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", KONST, vi="vi",
                                 sigma2=[0.05, None]).fit(tol=1e-12)
    s1, s2 = 0.05, float(res.theta.iloc[0])
    d, sch = KONST.district.to_numpy(), KONST.school.to_numpy()
    D = (d[:, None] == d[None, :]).astype(float)
    Sc = D * (sch[:, None] == sch[None, :])
    S = np.diag(KONST.vi.to_numpy())
    V = S + s1 * D + s2 * Sc
    W = np.linalg.inv(V)
    X = np.ones((len(d), 1))
    P = W - W @ X @ np.linalg.inv(X.T @ W @ X) @ X.T @ W
    y = KONST.yi.to_numpy()
    b = res.blup()
    _close(b["pred"], y - S @ P @ y, rtol=1e-10)
    _close(b["se"], np.sqrt(np.diag(S - S @ P @ S)), rtol=1e-10)
    Zd = (d[:, None] == np.unique(d)[None, :]).astype(float)
    u = s1 * Zd.T @ W @ (y - X[:, 0] * float(res.params.iloc[0]))
    var = s1 - s1 ** 2 * np.diag(Zd.T @ P @ Zd)
    re = res.random_effects["district"]
    _close(re["pred"], u, rtol=1e-10, atol=1e-12)
    _close(re["se"], np.sqrt(var), rtol=1e-10)


def test_no_random_term_refuses_random_effects():
    d = BERKEY
    res = MetaMixed.from_formula("yi ~ 0 + outcome", d, V=_berkey_V(d)).fit()
    with pytest.raises(mm.exceptions.SpecificationError, match="no estimated random term"):
        res.get_random_effects()
    with pytest.raises(mm.exceptions.SpecificationError, match="no estimated random term"):
        res.conf_int_variance()
    # without random effects the BLUPs of the true effects are the fitted values
    _close(res.blup()["pred"], np.asarray(res.fittedvalues), rtol=1e-10)


def test_plot_caterpillar_uses_the_prediction_intervals():
    import matplotlib.pyplot as plt
    res = _konst({"test": "t", "dfs": "contain"}, False)
    fig = res.plot_caterpillar(alpha=0.1)
    assert len(fig.axes) == 2                       # district, district:school
    ax = fig.axes[0]
    segs = [c for c in ax.collections if c.get_gid() == "intervals"][0].get_segments()
    frame = res.get_random_effects(alpha=0.1)["district"]
    lows = sorted(min(s[:, 0]) for s in segs)
    _close(lows, np.sort(frame["pi_lower"].to_numpy()), rtol=1e-12)
    plt.close(fig)
    fig = _berkey({"test": "z", "dfs": "residual"}, False).plot_caterpillar()
    assert len(fig.axes) == 2                       # one term, columns AL and PD
    plt.close(fig)
