"""Univariate meta-analysis: MetaFixed, MetaRandom and their array kernels."""
from .models import MetaFixed, MetaRandom
from .results import MetaRandomResults, MetaResults

__all__ = ["MetaFixed", "MetaRandom", "MetaResults", "MetaRandomResults"]
