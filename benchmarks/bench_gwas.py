"""Benchmark of the batch engine (metamodels.batch): GWAS-sized meta-analyses.

Two parts (see benchmarks/README.md):

1. in memory: ``mm.batch.meta_analyze(beta, se, method)`` on ``--variants`` x
   ``--studies`` float64 arrays with ``--missing`` NaN, for FE, DL and REML (and the
   others with ``--all-methods``);
2. file to file: ``--studies`` gzipped summary-statistics files of ``--variants``
   rows are simulated in a temporary directory (``--missing`` of the variants absent
   per study, ``--swap`` of them with effect/other alleles swapped), then
   ``metamodels gwas ... --method FE,DL`` runs in a subprocess; wall time and the
   peak resident memory of the whole process tree (sampled from /proc every 50 ms)
   are reported.  If a ``metal`` binary is on PATH, METAL runs on the same files
   (``--metal-heterogeneity`` for its HETEROGENEITY mode; ``--skip-metal``) and both
   rows are printed with the agreement of beta, se and p on every common variant.

Usage::

    python benchmarks/bench_gwas.py                   # 2.5 M variants x 10 studies
    python benchmarks/bench_gwas.py --variants 200000 --studies 5
    python benchmarks/bench_gwas.py --skip-files      # in-memory part only
    python benchmarks/bench_gwas.py --het-only --het-subsample 250000
    python benchmarks/bench_gwas.py --het-only --het-cases mantra,asset2,re2

3. heterogeneity-aware methods (``--skip-het`` to skip, ``--het-only`` for this part
   alone): ``mm.batch.mantra`` on variants x 6 studies (distances from 6 simulated
   populations in three pairs), ``mm.batch.asset`` (one- and two-sided) and
   ``meta_analyze(method="RE2")`` and ``mm.batch.mvalues`` on variants x 10 studies.
   They run on ``--het-subsample`` variants (default: all ``--variants``) and the
   time is extrapolated linearly to ``--variants`` (each variant is independent, the
   work is per variant), which the output says.  Wall and CPU time (all threads of the
   process) are both printed, with CPU / 2 as the wall time on 2 idle cores: on a
   shared machine compare CPU times.  ``--het-cases`` selects the cases.
"""
from __future__ import annotations

import argparse
import gzip
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import metamodels as mm  # noqa: E402
from metamodels.batch import meta_analyze  # noqa: E402
from metamodels.batch.textfmt import rows_to_bytes  # noqa: E402


# ------------------------------------------------------------------ simulation
def simulate_arrays(m, k, missing, seed, het_frac=0.1, tau=0.05):
    """beta, se of m variants x k studies: 10% of the variants heterogeneous."""
    rng = np.random.default_rng(seed)
    se = rng.uniform(0.01, 0.1, (m, k))
    t = np.where(rng.random(m) < het_frac, tau, 0.0)
    sd = np.sqrt(se ** 2 + t[:, None] ** 2)
    beta = rng.normal(0, 0.02, m)[:, None] + rng.normal(0, 1, (m, k)) * sd
    beta[rng.random((m, k)) < missing] = np.nan
    return beta, se


