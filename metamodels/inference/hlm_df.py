"""HLM-software degrees of freedom of the fixed effects of a two-level model (``ddf="hlm"``).

The HLM program (Raudenbush and Bryk) prints "simple" integer df for the t test of each
fixed effect, read off the two-level form of the model.  With ``K`` groups (level-2 units),
``N`` observations and ``p`` fixed-effect coefficients in all:

* the intercept and level-2 predictors (the intercept's level-2 model):
  ``K - q_0 - 1``, ``q_0`` the number of level-2 predictors (columns) in that model;
* a level-1 predictor with a random slope, and its cross-level interactions (the slope's
  level-2 model): ``K - q_c - 1``, ``q_c`` the number of level-2 predictors in that
  slope's model;
* a level-1 predictor with a fixed (or non-randomly varying) slope, and its cross-level
  interactions: ``N - p`` (every fixed coefficient counted: ``N - p - q - 1`` with ``p``
  level-1 and ``q`` level-2 predictors and the intercept).

Levels are read from the data: a fixed-effects variable is a level-2 predictor when the
columns of its main-effect term (else of every term it appears in) are constant within
every group; the other variables are level-1.  A term's level-1 variables name the slope
whose level-2 model it belongs to (none: the intercept's model); the slope is random when a
random-effects column of the grouping factor involves exactly those variables.

References
----------
Raudenbush SW, Bryk AS (2002) Hierarchical Linear Models, 2nd ed., Sage, section 3 (the
t ratio of ``gamma_qs`` with ``J - S_q - 1`` df); Raudenbush SW, Bryk AS, Cheong YF,
Congdon R (2011) HLM 7 manual, Scientific Software International.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import SpecificationError
from .ddf import _TermTableMethod, register_ddf

__all__ = ["HLM", "hlm_table", "hlm_levels"]


def _grouping(inputs):
    """Group code per row of the single grouping factor of the random effects."""
    effects = inputs.random_effects
    if not effects:
        raise SpecificationError("ddf='hlm' needs a two-level model with random effects of "
                                 "one grouping factor; the model has no random effects")
    g = np.asarray(effects[0].groups)
    for e in effects[1:]:
        if e.groups.shape != g.shape or not np.array_equal(
                pd.factorize(e.groups)[0], pd.factorize(g)[0]):
            raise SpecificationError("ddf='hlm' is defined for two-level models (random "
                                     "effects of one grouping factor); this model has "
                                     "several grouping factors")
    return pd.factorize(g)[0]


def _constant_within(X, groups):
    """Per column of ``X``: is it constant within every group?"""
    if X.shape[1] == 0:
        return np.zeros(0, dtype=bool)
    return (pd.DataFrame(X).groupby(groups).nunique() <= 1).all(axis=0).to_numpy()


def hlm_levels(inputs):
    """``(level2_variables, groups)``: the fixed-effects variables constant within groups
    and the group code of each row."""
    groups = _grouping(inputs)
    const = _constant_within(inputs.X, groups)
    variables = set().union(*(t.variables for t in inputs.terms)) if inputs.terms else set()
    level2 = set()
    for v in variables:
        main = [t for t in inputs.terms if t.variables == frozenset([v])]
        cands = main or [t for t in inputs.terms if v in t.variables]
        if all(const[list(t.columns)].all() for t in cands):
            level2.add(v)
    return frozenset(level2), groups


def hlm_table(inputs):
    """``{term: (df, columns)}`` of the HLM df (module docstring)."""
    level2, groups = hlm_levels(inputs)
    K = int(groups.max()) + 1
    fixed_vars = set().union(*(t.variables for t in inputs.terms)) if inputs.terms else set()
    # slopes with random effects: the fixed-effects variables of each random column
    random_slopes = {frozenset(e.variables & fixed_vars) for e in inputs.random_effects}
    model_of = {t.name: frozenset(t.variables - level2) for t in inputs.terms}
    n_level2 = {}                       # slope (level-1 variables) -> level-2 predictors
    for t in inputs.terms:
        if t.variables & level2:
            key = model_of[t.name]
            n_level2[key] = n_level2.get(key, 0) + len(t.columns)
    fixed_slope_df = int(inputs.nobs) - int(inputs.rank)
    out = {}
    for t in inputs.terms:
        slope = model_of[t.name]
        if not slope or slope in random_slopes:
            df = K - n_level2.get(slope, 0) - 1
        else:
            df = fixed_slope_df
        if df < 1:
            raise SpecificationError(f"ddf='hlm': term {t.name!r} would have {df} df "
                                     f"({K} groups); too few groups for its level-2 model")
        out[t.name] = (df, list(t.columns))
    return out


@register_ddf
class HLM(_TermTableMethod):
    """The df HLM software prints for two-level models (:func:`hlm_table`)."""

    name = "hlm"

    def table(self):
        return hlm_table(self.inputs)
