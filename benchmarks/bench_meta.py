"""Timing benchmark: random-effects meta-regression in metamodels and other tools.

Run by hand (not part of the test suite)::

    python benchmarks/bench_meta.py [--n 200] [--k 50] [--repeats 3] [--seed 20261122]

Simulates ``n`` random-effects meta-regressions, each with ``k`` studies, an
intercept and two moderators (one continuous, one binary),

    y_i = b0 + b1 x1_i + b2 x2_i + u_i + e_i,  u_i ~ N(0, tau^2),  e_i ~ N(0, v_i),

and times, for every tool, fitting all ``n`` data sets one after another.  Each
timing is the best of ``--repeats`` passes (``time.perf_counter``), reported as
the mean time per fit in milliseconds.  Tools:

* metamodels ``MetaRandom(y, v, X).fit(method="REML")`` and ``method="DL"``
  (with the moderators) and DL intercept-only;
* statsmodels ``combine_effects(y, v, method_re="dl")`` -- intercept only, as
  statsmodels has no meta-regression; compared with metamodels' intercept-only DL;
* PyMARE ``VarianceBasedLikelihoodEstimator(method="REML").fit(y=, v=, X=)`` with
  the moderators, if ``pymare`` is importable;
* R metafor ``rma(yi, vi, mods = ~ x1 + x2, method = "REML")``, if ``Rscript``
  and metafor are available; the loop is timed inside R with ``system.time``
  (R's start-up and the data transfer through a temporary CSV are not counted).

A second table times the deletion diagnostics of one REML meta-analysis of
``--k-influence`` studies: ``get_influence()``, ``leave_one_out()`` and
``cumulative()`` against metafor's ``influence()``, ``leave1out()`` and ``cumul()``
(each refits tau^2 k times).

With ``--crossed-meta`` (or ``--crossed-meta-only``): a multilevel meta-analysis with
crossed random effects, ``--cm-rows`` estimates (default 20,000) from ``--cm-studies``
studies (2,000) each measured in ``rows / studies`` of ``--cm-labs`` labs (300),
``yi ~ x + (1 | study) + (1 | lab)`` with known sampling variances, REML:
MetaMixed's Z-space path (:mod:`metamodels.core.zspace_known`), its dense block path
(``path="blocks"``: all rows form one block; run only up to ``--cm-dense-max`` rows, else
reported infeasible with the size of ``V``) and metafor's ``rma.mv(sparse=TRUE)`` side by
side in the same run, on the full size and on a small size where the dense path runs
(``--cm-small-rows``); CPU time (``time.process_time``; R's user + system time) and peak
memory (tracemalloc; R's ``gc()`` maximum), differences in the estimates and the REML
log-likelihood.

The last column is a sanity check: the largest absolute difference, over the
``n`` data sets, between that tool's tau^2 and metamodels' tau^2 of the same
estimator.  The package does not depend on PyMARE or R.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

# the checkout next to this script first (an installed metamodels must not be timed
# instead of the source being benchmarked)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
import metamodels as mm  # noqa: E402

BETA = np.array([0.3, 0.2, -0.1])


# ------------------------------------------------------------------ simulation
def simulate(n, k, tau2=0.1, seed=20261122):
    """``n`` data sets ``(y, v, X)``; X = [1, x1 ~ N(0, 1), x2 ~ Bernoulli(0.5)]."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x1 = rng.standard_normal(k)
        x2 = (rng.random(k) < 0.5).astype(float)
        if x2.min() == x2.max():  # keep the design of full rank
            x2[0] = 1.0 - x2[0]
        X = np.column_stack([np.ones(k), x1, x2])
        n_i = rng.integers(20, 201, size=k)  # study sizes
        v = 4.0 / n_i * rng.uniform(0.8, 1.25, size=k)  # ~ variance of an SMD
        y = X @ BETA + rng.normal(0.0, np.sqrt(tau2), k) + rng.normal(0.0, np.sqrt(v))
        out.append((y, v, X))
    return out


