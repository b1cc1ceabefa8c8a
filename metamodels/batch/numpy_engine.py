"""Numpy back end of the batch engine: the kernels of :mod:`metamodels.batch.kernels`
applied block by block (``BLOCK_ROWS`` rows at a time), tasks of ``TASK_BLOCKS`` blocks
shared by a pool of threads; the output columns are allocated once per dtype."""
from __future__ import annotations

import os
import threading

import numpy as np

from . import kernels as kn
from .methods import output_columns

__all__ = ["analyze_arrays", "BLOCK_ROWS"]

#: Rows per block: the working arrays of a block (three or four ``(k, rows)`` arrays
#: and the block of the inputs) stay in a core's L2 cache for k ~ 10.
BLOCK_ROWS = 4096
#: Blocks per task of a thread: the per-row columns (z, p-values, ...) of a task are
#: computed together, with fewer numpy calls.
TASK_BLOCKS = 8


def spans(n, step):
    """``(start, stop)`` of consecutive pieces of ``range(n)`` of ``step >= 2`` rows, a
    last piece of one row joined to the one before (``step + 1`` rows): numpy sums a
    ``(k, 1)`` block in another order than wider ones, so a row alone could differ in
    the last bit from the same row among others."""
    bounds = list(range(0, n, step)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        del bounds[-2]
    return list(zip(bounds[:-1], bounds[1:]))


def _fixed_sums(Y, W, n, fast, out, sl, need_sw2, work=None):
    """The study sums of rows ``sl``: fixed-effect ``beta``, ``se`` and ``q`` written
    into ``out``; returns ``sw``, ``sw2`` (``None`` unless ``need_sw2``) for the
    random-effects methods.  ``fast``: a complete block (``n = k >= 2`` in every row)
    skips the fixes of rows with ``k < 2``."""
    _, se_fe, q, sw, sw2 = kn.fixed_effect(
        Y, W, out=(out["beta"][sl], out["se"][sl], out["q"][sl]), sw2=need_sw2, work=work)
    if not fast:
        q[n == 1] = 0.0
        q[n == 0] = np.nan
        se_fe[n == 0] = np.nan
    return sw, sw2


def _random_columns(Y, V, n, sw, sw2, out, sl, methods, single, tol, maxiter):
    """tau^2, I^2, the random-effects estimate and SE (and ``converged``) of every
    random-effects method, rows ``sl``; their z and p-values are left to
    :func:`_tails`."""
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
        sfx = "_re" if single is not None else f"_{m}"
        tname = "tau2" if single is not None else f"tau2_{m}"
        out[tname][sl] = tau2
        out["i2" if single is not None else f"i2_{m}"][sl] = kn.i2_random(tau2, n, sw, sw2)
        out["beta" + sfx][sl] = b_re
        out["se" + sfx][sl] = s_re
        if conv is not None:
            out["converged" if single is not None else f"converged_{m}"][sl] = conv


def _z_and_p(out, sl, sfx):
    """``z = beta/se``, ``log10p`` and ``pvalue`` of the columns with suffix ``sfx``."""
    z = out["z" + sfx][sl]
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(out["beta" + sfx][sl], out["se" + sfx][sl], out=z)
    lp = kn.log10_pvalue_normal(z, out=out["log10p" + sfx][sl])
    np.power(10.0, lp, out=out["pvalue" + sfx][sl])


def _tails(out, sl, k, n, methods, single):
    """The per-row columns of rows ``sl`` computed from the sums: z and p-values of
    every estimate, ``k``, ``q_df``, the Q p-value and the fixed-effect ``I^2``.
    ``n`` is ``None`` when every row has all ``k >= 2`` studies (one df for all)."""
    _z_and_p(out, sl, "")
    kk = k if n is None else n
    out["k"][sl] = kk
    out["q_df"][sl] = k - 1 if n is None else np.maximum(n - 1, 0)
    q = out["q"][sl]
    out["q_pvalue"][sl] = kn.chi2_sf(q, kk - 1.0)
    if single in (None, "FE"):
        kn.i2_fixed(q, kk, out=out["i2"][sl])
    for m in methods:
        if m != "FE":
            _z_and_p(out, sl, "_re" if single is not None else f"_{m}")


def _block(beta, se, methods, single, out, i0, bufs, tol, maxiter, sub):
    """Fill rows ``i0:i0+len(beta)`` of the output arrays ``out`` (dict): the study
    sums ``sub`` rows at a time (their ``(k, sub)`` working arrays stay in the CPU
    caches), then the per-row columns of all rows at once (fewer numpy calls)."""
    b, k = beta.shape
    need_sw2 = any(m != "FE" for m in methods)
    ns, all_fast = [], True
    for j0, j1 in spans(b, sub):
        sl = slice(i0 + j0, i0 + j1)
        Y, V, W, n, complete = kn.prepare_block(beta[j0:j1], se[j0:j1], bufs,
                                                return_complete=True)
        fast = complete and k >= 2
        all_fast &= fast
        ns.append(n)
        # fixed effect alone needs no V after W = 1/V: its buffer is the scratch space
        sw, sw2 = _fixed_sums(Y, W, n, fast, out, sl, need_sw2,
                              work=bufs[3] if need_sw2 else V)
        if need_sw2:
            _random_columns(Y, V, n, sw, sw2, out, sl, methods, single, tol, maxiter)
    _tails(out, slice(i0, i0 + b), k, None if all_fast else np.concatenate(ns), methods,
           single)


def usable_cpus():
    """CPUs this process may run on (its affinity mask where the OS has one, e.g. in a
    container limited to fewer CPUs than the machine has), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _n_threads(n_threads, n_blocks):
    if n_threads is None:
        n_threads = min(usable_cpus(), 8)
    return max(1, min(int(n_threads), n_blocks))


def run_threaded(run, tasks, n_threads=None):
    """``run(task)`` for every task, in a thread pool of ``n_threads`` (default: the CPUs
    the process may use, at most 8) when there is more than one task; the kernels
    release the GIL in numpy."""
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
    sub = max(2, int(block_rows))
    local = threading.local()

    def run(span):
        i0, i1 = span
        bufs = getattr(local, "bufs", None)
        if bufs is None:
            nbuf = 4 if any(meth != "FE" for meth in methods) else 3
            bufs = local.bufs = tuple(np.empty((k, min(sub + 1, m) or 1))
                                      for _ in range(nbuf))
        _block(beta[i0:i1], se[i0:i1], methods, single, out, i0, bufs, tol, maxiter, sub)

    run_threaded(run, spans(m, TASK_BLOCKS * sub), n_threads)
    return out
