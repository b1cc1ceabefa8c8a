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
    "ishak2007",
    "kalaian1996",
    "konstantopoulos2011",
    "md_example",
    "molloy2014",
    "nielweise2007",
    "normand1999",
    "orthodont",
    "ovary",
    "sleepstudy",
)

__all__ = ["list_datasets", "load", "get_module"] + list(_DATASETS)


def list_datasets() -> List[str]:
    """Return the names of the bundled datasets, sorted.

    Returns
    -------
    list of str
        The names accepted by :func:`load` and :func:`get_module` (also the
        sub-module names, ``metamodels.datasets.<name>``).

    Examples
    --------
    >>> from metamodels import datasets
    >>> "bcg" in datasets.list_datasets()
    True
    """
    return sorted(_DATASETS)


def get_module(name: str) -> ModuleType:
    """Return the module of dataset ``name`` (with ``load``, ``DESCR``, ...).

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.

    Returns
    -------
    module
        The dataset's module: ``load()``, ``DESCR`` (description of the variables,
        size and source), ``SOURCE`` (citations) and ``TITLE``.

    Raises
    ------
    ValueError
        If ``name`` is not a bundled dataset; the message lists the valid
        names.

    Examples
    --------
    >>> from metamodels import datasets
    >>> datasets.get_module("grunfeld").TITLE
    'Grunfeld investment data: 10 US firms, 1935-1954'
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

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.

    Returns
    -------
    pandas.DataFrame
        A new object on every call; the columns are described by the dataset module's
        ``load`` and ``DESCR``.

    Raises
    ------
    ValueError
        If ``name`` is not a bundled dataset.

    Examples
    --------
    >>> from metamodels import datasets
    >>> datasets.load("bcg").shape
    (13, 9)
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
