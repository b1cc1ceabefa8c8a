"""Per-study summaries of effect sizes and reshaping of study-level inputs.

* :func:`summarize_effect_sizes` -- metafor's ``summary.escalc``: standard errors, z
  statistics, p-values and confidence intervals of each study's effect size, optionally
  back-transformed.
* :func:`to_long` / :func:`to_table` -- metafor's ``to.long`` / ``to.table``: one row per
  group (arm) or one small table per study, from the inputs :func:`effect_size` takes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd
from scipy import stats

from .escalc import _choose_inputs, _common_length, _get_measure, _resolve_input, _to_float

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["summarize_effect_sizes", "to_long", "to_table"]


def summarize_effect_sizes(data: pd.DataFrame, alpha: float = 0.05,
                           transf: Callable | None = None, yi: str = "yi",
                           vi: str = "vi") -> pd.DataFrame:
    """Standard error, z statistic, p-value and confidence interval of each effect size.

    metafor's ``summary.escalc``.

    Parameters
    ----------
    data : pandas.DataFrame
        Output of :func:`effect_size` (or any table with effect sizes and variances).
    alpha : float, default 0.05
        ``1 - alpha`` confidence intervals.
    transf : callable, optional
        Back-transformation applied to ``yi`` and the interval bounds (e.g. ``np.exp`` or
        a function of :mod:`metamodels.effectsize.transforms`); the analysis-scale columns
        ``vi``, ``sei``, ``zi`` and ``pvalue`` are then dropped, as metafor does.
    yi, vi : str, default "yi", "vi"
        Column names of the effect sizes and sampling variances.

    Returns
    -------
    pandas.DataFrame
        A copy of ``data`` with ``sei = sqrt(vi)``, ``zi = yi / sei``, two-sided
        ``pvalue``, ``ci_lower = yi - z_{1-alpha/2} sei`` and ``ci_upper``.

    Raises
    ------
    ValueError
        ``data`` not a DataFrame, ``yi``/``vi`` not among its columns, ``alpha`` outside
        (0, 1), or negative variances.

    Examples
    --------
    >>> import numpy as np
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> table = mm.summarize_effect_sizes(dat, transf=np.exp)
    >>> print(table[["yi", "ci_lower", "ci_upper"]].head(2).round(4))
           yi  ci_lower  ci_upper
    0  0.4109    0.1343    1.2574
    1  0.2049    0.0863    0.4864
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError("data must be a pandas DataFrame (the output of effect_size)")
    for col in (yi, vi):
        if col not in data.columns:
            raise ValueError(f"column {col!r} is not in data")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    y = pd.to_numeric(data[yi], errors="coerce").to_numpy(dtype=float)
    v = pd.to_numeric(data[vi], errors="coerce").to_numpy(dtype=float)
    if np.any(v[np.isfinite(v)] < 0):
        raise ValueError("sampling variances must be non-negative")
    out = data.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(v)
        z = y / se
    crit = stats.norm.ppf(1 - alpha / 2)
    out["sei"] = se
    out["zi"] = z
    out["pvalue"] = 2 * stats.norm.sf(np.abs(z))
    out["ci_lower"] = y - crit * se
    out["ci_upper"] = y + crit * se
    if transf is not None:
        for col in (yi, "ci_lower", "ci_upper"):
            out[col] = np.asarray(transf(out[col].to_numpy(dtype=float)), dtype=float)
        lo = np.fmin(out["ci_lower"], out["ci_upper"])
        hi = np.fmax(out["ci_lower"], out["ci_upper"])
        out["ci_lower"], out["ci_upper"] = lo, hi
        out = out.drop(columns=[vi, "sei", "zi", "pvalue"])
    return out


def _inputs(measure, data, columns):
    spec = _get_measure(measure)
    chosen = _choose_inputs(spec, columns)
    raw = {name: _resolve_input(name, columns[name], data) for name in chosen}
    n = _common_length(raw, len(data) if data is not None else None, spec.name)
    return spec, {name: _to_float(name, value, n) for name, value in raw.items()}, n


