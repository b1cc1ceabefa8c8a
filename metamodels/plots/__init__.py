"""Plots of fitted models (matplotlib): forest plots (univariate, Mantel-Haenszel / Peto,
MetaMixed / BivariateMeta), funnel plots, caterpillar plots of predicted random effects
residual diagnostics panels and joint confidence regions of two coefficients."""
from .caterpillar import caterpillar_plot
from .forest import forest_plot
from .forest_more import multivariate_forest_plot, table_forest_plot
from .funnel import funnel_plot
from .region import confidence_region_plot
from .residuals import diagnostics_plot

__all__ = ["forest_plot", "funnel_plot", "caterpillar_plot", "diagnostics_plot",
           "table_forest_plot", "multivariate_forest_plot", "confidence_region_plot"]
