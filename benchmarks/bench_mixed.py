"""Timing benchmark: linear mixed models in metamodels and other tools.

Run by hand (not part of the test suite)::

    python benchmarks/bench_mixed.py [--rows 50000] [--groups 2000] [--subjects 1000]
                                     [--visits 8] [--repeats 3] [--no-r] [--no-gls]
                                     [--crossed | --crossed-only] [--crossed-rows 100000]
                                     [--crossed-big]

Two model shapes, each fitted by REML:

1. random intercept and slope, ``y ~ x + (x | g)``: ``--rows`` rows in ``--groups``
   groups (unbalanced, uniform group labels), ``y = 1 + 0.5 x + b0_g + b1_g x + e`` with
   ``sd(b0) = 1``, ``sd(b1) = 0.5``, ``sd(e) = 1``.  metamodels uses the low-rank (Woodbury)
   path of the engine (:mod:`metamodels.core.lowrank`).  Peers: statsmodels
   ``smf.mixedlm("y ~ x", df, groups="g", re_formula="~x").fit(reml=True)`` and R
   ``lme4::lmer(y ~ x + (x | g))``.
2. R-side unstructured covariance over ``--visits`` visits of ``--subjects`` subjects with
   5% of the visits missing at random, ``y ~ C(visit) * trt``, ``repeated="visit"``,
   ``subject="subj"``, ``cov_struct="UN"`` (36 covariance parameters for 8 visits).
   metamodels uses one factorisation per missingness pattern
   (:mod:`metamodels.core.patterns`).  Peers: R ``nlme::gls`` with
   ``corSymm(form = ~ visit | subj)`` and ``varIdent(form = ~ 1 | visit)`` (timed once: it
   takes tens of seconds) and ``glmmTMB`` with ``us(0 + visit | subj)`` and
   ``dispformula = ~ 0``.

For metamodels the model is built (``MixedModel.from_formula``) and fitted in each pass;
"fit" is the time of ``.fit()`` (which includes computing the per-block cross-products the
fast paths use), the best of ``--repeats`` passes.  The row "dense blocks" is the same fit
with the fast paths switched off (``model.spec.use_fast_paths = False``), i.e. the engine
before they existed.  statsmodels is timed around model construction and fit together;
R fits are timed with ``system.time`` inside R (start-up and the CSV transfer are not
counted).  "d llf" is the peer's REML log-likelihood minus metamodels'.

With ``--crossed`` (or ``--crossed-only``): crossed random effects, subjects crossed with
items (:func:`simulate_crossed`), ``y ~ x + (1 | subj) + (1 | item)`` at ``--crossed-rows``
rows with 2,000 x 1,000 levels (and 10 times the rows with 20,000 x 5,000 levels with
``--crossed-big``) and ``y ~ x + (x | subj) + (1 | item)``: metamodels' Z-space path
(:mod:`metamodels.core.zspace`) against ``lme4::lmer`` (default settings) in the same
run, CPU and wall times of one pass each, tracemalloc peak, and the differences in the
REML criterion and the fixed effects.

Peak memory: ``tracemalloc`` peak of building and fitting model 1 with 25 rows per group at
``--rows`` and 4 x ``--rows`` rows (numpy reports its buffers to tracemalloc).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd

try:
    import metamodels as mm
except ImportError:  # running from a source checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
    import metamodels as mm

from metamodels import MixedModel


# ------------------------------------------------------------------ simulation
def simulate_slopes(rows, groups, seed):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, rows)
    x = rng.normal(size=rows)
    b0 = rng.normal(0, 1, groups)
    b1 = rng.normal(0, 0.5, groups)
    y = 1 + 0.5 * x + b0[g] + b1[g] * x + rng.normal(size=rows)
    return pd.DataFrame(dict(y=y, x=x, g=g))


def simulate_un(subjects, visits, seed, missing=0.05):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(visits, visits))
    L = np.linalg.cholesky(A @ A.T / visits + np.eye(visits))
    e = rng.normal(size=(subjects, visits)) @ L.T
    subj = np.repeat(np.arange(subjects), visits)
    visit = np.tile(np.arange(visits), subjects)
    trt = subj % 2
    y = 1 + 0.2 * visit + 0.5 * trt + e.ravel()
    df = pd.DataFrame(dict(subj=subj, visit=visit, trt=trt, y=y))
    keep = rng.uniform(size=len(df)) >= missing
    return df[keep].reset_index(drop=True)


def simulate_crossed(rows, subjects, items, seed, slopes=False):
    """Subjects crossed with items: ``y = 1 + 0.5 x + b_s + c_i (+ d_s x) + e`` with
    ``sd(b) = 1``, ``sd(c) = 0.7``, ``sd(d) = 0.4``, ``sd(e) = 1``; uniform labels."""
    rng = np.random.default_rng(seed)
    s = rng.integers(0, subjects, rows)
    i = rng.integers(0, items, rows)
    x = rng.normal(size=rows)
    y = (1 + 0.5 * x + rng.normal(0, 1.0, subjects)[s] + rng.normal(0, 0.7, items)[i]
         + (rng.normal(0, 0.4, subjects)[s] * x if slopes else 0.0) + rng.normal(size=rows))
    return pd.DataFrame(dict(y=y, x=x, subj=s, item=i))


# -------------------------------------------------------------------- timing
def time_metamodels(make, repeats, dense=False):
    best_fit = best_total = np.inf
    res = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        model = make()
        if dense:
            model.spec.use_fast_paths = False
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = model.fit()
        t2 = time.perf_counter()
        best_fit = min(best_fit, t2 - t1)
        best_total = min(best_total, t2 - t0)
    return best_fit, best_total, res


def time_statsmodels(df, repeats):
    import statsmodels.formula.api as smf
    best = np.inf
    res = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = smf.mixedlm("y ~ x", df, groups="g", re_formula="~x").fit(reml=True)
        best = min(best, time.perf_counter() - t0)
    return best, float(res.llf), np.asarray(res.fe_params)


R_SLOPES = """
suppressMessages(library(lme4))
d <- read.csv("{csv}")
best <- Inf
for (i in seq_len({repeats})) {{
  t <- system.time(m <- lmer(y ~ x + (x | g), data = d, REML = TRUE))[["elapsed"]]
  best <- min(best, t)
}}
cat("lme4", as.character(packageVersion("lme4")), best, sprintf("%.10f", logLik(m)),
    sprintf("%.10f", fixef(m)), "\\n")
