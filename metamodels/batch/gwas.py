"""File-to-file meta-analysis of GWAS summary statistics (``metamodels gwas``).

:func:`meta_analyze_files` runs the whole workflow with memory bounded by the chunk
size:

1. **scan** (parallel, one task per study): every file is read once, block by
   block, into a binary store in a scratch directory (:mod:`.sumstats`); the rules
   that depend on the study only (invalid values, missing ids and alleles,
   strand-ambiguous variants, repeated ids) and its genomic-control lambda are
   applied there (:mod:`.prepare`);
2. **index** (sequential, in study order, overlapping the scans of later studies):
   variant ids get global ids in order of first appearance, alleles are aligned to
   the first study that has the variant and dropped rows are written to the log;
   each study's used rows are saved in order of global id, so that a chunk's rows
   are one slice (:mod:`.merge`);
3. **meta-analysis** (chunks of ``chunk_size`` variants): each study's rows of the
   chunk are gathered into ``(m, k)`` matrices, analysed by the vectorised kernels
   (:func:`metamodels.batch.meta_analyze`), formatted (:mod:`.textfmt`) and
   written (gzip members compressed on a thread); with ``jobs > 1`` on worker
   processes, written in order by the main process (:mod:`.output_pool`).

The memory in use is the id index (about 45 bytes a variant) plus a few arrays per
chunk, whatever the size of the files.
"""
from __future__ import annotations

import contextlib
import datetime
import importlib
import gzip
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from typing import IO, Any, Mapping, Sequence

import numpy as np

from .alleles import AlleleTable
from .methods import ITERATIVE_METHODS, normalize_methods
from .gwas_methods import ExtraMethods, split_methods
from .merge import (DROP_ORDER, DROP_REASONS, LAMBDA_PLAUSIBLE, MergeState, gc_lambda,
                    index_study, save_map)
from .prepare import release_prepared, row_alleles
from .sumstats import (GWASInputError, GWASWarning, csv_backend, resolve_columns,
                       scan_study, sniff)
from .workers import Laps

__all__ = ["meta_analyze_files", "GWASResult", "log_path", "Progress", "peak_memory_mb"]

SCHEMES = ("stderr", "samplesize")
ENGINES = ("numpy", "dask")
#: With genomic control on, a lambda > 1 from fewer variants than this is applied with
#: a warning (its sampling error, about 2.3/sqrt(n), exceeds 0.23).
GC_MIN_VARIANTS = 100
#: The summary of a run is logged here (level INFO); ``metamodels gwas`` prints it.
logger = logging.getLogger("metamodels.batch.gwas")


def log_path(out):
    """``meta.tsv.gz -> meta.log`` (the log file next to the output)."""
    base = out[:-3] if out.endswith(".gz") else out
    root, ext = os.path.splitext(base)
    return (root if ext.lower() in (".tsv", ".txt", ".csv", ".tab") else base) + ".log"


def peak_memory_mb():
    """Peak resident memory (MB) of this process and of its largest finished child.

    This process: ``VmHWM`` of ``/proc/self/status`` on Linux (``ru_maxrss`` would
    include the memory of a parent that started us with fork and exec), else
    ``ru_maxrss``.  Children: ``ru_maxrss`` (pages shared with this process
    included).
    """
    try:
        import resource
    except ImportError:                                   # pragma: no cover (Windows)
        return float("nan"), float("nan")
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 1024 ** 2
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    own = int(line.split()[1]) / 1024
    except OSError:
        pass
    return own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale


