"""Multilevel and multivariate meta-analysis (MetaMixed, BivariateMeta)."""
from .bivariate import BivariateMeta, within_corr_sensitivity
from .model import MetaMixed
from .results import MetaMixedResults

__all__ = ["MetaMixed", "MetaMixedResults", "BivariateMeta", "within_corr_sensitivity"]
