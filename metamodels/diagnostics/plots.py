"""Diagnostic plots of meta-analyses (matplotlib): influence panels, Baujat, radial
(Galbraith), normal QQ with a simulated envelope, profile likelihood, and the forest
plot of cumulative / leave-one-out fits.  Every function returns the Figure."""
from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize, stats

__all__ = ["influence_plot", "mixed_influence_plot", "baujat_plot", "radial_plot", "qq_plot",
           "profile_plot", "sequential_forest_plot"]

_INFL_PANELS = [("rstudent", "rstudent"), ("dffits", "dffits"), ("cooks_d", "cook.d"),
                ("cov_ratio", "cov.r"), ("tau2_deleted", "tau2.del"), ("q_deleted", "QE.del"),
                ("hat", "hat"), ("weight", "weight")]


def _figure(nrows=1, ncols=1, figsize=None):
    import matplotlib.pyplot as plt  # only to create a new figure
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
    return fig, axes


def _univariate(results, what):
    m = getattr(results, "model", None)
    if m is None or not hasattr(m, "vi") or not hasattr(results, "_fit"):
        raise TypeError(f"{what} needs a MetaFixed/MetaRandom result, got "
                        f"{type(results).__name__}")
    return m


def _index_panel(ax, values, flags, title, ref=()):
    x = np.arange(1, values.size + 1)
    ax.plot(x, values, color="0.4", lw=0.8, zorder=1)
    ok = ~flags
    ax.scatter(x[ok], values[ok], s=18, color="black", zorder=2)
    ax.scatter(x[flags], values[flags], s=24, color="red", zorder=3)
    for r in ref:
        ax.axhline(r, ls=":", color="0.5", lw=0.8)
    ax.set_title(title, fontsize=9)
    ax.set_xlim(0.5, values.size + 0.5)
    ax.tick_params(labelsize=8)


def influence_plot(influence, which="influence", figsize=None):
    """metafor's ``plot.infl.rma.uni``.

    Parameters
    ----------
    influence : MetaInfluence
    which : {"influence", "dfbetas"}
        The eight panels rstudent, dffits, cooks_d, cov_ratio, tau2_deleted,
        q_deleted, hat, weight (4 x 2), or one panel of DFBETAS per coefficient.
        Influential studies (``is_influential``) are red; dotted reference lines mark
        metafor's cut-offs (``+-1.96``; ``+-3 sqrt(p/(k-p))``; the median of chi2_p;
        1; the full fit's tau^2 and Q; ``p/k`` and ``3p/k``; ``100/k``).
    figsize : tuple, optional

    Returns
    -------
    Figure
    """
    frame = influence.summary_frame()
    flags = frame["is_influential"].to_numpy(dtype=bool)
    k, p = influence.k, influence.p
    res = influence.results
    if which == "dfbetas":
        cols = [c for c in frame.columns if c.startswith("dfbetas_")]
        fig, axes = _figure(len(cols), 1, figsize or (6, 2.2 * len(cols)))
        for ax, c in zip(axes[:, 0], cols):
            _index_panel(ax, frame[c].to_numpy(), flags, c, ref=(0.0, -1.0, 1.0))
        axes[-1, 0].set_xlabel("Study")
        fig.tight_layout()
        return fig
    if which != "influence":
        raise ValueError(f"which must be 'influence' or 'dfbetas', got {which!r}")
    refs = {"rstudent": (0.0, -stats.norm.ppf(0.975), stats.norm.ppf(0.975)),
            "dffits": (0.0, -3 * np.sqrt(p / (k - p)), 3 * np.sqrt(p / (k - p))),
            "cooks_d": (stats.chi2.ppf(0.5, p),), "cov_ratio": (1.0,),
            "tau2_deleted": (float(res.tau2),), "q_deleted": (float(res.q),),
            "hat": (p / k, 3 * p / k), "weight": (100.0 / k,)}
    fig, axes = _figure(4, 2, figsize or (8, 8.5))
    for ax, (col, title) in zip(axes.ravel(), _INFL_PANELS):
        _index_panel(ax, frame[col].to_numpy(dtype=float), flags, title, refs[col])
    for ax in axes[-1]:
        ax.set_xlabel("Study")
    fig.tight_layout()
    return fig


def mixed_influence_plot(influence, figsize=None):
    """Index plots of Cook's distance, hat values and DFBETAS of a MetaMixed fit."""
    frame = influence.summary_frame()
    cols = ["cooks_d", "hat"] + [c for c in frame.columns if c.startswith("dfbetas_")]
    fig, axes = _figure(len(cols), 1, figsize or (6, 2.2 * len(cols)))
    p = influence.results.model.exog.shape[1]
    flags = (stats.chi2.cdf(frame["cooks_d"].to_numpy(), p) > 0.5)
    for ax, c in zip(axes[:, 0], cols):
        ref = (0.0, -1.0, 1.0) if c.startswith("dfbetas_") else ()
        _index_panel(ax, frame[c].to_numpy(dtype=float), flags, c, ref)
    axes[-1, 0].set_xlabel("Cluster" if influence.cluster is not None else "Row")
    fig.tight_layout()
    return fig


