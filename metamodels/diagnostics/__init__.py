"""Diagnostics and sensitivity analyses of fitted models (a layer above the models).

Results methods implemented here are registered as results extensions
(:mod:`metamodels.base.registry`) when this package is imported.
"""
from ..base.registry import register_extension
from . import robust as _robust

register_extension("robust", _robust.robust)

__all__ = []