def _groups(spec, a):
    """Per-study arrays of the groups: ``(column names, [group 1 columns, group 2 ...])``."""
    fam = spec.family
    if fam == "table":
        b = a["bi"] if "bi" in a else a["n1i"] - a["ai"]
        d = a["di"] if "di" in a else a["n2i"] - a["ci"]
        return ("out1", "out2"), [(a["ai"], b), (a["ci"], d)]
    if fam == "rates":
        return ("events", "ptime"), [(a["x1i"], a["t1i"]), (a["x2i"], a["t2i"])]
    if fam in ("means",):
        return ("mean", "sd", "n"), [(a["m1i"], a["sd1i"], a["n1i"]), (a["m2i"], a["sd2i"], a["n2i"])]
    if fam == "sds":
        return ("sd", "n"), [(a["sd1i"], a["n1i"]), (a["sd2i"], a["n2i"])]
    if fam == "prop":
        m = a["mi"] if "mi" in a else a["ni"] - a["xi"]
        return ("out1", "out2"), [(a["xi"], m)]
    if fam == "rate":
        return ("events", "ptime"), [(a["xi"], a["ti"])]
    if fam == "mean1":
        return ("mean", "sd", "n"), [(a["mi"], a["sdi"], a["ni"])]
    raise ValueError(f"to_long/to_table do not apply to measure {spec.name!r} "
                     f"({spec.family} inputs): there are no group-level counts or means")


def to_long(measure: str, data: pd.DataFrame | None = None,
            **columns: str | ArrayLike | float) -> pd.DataFrame:
    """One row per study and group, from the inputs of :func:`effect_size`.

    metafor's ``to.long``.

    Parameters
    ----------
    measure : str
        Determines which inputs are read (as in :func:`effect_size`): 2x2 tables give
        ``out1, out2`` (events and non-events) per group; two-group incidence rates
        ``events, ptime``; two-group means ``mean, sd, n``; single proportions, rates and
        means one row per study.
    data : pandas.DataFrame, optional
        Inputs given as strings are its columns; its columns are repeated on each row.
    **columns
        The inputs under metafor's names.

    Returns
    -------
    pandas.DataFrame
        ``data``'s columns (if given), then ``study`` (1-based position), ``group`` (1 or
        2, two-group measures only) and the group-level columns.

    Raises
    ------
    ValueError
        Invalid inputs (as :func:`effect_size`), or a measure without group-level
        counts or means (e.g. correlations).

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.datasets.load("bcg").head(2)
    >>> long = mm.to_long("RR", dat, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> print(long[["trial", "study", "group", "out1", "out2"]])
       trial  study  group  out1   out2
    0      1      1      1   4.0  119.0
    1      1      1      2  11.0  128.0
    2      2      2      1   6.0  300.0
    3      2      2      2  29.0  274.0
    """
    spec, a, n = _inputs(measure, data, columns)
    names, groups = _groups(spec, a)
    frames = []
    for g, cols in enumerate(groups, start=1):
        part = pd.DataFrame({"study": np.arange(1, n + 1)})
        if len(groups) > 1:
            part["group"] = g
        for name, values in zip(names, cols):
            part[name] = values
        part["_order"] = np.arange(n) * len(groups) + g - 1
        frames.append(part)
    long = pd.concat(frames).sort_values("_order").drop(columns="_order").reset_index(drop=True)
    if data is not None:
        rep = data.reset_index(drop=True).loc[np.repeat(np.arange(n), len(groups))]
        long = pd.concat([rep.reset_index(drop=True), long], axis=1)
    return long


def to_table(measure: str, data: pd.DataFrame | None = None,
             **columns: str | ArrayLike | float) -> np.ndarray:
    """One small table per study: an array of shape ``(k, groups, columns)``.

    metafor's ``to.table`` (which returns the transposed ``rows x columns x k`` array).

    Parameters
    ----------
    measure : str
        Determines which inputs are read, as in :func:`effect_size`.
    data : pandas.DataFrame, optional
        Inputs given as strings are its columns.
    **columns
        The inputs under metafor's names.

    Returns
    -------
    numpy.ndarray
        ``(k, groups, columns)``: for 2x2 tables ``out[i] = [[ai, bi], [ci, di]]``
        (rows: groups; columns: events, non-events), for two-group rates
        ``[[x1i, t1i], [x2i, t2i]]``, for two-group means
        ``[[m1i, sd1i, n1i], [m2i, sd2i, n2i]]``; single-group measures give one row.

    Raises
    ------
    ValueError
        As :func:`to_long`.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.datasets.load("bcg").head(2)
    >>> mm.to_table("RR", dat, ai="tpos", bi="tneg", ci="cpos", di="cneg")[0]
    array([[  4., 119.],
           [ 11., 128.]])
    """
    spec, a, n = _inputs(measure, data, columns)
    _, groups = _groups(spec, a)
    return np.stack([np.column_stack(cols) for cols in groups], axis=1).reshape(n, len(groups), -1)
