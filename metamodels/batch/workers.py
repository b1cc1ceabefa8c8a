"""The processes of ``metamodels gwas``: one rule for starting the worker pools
(:func:`worker_pool`, :func:`start_method`), and their memory: handing freed heap
memory back to the system between phases (:func:`trim`) and letting a worker reuse
freed blocks instead of page-faulting fresh ones (:func:`tune_malloc`; glibc only,
no-ops elsewhere)."""
from __future__ import annotations

import sys
import time

__all__ = ["trim", "tune_malloc", "start_method", "worker_pool", "Laps"]


def start_method(preferred=None):
    """``preferred`` if given, else ``"fork"`` on Linux (the workers share the parent's
    data copy-on-write) and ``"spawn"`` elsewhere."""
    return preferred or ("fork" if sys.platform.startswith("linux") else "spawn")


def worker_pool(jobs, method=None, initializer=None, initargs=()):
    """A ``ProcessPoolExecutor`` of ``jobs`` workers started with
    :func:`start_method` (``method``); each worker runs ``initializer(*initargs)``, by
    default :func:`tune_malloc`."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(jobs, mp_context=mp.get_context(start_method(method)),
                               initializer=initializer or tune_malloc, initargs=initargs)


def trim():
    """Give freed heap memory back to the system (glibc ``malloc_trim``; no-op
    elsewhere), so the resident size follows the live data between phases."""
    global _TRIM
    if _TRIM is None:
        try:
            import ctypes

            _TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM = None
#: glibc's mallopt parameters (malloc.h) and the values :func:`tune_malloc` sets.
_MALLOPT = ((-3, 32 << 20),       # M_MMAP_THRESHOLD: blocks up to 32 MB come from the heap
            (-1, 256 << 20),      # M_TRIM_THRESHOLD: free() keeps up to 256 MB on top
            (-2, 64 << 20))       # M_TOP_PAD: the heap grows 64 MB at a time


def tune_malloc():
    """Let this process reuse freed memory for the arrays of the next block or chunk
    (glibc: arrays up to 32 MB from the heap, 256 MB kept on free) instead of mapping
    and page-faulting fresh pages each time: about 1.3 s less system time on the
    10-study benchmark, the same peak memory (:func:`trim` still hands freed memory
    back between phases).  Called in the worker processes of ``metamodels gwas`` and
    by its command line, not by the Python API in the caller's process; a no-op
    without glibc."""
    try:
        import ctypes

        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    for param, value in _MALLOPT:
        mallopt(param, value)


class Laps:
    """Wall and main-thread CPU seconds of stages (``lap(key)``: since the last mark
    or lap); :func:`.output_pool.analyze_chunk` adds the CPU time of the kernel
    threads."""

    def __init__(self, keys=()):
        self.wall = dict.fromkeys(keys, 0.0)
        self.cpu = dict.fromkeys(keys, 0.0)
        self.mark()

    def mark(self):
        """Start timing the next stage."""
        self.t, self.c = time.perf_counter(), time.thread_time()

    def lap(self, key):
        """Charge the time since the last mark or lap to ``key``."""
        t, c = time.perf_counter(), time.thread_time()
        self.add(key, t - self.t, c - self.c)
        self.t, self.c = t, c

    def add(self, key, wall, cpu):
        """Add ``wall`` and ``cpu`` seconds to ``key``."""
        self.wall[key] = self.wall.get(key, 0.0) + wall
        self.cpu[key] = self.cpu.get(key, 0.0) + cpu
