"""``meta_analyze``: millions of intercept-only meta-analyses from (m, k) arrays."""
from __future__ import annotations

import os
import threading

import numpy as np

from . import kernels as kn

__all__ = ["meta_analyze", "METHODS", "RANDOM_METHODS", "ITERATIVE_METHODS",
           "output_columns", "normalize_methods"]

METHODS = ("FE", "DL", "HE", "REML", "ML", "PM")
RANDOM_METHODS = METHODS[1:]
ITERATIVE_METHODS = ("REML", "ML", "PM")
#: Rows per block: the working arrays of a block stay in the CPU caches.
BLOCK_ROWS = 16384

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


def _block(beta, se, methods, single, out, i0, bufs, tol, maxiter):
    """Fill rows ``i0:i0+len(beta)`` of the output arrays ``out`` (dict)."""
    b = beta.shape[0]
    sl = slice(i0, i0 + b)
    Y, V, W, n = kn.prepare_block(beta, se, bufs)
    est, se_fe, q, sw, sw2 = kn.fixed_effect(Y, W)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = est / se_fe
    q[n == 1] = 0.0
    q[n == 0] = np.nan
    se_fe[n == 0] = np.nan
    out["k"][sl] = n
    out["beta"][sl] = est
    out["se"][sl] = se_fe
    out["z"][sl] = z
    out["log10p"][sl] = kn.log10_pvalue_normal(z)
    out["q"][sl] = q
    out["q_df"][sl] = np.maximum(n - 1, 0)
    out["q_pvalue"][sl] = kn.chi2_sf(q, n - 1.0)
    if single in (None, "FE"):
        out["i2"][sl] = kn.i2_fixed(q, n)
    he = None
    for m in methods:
        if m == "FE":
            continue
        conv = None
        if m == "DL":
            tau2 = kn.tau2_dl(q, n, sw, sw2)
        elif m == "HE":
            tau2 = he = kn.tau2_he(Y, V, n) if he is None else he
        elif m == "PM":
            tau2, conv = kn.tau2_pm(Y, V, n, tol=min(tol, 1e-12), maxiter=max(maxiter, 200))
        else:
            # DerSimonian-Laird start, as the single-fit kernel
            tau2, conv = kn.tau2_ml_reml(Y, V, n, kn.tau2_dl(q, n, sw, sw2),
                                         reml=(m == "REML"), tol=tol, maxiter=maxiter)
        one = n == 1
        b_re, s_re = kn.random_effects(Y, V, np.where(one, 0.0, tau2))
        s_re[n == 0] = np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            z_re = b_re / s_re
        sfx = "_re" if single is not None else f"_{m}"
        tname = "tau2" if single is not None else f"tau2_{m}"
        out[tname][sl] = tau2
        out["i2" if single is not None else f"i2_{m}"][sl] = kn.i2_random(tau2, n, sw, sw2)
        out["beta" + sfx][sl] = b_re
        out["se" + sfx][sl] = s_re
        out["z" + sfx][sl] = z_re
        out["log10p" + sfx][sl] = kn.log10_pvalue_normal(z_re)
        if conv is not None:
            out["converged" if single is not None else f"converged_{m}"][sl] = conv


def _n_threads(n_threads, n_blocks):
    if n_threads is None:
        n_threads = min(os.cpu_count() or 1, 8)
    return max(1, min(int(n_threads), n_blocks))


def meta_analyze(beta, se, method="FE", *, as_frame=True, index=None, tol=1e-10,
                 maxiter=100, block_rows=BLOCK_ROWS, n_threads=None):
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
        Rows processed together (memory and cache use; results do not depend on it).
    n_threads : int, optional
        Threads working on blocks (numpy and scipy release the GIL); default: the
        number of CPUs, at most 8.

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
    studies (``v = se^2``); where the ML/REML likelihood is bimodal the two can stop
    at different local maxima, the batch one with the higher likelihood in every case
    tested.  p-values are two-sided normal:
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
    from . import dask_engine

    if isinstance(method, str) and method.strip().upper() == "RE2":
        from .re2 import meta_analyze_re2

        return meta_analyze_re2(beta, se, as_frame=as_frame, index=index, tol=tol,
                                maxiter=maxiter, block_rows=block_rows, n_threads=n_threads)
    if dask_engine.is_dask_array(beta) or dask_engine.is_dask_array(se):
        return dask_engine.meta_analyze_dask(beta, se, method, tol=tol, maxiter=maxiter)
    single = method.strip().upper() if isinstance(method, str) and "," not in method else None
    methods = normalize_methods(method)
    if index is None and hasattr(beta, "index") and hasattr(beta, "columns"):
        index = beta.index
    beta = np.asarray(beta, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    if beta.ndim == 1:
        beta, se = beta[:, None], se.reshape(-1, 1) if se.ndim == 1 else se
    if beta.ndim != 2 or beta.shape != se.shape:
        raise ValueError(f"beta and se must be (m, k) arrays of the same shape, got "
                         f"{beta.shape} and {se.shape}")
    m, k = beta.shape
    cols = output_columns(methods, single)
    out = {name: np.zeros(m, dtype=dt) if dt is not np.float64 else np.empty(m)
           for name, dt in cols}
    for name, dt in cols:
        if dt is np.bool_:
            out[name][:] = True
    step = max(1, int(block_rows))
    starts = range(0, m, step)
    threads = _n_threads(n_threads, len(starts))
    local = threading.local()

    def run(i0):
        bufs = getattr(local, "bufs", None)
        if bufs is None:
            bufs = local.bufs = tuple(np.empty((k, min(step, m) or 1)) for _ in range(3))
        _block(beta[i0:i0 + step], se[i0:i0 + step], methods, single, out, i0, bufs, tol,
               maxiter)

    if threads <= 1:
        for i0 in starts:
            run(i0)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(run, starts):
                pass
    for name in [c for c, _ in cols if c.startswith("log10p")]:
        out[name.replace("log10p", "pvalue")] = np.power(10.0, out[name])
    if not as_frame:
        return out
    import pandas as pd

    return pd.DataFrame({c: out[c] for c, _ in cols}, index=index)
