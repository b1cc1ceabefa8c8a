"""Pickling of formula-built models (patsy's DesignInfo cannot be pickled).

A model built by ``from_formula`` keeps patsy ``DesignInfo`` objects (to build designs for
new data) and patsy ``Term`` tuples.  Neither pickles.  :class:`FormulaPickleMixin`
replaces them in the pickled state by a :class:`DesignRecipe`: the factor code strings of
each term (e.g. ``[["C(alloc)"], ["ablat"]]``) and the column names.  On loading, the
design is rebuilt with patsy from the recipe and the model's own data frame
(``model.data.frame``, stored with the model), so stateful transforms (``center(x)``,
categorical levels) are re-learnt on the same rows and reproduce the fitted columns; the
rebuilt column names are checked against the stored ones.  Functions used in a formula are
looked up in numpy (``np.log``) and patsy's built-ins; a formula using a user function
defined elsewhere cannot be rebuilt: the model then loads with ``design_info = None`` and
``predict`` with a DataFrame says so (arrays still work).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import patsy

__all__ = ["FormulaPickleMixin", "DesignRecipe", "TermsRecipe"]


def _term_codes(term):
    return tuple(f.code for f in term.factors)


def _terms_from_codes(codes):
    return [patsy.Term([patsy.EvalFactor(c) for c in term]) for term in codes]


@dataclass(frozen=True)
class DesignRecipe:
    """Picklable description of a patsy DesignInfo (term factor codes and column names)."""

    terms: tuple
    column_names: tuple

    @classmethod
    def from_design_info(cls, di):
        return cls(tuple(_term_codes(t) for t in di.terms), tuple(di.column_names))

    def rebuild(self, data):
        """The DesignInfo rebuilt on ``data``; None if that fails or the columns differ."""
        if data is None:
            return None
        desc = patsy.ModelDesc([], _terms_from_codes(self.terms))
        env = patsy.EvalEnvironment([{"np": np, "numpy": np}])
        try:
            di = patsy.dmatrix(desc, data, eval_env=env, NA_action="drop",
                               return_type="dataframe").design_info
        except Exception:  # noqa: BLE001 - any failure means "cannot rebuild": no design
            return None
        return di if tuple(di.column_names) == self.column_names else None


@dataclass(frozen=True)
class TermsRecipe:
    """Picklable tuple of patsy Terms (their factor codes)."""

    terms: tuple

    def rebuild(self):
        return tuple(_terms_from_codes(self.terms))


def _is_term_tuple(value):
    return (isinstance(value, (tuple, list)) and len(value) > 0
            and all(isinstance(t, patsy.Term) for t in value))


class FormulaPickleMixin:
    """Model mixin: pickle and ``save``/``load`` formula-built models."""

    def __getstate__(self):
        state = dict(self.__dict__)
        for key, value in list(state.items()):
            if isinstance(value, patsy.DesignInfo):
                state[key] = DesignRecipe.from_design_info(value)
            elif _is_term_tuple(value):
                state[key] = TermsRecipe(tuple(_term_codes(t) for t in value))
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        frame = getattr(getattr(self, "data", None), "frame", None)
        for key, value in state.items():
            if isinstance(value, DesignRecipe):
                setattr(self, key, value.rebuild(frame))
            elif isinstance(value, TermsRecipe):
                setattr(self, key, value.rebuild())
