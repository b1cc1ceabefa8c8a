"""Dask back end: lazy :func:`~metamodels.batch.meta_analyze` on dask arrays and the
``engine="dask"`` path of :func:`~metamodels.batch.meta_analyze_files`.

The kernels are the numpy ones, applied block by block (``map_blocks``): a dask array
of ``(m, k)`` effects chunked by rows gives lazily computed result columns, so data
larger than memory can be analysed chunk by chunk.  dask is imported only here and
only when used (``pip install dask``).
"""
from __future__ import annotations

import numpy as np

from .methods import normalize_methods, output_columns, single_method
from .numpy_engine import analyze_arrays

__all__ = ["is_dask_array", "require_dask", "meta_analyze_dask", "scan_studies",
           "chunk_results"]


def is_dask_array(x):
    """True for a ``dask.array.Array`` (without importing dask)."""
    return type(x).__module__.startswith("dask.") and hasattr(x, "dask") and \
        hasattr(x, "chunks")


def require_dask():
    """Import dask or raise an error that says how to install it."""
    try:
        import dask  # noqa: F401
        import dask.array  # noqa: F401
    except ImportError as exc:
        from .sumstats import GWASInputError

        raise GWASInputError("the dask engine needs dask: pip install dask") from exc


def _record_dtype(method):
    cols = output_columns(normalize_methods(method), single_method(method))
    names = [c for c, _ in cols]
    extra = [(c.replace("log10p", "pvalue"), np.float64) for c in names
             if c.startswith("log10p")]
    return np.dtype(cols + [e for e in extra if e[0] not in names])


def _records(beta, se, method, tol, maxiter, n_threads=1):
    beta = np.asarray(beta, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    res = analyze_arrays(beta, se, normalize_methods(method), single_method(method), tol=tol,
                         maxiter=maxiter, n_threads=n_threads)
    dt = _record_dtype(method)
    out = np.empty(beta.shape[0], dtype=dt)
    for name in dt.names:
        out[name] = res[name]
    return out


def meta_analyze_dask(beta, se, method="FE", tol=1e-10, maxiter=100):
    """Lazy :func:`~metamodels.batch.meta_analyze` of dask arrays.

    ``beta`` and ``se`` are ``(m, k)`` dask arrays (any row chunks; the study axis is
    made one chunk).  Returns a dict of lazy 1-d dask arrays, one per result column,
    chunked like the rows; ``dask.compute(*d.values())`` evaluates them together.
    """
    import dask.array as da

    beta = da.asarray(beta)
    se = da.asarray(se)
    if beta.ndim == 1:
        beta, se = beta[:, None], se[:, None]
    if beta.shape != se.shape:
        raise ValueError(f"beta and se must have the same shape, got {beta.shape} and "
                         f"{se.shape}")
    beta = beta.rechunk({1: -1})
    se = se.rechunk(beta.chunks)
    dt = _record_dtype(method)
    rec = da.map_blocks(_records, beta, se, method=method, tol=tol, maxiter=maxiter,
                        dtype=dt, drop_axis=1)
    return {name: rec[name] for name in dt.names}


def scan_studies(args, chunk_size, scheme, jobs, prepare=None):
    """Yield the scans of the studies in order, each a dask task (on a pool of
    ``jobs`` processes when ``jobs > 1``, forked where possible and shut down
    afterwards); ``prepare``: see :func:`.sumstats.scan_study`.

    With a pool, each study is computed by its own ``dask.compute`` call (``jobs``
    at a time, from as many threads), so a study is yielded, and indexed by the
    caller, while the next ones are read (one graph of every study would only
    return when the last one is read)."""
    import dask

    from .sumstats import scan_study
    from .workers import worker_pool

    tasks = [dask.delayed(scan_study)(*a, chunk_size=chunk_size, scheme=scheme, prepare=prepare)
             for a in args]
    if jobs <= 1:
        for t in tasks:
            yield dask.compute(t, scheduler="synchronous")[0]
        return
    from concurrent.futures import ThreadPoolExecutor

    def one(task):
        return dask.compute(task, scheduler="processes", pool=pool)[0]

    with worker_pool(jobs) as pool, ThreadPoolExecutor(jobs) as threads:
        futs = [threads.submit(one, t) for t in tasks]
        try:
            for f in futs:
                yield f.result()
        finally:
            for f in futs:
                f.cancel()


def chunk_results(stores, maps, n_var, chunk_size, scheme, gc, with_n, methods,
                  window=1):
    """Yield ``(c0, y, nn, results)`` per chunk of variants, in order.

    The gathered ``(m, k)`` matrices of every chunk form dask arrays (one block per
    chunk, built by delayed gathers); the kernels run with ``map_blocks`` and
    ``window`` blocks are computed at a time on the threaded scheduler (with one
    block, the kernels use all CPUs), so memory stays bounded by the chunk size.
    """
    import dask
    import dask.array as da

    from .merge import gather_chunk

    k = len(stores)
    starts = list(range(0, n_var, chunk_size))
    if not starts:
        return
    sizes = [min(c0 + chunk_size, n_var) - c0 for c0 in starts]
    gathered = [dask.delayed(gather_chunk, pure=True)(stores, maps, c0,
                                                      c0 + m, scheme, gc, with_n)
                for c0, m in zip(starts, sizes)]
    part = dask.delayed(_part, pure=True)
    Y = da.concatenate([da.from_delayed(part(g, 0), shape=(m, k), dtype=float)
                        for g, m in zip(gathered, sizes)], axis=0)
    S = da.concatenate([da.from_delayed(part(g, 1), shape=(m, k), dtype=float)
                        for g, m in zip(gathered, sizes)], axis=0)
    method = list(methods)
    dt = _record_dtype(method)
    R = da.map_blocks(_records, Y, S, method=method, tol=1e-10, maxiter=100, dtype=dt,
                      drop_axis=1, n_threads=None if window == 1 else 1)
    for i in range(0, len(starts), window):
        blocks = range(i, min(i + window, len(starts)))
        # a flat list: dask.compute repacks nested tuples of tuple-valued tasks wrongly
        flat = dask.compute(*([gathered[b] for b in blocks] + [R.blocks[b] for b in blocks]),
                            scheduler="threads")
        for j, b in enumerate(blocks):
            y, _, nn = flat[j]
            rec = flat[len(blocks) + j]
            yield starts[b], y, nn, {name: rec[name] for name in dt.names}


def _part(t, i):
    return t[i]