def simulate_files(directory, m, k, missing, swap, seed, compresslevel=1):
    """k gzipped tab-separated files SNP CHR BP A1 A2 EAF BETA SE P N.

    15% of the variants are strand-ambiguous (A/T, C/G); effect-allele frequencies are
    uniform on (0.01, 0.99).  Every study lacks a random ``missing`` fraction of the
    variants and reports a random ``swap`` fraction with effect and other allele
    swapped (sign of beta and frequency flipped).  Rows are in the same (position)
    order in every file.
    """
    rng = np.random.default_rng(seed)
    ids = np.char.add(b"rs", rng.permutation(np.arange(1, 50 * m))[:m].astype("S"))
    chrom = np.sort(rng.integers(1, 23, m))
    bp = np.sort(rng.integers(1, 2_000_000_00, m))
    pal = rng.random(m) < 0.15
    pairs_pal = np.array([[b"A", b"T"], [b"T", b"A"], [b"C", b"G"], [b"G", b"C"]])
    pairs = np.array([[b"A", b"C"], [b"A", b"G"], [b"C", b"A"], [b"C", b"T"], [b"G", b"A"],
                      [b"G", b"T"], [b"T", b"C"], [b"T", b"G"]])
    al = np.where(pal[:, None], pairs_pal[rng.integers(0, 4, m)], pairs[rng.integers(0, 8, m)])
    eaf = rng.uniform(0.01, 0.99, m)
    truth = np.where(rng.random(m) < 0.001, rng.normal(0, 0.1, m), 0.0)
    paths = []
    pool = ThreadPoolExecutor(2)
    for s in range(k):
        n = int(rng.integers(5_000, 50_000))
        se = 1.0 / np.sqrt(2 * n * eaf * (1 - eaf)) * rng.uniform(0.9, 1.1, m)
        beta = truth + rng.normal(0, 1, m) * se
        a1, a2, f, b = al[:, 0].copy(), al[:, 1].copy(), eaf.copy(), beta.copy()
        sw = rng.random(m) < swap
        a1[sw], a2[sw] = al[sw, 1], al[sw, 0]
        b[sw], f[sw] = -beta[sw], 1 - eaf[sw]
        keep = rng.random(m) >= missing
        from scipy.special import log_ndtr

        lp = (np.log(2) + log_ndtr(-np.abs(b / se))) / np.log(10)
        cols = [("bytes", ids[keep], None), ("int", chrom[keep], None), ("int", bp[keep], None),
                ("bytes", a1[keep], None), ("bytes", a2[keep], None),
                ("float", np.round(f[keep], 4), 4), ("float", b[keep], 6),
                ("float", se[keep], 6), ("log10", lp[keep], 5),
                ("int", np.full(int(keep.sum()), n), None)]
        text = b"SNP\tCHR\tBP\tA1\tA2\tEAF\tBETA\tSE\tP\tN\n" + rows_to_bytes(cols, n_threads=2)
        path = os.path.join(directory, f"study{s + 1}.tsv.gz")
        step = 32 << 20
        parts = pool.map(lambda i: gzip.compress(text[i:i + step], compresslevel, mtime=0),
                         range(0, len(text), step))
        with open(path, "wb") as fh:
            for p in parts:
                fh.write(p)
        paths.append(path)
    pool.shutdown()
    return paths


