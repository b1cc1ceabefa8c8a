"""Plots of fitted models (matplotlib): forest plots (univariate, Mantel-Haenszel / Peto,
MetaMixed / BivariateMeta), funnel plots, caterpillar plots of predicted random effects
and residual diagnostics panels."""
from .caterpillar import caterpillar_plot
from .forest import forest_plot
from .forest_more import multivariate_forest_plot, table_forest_plot
from .funnel import funnel_plot
from .residuals import diagnostics_plot

__all__ = ["forest_plot", "funnel_plot", "caterpillar_plot", "diagnostics_plot",
           "table_forest_plot", "multivariate_forest_plot"]
