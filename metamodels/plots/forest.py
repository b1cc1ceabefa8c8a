"""Forest plot of a univariate meta-analysis or meta-regression."""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import ticker, transforms
from matplotlib.font_manager import FontProperties
from matplotlib.collections import LineCollection
from matplotlib.patches import Polygon
from scipy import stats

__all__ = ["forest_plot"]

_FONTSIZE = 9.0
_ROW_IN = 0.27             # inches per row of a new figure


# ---------------------------------------------------------------- helpers
def _check_alpha(alpha):
    try:
        ok = 0.0 < float(alpha) < 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    return float(alpha)


def _check_results(results):
    model = getattr(results, "model", None)
    if model is None or not hasattr(model, "vi") or not hasattr(results, "params"):
        raise TypeError("results must be a fitted MetaFixed/MetaRandom result, got "
                        f"{type(results).__name__}")
    return model


def _is_pooled(model):
    """True for an intercept-only model (one pooled effect)."""
    return model.k_params == 1 and bool(getattr(model, "k_constant", 1))


def _text_width(strings, bold=False):
    """Width in points of the widest string at the plot's font size."""
    from matplotlib.textpath import TextToPath
    prop = FontProperties(size=_FONTSIZE, weight="bold" if bold else "normal")
    t2p = TextToPath()
    return max(t2p.get_text_width_height_descent(s, prop, ismath=False)[0] for s in strings)


def _new_figure(width, height):
    import matplotlib.pyplot as plt  # only to create a new figure
    return plt.figure(figsize=(width, height))


def _study_labels(model, labels, k):
    if labels is not None:
        labels = [str(lab) for lab in labels]
        if len(labels) != k:
            raise ValueError(f"labels has {len(labels)} entries but there are {k} studies")
        return labels
    idx = getattr(getattr(model, "data", None), "row_labels", None)
    if idx is None or len(idx) != k:
        return [f"Study {i + 1}" for i in range(k)]
    idx = pd.Index(idx)
    if (pd.api.types.is_integer_dtype(idx) and idx.is_monotonic_increasing
            and idx.size and idx[0] == 0):
        # a default 0..n-1 index (possibly with dropped rows): number studies from 1
        return [f"Study {int(i) + 1}" for i in idx]
    return [str(lab) for lab in idx]


def _fmt_num(x):
    x = float(x)
    return f"{x:.2f}" if x == 0 or abs(x) >= 0.01 else f"{x:.2g}"


def _fmt_p(p):
    if p < 0.001:
        return "p < .001"
    return "p = " + f"{p:.3f}".lstrip("0")


def _heterogeneity_text(results, pooled):
    method = results.method
    if method == "FE":
        head = "FE Model" if pooled else "Fixed-Effects Model"
    else:
        head = f"RE Model ({method})" if pooled else f"Mixed-Effects Model ({method})"
    parts = []
    if method != "FE":
        parts.append(r"$\tau^2$ = " + _fmt_num(results.tau2))
    i2 = getattr(results, "i2", None)
    if i2 is not None and np.isfinite(i2):
        parts.append(r"$I^2$ = " + f"{100 * i2:.1f}%")
    q = getattr(results, "q", None)
    if q is not None and np.isfinite(q):
        name = "Q" if pooled else "QE"
        parts.append(f"{name}({results.q_df}) = {q:.2f}, {_fmt_p(results.q_pvalue)}")
    wt = None if pooled else getattr(results, "qm_test", None)
    if wt is not None:
        if wt.distribution == "F":
            parts.append(f"F({wt.df_num}, {wt.df_denom:g}) = {wt.statistic:.2f}, "
                         f"{_fmt_p(wt.pvalue)}")
        else:
            parts.append(f"QM({wt.df_num}) = {wt.statistic:.2f}, {_fmt_p(wt.pvalue)}")
    return head + ": " + ", ".join(parts)


def _apply(transform, est, lo, hi):
    """Transform estimates and interval ends (any monotone function)."""
    est, lo, hi = (np.asarray(transform(np.asarray(a, dtype=float)), dtype=float)
                   for a in (est, lo, hi))
    return est, np.minimum(lo, hi), np.maximum(lo, hi)


