"""The drawing machinery shared by every forest plot.

A forest plot is described by a :class:`ForestSpec` (rows with their positions, the
summary diamonds, group headers and footer lines, all values already on the plotted
scale) and drawn by :func:`draw_forest`.  The builders of :mod:`.forest` (MetaFixed /
MetaRandom) and :mod:`.forest_more` (Mantel-Haenszel, Peto, MetaMixed, BivariateMeta)
only compute the numbers.

Every artist carries a ``gid`` so that tests and users can find it: ``study_ci``
(one LineCollection of the study intervals), ``studies`` (the squares), ``fitted`` (grey
diamonds of fitted values), ``summary`` (summary diamonds), ``prediction_interval``,
``separator``, ``refline``, and the texts ``header``, ``label_text``, ``group_header``,
``summary_label``, ``heterogeneity_text``, ``estimate_text``, ``summary_text``,
``weight_text``, ``summary_weight_text``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib import ticker, transforms
from matplotlib.collections import LineCollection
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Polygon

__all__ = ["ForestSpec", "SummaryRow", "draw_forest"]

_FONTSIZE = 9.0
_ROW_IN = 0.27             # inches per row of a new figure
_GAP = 14.0                # points between text columns


# ---------------------------------------------------------------- helpers
def check_alpha(alpha):
    try:
        ok = 0.0 < float(alpha) < 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    return float(alpha)


def check_transform(transform):
    """``None`` -> identity; anything else must be callable."""
    if transform is None:
        return identity
    if not callable(transform):
        raise TypeError("transform must be a callable such as np.exp")
    return transform


def check_xscale(xscale):
    if xscale not in ("linear", "log"):
        raise ValueError(f"unknown xscale {xscale!r}; valid values are 'linear', 'log'")
    return xscale


def identity(x):
    return x


def sort_order(y, w, sort):
    """Order of the study rows from top to bottom: data order (``sort=None``),
    increasing effect (``"effect"``) or decreasing weight (``"weight"``; ties keep
    data order)."""
    if sort is None:
        return np.arange(np.asarray(y).size)
    if sort == "effect":
        return np.argsort(y, kind="stable")
    if sort == "weight":
        return np.argsort(-np.asarray(w), kind="stable")
    raise ValueError(f"unknown sort {sort!r}; valid values are None, 'effect', 'weight'")


def apply(transform, est, lo, hi):
    """Transform estimates and interval ends (any monotone function)."""
    est, lo, hi = (np.asarray(transform(np.asarray(a, dtype=float)), dtype=float)
                   for a in (est, lo, hi))
    return est, np.minimum(lo, hi), np.maximum(lo, hi)


def ci_string(e, lo, hi):
    return f"{e:.2f} [{lo:.2f}, {hi:.2f}]"


def fmt_num(x):
    x = float(x)
    return f"{x:.2f}" if x == 0 or abs(x) >= 0.01 else f"{x:.2g}"


def fmt_p(p):
    if p < 0.001:
        return "p < .001"
    return "p = " + f"{p:.3f}".lstrip("0")


def q_text(name, q, df, pvalue):
    return f"{name}({df}) = {q:.2f}, {fmt_p(pvalue)}"


def default_labels(idx, k):
    """Row labels from an index: a default ``0..n-1`` integer index (possibly with dropped
    rows) or none gives ``"Study 1", "Study 2", ..``."""
    if idx is None or len(idx) != k:
        return [f"Study {i + 1}" for i in range(k)]
    idx = pd.Index(idx)
    if (pd.api.types.is_integer_dtype(idx) and idx.is_monotonic_increasing
            and idx.size and idx[0] == 0):
        # a default 0..n-1 index (possibly with dropped rows): number studies from 1
        return [f"Study {int(i) + 1}" for i in idx]
    return [str(lab) for lab in idx]


def _text_width(strings, bold=False):
    """Width in points of the widest string at the plot's font size."""
    from matplotlib.textpath import TextToPath
    prop = FontProperties(size=_FONTSIZE, weight="bold" if bold else "normal")
    t2p = TextToPath()
    return max(t2p.get_text_width_height_descent(s, prop, ismath=False)[0] for s in strings)


