"""Linear mixed models (SAS PROC MIXED / lme4 class) on the shared engine."""
from .model import MixedModel
from .results import MixedResults
from .mivque import mivque0

__all__ = ["MixedModel", "MixedResults", "mivque0"]
