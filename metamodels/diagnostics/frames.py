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
    as a forest plot: :meth:`plot_forest`."""

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