def _ci_string(e, lo, hi):
    return f"{e:.2f} [{lo:.2f}, {hi:.2f}]"


# ------------------------------------------------------------------ main
def forest_plot(results, ax=None, labels=None, alpha=0.05, show_weights=True,
                show_prediction=True, sort=None, transform=None, xlabel="Effect size",
                refline=0, title=None, annotate=True, xscale="linear"):
    """Forest plot of the study estimates and the pooled (or fitted) effects.

    Parameters
    ----------
    results : MetaResults
        A fitted :class:`~metamodels.MetaFixed` or :class:`~metamodels.MetaRandom`
        result, with or without moderators.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into.  The study labels and the text columns are drawn outside
        the axes (left and right), so leave room for them.  A new figure, sized to
        the number of studies, is created when omitted.
    labels : sequence of str, optional
        One label per study.  Defaults to the row labels of pandas/formula input;
        a default integer index ``0, 1, ..`` (possibly with dropped rows) and array
        input give ``"Study 1", "Study 2", ..`` (numbered by position in the data).
    alpha : float
        ``1 - alpha`` is the level of all intervals.
    show_weights : bool
        Show the weights ``1/(v_i + tau^2)`` in percent as a text column.
    show_prediction : bool
        For random-effects models without moderators, draw the prediction interval
        (``obs_ci_lower``, ``obs_ci_upper`` of ``get_prediction().summary_frame``) as
        a line with end caps through the summary diamond.
    sort : {None, "effect", "weight"}
        Study order from top to bottom: data order, increasing effect size, or
        decreasing weight.
    transform : callable, optional
        Monotone function applied to the estimates, interval ends and the reference
        line, e.g. ``np.exp`` to show risk or odds ratios from log ratios.
    xlabel : str
    refline : float or None
        Reference line on the analysis scale (transformed like the estimates, so
        ``0`` becomes ``1`` with ``transform=np.exp``); ``None`` for no line.
    title : str, optional
    annotate : bool
        Draw the text columns ``"estimate [lower, upper]"`` (and the weights).
    xscale : {"linear", "log"}
        Scale of the x axis; ``"log"`` (all plotted values must be positive) suits
        ratio measures shown with ``transform=np.exp``.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Study ``i`` is drawn as a square of area proportional to its weight with the
    interval ``y_i +/- z_{1-alpha/2} sqrt(v_i)``.  For intercept-only models the pooled
    estimate and its interval (from ``results.conf_int(alpha)``) form the diamond at
    the bottom, followed by a line of heterogeneity statistics.  For meta-regression
    the fitted value of each study and its confidence interval are drawn as a grey
    diamond on the study's row instead (as metafor's ``forest.rma``).

    Examples
    --------
    >>> import numpy as np, metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> fig = res.plot_forest(transform=np.exp, xlabel="Risk ratio")
    """
    model = _check_results(results)
    alpha = _check_alpha(alpha)
    if sort not in (None, "effect", "weight"):
        raise ValueError(f"unknown sort {sort!r}; valid values are None, 'effect', 'weight'")
    if xscale not in ("linear", "log"):
        raise ValueError(f"unknown xscale {xscale!r}; valid values are 'linear', 'log'")
    if transform is None:
        transform = _identity
    elif not callable(transform):
        raise TypeError("transform must be a callable such as np.exp")

    y = np.asarray(model.endog, dtype=float)
    v = np.asarray(model.vi, dtype=float)
    k = y.size
    labels = _study_labels(model, labels, k)
    tau2 = float(results.tau2)
    w = 1.0 / (v + tau2)
    wpct = 100.0 * w / w.sum()
    z = stats.norm.ppf(1 - alpha / 2)
    est, lo, hi = _apply(transform, y, y - z * np.sqrt(v), y + z * np.sqrt(v))

    if sort == "effect":
        order = np.argsort(y, kind="stable")
    elif sort == "weight":
        order = np.argsort(-w, kind="stable")
    else:
        order = np.arange(k)
    row = np.empty(k)
    row[order] = k - np.arange(k)   # first study on top at y = k

    pooled = _is_pooled(model)
    frame = results.get_prediction().summary_frame(alpha)
    level = f"{100 * (1 - alpha):g}%"

    # text content first: it sets the figure size
    ci_txt = [_ci_string(*t) for t in zip(est, lo, hi)]
    summary = None
    if pooled:
        ci = np.asarray(results.conf_int(alpha), dtype=float).reshape(-1)
        b = float(np.asarray(results.params, dtype=float).reshape(-1)[0])
        s_est, s_lo, s_hi = (float(a) for a in _apply(transform, b, ci[0], ci[1]))
        summary = (s_est, s_lo, s_hi)
        ci_txt.append(_ci_string(*summary))
    het = _heterogeneity_text(results, pooled)
    show_weights = bool(show_weights and annotate)
    gap = 14.0
    weight_w = _text_width(["Weight", "100.0%"], bold=True) + gap if show_weights else 0.0
    ci_w = _text_width(ci_txt + [f"Estimate [{level} CI]"], bold=True) if annotate else 0.0
    label_w = _text_width(labels + ["Study", "RE Model"], bold=True) + 14
    right_w = (gap + weight_w + ci_w + 8) if annotate else 10.0

    if pooled:
        bottom, top = -2.6, k + 1.4
    else:
        bottom, top = -1.2, k + 1.4
    if ax is None:
        plot_in = 4.5
        left_in, right_in = label_w / 72 + 0.15, right_w / 72 + 0.15
        bot_in, top_in = 0.65, 0.25 + (0.35 if title else 0.0)
        width = left_in + plot_in + right_in
        height = max(2.5, _ROW_IN * (top - bottom) + bot_in + top_in)
        fig = _new_figure(width, height)
        ax = fig.add_axes([left_in / width, bot_in / height, plot_in / width,
                           1 - (bot_in + top_in) / height])
    fig = ax.figure

    # studies: intervals and weight-sized squares
    segs = [[(lo[i], row[i]), (hi[i], row[i])] for i in range(k)]
    ax.add_collection(LineCollection(segs, colors="black", linewidths=1.0, zorder=2,
                                     gid="study_ci"))
    side = 3.5 + 7.5 * np.sqrt(w / w.max())
    ax.scatter(est, row, s=side ** 2, marker="s", color="black", linewidths=0, zorder=3,
               gid="studies")

    xs = [lo, hi]
    if pooled:
        s_est, s_lo, s_hi = summary
        yp = -1.0
        if show_prediction and results.method != "FE":
            pe, pl, ph = _apply(transform, frame["mean"].iloc[0], frame["obs_ci_lower"].iloc[0],
                                frame["obs_ci_upper"].iloc[0])
            pl, ph = float(pl), float(ph)
            ax.plot([pl, ph], [yp, yp], color="0.25", lw=1.2, ls="--", zorder=2,
                    gid="prediction_interval")
            ax.plot([pl, ph], [yp, yp], ls="none", marker="|", ms=9, mew=1.2,
                    color="0.25", zorder=2, gid="prediction_interval_caps")
            xs.append(np.array([pl, ph]))
        ax.add_patch(Polygon([(s_lo, yp), (s_est, yp + 0.42), (s_hi, yp), (s_est, yp - 0.42)],
                             closed=True, facecolor="black", edgecolor="black", zorder=4,
                             gid="summary"))
        xs.append(np.array([s_lo, s_hi]))
        ax.axhline(0.0, color="black", lw=0.8, gid="separator")
        het_y = -2.0
    else:
        fe, fl, fh = _apply(transform, frame["mean"].to_numpy(), frame["mean_ci_lower"].to_numpy(),
                            frame["mean_ci_upper"].to_numpy())
        for i in range(k):
            ax.add_patch(Polygon([(fl[i], row[i]), (fe[i], row[i] + 0.3), (fh[i], row[i]),
                                  (fe[i], row[i] - 0.3)], closed=True, facecolor="0.6",
                                 edgecolor="0.45", lw=0.5, zorder=1, gid="fitted"))
        xs.append(np.r_[fl, fh])
        het_y = -0.6

    if refline is not None:
        ref = float(np.asarray(transform(np.asarray(float(refline)))))
        ax.plot([ref, ref], [bottom + (1.6 if pooled else 0.6), k + 0.6], color="0.3",
                lw=0.9, ls=":", zorder=0, gid="refline")
        xs.append(np.array([ref]))

    _set_xaxis(ax, np.concatenate([np.atleast_1d(a) for a in xs]), xscale)
    ax.set_ylim(bottom, top)
    ax.set_yticks([])
    for side_name in ("left", "right", "top"):
        ax.spines[side_name].set_visible(False)
    ax.tick_params(axis="x", labelsize=_FONTSIZE)
    ax.set_xlabel(xlabel, fontsize=_FONTSIZE + 1)
    if title:
        ax.set_title(title, fontsize=_FONTSIZE + 2)

    # text columns (x in points relative to the axes edges, y in data units)
    blend = transforms.blended_transform_factory(ax.transAxes, ax.transData)

    def at_left(points):
        return blend + transforms.ScaledTranslation(-points / 72, 0, fig.dpi_scale_trans)

    def at_right(points):
        return blend + transforms.ScaledTranslation(points / 72, 0, fig.dpi_scale_trans)

    def text(x_tr, yy, s, gid, ha="left", x=0.0, **kw):
        kw.setdefault("fontsize", _FONTSIZE)
        ax.text(x, yy, s, transform=x_tr, ha=ha, va="center", gid=gid, clip_on=False, **kw)

    lab_tr = at_left(label_w)
    header_y = k + 0.9
    text(lab_tr, header_y, "Study", "header", fontweight="bold")
    for i in range(k):
        text(lab_tr, row[i], labels[i], "label_text")
    if pooled:
        model_name = "FE Model" if results.method == "FE" else "RE Model"
        text(lab_tr, -1.0, model_name, "summary_label", fontweight="bold")
    text(lab_tr, het_y, het, "heterogeneity_text", fontsize=_FONTSIZE - 0.5)

    if annotate:
        ci_tr = at_right(gap + weight_w + ci_w)
        text(ci_tr, header_y, f"Estimate [{level} CI]", "header", x=1.0, ha="right",
             fontweight="bold")
        for i in range(k):
            text(ci_tr, row[i], ci_txt[i], "estimate_text", x=1.0, ha="right")
        if pooled:
            text(ci_tr, -1.0, ci_txt[-1], "summary_text", x=1.0, ha="right",
                 fontweight="bold")
        if show_weights:
            w_tr = at_right(weight_w)
            text(w_tr, header_y, "Weight", "header", x=1.0, ha="right", fontweight="bold")
            for i in range(k):
                text(w_tr, row[i], f"{wpct[i]:.1f}%", "weight_text", x=1.0, ha="right")
            if pooled:
                text(w_tr, -1.0, "100.0%", "summary_weight_text", x=1.0, ha="right",
                     fontweight="bold")
    return fig


def _identity(x):
    return x


_LOG_TICKS = np.array([1, 2, 5]) * 10.0 ** np.arange(-4, 5)[:, None]


def _set_xaxis(ax, allx, xscale):
    allx = allx[np.isfinite(allx)]
    if xscale == "linear":
        span = allx.max() - allx.min() or 1.0
        ax.set_xlim(allx.min() - 0.04 * span, allx.max() + 0.04 * span)
        return
    if np.any(allx <= 0):
        raise ValueError("xscale='log' needs positive values; use transform=np.exp for "
                         "log ratios")
    la = np.log(allx)
    span = la.max() - la.min() or 1.0
    lo, hi = np.exp(la.min() - 0.04 * span), np.exp(la.max() + 0.04 * span)
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ticks = np.sort(_LOG_TICKS.ravel())
    ticks = ticks[(ticks >= lo) & (ticks <= hi)]
    if ticks.size >= 2:
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_locator(ticker.NullLocator())