class Progress:
    """Progress bar: tqdm if installed, else a counter on stderr every 2 s."""

    def __init__(self, total, desc, unit, enabled=True, stream=None):
        self.enabled = enabled
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = stream or sys.stderr
        self.n = 0
        self.bar = None
        self._last = 0.0
        if not enabled:
            return
        try:
            import tqdm

            tqdm.tqdm.monitor_interval = 0                # no monitor thread (fork safe)
            self.bar = tqdm.tqdm(total=total, desc=desc, unit=unit, unit_scale=True,
                                 file=self.stream, leave=False, dynamic_ncols=True)
        except ImportError:
            pass

    def update(self, k):
        if not self.enabled:
            return
        self.n += k
        if self.bar is not None:
            self.bar.update(k)
            return
        now = time.monotonic()
        if now - self._last >= 2.0 or self.n >= (self.total or np.inf):
            self._last = now
            tot = f"/{self.total:,}" if self.total else ""
            print(f"{self.desc}: {self.n:,}{tot} {self.unit}", file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


@dataclass
class GWASResult:
    """What :func:`meta_analyze_files` did (returned by it; the command line's summary).

    Parameters
    ----------
    out : str
        The output file.
    log : str
        The log file.
    n_variants : int
        Variants written.
    lambda_meta : float
        Genomic-control lambda of the meta-analysis p-values.
    studies : list of dict
        Per study: ``path``, ``stats`` (rows read, used, swapped, dropped by reason)
        and ``lambda``.
    k_counts : dict
        Number of variants by number of contributing studies.
    elapsed : float
        Wall time in seconds.
    peak_mb : tuple
        Peak memory (MB) of the main process and of the largest worker process
        (reading or output; pages shared with the main process included).
    columns : list of str
        Columns of the output file.
    timings : dict
        Seconds spent per stage.
    cpu : dict
        CPU seconds per stage (reading workers, main thread stages, kernel threads,
        output compression), printed by :meth:`summary` for runs of a second or more.
    """

    out: str
    log: str
    n_variants: int
    lambda_meta: float
    studies: list
    k_counts: dict
    elapsed: float
    peak_mb: tuple
    columns: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    cpu: dict = field(default_factory=dict)

    def summary(self) -> str:
        """The end-of-run summary (also at the end of the log).

        Returns
        -------
        str
            Per-study counts (rows read, used, swapped, strand-flipped, palindromic,
            dropped by reason, lambda), variants by number of studies, the meta-analysis
            lambda and the peak memory, one line each.
        """
        head = ["study", "file", "rows", "used", "swapped", "strand", "palindromic"] + \
            list(DROP_ORDER) + ["lambda"]
        table = [head]
        for i, s in enumerate(self.studies, 1):
            st = s["stats"]
            row = [str(i), os.path.basename(s["path"])]
            row += [f"{st[c]:,}" for c in ("read", "used", "swapped", "strand_flipped",
                                           "palindromic_aligned")]
            row += [f"{st[r]:,}" for r in DROP_ORDER] + [_fmt_lambda(s["lambda"])]
            table.append(row)
        widths = [max(len(r[j]) for r in table) for j in range(len(head))]
        fmt = lambda r: "  ".join(c.ljust(w) if j == 1 else c.rjust(w)  # noqa: E731
                                  for j, (c, w) in enumerate(zip(r, widths)))
        lines = [f"metamodels gwas: {len(self.studies)} studies, {self.n_variants:,} "
                 f"variants written to {self.out} in {self.elapsed:.2f} s"]
        lines += [fmt(r) for r in table]
        lines.append("rows: read; used: meta-analysed, of which swapped (effect/other allele "
                     "exchanged), strand (matched on the other strand), palindromic (A/T, "
                     "C/G, strand settled by frequency or --keep-ambiguous); dropped:")
        lines += [f"  {r}: {DROP_REASONS[r]}" for r in DROP_ORDER]
        ks = ", ".join(f"{k}: {v:,}" for k, v in sorted(self.k_counts.items()))
        lines.append(f"variants by number of studies (k): {ks}")
        lines.append("genomic control lambda of the meta-analysis: "
                     + _fmt_lambda(self.lambda_meta))
        lines.append(f"peak memory: {self.peak_mb[0]:.0f} MB (main process), "
                     f"{self.peak_mb[1]:.0f} MB (largest worker process, shared pages "
                     "included)")
        if self.timings and self.elapsed >= 1:
            lines.append("time (s): " + ", ".join(f"{k} {v:.1f}"
                                                   for k, v in self.timings.items()))
        if self.cpu and self.elapsed >= 1:
            lines.append("CPU (s): " + ", ".join(f"{k} {v:.1f}" for k, v in self.cpu.items()))
        lines.append(f"log: {self.log}")
        return "\n".join(lines)


def _fmt_lambda(lam):
    return f"{lam:.4f}" if 1e-3 <= lam < 1e4 else f"{lam:.4g}"


def _output_columns(methods, scheme, with_n):
    cols = ["SNP", "A1", "A2", "k"] + (["n"] if with_n else []) + ["direction"]
    cols += ["beta", "se"] if scheme == "stderr" else ["z"]
    cols += ["pvalue", "q", "q_pvalue", "i2"]
    for m in methods:
        if m == "FE":
            continue
        cols += [f"tau2_{m}", f"i2_{m}"]
        cols += [f"beta_{m}", f"se_{m}"] if scheme == "stderr" else [f"z_{m}"]
        cols += [f"pvalue_{m}"] + ([f"converged_{m}"] if m in ITERATIVE_METHODS else [])
    return cols


def _scan_tasks(specs, jobs, engine, chunk_size, scheme, progress, prepare=None):
    """Yield the scan results of the studies in order (parallel when jobs > 1);
    ``prepare``: options of :func:`.prepare.prepare_study`, run after each scan."""
    args = [(s["path"], i, s["columns"], s["info"], s["dir"]) for i, s in enumerate(specs)]
    if engine == "dask":
        from .dask_engine import scan_studies

        for r in scan_studies(args, chunk_size, scheme, jobs, prepare):
            progress.update(1)
            yield r
        return
    if jobs <= 1:
        for a in args:
            r = scan_study(*a, chunk_size=chunk_size, scheme=scheme, prepare=prepare)
            progress.update(1)
            yield r
        return
    from .workers import worker_pool

    ex = worker_pool(jobs)
    try:
        futs = [ex.submit(scan_study, *a, chunk_size=chunk_size, scheme=scheme, prepare=prepare)
                for a in args]
        for f in futs:
            r = f.result()
            progress.update(1)
            yield r
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def _default_jobs(paths):
    size = sum(os.path.getsize(p) for p in paths)
    if size < 20e6 or len(paths) < 2:
        return 1
    return max(1, min(os.cpu_count() or 1, len(paths), 4))


#: Header of the ``--log-dropped`` file.
DROPPED_HEADER = b"study\tSNP\treason\talleles\treference_alleles\n"


def _write_drops(fh, study, store, drops, ref_gid, state):
    """Tab-separated lines ``study SNP reason alleles reference_alleles`` (binary
    ``fh``); the reference alleles are ``.`` unless the row failed to match them."""
    from .textfmt import join_columns, format_bytes, format_int

    local = np.array([a.encode() for a in store.alleles] or [b""], dtype="S")
    glob = state.alleles.as_bytes()
    for reason in DROP_ORDER:
        rows = drops[reason]
        if rows.size == 0:
            continue
        for i0 in range(0, rows.size, 200_000):
            r = rows[i0:i0 + 200_000]
            a1s, a2s = row_alleles(store, r)
            al = np.char.add(np.char.add(local[a1s], b"/"), local[a2s])
            g = ref_gid[reason][i0:i0 + 200_000]
            known = g >= 0
            gk = np.where(known, g, 0)
            ref = np.char.add(np.char.add(glob[state.ref_a1.values[gk]], b"/"),
                              glob[state.ref_a2.values[gk]])
            ref = np.where(known, ref, b".")
            mats = [format_int(np.full(r.size, study + 1)), format_bytes(store.ids(r)),
                    format_bytes(np.full(r.size, reason.encode())), format_bytes(al),
                    format_bytes(ref)]
            fh.write(join_columns(mats))


def meta_analyze_files(paths: Sequence[str | os.PathLike], out: str | os.PathLike, *,
                       methods: str | Sequence[str] = "FE", scheme: str = "stderr",
                       genomic_control: bool = False,
                       columns: Mapping[str, str] | None = None, chunk_size: int = 500_000,
                       engine: str = "numpy", jobs: int | None = None,
                       progress: bool | None = None, keep_ambiguous: bool = False,
                       maf_max: float = 0.4, digits: int = 6, compresslevel: int = 1,
                       log: str | None = None, log_dropped: str | None = None,
                       tmpdir: str | None = None, stream: IO[str] | None = None,
                       command: str | None = None,
                       extra: Mapping[str, Any] | None = None) -> GWASResult:
    """Meta-analyse GWAS summary-statistics files into one output file.

    Parameters
    ----------
    paths : list of str
        Input files: tab, comma or whitespace separated, optionally gzipped; the
        columns are found by name (see :data:`metamodels.batch.sumstats.COLUMN_ALIASES`)
        unless given in ``columns``.
    out : str
        Output file (``.gz``: gzip; ``.csv``: comma separated, else tab separated).
    methods : str or list
        ``"FE"`` and/or random-effects estimators (``"FE,DL,REML"``), and/or the
        heterogeneity-aware ``"MANTRA"``, ``"ASSET"``, ``"RE2"`` (see
        :mod:`metamodels.batch.gwas_methods`); the fixed-effect columns are always
        written.
    scheme : {"stderr", "samplesize"}
        Inverse-variance weights ``1/se^2`` (METAL's ``SCHEME STDERR``) or METAL's
        sample-size weighted z-scores: ``z_i = sign(beta_i) Phi^{-1}(1 - p_i/2)``,
        ``Z = sum sqrt(N_i) z_i / sqrt(sum N_i)`` (computed as the inverse-variance
        meta-analysis of ``z_i / sqrt(N_i)`` with variances ``1/N_i``; its Q is
        ``sum (z_i - sqrt(N_i) Z / sqrt(sum N))^2``).
    genomic_control : bool
        Per-study ``lambda = median(chi2) / 0.4549364``; when ``lambda > 1`` the
        study's ``se`` is multiplied (its z-scores divided) by ``sqrt(lambda)``.
    columns : dict, optional
        Column names by field (``snp``, ``a1``, ``a2``, ``beta``, ``se``, ``pvalue``,
        ``n``, ``freq``), for all files.
    chunk_size : int
        Variants analysed at a time; files are read in blocks of at most
        ``min(chunk_size, 200000)`` rows.  Together they bound the memory.
    engine : {"numpy", "dask"}
        ``"dask"`` runs the scans and the chunk kernels as dask tasks
        (:mod:`metamodels.batch.dask_engine`); the output is identical.
    jobs : int, optional
        Worker processes for the scan and, from
        :data:`~.output_pool.PARALLEL_MIN_VARIANTS` variants on, for the output
        (default: CPUs, at most 4, 1 for small inputs).
    progress : bool
        Show progress bars on stderr (``metamodels gwas``: when stderr is a
        terminal); default False.
    keep_ambiguous : bool, default False
        Keep palindromic (strand-ambiguous) variants that frequencies cannot resolve,
        assuming the same strand (METAL); see :func:`metamodels.batch.alleles.align`.
    maf_max : float, default 0.4
        Palindromic variants are resolved by frequency only when both minor-allele
        frequencies are below this (in ``(0, 0.5]``).
    digits : int
        Significant digits written (at most 6).
    compresslevel : int
        gzip level of a ``.gz`` output.
    log : str, optional
        Log file (default: next to ``out``, see :func:`log_path`): the settings, the
        files and columns used, and the summary with the number of rows each study
        lost to each reason of :data:`metamodels.batch.merge.DROP_REASONS`.
    log_dropped : str, optional
        Also list every dropped row in this file (``study SNP reason alleles
        reference_alleles``, tab separated; gzip-compressed when the name ends in
        ``.gz``).
    tmpdir : str, optional
        Where the scratch directory goes (default: the system's).
    stream : file, optional
        Where the summary is printed (``metamodels gwas``: stderr); by default it is
        not printed but logged (level INFO) to the ``metamodels.batch.gwas`` logger,
        and is in the log file and ``GWASResult.summary()``.
    command : str, optional
        The command line, recorded in the log.
    extra : dict, optional
        Options of the MANTRA/ASSET/RE2 methods: ``distance`` (file), ``frequencies``,
        ``mvalues``, ``side``, ``mu_sd`` (:class:`.gwas_methods.ExtraMethods`).

    Returns
    -------
    GWASResult
        Output and log paths, counts, lambda of the meta-analysis; ``summary()``.

    Raises
    ------
    GWASInputError
        An input problem: a missing, unreadable, corrupt or header-only file, the same
        file given twice, a column not found, a malformed line or a non-numeric value
        (the message names the file, column and row), or no row usable at all.
    GWASWorkerError
        An output worker process failed (its exception chained) or died.

    Warns
    -----
    GWASWarning
        Rows dropped as out of range, a study none of whose rows can be used, or an
        implausible genomic-control lambda (outside :data:`LAMBDA_PLAUSIBLE`).

    See Also
    --------
    meta_analyze : the same meta-analysis of in-memory arrays.

    Notes
    -----
    The fixed-effect analysis is METAL's ``SCHEME STDERR`` (or ``SAMPLESIZE``) of
    Willer et al. [1]_, with allele alignment and genomic control as METAL does them;
    ``docs/gwas.md`` compares the output with METAL's.

    References
    ----------
    .. [1] Willer, C. J., Li, Y., & Abecasis, G. R. (2010). METAL: fast and efficient
       meta-analysis of genomewide association scans. Bioinformatics, 26(17),
       2190-2191.

    Examples
    --------
    Two tiny studies (the second reports rs1 with the alleles swapped):

    >>> import warnings
    >>> from metamodels.batch import meta_analyze_files
    >>> with open("study1.txt", "w") as f:
    ...     _ = f.write("SNP\\tA1\\tA2\\tBETA\\tSE\\nrs1\\tA\\tG\\t0.10\\t0.02\\n"
    ...                 "rs2\\tC\\tT\\t-0.05\\t0.03\\n")
    >>> with open("study2.txt", "w") as f:
    ...     _ = f.write("SNP\\tA1\\tA2\\tBETA\\tSE\\nrs1\\tG\\tA\\t-0.12\\t0.03\\n"
    ...                 "rs2\\tC\\tT\\t-0.02\\t0.02\\n")
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")   # lambda of two variants is meaningless
    ...     result = meta_analyze_files(["study1.txt", "study2.txt"], "meta.txt")
    >>> result.n_variants
    2
    >>> print(open("meta.txt").read().splitlines()[1].split())
    ['rs1', 'A', 'G', '2', '++', '0.106154', '0.016641', '1.78187e-10', '0.307692', '0.5791', '0']
    """
    t0 = time.perf_counter()
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise GWASInputError("no input files")
    _check_distinct(paths)
    out = os.fspath(out)
    methods, extra_methods = split_methods(methods)
    methods = normalize_methods(methods)
    methods = ("FE",) + tuple(m for m in methods if m != "FE")
    extra = ExtraMethods(extra_methods, len(paths), **(extra or {}))
    if extra and engine == "dask":
        raise GWASInputError(f"{', '.join(extra.methods)} run with the numpy engine only")
    if scheme not in SCHEMES:
        raise GWASInputError(f"unknown scheme {scheme!r}; use one of {', '.join(SCHEMES)}")
    if engine not in ENGINES:
        raise GWASInputError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if engine == "dask":
        from .dask_engine import require_dask

        require_dask()
    if not 1 <= int(digits) <= 6:
        raise GWASInputError("digits must be between 1 and 6")
    chunk_size = int(chunk_size)
    if chunk_size < 1:
        raise GWASInputError("the chunk size must be positive")
    if not 0 < maf_max <= 0.5:
        raise GWASInputError(f"maf_max (--maf-max) must be in (0, 0.5], got {maf_max}")
    required = ("snp", "a1", "a2", "beta") + (("se",) if scheme == "stderr"
                                              else ("pvalue", "n"))
    specs = []
    for p in paths:
        info = sniff(p)
        cols = resolve_columns(info["fields"], p, columns, required=required,
                               optional=tuple(f for f in ("se", "pvalue", "n", "freq")
                                              if f not in required))
        cols.pop("pvalue" if scheme == "stderr" else "se", None)     # not needed
        specs.append({"path": p, "info": info, "columns": cols})
    with_freq = all("freq" in s["columns"] for s in specs)
    with_n = all("n" in s["columns"] for s in specs)
    if extra.frequencies and not with_freq:
        raise GWASInputError("--frequencies needs an allele-frequency column in every "
                             "study (--freq COL)")
    for s in specs:
        if not with_freq:
            s["columns"].pop("freq", None)
        if not with_n:
            s["columns"].pop("n", None)
    progress = bool(progress)
    jobs = _default_jobs(paths) if jobs is None else max(1, int(jobs))
    logfile = log or log_path(out)
    sep = b"," if out.lower().endswith((".csv", ".csv.gz")) else b"\t"
    scratch = tempfile.mkdtemp(prefix="metamodels-gwas-", dir=tmpdir)
    try:
        with contextlib.ExitStack() as files:
            logf = files.enter_context(open(logfile, "w", encoding="utf-8"))
            dropf = None
            if log_dropped:
                log_dropped = os.fspath(log_dropped)
                dropf = files.enter_context(
                    gzip.open(log_dropped, "wb", compresslevel=max(1, compresslevel))
                    if log_dropped.endswith(".gz") else open(log_dropped, "wb"))
                dropf.write(DROPPED_HEADER)
            return _run(specs, out, logfile, logf, dropf, log_dropped, methods, scheme,
                        genomic_control, chunk_size, engine, jobs, progress,
                        keep_ambiguous, maf_max, int(digits), compresslevel, scratch, sep,
                        with_n, stream, command, t0, extra)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _check_distinct(paths):
    """Refuse a file given twice (same path, or two names of one file)."""
    seen = {}
    for i, p in enumerate(paths):
        try:
            st = os.stat(p)
            key = (st.st_dev, st.st_ino)
        except OSError:
            key = os.path.realpath(p)              # a missing file: sniff() reports it
        if key in seen:
            j = seen[key]
            what = "is given twice" if paths[j] == p else f"and {paths[j]} are one file"
            raise GWASInputError(f"{p} {what} (studies {j + 1} and {i + 1}): each study "
                                 "must be a different file")
        seen[key] = i


def _warn_study(i, path, stats, gcontrol):
    """GWASWarnings about one indexed study."""
    name = f"study {i + 1} ({os.path.basename(path)})"
    if stats["used"] == 0:
        why = ", ".join(f"{r} {stats[r]:,}" for r in DROP_ORDER if stats[r])
        warnings.warn(f"{name}: none of its {stats['read']:,} rows can be used ({why}); "
                      "it contributes nothing", GWASWarning, stacklevel=4)
    elif stats["out_of_range"]:
        warnings.warn(f"{name}: {stats['out_of_range']:,} row(s) dropped as out_of_range "
                      f"({DROP_REASONS['out_of_range']})", GWASWarning, stacklevel=4)
    lam, n = stats["lambda"], stats["lambda_variants"]
    if stats["lambda_implausible"]:
        _warn_lambda(name, lam, n, 5)
    elif gcontrol and lam > 1 and n < GC_MIN_VARIANTS:
        warnings.warn(f"{name}: genomic control divides its z-scores by sqrt(lambda) = "
                      f"{np.sqrt(lam):.4g}, from only {n:,} variants: too few to estimate "
                      "lambda", GWASWarning, stacklevel=4)


def _warn_lambda(name, lam, n, stacklevel):
    lo, hi = LAMBDA_PLAUSIBLE
    warnings.warn(f"{name}: genomic-control lambda {_fmt_lambda(lam)} (from {n:,} "
                  f"variants) is implausibly far from 1 (its 99.9% interval excludes "
                  f"{lo}-{hi}): check the standard errors and the columns used",
                  GWASWarning, stacklevel=stacklevel)


def _run(specs, out, logfile, logf, dropf, dropfile, methods, scheme, gcontrol, chunk_size,
         engine, jobs, progress, keep_ambiguous, maf_max, digits, compresslevel, scratch, sep,
         with_n, stream, command, t0, extra):
    from .._version import __version__

    k = len(specs)
    now = datetime.datetime.now().isoformat(timespec="seconds")
    logf.write(f"# metamodels {__version__} gwas, {now}\n")
    if command:
        logf.write(f"# command: {command}\n")
    amb = ("kept (same strand assumed)" if keep_ambiguous
           else f"kept and aligned by frequency when MAF < {maf_max}, else dropped, in "
                "every study")
    logf.write(f"# methods: {','.join(methods)}; scheme: {scheme}; genomic control: "
               f"{'on' if gcontrol else 'off'}; engine: {engine}; chunk size: "
               f"{chunk_size}; strand-ambiguous: {amb}\n")
    if any(s["info"]["compression"] for s in specs):
        from .sumstats import gzip_backend

        logf.write(f"# gzip decompression: {gzip_backend()}\n")
    if out.endswith(".gz"):
        from .sumstats import compress_backend

        logf.write(f"# gzip compression of the output: {compress_backend(compresslevel)}, "
                   f"level {compresslevel}\n")
    if extra:
        logf.write(f"# heterogeneity-aware methods: {extra.describe()}\n")
    for i, s in enumerate(specs):
        s["dir"] = os.path.join(scratch, f"study{i}")
        cols = ", ".join(f"{f}={c}" for f, c in s["columns"].items())
        logf.write(f"# study {i + 1}: {s['path']} ({s['info']['sep_name']} separated"
                   f"{', gzip' if s['info']['compression'] else ''}; parser: "
                   f"{csv_backend(s['info']['sep'])}); columns: {cols}\n")
    logf.write("# dropped rows: counted by study and reason in the summary; "
               + (f"listed one by one in {dropfile}\n" if dropfile
                  else "listed one by one with --log-dropped FILE\n"))

    state = MergeState(AlleleTable(), with_freq=all("freq" in s["columns"] for s in specs))
    stores, studies = [], []
    tm = Laps(("read (waiting for the scans)", "index", "drop log", "gather", "kernels",
               "format", "write"))
    read_cpu = prep_cpu = 0.0
    bar = Progress(k, "reading studies", "files", progress)
    try:
        tm.mark()
        for r in _scan_tasks(specs, jobs, engine, chunk_size, scheme, bar,
                              {"maf_max": maf_max, "keep_ambiguous": keep_ambiguous,
                               "freq_column": bool(extra.frequencies)}):
            tm.lap("read (waiting for the scans)")
            # the output's modules (scipy, the kernels) are loaded while the workers
            # read: the reading processes start without them (they need pandas only)
            importlib.import_module(".output_pool", __package__)
            read_cpu += r.get("cpu_seconds", 0.0)
            prep_cpu += r.get("prepare_seconds", 0.0)
            i = r["index"]
            store = r["store"]
            first_new = state.n
            gid, sign, drops, ref_gid, stats = index_study(
                state, store, i, scheme=scheme, maf_max=maf_max,
                keep_ambiguous=keep_ambiguous)
            save_map(store, gid, sign, first_new)
            del gid, sign
            tm.lap("index")
            if dropf is not None:
                _write_drops(dropf, i, store, drops, ref_gid, state)
            release_prepared(store)
            stores.append(store)
            studies.append({"path": r["path"], "stats": stats, "lambda": stats["lambda"],
                            "read_seconds": r["seconds"]})
            _warn_study(i, r["path"], stats, gcontrol)
            tm.lap("drop log")
    finally:
        bar.close()
    from .output_pool import (WORKER_STAGES, OutputContext, OutputWriter, analyze_chunk,
                              chunk_stats, format_chunk, parallel_chunks, task_bounds,
                              trim as _trim, use_pool)

    gc = [float(np.sqrt(s["lambda"])) if gcontrol and s["lambda"] > 1 else 1.0
          for s in studies]
    n_var = state.n
    if n_var == 0:
        raise GWASInputError("no row of any study can be used (see the counts of dropped "
                             f"rows in {logfile})")
    state.index = None                     # the id index is not needed any more
    _trim()
    ctx = OutputContext(stores, state.ref_study.values, state.ref_row.values,
                        state.ref_a1.values, state.ref_a2.values, state.alleles.as_bytes(),
                        scheme, gc, with_n, methods, digits, sep, extra)
    parallel = use_pool(jobs, n_var)
    # parallel: the workers compress the pieces, the main process only writes them
    writer = OutputWriter(out, compresslevel, threads=0 if parallel else 1)
    cols = _output_columns(methods, scheme, with_n) + extra.columns()
    z2, k_counts = [], np.zeros(k + 1, dtype=np.int64)
    failed = dict.fromkeys(methods, 0)
    worker_cpu = dict.fromkeys(WORKER_STAGES, 0.0)

    def tally(z2_, k_counts_, failed_):
        nonlocal k_counts
        z2.append(z2_)
        k_counts = k_counts + k_counts_
        for m, count in failed_.items():
            failed[m] += count

    bar = Progress(n_var, "meta-analysis", "variants", progress)
    # The kernels answer hopeless rows (e.g. REML on studies whose standard errors
    # differ by 1e40) with NaN and converged = False, counted below and warned about
    # once; numpy's RuntimeWarnings of those rows (from the kernel threads and the
    # output workers too) are not shown.
    quiet = warnings.catch_warnings()
    quiet.__enter__()
    warnings.simplefilter("ignore", RuntimeWarning)
    try:
        writer.write(sep.join(c.encode() for c in cols) + b"\n")
        maps = ctx.maps()
        extra.prepare(stores, maps, n_var, chunk_size)
        if extra.D is not None and "MANTRA" in extra.methods:
            logf.write("# MANTRA distances between the studies:\n" + "".join(
                "#   " + " ".join(f"{x:.5g}" for x in row) + "\n" for row in extra.D))
        tm.mark()
        if parallel:
            logf.flush()
            if dropf is not None:
                dropf.flush()
            ctx.compresslevel = compresslevel if writer.gz else None
            wait = f"output ({jobs} worker processes)"
            for co in parallel_chunks(ctx, task_bounds(n_var, chunk_size, jobs), jobs,
                                      engine):
                tm.lap(wait)
                for piece in co.pieces:
                    writer.write_member(piece)
                tally(co.z2, co.k_counts, co.failed)
                for st, v in co.cpu.items():
                    worker_cpu[st] += v
                bar.update(co.c1 - co.c0)
                del co
                tm.lap("write")
            tm.cpu["write"] += tm.cpu.pop(wait)     # the main thread only waits
        else:
            if engine == "dask":
                from .dask_engine import chunk_results

                results = chunk_results(stores, maps, n_var, chunk_size, scheme, gc,
                                        with_n, methods)
            else:
                results = (analyze_chunk(ctx, c0, c1, tm)
                           for c0, c1 in task_bounds(n_var, chunk_size, 1))
            for c0, y, nn, res in results:
                if engine == "dask":
                    tm.lap("kernels")
                for text in format_chunk(ctx, c0, y, nn, res):
                    tm.lap("format")
                    writer.write(text)
                    tm.lap("write")
                tally(*chunk_stats(ctx, res))
                bar.update(y.shape[0])
                del res, y, nn
                _trim()
                tm.lap("format")
    finally:
        quiet.__exit__(None, None, None)
        bar.close()
        writer.close()
    for m, count in failed.items():
        if count:
            what = f"converged_{m} = FALSE or " if m in ITERATIVE_METHODS else ""
            col = "beta" if m == "FE" else f"tau2_{m}, beta_{m}"
            warnings.warn(f"{m}: {count:,} variant(s) without a converged, finite estimate "
                          f"({what}NA in {col}), usually because their studies' standard "
                          "errors differ by many orders of magnitude", GWASWarning,
                          stacklevel=3)
    allz = np.concatenate(z2) if z2 else np.empty(0)
    lam, implausible = gc_lambda(allz)
    if implausible:
        _warn_lambda("the meta-analysis", lam, allz.size, 4)
    cpu = {"reading (worker processes)": read_cpu,
           "of which per-study rules": prep_cpu}
    # (the dask engine's kernels run in dask's threads: in the whole run only)
    cpu.update((f"{k_} (main thread)" if k_ != "kernels" else "kernels (all threads)", v)
               for k_, v in tm.cpu.items()
               if k_ != "read (waiting for the scans)" and v > 0
               and not (k_ == "kernels" and engine == "dask"))
    if writer.cpu and writer.pool is not None:
        cpu["gzip output (its thread)"] = sum(writer.cpu)
    if parallel:
        cpu["output workers (processes)"] = sum(worker_cpu.values())
        cpu.update((f"{st} (output workers)", v) for st, v in worker_cpu.items() if v > 0)
    cpu["whole run (all processes)"] = _total_cpu()
    result = GWASResult(out, logfile, int(n_var), lam, studies,
                        {i: int(c) for i, c in enumerate(k_counts) if c},
                        time.perf_counter() - t0, peak_memory_mb(), cols,
                        {k_: v for k_, v in tm.wall.items() if v > 0}, cpu)
    text = result.summary()
    logf.write("# summary\n" + "".join(f"# {line}\n" for line in text.splitlines()))
    if gcontrol:
        logf.write("# genomic control factors sqrt(lambda) applied: "
                   + ", ".join(f"{f:.4f}" for f in gc) + "\n")
    if stream:
        print(text, file=stream)
    else:
        logger.info(text)
    return result


def _total_cpu():
    """User + system CPU seconds of this process and its finished children."""
    try:
        import resource
    except ImportError:                                   # pragma: no cover (Windows)
        return time.process_time()
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF,
                                                  resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
