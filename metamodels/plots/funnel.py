"""Funnel plot (optionally contour-enhanced) of a univariate meta-analysis."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Sequence

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from scipy import stats

from ._forest_draw import _new_figure
from ._forest_draw import check_alpha as _check_alpha
from .forest import _check_results, _is_pooled

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike


__all__ = ["funnel_plot"]

_YAXES = {"se": "Standard error", "vi": "Sampling variance",
          "inverse_se": "Inverse standard error"}
_MAX_LEVELS = 5


def _shades(n):
    """Grey levels of the n + 1 contour regions, innermost (white) first."""
    greys = [0.75] if n == 1 else np.linspace(0.55, 0.9, n)
    return ["white"] + [f"{g:.2f}" for g in greys]


def _check_contours(contours):
    if contours is None:
        return None
    try:
        levels = np.unique(np.asarray(list(np.atleast_1d(contours)), dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"contours must be None or confidence levels in (0, 1), "
                         f"got {contours!r}") from None
    if levels.size == 0 or np.any((levels <= 0) | (levels >= 1)):
        raise ValueError(f"contour levels must lie strictly between 0 and 1, got {contours!r}")
    if levels.size > _MAX_LEVELS:
        raise ValueError(f"at most {_MAX_LEVELS} contour levels are supported")
    return levels


def _fmt_level(p):
    return f"{p:.2f}" if p >= 0.01 else f"{p:.2g}"


def funnel_plot(results: Any, ax: Axes | None = None,
                yaxis: Literal["se", "vi", "inverse_se"] = "se",
                contours: Sequence[float] | None = (0.9, 0.95, 0.99), alpha: float = 0.05,
                xlabel: str | None = None, filled: ArrayLike | None = None) -> Figure:
    """Funnel plot of effect sizes (or residuals) against their precision.

    metafor's ``funnel`` (with ``level=`` contours: ``funnel(res, level=c(90, 95, 99),
    shade=...)``); drawn by ``res.plot_funnel()``.

    Parameters
    ----------
    results : MetaResults
        A fitted :class:`~metamodels.MetaFixed` or :class:`~metamodels.MetaRandom`
        result.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure is created when omitted.
    yaxis : {"se", "vi", "inverse_se"}
        Vertical axis: standard error ``sqrt(v_i)``, sampling variance ``v_i`` (both
        drawn with 0 at the top, as metafor) or inverse standard error (precision,
        increasing upwards).
    contours : sequence of float or None
        Confidence levels of a contour-enhanced funnel (Peters et al. 2008): the
        regions in which a study's two-sided Wald test against 0 is significant at
        ``1 - level`` are shaded in grey levels (white: ``p > 1 - min(level)``).
        ``None`` draws metafor's classic funnel: a white pseudo-confidence region on
        a grey background.
    alpha : float
        The pseudo-confidence region is ``estimate +/- z_{1-alpha/2} se``.
    xlabel : str, optional
        Defaults to ``"Effect size"`` (``"Residual value"`` for meta-regression).
    filled : array_like of bool, optional
        Studies to draw as open circles (the studies imputed by trim-and-fill);
        defaults to the model's ``filled`` flags when it has them (the ``filled``
        results of :func:`metamodels.trim_and_fill`).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        If ``results`` is not a fitted MetaFixed/MetaRandom result.
    ValueError
        For an invalid ``alpha``, ``yaxis`` or ``contours`` (levels in (0, 1), at most
        5), or ``filled`` of the wrong length.

    References
    ----------
    Peters JL, Sutton AJ, Jones DR, Abrams KR, Rushton L (2008). Contour-enhanced
    meta-analysis funnel plots help distinguish publication bias from other causes of
    asymmetry. Journal of Clinical Epidemiology 61(10), 991-996.

    Notes
    -----
    For intercept-only models the observed effects ``y_i`` are plotted around the
    pooled estimate.  For meta-regression the residuals ``y_i - x_i'b`` are plotted
    around 0 (as metafor's ``funnel`` for ``rma`` objects with moderators).  The
    pseudo-confidence region uses the sampling standard errors only (no tau^2),
    like metafor.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> fig = res.plot_funnel(contours=None)
    """
    model = _check_results(results)
    alpha = _check_alpha(alpha)
    if yaxis not in _YAXES:
        raise ValueError(f"unknown yaxis {yaxis!r}; valid values are 'se', 'vi', 'inverse_se'")
    levels = _check_contours(contours)

    y = np.asarray(model.endog, dtype=float)
    v = np.asarray(model.vi, dtype=float)
    se = np.sqrt(v)
    b = np.asarray(results.params, dtype=float).reshape(-1)
    if _is_pooled(model):
        x, center = y, float(b[0])
        default_xlabel = "Effect size"
    else:
        x, center = y - np.asarray(model.exog, dtype=float) @ b, 0.0
        default_xlabel = "Residual value"

    # vertical coordinate and the se-grid along which regions are drawn
    if yaxis == "se":
        yv, top, bot = se, 0.0, se.max() * 1.08
        s = np.linspace(0.0, bot, 201)
        ys = s
    elif yaxis == "vi":
        yv, top, bot = v, 0.0, v.max() * 1.08
        s = np.sqrt(np.linspace(0.0, bot, 201))
        ys = s ** 2
    else:
        prec = 1.0 / se
        yv, top, bot = prec, prec.max() * 1.08, prec.min() * 0.9
        ys = np.linspace(bot, top, 201)
        s = 1.0 / ys

    if ax is None:
        fig = _new_figure(6.0, 4.8)
        ax = fig.add_subplot(1, 1, 1)
    fig = ax.figure

    z = stats.norm.ppf(1 - alpha / 2)
    xs = [x, center - z * s, center + z * s]
    handles = []
    if levels is None:
        ax.set_facecolor("0.85")
        ax.fill_betweenx(ys, center - z * s, center + z * s, color="white", zorder=0,
                         gid="pseudo_ci_region")
    else:
        n = levels.size
        shades = _shades(n)
        ax.set_facecolor(shades[n])
        for j in range(n - 1, -1, -1):           # widest region first
            zc = stats.norm.ppf(1 - (1 - levels[j]) / 2)
            ax.fill_betweenx(ys, -zc * s, zc * s, color=shades[j], lw=0, zorder=0,
                             gid=f"contour_{levels[j]:g}")
            xs.append(np.r_[-zc * s, zc * s])
        p = np.sort(1 - levels)                  # p thresholds, smallest first
        labels = [f"p > {_fmt_level(p[-1])}"]
        for j in range(n - 1, 0, -1):
            labels.append(f"{_fmt_level(p[j - 1])} < p \u2264 {_fmt_level(p[j])}")
        labels.append(f"p \u2264 {_fmt_level(p[0])}")
        for shade, lab in zip(shades, labels):
            handles.append(Patch(facecolor=shade, edgecolor="0.4", lw=0.5, label=lab))

    ax.plot(center - z * s, ys, color="black", lw=0.9, ls=":", zorder=1, gid="pseudo_ci")
    ax.plot(center + z * s, ys, color="black", lw=0.9, ls=":", zorder=1, gid="pseudo_ci")
    ax.axvline(center, color="black", lw=1.0, zorder=1, gid="estimate_line")
    if filled is None:
        filled = getattr(model, "filled", None)
    imputed = (np.zeros(x.shape[0], bool) if filled is None
               else np.asarray(filled, dtype=bool).reshape(-1))
    if imputed.shape[0] != x.shape[0]:
        raise ValueError(f"filled has {imputed.shape[0]} flags but there are {x.shape[0]} "
                         "studies")
    ax.scatter(x[~imputed], yv[~imputed], s=28, color="black", edgecolors="white",
               linewidths=0.5, zorder=3, gid="studies")
    if imputed.any():
        ax.scatter(x[imputed], yv[imputed], s=28, facecolors="white", edgecolors="black",
                   linewidths=0.9, zorder=3, gid="filled_studies")
        handles.append(Line2D([], [], ls="", marker="o", mfc="white", mec="black",
                              label="filled (trim-and-fill)"))

    allx = np.concatenate(xs)
    allx = allx[np.isfinite(allx)]
    span = allx.max() - allx.min() or 1.0
    ax.set_xlim(allx.min() - 0.03 * span, allx.max() + 0.03 * span)
    ax.set_ylim(bot, top)                        # se and vi: inverted, 0 on top
    ax.set_xlabel(xlabel if xlabel is not None else default_xlabel)
    ax.set_ylabel(_YAXES[yaxis])
    if handles:
        ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                  ncol=len(handles), fontsize=8, frameon=False, handlelength=1.5,
                  columnspacing=1.2)
    return fig
