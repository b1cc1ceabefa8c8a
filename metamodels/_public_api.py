"""The public API, enumerated: what the API reference documents and the docstring audit checks.

Public are the names in ``__all__`` of :mod:`metamodels` and of its user-facing
subpackages (modules named there contribute their own public names), and every results
class (a class whose name ends in ``Result`` or ``Results``), because users reach those
through ``fit()``, and the other classes public methods return (:data:`RETURNED_CLASSES`).
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

PUBLIC_PACKAGES = ("metamodels",) + tuple(
    f"metamodels.{name}" for name in (
        "batch", "bayes", "datasets", "diagnostics", "effectsize", "exceptions",
        "formula", "glmm", "inference", "locscale", "mixed", "multivariate", "panel",
        "plots", "summary", "univariate"))

_RESULTS_NAME = re.compile(r"Results?$")

# Classes users receive from public methods without importing them (tables, frames,
# influence and prediction objects, test outcomes), documented like results classes.
RETURNED_CLASSES = (
    "metamodels.bayes.gibbs.results.PosteriorContrast",
    "metamodels.bayes.gibbs.results.PosteriorIntervalsTable",
    "metamodels.bayes.prediction.BayesPrediction",
    "metamodels.diagnostics.frames.SequentialFrame",
    "metamodels.diagnostics.influence.MetaInfluence",
    "metamodels.diagnostics.influence.MetaMixedInfluence",
    "metamodels.diagnostics.selection.SelectionLRTest",
    "metamodels.inference.ddf.FTest",
    "metamodels.inference.marginal.MarginalMeans",
    "metamodels.inference.marginal.MarginalContrasts",
    "metamodels.univariate.prediction.MetaPrediction",
)


def is_ours(obj) -> bool:
    """True when ``obj`` is defined in a metamodels module."""
    return getattr(obj, "__module__", None) is not None and obj.__module__.startswith(
        "metamodels")


def public_objects() -> dict:
    """Public functions and classes keyed by the dotted name users import them by.

    Returns
    -------
    dict
        ``{"metamodels.MetaRandom": MetaRandom, ...}``; an object exported at several
        levels is listed once, under its shortest public name.
    """
    import metamodels

    found: dict = {}

    def add(name, obj):
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and is_ours(obj):
            old = found.get(id(obj))
            if old is None or len(name) < len(old[0]):
                found[id(obj)] = (name, obj)

    for pkg in PUBLIC_PACKAGES:
        mod = importlib.import_module(pkg)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if inspect.ismodule(obj):
                names = getattr(obj, "__all__",
                                [k for k in vars(obj) if not k.startswith("_")])
                for n2 in names:
                    add(f"{obj.__name__}.{n2}", getattr(obj, n2))
            else:
                add(f"{pkg}.{name}", obj)
    for info in pkgutil.walk_packages(metamodels.__path__, "metamodels."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if (inspect.isclass(obj) and obj.__module__ == mod.__name__
                    and not name.startswith("_") and _RESULTS_NAME.search(name)):
                add(f"{obj.__module__}.{obj.__qualname__}", obj)
    for dotted in RETURNED_CLASSES:
        module, name = dotted.rsplit(".", 1)
        add(dotted, getattr(importlib.import_module(module), name))
    return dict(sorted(found.values(), key=lambda t: t[0]))


def section_of(obj) -> str:
    """The subpackage that defines ``obj`` (``"univariate"``, ``"mixed"``, ...)."""
    parts = obj.__module__.split(".")
    return parts[1] if len(parts) > 1 else "metamodels"
