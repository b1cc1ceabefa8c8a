"""Fitting back-ends registered by higher layers (layers import only downward).

``MixedModel.fit_bayes`` lives in :mod:`metamodels.mixed`, below :mod:`metamodels.bayes`;
the Gibbs sampler registers itself here when :mod:`metamodels.bayes` is imported (which
``import metamodels`` does), and the model looks it up by name.
"""
from __future__ import annotations

__all__ = ["register_fitter", "get_fitter"]

_FITTERS = {}


def register_fitter(name, func):
    """Register ``func(model, **kwargs)`` under ``name`` (e.g. ``"bayes"``)."""
    _FITTERS[name] = func
    return func


def get_fitter(name):
    """The fitter registered under ``name``; a clear error if none is."""
    try:
        return _FITTERS[name]
    except KeyError:
        raise RuntimeError(f"no {name!r} fitter is registered; import metamodels (or "
                           f"metamodels.bayes) to register the Bayesian sampler") from None
