"""DataFrame of a sequence of fits (cumulative or leave-one-out) with a forest plot."""
from __future__ import annotations

import pandas as pd

__all__ = ["SequentialFrame"]


class SequentialFrame(pd.DataFrame):
    """DataFrame of a sequence of fits (cumulative or leave-one-out) that can draw itself
    as a forest plot: :meth:`plot_forest`."""

    _metadata = ["kind", "alpha", "model_method"]

    @property
    def _constructor(self):
        return SequentialFrame

    def plot_forest(self, ax=None, **kwargs):
        """Forest plot of the estimates and confidence intervals, one row per fit
        (metafor's ``forest.cumul.rma``); see
        :func:`metamodels.diagnostics.plots.sequential_forest_plot`."""
        from .plots import sequential_forest_plot
        return sequential_forest_plot(self, ax=ax, **kwargs)
