"""Caterpillar plot of predicted random effects (lme4's ``dotplot(ranef(fit, condVar =
TRUE))``): per random term and design column, the levels' predictions sorted, with
intervals."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from scipy import stats

from ._forest_draw import check_alpha

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


__all__ = ["caterpillar_plot"]

_LEVEL_COLS = ("level", "label")


def _as_frame(data):
    """The long table of predictions: from a results object (``random_effects_frame()``)
    or a DataFrame."""
    if not isinstance(data, pd.DataFrame):
        getter = getattr(data, "random_effects_frame", None)
        if getter is None:
            raise TypeError("caterpillar_plot needs a DataFrame (level, estimate, se or "
                            "lower/upper) or results with random_effects_frame(), got "
                            f"{type(data).__name__}")
        data = getter()
    frame = data.copy()
    level = next((c for c in _LEVEL_COLS if c in frame.columns), None)
    if level is None:
        raise ValueError("the frame needs a 'level' (or 'label') column naming the levels")
    if "estimate" not in frame.columns:
        raise ValueError("the frame needs an 'estimate' column")
    has_se = "se" in frame.columns
    has_ci = "lower" in frame.columns and "upper" in frame.columns
    if not (has_se or has_ci):
        raise ValueError("the frame needs an 'se' column or 'lower' and 'upper' columns")
    frame = frame.rename(columns={level: "level"})
    if "term" not in frame.columns:
        frame["term"] = ""
    if "column" not in frame.columns:
        frame["column"] = "estimate"
    frame["level"] = frame["level"].astype(str)
    if frame[["term", "column", "level"]].duplicated().any():
        raise ValueError("levels repeat within a (term, column) panel")
    return frame, has_ci


def _panels(frame):
    """[(term, [columns])] in order of first appearance."""
    out = []
    for term in pd.unique(frame["term"]):
        cols = list(pd.unique(frame.loc[frame["term"] == term, "column"]))
        out.append((term, cols))
    return out


def caterpillar_plot(data: Any, alpha: float = 0.05,
                     sort: bool = True, ax: Axes | None = None,
                     figsize: tuple[float, float] | None = None,
                     refline: float | None = 0.0, max_labels: int = 60) -> Figure:
    """Caterpillar plot: each level's prediction with its interval, one panel per random
    term and design column.

    Parameters
    ----------
    data : MixedResults, results with ``random_effects_frame()``, or DataFrame
        A long table with columns ``level`` (or ``label``), ``estimate`` and either
        ``se`` (intervals ``estimate +/- z_{1-alpha/2} se``) or ``lower`` and ``upper``
        (drawn as given; they take precedence over ``se``); optional ``term`` (one row
        of panels per term) and ``column`` (one panel per design column of the term,
        e.g. intercept and slope).
    alpha : float
        ``1 - alpha`` intervals from ``se`` (lme4's dotplot: 95%).
    sort : bool
        Order the levels of a term by the estimates of its first column (all the
        term's panels share that order, as lme4's dotplot); False keeps the frame's
        order.  The first level is drawn at the bottom.
    ax : matplotlib.axes.Axes, optional
        Axes for a single panel (one term, one column).
    figsize : tuple, optional
        ``(width, height)`` in inches of a new figure (default: sized to the panels).
    refline : float or None
        Vertical reference line (0: no deviation from the fixed effects).
    max_labels : int
        Terms with more levels than this get no level labels (the points remain).

    Returns
    -------
    matplotlib.figure.Figure
        Every panel holds a LineCollection ``gid="intervals"`` (one segment per level),
        the points ``gid="estimates"`` and the reference line ``gid="refline"``; the
        panel's title is the column name and the y-label of the first panel of a row
        the term.

    Raises
    ------
    TypeError
        If ``data`` is neither a DataFrame nor results with ``random_effects_frame()``.
    ValueError
        If required columns are missing, levels repeat within a panel, ``alpha`` is
        invalid, or ``ax`` is given for more than one panel.

    Notes
    -----
    For :class:`~metamodels.MixedModel` fits the estimates are the EBLUPs
    ``G Z' V^{-1}(y - Xb)`` and ``se`` the square roots of the diagonal of their
    conditional covariance ``G - G Z_l' V^{-1} Z_l G``
    (:attr:`~metamodels.mixed.results.MixedResults.random_effects_cov`), the
    ``condsd`` of lme4's ``as.data.frame(ranef(fit, condVar = TRUE))``.

    Examples
    --------
    >>> import metamodels as mm
    >>> from metamodels.plots import caterpillar_plot
    >>> ss = mm.datasets.load("sleepstudy")
    >>> fit = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", ss).fit()
    >>> fig = caterpillar_plot(fit)           # as fit.plot_caterpillar()
    >>> [a.get_title() for a in fig.axes]
    ['(Intercept)', 'Days']
    """
    alpha = check_alpha(alpha)
    frame, has_ci = _as_frame(data)
    panels = _panels(frame)
    n_rows = len(panels)
    n_cols = max(len(c) for _, c in panels)
    n_levels = [frame.loc[frame["term"] == t, "level"].nunique() for t, _ in panels]
    if ax is not None:
        if n_rows * n_cols != 1:
            raise ValueError(f"ax= takes a single panel; this frame has {n_rows} term(s) "
                             f"and up to {n_cols} column(s)")
        fig, axes = ax.figure, np.array([[ax]])
    else:
        import matplotlib.pyplot as plt   # only to create a new figure
        height = figsize[1] if figsize else min(30.0, 0.9 + sum(0.5 + 0.17 * n
                                                               for n in n_levels))
        width = figsize[0] if figsize else 1.5 + 3.2 * n_cols
        fig, axes = plt.subplots(n_rows, n_cols, figsize=(width, height), squeeze=False,
                                 gridspec_kw={"height_ratios": [n + 4 for n in n_levels]})
    z = stats.norm.ppf(1 - alpha / 2)
    for r, (term, cols) in enumerate(panels):
        sub = frame[frame["term"] == term]
        first = sub[sub["column"] == cols[0]].set_index("level")
        levels = list(first.index)
        if sort:
            levels = list(first["estimate"].astype(float).sort_values(kind="stable").index)
        pos = {lev: i for i, lev in enumerate(levels)}
        for c in range(n_cols):
            a = axes[r, c]
            if c >= len(cols):
                a.set_visible(False)
                continue
            part = sub[sub["column"] == cols[c]].set_index("level")
            part = part.loc[[lev for lev in levels if lev in part.index]]
            est = part["estimate"].to_numpy(dtype=float)
            if has_ci:
                lo = part["lower"].to_numpy(dtype=float)
                hi = part["upper"].to_numpy(dtype=float)
            else:
                se = part["se"].to_numpy(dtype=float)
                lo, hi = est - z * se, est + z * se
            yy = np.array([pos[lev] for lev in part.index], dtype=float)
            a.add_collection(LineCollection([[(l_, y_), (h_, y_)]
                                             for l_, h_, y_ in zip(lo, hi, yy)],
                                            colors="0.35", linewidths=1.0, gid="intervals"))
            a.scatter(est, yy, s=16, color="#1f4e99", zorder=3, gid="estimates")
            if refline is not None:
                a.axvline(float(refline), color="0.5", ls=":", lw=0.9, gid="refline")
            allx = np.r_[lo, hi, est, [] if refline is None else [float(refline)]]
            allx = allx[np.isfinite(allx)]
            span = (allx.max() - allx.min()) or 1.0
            a.set_xlim(allx.min() - 0.05 * span, allx.max() + 0.05 * span)
            a.set_ylim(-0.7, len(levels) - 0.3)
            if c == 0 and len(levels) <= max_labels:
                a.set_yticks(np.arange(len(levels)), levels,
                             fontsize=8 if len(levels) <= 30 else 6)
            else:
                a.set_yticks(np.arange(len(levels)), [] if c else [""] * len(levels))
            a.set_title(str(cols[c]), fontsize=9)
            a.tick_params(axis="x", labelsize=8)
            a.grid(axis="y", color="0.92", lw=0.6)
            if c == 0 and term != "":
                a.set_ylabel(str(term), fontsize=9)
    if ax is None:
        fig.tight_layout()
    return fig
