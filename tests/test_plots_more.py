"""Forest plots of Mantel-Haenszel / Peto and MetaMixed / BivariateMeta fits, caterpillar
plots of EBLUPs and residual diagnostics panels: the plotted numbers are the results'
numbers (checked on the artists' data).

References: tests/reference/scripts/caterpillar_lme4.R -> caterpillar_lme4.json (lme4's
ranef(condVar = TRUE), fitted values and scaled Pearson residuals);
tests/reference/scripts/forest_mv_weights.R -> forest_mv_weights.json (metafor's
weights.rma.mv and the pooled estimates / prediction intervals of rma.mv);
Mantel-Haenszel / Peto weights are checked in test_binary_meta.py.
"""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402
from scipy import stats  # noqa: E402

import metamodels as mm  # noqa: E402
from metamodels.plots import caterpillar_plot, diagnostics_plot, forest_plot  # noqa: E402

REF = Path(__file__).parent / "reference"
LME4 = {c["name"]: c for c in json.loads((REF / "caterpillar_lme4.json").read_text())}
MV = json.loads((REF / "forest_mv_weights.json").read_text())
Z = stats.norm.ppf(0.975)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def by_gid(ax, gid, kind=None):
    arts = [a for a in ax.get_children() if a.get_gid() == gid]
    return [a for a in arts if kind is None or isinstance(a, kind)]


def texts(ax, gid):
    return [t.get_text() for t in by_gid(ax, gid)]


def points(ax, gid="studies"):
    (sc,) = by_gid(ax, gid)
    return np.asarray(sc.get_offsets())


def segments(ax, gid="study_ci"):
    (lc,) = by_gid(ax, gid)
    return np.array([s[:, 0] for s in lc.get_segments()])


def diamonds(ax):
    """(lower, upper, centre, y) of each summary diamond, top to bottom."""
    out = []
    for poly in by_gid(ax, "summary", Polygon):
        xy = poly.get_xy()
        out.append((xy[:, 0].min(), xy[:, 0].max(), xy[np.argmax(xy[:, 1]), 0], xy[0, 1]))
    return sorted(out, key=lambda d: -d[3])


# ------------------------------------------------------ Mantel-Haenszel / Peto
@pytest.fixture(scope="module")
def bcg_tables():
    d = mm.datasets.load("bcg")
    d.index = d["author"] + ", " + d["year"].astype(str)
    return d


def test_mh_forest_ratio_scale(bcg_tables):
    r = mm.mantel_haenszel(bcg_tables, ai="tpos", bi="tneg", ci="cpos", di="cneg", measure="OR")
    fig = r.plot_forest()
    ax = fig.axes[0]
    k = len(bcg_tables)
    y, v = r.yi.to_numpy(), r.vi.to_numpy()
    pts = points(ax)
    assert pts.shape == (k, 2)
    np.testing.assert_allclose(pts[:, 0], np.exp(y), rtol=1e-12)
    seg = segments(ax)
    np.testing.assert_allclose(seg[:, 0], np.exp(y - Z * np.sqrt(v)), rtol=1e-12)
    np.testing.assert_allclose(seg[:, 1], np.exp(y + Z * np.sqrt(v)), rtol=1e-12)
    ((lo, hi, centre, _),) = diamonds(ax)
    np.testing.assert_allclose([lo, hi], r.conf_int(exp=True).to_numpy().ravel(), rtol=1e-12)
    np.testing.assert_allclose(centre, np.exp(r.params.iloc[0]), rtol=1e-12)
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "Odds Ratio (log scale)"
    (ref,) = by_gid(ax, "refline")
    np.testing.assert_allclose(ref.get_xdata(), [1.0, 1.0])
    w = np.array([float(t.rstrip("%")) for t in texts(ax, "weight_text")])
    np.testing.assert_allclose(w, np.round(r.weights.to_numpy(), 1))
    assert texts(ax, "label_text") == list(bcg_tables.index)
    assert texts(ax, "summary_label") == ["FE Model (MH)"]
    (het,) = texts(ax, "heterogeneity_text")
    assert f"Q({k - 1}) = {r.q:.2f}" in het and "Mantel-Haenszel" in het
    assert by_gid(ax, "prediction_interval") == []


