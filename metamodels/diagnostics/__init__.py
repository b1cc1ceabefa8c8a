"""Diagnostics of fitted meta-analyses (layer above the model classes).

Each method lives in its own module; this file only imports them.
"""
from .egger import egger_test
from .failsafe import fail_safe_n
from .petpeese import pet_peese
from .rank import rank_correlation_test
from .selection import selection_model
from .trimfill import trim_and_fill

__all__ = ["egger_test", "rank_correlation_test", "trim_and_fill", "fail_safe_n",
           "pet_peese", "selection_model"]