def baujat_plot(results, ax=None, annotate=True, labels=None):
    """Baujat plot (Baujat et al. 2002), as metafor's ``baujat``.

    x: contribution of study ``i`` to the (residual) heterogeneity,
    ``(y_i - x_i'b)^2 / (v_i + tau^2)``; y: its influence on the fit,
    ``(x_i'b_(-i) - x_i'b)^2 / x_i'Var(b_(-i))x_i`` from the leave-one-out refits.

    Parameters
    ----------
    annotate : bool
        Label the points (by default with the study's position 1..k, as metafor).
    labels : sequence of str, optional
        One label per study (e.g. ``res.model.data.row_labels``).

    Returns
    -------
    Figure
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


def radial_plot(results, ax=None, alpha=0.05):
    """Radial (Galbraith) plot of a model without moderators.

    Each study at ``(1/sqrt(v_i + tau^2), y_i/sqrt(v_i + tau^2))``; the pooled estimate
    is the slope of the line through the origin, with the band ``+-z_{1-alpha/2}``
    around it (studies outside it are outlying), as metafor's ``radial``.

    Returns
    -------
    Figure
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


def qq_plot(results, ax=None, envelope=True, n_sim=1000, alpha=0.05, seed=None,
            kind="rstandard"):
    """Normal QQ plot of the standardised residuals (metafor's ``qqnorm.rma.uni``).

    Parameters
    ----------
    results : MetaFixed/MetaRandom results
    envelope : bool
        Add the pseudo confidence envelope: ``n_sim`` vectors of independent standard
        normal deviates ``z`` are turned into residuals ``(I - H) z`` (``H`` the
        symmetric hat matrix ``W^{1/2}X(X'WX)^{-1}X'W^{1/2}``), sorted, and the
        ``alpha/2`` and ``1 - alpha/2`` quantiles of each order statistic are drawn
        (Cook and Weisberg 1982).
    seed : int or Generator, optional
        Seed of the simulated envelope (reproducible plots).
    kind : {"rstandard", "rstudent"}
        Internally standardised (default) or externally studentised residuals.

    Returns
    -------
    Figure
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
    from ..core.likelihood import evaluate
    m = results.model
    spec = m.spec
    y, X = m.endog, m.exog
    reml = results.reml
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
        free = np.array([i for i in range(theta_hat.size) if i != j], dtype=int)
        bounds = [(spec.lower[i] if np.isfinite(spec.lower[i]) else None,
                   spec.upper[i] if np.isfinite(spec.upper[i]) else None) for i in free]
        ll = np.full(grid.size, np.nan)
        start = theta_hat[free]
        for g, val in enumerate(grid):
            def full(tf, val=val):
                th = theta_hat.copy()
                th[j] = val
                th[free] = tf
                return th

            def fun(tf):
                try:
                    ev = evaluate(full(tf), y, X, spec, reml, order=1)
                except np.linalg.LinAlgError:
                    return np.inf, np.zeros(tf.size)
                return -ev.llf, -np.asarray(ev.grad)[free]
            if free.size == 0:
                ll[g] = evaluate(full(start), y, X, spec, reml).llf
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sol = optimize.minimize(fun, start, jac=True, method="L-BFGS-B", bounds=bounds,
                                        options={"ftol": 1e-12, "gtol": 1e-8})
            ll[g] = -sol.fun
            if np.isfinite(sol.fun):
                start = sol.x
        out.append((name, grid, ll + offset, theta_hat[j], float(results.llf_metafor)))
    return out


def profile_plot(results, steps=20, xlim=None, figsize=None):
    """Profile (restricted) log-likelihood of each variance component.

    MetaRandom: the (RE)ML log-likelihood of ``tau^2`` over a grid (REML for REML
    fits, ML otherwise; on metafor's scale); MetaMixed: one panel per variance component,
    the other components re-estimated at each grid value (metafor's
    ``profile.rma.uni`` / ``profile.rma.mv``).  The estimate is marked by a dotted
    vertical line, the maximum by a dotted horizontal line.

    Parameters
    ----------
    steps : int
        Grid points per component.
    xlim : (float, float), optional
        Range of the grid (default: around the estimate and its Q-profile interval for
        tau^2, estimate +- 3 standard errors otherwise).

    Returns
    -------
    Figure
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
def sequential_forest_plot(frame, ax=None, transform=None, xlabel="Estimate", refline=0.0,
                           title=None):
    """Forest plot of cumulative or leave-one-out fits (metafor's
    ``forest.cumul.rma``): one row per fit, the estimate and its confidence interval,
    labelled by the study added (cumulative) or left out.

    Parameters
    ----------
    frame : DataFrame with estimate, ci_lower, ci_upper (from ``cumulative`` or
        ``leave_one_out``)
    transform : callable, optional
        e.g. ``np.exp`` for ratio measures.
    refline : float or None

    Returns
    -------
    Figure
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