def time_fits(fit_one, datasets, repeats):
    """Best-of-``repeats`` mean time per fit (ms) and the last pass's tau^2 values."""
    best = np.inf
    tau2 = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        tau2 = [fit_one(y, v, X) for (y, v, X) in datasets]
        best = min(best, time.perf_counter() - t0)
    return 1000.0 * best / len(datasets), np.asarray(tau2, dtype=float)


# ----------------------------------------------------------------------- tools
def mm_fit(method, moderators=True):
    def fit_one(y, v, X):
        res = mm.MetaRandom(y, v, X if moderators else None).fit(method=method)
        return res.tau2
    return fit_one


def sm_combine_dl(y, v, X):
    from statsmodels.stats.meta_analysis import combine_effects

    return combine_effects(y, v, method_re="dl").tau2


def pymare_reml():
    """PyMARE's REML estimator with moderators, or None if PyMARE is missing."""
    try:
        import pymare  # noqa: F401
        from pymare.estimators import VarianceBasedLikelihoodEstimator
    except ImportError:
        return None, None

    def make():
        try:  # PyMARE >= 0.0.11: ask for plain Wald standard errors, as metamodels' z test
            return VarianceBasedLikelihoodEstimator(method="REML",
                                                    small_sample_correction="wald")
        except TypeError:
            return VarianceBasedLikelihoodEstimator(method="REML")

    def fit_one(y, v, X):
        est = make().fit(y=y, v=v, X=X)
        return float(np.ravel(est.params_["tau2"])[0])

    return fit_one, pymare.__version__


R_SCRIPT = r"""
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
dat <- read.csv(args[1])
repeats <- as.integer(args[3])
sets <- split(dat, dat$dataset)
fit_all <- function() {
  vapply(sets, function(d) {
    res <- tryCatch(rma(yi, vi, mods = ~ x1 + x2, data = d, method = "REML"),
                    error = function(e) rma(yi, vi, mods = ~ x1 + x2, data = d,
                                            method = "REML",
                                            control = list(stepadj = 0.5, maxiter = 1000)))
    res$tau2
  }, numeric(1))
}
best <- Inf
for (r in seq_len(repeats)) {
  tt <- system.time(tau2 <- fit_all())[["elapsed"]]
  best <- min(best, tt)
}
out <- data.frame(dataset = as.integer(names(sets)), tau2 = tau2)
write.csv(out, args[2], row.names = FALSE)
cat(sprintf("%.17g\n", best))
cat(as.character(packageVersion("metafor")), "\n")
"""


def metafor_reml(datasets, repeats):
    """(ms per fit, tau2 array, version) from R metafor, or None if unavailable."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None, "Rscript not found"
    with tempfile.TemporaryDirectory() as tmp:
        data_csv = os.path.join(tmp, "data.csv")
        out_csv = os.path.join(tmp, "tau2.csv")
        script = os.path.join(tmp, "bench.R")
        with open(script, "w") as fh:
            fh.write(R_SCRIPT)
        with open(data_csv, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["dataset", "yi", "vi", "x1", "x2"])
            for j, (y, v, X) in enumerate(datasets):
                for i in range(len(y)):
                    w.writerow([j] + ["%.17g" % x for x in (y[i], v[i], X[i, 1], X[i, 2])])
        proc = subprocess.run([rscript, "--vanilla", script, data_csv, out_csv, str(repeats)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error")]
            msg = (errors or proc.stderr.strip().splitlines() or ["R failed"])[0]
            return None, f"R error: {msg}"
        lines = proc.stdout.split()
        seconds, version = float(lines[0]), lines[1]
        rows = list(csv.DictReader(open(out_csv)))
        tau2 = np.empty(len(datasets))
        for row in rows:
            tau2[int(row["dataset"])] = float(row["tau2"])
    return (1000.0 * seconds / len(datasets), tau2, version), None


# ------------------------------------------------------ deletion diagnostics
R_INFLUENCE = r"""
suppressMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
res <- rma(yi, vi, data = d, method = "REML")
t_inf <- system.time(inf <- influence(res))[["elapsed"]]
t_l1o <- system.time(l1o <- leave1out(res))[["elapsed"]]
t_cum <- system.time(cm <- cumul(res))[["elapsed"]]
write.csv(data.frame(tau2_del = inf$inf$tau2.del, est = l1o$estimate, cum = cm$estimate),
          args[2], row.names = FALSE)
