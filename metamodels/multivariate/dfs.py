"""Degrees of freedom of MetaMixed t and F tests: residual and containment (metafor's
``rma.mv(test = "t", dfs = "residual" | "contain")``).

The random terms of a MetaMixed model define *factors* that group the effect sizes:

* a scalar intercept term ``(1 | g)`` (metafor's ``~ 1 | g``, a ``sigma2``): the levels of
  ``g``;
* any other term, e.g. ``(0 + outcome | trial)`` (metafor's ``~ outcome | trial``, a
  ``tau2``/``rho`` term): the combinations (row of ``Z``, level of ``g``), i.e. outcome
  within trial, and the levels of ``g``.

Containment df of coefficient ``j``: ``min(L_f) - p`` over the factors ``f`` within each of
whose levels the column ``X_j`` is constant (``n - p`` when there is none), floored at 1.
Residual df: ``n - p`` for every coefficient.  The df of the random effects of a term
(for their prediction intervals) are ``L - p`` with ``L`` its number of levels (of ``g``)
under containment and ``n - p`` otherwise.  Predictions ``x_0'b`` take the smallest df of
the coefficients with ``x_0j != 0`` (``n - p`` when ``x_0 = 0``).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["DDF_METHODS", "check_ddf", "term_factors", "coefficient_df", "random_term_df",
           "prediction_df"]

#: accepted spellings -> canonical name
DDF_METHODS = {"residual": "residual", "containment": "containment", "contain": "containment"}


def check_ddf(ddf: str) -> str:
    """The canonical name of a MetaMixed df method.

    Parameters
    ----------
    ddf : str
        ``"residual"``, ``"containment"`` or ``"contain"`` (case-insensitive).

    Returns
    -------
    str
        ``"residual"`` or ``"containment"``.

    Raises
    ------
    ValueError
        Any other value.
    """
    key = str(ddf).lower()
    if key not in DDF_METHODS:
        raise ValueError(f"unknown ddf {ddf!r}; valid values are 'residual', 'containment' "
                         "(metafor's dfs='contain')")
    return DDF_METHODS[key]


def _is_intercept_term(part):
    return part.Z.shape[1] == 1 and np.all(part.Z == 1.0)


def _codes(*columns):
    """Dense codes of the combinations of the given (n,) or (n, q) arrays."""
    stacked = np.column_stack([np.asarray(c, dtype=float).reshape(len(c), -1) for c in columns])
    return np.unique(stacked, axis=0, return_inverse=True)[1].reshape(-1)


def term_factors(part: Any) -> list[np.ndarray]:
    """Integer-coded factors of a random term (see the module docstring).

    Parameters
    ----------
    part : RandomPart
        A random term.

    Returns
    -------
    list of numpy.ndarray
        Integer ``(n,)`` codes: the levels of the grouping factor for ``(1 | g)``; the
        (design row, level) combinations and the levels for other terms.
    """
    if _is_intercept_term(part):
        return [np.asarray(part.groups)]
    return [_codes(part.Z, part.groups), np.asarray(part.groups)]


def _constant_within(x, codes):
    """Is ``x`` constant within every level of ``codes``?"""
    n_lev = int(codes.max()) + 1
    lo = np.full(n_lev, np.inf)
    hi = np.full(n_lev, -np.inf)
    np.minimum.at(lo, codes, x)
    np.maximum.at(hi, codes, x)
    return bool(np.all(hi - lo == 0.0))


def coefficient_df(ddf: str, X: np.ndarray, random: Sequence[Any]) -> np.ndarray:
    """Denominator df of each coefficient (``ddf`` "residual" or "containment").

    Parameters
    ----------
    ddf : {"residual", "containment"}
        The df method.
    X : numpy.ndarray
        Design ``(n, p)``.
    random : sequence of RandomPart
        The model's random terms.

    Returns
    -------
    numpy.ndarray
        ``(p,)`` df, at least 1.
    """
    n, p = X.shape
    if check_ddf(ddf) == "residual":
        return np.full(p, max(n - p, 1), dtype=float)
    factors = [f for part in random for f in term_factors(part)]
    out = np.empty(p)
    for j in range(p):
        sizes = [int(f.max()) + 1 for f in factors if _constant_within(X[:, j], f)]
        out[j] = (min(sizes) if sizes else n) - p
    return np.maximum(out, 1.0)


def random_term_df(ddf: str, part: Any, n: int, p: int) -> float:
    """df of the random effects of one term (their prediction intervals).

    Parameters
    ----------
    ddf : {"residual", "containment"}
        The df method.
    part : RandomPart
        The random term.
    n, p : int
        Number of effect sizes and of coefficients.

    Returns
    -------
    float
        ``n - p`` (residual) or levels ``- p`` (containment), at least 1.
    """
    if check_ddf(ddf) == "residual":
        return float(max(n - p, 1))
    return float(max(int(np.asarray(part.groups).max()) + 1 - p, 1))


def prediction_df(coef_df: np.ndarray, X0: np.ndarray, n: int, p: int) -> np.ndarray:
    """df of ``x_0'b`` for each row of ``X0``: the smallest df of the coefficients it
    involves (``n - p`` for a row of zeros).

    Parameters
    ----------
    coef_df : numpy.ndarray
        ``(p,)`` df of the coefficients (:func:`coefficient_df`).
    X0 : numpy.ndarray
        Design rows ``(m, p)`` (or one row).
    n, p : int
        Number of effect sizes and of coefficients.

    Returns
    -------
    numpy.ndarray
        ``(m,)`` df.
    """
    X0 = np.atleast_2d(X0)
    out = np.full(X0.shape[0], float(max(n - p, 1)))
    for i, row in enumerate(X0):
        used = row != 0
        if used.any():
            out[i] = float(np.min(coef_df[used]))
    return out
