"""Effect sizes and their sampling variances from study summary data.

:func:`effect_size` is a Python counterpart of metafor's ``escalc``: it turns
means and standard deviations, 2x2 tables, correlations or proportions into
effect sizes ``yi`` with sampling variances ``vi``, ready for a meta-analysis.
:data:`MEASURES` lists the supported measures.
"""
from . import transforms
from .escalc import MEASURES, Measure, effect_size
from .tables import summarize_effect_sizes, to_long, to_table

__all__ = ["effect_size", "MEASURES", "Measure", "summarize_effect_sizes", "to_long", "to_table",
           "transforms"]
