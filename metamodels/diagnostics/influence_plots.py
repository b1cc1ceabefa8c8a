"""The influence panels of metafor's ``plot.infl.rma.uni`` (and the MetaMixed panels), drawn
from an influence object's ``summary_frame()``.  Every function returns the Figure."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import stats

from ._figures import _figure, _index_panel

if TYPE_CHECKING:
    from matplotlib.figure import Figure


__all__ = ["influence_plot", "mixed_influence_plot"]

_INFL_PANELS = [("rstudent", "rstudent"), ("dffits", "dffits"), ("cooks_d", "cook.d"),
                ("cov_ratio", "cov.r"), ("tau2_deleted", "tau2.del"), ("q_deleted", "QE.del"),
                ("hat", "hat"), ("weight", "weight")]


def influence_plot(influence: Any,
                   which: Literal["influence", "dfbetas"] = "influence",
                   figsize: tuple[float, float] | None = None) -> Figure:
    """metafor's ``plot.infl.rma.uni``.

    Parameters
    ----------
    influence : MetaInfluence
        From :func:`get_influence` of a MetaFixed/MetaRandom fit.
    which : {"influence", "dfbetas"}
        The eight panels rstudent, dffits, cooks_d, cov_ratio, tau2_deleted,
        q_deleted, hat, weight (4 x 2), or one panel of DFBETAS per coefficient.
        Influential studies (``is_influential``) are red; dotted reference lines mark
        metafor's cut-offs (``+-1.96``; ``+-3 sqrt(p/(k-p))``; the median of chi2_p;
        1; the full fit's tau^2 and Q; ``p/k`` and ``3p/k``; ``100/k``).
    figsize : tuple, optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Unknown ``which``.
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


def mixed_influence_plot(influence: Any,
                         figsize: tuple[float, float] | None = None) -> Figure:
    """Index plots of Cook's distance, hat values and DFBETAS of a MetaMixed fit.

    Parameters
    ----------
    influence : MetaMixedInfluence
        From :func:`get_influence` of a MetaMixed fit.
    figsize : tuple, optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
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