def _new_figure(width, height):
    import matplotlib.pyplot as plt  # only to create a new figure
    return plt.figure(figsize=(width, height))


# ------------------------------------------------------------------- spec
@dataclass
class SummaryRow:
    """A summary diamond at row ``y`` (values on the plotted scale)."""

    label: str
    est: float
    lo: float
    hi: float
    y: float
    pred: tuple | None = None          # (lower, upper) of a prediction interval
    weight_text: str | None = None


@dataclass
class ForestSpec:
    """Everything a forest plot shows, on the plotted scale (see the module docstring)."""

    labels: list
    est: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    rows: np.ndarray                   # y position of each study row
    size: np.ndarray                   # square sizes grow with sqrt(size / max(size))
    bottom: float
    top: float
    header_y: float
    refline_span: tuple                # (y0, y1) of the reference line
    weight_text: list | None = None
    summaries: list = field(default_factory=list)
    fitted: tuple | None = None        # (est, lo, hi) per study row: grey diamonds
    group_headers: list = field(default_factory=list)   # (y, text)
    footers: list = field(default_factory=list)         # (y, text)
    separators: list = field(default_factory=list)      # y of horizontal lines
    label_header: str = "Study"
    level: str = "95%"


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


_LOG_TICKS = np.array([1, 2, 5]) * 10.0 ** np.arange(-4, 5)[:, None]