cat(sprintf("%.17g %.17g %.17g\n", t_inf, t_l1o, t_cum))
"""


def bench_influence(k, repeats, seed, use_r=True):
    """Rows for get_influence / leave_one_out / cumulative of one random-effects
    meta-analysis of ``k`` studies (REML), metamodels against metafor's influence /
    leave1out / cumul (one pass in R: each takes k refits)."""
    rng = np.random.default_rng(seed)
    v = 4.0 / rng.integers(20, 201, size=k)
    y = 0.3 + rng.normal(0.0, np.sqrt(0.1), k) + rng.normal(0.0, np.sqrt(v))
    res = mm.MetaRandom(y, v).fit(method="REML")
    calls = {"influence": lambda: res.get_influence().summary_frame(),
             "leave1out": res.leave_one_out, "cumul": res.cumulative}
    ms, out = {}, {}
    for name, f in calls.items():
        best = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            out[name] = f()
            best = min(best, time.perf_counter() - t0)
        ms[name] = 1000.0 * best
    r_ms, r_diff, why = None, None, None
    rscript = shutil.which("Rscript") if use_r else None
    if use_r and rscript is None:
        why = "Rscript not found"
    elif not use_r:
        why = "skipped"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            data_csv, out_csv = os.path.join(tmp, "d.csv"), os.path.join(tmp, "o.csv")
            script = os.path.join(tmp, "infl.R")
            with open(script, "w") as fh:
                fh.write(R_INFLUENCE)
            np.savetxt(data_csv, np.column_stack([y, v]), delimiter=",", header="yi,vi",
                       comments="", fmt="%.17g")
            proc = subprocess.run([rscript, "--vanilla", script, data_csv, out_csv],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                why = "R error"
            else:
                secs = [float(x) for x in proc.stdout.split()[:3]]
                r_ms = dict(zip(calls, (1000.0 * s for s in secs)))
                ref = np.genfromtxt(out_csv, delimiter=",", names=True)
                r_diff = {"influence": np.max(np.abs(out["influence"]["tau2_deleted"]
                                                     - ref["tau2_del"])),
                          "leave1out": np.max(np.abs(out["leave1out"]["estimate"] - ref["est"])),
                          "cumul": np.max(np.abs(out["cumul"]["estimate"] - ref["cum"]))}
    rows = []
    for name in calls:
        what = {"influence": "get_influence().summary_frame()", "leave1out": "leave_one_out()",
                "cumul": "cumulative()"}[name]
        rows.append(("metamodels", f"{what}, k = {k}", f"{ms[name]:.1f}", "1.00", "-"))
        if r_ms is None:
            rows.append(("R metafor", f"{name}(), k = {k}", why, "-", "-"))
        else:
            rows.append(("R metafor", f"{name}(), k = {k}", f"{r_ms[name]:.1f}",
                         f"{r_ms[name] / ms[name]:.1f} x", f"{r_diff[name]:.1e}"))
    return rows


# ------------------------------------------------------------- small fits
def small_fit_tools():
    """(label, what, fit(y, v) -> tau2) of the intercept-only fits compared by
    :func:`bench_small_fits`: metamodels' DL and FE results objects, statsmodels'
    ``combine_effects`` (FE and DL at once) and PyMARE's estimators when installed."""
    import statsmodels
    from statsmodels.stats.meta_analysis import combine_effects

    tools = [
        ("metamodels", "MetaRandom(y, v).fit(method='DL')",
         lambda y, v: mm.MetaRandom(y, v).fit(method="DL").tau2),
        ("metamodels", "MetaFixed(y, v).fit()",
         lambda y, v: float(mm.MetaFixed(y, v).fit().params[0])),
        ("metamodels", "MetaFixed(y, v).fit(), then .bse and .pvalues",
         lambda y, v: float(np.asarray(mm.MetaFixed(y, v).fit().pvalues)[0])),
        (f"statsmodels {statsmodels.__version__}", "combine_effects(y, v, method_re='dl')",
         lambda y, v: combine_effects(y, v, method_re="dl").tau2),
    ]
    try:
        import pymare
        from pymare.estimators import DerSimonianLaird, WeightedLeastSquares
    except ImportError:
        return tools, "PyMARE not installed"
    X1 = {}

    def ones(k):
        if k not in X1:
            X1[k] = np.ones((k, 1))
        return X1[k]
    tools += [
        (f"PyMARE {pymare.__version__}", "WeightedLeastSquares(tau2=0).fit(y, v, X=1)"
         ".summary().get_fe_stats()",
         lambda y, v: float(np.ravel(WeightedLeastSquares(tau2=0).fit(
             y=y, v=v, X=ones(len(y))).summary().get_fe_stats()["p"])[0])),
        (f"PyMARE {pymare.__version__}", "DerSimonianLaird().fit(y, v, X=1)",
         lambda y, v: float(np.ravel(DerSimonianLaird().fit(y=y, v=v, X=ones(len(y)))
                                     .params_["tau2"])[0])),
        (f"PyMARE {pymare.__version__}", "WeightedLeastSquares(tau2=0).fit(y, v, X=1)",
         lambda y, v: float(np.ravel(WeightedLeastSquares(tau2=0).fit(
             y=y, v=v, X=ones(len(y))).params_["fe_params"])[0])),
    ]
    return tools, None