# ------------------------------------------------------------------ measuring
class TreeMemory:
    """Peak of the summed memory of a process and its descendants (Linux /proc).

    Proportional set size (``Pss`` of ``/proc/PID/smaps_rollup``: pages shared by
    forked workers are divided among them, not counted twice); ``VmRSS`` where
    unavailable.
    """

    def __init__(self, pid, interval=0.05):
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _tree(self, pid):
        out = [pid]
        try:
            for t in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{t}/children") as fh:
                    for c in fh.read().split():
                        out += self._tree(int(c))
        except OSError:
            pass
        return out

    @staticmethod
    def _rss(pid):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(self._rss(p) for p in self._tree(self.pid)))
            time.sleep(self.interval)

    def stop(self):
        self._stop.set()
        self.thread.join()
        return self.peak


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), times


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", type=int, default=2_500_000)
    ap.add_argument("--studies", type=int, default=10)
    ap.add_argument("--missing", type=float, default=0.05)
    ap.add_argument("--swap", type=float, default=0.3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--all-methods", action="store_true")
    ap.add_argument("--skip-memory", action="store_true", help="skip the in-memory part")
    ap.add_argument("--skip-files", action="store_true", help="skip the file-to-file part")
    ap.add_argument("--engine", default="numpy")
    ap.add_argument("--methods", default="FE,DL", help="--method of the file-to-file run")
    ap.add_argument("--tmpdir", default=None)
    ap.add_argument("--skip-het", action="store_true",
                    help="skip the MANTRA/ASSET/RE2 part")
    ap.add_argument("--het-only", action="store_true",
                    help="only the MANTRA/ASSET/RE2 part")
    ap.add_argument("--het-subsample", type=int, default=None,
                    help="variants actually run in the MANTRA/ASSET/RE2 part (the time "
                         "is extrapolated to --variants)")
    ap.add_argument("--skip-metal", action="store_true",
                    help="skip the METAL comparison of the file part (it runs only when a "
                         "'metal' binary is on PATH)")
    ap.add_argument("--metal-heterogeneity", action="store_true",
                    help="run METAL with HETEROGENEITY ON (its slower mode)")
    ap.add_argument("--skip-peers", action="store_true",
                    help="skip the PyMARE comparison of the in-memory part")
    ap.add_argument("--peer-variants", type=int, default=500_000,
                    help="rows of the PyMARE comparison (default: %(default)s)")
    ap.add_argument("--het-cases", default=",".join(HET_CASES),
                    help="comma-separated cases of the MANTRA/ASSET/RE2 part: "
                         "mantra (x 6 studies), asset, asset2 (two-sided), re2, mvalues "
                         "(x 10 studies)")
    args = ap.parse_args(argv)
    if args.het_only:
        args.skip_memory = args.skip_files = True
    m, k = args.variants, args.studies
    print(f"metamodels {mm.__version__} batch benchmark, {time.strftime('%Y-%m-%d')}: "
          f"{m:,} variants x {k} studies, {args.missing:.0%} missing; best of "
          f"{args.repeats}")
    print(f"Python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, {platform.machine()} {platform.system()}")
    if not args.skip_memory:
        beta, se = simulate_arrays(m, k, args.missing, args.seed)
        meta_analyze(beta[:1000], se[:1000], "REML")               # warm up
        methods = ["FE", "DL", "REML"] + (["HE", "PM", "ML"] if args.all_methods else [])
        print("\nin memory: mm.batch.meta_analyze(beta, se, method), DataFrame result")
        print(f"{'method':8s} {'best (s)':>9s}  all passes (s)          non-converged")
        for meth in methods:
            out = {}

            def run():
                out["r"] = meta_analyze(beta, se, meth)
            best, times = best_of(run, args.repeats)
            nc = int((~out["r"]["converged"]).sum()) if "converged" in out["r"] else "-"
            print(f"{meth:8s} {best:9.2f}  {', '.join(f'{t:.2f}' for t in times):22s}  {nc}")
        del beta, se
        if not args.skip_peers:
            bench_peers(min(m, args.peer_variants), k, args.repeats, args.seed)
    if not args.skip_files:
        with tempfile.TemporaryDirectory(dir=args.tmpdir) as d:
            t = time.perf_counter()
            paths = simulate_files(d, m, k, args.missing, args.swap, args.seed)
            size = sum(os.path.getsize(p) for p in paths) / 1e6
            print(f"\nfile to file: {k} gzipped files of ~{int(m * (1 - args.missing)):,} "
                  f"rows ({size:.0f} MB compressed; simulated in {time.perf_counter() - t:.1f} s)")
            out = os.path.join(d, "meta.tsv.gz")
            cmd = [sys.executable, "-m", "metamodels", "gwas", *paths, "--out", out,
                   "--method", args.methods, "--engine", args.engine, "--no-progress"]
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(
                [str(HERE.parent)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
            print("  " + backends())
            import resource

            times, peaks, cpus = [], [], []
            for _ in range(args.repeats):
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
                mon = TreeMemory(proc.pid)
                _, err = proc.communicate()
                peak = mon.stop()
                times.append(time.perf_counter() - t)
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
                peaks.append(peak / 1e6)
                if proc.returncode:
                    print(err.decode())
                    raise SystemExit(proc.returncode)
            print(f"metamodels gwas --method {args.methods} --engine {args.engine}: best "
                  f"{min(times):.1f} s wall (passes: {', '.join(f'{x:.1f}' for x in times)}), "
                  f"CPU {min(cpus):.1f} s (all processes; passes: "
                  f"{', '.join(f'{x:.1f}' for x in cpus)}), peak memory of the process "
                  f"tree {max(peaks):.0f} MB, output {os.path.getsize(out) / 1e6:.0f} MB; "
                  f"load average {os.getloadavg()[0]:.1f}")
            print("\n".join("  " + line for line in err.decode().strip().splitlines()))
            if not args.skip_metal:
                bench_metal(paths, out, d, args.repeats, args.metal_heterogeneity)
    if not args.skip_het:
        cases = tuple(c.strip().lower() for c in args.het_cases.split(","))
        bad = set(cases) - set(HET_CASES)
        if bad:
            ap.error(f"--het-cases: unknown {sorted(bad)}; choose from {', '.join(HET_CASES)}")
        bench_heterogeneity(m, args.het_subsample or m, args.missing, args.seed, cases)


def backends():
    """The optional fast paths the file part uses (they change the speed, not the
    output): ISA-L gzip (metamodels[fast]) and pyarrow's CSV reader
    (metamodels[arrow])."""
    from metamodels.batch.sumstats import compress_backend, csv_backend, gzip_backend

    return (f"gzip decompression: {gzip_backend()}, output compression: "
            f"{compress_backend(1)} (level 1), CSV parser of tab files: {csv_backend(chr(9))}"
            " (set METAMODELS_GZIP=zlib / METAMODELS_CSV=pandas to compare)")


METAL_SCRIPT = """SCHEME STDERR
MARKER SNP
ALLELE A1 A2
EFFECT BETA
STDERR SE
PVALUE P
{het}
{process}
OUTFILE {prefix} .tbl
ANALYZE {analyze}
QUIT
"""


def bench_metal(paths, ours, directory, repeats, heterogeneity=False):
    """METAL (Willer et al. 2010) on the same files, if a ``metal`` binary is on PATH
    (nothing is built or downloaded): wall time, CPU time of the child process and peak
    memory, and the agreement of its fixed-effect beta, se and p-value with
    ``metamodels gwas``'s output ``ours`` on every variant both report (METAL's
    Allele1 may be either allele: its effect is sign-flipped when it is our A2).
    METAL prints effects and standard errors with 4 decimals and p-values with about
    3 significant digits, so agreement is judged within that print precision."""
    import resource
    import shutil

    exe = shutil.which("metal")
    if exe is None:
        print("\nMETAL: no 'metal' binary on PATH, comparison skipped")
        return
    import pandas as pd

    prefix = os.path.join(directory, "metal_out")
    script = os.path.join(directory, "metal.txt")
    with open(script, "w") as fh:
        fh.write(METAL_SCRIPT.format(
            het="", process="\n".join(f"PROCESS {p}" for p in paths), prefix=prefix,
            analyze="HETEROGENEITY" if heterogeneity else ""))
    times, cpus, peaks = [], [], []
    for _ in range(repeats):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.Popen([exe, script], cwd=directory, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        mon = TreeMemory(proc.pid)
        _, err = proc.communicate()
        peaks.append(mon.stop() / 1e6)
        times.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        if proc.returncode:
            print(f"\nMETAL failed ({proc.returncode}): {err.decode()[-500:]}")
            return
    mode = "HETEROGENEITY" if heterogeneity else "plain"
    print(f"\nMETAL ({exe}, {mode}): best {min(times):.1f} s wall (passes: "
          f"{', '.join(f'{x:.1f}' for x in times)}), CPU {min(cpus):.1f} s, peak memory "
          f"{max(peaks):.0f} MB")
    table = prefix + "1.tbl"
    met = pd.read_csv(table, sep="\t", usecols=["MarkerName", "Allele1", "Allele2", "Effect",
                                               "StdErr", "P-value"],
                      dtype={"MarkerName": str, "Allele1": str, "Allele2": str})
    mine = pd.read_csv(ours, sep="\t", usecols=["SNP", "A1", "A2", "beta", "se", "pvalue"],
                       dtype={"SNP": str, "A1": str, "A2": str})
    both = mine.merge(met, left_on="SNP", right_on="MarkerName", how="inner")
    a1, a2 = both["Allele1"].str.upper(), both["Allele2"].str.upper()
    same = (a1 == both["A1"]) & (a2 == both["A2"])
    flip = (a1 == both["A2"]) & (a2 == both["A1"])
    sign = np.where(same, 1.0, np.where(flip, -1.0, np.nan))
    d_beta = np.abs(both["beta"].to_numpy() - sign * both["Effect"].to_numpy())
    d_se = np.abs(both["se"].to_numpy() - both["StdErr"].to_numpy())
    p_m, p_o = both["P-value"].to_numpy(), both["pvalue"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        r_p = np.abs(p_o / p_m - 1.0)
    ok = (d_beta <= 5.1e-5) & (d_se <= 5.1e-5) & ((r_p <= 5e-3) | (np.abs(p_o - p_m) < 1e-300))
    print(f"  variants: metamodels {len(mine):,}, METAL {len(met):,}, both {len(both):,}; "
          f"alleles unmatched {int(np.isnan(sign).sum()):,}")
    print(f"  max |beta diff| {np.nanmax(d_beta):.1e}, max |se diff| {np.nanmax(d_se):.1e}, "
          f"max relative p diff {np.nanmax(r_p):.1e}; within METAL's print precision: "
          f"{int(ok.sum()):,} of {len(both):,}")


def bench_peers(m, k, repeats, seed):
    """Vectorised intercept-only FE and DL on ``m`` complete rows x ``k`` studies:
    ``mm.batch.meta_analyze`` (estimates, SEs, z, p, log10 p, Q, I^2; DL adds the
    random-effects columns) against PyMARE's parallel-datasets estimators
    (``WeightedLeastSquares(tau2=0)`` and ``DerSimonianLaird()`` on ``y`` of shape
    ``(k, m)``: estimates only; given pre-transposed contiguous arrays, and once on
    the transposed views of the ``(m, k)`` input).  CPU time (``time.process_time``,
    all threads: metamodels' default uses a thread per CPU, and also runs with
    ``n_threads=1``) and wall time, interleaved passes, best kept."""
    beta, se = simulate_arrays(m, k, 0.0, seed)
    print(f"\nin memory, peers: {m:,} complete rows x {k} studies, CPU seconds (best of "
          f"{repeats} interleaved passes)")
    try:
        import pymare
        from pymare.estimators import DerSimonianLaird, WeightedLeastSquares
    except ImportError:
        print("  PyMARE not installed (pip install pymare)")
        return
    Y, V, X = np.ascontiguousarray(beta.T), np.ascontiguousarray((se ** 2).T), np.ones((k, 1))
    cases = [
        ("FE", "metamodels", "meta_analyze(beta, se, 'FE')",
         lambda: meta_analyze(beta, se, "FE")["beta"].to_numpy()),
        ("FE", "metamodels", "  the same with n_threads=1",
         lambda: meta_analyze(beta, se, "FE", n_threads=1)["beta"].to_numpy()),
        ("FE", f"PyMARE {pymare.__version__}", "WeightedLeastSquares(tau2=0).fit(y, v, X)",
         lambda: WeightedLeastSquares(tau2=0).fit(y=Y, v=V, X=X).params_["fe_params"][0]),
        ("FE", f"PyMARE {pymare.__version__}", "  the same on beta.T, (se**2).T (m x k input)",
         lambda: WeightedLeastSquares(tau2=0).fit(y=beta.T, v=(se ** 2).T, X=X)
         .params_["fe_params"][0]),
        ("DL", "metamodels", "meta_analyze(beta, se, 'DL')",
         lambda: meta_analyze(beta, se, "DL")["tau2"].to_numpy()),
        ("DL", f"PyMARE {pymare.__version__}", "DerSimonianLaird().fit(y, v, X)",
         lambda: DerSimonianLaird().fit(y=Y, v=V, X=X).params_["tau2"].ravel()),
    ]
    best, vals = [np.inf] * len(cases), [None] * len(cases)
    walls = [np.inf] * len(cases)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeats):
            for i, (*_, fn) in enumerate(cases):
                c, t = time.process_time(), time.perf_counter()
                vals[i] = fn()
                best[i] = min(best[i], time.process_time() - c)
                walls[i] = min(walls[i], time.perf_counter() - t)
    print(f"  {'':3s} {'tool':14s} {'call':45s} {'CPU':>9s}  {'ratio':>7s}  {'wall':>7s}")
    for i, (kind, tool, what, _) in enumerate(cases):
        j = 0 if kind == "FE" else 4                       # the metamodels row
        ref = best[j]
        agree = "" if tool == "metamodels" else (
            f"  max |diff| {np.max(np.abs(vals[i] - vals[j])):.1e}")
        print(f"  {kind:3s} {tool:14s} {what:45s} {best[i]:7.3f} s  {best[i] / ref:5.2f} x  "
              f"{walls[i]:5.3f} s{agree}")
    print(f"  (CPU: time.process_time, all threads; load average {os.getloadavg()[0]:.1f})")


def simulate_gwas(m, k, missing, seed, signal=0.001):
    """GWAS-like beta, se: null except a fraction ``signal`` of the variants, half with
    a common effect, half with study-specific effects (ASSET computes its DLM p-value
    per variant only where the Bonferroni bound is small, so the share of strong
    signals matters: simulate_arrays gives every variant an effect)."""
    rng = np.random.default_rng(seed)
    se = rng.uniform(0.01, 0.05, (m, k))
    beta = rng.normal(0, 1, (m, k)) * se
    sig = rng.random(m) < signal
    beta[sig] += np.where(rng.random((sig.sum(), 1)) < 0.5, 0.05,
                          rng.normal(0, 0.05, (sig.sum(), k)))
    beta[rng.random((m, k)) < missing] = np.nan
    return beta, se


#: The issue's goals on the 2-core machine, seconds for 2.5 M variants.
HET_GOALS = {"mantra": 600.0, "asset": 300.0, "asset2": 300.0, "re2": 300.0}
HET_CASES = ("mantra", "asset", "asset2", "re2", "mvalues")


def _timed(fn):
    """Wall and CPU (this process, all threads) seconds of ``fn()``."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def bench_heterogeneity(m, sub, missing, seed, cases=HET_CASES, cores=2):
    """MANTRA-class on sub x 6, ASSET / RE2 / m-values on sub x 10; wall and CPU
    times extrapolated linearly to m variants (each variant is independent).

    The CPU time (``time.process_time``: all threads of this process) is what the
    run costs whatever the load of the machine; ``CPU / cores`` is the wall time on
    ``cores`` idle cores when the threads keep them busy (the kernels run in a thread
    pool), the wall time measured here is inflated by other processes' load.
    """
    scale = m / sub
    note = "" if sub == m else f" (run on {sub:,} variants, times extrapolated x{scale:.1f})"
    print(f"\nheterogeneity-aware methods, {m:,} variants{note}; load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"  {'case':24s} {'wall (s)':>9s} {'CPU (s)':>9s} {'CPU/' + str(cores) + ' (s)':>10s} "
          f"{'CPU us/var':>10s} {'goal (s)':>9s}")

    def row(label, key, wall, cpu, extra=""):
        goal = HET_GOALS.get(key)
        print(f"  {label:24s} {wall * scale:9.1f} {cpu * scale:9.1f} {cpu * scale / cores:10.1f} "
              f"{cpu / sub * 1e6:10.1f} {'-' if goal is None else f'{goal:.0f}':>9s}{extra}")

    if "mantra" in cases:
        freq = np.array([0.10, 0.12, 0.30, 0.33, 0.50, 0.52])
        D = np.abs(np.subtract.outer(freq, freq))
        beta, se = simulate_gwas(sub, 6, missing, seed + 1)
        out = {}
        wall, cpu = _timed(lambda: out.update(r=mm.batch.mantra(beta, se, distance=D)))
        row("mantra, 6 studies", "mantra", wall, cpu,
            f"  (max quad_error {out['r']['quad_error'].max():.1e})")
    beta, se = simulate_gwas(sub, 10, missing, seed + 2)
    for key, label, fn in (("asset", "asset one-sided, 10", lambda: mm.batch.asset(beta, se)),
                           ("asset2", "asset two-sided, 10",
                            lambda: mm.batch.asset(beta, se, side="two")),
                           ("re2", "RE2, 10 studies", lambda: meta_analyze(beta, se, "RE2")),
                           ("mvalues", "m-values, 10 studies",
                            lambda: mm.batch.mvalues(beta, se))):
        if key in cases:
            row(label, key, *_timed(fn))


if __name__ == "__main__":
    main()
