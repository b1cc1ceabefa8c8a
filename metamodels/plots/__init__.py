"""Plots of meta-analysis results: forest and funnel plots (matplotlib)."""
from .forest import forest_plot
from .funnel import funnel_plot

__all__ = ["forest_plot", "funnel_plot"]
