"""Formula handling on patsy (fixed-effects design matrices, prediction designs)."""
from .design import build_design, design_for_prediction

__all__ = ["build_design", "design_for_prediction"]