def bench_small_fits(ks, repeats, seed, budget=0.3):
    """CPU time (``time.process_time``) per intercept-only fit at each ``k``: every
    tool fits the same data sets in interleaved passes (the peers share the machine's
    state of the moment) and the best pass is kept."""
    tools, why = small_fit_tools()
    rng = np.random.default_rng(seed)
    rows = []
    for k in ks:
        n = int(max(5, min(2000, 2e6 / (k * 20))))          # fits per pass
        sets = []
        for _ in range(min(n, 20)):
            v = 4.0 / rng.integers(20, 201, size=k)
            sets.append((0.3 + rng.normal(0.0, np.sqrt(0.1 + v)), v))
        best = {i: np.inf for i in range(len(tools))}
        vals = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(repeats):
                for i, (_, _, fit) in enumerate(tools):
                    c0 = time.process_time()
                    for j in range(n):
                        y, v = sets[j % len(sets)]
                        vals[i] = fit(y, v)
                    best[i] = min(best[i], (time.process_time() - c0) / n)
        # each peer against the metamodels row doing the same: DL; FE estimate; FE with
        # standard errors and p-values
        ref = {"DL": best[0], "FE": best[1], "FE+p": best[2]}
        for i, (tool, what, _) in enumerate(tools):
            kind = ("FE+p" if ("pvalues" in what or "get_fe_stats" in what) else
                    "FE" if ("Fixed" in what or "tau2=0" in what) else "DL")
            rel = "1.00" if i < 3 else f"{best[i] / ref[kind]:.2f}"
            rows.append((f"k = {k}", tool, what, f"{best[i] * 1e3:.4f}", rel + f" (vs mm {kind})"))
    return rows, why


