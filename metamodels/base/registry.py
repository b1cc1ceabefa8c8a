"""Back-ends registered by higher layers (layers import only downward).

``MixedModel.fit_bayes`` lives in :mod:`metamodels.mixed`, below :mod:`metamodels.bayes`;
the Gibbs sampler registers itself here when :mod:`metamodels.bayes` is imported (which
``import metamodels`` does), and the model looks it up by name.

Results methods written in a higher layer (the influence diagnostics, leave-one-out,
robust inference of :mod:`metamodels.diagnostics`, ...) are *extensions*: the results base
defines a thin method that looks the implementation up with :func:`get_extension`, and the
higher layer registers it with :func:`register_extension` when it is imported.
"""
from __future__ import annotations

__all__ = ["register_fitter", "get_fitter", "register_extension", "get_extension"]

_FITTERS = {}
_EXTENSIONS = {}


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


def register_extension(name, func):
    """Register ``func(results, *args, **kwargs)`` as the results method ``name``."""
    _EXTENSIONS[name] = func
    return func


def get_extension(name):
    """The results method registered under ``name``; a clear error if none is."""
    try:
        return _EXTENSIONS[name]
    except KeyError:
        raise RuntimeError(f"no implementation of {name!r} is registered; import metamodels "
                           "(which registers every results extension)") from None
