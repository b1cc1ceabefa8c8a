"""Output phase of ``metamodels gwas``: chunks of variants gathered, meta-analysed,
formatted and (for a ``.gz`` output) compressed, serially or on worker processes.

Once every study is indexed (:func:`metamodels.batch.merge.index_study`), each chunk
of global variant ids ``c0 <= gid < c1`` is independent of the others:

* :func:`analyze_chunk` gathers the ``(m, k)`` matrices of the chunk
  (:func:`~metamodels.batch.merge.gather_chunk`) and runs the kernels
  (:func:`~metamodels.batch.meta_analyze` and the heterogeneity-aware ``extra``
  methods);
* :func:`format_chunk` writes its rows as text (:mod:`.textfmt`), 65,536 rows a piece;
* :func:`chunk_stats` keeps what the run summary needs (``z^2`` for the lambda of the
  meta-analysis, variants by number of studies, failed estimates).

:func:`run_chunk` does all three for one chunk in a worker process and gzip-compresses
the pieces (one gzip member per piece, as :class:`OutputWriter`
writes them in the main process).  :func:`parallel_chunks` runs it on a pool of
``jobs`` processes, forked after the indexing so that the workers share the stores and
the merged variant table with the main process copy-on-write (spawned, with the
:class:`OutputContext` pickled to them, where fork is unavailable), with the numpy
engine (``concurrent.futures``) or the dask engine (``dask.compute`` with the
``"processes"`` scheduler on the same pool); the results come back in chunk order and
at most a few chunks are in flight, which bounds the memory.
"""
from __future__ import annotations

import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .api import ITERATIVE_METHODS, meta_analyze
from .logtail import log10_chi2_sf
from .merge import gather_chunk, load_map
from .sumstats import GWASInputError, gzip_compress
from .workers import Laps, start_method, trim, tune_malloc, worker_pool
from .textfmt import rows_to_bytes

__all__ = ["OutputContext", "ChunkOutput", "GWASWorkerError", "PARALLEL_MIN_VARIANTS",
           "task_bounds", "use_pool", "analyze_chunk", "format_chunk", "chunk_stats",
           "run_chunk", "parallel_chunks", "Laps", "trim", "OutputWriter"]

#: Fewer variants than this are written serially whatever ``jobs`` is: starting the
#: worker processes would cost more than it saves.
PARALLEL_MIN_VARIANTS = 200_000
#: Rows formatted (and compressed) at a time: one piece of text, one gzip member.
PIECE_ROWS = 65536
#: Start method of the worker processes: None for fork on Linux (the context shared
#: copy-on-write), spawn elsewhere (the context pickled to every worker).
START_METHOD: str | None = None
#: CPU stages of the output workers, as reported in the run summary.
WORKER_STAGES = ("gather", "kernels", "format", "gzip")


class GWASWorkerError(RuntimeError):
    """An output worker process failed (its error is chained as ``__cause__``)."""


@dataclass
class OutputContext:
    """Everything a chunk of the output needs (shared by fork, pickled by spawn).

    Parameters
    ----------
    stores : list of StudyStore
        The indexed studies (their rows sorted by gid saved: :func:`.merge.save_map`).
    ref_study, ref_row : ndarray
        Per gid, the study and row its id is read from.
    ref_a1, ref_a2 : ndarray
        Per gid, the codes of its reference alleles in ``alleles``.
    alleles : ndarray of bytes
        The allele table (global codes).
    scheme : {"stderr", "samplesize"}
    gc : list of float
        Per-study genomic-control factors.
    with_n : bool
        Write the total sample size.
    methods : tuple of str
        Kernel methods (``"FE"`` first).
    digits : int
        Significant digits written.
    sep : bytes
        Column separator.
    extra : ExtraMethods
        Heterogeneity-aware methods (may be empty).
    compresslevel : int or None
        gzip level of the pieces :func:`run_chunk` returns (None: not compressed).
    """

    stores: list
    ref_study: np.ndarray
    ref_row: np.ndarray
    ref_a1: np.ndarray
    ref_a2: np.ndarray
    alleles: np.ndarray
    scheme: str
    gc: list
    with_n: bool
    methods: tuple
    digits: int
    sep: bytes
    extra: Any
    compresslevel: int | None = None

    @property
    def k(self):
        """Number of studies."""
        return len(self.stores)

    def maps(self):
        """Per study, a callable mapping its rows sorted by gid (:func:`.merge.load_map`)."""
        return [(lambda st=st: load_map(st)) for st in self.stores]


