"""Numpy back end of the batch engine: the kernels of :mod:`metamodels.batch.kernels`
applied block by block (``BLOCK_ROWS`` rows at a time) on a pool of threads."""
from __future__ import annotations

import os
import threading

import numpy as np

from . import kernels as kn
from .methods import output_columns

__all__ = ["analyze_arrays", "BLOCK_ROWS"]

#: Rows per block: the working arrays of a block stay in the CPU caches.
BLOCK_ROWS = 8192


def _fixed_columns(Y, W, n, complete, out, sl, need_sw2, i2, work=None):
    """The fixed-effect columns of rows ``sl`` written into ``out`` (and ``i2``, the
    fixed-effect I^2, if ``i2``); returns ``sw``, ``sw2`` (``None`` unless
    ``need_sw2``) for the random-effects methods.

    A complete block (``n = k >= 2`` in every row) skips the masks of missing studies
    and of mixed df; the values are the same.
    """
    k = Y.shape[0]
    fast = complete and k >= 2
    est, se_fe, q, sw, sw2 = kn.fixed_effect(
        Y, W, out=(out["beta"][sl], out["se"][sl], out["q"][sl]), sw2=need_sw2, work=work)
    if not fast:
        q[n == 1] = 0.0
        q[n == 0] = np.nan
        se_fe[n == 0] = np.nan
    z = out["z"][sl]
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(est, se_fe, out=z)
    np.power(10.0, kn.log10_pvalue_normal(z, out=out["log10p"][sl]), out=out["pvalue"][sl])
    kk = k if fast else n                       # one number for a complete block
    out["k"][sl] = kk
    out["q_df"][sl] = k - 1 if fast else np.maximum(n - 1, 0)
    out["q_pvalue"][sl] = kn.chi2_sf(q, kk - 1.0)
    if i2:
        out["i2"][sl] = kn.i2_fixed(q, kk)
    return sw, sw2


def _block(beta, se, methods, single, out, i0, bufs, tol, maxiter):
    """Fill rows ``i0:i0+len(beta)`` of the output arrays ``out`` (dict)."""
    b = beta.shape[0]
    sl = slice(i0, i0 + b)
    Y, V, W, n, complete = kn.prepare_block(beta, se, bufs, return_complete=True)
    need_sw2 = any(m != "FE" for m in methods)
    sw, sw2 = _fixed_columns(Y, W, n, complete, out, sl, need_sw2,
                             i2=single in (None, "FE"), work=bufs[3] if len(bufs) > 3 else None)
    q = out["q"][sl]
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
            # the global search of the single fits (core/tau2.py)
            tau2, conv = kn.tau2_ml_reml(Y, V, n, reml=(m == "REML"), tol=tol,
                                         maxiter=maxiter)
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
        lp = kn.log10_pvalue_normal(z_re, out=out["log10p" + sfx][sl])
        np.power(10.0, lp, out=out["pvalue" + sfx][sl])
        if conv is not None:
            out["converged" if single is not None else f"converged_{m}"][sl] = conv


def _n_threads(n_threads, n_blocks):
    if n_threads is None:
        n_threads = min(os.cpu_count() or 1, 8)
    return max(1, min(int(n_threads), n_blocks))


def run_threaded(run, tasks, n_threads=None):
    """``run(task)`` for every task, in a thread pool of ``n_threads`` (default: the CPUs,
    at most 8) when there is more than one task; the kernels release the GIL in numpy."""
    tasks = list(tasks)
    threads = _n_threads(n_threads, len(tasks))
    if threads <= 1:
        for task in tasks:
            run(task)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(run, tasks):
            pass


def allocate_columns(cols, m):
    """Output arrays ``{name: (m,) array}`` of the ``(name, dtype)`` pairs ``cols``:
    float columns uninitialised, int columns 0, bool columns True.

    The columns of one dtype are the rows of one ``(c, m)`` array: one large allocation
    (which numpy backs with huge pages where the OS allows) costs a fraction of the page
    faults of ``c`` separate ones, about 10% of a fixed-effect run; each column is a
    contiguous view.
    """
    out = {}
    for dt, make in ((np.float64, np.empty), (np.int64, np.zeros), (np.bool_, np.ones)):
        names = [name for name, d in cols if d is dt]
        if names:
            block = make((len(names), m), dtype=dt)
            out.update(zip(names, block))
    return {name: out[name] for name, _ in cols}


def analyze_arrays(beta, se, methods, single, tol=1e-10, maxiter=100,
                   block_rows=BLOCK_ROWS, n_threads=None):
    """Result columns (dict of arrays, ``pvalue`` columns included) of the (m, k) float64
    arrays ``beta`` and ``se``; ``methods`` normalised, ``single`` as
    :func:`~metamodels.batch.methods.single_method` (see
    :func:`metamodels.batch.meta_analyze`)."""
    m, k = beta.shape
    out = allocate_columns(output_columns(methods, single), m)
    step = max(1, int(block_rows))
    starts = range(0, m, step)
    local = threading.local()

    def run(i0):
        bufs = getattr(local, "bufs", None)
        if bufs is None:
            bufs = local.bufs = tuple(np.empty((k, min(step, m) or 1)) for _ in range(4))
        _block(beta[i0:i0 + step], se[i0:i0 + step], methods, single, out, i0, bufs, tol,
               maxiter)

    run_threaded(run, starts, n_threads)
    return out
