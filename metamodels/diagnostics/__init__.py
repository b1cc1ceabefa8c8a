"""Diagnostics and sensitivity analyses of fitted models (a layer above the models).

Each method lives in its own module; this file only imports them.  Results methods
implemented here are registered as results extensions (:mod:`metamodels.base.registry`)
when this package is imported.
"""
from ..base.registry import register_extension
from . import robust as _robust
# publication bias (issue 14)
from .egger import egger_test
from .failsafe import fail_safe_n
from .petpeese import pet_peese
from .rank import rank_correlation_test
from .selection import selection_model
from .trimfill import trim_and_fill

register_extension("robust", _robust.robust)

__all__ = ["egger_test", "rank_correlation_test", "trim_and_fill", "fail_safe_n",
           "pet_peese", "selection_model"]
