"""Method names and result columns of the batch engine (shared by the numpy and dask
back ends and the file workflow; imports nothing from them)."""
from __future__ import annotations

import numpy as np

__all__ = ["METHODS", "RANDOM_METHODS", "ITERATIVE_METHODS", "normalize_methods",
           "output_columns", "single_method", "CHI2_1_MEDIAN"]

#: Median of the chi-square distribution with 1 df (genomic control).
CHI2_1_MEDIAN = 0.45493642311957283

METHODS = ("FE", "DL", "HE", "REML", "ML", "PM")
RANDOM_METHODS = METHODS[1:]
ITERATIVE_METHODS = ("REML", "ML", "PM")
_FE_COLS = ("k", "beta", "se", "z", "pvalue", "log10p", "q", "q_df", "q_pvalue", "i2")
_RE_COLS = ("tau2", "i2", "beta", "se", "z", "pvalue", "log10p")
_INT_COLS = ("k", "q_df")


def normalize_methods(method):
    """``"DL"`` or ``"FE,DL"`` or ``["fe", "reml"]`` -> tuple of upper-case names.

    Raises ValueError for an unknown name.
    """
    if isinstance(method, str):
        names = [m for m in method.replace(";", ",").split(",") if m.strip()]
    else:
        names = list(method)
    out = []
    for name in names:
        key = str(name).strip().upper()
        if key not in METHODS:
            raise ValueError(f"unknown method {name!r}; valid methods are {', '.join(METHODS)}")
        if key not in out:
            out.append(key)
    if not out:
        raise ValueError("no method given")
    return tuple(out)


def output_columns(methods, single=None):
    """Names and dtypes of the result columns.

    ``single`` is the one method given as a string (columns ``tau2``, ``beta_re``, ...);
    otherwise every random-effects method ``M`` adds ``tau2_M``, ``i2_M``, ``beta_M``,
    ``se_M``, ``z_M``, ``pvalue_M``, ``log10p_M`` and, for REML/ML/PM, ``converged_M``.
    """
    cols = [(c, np.int64 if c in _INT_COLS else np.float64) for c in _FE_COLS]
    if single is not None and single != "FE":
        cols.append(("tau2", np.float64))
        cols += [(f"{c}_re", np.float64) for c in _RE_COLS[2:]]
        if single in ITERATIVE_METHODS:
            cols.append(("converged", np.bool_))
        return cols
    for m in methods:
        if m == "FE":
            continue
        cols += [(f"{c}_{m}", np.float64) for c in _RE_COLS]
        if m in ITERATIVE_METHODS:
            cols.append((f"converged_{m}", np.bool_))
    return cols


def single_method(method):
    """The method name when ``method`` is one name given as a string (result columns
    ``tau2``, ``beta_re``, ...), else ``None`` (suffixed columns per method)."""
    return method.strip().upper() if isinstance(method, str) and "," not in method else None
