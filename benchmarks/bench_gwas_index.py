"""CPU time of the index stage of ``metamodels gwas`` alone (issue 19, point 2).

The files are scanned once into a scratch directory (what the reading processes do;
since the sixth session the scan applies the per-study rules itself, and their CPU
time is the scan's ``prepare_seconds``); then, timed with ``resource.getrusage``
(user + system seconds, page faults), the per-study rules of the reading processes
(``metamodels.batch.prepare.prepare_study``, for checkouts where it runs on a
scanned store) and the main process's ``index_study`` calls, study by study in file
order.  Run it with
``PYTHONPATH`` pointing at another checkout to compare versions (the scan is redone:
the stores' layout may differ).

Usage::

    python benchmarks/bench_gwas_index.py FILES... [--scratch DIR] [--repeats 2]
"""
from __future__ import annotations

import argparse
import inspect
import os
import resource
import shutil
import sys
import tempfile

sys.path.insert(0, os.environ.get("PYTHONPATH", "").split(os.pathsep)[0]
                or os.path.join(os.path.dirname(__file__), ".."))


def _usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime, r.ru_minflt


def _lap(t0):
    u, s, f = _usage()
    return f"user {u - t0[0]:.2f} s, sys {s - t0[1]:.2f} s, {f - t0[2]:,} page faults"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--scratch", default=None, help="directory of the scanned stores")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)

    import metamodels
    from metamodels.batch import merge
    from metamodels.batch.alleles import AlleleTable
    from metamodels.batch.sumstats import resolve_columns, scan_study, sniff
    try:
        from metamodels.batch.prepare import prepare_study
    except ImportError:                     # a checkout from before the worker-side rules
        prepare_study = None

    # checkouts before the sixth session: prepare_study(store, scheme, maf_max, keep)
    # runs on a scanned store; since then the scan applies the rules itself
    separate = prepare_study is not None and \
        list(inspect.signature(prepare_study).parameters)[1:2] == ["scheme"]
    print(f"metamodels from {os.path.dirname(metamodels.__file__)}")
    scratch = args.scratch or tempfile.mkdtemp(prefix="bench-gwas-index-")
    try:
        stores, rules = [], 0.0
        for i, p in enumerate(args.files):
            info = sniff(p)
            cols = resolve_columns(info["fields"], p, None,
                                   required=("snp", "a1", "a2", "beta", "se"),
                                   optional=("pvalue", "n", "freq"))
            cols.pop("pvalue", None)
            r = scan_study(p, i, cols, info, os.path.join(scratch, f"s{i}"))
            stores.append(r["store"])
            rules += r.get("prepare_seconds", 0.0)
        if prepare_study is not None and not separate:
            print(f"per-study rules (reading processes, within the scan): CPU {rules:.2f} s")
        with_freq = all("freq" in st.fields for st in stores)
        for rep in range(args.repeats):
            if separate:
                t0 = _usage()
                for st in stores:
                    prepare_study(st, "stderr", 0.4, False)
                print(f"pass {rep + 1}: per-study rules (reading processes): {_lap(t0)}")
            state = merge.MergeState(AlleleTable(), with_freq=with_freq)
            t0 = _usage()
            for i, st in enumerate(stores):
                merge.index_study(state, st, i, "stderr", 0.4, False)
            print(f"pass {rep + 1}: index_study x {len(stores)} (main process): {_lap(t0)}; "
                  f"{state.n:,} variants")
    finally:
        if args.scratch is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
