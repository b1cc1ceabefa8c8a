"""Labels of the levels of a mixed model's random terms (one rule for every results
class: EBLUP tables, their long form, posterior random effects)."""
from __future__ import annotations

import pandas as pd
from statsmodels.base.model import LikelihoodModel

__all__ = ["level_values", "level_index", "level_labels"]


def level_values(model: LikelihoodModel, t: int, n_levels: int) -> list | None:
    """The grouping values of the levels of random term ``t`` (formula models: tuples
    for nested terms), or None when the model has none (array input) or their number
    is not ``n_levels``.

    Parameters
    ----------
    model : MixedModel
        The fitted model (its ``random_levels`` attribute, set by ``from_formula``).
    t : int
        Position of the term in ``model.spec.random``.
    n_levels : int
        Number of levels of the term.

    Returns
    -------
    list or None
    """
    levels = getattr(model, "random_levels", None)
    if levels is None or t >= len(levels) or len(levels[t]) != n_levels:
        return None
    return list(levels[t])


def _join(v):
    return ":".join(map(str, v)) if isinstance(v, tuple) else v


def level_index(model: LikelihoodModel, t: int, n_levels: int) -> pd.Index:
    """Row labels of a table with one row per level of random term ``t``: the grouping
    values (nested levels joined by ":", as lme4's row names), else ``0 .. n_levels - 1``.

    Parameters
    ----------
    model : MixedModel
        The fitted model.
    t : int
        Position of the term in ``model.spec.random``.
    n_levels : int
        Number of levels of the term.

    Returns
    -------
    pandas.Index
        Named after the term.
    """
    name = model.spec.random[t].name
    values = level_values(model, t, n_levels)
    if values is None:
        return pd.RangeIndex(n_levels, name=name)
    return pd.Index([_join(v) for v in values], name=name)


def level_labels(model: LikelihoodModel, t: int, n_levels: int) -> list[str]:
    """:func:`level_index` as strings (the ``level`` column of long-form tables).

    Parameters
    ----------
    model : MixedModel
        The fitted model.
    t : int
        Position of the term in ``model.spec.random``.
    n_levels : int
        Number of levels of the term.

    Returns
    -------
    list of str
    """
    return [str(v) for v in level_index(model, t, n_levels)]
