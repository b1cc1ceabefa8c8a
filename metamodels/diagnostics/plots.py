"""Diagnostic plots of meta-analyses (matplotlib): influence panels, Baujat, radial
(Galbraith), normal QQ with a simulated envelope, profile likelihood, and the forest
plot of cumulative / leave-one-out fits.  Every function returns the Figure."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy import stats

from ._figures import _figure
from .influence_plots import influence_plot, mixed_influence_plot

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..multivariate.results import MetaMixedResults
    from ..univariate.results import MetaResults

__all__ = ["influence_plot", "mixed_influence_plot", "baujat_plot", "radial_plot", "qq_plot",
           "profile_plot", "sequential_forest_plot"]


def _univariate(results, what):
    m = getattr(results, "model", None)
    if m is None or not hasattr(m, "vi") or not hasattr(results, "_fit"):
        raise TypeError(f"{what} needs a MetaFixed/MetaRandom result, got "
                        f"{type(results).__name__}")
    return m


def baujat_plot(results: MetaResults, ax: Axes | None = None, annotate: bool = True,
                labels: Sequence[str] | None = None) -> Figure:
    r"""Baujat plot (Baujat et al. 2002), as metafor's ``baujat``.

    Studies in the upper right both contribute much to the heterogeneity and move the
    pooled estimate much.  Also available as ``results.plot_baujat()``.

    Parameters
    ----------
    results : MetaResults
        A :class:`~metamodels.MetaFixed` or :class:`~metamodels.MetaRandom` fit.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure when omitted.
    annotate : bool, default True
        Label the points (by default with the study's position 1..k, as metafor).
    labels : sequence of str, optional
        One label per study (e.g. ``res.model.data.row_labels``).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        ``results`` is not a MetaFixed/MetaRandom fit.
    ValueError
        ``labels`` of the wrong length.

    Notes
    -----
    The x coordinate of study ``i`` is its contribution to the (residual)
    heterogeneity, :math:`(y_i - x_i'\hat\beta)^2 / (v_i + \hat\tau^2)`; the y
    coordinate its influence on the fit,
    :math:`(x_i'\hat\beta_{(-i)} - x_i'\hat\beta)^2 /
    x_i'\operatorname{Var}(\hat\beta_{(-i)})x_i`, from the leave-one-out refits.

    References
    ----------
    .. [1] Baujat, B., Mahe, C., Pignon, J.-P., & Hill, C. (2002). A graphical method
       for exploring heterogeneity in meta-analyses: Application to a meta-analysis of
       65 trials. *Statistics in Medicine*, 21(18), 2641-2652.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> fig = mm.diagnostics.baujat_plot(res)
    >>> len(fig.axes)
    1
    """
    from .influence import univariate_deletions
    m = _univariate(results, "plot_baujat")
    y, v, X = (np.asarray(a, dtype=float) for a in (m.endog, m.vi, m.exog))
    d = univariate_deletions(results)
    pred = X @ np.asarray(results.params, dtype=float)
    pred_del = np.einsum("ij,ij->i", X, d.beta)
    vpred_del = np.einsum("ij,ijk,ik->i", X, d.vb, X)
    xs = (y - pred) ** 2 / (v + float(results.tau2))
    ys = (pred_del - pred) ** 2 / vpred_del
    if ax is None:
        fig, axes = _figure(1, 1, (5.5, 5))
        ax = axes[0, 0]
    ax.scatter(xs, ys, s=14, color="black")
    if annotate:
        if labels is None:
            labels = [str(i) for i in range(1, y.size + 1)]
        elif len(labels) != y.size:
            raise ValueError(f"labels has {len(labels)} entries but there are {y.size} studies")
        for lab, a, b in zip(labels, xs, ys):
            ax.annotate(str(lab), (a, b), xytext=(4, 3), textcoords="offset points",
                        fontsize=8)
    fixed = results.method == "FE"
    ax.set_xlabel("Squared Pearson residual" if not fixed else
                  "Contribution to overall heterogeneity")
    ax.set_ylabel("Influence on overall result")
    pad_x, pad_y = 0.05 * max(xs.max(), 1e-12), 0.05 * max(ys.max(), 1e-12)
    ax.set_xlim(-pad_x, xs.max() + pad_x)
    ax.set_ylim(-pad_y, ys.max() + pad_y)
    ax.figure.tight_layout()
    return ax.figure


def radial_plot(results: MetaResults, ax: Axes | None = None, alpha: float = 0.05) -> Figure:
    """Radial (Galbraith) plot of a model without moderators, as metafor's ``radial``.

    Each study at ``(1/sqrt(v_i + tau^2), y_i/sqrt(v_i + tau^2))``; the pooled estimate
    is the slope of the line through the origin, with the band ``+-z_{1-alpha/2}``
    around it (studies outside it are outlying).  Also available as
    ``results.plot_radial()``.

    Parameters
    ----------
    results : MetaResults
        A :class:`~metamodels.MetaFixed` or :class:`~metamodels.MetaRandom` fit
        without moderators.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure when omitted.
    alpha : float, default 0.05
        Width of the band, ``+-z_{1-alpha/2}``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        ``results`` is not a MetaFixed/MetaRandom fit.
    ValueError
        The model has moderators.

    References
    ----------
    .. [1] Galbraith, R. F. (1988). A note on graphical presentation of estimated odds
       ratios from several clinical trials. *Statistics in Medicine*, 7(8), 889-894.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> fig = mm.diagnostics.radial_plot(res)
    >>> len(fig.axes)
    1
    """
    m = _univariate(results, "plot_radial")
    if m.exog.shape[1] != 1:
        raise ValueError("the radial plot is defined for models without moderators")
    y, v = np.asarray(m.endog, dtype=float), np.asarray(m.vi, dtype=float)
    s = np.sqrt(v + float(results.tau2))
    x, z = 1.0 / s, y / s
    b = float(np.asarray(results.params)[0])
    crit = stats.norm.ppf(1 - alpha / 2)
    if ax is None:
        fig, axes = _figure(1, 1, (6, 5))
        ax = axes[0, 0]
    xmax = 1.1 * x.max()
    xx = np.array([0.0, xmax])
    ax.plot(xx, b * xx, color="black", lw=1)
    ax.plot(xx, b * xx + crit, color="0.5", ls="--", lw=0.8)
    ax.plot(xx, b * xx - crit, color="0.5", ls="--", lw=0.8)
    ax.axhline(0, color="0.8", lw=0.6)
    ax.scatter(x, z, s=20, color="black", zorder=3)
    ax.set_xlim(0, xmax)
    lab = "x_i = 1/sqrt(v_i)" if results.method == "FE" else "x_i = 1/sqrt(v_i + tau^2)"
    ax.set_xlabel(lab)
    ax.set_ylabel("z_i = y_i / sqrt(v_i + tau^2)" if results.method != "FE"
                  else "z_i = y_i / sqrt(v_i)")
    ax.set_title(f"Radial plot: slope = {b:.3f}", fontsize=10)
    ax.figure.tight_layout()
    return ax.figure


def qq_plot(results: MetaResults, ax: Axes | None = None, envelope: bool = True,
            n_sim: int = 1000, alpha: float = 0.05,
            seed: int | np.random.Generator | None = None,
            kind: Literal["rstandard", "rstudent"] = "rstandard") -> Figure:
    """Normal QQ plot of the standardised residuals (metafor's ``qqnorm.rma.uni``).

    Also available as ``results.plot_qq()``.

    Parameters
    ----------
    results : MetaResults
        A :class:`~metamodels.MetaFixed` or :class:`~metamodels.MetaRandom` fit.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure when omitted.
    envelope : bool, default True
        Add the pseudo confidence envelope: ``n_sim`` vectors of independent standard
        normal deviates ``z`` are turned into residuals ``(I - H) z`` (``H`` the
        symmetric hat matrix ``W^{1/2}X(X'WX)^{-1}X'W^{1/2}``), sorted, and the
        ``alpha/2`` and ``1 - alpha/2`` quantiles of each order statistic are drawn
        (Cook and Weisberg 1982).
    n_sim : int, default 1000
        Simulated residual vectors of the envelope.
    alpha : float, default 0.05
        The envelope joins the ``alpha/2`` and ``1 - alpha/2`` quantiles.
    seed : int or Generator, optional
        Seed of the simulated envelope (reproducible plots).
    kind : {"rstandard", "rstudent"}
        Internally standardised (default) or externally studentised residuals.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        ``results`` is not a MetaFixed/MetaRandom fit.
    ValueError
        Unknown ``kind``.

    References
    ----------
    .. [1] Cook, R. D., & Weisberg, S. (1982). *Residuals and Influence in
       Regression*. Chapman and Hall.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> fig = mm.diagnostics.qq_plot(res, seed=1)
    >>> len(fig.axes)
    1
    """
    m = _univariate(results, "plot_qq")
    if kind == "rstandard":
        z = np.asarray(results.rstandard()["z"], dtype=float)
    elif kind == "rstudent":
        from .influence import MetaInfluence
        z = MetaInfluence(results).summary_frame()["rstudent"].to_numpy(dtype=float)
    else:
        raise ValueError(f"kind must be 'rstandard' or 'rstudent', got {kind!r}")
    k = z.size
    theo = stats.norm.ppf((np.arange(1, k + 1) - (3 / 8 if k <= 10 else 0.5))
                          / (k + (1 - 2 * 3 / 8 if k <= 10 else 0.0)))
    if ax is None:
        fig, axes = _figure(1, 1, (5.5, 5))
        ax = axes[0, 0]
    if envelope:
        rng = np.random.default_rng(seed)
        X = np.asarray(m.exog, dtype=float)
        w = 1.0 / (np.asarray(m.vi, dtype=float) + float(results.tau2))
        sx = X * np.sqrt(w)[:, None]
        Hs = sx @ np.linalg.solve(sx.T @ sx, sx.T)
        sims = (np.eye(k) - Hs) @ rng.standard_normal((k, int(n_sim)))
        sims.sort(axis=0)
        lo = np.quantile(sims, alpha / 2, axis=1)
        hi = np.quantile(sims, 1 - alpha / 2, axis=1)
        ax.plot(theo, lo, ls="--", color="0.5", lw=0.8)
        ax.plot(theo, hi, ls="--", color="0.5", lw=0.8)
    lim = max(np.abs(theo).max(), np.nanmax(np.abs(z))) * 1.05
    ax.plot([-lim, lim], [-lim, lim], color="black", lw=0.8)
    ax.scatter(theo, np.sort(z), s=18, color="black", zorder=3)
    ax.set_xlabel("Theoretical quantiles")
    ax.set_ylabel("Sample quantiles")
    ax.set_title("Normal Q-Q plot", fontsize=10)
    ax.figure.tight_layout()
    return ax.figure


# --------------------------------------------------------------- profile
def _profile_univariate(results, steps, xlim):
    from ..core.scalar import DiagonalTau2
    m = results.model
    y, v, X = (np.asarray(a, dtype=float) for a in (m.endog, m.vi, m.exog))
    reml = results.method == "REML"
    prob = DiagonalTau2(y, v, X)
    that = float(results.tau2)
    if xlim is None:
        try:
            lo, hi = results.conf_int_tau2(method="qprofile")
        except (ValueError, RuntimeError):
            lo, hi = 0.0, 4 * that
        hi = max(hi, 2 * that, 1e-4)
        xlim = (max(0.0, min(lo, that) / 2), 1.2 * hi)
    grid = np.linspace(xlim[0], xlim[1], int(steps))
    offset = 0.5 * np.linalg.slogdet(X.T @ X)[1] if reml else 0.0
    ll = np.array([prob.loglik(t, reml) for t in grid]) + offset
    top = prob.loglik(that, reml) + offset
    return [("tau^2", grid, ll, that, top)]


def _profile_mixed(results, steps, xlim):
    from ..multivariate.profile import profile_loglik
    m = results.model
    spec = m.spec
    theta_hat = np.asarray(results.theta, dtype=float)
    offset = (float(results.llf_metafor) - float(results.llf))
    names = list(results.theta.index)
    se = np.sqrt(np.clip(np.diag(np.asarray(results.cov_theta, dtype=float)), 0, None))
    out = []
    for j, name in enumerate(names):
        if xlim is not None:
            lo, hi = xlim
        else:
            width = 3 * se[j] if np.isfinite(se[j]) and se[j] > 0 else abs(theta_hat[j]) + 0.1
            lo = max(spec.lower[j], theta_hat[j] - width)
            hi = min(spec.upper[j], theta_hat[j] + width)
        grid = np.linspace(lo, hi, int(steps))
        ll = np.array([profile_loglik(m, results.reml, theta_hat, j, val)[0]
                       for val in grid])
        ll[~np.isfinite(ll)] = np.nan
        out.append((name, grid, ll + offset, theta_hat[j], float(results.llf_metafor)))
    return out


def profile_plot(results: MetaResults | MetaMixedResults, steps: int = 20,
                 xlim: tuple[float, float] | None = None,
                 figsize: tuple[float, float] | None = None) -> Figure:
    """Profile (restricted) log-likelihood of each variance component.

    MetaRandom: the (RE)ML log-likelihood of ``tau^2`` over a grid (REML for REML
    fits, ML otherwise; on metafor's scale); MetaMixed: one panel per variance component,
    the other components re-estimated at each grid value (metafor's
    ``profile.rma.uni`` / ``profile.rma.mv``).  The estimate is marked by a dotted
    vertical line, the maximum by a dotted horizontal line.  Also available as
    ``results.plot_profile()``.

    Parameters
    ----------
    results : MetaResults or MetaMixedResults
        A :class:`~metamodels.MetaRandom` or :class:`~metamodels.MetaMixed` fit.
    steps : int, default 20
        Grid points per component.
    xlim : (float, float), optional
        Range of the grid (default: around the estimate and its Q-profile interval for
        tau^2, estimate +- 3 standard errors otherwise).
    figsize : (float, float), optional
        Figure size in inches (default: 5.5 wide, 3.2 high per panel).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        A fixed-effects model (no variance component).
    TypeError
        Results of another kind of model.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> fig = mm.diagnostics.profile_plot(res, steps=10)
    >>> len(fig.axes)
    1
    """
    m = getattr(results, "model", None)
    if m is not None and hasattr(m, "vi") and hasattr(results, "_fit"):
        if results.method == "FE":
            raise ValueError("a fixed-effects model has no variance component to profile")
        panels = _profile_univariate(results, steps, xlim)
    elif m is not None and hasattr(m, "spec") and hasattr(m, "known"):
        panels = _profile_mixed(results, steps, xlim)
    else:
        raise TypeError(f"plot_profile is not available for {type(results).__name__}")
    n = len(panels)
    fig, axes = _figure(n, 1, figsize or (5.5, 3.2 * n))
    for ax, (name, grid, ll, est, top) in zip(axes[:, 0], panels):
        ax.plot(grid, ll, color="black", lw=1)
        ax.scatter(grid, ll, s=10, color="black")
        ax.axvline(est, ls=":", color="0.4")
        ax.axhline(top, ls=":", color="0.4")
        ax.set_xlabel(name)
        ax.set_ylabel("Restricted log-likelihood" if getattr(results, "method", "") == "REML"
                      else "Log-likelihood")
    fig.tight_layout()
    return fig


# ------------------------------------------------------ sequential forest
def sequential_forest_plot(frame: pd.DataFrame, ax: Axes | None = None,
                           transform: Callable[[np.ndarray], np.ndarray] | None = None,
                           xlabel: str = "Estimate", refline: float | None = 0.0,
                           title: str | None = None) -> Figure:
    """Forest plot of cumulative or leave-one-out fits (metafor's
    ``forest.cumul.rma``): one row per fit, the estimate and its confidence interval,
    labelled by the study added (cumulative) or left out.

    Parameters
    ----------
    frame : DataFrame
        With columns estimate, ci_lower, ci_upper (from :func:`cumulative` or
        :func:`leave_one_out`).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure when omitted.
    transform : callable, optional
        Applied to the estimates, limits and reference line, e.g. ``np.exp`` for
        ratio measures.
    xlabel : str, default "Estimate"
        Label of the x axis.
    refline : float or None, default 0.0
        Reference line (on the analysis scale); None for none.
    title : str, optional
        Title of the axes.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        ``frame`` lacks one of the columns.
    """
    for c in ("estimate", "ci_lower", "ci_upper"):
        if c not in frame.columns:
            raise ValueError(f"frame needs the column {c!r}")
    est, lo, hi = (frame[c].to_numpy(dtype=float) for c in ("estimate", "ci_lower", "ci_upper"))
    if transform is not None:
        est, lo, hi = (np.asarray(transform(a), dtype=float) for a in (est, lo, hi))
        if refline is not None:
            refline = float(transform(np.asarray(refline)))
    n = est.size
    kind = getattr(frame, "kind", None)
    labels = [str(i) for i in frame.index]
    if kind == "cumulative":
        labels = [f"+ {lab}" if j else lab for j, lab in enumerate(labels)]
    elif kind == "leave1out":
        labels = [f"- {lab}" for lab in labels]
    if ax is None:
        fig, axes = _figure(1, 1, (7, max(2.5, 0.3 * n + 1.2)))
        ax = axes[0, 0]
    rows = np.arange(n, 0, -1)
    ax.hlines(rows, lo, hi, color="black", lw=1)
    ax.scatter(est, rows, marker="s", s=22, color="black", zorder=3)
    if refline is not None:
        ax.axvline(refline, ls=":", color="0.4")
    ax.set_yticks(rows)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_ylim(0.3, n + 0.7)
    ax.set_xlabel(xlabel)
    for r, e, a, b in zip(rows, est, lo, hi):
        ax.annotate(f"{e:.2f} [{a:.2f}, {b:.2f}]", (1.01, r), xycoords=("axes fraction", "data"),
                    va="center", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    ax.figure.tight_layout()
    return ax.figure
