"""DataFrame of a sequence of fits (cumulative or leave-one-out) with a forest plot."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["SequentialFrame"]


class SequentialFrame(pd.DataFrame):
    """DataFrame of a sequence of fits (cumulative or leave-one-out) that can draw itself
    as a forest plot: :meth:`plot_forest`.

    Returned by :func:`~metamodels.diagnostics.cumulative` and
    :func:`~metamodels.diagnostics.leave_one_out`; the attributes ``kind``
    (``"cumulative"`` or ``"leave1out"``), ``alpha`` and ``model_method`` are kept by
    column selection, slicing and rounding.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> import numpy as np
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> cum = res.cumulative(order=dat["year"])
    >>> print(cum.kind, len(cum))
    cumulative 13
    >>> fig = cum.plot_forest(transform=np.exp, xlabel="Risk ratio")
    """

    _metadata = ["kind", "alpha", "model_method"]

    @property
    def _constructor(self):
        return SequentialFrame

    def plot_forest(self, ax: Axes | None = None, **kwargs: Any) -> Figure:
        """Forest plot of the estimates and confidence intervals, one row per fit
        (metafor's ``forest.cumul.rma``).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw into; a new figure when omitted.
        **kwargs
            ``transform``, ``xlabel``, ``refline``, ``title``; see
            :func:`metamodels.diagnostics.plots.sequential_forest_plot`.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from .plots import sequential_forest_plot
        return sequential_forest_plot(self, ax=ax, **kwargs)