"""

R_UN = """
suppressMessages({{library(nlme); library(glmmTMB)}})
d <- read.csv("{csv}")
d$v1 <- d$visit + 1L; d$fvisit <- factor(d$visit); d$subj <- factor(d$subj)
if ({gls}) {{
  t <- system.time(g <- gls(y ~ fvisit * trt, data = d, correlation = corSymm(form = ~ v1 | subj),
                            weights = varIdent(form = ~ 1 | fvisit), method = "REML"))[["elapsed"]]
  cat("nlme", as.character(packageVersion("nlme")), t, sprintf("%.10f", logLik(g)), "\\n")
}}
best <- Inf
for (i in seq_len({repeats})) {{
  t <- system.time(m <- suppressWarnings(glmmTMB(y ~ fvisit * trt + us(0 + fvisit | subj),
                   dispformula = ~ 0, data = d, REML = TRUE)))[["elapsed"]]
  best <- min(best, t)
}}
cat("glmmTMB", as.character(packageVersion("glmmTMB")), best, sprintf("%.10f", logLik(m)), "\\n")
"""


def run_r(template, df, tmp, name, **fields):
    """Run ``template.format(csv=..., **fields)`` with Rscript; parse ``name version time llf``."""
    csv = os.path.join(tmp, f"{name}.csv")
    df.to_csv(csv, index=False)
    path = os.path.join(tmp, f"{name}.R")
    with open(path, "w") as fh:
        fh.write(template.format(csv=csv.replace("\\", "/"), **fields))
    try:
        out = subprocess.run(["Rscript", path], capture_output=True, text=True, timeout=3600)
    except subprocess.TimeoutExpired:
        print(f"R ({name}) did not finish within one hour", file=sys.stderr)
        return {}
    rows = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            rows[parts[0]] = (parts[1], float(parts[2]), float(parts[3]),
                              [float(v) for v in parts[4:]])
    if not rows:
        print(out.stderr, file=sys.stderr)
    return rows


R_CROSSED = """
suppressMessages(library(lme4))
d <- read.csv("{csv}")
d$subj <- factor(d$subj); d$item <- factor(d$item)
t <- system.time(m <- lmer({formula}, data = d, REML = TRUE))
cat("lme4", as.character(packageVersion("lme4")), t[["elapsed"]],
    sprintf("%.10f", logLik(m)), t[["user.self"]] + t[["sys.self"]],
    sprintf("%.12g", fixef(m)), "\\n")
