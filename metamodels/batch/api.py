"""``meta_analyze``: millions of intercept-only meta-analyses from (m, k) arrays."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from . import dask_engine, re2
from .methods import (ITERATIVE_METHODS, METHODS, RANDOM_METHODS, normalize_methods,
                      output_columns, single_method)
from .numpy_engine import BLOCK_ROWS, analyze_arrays

__all__ = ["meta_analyze", "METHODS", "RANDOM_METHODS", "ITERATIVE_METHODS",
           "output_columns", "normalize_methods"]


if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import ArrayLike


def meta_analyze(beta: ArrayLike, se: ArrayLike, method: str | Sequence[str] = "FE", *,
                 as_frame: bool = True, index: ArrayLike | None = None, tol: float = 1e-10,
                 maxiter: int = 100, block_rows: int = BLOCK_ROWS,
                 n_threads: int | None = None) -> pd.DataFrame | dict[str, Any]:
    """Intercept-only fixed- or random-effects meta-analysis of every row.

    Parameters
    ----------
    beta, se : array_like, shape (m, k) (or (m,) for k = 1)
        Effect estimates and their standard errors: row ``i`` is one meta-analysis of
        the studies ``j`` with finite ``beta[i, j]`` and ``se[i, j] > 0``; NaN marks a
        study that lacks the variant.  Dask arrays give a lazy result (see
        :func:`metamodels.batch.dask_engine.meta_analyze_dask`).
    method : str or sequence of str
        ``"FE"`` (fixed effect) or a tau^2 estimator ``"DL"``, ``"HE"``, ``"REML"``,
        ``"ML"``, ``"PM"``; a list (or ``"FE,DL,REML"``) fits several at once, with one
        set of suffixed columns per random-effects method.  ``"RE2"`` (alone): Han and
        Eskin's random-effects test, see :mod:`metamodels.batch.re2` (columns
        ``stat_re2``, ``pvalue_re2``, ``z2_total``, ``z2_fixed``, ``q``, ...).
    as_frame : bool
        Return a :class:`pandas.DataFrame` (default) or a dict of numpy arrays.
    index : array_like, optional
        Row labels of the frame (default: those of ``beta`` if it is a DataFrame).
    tol, maxiter : float, int
        Convergence controls of REML, ML (``tol`` relative to ``tau^2 + se(tau^2)``)
        and PM (relative step ``min(tol, 1e-12)``).
    block_rows : int
        Rows processed together (memory and cache use; at least 2; results do not
        depend on it, to the bit).
    n_threads : int, optional
        Threads working on blocks (numpy and scipy release the GIL); default: the
        number of CPUs the process may use (its affinity mask), at most 8.  Results
        do not depend on it, to the bit.

    Returns
    -------
    DataFrame or dict
        Always: ``k`` (studies contributing), the fixed-effect ``beta``, ``se``,
        ``z = beta/se``, ``pvalue``, ``log10p``, Cochran's ``q`` on ``q_df = k - 1``
        df, ``q_pvalue`` and ``i2``.  With one random-effects method ``M`` (a string):
        ``tau2``, the random-effects ``beta_re``, ``se_re``, ``z_re``, ``pvalue_re``,
        ``log10p_re``, ``i2`` is the random-effects ``I^2``, and ``converged`` for
        REML/ML/PM.  With a list of methods: ``tau2_M``, ``i2_M``, ``beta_M``, ...
        ``converged_M`` for every random method, and ``i2`` is the fixed-effect one.

    Notes
    -----
    With weights ``w_j = 1/se_j^2`` (fixed effect) or ``w_j = 1/(se_j^2 + tau^2)``:

    .. math::

        \\hat\\beta = \\frac{\\sum_j w_j y_j}{\\sum_j w_j}, \\qquad
        se = \\Big(\\sum_j w_j\\Big)^{-1/2}, \\qquad
        Q = \\sum_j \\frac{(y_j - \\hat\\beta_{FE})^2}{se_j^2} \\sim \\chi^2_{k-1}.

    ``I^2 = max(0, (Q - (k-1))/Q)`` for the fixed effect and ``tau^2/(tau^2 + s^2)``
    with ``s^2 = (k-1) sum w / ((sum w)^2 - sum w^2)`` for random effects (metafor's
    definitions).  The tau^2 estimators are those of
    :mod:`metamodels.batch.kernels`; each row agrees with
    ``MetaFixed(y, v).fit()`` / ``MetaRandom(y, v).fit(method=M)`` on its non-missing
    studies (``v = se^2``); ML and REML are the global maximisers of the likelihood
    over ``tau^2 >= 0`` in both (one shared search, :mod:`metamodels.core.tau2`), also
    where it has several local maxima.  p-values are two-sided normal:
    ``log10p = (log 2 + log Phi(-|z|)) / log 10`` is computed with
    :func:`scipy.special.log_ndtr` and stays finite for any ``z``;
    ``pvalue = 10**log10p`` underflows to 0 only below ~1e-308.

    Rows with ``k = 0`` are NaN (``k = 0``, ``q_df = 0``).  With ``k = 1`` the
    estimate is the study's own, ``q = 0`` on 0 df, ``q_pvalue``, ``i2`` and
    ``tau2`` are NaN and the random-effects columns repeat the study's estimate.
    REML/ML/PM rows that did not meet the tolerance in ``maxiter`` iterations have
    ``converged = False`` (their last iterate is reported).

    Examples
    --------
    >>> import numpy as np
    >>> from metamodels.batch import meta_analyze
    >>> beta = np.array([[0.10, 0.12, np.nan], [0.5, -0.2, 0.1]])
    >>> se = np.array([[0.02, 0.03, np.nan], [0.1, 0.1, 0.1]])
    >>> out = meta_analyze(beta, se, method="DL")
    >>> out[["k", "beta", "tau2", "beta_re"]].round(4)
       k    beta    tau2  beta_re
    0  2  0.1062  0.0000   0.1062
    1  3  0.1333  0.1133   0.1333
    """
    is_re2 = isinstance(method, str) and method.strip().upper() == "RE2"
    if not is_re2 and (dask_engine.is_dask_array(beta) or dask_engine.is_dask_array(se)):
        return dask_engine.meta_analyze_dask(beta, se, method, tol=tol, maxiter=maxiter)
    if index is None and hasattr(beta, "index") and hasattr(beta, "columns"):
        index = beta.index
    beta = np.asarray(beta, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    if beta.ndim == 1:
        beta, se = beta[:, None], se.reshape(-1, 1) if se.ndim == 1 else se
    if beta.ndim != 2 or beta.shape != se.shape:
        raise ValueError(f"beta and se must be (m, k) arrays of the same shape, got "
                         f"{beta.shape} and {se.shape}")
    if is_re2:                        # RE2 from the ML fits of the same rows
        ml = meta_analyze(beta, se, "ML", as_frame=False, tol=tol, maxiter=maxiter,
                          block_rows=block_rows, n_threads=n_threads)
        return re2.re2_from_ml(beta, se, ml, as_frame=as_frame, index=index)
    single = single_method(method)
    methods = normalize_methods(method)
    out = analyze_arrays(beta, se, methods, single, tol=tol, maxiter=maxiter,
                         block_rows=block_rows, n_threads=n_threads)
    if not as_frame:
        return out
    import pandas as pd

    cols = output_columns(methods, single)
    # the columns are fresh arrays: no copy into one consolidated block (~10% of FE)
    return pd.DataFrame({c: out[c] for c, _ in cols}, index=index, copy=False)
