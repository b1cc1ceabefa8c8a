"""Options and action of ``metamodels gwas`` (registered in :mod:`metamodels.cli`)."""
from __future__ import annotations

import shlex

__all__ = ["add_gwas_arguments", "run_gwas"]

DESCRIPTION = (
    "Meta-analysis of GWAS summary statistics (METAL-like): reads tab, comma or "
    "whitespace separated files (optionally gzipped), aligns alleles across studies "
    "(swapped effect/other alleles, strand flips; drops A/T, C/G variants whose strand "
    "the allele frequencies cannot settle, in every study, and mismatched variants), "
    "optionally applies genomic control, and writes fixed- and "
    "random-effects results with heterogeneity for every variant, streaming in chunks "
    "of --chunk-size variants.  Column names are recognised (SNP/MarkerName/rsid/ID, "
    "A1/EA/Allele1/effect_allele, A2/NEA/Allele2/other_allele, BETA/Effect/b, "
    "SE/StdErr, P/pval, N, EAF/FREQ) unless given.")


def add_gwas_arguments(p):
    """Add the options of ``metamodels gwas`` to an argparse parser."""
    p.add_argument("files", nargs="+", metavar="FILE", help="summary-statistics files")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="output file (.gz: gzip; .csv: comma separated, else tab); the "
                        "log goes next to it (meta.tsv.gz -> meta.log)")
    cols = p.add_argument_group("columns (default: recognised by name)")
    for name, what in (("snp", "variant id"), ("a1", "effect allele"),
                       ("a2", "other allele"), ("beta", "effect estimate"),
                       ("se", "standard error"), ("pvalue", "p-value (--scheme samplesize)"),
                       ("n", "sample size"), ("freq", "effect-allele frequency")):
        cols.add_argument(f"--{name}", metavar="COL", help=f"column of the {what}")
    p.add_argument("--method", default="FE", metavar="LIST",
                   help="FE and/or random-effects estimators DL, HE, REML, ML, PM, "
                        "and/or the heterogeneity-aware MANTRA (trans-ethnic Bayes "
                        "factors; needs --distance or --frequencies), ASSET (subset "
                        "search) and RE2 (Han-Eskin), comma separated (default: "
                        "%(default)s); FE columns are always written")
    het = p.add_argument_group("MANTRA, ASSET and RE2 (see docs/gwas_methods.md)")
    het.add_argument("--distance", metavar="FILE",
                     help="MANTRA: k x k matrix of distances between the study "
                          "populations (whitespace or comma separated, files' order)")
    het.add_argument("--frequencies", action="store_true",
                     help="MANTRA: distances = mean |difference| of the aligned "
                          "effect-allele frequencies (needs a frequency column)")
    het.add_argument("--mu-sd", type=float, default=1.0, metavar="SD",
                     help="MANTRA: prior SD of the mean effect (default: %(default)s)")
    het.add_argument("--side", default="one", choices=("one", "two"),
                     help="ASSET: one- or two-sided subset search (default: %(default)s)")
    het.add_argument("--mvalues", action="store_true",
                     help="RE2: also write Han-Eskin m-values m_1..m_k")
    p.add_argument("--scheme", default="stderr", type=str.lower,
                   choices=("stderr", "samplesize"),
                   help="inverse-variance weights (stderr) or METAL's sample-size "
                        "weighted z-scores (needs P and N columns) (default: %(default)s)")
    p.add_argument("--genomic-control", action="store_true",
                   help="per-study lambda = median(chi2)/0.4549; se *= sqrt(lambda) when "
                        "lambda > 1 (METAL's GENOMICCONTROL ON)")
    p.add_argument("--keep-ambiguous", action="store_true",
                   help="keep every strand-ambiguous A/T, C/G variant, aligned by its "
                        "allele labels (METAL); default: keep those whose minor-allele "
                        "frequency is below --maf-max, aligned by frequency, and drop "
                        "the others, in every study alike")
    p.add_argument("--maf-max", type=float, default=0.4, metavar="F",
                   help="A/T, C/G variants are kept (without --keep-ambiguous) when "
                        "their minor-allele frequency is below this (default: "
                        "%(default)s)")
    p.add_argument("--chunk-size", type=int, default=500_000, metavar="N",
                   help="rows read and variants analysed at a time (default: %(default)s)")
    p.add_argument("--engine", default="numpy", type=str.lower, choices=("numpy", "dask"),
                   help="run the chunks with numpy (default) or as dask tasks")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes reading the files and writing the output "
                        "(default: CPUs, at most 4; 1 for small inputs)")
    p.add_argument("--digits", type=int, default=6, metavar="D",
                   help="significant digits in the output, 1-6 (default: %(default)s)")
    p.add_argument("--compress-level", type=int, default=1, metavar="L",
                   help="gzip level of a .gz output (default: %(default)s)")
    p.add_argument("--log", metavar="FILE", help="log file (default: next to --out)")
    p.add_argument("--log-dropped", metavar="FILE",
                   help="list every dropped row (study, SNP, reason, alleles, reference "
                        "alleles) in this file, gzip-compressed when it ends in .gz "
                        "(default: only counts, in the summary)")
    p.add_argument("--tmpdir", metavar="DIR", help="directory for scratch files")
    prog = p.add_mutually_exclusive_group()
    prog.add_argument("--progress", dest="progress", action="store_true", default=None,
                      help="show progress (default: when stderr is a terminal)")
    prog.add_argument("--no-progress", dest="progress", action="store_false")
    return p


def run_gwas(args):
    """Run ``metamodels gwas`` from parsed arguments; returns the exit code.

    The summary goes to stderr, and progress bars too when stderr is a terminal
    (unless ``--progress`` / ``--no-progress``).
    """
    import sys

    from .gwas import meta_analyze_files
    from .workers import tune_malloc

    tune_malloc()                 # this process is ours: see tune_malloc

    progress = args.progress
    if progress is None:
        progress = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    columns = {f: getattr(args, f) for f in ("snp", "a1", "a2", "beta", "se", "pvalue", "n",
                                             "freq")}
    meta_analyze_files(args.files, args.out, methods=args.method, scheme=args.scheme,
                       genomic_control=args.genomic_control, columns=columns,
                       chunk_size=args.chunk_size, engine=args.engine, jobs=args.jobs,
                       progress=progress, keep_ambiguous=args.keep_ambiguous,
                       maf_max=args.maf_max, digits=args.digits,
                       compresslevel=args.compress_level, log=args.log,
                       log_dropped=args.log_dropped, tmpdir=args.tmpdir,
                       stream=sys.stderr, command=_command(args),
                       extra={"distance": args.distance, "frequencies": args.frequencies,
                              "mvalues": args.mvalues, "side": args.side,
                              "mu_sd": args.mu_sd})
    return 0


def _command(args):
    """The command line, rebuilt from the parsed arguments (for the log)."""
    skip = {"files", "func", "command"}
    opts = []
    for key, value in vars(args).items():
        if key in skip or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        opts.append(flag if value is True else f"{flag} {shlex.quote(str(value))}")
    return " ".join(["metamodels gwas"] + [shlex.quote(f) for f in args.files] + opts)
