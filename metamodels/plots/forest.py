"""Forest plots: univariate meta-analysis or meta-regression (this module) and, through
:mod:`.forest_more`, Mantel-Haenszel / Peto pooled tables and MetaMixed / BivariateMeta
fits.  All are drawn by :func:`._forest_draw.draw_forest`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence

import numpy as np
from scipy import stats

from ._forest_draw import (ForestSpec, SummaryRow, apply, check_alpha, check_transform,
                           check_xscale, default_labels, draw_forest, fmt_num, fmt_p, q_text,
                           sort_order)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


__all__ = ["forest_plot"]


# ---------------------------------------------------------------- helpers
def _check_results(results, accepted="MetaFixed/MetaRandom"):
    model = getattr(results, "model", None)
    if model is None or not hasattr(model, "vi") or not hasattr(results, "params"):
        raise TypeError(f"results must be a fitted {accepted} result, got "
                        f"{type(results).__name__}")
    return model


def _is_pooled(model):
    """True for an intercept-only model (one pooled effect)."""
    return model.k_params == 1 and bool(getattr(model, "k_constant", 1))


def _study_labels(model, labels, k):
    if labels is not None:
        labels = [str(lab) for lab in labels]
        if len(labels) != k:
            raise ValueError(f"labels has {len(labels)} entries but there are {k} studies")
        return labels
    idx = getattr(getattr(model, "data", None), "row_labels", None)
    return default_labels(idx, k)


def _heterogeneity_text(results, pooled):
    method = results.method
    if method == "FE":
        head = "FE Model" if pooled else "Fixed-Effects Model"
    else:
        head = f"RE Model ({method})" if pooled else f"Mixed-Effects Model ({method})"
    parts = []
    if method != "FE":
        parts.append(r"$\tau^2$ = " + fmt_num(results.tau2))
    i2 = getattr(results, "i2", None)
    if i2 is not None and np.isfinite(i2):
        parts.append(r"$I^2$ = " + f"{100 * i2:.1f}%")
    q = getattr(results, "q", None)
    if q is not None and np.isfinite(q):
        parts.append(q_text("Q" if pooled else "QE", q, results.q_df, results.q_pvalue))
    wt = None if pooled else getattr(results, "qm_test", None)
    if wt is not None:
        parts.append(_wald_text(wt))
    return head + ": " + ", ".join(parts)


def _wald_text(wt):
    if wt.distribution == "F":
        return f"F({wt.df_num}, {wt.df_denom:g}) = {wt.statistic:.2f}, {fmt_p(wt.pvalue)}"
    return f"QM({wt.df_num}) = {wt.statistic:.2f}, {fmt_p(wt.pvalue)}"


# ------------------------------------------------------------------ main
def forest_plot(results: Any,
                ax: Axes | None = None, labels: Sequence[str] | None = None,
                alpha: float = 0.05, show_weights: bool = True,
                show_prediction: bool = True,
                sort: Literal["effect", "weight"] | None = None,
                transform: Callable[[np.ndarray], np.ndarray] | None = None,
                xlabel: str | None = None, refline: float | None = 0,
                title: str | None = None, annotate: bool = True,
                xscale: Literal["linear", "log"] | None = None, **kwargs: Any) -> Figure:
    """Forest plot of the study estimates and the pooled (or fitted) effects.

    metafor's ``forest.rma``; drawn by ``res.plot_forest()`` of the results classes.

    Parameters
    ----------
    results : MetaResults
        A fitted :class:`~metamodels.MetaFixed` or :class:`~metamodels.MetaRandom`
        result, with or without moderators.  Mantel-Haenszel / Peto results and
        MetaMixed / BivariateMeta results are drawn by
        :func:`metamodels.plots.forest_more.table_forest_plot` and
        :func:`metamodels.plots.forest_more.multivariate_forest_plot` (same
        arguments; see there for what differs).
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
    xlabel : str, optional
        Default "Effect size" (pooled tables: the measure's name).
    refline : float or None
        Reference line on the analysis scale (transformed like the estimates, so
        ``0`` becomes ``1`` with ``transform=np.exp``); ``None`` for no line.
    title : str, optional
        Title above the plot.
    annotate : bool
        Draw the text columns ``"estimate [lower, upper]"`` (and the weights).
    xscale : {"linear", "log"}, optional
        Scale of the x axis (default linear); ``"log"`` (all plotted values must be
        positive) suits ratio measures shown with ``transform=np.exp``.
    **kwargs
        Passed on to :func:`~metamodels.plots.forest_more.multivariate_forest_plot`
        (``group=``) for MetaMixed / BivariateMeta results; an error otherwise.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into (a new one when ``ax`` is omitted).

    Raises
    ------
    TypeError
        If ``results`` is not a supported fitted result, ``transform`` is not callable
        or an unknown keyword argument is given.
    ValueError
        For an invalid ``alpha``, ``sort`` or ``xscale``, or ``labels`` of the wrong
        length.

    See Also
    --------
    funnel_plot : funnel plot of the same results.

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
    from . import forest_more
    special = forest_more.dispatch(results)
    if special is not None:
        return special(results, ax=ax, labels=labels, alpha=alpha, show_weights=show_weights,
                       show_prediction=show_prediction, sort=sort, transform=transform,
                       xlabel=xlabel, refline=refline, title=title, annotate=annotate,
                       xscale=xscale, **kwargs)
    if kwargs:
        raise TypeError(f"forest_plot got unexpected keyword arguments {sorted(kwargs)}")
    if xlabel is None:
        xlabel = "Effect size"
    model = _check_results(results, "MetaFixed/MetaRandom, MetaMixed, BivariateMeta, "
                                    "Mantel-Haenszel or Peto")
    alpha = check_alpha(alpha)
    if sort not in (None, "effect", "weight"):
        raise ValueError(f"unknown sort {sort!r}; valid values are None, 'effect', 'weight'")
    xscale = check_xscale("linear" if xscale is None else xscale)
    transform = check_transform(transform)

    y = np.asarray(model.endog, dtype=float)
    v = np.asarray(model.vi, dtype=float)
    k = y.size
    labels = _study_labels(model, labels, k)
    w = 1.0 / (v + float(results.tau2))
    z = stats.norm.ppf(1 - alpha / 2)
    est, lo, hi = apply(transform, y, y - z * np.sqrt(v), y + z * np.sqrt(v))
    rows = sorted_rows(y, w, sort)

    pooled = _is_pooled(model)
    frame = results.get_prediction().summary_frame(alpha)
    summaries, fitted = [], None
    if pooled:
        ci = np.asarray(results.conf_int(alpha), dtype=float).reshape(-1)
        b = float(np.asarray(results.params, dtype=float).reshape(-1)[0])
        s_est, s_lo, s_hi = (float(a) for a in apply(transform, b, ci[0], ci[1]))
        pred = None
        if show_prediction and results.method != "FE":
            _, pl, ph = apply(transform, frame["mean"].iloc[0], frame["obs_ci_lower"].iloc[0],
                              frame["obs_ci_upper"].iloc[0])
            pred = (float(pl), float(ph))
        summaries.append(SummaryRow("FE Model" if results.method == "FE" else "RE Model",
                                    s_est, s_lo, s_hi, -1.0, pred, "100.0%"))
        bottom, het_y, ref_lo = -2.6, -2.0, -1.0
    else:
        fitted = apply(transform, frame["mean"].to_numpy(), frame["mean_ci_lower"].to_numpy(),
                       frame["mean_ci_upper"].to_numpy())
        bottom, het_y, ref_lo = -1.2, -0.6, -0.6
    spec = ForestSpec(labels=labels, est=est, lo=lo, hi=hi, rows=rows, size=w,
                      bottom=bottom, top=k + 1.4, header_y=k + 0.9,
                      refline_span=(ref_lo, k + 0.6),
                      weight_text=[f"{p:.1f}%" for p in 100.0 * w / w.sum()]
                      if show_weights else None,
                      summaries=summaries, fitted=fitted,
                      footers=[(het_y, _heterogeneity_text(results, pooled))],
                      separators=[0.0] if pooled else [],
                      level=f"{100 * (1 - alpha):g}%")
    ref = None if refline is None else float(np.asarray(transform(np.asarray(float(refline)))))
    return draw_forest(spec, ax=ax, xlabel=xlabel, refline=ref, title=title,
                       annotate=annotate, xscale=xscale)


def sorted_rows(y: np.ndarray, w: np.ndarray,
                sort: Literal["effect", "weight"] | None) -> np.ndarray:
    """Row positions ``k..1`` (top to bottom) in data order, by increasing effect, or by
    decreasing weight."""
    k = y.size
    order = sort_order(y, w, sort)
    row = np.empty(k)
    row[order] = k - np.arange(k)   # first study on top at y = k
    return row