@dataclass
class ChunkOutput:
    """What :func:`run_chunk` sends back to the main process.

    Parameters
    ----------
    c0, c1 : int
        The chunk's gids ``c0 <= gid < c1``.
    pieces : list of bytes
        Its text (gzip members when the context's ``compresslevel`` is set).
    z2 : ndarray
        Squared finite z-scores.
    k_counts : ndarray
        Variants by number of studies.
    failed : dict
        Per method, variants without a (converged) finite estimate.
    cpu : dict
        CPU seconds per stage of :data:`WORKER_STAGES`.
    warnings : list of tuple
        ``(message, category, filename, lineno)`` of the warnings raised.
    """

    c0: int
    c1: int
    pieces: list
    z2: np.ndarray
    k_counts: np.ndarray
    failed: dict
    cpu: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)


class OutputWriter:
    """Ordered output; for a ``.gz`` ``path`` every write is one gzip member
    (:func:`~.sumstats.gzip_compress`: ISA-L when installed), compressed on
    ``threads`` threads (0: in the calling thread); :meth:`write_member` writes text
    already compressed (by the output workers)."""

    def __init__(self, path, compresslevel=1, threads=1):
        self.fh = open(path, "wb")
        self.level = compresslevel
        self.cpu = []                     # CPU seconds of each compression
        self.pool = None
        self.gz = path.endswith(".gz")
        if self.gz and threads > 0:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(threads)
            self.threads = threads
        self.pending = deque()

    def write(self, data):
        if not self.gz:
            self.fh.write(data)
        elif self.pool is None:
            self.fh.write(self._compress(data))
        else:
            self.pending.append(self.pool.submit(self._compress, data))
            while len(self.pending) > self.threads:
                self.fh.write(self.pending.popleft().result())

    def write_member(self, data):
        while self.pending:
            self.fh.write(self.pending.popleft().result())
        self.fh.write(data)

    def _compress(self, data):
        c = time.thread_time()
        out = gzip_compress(data, self.level)
        self.cpu.append(time.thread_time() - c)
        return out

    def close(self):
        try:
            while self.pending:
                self.fh.write(self.pending.popleft().result())
        finally:
            if self.pool is not None:
                self.pool.shutdown()
            self.fh.close()