# ------------------------------------------------------------------- draw
def draw_forest(spec, ax=None, xlabel="Effect size", refline=None, title=None,
                annotate=True, xscale="linear"):
    """Draw ``spec`` into ``ax`` (a new figure sized to the rows when None).

    ``refline`` is on the plotted scale (already transformed).  Returns the Figure.
    """
    k = len(spec.labels)
    show_weights = bool(spec.weight_text is not None and annotate)
    ci_txt = [ci_string(*t) for t in zip(spec.est, spec.lo, spec.hi)]
    sum_txt = [ci_string(s.est, s.lo, s.hi) for s in spec.summaries]
    header = f"Estimate [{spec.level} CI]"
    weight_w = _text_width(["Weight", "100.0%"], bold=True) + _GAP if show_weights else 0.0
    ci_w = _text_width(ci_txt + sum_txt + [header], bold=True) if annotate else 0.0
    label_w = _text_width(list(spec.labels) + [spec.label_header, "RE Model"]
                          + [s.label for s in spec.summaries]
                          + [t for _, t in spec.group_headers], bold=True) + 14
    right_w = (_GAP + weight_w + ci_w + 8) if annotate else 10.0

    if ax is None:
        plot_in = 4.5
        left_in, right_in = label_w / 72 + 0.15, right_w / 72 + 0.15
        bot_in, top_in = 0.65, 0.25 + (0.35 if title else 0.0)
        width = left_in + plot_in + right_in
        height = max(2.5, _ROW_IN * (spec.top - spec.bottom) + bot_in + top_in)
        fig = _new_figure(width, height)
        ax = fig.add_axes([left_in / width, bot_in / height, plot_in / width,
                           1 - (bot_in + top_in) / height])
    fig = ax.figure

    # studies: intervals and weight-sized squares
    segs = [[(spec.lo[i], spec.rows[i]), (spec.hi[i], spec.rows[i])] for i in range(k)]
    ax.add_collection(LineCollection(segs, colors="black", linewidths=1.0, zorder=2,
                                     gid="study_ci"))
    size = np.asarray(spec.size, dtype=float)
    side = 3.5 + 7.5 * np.sqrt(size / size.max()) if k and size.max() > 0 else \
        np.full(k, 6.0)
    ax.scatter(spec.est, spec.rows, s=side ** 2, marker="s", color="black", linewidths=0,
               zorder=3, gid="studies")
    xs = [spec.lo, spec.hi]

    if spec.fitted is not None:
        fe, fl, fh = spec.fitted
        for i in range(k):
            r = spec.rows[i]
            if not np.isfinite(fe[i]):
                continue
            ax.add_patch(Polygon([(fl[i], r), (fe[i], r + 0.3), (fh[i], r), (fe[i], r - 0.3)],
                                 closed=True, facecolor="0.6", edgecolor="0.45", lw=0.5,
                                 zorder=1, gid="fitted"))
        xs.append(np.r_[fl, fh])

    for s in spec.summaries:
        if s.pred is not None:
            pl, ph = (float(v) for v in s.pred)
            ax.plot([pl, ph], [s.y, s.y], color="0.25", lw=1.2, ls="--", zorder=2,
                    gid="prediction_interval")
            ax.plot([pl, ph], [s.y, s.y], ls="none", marker="|", ms=9, mew=1.2,
                    color="0.25", zorder=2, gid="prediction_interval_caps")
            xs.append(np.array([pl, ph]))
        ax.add_patch(Polygon([(s.lo, s.y), (s.est, s.y + 0.42), (s.hi, s.y),
                              (s.est, s.y - 0.42)], closed=True, facecolor="black",
                             edgecolor="black", zorder=4, gid="summary"))
        xs.append(np.array([s.lo, s.hi]))
    for y in spec.separators:
        ax.axhline(y, color="black", lw=0.8, gid="separator")

    if refline is not None:
        ref = float(refline)
        ax.plot([ref, ref], list(spec.refline_span), color="0.3", lw=0.9, ls=":", zorder=0,
                gid="refline")
        xs.append(np.array([ref]))

    _set_xaxis(ax, np.concatenate([np.atleast_1d(a) for a in xs]), xscale)
    ax.set_ylim(spec.bottom, spec.top)
    ax.set_yticks([])
    for side_name in ("left", "right", "top"):
        ax.spines[side_name].set_visible(False)
    ax.tick_params(axis="x", labelsize=_FONTSIZE)
    ax.set_xlabel(xlabel, fontsize=_FONTSIZE + 1)
    if title:
        ax.set_title(title, fontsize=_FONTSIZE + 2)

    # text columns (x in points relative to the axes edges, y in data units)
    blend = transforms.blended_transform_factory(ax.transAxes, ax.transData)

    def shifted(points):
        return blend + transforms.ScaledTranslation(points / 72, 0, fig.dpi_scale_trans)

    def text(x_tr, yy, s, gid, ha="left", x=0.0, **kw):
        kw.setdefault("fontsize", _FONTSIZE)
        ax.text(x, yy, s, transform=x_tr, ha=ha, va="center", gid=gid, clip_on=False, **kw)

    lab_tr = shifted(-label_w)
    text(lab_tr, spec.header_y, spec.label_header, "header", fontweight="bold")
    for i in range(k):
        text(lab_tr, spec.rows[i], spec.labels[i], "label_text")
    for y, t in spec.group_headers:
        text(lab_tr, y, t, "group_header", fontweight="bold")
    for s in spec.summaries:
        text(lab_tr, s.y, s.label, "summary_label", fontweight="bold")
    for y, t in spec.footers:
        text(lab_tr, y, t, "heterogeneity_text", fontsize=_FONTSIZE - 0.5)

    if annotate:
        ci_tr = shifted(_GAP + weight_w + ci_w)
        text(ci_tr, spec.header_y, header, "header", x=1.0, ha="right", fontweight="bold")
        for i in range(k):
            text(ci_tr, spec.rows[i], ci_txt[i], "estimate_text", x=1.0, ha="right")
        for s, t in zip(spec.summaries, sum_txt):
            text(ci_tr, s.y, t, "summary_text", x=1.0, ha="right", fontweight="bold")
        if show_weights:
            w_tr = shifted(weight_w)
            text(w_tr, spec.header_y, "Weight", "header", x=1.0, ha="right", fontweight="bold")
            for i in range(k):
                text(w_tr, spec.rows[i], spec.weight_text[i], "weight_text", x=1.0, ha="right")
            for s in spec.summaries:
                if s.weight_text is not None:
                    text(w_tr, s.y, s.weight_text, "summary_weight_text", x=1.0, ha="right",
                         fontweight="bold")
    return fig