# ---------------------------------------------------------------------- report
def simulate_crossed_meta(rows, studies, labs, seed):
    """``rows / studies`` estimates per study, each from a different lab:
    ``y = 0.3 + 0.2 x + u_study + w_lab + e``, ``u ~ N(0, 0.05)``, ``w ~ N(0, 0.03)``,
    ``e ~ N(0, v)``, ``v ~ U(0.02, 0.2)``."""
    import pandas as pd
    rng = np.random.default_rng(seed)
    per = max(1, rows // studies)
    study = np.repeat(np.arange(studies), per)
    lab = np.concatenate([rng.choice(labs, per, replace=False) for _ in range(studies)])
    n = study.size
    x = rng.normal(size=n)
    vi = rng.uniform(0.02, 0.2, n)
    yi = (0.3 + 0.2 * x + rng.normal(0, np.sqrt(0.05), studies)[study]
          + rng.normal(0, np.sqrt(0.03), labs)[lab] + rng.normal(0, np.sqrt(vi)))
    return pd.DataFrame({"study": study, "lab": lab, "x": x, "vi": vi, "yi": yi})


R_CROSSED_META = """
suppressMessages(library(metafor))
d <- read.csv("{csv}")
gc(reset = TRUE)
t <- system.time(m <- rma.mv(yi, vi, mods = ~ x, random = list(~ 1 | study, ~ 1 | lab),
                             data = d, sparse = TRUE, method = "REML"))
mem <- sum(gc()[, ncol(gc())])
cat("metafor", as.character(packageVersion("metafor")), t[["user.self"]] + t[["sys.self"]],
    sprintf("%.10f", logLik(m)), t[["elapsed"]], mem, sprintf("%.12g", m$sigma2),
    sprintf("%.12g", coef(m)), "\\n")
"""


def _mm_crossed_meta(df, path):
    import tracemalloc
    tracemalloc.start()
    tracemalloc.reset_peak()
    c0 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mm.MetaMixed.from_formula("yi ~ x + (1 | study) + (1 | lab)", df, vi="vi",
                                        path=path).fit()
    cpu = time.process_time() - c0
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    return cpu, peak, res


def bench_crossed_meta(args):
    """The crossed meta-analysis section (see the module docstring)."""
    sizes = [(args.cm_small_rows, max(2, args.cm_small_rows // 10), 30),
             (args.cm_rows, args.cm_studies, args.cm_labs)]
    print("Crossed random effects, yi ~ x + (1 | study) + (1 | lab), known vi, REML; CPU s "
          "(time.process_time / R user+sys), peak MB (tracemalloc / R gc max used)")
    print()
    print("rows | studies x labs | tool | CPU s | peak MB | sigma2 (study, lab) | "
          "d logLik vs Z space | max |d beta|")
    for rows, ns, nl in sizes:
        df = simulate_crossed_meta(rows, ns, nl, args.seed)
        cpu, mb, z = _mm_crossed_meta(df, "zspace")
        llf = z.llf_metafor
        beta = z.params.to_numpy()
        lead = f"{len(df)} | {ns} x {nl}"
        print(f"{lead} | metamodels Z space | {cpu:.2f} | {mb:.0f} | "
              f"{z.sigma2['study']:.6f}, {z.sigma2['lab']:.6f} | 0 | 0")
        if len(df) <= args.cm_dense_max:
            cpu, mb, b = _mm_crossed_meta(df, "blocks")
            print(f"{lead} | metamodels dense blocks | {cpu:.2f} | {mb:.0f} | "
                  f"{b.sigma2['study']:.6f}, {b.sigma2['lab']:.6f} | "
                  f"{b.llf_metafor - llf:.1e} | "
                  f"{np.max(np.abs(b.params.to_numpy() - beta)):.1e}")
        else:
            n = len(df)
            print(f"{lead} | metamodels dense blocks | infeasible: one block of {n} rows "
                  f"({n * n * 8 / 2 ** 30:.1f} GB per copy of V, {n ** 3 / 3:.1e} flops per "
                  f"factorisation) | - | - | - | -")
        if args.no_r or shutil.which("Rscript") is None:
            print(f"{lead} | R metafor | skipped | - | - | - | -")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            csv = os.path.join(tmp, "cm.csv")
            df.to_csv(csv, index=False)
            script = os.path.join(tmp, "cm.R")
            with open(script, "w") as fh:
                fh.write(R_CROSSED_META.format(csv=csv.replace("\\", "/")))
            try:
                out = subprocess.run(["Rscript", script], capture_output=True, text=True,
                                     timeout=args.cm_r_timeout)
                parts = [ln.split() for ln in out.stdout.splitlines() if
                         ln.startswith("metafor")]
            except subprocess.TimeoutExpired:
                parts = None
        if not parts:
            why = "did not finish" if parts is None else "failed"
            print(f"{lead} | R metafor rma.mv(sparse=TRUE) | {why} "
                  f"(timeout {args.cm_r_timeout} s) | - | - | - | -")
            continue
        f = parts[0]
        vals = [float(v) for v in f[2:]]
        cpu_r, llf_r, _, mem_r = vals[:4]
        s2, b_r = vals[4:6], np.asarray(vals[6:])
        print(f"{lead} | R metafor {f[1]} rma.mv(sparse=TRUE) | {cpu_r:.2f} | {mem_r:.0f} | "
              f"{s2[0]:.6f}, {s2[1]:.6f} | {llf_r - llf:.1e} | "
              f"{np.max(np.abs(b_r - beta)):.1e}")
    print()


def _fmt_table(rows, header=("tool", "what", "ms per fit", "relative to metamodels",
                             "max |dtau2|")):
    cells = [header] + [tuple(map(str, r)) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    align = ["<", "<", ">", ">", ">"]
    lines = []
    for j, r in enumerate(cells):
        lines.append(" | ".join(f"{c:{a}{w}}" for c, a, w in zip(r, align, widths)))
        if j == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="number of meta-regressions")
    parser.add_argument("--k", type=int, default=50, help="studies per meta-regression")
    parser.add_argument("--repeats", type=int, default=3, help="timing passes (best is kept)")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--tau2", type=float, default=0.1, help="true between-study variance")
    parser.add_argument("--no-r", action="store_true", help="skip R metafor")
    parser.add_argument("--k-influence", type=int, default=1000,
                        help="studies of the deletion-diagnostics benchmark (0 to skip)")
    parser.add_argument("--small-fits", default="50,500,5000,50000",
                        help="k of the intercept-only FE/DL single-fit comparison with "
                             "statsmodels' combine_effects and PyMARE ('' to skip)")
    parser.add_argument("--small-fits-only", action="store_true",
                        help="only the intercept-only single-fit comparison")
    parser.add_argument("--crossed-meta", action="store_true",
                        help="also time a crossed meta-analysis (MetaMixed Z-space path)")
    parser.add_argument("--crossed-meta-only", action="store_true",
                        help="only the crossed meta-analysis section")
    parser.add_argument("--cm-rows", type=int, default=20000)
    parser.add_argument("--cm-studies", type=int, default=2000)
    parser.add_argument("--cm-labs", type=int, default=300)
    parser.add_argument("--cm-small-rows", type=int, default=1500,
                        help="rows of the small crossed case (dense block path runs)")
    parser.add_argument("--cm-dense-max", type=int, default=4000,
                        help="largest crossed case given to the dense block path")
    parser.add_argument("--cm-r-timeout", type=int, default=3600)
    args = parser.parse_args(argv)
    if args.crossed_meta_only:
        return bench_crossed_meta(args)
    if args.small_fits_only:
        return _small_fits_report(args)

    datasets = simulate(args.n, args.k, args.tau2, args.seed)
    print(f"metamodels benchmark, {datetime.date.today().isoformat()}: {args.n} simulated "
          f"random-effects meta-regressions, k = {args.k} studies, intercept + 2 moderators, "
          f"tau^2 = {args.tau2}, seed {args.seed}; best of {args.repeats} passes")
    print(f"Python {platform.python_version()}, numpy {np.__version__}, metamodels "
          f"{mm.__version__}, {platform.machine()} {platform.system()}")
    print()

    rows = []
    notes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # boundary fits (tau^2 = 0) warn

        ms_reml, tau_reml = time_fits(mm_fit("REML"), datasets, args.repeats)
        ms_dl, tau_dl = time_fits(mm_fit("DL"), datasets, args.repeats)
        ms_dl0, tau_dl0 = time_fits(mm_fit("DL", moderators=False), datasets, args.repeats)
        rows.append(("metamodels", "MetaRandom REML, intercept + 2 moderators",
                     f"{ms_reml:.3f}", "1.00 (ref. REML)", "-"))
        rows.append(("metamodels", "MetaRandom DL, intercept + 2 moderators",
                     f"{ms_dl:.3f}", "1.00 (ref. DL)", "-"))
        rows.append(("metamodels", "MetaRandom DL, intercept only",
                     f"{ms_dl0:.3f}", "1.00 (ref. DL int.)", "-"))

        import statsmodels

        ms_sm, tau_sm = time_fits(sm_combine_dl, datasets, args.repeats)
        rows.append((f"statsmodels {statsmodels.__version__}",
                     "combine_effects DL, intercept only*", f"{ms_sm:.3f}",
                     f"{ms_sm / ms_dl0:.2f} x DL int.",
                     f"{np.max(np.abs(tau_sm - tau_dl0)):.1e}"))
        notes.append("* statsmodels has no meta-regression: compared with metamodels' "
                     "intercept-only DL fit of the same data.")

        fit_pm, pm_version = pymare_reml()
        if fit_pm is None:
            rows.append(("PyMARE", "REML, intercept + 2 moderators", "not installed", "-", "-"))
        else:
            ms_pm, tau_pm = time_fits(fit_pm, datasets, args.repeats)
            rows.append((f"PyMARE {pm_version}", "REML, intercept + 2 moderators",
                         f"{ms_pm:.3f}", f"{ms_pm / ms_reml:.2f} x REML",
                         f"{np.max(np.abs(tau_pm - tau_reml)):.1e}"))

    if args.no_r:
        rows.append(("R metafor", "rma REML, intercept + 2 moderators", "skipped", "-", "-"))
    else:
        got, why = metafor_reml(datasets, args.repeats)
        if got is None:
            rows.append(("R metafor", "rma REML, intercept + 2 moderators", why, "-", "-"))
        else:
            ms_r, tau_r, version = got
            rows.append((f"R metafor {version}", "rma REML, intercept + 2 moderators**",
                         f"{ms_r:.3f}", f"{ms_r / ms_reml:.2f} x REML",
                         f"{np.max(np.abs(tau_r - tau_reml)):.1e}"))
            notes.append("** timed inside R (system.time around the loop of rma() calls); "
                         "metafor stops iterating when tau^2 changes by < 1e-5, hence the "
                         "tau^2 differences.")

    print(_fmt_table(rows))
    print()
    print(f"tau^2 at the boundary 0 (metamodels REML): {int(np.sum(tau_reml <= 0))} of "
          f"{args.n} data sets; mean REML tau^2 {tau_reml.mean():.4f}")
    for note in notes:
        print(note)
    if args.k_influence:
        print()
        print(f"Deletion diagnostics of one REML random-effects meta-analysis, k = "
              f"{args.k_influence} (tau^2 re-estimated for every deletion / prefix)")
        print()
        rows = bench_influence(args.k_influence, args.repeats, args.seed, not args.no_r)
        print(_fmt_table(rows, ("tool", "what", "ms", "R / metamodels",
                                "max |diff| (tau2_del, estimate)")))
    if args.small_fits:
        _small_fits_report(args)
    if args.crossed_meta:
        print()
        bench_crossed_meta(args)
    return 0


def _small_fits_report(args):
    ks = [int(x) for x in args.small_fits.split(",") if x.strip()]
    if not ks:
        return 0
    print()
    print("Intercept-only single fits, CPU time per fit (time.process_time, best of "
          f"{args.repeats} interleaved passes; every tool returns its estimate, metamodels "
          "a full results object)")
    print()
    rows, why = bench_small_fits(ks, args.repeats, args.seed)
    cells = [("k", "tool", "what", "ms per fit", "relative")] + rows
    widths = [max(len(r[i]) for r in cells) for i in range(5)]
    for j, r in enumerate(cells):
        print(" | ".join(f"{c:{'>' if i >= 3 else '<'}{w}}" for i, (c, w) in
                         enumerate(zip(r, widths))))
        if j == 0:
            print("-+-".join("-" * w for w in widths))
    if why:
        print(why)
    return 0


if __name__ == "__main__":
    sys.exit(main())
