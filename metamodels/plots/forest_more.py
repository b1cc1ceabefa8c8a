"""Forest plots of pooled 2x2 tables (Mantel-Haenszel, Peto) and of multilevel /
multivariate fits (MetaMixed, BivariateMeta), drawn with the machinery of
:mod:`._forest_draw` (the same look, ``gid`` names and text columns as
:func:`~metamodels.plots.forest_plot`)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ._forest_draw import (ForestSpec, SummaryRow, apply, check_alpha, check_transform,
                           check_xscale, default_labels, draw_forest, fmt_num, q_text,
                           sort_order)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike


__all__ = ["table_forest_plot", "multivariate_forest_plot"]

_RATIO = {"OR": "Odds Ratio", "RR": "Risk Ratio", "IRR": "Incidence Rate Ratio",
          "PETO": "Odds Ratio (Peto)"}
_DIFF = {"RD": "Risk Difference", "IRD": "Incidence Rate Difference"}


def dispatch(results: Any) -> Callable[..., Figure] | None:
    """The forest builder for ``results`` other than MetaFixed/MetaRandom (None for those
    and for anything unknown).  Results classes name their layout in the class attribute
    ``forest_layout`` (``"table"``: Mantel-Haenszel/Peto, ``"multivariate"``: MetaMixed,
    BivariateMeta), so this layer needs no import of the model families."""
    res = getattr(results, "_results", results)       # statsmodels wrappers
    return {"table": table_forest_plot,
            "multivariate": multivariate_forest_plot}.get(getattr(res, "forest_layout", None))


def _no_extra(kwargs, where):
    if kwargs:
        raise TypeError(f"{where} got unexpected keyword arguments {sorted(kwargs)}")


# ------------------------------------------------------------ pooled tables
def table_forest_plot(results: Any, ax: Axes | None = None,
                      labels: Sequence[str] | None = None, alpha: float = 0.05,
                      show_weights: bool = True, show_prediction: bool = True,
                      sort: Literal["effect", "weight"] | None = None,
                      transform: Callable[[np.ndarray], np.ndarray] | Literal[False] | None = None,
                      xlabel: str | None = None, refline: float | None = 0,
                      title: str | None = None, annotate: bool = True,
                      xscale: Literal["linear", "log"] | None = None, **kwargs: Any) -> Figure:
    """Forest plot of a Mantel-Haenszel or Peto fixed-effects analysis (metafor's
    ``forest.rma.mh`` / ``forest.rma.peto``).

    Study rows: the study-level estimates ``yi`` with ``yi +/- z sqrt(vi)`` (tables
    without an estimate, e.g. double-zero tables, are left out, as metafor's
    ``na.omit``); squares sized and weights given by ``results.weights`` (the
    Mantel-Haenszel or Peto weights in the pooled estimate); the diamond is the pooled
    estimate with ``results.conf_int(alpha)``.

    Parameters
    ----------
    results : MantelHaenszelResults or PetoResults
        Results of :func:`metamodels.mantel_haenszel` or :func:`metamodels.peto`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure when omitted.
    labels : sequence of str, optional
        One label per table (default: the row labels, or "Study 1", ...).
    alpha : float
        ``1 - alpha`` is the level of all intervals.
    show_weights : bool
        Show the weights (percent) as a text column.
    show_prediction : bool
        Ignored: a fixed-effects analysis has no prediction interval.
    sort : {None, "effect", "weight"}
        Study order from top to bottom: data order, increasing effect, decreasing
        weight.
    transform : callable, False or None
        None: ratio measures (OR, RR, IRR, Peto's OR) are exponentiated and drawn on a
        log axis, differences (RD, IRD) as they are; False: the analysis scale (log
        ratios); a callable: applied to every number, as in :func:`forest_plot`.
    xlabel : str, optional
        Defaults to the measure ("Odds Ratio (log scale)", "Risk Difference", ...).
    refline : float or None
        Reference line on the analysis scale (transformed like the estimates).
    title : str, optional
        Title above the plot.
    annotate : bool
        Draw the text columns.
    xscale : {"linear", "log"}, optional
        Scale of the x axis (default: log for exponentiated ratios, else linear).
    **kwargs
        Not accepted (an error): present so that :func:`forest_plot` can forward its
        arguments.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        For unknown keyword arguments or a non-callable ``transform``.
    ValueError
        For an invalid ``alpha``, ``sort`` or ``xscale``, or ``labels`` of the wrong
        length.

    Examples
    --------
    >>> import metamodels as mm
    >>> from metamodels.plots import table_forest_plot
    >>> dat = mm.datasets.load("bcg")
    >>> mh = mm.mantel_haenszel(dat, ai="tpos", bi="tneg", ci="cpos", di="cneg",
    ...                         measure="OR")
    >>> fig = table_forest_plot(mh)           # as mh.plot_forest()
    """
    _no_extra(kwargs, "table_forest_plot")
    alpha = check_alpha(alpha)
    measure = results.measure
    ratio = measure in _RATIO
    if transform is None and ratio:
        transform, auto_log = np.exp, True
    else:
        transform, auto_log = (None if transform is False else transform), False
    transform = check_transform(transform)
    xscale = check_xscale(xscale or ("log" if auto_log else "linear"))
    if xlabel is None:
        name = _RATIO.get(measure) or _DIFF.get(measure, measure)
        xlabel = (f"{name} (log scale)" if auto_log or xscale == "log" else
                  f"Log {name}" if ratio else name)

    yi, vi = results.yi.to_numpy(dtype=float), results.vi.to_numpy(dtype=float)
    w_all = results.weights.to_numpy(dtype=float)
    ok = np.isfinite(yi) & np.isfinite(vi)
    if labels is not None:
        labels = [str(lab) for lab in labels]
        if len(labels) != yi.size:
            raise ValueError(f"labels has {len(labels)} entries but there are {yi.size} "
                             "tables")
    else:
        labels = default_labels(results.yi.index, yi.size)
    labels = [lab for lab, keep in zip(labels, ok) if keep]
    y, v, w = yi[ok], vi[ok], w_all[ok]
    k = y.size
    z = stats.norm.ppf(1 - alpha / 2)
    est, lo, hi = apply(transform, y, y - z * np.sqrt(v), y + z * np.sqrt(v))
    order = sort_order(y, w, sort)
    rows = np.empty(k)
    rows[order] = k - np.arange(k)

    ci = np.asarray(results.conf_int(alpha), dtype=float).reshape(-1)
    b = float(np.asarray(results.params, dtype=float)[0])
    s_est, s_lo, s_hi = (float(a) for a in apply(transform, b, ci[0], ci[1]))
    method = "Peto" if measure == "PETO" else "MH"
    footer = f"FE Model ({'Peto' if method == 'Peto' else 'Mantel-Haenszel'})"
    parts = []
    if np.isfinite(results.q) and results.q_df > 0:
        parts.append(q_text("Q", results.q, results.q_df, results.q_pvalue))
        parts.append(r"$I^2$ = " + f"{100 * results.i2:.1f}%")
    if parts:
        footer += ": " + ", ".join(parts)
    spec = ForestSpec(labels=labels, est=est, lo=lo, hi=hi, rows=rows, size=w,
                      bottom=-2.6, top=k + 1.4, header_y=k + 0.9, refline_span=(-1.0, k + 0.6),
                      weight_text=[f"{p:.1f}%" for p in w] if show_weights else None,
                      summaries=[SummaryRow(f"FE Model ({method})", s_est, s_lo, s_hi, -1.0,
                                            None, "100.0%")],
                      footers=[(-2.0, footer)], separators=[0.0],
                      level=f"{100 * (1 - alpha):g}%")
    ref = None if refline is None else float(np.asarray(transform(np.asarray(float(refline)))))
    return draw_forest(spec, ax=ax, xlabel=xlabel, refline=ref, title=title,
                       annotate=annotate, xscale=xscale)


# ------------------------------------------------- MetaMixed / BivariateMeta
def _marginal_weights(results):
    """metafor's ``weights.rma.mv`` (``type="diagonal"``): the diagonal of ``V^{-1}``
    (``V`` the fitted marginal covariance) in percent of its sum."""
    m = results.model
    d = np.empty(int(m.nobs))
    if hasattr(m, "study"):                 # BivariateMeta: V_i = S_i + Psi per study
        psi = results.cov_between.to_numpy(dtype=float)
        for i in range(m.k_studies):
            rows = np.flatnonzero(m.study == i)
            o = m.outcome[rows]
            d[rows] = np.diag(np.linalg.inv(m.S[i][np.ix_(o, o)] + psi[np.ix_(o, o)]))
    elif getattr(m.spec, "zspace_active", lambda: False)():    # crossed: never form V
        d = m.spec.zspace_diagonal(np.asarray(results.theta, dtype=float), inverse=True)
    else:
        spec = m.spec
        for rows, blocks in zip(spec.layout.groups,
                                spec.build(np.asarray(results.theta, dtype=float))):
            d[np.asarray(rows)] = np.diagonal(np.linalg.inv(blocks), axis1=-2, axis2=-1)
    return 100.0 * d / d.sum()


def _default_groups(results):
    """(codes, names) of the default grouping: the outcome of BivariateMeta; for
    MetaMixed, the coefficient when every design row is an indicator of one coefficient
    (``yi ~ 0 + outcome``), else one group."""
    m = results.model
    if hasattr(m, "outcome") and hasattr(m, "names"):
        return np.asarray(m.outcome), list(m.names)
    X = np.asarray(m.exog, dtype=float)
    unit = (np.sum(X != 0, axis=1) == 1) & np.isclose(X.max(axis=1), 1.0)
    if X.shape[1] > 1 and unit.all():
        return np.argmax(X, axis=1), [str(c) for c in m.exog_names]
    return np.zeros(X.shape[0], dtype=int), None


def _same_rows(X, members):
    """True when the design rows ``members`` of ``X`` are all equal."""
    first = X[members[0]]
    return bool(np.all(np.abs(X[members] - first) <= 1e-12 * (1 + np.abs(first))))


def _groups_from(results, group):
    m = results.model
    n = int(m.nobs)
    if group is None:
        return _default_groups(results)
    if isinstance(group, str):
        frame = getattr(m.data, "frame", None)
        if frame is None or group not in frame.columns:
            raise ValueError(f"group={group!r} is not a column of the model's data")
        values = frame[group]
        if len(values) != n:
            raise ValueError(f"column {group!r} has {len(values)} rows, the fit has {n}")
    else:
        values = pd.Series(np.asarray(group).reshape(-1))
        if len(values) != n:
            raise ValueError(f"group has {len(values)} entries but the fit has {n} rows")
    codes, uniques = pd.factorize(pd.Series(np.asarray(values)), sort=False)
    if (codes < 0).any():
        raise ValueError("group has missing values")
    return codes, [str(u) for u in uniques]


def _row_labels(results, labels, n):
    if labels is not None:
        labels = [str(lab) for lab in labels]
        if len(labels) != n:
            raise ValueError(f"labels has {len(labels)} entries but the fit has {n} rows")
        return labels
    m = results.model
    idx = getattr(m.data, "row_labels", None)
    if hasattr(m, "study"):                     # BivariateMeta: one label per study
        study = np.asarray(m.study)
        if idx is None or len(idx) != n:
            return [f"Study {s + 1}" for s in study]
    return default_labels(idx, n)


def _footer(results):
    """Footer lines: the model with QE (MetaMixed) or tau^2 and rho (BivariateMeta), then
    the variance components when they fit on one line."""
    head = f"{type(results.model).__name__} ({results.method})"
    if hasattr(results, "rho_between"):               # BivariateMeta
        parts = [r"$\tau^2$ = " + ", ".join(fmt_num(t) for t in results.tau2)]
        if np.isfinite(results.rho_between):
            parts.append(r"$\rho$ = " + f"{results.rho_between:.2f}")
        return [head + ": " + ", ".join(parts)]
    q = getattr(results, "q", None)
    first = head + (": " + q_text("QE", q, results.q_df, results.q_pvalue)
                    if q is not None and np.isfinite(q) else "")
    comps = ", ".join(f"{name} = {fmt_num(val)}" for name, val in results.theta.items())
    return [first] + ([comps] if comps and len(comps) <= 90 else [])


def multivariate_forest_plot(results: Any,
                             ax: Axes | None = None, labels: Sequence[str] | None = None,
                             alpha: float = 0.05, show_weights: bool = True,
                             show_prediction: bool = True,
                             sort: Literal["effect", "weight"] | None = None,
                             transform: Callable[[np.ndarray], np.ndarray] | None = None,
                             xlabel: str | None = None, refline: float | None = 0,
                             title: str | None = None, annotate: bool = True,
                             xscale: Literal["linear", "log"] | None = None,
                             group: str | ArrayLike | None = None) -> Figure:
    """Forest plot of a MetaMixed or BivariateMeta fit: the effect sizes grouped by
    outcome (or any grouping), with a pooled estimate per group.

    Every row (effect size ``y_j`` with known sampling variance ``S_jj``) is drawn with
    ``y_j +/- z_{1-alpha/2} sqrt(S_jj)``, squares sized by metafor's ``weights.rma.mv``
    (diagonal of ``V^{-1}``, the fitted marginal covariance, in percent).  Rows are
    grouped (a bold header per group).  When all rows share one design row (an
    intercept-only model) the pooled diamond ends the plot; otherwise, when all rows of a
    group share one design row ``x`` (one coefficient per outcome), the group ends with
    the diamond of ``x'b`` and its confidence interval (``get_prediction()``; t or z as
    the fit) and, with ``show_prediction``, the prediction interval of a new effect in
    that group (``obs_ci_*``: ``x'b`` plus the random-effects variance of the group's
    first row).  Otherwise each row carries a grey diamond of its fitted value, as in a
    meta-regression.

    metafor's ``forest.rma`` on an ``rma.mv`` fit, with the weights of
    ``weights.rma.mv``.

    Parameters
    ----------
    results : MetaMixedResults or BivariateResults
        A fitted :class:`~metamodels.MetaMixed` or :class:`~metamodels.BivariateMeta`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure when omitted.
    labels : sequence of str, optional
        One label per row (default: the data's row labels; the study for BivariateMeta).
    alpha : float
        ``1 - alpha`` is the level of all intervals.
    show_weights : bool
        Show the weights (percent) as a text column.
    show_prediction : bool
        Draw the prediction interval through each group's diamond.
    sort : {None, "effect", "weight"}
        Order within each group.
    transform : callable, optional
        Monotone function applied to every plotted number (e.g. ``np.exp``).
    xlabel : str, optional
        Default "Effect size".
    refline : float or None
        Reference line on the analysis scale (``None``: none).
    title : str, optional
        Title above the plot.
    annotate : bool
        Draw the text columns.
    xscale : {"linear", "log"}, optional
        Scale of the x axis (default linear).
    group : str or array_like, optional
        Grouping of the rows: a column of the model's data or one value per row.
        Defaults: the outcome for BivariateMeta; for MetaMixed, the coefficient when each
        design row is the indicator of one coefficient (``yi ~ 0 + outcome``), else a
        single group.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For an invalid ``alpha``, ``sort`` or ``xscale``, ``labels`` or ``group`` of the
        wrong length, an unknown ``group`` column or missing group values.
    TypeError
        If ``transform`` is not callable.

    Examples
    --------
    >>> import metamodels as mm
    >>> from metamodels.plots import multivariate_forest_plot
    >>> b = mm.datasets.load("berkey1998")
    >>> blocks = [b.loc[b.trial == t, ["v1i", "v2i"]].to_numpy() for t in b.trial.unique()]
    >>> mv = mm.MetaMixed.from_formula("yi ~ 0 + outcome + (0 + outcome | trial)", b,
    ...                                V=blocks).fit()
    >>> fig = multivariate_forest_plot(mv, xlabel="Mean difference (mm)")
    """
    alpha = check_alpha(alpha)
    transform = check_transform(transform)
    xscale = check_xscale("linear" if xscale is None else xscale)
    xlabel = "Effect size" if xlabel is None else xlabel
    m = results.model
    y = np.asarray(m.endog, dtype=float)
    n = y.size
    v = np.asarray(m.known.diagonal(), dtype=float)
    labels = _row_labels(results, labels, n)
    codes, names = _groups_from(results, group)
    w = _marginal_weights(results)
    z = stats.norm.ppf(1 - alpha / 2)
    est, lo, hi = apply(transform, y, y - z * np.sqrt(v), y + z * np.sqrt(v))
    frame = results.get_prediction().summary_frame(alpha)
    X = np.asarray(m.exog, dtype=float)
    fe, fl, fh = apply(transform, frame["mean"].to_numpy(), frame["mean_ci_lower"].to_numpy(),
                       frame["mean_ci_upper"].to_numpy())
    pred_lo, pred_hi = apply(transform, frame["mean"].to_numpy(),
                             frame["obs_ci_lower"].to_numpy(),
                             frame["obs_ci_upper"].to_numpy())[1:]

    # lines from top to bottom: ("header", g) / ("row", i) / ("summary", g) / None
    n_groups = int(codes.max()) + 1
    lines, pooled = [], {}
    overall = _same_rows(X, np.arange(n))     # one pooled effect: one diamond at the end
    for g in range(n_groups):
        members = np.flatnonzero(codes == g)
        if names is not None:
            lines.append(("header", g))
        order = members[sort_order(y[members], w[members], sort)]
        lines.extend(("row", i) for i in order)
        if overall:
            pooled[g] = members[0]
        elif _same_rows(X, members):
            pooled[g] = members[0]
            lines.append(("summary", g))
        if g < n_groups - 1:
            lines.append(None)
    if overall:
        lines.append(("summary", None))
    top_y = len(lines)
    rows = np.empty(n)
    headers, summaries = [], []
    fitted = np.full((3, n), np.nan)
    for j, line in enumerate(lines):
        yy = float(top_y - j)
        if line is None:
            continue
        kind, idx = line
        if kind == "header":
            headers.append((yy, names[idx]))
        elif kind == "row":
            rows[idx] = yy
            if codes[idx] not in pooled:
                fitted[:, idx] = fe[idx], fl[idx], fh[idx]
        else:
            r = 0 if idx is None else pooled[idx]
            pred = None
            if show_prediction and np.isfinite(pred_lo[r]) and np.isfinite(pred_hi[r]) and \
                    (pred_hi[r] - pred_lo[r]) > (fh[r] - fl[r]) * (1 + 1e-9):
                pred = (float(pred_lo[r]), float(pred_hi[r]))
            label = "RE Model" if idx is None else f"RE Model: {names[idx]}"
            summaries.append(SummaryRow(label, float(fe[r]), float(fl[r]), float(fh[r]), yy,
                                        pred, None))
    foot = _footer(results)
    spec = ForestSpec(labels=labels, est=est, lo=lo, hi=hi, rows=rows, size=w,
                      bottom=-1.2 - 0.7 * (len(foot) - 1), top=top_y + 1.4, header_y=top_y + 0.9,
                      refline_span=(0.4, top_y + 0.6),
                      weight_text=[f"{p:.1f}%" for p in w] if show_weights else None,
                      summaries=summaries,
                      fitted=None if np.all(np.isnan(fitted)) else tuple(fitted),
                      group_headers=headers,
                      footers=[(-0.6 - 0.7 * j, t) for j, t in enumerate(foot)],
                      level=f"{100 * (1 - alpha):g}%")
    ref = None if refline is None else float(np.asarray(transform(np.asarray(float(refline)))))
    return draw_forest(spec, ax=ax, xlabel=xlabel, refline=ref, title=title,
                       annotate=annotate, xscale=xscale)