def test_peto_forest_log_scale_and_sort(bcg_tables):
    p = mm.peto(bcg_tables, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    ax = p.plot_forest(transform=False, sort="weight").axes[0]
    assert ax.get_xscale() == "linear" and ax.get_xlabel() == "Log Odds Ratio (Peto)"
    pts = points(ax)
    order = np.argsort(-pts[:, 1])                         # top to bottom
    np.testing.assert_allclose(np.sort(pts[:, 0]), np.sort(p.yi.to_numpy()))
    w = p.weights.to_numpy()
    assert np.all(np.diff(w[np.argsort(-w, kind="stable")]) <= 0)
    np.testing.assert_allclose(pts[order, 0], p.yi.to_numpy()[np.argsort(-w, kind="stable")])
    ((lo, hi, centre, _),) = diamonds(ax)
    np.testing.assert_allclose([lo, hi], p.conf_int().to_numpy().ravel(), rtol=1e-12)
    assert texts(ax, "summary_label") == ["FE Model (Peto)"]


def test_mh_forest_difference_and_missing_estimates():
    toy = pd.DataFrame({"ai": [0, 5, 3, 0, 4, 2], "bi": [10, 5, 7, 10, 0, 8],
                        "ci": [2, 0, 4, 0, 6, 3], "di": [8, 10, 6, 10, 0, 9]})
    r = mm.mantel_haenszel(toy, ai="ai", bi="bi", ci="ci", di="di", measure="RR")
    ok = np.isfinite(r.yi.to_numpy())
    assert not ok.all()
    ax = forest_plot(r).axes[0]
    assert points(ax).shape[0] == ok.sum()                 # tables without yi left out
    assert texts(ax, "label_text") == [f"Study {i + 1}" for i in np.flatnonzero(ok)]
    rd = mm.mantel_haenszel(toy, ai="ai", bi="bi", ci="ci", di="di", measure="RD")
    ax = rd.plot_forest(refline=None, show_weights=False).axes[0]
    assert ax.get_xscale() == "linear" and ax.get_xlabel() == "Risk Difference"
    assert by_gid(ax, "refline") == [] and texts(ax, "weight_text") == []
    np.testing.assert_allclose(points(ax)[:, 0], rd.yi.to_numpy()[np.isfinite(rd.yi)])
    with pytest.raises(ValueError, match="labels"):
        rd.plot_forest(labels=["a"])


# ----------------------------------------------------- MetaMixed / Bivariate
@pytest.fixture(scope="module")
def berkey():
    return mm.datasets.load("berkey1998")


def _blocks(b):
    return [b.loc[b.trial == t, ["v1i", "v2i"]].to_numpy() for t in b.trial.unique()]


def test_metamixed_forest_grouped_by_outcome(berkey):
    res = mm.MetaMixed.from_formula("yi ~ 0 + outcome + (0 + outcome | trial)", berkey,
                                    V=_blocks(berkey)).fit()
    ref = MV["berkey"]
    ax = res.plot_forest().axes[0]
    pts = points(ax)
    assert pts.shape == (10, 2)
    # rows grouped: AL rows above PD rows, each group in data order
    order = np.argsort(-pts[:, 1])
    al = (berkey["outcome"] == "AL").to_numpy()
    np.testing.assert_allclose(pts[order, 0], np.r_[berkey.yi[al], berkey.yi[~al]])
    sd = np.sqrt(np.r_[berkey.v2i[al], berkey.v1i[~al]])
    seg = segments(ax)
    np.testing.assert_allclose(seg[order, 0], pts[order, 0] - Z * sd, rtol=1e-12)
    assert texts(ax, "group_header") == ["outcome[AL]", "outcome[PD]"]
    d = diamonds(ax)
    assert len(d) == 2
    np.testing.assert_allclose([x[2] for x in d], ref["beta"], rtol=1e-5)
    np.testing.assert_allclose([x[0] for x in d], ref["ci_lb"], rtol=1e-5)
    np.testing.assert_allclose([x[1] for x in d], ref["ci_ub"], rtol=1e-5)
    # prediction intervals of a new effect per outcome (rows 0 = PD, 1 = AL in R's order)
    pis = sorted((tuple(sorted(a.get_xdata())) for a in by_gid(ax, "prediction_interval")))
    want = sorted([(ref["pi_lb"][1], ref["pi_ub"][1]), (ref["pi_lb"][0], ref["pi_ub"][0])])
    np.testing.assert_allclose(pis, want, rtol=1e-5)
    w = np.array([float(t.rstrip("%")) for t in texts(ax, "weight_text")])
    np.testing.assert_allclose(w, np.round(ref["weights"], 1), atol=0.051)
    assert "QE(8)" in texts(ax, "heterogeneity_text")[0]


def test_bivariate_forest_matches_results(berkey):
    pd_, al = berkey[berkey.outcome == "PD"].set_index("trial"), \
        berkey[berkey.outcome == "AL"].set_index("trial")
    wide = pd.DataFrame({"PD": pd_.yi, "AL": al.yi, "vPD": pd_.v1i, "cov": pd_.v2i,
                         "vAL": al.v2i})
    res = mm.BivariateMeta.from_formula("PD + AL ~ 1", wide,
                                        within_cov=["vPD", "cov", "vAL"]).fit()
    ax = res.plot_forest(alpha=0.1).axes[0]
    assert texts(ax, "group_header") == ["PD", "AL"]
    d = diamonds(ax)
    ci = np.asarray(res.conf_int(0.1))
    np.testing.assert_allclose([x[2] for x in d], np.asarray(res.params), rtol=1e-12)
    np.testing.assert_allclose([[x[0], x[1]] for x in d], ci, rtol=1e-12)
    sf = res.get_prediction().summary_frame(0.1)
    pis = [sorted(a.get_xdata()) for a in by_gid(ax, "prediction_interval")]
    np.testing.assert_allclose(sorted(pis), sorted(
        [[sf["obs_ci_lower"].iloc[0], sf["obs_ci_upper"].iloc[0]],
         [sf["obs_ci_lower"].iloc[1], sf["obs_ci_upper"].iloc[1]]]), rtol=1e-12)
    # same model as the UN MetaMixed fit: same weights
    w = np.array([float(t.rstrip("%")) for t in texts(ax, "weight_text")])
    np.testing.assert_allclose(w, np.round(MV["berkey"]["weights"], 1), atol=0.051)
    assert "Estimate [90% CI]" in texts(ax, "header")
    assert "rho" in texts(ax, "heterogeneity_text")[0]


def test_metamixed_forest_intercept_only_one_diamond():
    k11 = mm.datasets.load("konstantopoulos2011")
    res = mm.MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", k11, vi="vi").fit()
    ref = MV["konstantopoulos"]
    ax = res.plot_forest(group="district", annotate=False).axes[0]
    assert points(ax).shape == (len(k11), 2)
    assert len(texts(ax, "group_header")) == k11["district"].nunique()
    ((lo, hi, centre, _),) = diamonds(ax)
    np.testing.assert_allclose([lo, centre, hi], [ref["ci_lb"], ref["beta"], ref["ci_ub"]],
                               rtol=1e-5)
    (pi,) = by_gid(ax, "prediction_interval")
    np.testing.assert_allclose(sorted(pi.get_xdata()), [ref["pi_lb"], ref["pi_ub"]], rtol=1e-5)
    # without a grouping: no headers; meta-regression: grey fitted diamonds, no summary
    reg = mm.MetaMixed.from_formula("yi ~ year + (1 | district/school)", k11, vi="vi").fit()
    ax = reg.plot_forest().axes[0]
    assert texts(ax, "group_header") == [] and diamonds(ax) == []
    fitted = by_gid(ax, "fitted", Polygon)
    sf = reg.get_prediction().summary_frame()
    assert len(fitted) == len(k11)
    np.testing.assert_allclose([p.get_xy()[:, 0].min() for p in fitted], sf["mean_ci_lower"])
    with pytest.raises(ValueError, match="not a column"):
        res.plot_forest(group="nope")
    with pytest.raises(ValueError, match="entries"):
        res.plot_forest(group=[1, 2])
    with pytest.raises(TypeError, match="unexpected"):
        mm.MetaFixed(np.array([0.1, 0.3, 0.2]), np.array([0.01, 0.02, 0.03])).fit() \
            .plot_forest(group="x")


# ---------------------------------------------------------------- caterpillar
@pytest.fixture(scope="module")
def sleep_fit(sleepstudy):
    return mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleepstudy).fit()


