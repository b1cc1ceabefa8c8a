"""Forest and funnel plots (rendered headless with the Agg backend)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402
from scipy import stats  # noqa: E402

import metamodels as mm  # noqa: E402
from metamodels.plots import forest_plot, funnel_plot  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def res(bcg):
    return mm.MetaRandom.from_formula("yi ~ 1", data=bcg, vi="vi").fit()


@pytest.fixture(scope="module")
def res_reg(bcg):
    return mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi="vi").fit()


@pytest.fixture(scope="module")
def res_fe(bcg):
    return mm.MetaFixed(bcg["yi"].to_numpy(), bcg["vi"].to_numpy()).fit()


def by_gid(ax, gid, kind=None):
    arts = [a for a in ax.get_children() if a.get_gid() == gid]
    if kind is not None:
        arts = [a for a in arts if isinstance(a, kind)]
    return arts


def texts(ax, gid):
    return [t.get_text() for t in by_gid(ax, gid)]


def study_points(ax):
    (sc,) = by_gid(ax, "studies")
    return np.asarray(sc.get_offsets())


def diamond_x(ax):
    (poly,) = by_gid(ax, "summary", Polygon)
    xy = poly.get_xy()
    return xy[:, 0].min(), xy[:, 0].max(), xy[:, 0][np.argmax(xy[:, 1])]


def save(fig, path):
    fig.savefig(path, dpi=100)
    assert path.exists()
    assert path.stat().st_size > 5 * 1024
    return path


# ----------------------------------------------------------------- forest
def test_forest_random_effects(res, bcg, tmp_path):
    fig = forest_plot(res)
    assert isinstance(fig, matplotlib.figure.Figure)
    save(fig, tmp_path / "forest.png")
    ax = fig.axes[0]
    k = len(bcg)
    pts = study_points(ax)
    assert pts.shape == (k, 2)
    np.testing.assert_allclose(pts[:, 0], bcg["yi"])
    # study intervals y_i +/- z sqrt(v_i)
    (lc,) = by_gid(ax, "study_ci")
    segs = np.array([s[:, 0] for s in lc.get_segments()])
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(segs[:, 0], bcg["yi"] - z * np.sqrt(bcg["vi"]))
    np.testing.assert_allclose(segs[:, 1], bcg["yi"] + z * np.sqrt(bcg["vi"]))
    # diamond = pooled estimate and its CI
    lo, hi, top = diamond_x(ax)
    ci = np.asarray(res.conf_int(0.05)).ravel()
    np.testing.assert_allclose([lo, hi], ci, rtol=1e-12)
    np.testing.assert_allclose(top, np.asarray(res.params)[0], rtol=1e-12)
    # prediction interval = obs_ci bounds
    sf = res.get_prediction().summary_frame(0.05)
    (pi,) = by_gid(ax, "prediction_interval")
    np.testing.assert_allclose(sorted(pi.get_xdata()),
                               [sf["obs_ci_lower"].iloc[0], sf["obs_ci_upper"].iloc[0]])
    # weights in percent sum to 100 and follow 1/(v + tau^2)
    w = np.array([float(t.rstrip("%")) for t in texts(ax, "weight_text")])
    assert w.size == k
    assert abs(w.sum() - 100) < 0.5
    wt = 1 / (bcg["vi"].to_numpy() + res.tau2)
    np.testing.assert_allclose(w, np.round(100 * wt / wt.sum(), 1))
    # text columns and heterogeneity line
    est = texts(ax, "estimate_text")
    assert len(est) == k and est[0] == "%.2f [%.2f, %.2f]" % (
        bcg["yi"][0], bcg["yi"][0] - z * np.sqrt(bcg["vi"][0]), bcg["yi"][0] + z * np.sqrt(bcg["vi"][0]))
    assert texts(ax, "summary_text") == ["%.2f [%.2f, %.2f]" % (np.asarray(res.params)[0], *ci)]
    (het,) = texts(ax, "heterogeneity_text")
    assert "REML" in het and "Q(12) = 152.23" in het and "p < .001" in het
    assert "92.2%" in het and "0.31" in het
    assert texts(ax, "label_text") == [f"Study {i}" for i in range(1, k + 1)]


def test_forest_alpha_and_no_prediction(res, tmp_path):
    fig = res.plot_forest(alpha=0.1, show_prediction=False, show_weights=False)
    save(fig, tmp_path / "forest90.png")
    ax = fig.axes[0]
    lo, hi, _ = diamond_x(ax)
    np.testing.assert_allclose([lo, hi], np.asarray(res.conf_int(0.1)).ravel())
    assert by_gid(ax, "prediction_interval") == []
    assert texts(ax, "weight_text") == []
    assert "Estimate [90% CI]" in texts(ax, "header")


def test_forest_transform_exp(res, bcg, tmp_path):
    fig = res.plot_forest(transform=np.exp, xlabel="Risk ratio")
    save(fig, tmp_path / "forest_exp.png")
    ax = fig.axes[0]
    np.testing.assert_allclose(study_points(ax)[:, 0], np.exp(bcg["yi"]))
    lo, hi, top = diamond_x(ax)
    np.testing.assert_allclose([lo, hi], np.exp(np.asarray(res.conf_int()).ravel()))
    np.testing.assert_allclose(top, np.exp(np.asarray(res.params)[0]))
    sf = res.get_prediction().summary_frame()
    (pi,) = by_gid(ax, "prediction_interval")
    np.testing.assert_allclose(sorted(pi.get_xdata()),
                               np.exp([sf["obs_ci_lower"].iloc[0], sf["obs_ci_upper"].iloc[0]]))
    (ref,) = by_gid(ax, "refline")
    np.testing.assert_allclose(ref.get_xdata(), [1.0, 1.0])
    assert ax.get_xlabel() == "Risk ratio"
    assert texts(ax, "estimate_text")[0].startswith("%.2f" % np.exp(bcg["yi"][0]))


def test_forest_log_scale(res, tmp_path):
    fig = res.plot_forest(transform=np.exp, xscale="log")
    save(fig, tmp_path / "forest_log.png")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    lo, hi = ax.get_xlim()
    pts = study_points(ax)[:, 0]
    assert 0 < lo < pts.min() and hi > pts.max()
    assert "1" in [t.get_text() for t in ax.get_xticklabels()]
    with pytest.raises(ValueError, match="positive"):
        res.plot_forest(xscale="log")
    with pytest.raises(ValueError, match="xscale"):
        res.plot_forest(xscale="sqrt")


def test_forest_sort_and_labels(res, bcg):
    labels = (bcg["author"] + ", " + bcg["year"].astype(str)).tolist()
    ax = res.plot_forest(sort="effect", labels=labels, refline=None).axes[0]
    pts = study_points(ax)
    top_to_bottom = np.argsort(-pts[:, 1])
    assert np.all(np.diff(pts[top_to_bottom, 0]) >= 0)
    assert by_gid(ax, "refline") == []
    lab = by_gid(ax, "label_text")
    by_row = sorted(lab, key=lambda t: -t.get_position()[1])
    assert by_row[0].get_text() == labels[int(np.argmin(bcg["yi"]))]
    ax = res.plot_forest(sort="weight").axes[0]
    w = np.array([float(t.rstrip("%")) for t in texts(ax, "weight_text")])
    rows = [t.get_position()[1] for t in by_gid(ax, "weight_text")]
    assert np.all(np.diff(w[np.argsort(rows)[::-1]]) <= 0.05)


def test_forest_row_labels_from_index(bcg):
    dat = bcg.set_index(bcg["author"] + " " + bcg["year"].astype(str))
    fit = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit(method="DL")
    ax = fit.plot_forest().axes[0]
    assert texts(ax, "label_text") == list(dat.index)
    (het,) = texts(ax, "heterogeneity_text")
    assert het.startswith("RE Model (DL)")


def test_forest_fixed_effects(res_fe, bcg, tmp_path):
    fig = res_fe.plot_forest()
    save(fig, tmp_path / "forest_fe.png")
    ax = fig.axes[0]
    assert by_gid(ax, "prediction_interval") == []
    w = np.array([float(t.rstrip("%")) for t in texts(ax, "weight_text")])
    v = bcg["vi"].to_numpy()
    np.testing.assert_allclose(w, np.round(100 * (1 / v) / np.sum(1 / v), 1))
    lo, hi, _ = diamond_x(ax)
    np.testing.assert_allclose([lo, hi], np.asarray(res_fe.conf_int()).ravel())
    (het,) = texts(ax, "heterogeneity_text")
    assert het.startswith("FE Model") and "tau" not in het


def test_forest_meta_regression(res_reg, bcg, tmp_path):
    fig = res_reg.plot_forest()
    save(fig, tmp_path / "forest_reg.png")
    ax = fig.axes[0]
    k = len(bcg)
    assert study_points(ax).shape == (k, 2)
    assert by_gid(ax, "summary") == [] and by_gid(ax, "prediction_interval") == []
    fitted = by_gid(ax, "fitted", Polygon)
    assert len(fitted) == k
    sf = res_reg.get_prediction().summary_frame()
    for i, poly in enumerate(fitted):
        xy = poly.get_xy()
        np.testing.assert_allclose([xy[:, 0].min(), xy[:, 0].max()],
                                   [sf["mean_ci_lower"].iloc[i], sf["mean_ci_upper"].iloc[i]])
        np.testing.assert_allclose(xy[np.argmax(xy[:, 1]), 0], sf["mean"].iloc[i])
    w = np.array([float(t.rstrip("%")) for t in texts(ax, "weight_text")])
    assert abs(w.sum() - 100) < 0.5
    (het,) = texts(ax, "heterogeneity_text")
    assert "QE(11)" in het and "QM(1)" in het and het.startswith("Mixed-Effects Model (REML)")


def test_forest_knha_meta_regression_shows_f(bcg):
    fit = mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi="vi").fit(test="knha")
    (het,) = texts(fit.plot_forest().axes[0], "heterogeneity_text")
    assert "F(1, 11)" in het


def test_forest_into_given_axes(res, tmp_path):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5))
    out = forest_plot(res, ax=ax2, annotate=False, title="BCG")
    assert out is fig
    assert len(by_gid(ax2, "studies")) == 1 and by_gid(ax1, "studies") == []
    assert texts(ax2, "estimate_text") == [] and texts(ax2, "weight_text") == []
    assert ax2.get_title() == "BCG"
    save(fig, tmp_path / "forest_ax.png")


def test_forest_errors(res):
    with pytest.raises(ValueError, match="sort"):
        forest_plot(res, sort="size")
    with pytest.raises(ValueError, match="labels"):
        forest_plot(res, labels=["a", "b"])
    for a in (0, 1, -0.1, 1.5, "x"):
        with pytest.raises(ValueError, match="alpha"):
            forest_plot(res, alpha=a)
    with pytest.raises(TypeError, match="transform"):
        forest_plot(res, transform="exp")
    with pytest.raises(TypeError, match="result"):
        forest_plot(np.arange(3))


# ----------------------------------------------------------------- funnel
def test_funnel_se(res, bcg, tmp_path):
    fig = funnel_plot(res)
    save(fig, tmp_path / "funnel.png")
    ax = fig.axes[0]
    pts = study_points(ax)
    np.testing.assert_allclose(pts[:, 0], bcg["yi"])
    np.testing.assert_allclose(pts[:, 1], np.sqrt(bcg["vi"]))
    lo, hi = ax.get_ylim()
    assert hi == 0 and lo > np.sqrt(bcg["vi"]).max()  # inverted, se = 0 on top
    (line,) = by_gid(ax, "estimate_line")
    b = np.asarray(res.params)[0]
    np.testing.assert_allclose(line.get_xdata(), [b, b])
    left, right = by_gid(ax, "pseudo_ci")
    s = left.get_ydata()
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(left.get_xdata(), b - z * s)
    np.testing.assert_allclose(right.get_xdata(), b + z * s)
    assert len([a for a in ax.get_children() if str(a.get_gid()).startswith("contour_")]) == 3
    assert len(ax.get_legend().get_texts()) == 4


def test_funnel_variants(res, bcg, tmp_path):
    fig = res.plot_funnel(contours=None, yaxis="vi", alpha=0.1)
    save(fig, tmp_path / "funnel_vi.png")
    ax = fig.axes[0]
    np.testing.assert_allclose(study_points(ax)[:, 1], bcg["vi"])
    assert ax.get_ylim()[1] == 0
    assert by_gid(ax, "pseudo_ci_region") and ax.get_legend() is None
    left, _ = by_gid(ax, "pseudo_ci")
    b = np.asarray(res.params)[0]
    np.testing.assert_allclose(left.get_xdata(),
                               b - stats.norm.ppf(0.95) * np.sqrt(left.get_ydata()))
    ax = res.plot_funnel(yaxis="inverse_se", contours=[0.95]).axes[0]
    np.testing.assert_allclose(study_points(ax)[:, 1], 1 / np.sqrt(bcg["vi"]))
    lo, hi = ax.get_ylim()
    assert 0 < lo < hi


def test_funnel_meta_regression(res_reg, bcg, tmp_path):
    fig, ax = plt.subplots()
    out = res_reg.plot_funnel(ax=ax)
    assert out is fig
    save(fig, tmp_path / "funnel_reg.png")
    X = np.column_stack([np.ones(len(bcg)), bcg["ablat"]])
    resid = bcg["yi"].to_numpy() - X @ np.asarray(res_reg.params)
    np.testing.assert_allclose(study_points(ax)[:, 0], resid)
    (line,) = by_gid(ax, "estimate_line")
    np.testing.assert_allclose(line.get_xdata(), [0, 0])
    assert ax.get_xlabel() == "Residual value"


def test_funnel_errors(res):
    with pytest.raises(ValueError, match="yaxis"):
        funnel_plot(res, yaxis="n")
    with pytest.raises(ValueError, match="alpha"):
        funnel_plot(res, alpha=1.0)
    with pytest.raises(ValueError, match="contour"):
        funnel_plot(res, contours=(0.9, 1.2))
    with pytest.raises(ValueError, match="contour"):
        funnel_plot(res, contours="abc")