"""


def crossed_section(args, have_r):
    """Crossed random effects (the Z-space path): metamodels and lme4 in the same run,
    CPU time (``time.process_time`` / R's user + system time) and wall time, one pass
    each (the machine may be loaded: compare CPU times)."""
    cases = [(args.crossed_rows, 2000, 1000, False)]
    if args.crossed_big:
        cases.append((10 * args.crossed_rows, 20000, 5000, False))
    cases.append((args.crossed_rows, 2000, 1000, True))
    out = []
    for rows, ns, ni, slopes in cases:
        df = simulate_crossed(rows, ns, ni, args.seed, slopes)
        formula = "y ~ x + (x | subj) + (1 | item)" if slopes else \
            "y ~ x + (1 | subj) + (1 | item)"
        tracemalloc.start()
        tracemalloc.reset_peak()
        c0, w0 = time.process_time(), time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = MixedModel.from_formula(formula, df).fit()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
        label = f"{formula.split('~')[1].strip()}, {rows} rows, {ns} x {ni}"
        row = dict(model=label, mm_cpu=cpu, mm_wall=wall, mm_mb=peak, n_iter=res._fit.n_iter,
                   lme4=None)
        if have_r:
            with tempfile.TemporaryDirectory() as tmp:
                r = run_r(R_CROSSED, df, tmp, "crossed", formula=formula)
            if "lme4" in r:
                ver, t, llf, rest = r["lme4"]
                beta = np.asarray(rest[1:], dtype=float)
                row["lme4"] = dict(version=ver, wall=t, cpu=rest[0], dllf=llf - res.llf,
                                   rel_crit=abs(llf - res.llf) / abs(res.llf),
                                   dbeta=float(np.max(np.abs(beta - res.params.to_numpy()))))
        out.append(row)
        print(f"  done: {label} ({cpu:.1f} s CPU)", file=sys.stderr)
    print("crossed random effects (Z-space path), REML, one pass each:")
    print("model | metamodels CPU s | wall s | peak MB (tracemalloc) | PLS evaluations | "
          "lme4 CPU s | wall s | CPU ratio mm/lme4 | d REML crit (rel) | max |d beta|")
    for r in out:
        l4 = r["lme4"]
        tail = ("- | - | - | - | -" if l4 is None else
                f"{l4['cpu']:.2f} | {l4['wall']:.2f} | {r['mm_cpu'] / l4['cpu']:.2f} | "
                f"{l4['rel_crit']:.1e} | {l4['dbeta']:.1e}")
        print(f"{r['model']} | {r['mm_cpu']:.2f} | {r['mm_wall']:.2f} | {r['mm_mb']:.0f} | "
              f"{r['n_iter']} | {tail}")
    print()


def peak_memory(rows, seed):
    df = simulate_slopes(rows, rows // 25, seed)
    tracemalloc.start()
    tracemalloc.reset_peak()
    res = MixedModel.from_formula("y ~ x + (x | g)", df).fit()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert res.converged
    return peak / 2 ** 20


# ----------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50000)
    ap.add_argument("--groups", type=int, default=2000)
    ap.add_argument("--subjects", type=int, default=1000)
    ap.add_argument("--visits", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--no-gls", action="store_true", help="skip nlme::gls (slow)")
    ap.add_argument("--no-statsmodels", action="store_true")
    ap.add_argument("--crossed", action="store_true",
                    help="also time crossed random effects (Z-space path) against lme4")
    ap.add_argument("--crossed-only", action="store_true", help="only the crossed section")
    ap.add_argument("--crossed-rows", type=int, default=100000)
    ap.add_argument("--crossed-big", action="store_true",
                    help="add 10 x --crossed-rows rows with 20,000 x 5,000 levels")
    args = ap.parse_args(argv)
    have_r = not args.no_r and shutil.which("Rscript") is not None
    reps = args.repeats
    if args.crossed or args.crossed_only:
        crossed_section(args, have_r)
        if args.crossed_only:
            return

    table = []
    # ---- model 1
    d1 = simulate_slopes(args.rows, args.groups, args.seed)
    make1 = lambda: MixedModel.from_formula("y ~ x + (x | g)", d1)  # noqa: E731
    fit, total, r1 = time_metamodels(make1, reps)
    label1 = f"(x | g), {args.rows} rows, {args.groups} groups"
    table.append(("metamodels", label1, fit, total, "1.00 (ref.)", "-", r1._fit.n_iter))
    dfit, dtot, rd = time_metamodels(make1, 1, dense=True)
    table.append(("metamodels dense blocks", label1, dfit, dtot, f"{dfit / fit:.2f} x",
                  f"{rd.llf - r1.llf:.1e}", rd._fit.n_iter))
    if not args.no_statsmodels:
        import statsmodels
        t, llf, _ = time_statsmodels(d1, min(reps, 2))
        table.append((f"statsmodels {statsmodels.__version__} MixedLM", label1, None, t,
                      f"{t / total:.2f} x", f"{llf - r1.llf:.1e}", "-"))
    # ---- model 2
    d2 = simulate_un(args.subjects, args.visits, args.seed)
    make2 = lambda: MixedModel.from_formula(  # noqa: E731
        "y ~ C(visit) * trt", d2, repeated="visit", subject="subj", cov_struct="UN")
    fit2, total2, r2 = time_metamodels(make2, reps)
    label2 = f"UN({args.visits}) R side, {args.subjects} subjects, {len(d2)} rows"
    table.append(("metamodels", label2, fit2, total2, "1.00 (ref.)", "-", r2._fit.n_iter))
    dfit2, dtot2, rd2 = time_metamodels(make2, 1, dense=True)
    table.append(("metamodels dense blocks", label2, dfit2, dtot2, f"{dfit2 / fit2:.2f} x",
                  f"{rd2.llf - r2.llf:.1e}", rd2._fit.n_iter))
    if have_r:
        with tempfile.TemporaryDirectory() as tmp:
            out = run_r(R_SLOPES, d1, tmp, "slopes", repeats=reps)
            if "lme4" in out:
                ver, t, llf, _ = out["lme4"]
                table.insert(3, (f"R lme4 {ver} lmer", label1, None, t, f"{t / total:.2f} x",
                                 f"{llf - r1.llf:.1e}", "-"))
            out = run_r(R_UN, d2, tmp, "un", gls="FALSE" if args.no_gls else "TRUE",
                        repeats=max(1, min(reps, 2)))
            for key, what in (("nlme", "gls corSymm + varIdent (once)"),
                              ("glmmTMB", "glmmTMB us(), dispformula ~0")):
                if key in out:
                    ver, t, llf, _ = out[key]
                    table.append((f"R {key} {ver} {what}", label2, None, t,
                                  f"{t / total2:.2f} x", f"{llf - r2.llf:.1e}", "-"))

    mem = [(rows, peak_memory(rows, args.seed)) for rows in (args.rows, 4 * args.rows)]

    import scipy
    print(f"metamodels mixed-model benchmark, {datetime.date.today().isoformat()}: REML fits, "
          f"seed {args.seed}, best of {reps} passes (R gls once)")
    print(f"Python {platform.python_version()}, numpy {np.__version__}, scipy "
          f"{scipy.__version__}, metamodels {mm.__version__}, {platform.machine()} "
          f"{platform.system()}")
    print()
    head = ("tool", "model", "fit s", "build+fit s", "relative", "d llf", "iter")
    rows = [(a, b, "-" if c is None else f"{c:.3f}", f"{d:.3f}", e, f, str(g))
            for a, b, c, d, e, f, g in table]
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    fmt = " | ".join("{:<%d}" % w if i < 2 else "{:>%d}" % w for i, w in enumerate(widths))
    print(fmt.format(*head))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(fmt.format(*r))
    print()
    print("relative: the tool's build+fit time divided by metamodels' (fit time for the dense "
          "row); d llf: REML log-likelihood minus metamodels'.")
    for rows_, mb in mem:
        print(f"peak memory (tracemalloc) of building and fitting (x | g) with {rows_} rows "
              f"({rows_ // 25} groups): {mb:.1f} MB = {mb / rows_ * 1e3:.3f} MB per 1000 rows")


if __name__ == "__main__":
    main()
