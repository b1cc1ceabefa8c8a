"""Panel-data models for econometric comparisons (plm class).

Fixed (within, one- and two-way), random (Swamy-Arora or (RE)ML), between, pooled and
first-difference estimators of ``y_it = x_it'b + u_i + e_it``, the Hausman test and
side-by-side comparison tables.

Layer: ``panel/`` stands above the model families (beside ``bayes/``, ``batch/`` and
``diagnostics/``): its (RE)ML random-effects estimator fits a
:class:`metamodels.MixedModel` (an import downwards); no model family imports ``panel``.
"""
from .comparison import HausmanTestResult, PanelComparison, compare, hausman
from .model import EFFECTS, RE_METHODS, PanelModel
from .results import PanelResults

__all__ = ["PanelModel", "PanelResults", "hausman", "HausmanTestResult", "compare",
           "PanelComparison", "EFFECTS", "RE_METHODS"]