def _lme4_frame(case):
    return pd.DataFrame(case["ranef"])


def test_random_effects_frame_matches_lme4(sleep_fit):
    ref = _lme4_frame(LME4["sleepstudy_slopes"])
    got = sleep_fit.random_effects_frame()
    assert list(got.columns) == ["term", "level", "column", "estimate", "se"]
    assert got["level"].tolist() == ref["grp"].tolist()
    assert got["column"].tolist() == ref["term"].tolist()
    np.testing.assert_allclose(got["estimate"], ref["condval"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["se"], ref["condsd"], rtol=1e-5)
    cov = sleep_fit.random_effects_cov
    assert cov.shape == (18, 2, 2)
    np.testing.assert_allclose(np.sqrt(cov[:, 1, 1]), got["se"][got.column == "Days"])


def test_random_effects_nested_terms_match_lme4():
    case = LME4["pastes_nested"]
    data = pd.DataFrame(case["data"])
    fit = mm.MixedModel.from_formula("strength ~ 1 + (1 | batch/cask)", data).fit()
    got = fit.random_effects_frame()
    ref = _lme4_frame(case)
    # lme4 names the nested factor cask:batch (levels "a:A"), metamodels batch:cask ("A:a")
    ref["level"] = [":".join(reversed(g.split(":"))) if v == "cask:batch" else g
                    for g, v in zip(ref["grp"], ref["grpvar"])]
    ref["term"] = ref["grpvar"].replace({"cask:batch": "batch:cask"})
    m = got.merge(ref, on=["term", "level"])
    assert len(m) == len(got) == 40
    np.testing.assert_allclose(m["estimate"], m["condval"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m["se"], m["condsd"], rtol=1e-5)
    assert set(fit.random_effects_cov) == {"batch", "batch:cask"}
    fig = fit.plot_caterpillar()
    visible = [a for a in fig.axes if a.get_visible()]
    assert len(visible) == 2
    assert [points(a, "estimates").shape[0] for a in visible] == [10, 30]
    assert [a.get_ylabel() for a in visible] == ["batch", "batch:cask"]


def test_caterpillar_plot_of_mixed_results(sleep_fit):
    fig = sleep_fit.plot_caterpillar(alpha=0.1)
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == 2 and [a.get_title() for a in axes] == ["(Intercept)", "Days"]
    frame = sleep_fit.random_effects_frame()
    icpt = frame[frame.column == "(Intercept)"].set_index("level")
    order = icpt["estimate"].sort_values(kind="stable").index.tolist()
    assert [t.get_text() for t in axes[0].get_yticklabels()] == order
    z = stats.norm.ppf(0.95)
    for ax, col in zip(axes, ["(Intercept)", "Days"]):
        part = frame[frame.column == col].set_index("level").loc[order]
        pts = points(ax, "estimates")
        assert pts.shape == (18, 2)
        np.testing.assert_allclose(pts[:, 0], part["estimate"])
        np.testing.assert_allclose(pts[:, 1], np.arange(18))     # sorted by intercept
        seg = segments(ax, "intervals")
        np.testing.assert_allclose(seg[:, 0], part["estimate"] - z * part["se"])
        np.testing.assert_allclose(seg[:, 1], part["estimate"] + z * part["se"])
        (ref,) = by_gid(ax, "refline")
        np.testing.assert_allclose(ref.get_xdata(), [0, 0])
    assert axes[0].get_ylabel() == "Subject"


def test_caterpillar_plot_of_a_frame():
    frame = pd.DataFrame({"label": ["a", "b", "c"], "estimate": [0.3, -0.2, 0.1],
                          "lower": [0.1, -0.5, -0.3], "upper": [0.6, 0.0, 0.4]})
    fig, ax = plt.subplots()
    out = caterpillar_plot(frame, ax=ax, sort=False, refline=None)
    assert out is fig
    np.testing.assert_allclose(points(ax, "estimates"), [[0.3, 0], [-0.2, 1], [0.1, 2]])
    np.testing.assert_allclose(segments(ax, "intervals"), frame[["lower", "upper"]])
    assert by_gid(ax, "refline") == []
    with pytest.raises(ValueError, match="se"):
        caterpillar_plot(frame.drop(columns="upper"))
    with pytest.raises(ValueError, match="level"):
        caterpillar_plot(frame.drop(columns="label"))
    with pytest.raises(ValueError, match="repeat"):
        caterpillar_plot(pd.concat([frame, frame]))
    with pytest.raises(TypeError, match="DataFrame"):
        caterpillar_plot(np.zeros(3))
    two = pd.concat([frame.assign(column="x"), frame.assign(column="y")])
    with pytest.raises(ValueError, match="single panel"):
        caterpillar_plot(two, ax=ax)
    with pytest.raises(ValueError, match="alpha"):
        caterpillar_plot(frame, alpha=2)


# ---------------------------------------------------------------- diagnostics
def test_diagnostics_of_mixed_model_match_lme4(sleep_fit):
    ref = LME4["sleepstudy_slopes"]
    np.testing.assert_allclose(sleep_fit.fittedvalues, ref["fitted"], rtol=1e-7)
    np.testing.assert_allclose(sleep_fit.resid_pearson_conditional, ref["pearson_scaled"], rtol=1e-5,
                               atol=1e-6)
    fig = sleep_fit.plot_diagnostics()
    a1, a2, a3 = fig.axes
    np.testing.assert_allclose(points(a1, "points"),
                               np.column_stack([ref["fitted"], ref["pearson_scaled"]]),
                               rtol=1e-5, atol=1e-6)
    qq = points(a2, "points")
    n = len(ref["fitted"])
    np.testing.assert_allclose(qq[:, 0], stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n))
    np.testing.assert_allclose(qq[:, 1], np.sort(ref["pearson_scaled"]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(points(a3, "points")[:, 1],
                               np.sqrt(np.abs(ref["pearson_scaled"])), rtol=1e-5, atol=1e-6)
    assert len(by_gid(a1, "smooth")) == 1 and len(by_gid(a3, "smooth")) == 1
    assert [a.get_title() for a in fig.axes] == ["Residuals vs fitted", "Normal Q-Q",
                                                 "Scale-location"]


def test_diagnostics_of_meta_results(bcg):
    res = mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi="vi").fit()
    fig = res.plot_diagnostics(which=("qq", "fitted"), smooth=False)
    assert len(fig.axes) == 2
    z = res.rstandard()["z"].to_numpy()
    k = z.size
    qq = points(fig.axes[0], "points")
    np.testing.assert_allclose(qq[:, 1], np.sort(z))
    np.testing.assert_allclose(qq[:, 0], stats.norm.ppf((np.arange(1, k + 1) - 0.5) / k))
    np.testing.assert_allclose(points(fig.axes[1], "points"),
                               np.column_stack([np.asarray(res.fittedvalues), z]))
    assert by_gid(fig.axes[1], "smooth") == []
    k11 = mm.datasets.load("konstantopoulos2011")
    mv = mm.MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", k11, vi="vi").fit()
    ax = mv.plot_diagnostics(which=["scale"]).axes[0]
    np.testing.assert_allclose(points(ax, "points")[:, 1],
                               np.sqrt(np.abs(mv.rstandard()["z"].to_numpy())))
    with pytest.raises(ValueError, match="which"):
        res.plot_diagnostics(which=("leverage",))
    with pytest.raises(TypeError, match="plot_diagnostics"):
        diagnostics_plot(object())


def test_random_effects_level_labels_of_every_interface(sleepstudy, sleep_fit):
    kw = mm.MixedModel.from_formula("Reaction ~ Days", sleepstudy, groups="Subject",
                                    re_formula="~Days").fit()
    ref = sleep_fit.random_effects_frame()
    got = kw.random_effects_frame()
    assert got["level"].tolist() == ref["level"].tolist()
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-6)
    X = np.column_stack([np.ones(len(sleepstudy)), sleepstudy["Days"]])
    arr = mm.MixedModel(sleepstudy["Reaction"].to_numpy(), X,
                        groups=sleepstudy["Subject"].to_numpy()).fit()
    assert arr.random_effects_frame()["level"].tolist() == [str(i) for i in range(18)]


def test_random_effects_cov_of_crossed_terms_equals_dense_algebra():
    rng = np.random.default_rng(5)
    a = np.repeat(np.arange(6), 8)
    b = np.tile(np.arange(8), 6)
    keep = rng.random(a.size) > 0.15                      # unbalanced
    a, b = a[keep], b[keep]
    x = rng.standard_normal(a.size)
    y = 1 + (0.5 + rng.normal(0, 0.6, 6)[a]) * x + rng.normal(0, 0.8, 6)[a] + \
        rng.normal(0, 1.2, 8)[b] + rng.standard_normal(a.size)
    df = pd.DataFrame({"y": y, "x": x, "a": a.astype(str), "b": b.astype(str)})
    fit = mm.MixedModel.from_formula("y ~ x + (x | a) + (1 | b)", df).fit()
    cov = fit.random_effects_cov
    spec = fit.model.spec
    theta = np.asarray(fit.theta)
    n = len(df)
    V = np.zeros((n, n))
    for rows, blocks in zip(spec.layout.groups, spec.build(theta)):
        for r, B in zip(rows, blocks):
            V[np.ix_(r, r)] = B
    Vi = np.linalg.inv(V)
    for part, G in zip(spec.random, spec.G_matrices(theta)):
        q = part.Z.shape[1]
        for lev in range(int(part.groups.max()) + 1):
            Zl = np.where((part.groups == lev)[:, None], part.Z, 0.0)
            want = G - G @ Zl.T @ Vi @ Zl @ G
            np.testing.assert_allclose(cov[part.name][lev], want, rtol=1e-9, atol=1e-12)
            assert cov[part.name][lev].shape == (q, q)
