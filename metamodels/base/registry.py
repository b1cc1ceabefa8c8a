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
#: The layers that register fitters and extensions when imported; ``import metamodels``
#: loads them lazily, so a lookup that misses imports them and looks again.
_PROVIDERS = ("metamodels.bayes", "metamodels.diagnostics")


def _load_providers():
    import importlib

    for name in _PROVIDERS:
        importlib.import_module(name)


def register_fitter(name, func):
    """Register ``func(model, **kwargs)`` under ``name`` (e.g. ``"bayes"``)."""
    _FITTERS[name] = func
    return func


def get_fitter(name):
    """The fitter registered under ``name``; a clear error if none is."""
    if name not in _FITTERS:
        _load_providers()
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
    if name not in _EXTENSIONS:
        _load_providers()
    try:
        return _EXTENSIONS[name]
    except KeyError:
        raise RuntimeError(f"no implementation of {name!r} is registered; import metamodels "
                           "(which registers every results extension)") from None
