"""Residual diagnostics panels (``res.plot_diagnostics()``): residuals against fitted
values, a normal QQ plot and a scale-location plot, for MixedModel and the meta-analysis
results (MetaFixed, MetaRandom, MetaMixed, LocationScaleMeta)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["diagnostics_plot", "residuals_for_plot"]

_PANELS = ("fitted", "qq", "scale")


def residuals_for_plot(results: Any) -> tuple[np.ndarray, np.ndarray, str]:
    """``(fitted, residuals, label)`` the panels show.

    * MixedModel: conditional fitted values ``X b + Z u`` and conditional Pearson
      residuals scaled by the residual SD (``resid_pearson_conditional``; lme4's
      ``plot(fit)`` and ``residuals(fit, type = "pearson", scaled = TRUE)``).
    * Meta-analysis results: fitted values ``X b`` and metafor's standardised
      residuals ``rstandard()["z"]`` (residual over its standard error; without
      ``N(0, 1)`` misfit they are standard normal).

    Parameters
    ----------
    results : MixedResults or meta-analysis results
        A fitted result (statsmodels wrappers are unwrapped).

    Returns
    -------
    fitted : ndarray
    residuals : ndarray
    label : str
        The y-axis label of the residual panels.

    Raises
    ------
    TypeError
        For results with neither kind of residuals.
    """
    res = getattr(results, "_results", results)
    if hasattr(type(res), "resid_pearson_conditional"):     # MixedModel results
        return (np.asarray(res.fittedvalues, dtype=float),
                np.asarray(res.resid_pearson_conditional, dtype=float),
                "Pearson residual (conditional, scaled)")
    if hasattr(res, "rstandard") and hasattr(res, "fittedvalues"):
        return (np.asarray(res.fittedvalues, dtype=float),
                res.rstandard()["z"].to_numpy(dtype=float), "Standardized residual")
    raise TypeError("plot_diagnostics needs MixedModel or meta-analysis results, got "
                    f"{type(results).__name__}")


def _smooth(ax, x, y):
    """A lowess curve through the points (statsmodels; frac 2/3 as R's lowess)."""
    if x.size < 4 or np.ptp(x) == 0:
        return
    from statsmodels.nonparametric.smoothers_lowess import lowess
    fit = lowess(y, x, frac=2 / 3, it=3, return_sorted=True)
    ax.plot(fit[:, 0], fit[:, 1], color="#c0392b", lw=1.1, gid="smooth")


def ppoints(n: int) -> np.ndarray:
    """R's ``ppoints``: ``(i - a) / (n + 1 - 2a)``, ``a = 3/8`` for ``n <= 10`` else 1/2.

    Parameters
    ----------
    n : int
        Number of points.

    Returns
    -------
    ndarray (n,)
        Probabilities for a normal QQ plot.
    """
    a = 3 / 8 if n <= 10 else 0.5
    return (np.arange(1, n + 1) - a) / (n + 1 - 2 * a)


def diagnostics_plot(results: Any, which: Sequence[str] = _PANELS, smooth: bool = True,
                     figsize: tuple[float, float] | None = None) -> Figure:
    """Residual diagnostics in one row of panels.

    lme4's ``plot(fit)`` and ``qqnorm`` panels, metafor's ``plot.rma`` residual panels;
    drawn by ``res.plot_diagnostics()``.  Non-finite residuals are left out.

    Parameters
    ----------
    results : MixedResults or meta-analysis results
        See :func:`residuals_for_plot` for the residuals and fitted values used.
    which : sequence of {"fitted", "qq", "scale"}
        Panels, left to right: residuals against fitted values (with a zero line),
        normal QQ plot of the residuals (theoretical quantiles ``Phi^{-1}`` of R's
        ``ppoints``, with the identity line), and scale-location
        ``sqrt(|residual|)`` against fitted values.
    smooth : bool
        Add a lowess curve (``gid="smooth"``) to the fitted-value panels.
    figsize : tuple, optional
        ``(width, height)`` in inches (default 4.2 inches per panel by 3.9).

    Returns
    -------
    matplotlib.figure.Figure
        Points carry ``gid="points"``, the zero / identity lines ``gid="refline"``.

    Raises
    ------
    ValueError
        If ``which`` is empty or names an unknown panel.
    TypeError
        For results with neither kind of residuals.

    Examples
    --------
    >>> import metamodels as mm
    >>> from metamodels.plots import diagnostics_plot
    >>> ss = mm.datasets.load("sleepstudy")
    >>> fit = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", ss).fit()
    >>> fig = diagnostics_plot(fit, which=("fitted", "qq"))
    >>> [a.get_title() for a in fig.axes]
    ['Residuals vs fitted', 'Normal Q-Q']
    """
    which = tuple(which)
    bad = [w for w in which if w not in _PANELS]
    if bad or not which:
        raise ValueError(f"which takes a non-empty subset of {_PANELS}; got {which!r}")
    fitted, resid, label = residuals_for_plot(results)
    ok = np.isfinite(fitted) & np.isfinite(resid)
    fitted, resid = fitted[ok], resid[ok]
    import matplotlib.pyplot as plt   # only to create a new figure
    fig, axes = plt.subplots(1, len(which), figsize=figsize or (4.2 * len(which), 3.9),
                             squeeze=False)
    for ax, kind in zip(axes[0], which):
        if kind == "fitted":
            ax.scatter(fitted, resid, s=12, color="black", alpha=0.75, gid="points")
            ax.axhline(0.0, color="0.5", ls=":", lw=0.9, gid="refline")
            if smooth:
                _smooth(ax, fitted, resid)
            ax.set_xlabel("Fitted value")
            ax.set_ylabel(label)
            ax.set_title("Residuals vs fitted", fontsize=10)
        elif kind == "qq":
            theo = stats.norm.ppf(ppoints(resid.size))
            ax.scatter(theo, np.sort(resid), s=12, color="black", alpha=0.75, gid="points")
            lo, hi = min(theo.min(), resid.min()), max(theo.max(), resid.max())
            ax.plot([lo, hi], [lo, hi], color="0.5", ls=":", lw=0.9, gid="refline")
            ax.set_xlabel("Theoretical quantiles")
            ax.set_ylabel(label)
            ax.set_title("Normal Q-Q", fontsize=10)
        else:
            root = np.sqrt(np.abs(resid))
            ax.scatter(fitted, root, s=12, color="black", alpha=0.75, gid="points")
            if smooth:
                _smooth(ax, fitted, root)
            ax.set_xlabel("Fitted value")
            ax.set_ylabel(r"$\sqrt{|\mathrm{" + label.split(" (")[0].replace(" ", r"\ ")
                          + r"}|}$")
            ax.set_title("Scale-location", fontsize=10)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    return fig