def task_bounds(n_var, chunk_size, jobs):
    """Chunks ``(c0, c1)`` of ``n_var`` gids: ``chunk_size`` each when serial; on
    ``jobs > 1`` workers, a multiple of ``jobs`` chunks of at most ``chunk_size``
    gids and of equal sizes, so that the workers finish together."""
    if jobs <= 1 or n_var <= 0:
        return [(c0, min(c0 + chunk_size, n_var)) for c0 in range(0, n_var, chunk_size)]
    n = -(-n_var // chunk_size)
    n = -(-n // jobs) * jobs
    size = -(-n_var // n)
    return [(c0, min(c0 + size, n_var)) for c0 in range(0, n_var, size)]


def use_pool(jobs, n_var):
    """Whether the output is written by ``jobs`` worker processes."""
    return jobs > 1 and n_var >= PARALLEL_MIN_VARIANTS


def analyze_chunk(ctx, c0, c1, laps=None, n_threads=None):
    """Gather and meta-analyse gids ``c0 <= gid < c1``.

    Parameters
    ----------
    ctx : OutputContext
    c0, c1 : int
    laps : Laps, optional
        Charged ``gather`` and ``kernels`` (the CPU of all kernel threads).
    n_threads : int, optional
        Kernel threads (default: the CPUs).

    Returns
    -------
    c0 : int
    y : ndarray
        ``(c1 - c0, k)`` aligned effects.
    nn : ndarray or None
        Total sample sizes.
    res : dict
        Result columns of the kernels and of ``ctx.extra``.
    """
    y, s, nn = gather_chunk(ctx.stores, ctx.maps(), c0, c1, ctx.scheme, ctx.gc, ctx.with_n)
    if laps is not None:
        laps.lap("gather")
    t, c = time.perf_counter(), time.process_time()
    res = meta_analyze(y, s, list(ctx.methods), as_frame=False, n_threads=n_threads)
    if ctx.extra:
        res.update(ctx.extra.compute(y, s))
    if laps is not None:
        laps.add("kernels", time.perf_counter() - t, time.process_time() - c)
        laps.mark()
    return c0, y, nn, res


def _direction(y):
    """METAL's direction string of each row: ``+``, ``-``, ``0`` or ``?`` per study."""
    d = np.full(y.shape, ord("?"), dtype=np.uint8)        # NaN: the study lacks it
    d -= (y > 0).view(np.uint8) * np.uint8(ord("?") - ord("+"))
    d -= (y < 0).view(np.uint8) * np.uint8(ord("?") - ord("-"))
    d -= (y == 0).view(np.uint8) * np.uint8(ord("?") - ord("0"))
    return d.view(f"S{y.shape[1]}").ravel()


def _names(ctx, c0, c1):
    """Ids of gids ``c0..c1`` (from the store of each variant's reference study)."""
    rs = ctx.ref_study[c0:c1]
    rr = ctx.ref_row[c0:c1]
    parts = {}
    width = 1
    for s in np.unique(rs):
        sel = rs == s
        ids = ctx.stores[s].ids(rr[sel])
        parts[s] = (sel, ids)
        width = max(width, ids.dtype.itemsize)
    out = np.zeros(c1 - c0, dtype=f"S{width}")
    for sel, ids in parts.values():
        out[sel] = ids
    return out


def format_chunk(ctx, c0, y, nn, res, threads=1):
    """Yield the text of the chunk's rows, :data:`PIECE_ROWS` rows (times
    ``threads``) a piece, in the columns of ``metamodels.batch.gwas._output_columns``
    followed by those of ``ctx.extra``."""
    c1 = c0 + y.shape[0]
    digits, scheme = ctx.digits, ctx.scheme
    names = _names(ctx, c0, c1)
    spec = [("bytes", names, None), ("bytes", ctx.alleles[ctx.ref_a1[c0:c1]], None),
            ("bytes", ctx.alleles[ctx.ref_a2[c0:c1]], None), ("int", res["k"], None)]
    if nn is not None:
        spec.append(("float", nn, 6) if np.any(nn != np.rint(nn))
                    else ("int", np.rint(nn), None))
    spec.append(("bytes", _direction(y), None))
    at = {}                                   # positions of the fixed-effect columns

    def add(kind, key, values=None):
        at[key] = len(spec)
        spec.append((kind, res[key] if values is None else values, digits))

    for key in (("beta", "se") if scheme == "stderr" else ("z",)):
        add("float", key)
    add("log10", "log10p")
    add("float", "q")
    add("log10", "q_log10p", log10_chi2_sf(res["q"], res["q_df"], res["q_pvalue"]))
    add("float", "i2")

    def same(kind, name, fe_key):
        """A random-effects column: where it equals the fixed-effect one (tau^2 = 0)
        the text is copied (:func:`.textfmt.rows_to_bytes`)."""
        return (kind, res[name], digits, at[fe_key])

    for m in ctx.methods:
        if m == "FE":
            continue
        spec += [("float", res[f"tau2_{m}"], digits), same("float", f"i2_{m}", "i2")]
        if scheme == "stderr":
            spec += [same("float", f"beta_{m}", "beta"), same("float", f"se_{m}", "se")]
        else:
            spec.append(same("float", f"z_{m}", "z"))
        spec.append(same("log10", f"log10p_{m}", "log10p"))
        if m in ITERATIVE_METHODS:
            spec.append(("bytes", np.where(res[f"converged_{m}"], b"TRUE", b"FALSE"), None))
    if ctx.extra:
        spec += ctx.extra.spec(res, digits)
    step = PIECE_ROWS * max(1, threads)
    for i0 in range(0, c1 - c0, step):
        yield rows_to_bytes([(c[0], c[1][i0:i0 + step], c[2] if c[0] != "int" or c[2] is None
                              else c[2][i0:i0 + step]) + tuple(c[3:]) for c in spec],
                            sep=ctx.sep, n_threads=threads)


def failures(res, methods):
    """Per method, the variants with studies but without a finite (and, for iterative
    estimators, converged) estimate."""
    k = res["k"]
    out = {"FE": int(np.count_nonzero((k > 0) & ~np.isfinite(res["beta"])))}
    for m in methods:
        if m == "FE":
            continue
        bad = (k > 0) & ~np.isfinite(res[f"beta_{m}"])
        bad |= (k > 1) & ~np.isfinite(res[f"tau2_{m}"])
        if m in ITERATIVE_METHODS:
            bad |= ~res[f"converged_{m}"]
        out[m] = int(np.count_nonzero(bad))
    return out


def chunk_stats(ctx, res):
    """``(z2, k_counts, failed)`` of a chunk's results (see :class:`ChunkOutput`)."""
    z = res["z"]
    return (z[np.isfinite(z)] ** 2, np.bincount(res["k"], minlength=ctx.k + 1),
            failures(res, ctx.methods))


#: The context of the worker processes (set before they fork, or by _init_worker).
_CTX: OutputContext | None = None


def _init_worker(ctx):
    global _CTX
    tune_malloc()
    if ctx is not None:                    # spawned: the pickled context
        _CTX = ctx


def run_chunk(c0, c1):
    """Worker task: chunk ``c0 <= gid < c1`` analysed (one kernel thread), formatted
    and compressed (:class:`ChunkOutput`); warnings are recorded and sent back."""
    ctx = _CTX
    if ctx is None:                        # pragma: no cover (a misconfigured pool)
        raise GWASWorkerError("the output worker has no context")
    cpu = dict.fromkeys(WORKER_STAGES, 0.0)
    trim()                                 # e.g. the last result's pickling buffers
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", RuntimeWarning)
        laps = Laps()
        _, y, nn, res = analyze_chunk(ctx, c0, c1, laps, n_threads=1)
        pieces = []
        for text in format_chunk(ctx, c0, y, nn, res):
            laps.lap("format")
            if ctx.compresslevel is not None:
                text = gzip_compress(text, ctx.compresslevel)
                laps.lap("gzip")
            pieces.append(text)
        z2, k_counts, failed = chunk_stats(ctx, res)
        del y, nn, res
        trim()
        laps.lap("format")
    for key, v in laps.cpu.items():
        cpu[key] += v
    return ChunkOutput(c0, c1, pieces, z2, k_counts, failed, cpu,
                       [(str(w.message), w.category, w.filename, w.lineno) for w in caught])


def _pool(jobs, ctx):
    """A process pool for :func:`run_chunk` (see :data:`START_METHOD`)."""
    global _CTX
    method = start_method(START_METHOD)
    _CTX = ctx
    return worker_pool(jobs, method, _init_worker, (None if method == "fork" else ctx,))


def _fail(exc, c0, c1):
    """The error to raise in the main process for a failed chunk."""
    from concurrent.futures.process import BrokenProcessPool

    if isinstance(exc, BrokenProcessPool):
        return GWASWorkerError(f"an output worker process died while writing variants "
                               f"{c0 + 1:,}-{c1:,} (out of memory? try a smaller "
                               "--chunk-size or fewer --jobs)")
    if isinstance(exc, (GWASInputError, GWASWorkerError)):
        return exc
    return GWASWorkerError(f"output worker failed on variants {c0 + 1:,}-{c1:,}: "
                           f"{type(exc).__name__}: {exc}")


def _numpy_results(pool, bounds, jobs):
    pending = deque()
    it = iter(bounds)
    for b in it:
        pending.append((b, pool.submit(run_chunk, *b)))
        if len(pending) > jobs:
            break
    while pending:
        (c0, c1), fut = pending.popleft()
        try:
            out = fut.result()
        except Exception as exc:
            raise _fail(exc, c0, c1) from exc
        b = next(it, None)
        if b is not None:
            pending.append((b, pool.submit(run_chunk, *b)))
        yield out


def _dask_results(pool, bounds, jobs):
    """Windows of ``jobs`` chunks computed by dask (``"processes"`` scheduler on
    ``pool``); the next window is computed while the current one is written."""
    from concurrent.futures import ThreadPoolExecutor

    import dask

    task = dask.delayed(run_chunk, pure=True)

    def window(i):
        try:
            # chunksize=1: one task per submission (dask batches 6 by default, which
            # would run a whole window in one worker)
            return dask.compute(*[task(*b) for b in bounds[i:i + jobs]],
                                scheduler="processes", pool=pool, chunksize=1)
        except Exception as exc:
            c0, c1 = bounds[i][0], bounds[min(i + jobs, len(bounds)) - 1][1]
            raise _fail(exc, c0, c1) from exc

    with ThreadPoolExecutor(1) as ahead:
        nxt = ahead.submit(window, 0)
        for i in range(0, len(bounds), jobs):
            cur = nxt.result()
            if i + jobs < len(bounds):
                nxt = ahead.submit(window, i + jobs)
            yield from cur


def parallel_chunks(ctx, bounds, jobs, engine="numpy"):
    """Yield the :class:`ChunkOutput` of every chunk of ``bounds``, in order, computed
    by :func:`run_chunk` on ``jobs`` worker processes.

    Parameters
    ----------
    ctx : OutputContext
    bounds : list of (int, int)
        The chunks (:func:`task_bounds`).
    jobs : int
        Worker processes.
    engine : {"numpy", "dask"}
        Tasks submitted to the pool directly (at most ``jobs + 1`` in flight), or
        computed by dask in windows of ``jobs`` chunks (two windows in flight).

    Raises
    ------
    GWASWorkerError
        A worker failed (its exception chained) or died; the pool is shut down.
    """
    pool = _pool(jobs, ctx)
    gen = None
    try:
        gen = (_dask_results if engine == "dask" else _numpy_results)(pool, bounds, jobs)
        for out in gen:
            for msg, cat, fname, lineno in out.warnings:
                warnings.warn_explicit(msg, cat, fname, lineno)
            yield out
    finally:
        if gen is not None:
            gen.close()
        pool.shutdown(wait=True, cancel_futures=True)
        global _CTX
        _CTX = None

