"""Datasets bundled with metamodels.

Each dataset is a sub-module exposing

* ``load()`` -- a new :class:`pandas.DataFrame` on every call,
* ``DESCR`` -- a description of the variables, size and source,
* ``SOURCE`` -- the citation(s), and ``TITLE``.

Examples
--------
>>> from metamodels import datasets
>>> datasets.list_datasets()[:3]
['bangertdrowns2004', 'bcg', 'berkey1998']
>>> from metamodels.datasets import bcg
>>> bcg.load().shape
(13, 9)
>>> datasets.load("sleepstudy").shape
(180, 3)
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import List

import pandas as pd

_DATASETS = (
    "bangertdrowns2004",
    "bcg",
    "berkey1998",
    "craft2003",
    "fev_sim",
    "grunfeld",
    "hart1999",
    "kalaian1996",
    "konstantopoulos2011",
    "md_example",
    "molloy2014",
    "nielweise2007",
    "normand1999",
    "orthodont",
    "sleepstudy",
)

__all__ = ["list_datasets", "load", "get_module"] + list(_DATASETS)


def list_datasets() -> List[str]:
    """Return the names of the bundled datasets, sorted."""
    return sorted(_DATASETS)


def get_module(name: str) -> ModuleType:
    """Return the module of dataset ``name`` (with ``load``, ``DESCR``, ...).

    Raises
    ------
    ValueError
        If ``name`` is not a bundled dataset; the message lists the valid
        names.
    """
    if not isinstance(name, str) or name not in _DATASETS:
        raise ValueError(
            f"unknown dataset {name!r}; available datasets are: "
            + ", ".join(list_datasets())
        )
    return importlib.import_module(f"{__name__}.{name}")


def load(name: str) -> pd.DataFrame:
    """Load dataset ``name`` as a new DataFrame.

    Equivalent to ``metamodels.datasets.<name>.load()``.

    Raises
    ------
    ValueError
        If ``name`` is not a bundled dataset.
    """
    return get_module(name).load()


def __getattr__(name: str) -> ModuleType:
    # Lazy import of the dataset sub-modules: ``datasets.bcg`` works
    # without importing all of them up front.
    if name in _DATASETS:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_DATASETS))
