"""Command line interface: ``metamodels <command> [options]``.

Commands
--------
``metamodels demo``
    Fixed- and random-effects meta-analysis of the bundled six-study
    mean-difference example, compared with the published pooled results, and a
    forest plot.
``metamodels meta FILE``
    Meta-analysis / meta-regression of effect sizes read from a CSV or TSV file.
``metamodels gwas FILE... --out OUT``
    Meta-analysis of GWAS summary statistics (see :mod:`metamodels.batch`).
``metamodels --version``
    Print the version.

Every command lives in two functions, ``_add_<name>_parser(subparsers)`` (its
options) and ``_cmd_<name>(args)`` (what it does, returning an exit code), and is
registered in :data:`_COMMANDS`; :func:`main` only builds the parser and dispatches.
User errors (a missing file, an unknown column or method, ...) are reported as one
line on stderr with exit code 2, without a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Sequence

__all__ = ["main", "CLIError"]

PROG = "metamodels"
EXIT_OK = 0
EXIT_USAGE = 2

#: Published pooled results of the ``md_example`` data (mean difference, 95% CI),
#: as quoted in ``metamodels.datasets.md_example.DESCR``.
PUBLISHED_MD = {
    "FE": (-2.04, -2.45, -1.64),
    "DL": (-1.21, -2.69, 0.28),
}


class CLIError(Exception):
    """A user error: reported as ``metamodels: error: <message>`` with exit code 2."""


# --------------------------------------------------------------------- helpers
def _pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend (works headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path):
    plt = _pyplot()
    try:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    finally:
        plt.close(fig)


def _fmt_ci(est, lo, hi, nd=2):
    return f"{est:.{nd}f} [{lo:.{nd}f}, {hi:.{nd}f}]"


def _methods():
    from .univariate.fitting import METHODS

    return METHODS


def _check_method(method):
    """Normalise ``--method`` (case-insensitive) or raise a CLIError."""
    valid = _methods()
    table = {m.upper(): m for m in valid}
    key = str(method).upper()
    if key not in table:
        raise CLIError(f"unknown method {method!r}; valid methods are {', '.join(valid)}")
    return table[key]


def _one_line(exc):
    """First line of an exception message (patsy appends the formula and carets)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _term(column):
    """A column name usable in a patsy formula (``Q("...")`` unless an identifier)."""
    if column.isidentifier():
        return column
    return 'Q("%s")' % column.replace("\\", "\\\\").replace('"', '\\"')


# ------------------------------------------------------------------------ demo
def _add_demo_parser(subparsers):
    p = subparsers.add_parser(
        "demo",
        help="meta-analysis of a bundled example, compared with the published results",
        description="Fixed- and random-effects meta-analysis of the bundled six-study "
                    "mean-difference example (metamodels.datasets.md_example): prints "
                    "the summaries, compares them with the published pooled results and "
                    "writes a forest plot.")
    p.add_argument("--out", default="forest.png", metavar="PNG",
                   help="file name of the forest plot (default: %(default)s)")
    p.add_argument("--method", default="REML",
                   help="tau^2 estimator of the random-effects fit that is plotted "
                        "(default: %(default)s); DerSimonian-Laird is always fitted for "
                        "the comparison with the published result")
    p.set_defaults(func=_cmd_demo)
    return p


def _cmd_demo(args):
    from . import MetaFixed, MetaRandom, datasets, effect_size
    from .summary import text_table

    method = _check_method(args.method)
    if method == "FE":
        raise CLIError("the demo compares fixed and random effects; --method must be a "
                       "random-effects estimator (e.g. REML, DL, PM)")

    print("metamodels demo: mean difference (days of cold symptoms, zinc lozenges minus "
          "placebo) in six comparisons, pooled by fixed- and random-effects meta-analysis "
          "(data: metamodels.datasets.md_example).")
    print()

    dat = effect_size("MD", datasets.load("md_example"), m1i="m1i", sd1i="sd1i", n1i="n1i",
                      m2i="m2i", sd2i="sd2i", n2i="n2i")
    dat.index = dat["study"].to_numpy()
    fits = {"FE": MetaFixed(dat["yi"], dat["vi"]).fit(),
            "DL": MetaRandom(dat["yi"], dat["vi"]).fit(method="DL")}
    if method not in fits:
        fits[method] = MetaRandom(dat["yi"], dat["vi"]).fit(method=method)

    print(dat[["study", "m1i", "m2i", "yi", "vi"]].to_string(index=False))
    print()
    from .univariate.results import _METHOD_LABEL

    labels = {"FE": "Fixed effect", "DL": "DerSimonian-Laird"}
    for key, res in fits.items():
        model = "MetaFixed" if key == "FE" else "MetaRandom"
        print(res.summary(title=f"{model} Results: {labels.get(key, _METHOD_LABEL[key])}"))
        print()

    print("Comparison with the published pooled mean differences (95% CI)")
    rows = []
    all_match = True
    for key, res in fits.items():
        est = float(res.params.iloc[0])
        lo, hi = (float(x) for x in res.conf_int().iloc[0])
        ours = _fmt_ci(est, lo, hi)
        if key in PUBLISHED_MD:
            pub = PUBLISHED_MD[key]
            ok = all(round(a, 2) == b for a, b in zip((est, lo, hi), pub))
            all_match &= ok
            rows.append((labels[key], ours, _fmt_ci(*pub), "yes" if ok else "NO"))
        else:
            rows.append((_METHOD_LABEL.get(key, key), ours, "(not published)", ""))
    print(text_table(rows, ("Model", "metamodels", "published", "match")))
    tau2 = {k: fits[k].tau2 for k in fits if k != "FE"}
    print("tau^2: " + ", ".join(f"{k} {v:.4f}" for k, v in tau2.items())
          + f"; Q = {fits['FE'].q:.2f} on {fits['FE'].q_df} df")
    print("All published values reproduced to 2 decimals." if all_match
          else "WARNING: some published values were not reproduced.")
    print()

    if args.out:
        res = fits[method]
        fig = res.plot_forest(labels=list(dat["study"]),
                              xlabel="Mean difference (days), zinc - placebo",
                              title=f"Zinc lozenges and cold duration ({method})")
        _save_figure(fig, args.out)
        print(f"Forest plot ({method}) written to {args.out}")
    return EXIT_OK if all_match else 1


# ------------------------------------------------------------------------ meta
def _add_meta_parser(subparsers):
    p = subparsers.add_parser(
        "meta",
        help="meta-analysis / meta-regression of effect sizes in a CSV or TSV file",
        description="Fit a fixed- (--method FE) or random-effects meta-analysis, or a "
                    "meta-regression with --mods, to effect sizes and their sampling "
                    "variances (or standard errors) read from a delimited text file.")
    p.add_argument("file", metavar="FILE", help="CSV file (.tsv/.txt: tab separated)")
    p.add_argument("--yi", required=True, metavar="COL", help="column of the effect sizes")
    v = p.add_mutually_exclusive_group(required=True)
    v.add_argument("--vi", metavar="COL", help="column of the sampling variances")
    v.add_argument("--sei", metavar="COL",
                   help="column of the standard errors (instead of --vi)")
    p.add_argument("--method", default="REML",
                   help="FE (fixed effects) or a tau^2 estimator: DL, HE, HS, SJ, ML, REML, "
                        "EB, PM (default: %(default)s)")
    p.add_argument("--test", default="z", type=str.lower, choices=("z", "t", "knha"),
                   help="reference distribution of the tests: z, t or knha "
                        "(Knapp-Hartung; random effects only) (default: %(default)s)")
    p.add_argument("--mods", metavar="FORMULA",
                   help='moderators, the right-hand side of a patsy formula, e.g. '
                        '"x1 + C(group)" (default: none, an intercept-only model)')
    p.add_argument("--labels", metavar="COL", help="column of study labels (forest plot)")
    p.add_argument("--forest", metavar="PNG", help="write a forest plot to this file")
    p.add_argument("--funnel", metavar="PNG", help="write a funnel plot to this file")
    p.add_argument("--alpha", type=float, default=0.05,
                   help="1 - confidence level of the intervals (default: %(default)s)")
    p.add_argument("--sep", default=None,
                   help="field separator (default: tab for .tsv/.txt files, else comma; "
                        "'\\t' or 'tab' for a tab)")
    p.set_defaults(func=_cmd_meta)
    return p


def _separator(path, sep):
    if sep is None:
        return "\t" if os.path.splitext(path)[1].lower() in (".tsv", ".txt", ".tab") else ","
    if sep in ("\\t", "tab", "TAB"):
        return "\t"
    if not sep:
        raise CLIError("--sep must not be empty")
    return sep


def _read_table(path, sep):
    """The data file as a DataFrame; any failure to read it is a CLIError naming it."""
    import pandas as pd

    if not os.path.exists(path):
        raise CLIError(f"file not found: {path}")
    if os.path.isdir(path):
        raise CLIError(f"{path} is a directory, not a data file")
    sep = _separator(path, sep)
    try:
        df = pd.read_csv(path, sep=sep)
    except MemoryError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise CLIError(f"{path} is empty") from exc
    except Exception as exc:  # noqa: BLE001 -- OSError, truncated/corrupt gzip, bz2, zip,
        # xz archives, undecodable text, malformed rows: all mean "cannot read this file"
        why = getattr(exc, "strerror", None) or _one_line(exc)
        raise CLIError(f"cannot read {path}: {why}") from exc
    if df.shape[0] == 0:
        raise CLIError(f"{path} contains no data rows")
    return df


def _check_columns(df, path, **columns):
    for option, col in columns.items():
        if col is None:
            continue
        if col not in df.columns:
            avail = ", ".join(map(str, df.columns))
            hint = (" -- only one column was read: check the separator (--sep)"
                    if df.shape[1] == 1 else "")
            raise CLIError(f"--{option}: column {col!r} not found in {path} "
                           f"(columns: {avail}){hint}")


def _numeric(df, col, option, positive=False):
    """Column ``col`` as floats; a non-numeric or infinite value (``positive``: also a
    value <= 0) is a CLIError naming the column and the first offending data row.
    Missing values stay NaN (the model drops their rows with a warning)."""
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(df[col], errors="coerce")
    checks = [(values.isna() & df[col].notna(), "has non-numeric values"),
              (np.isinf(values), "has infinite values")]
    if positive:
        checks.append((values <= 0, "must be strictly positive"))
    for bad, what in checks:
        if bad.any():
            rows = np.flatnonzero(bad.to_numpy())
            first = df[col].iloc[rows[0]]
            first = first.item() if isinstance(first, np.generic) else first
            raise CLIError(f"--{option}: column {col!r} {what}: data row {rows[0] + 1} has "
                           f"{first!r} ({rows.size} such row{'s' * (rows.size > 1)})")
    return values


def _cmd_meta(args):
    import numpy as np

    from . import MetaFixed, MetaRandom

    method = _check_method(args.method)
    if not 0 < args.alpha < 1:
        raise CLIError(f"--alpha must be between 0 and 1, got {args.alpha}")
    if method == "FE" and args.test == "knha":
        raise CLIError("--test knha needs a random-effects model; use z or t with --method FE")

    df = _read_table(args.file, args.sep)
    _check_columns(df, args.file, yi=args.yi, vi=args.vi, sei=args.sei, labels=args.labels)
    df[args.yi] = _numeric(df, args.yi, "yi")
    if args.sei is not None:
        vi = np.asarray(_numeric(df, args.sei, "sei", positive=True), dtype=float) ** 2
    else:
        vi = np.asarray(_numeric(df, args.vi, "vi", positive=True), dtype=float)
    if not np.any(df[args.yi].notna().to_numpy() & ~np.isnan(vi)):
        which = "--sei" if args.sei is not None else "--vi"
        raise CLIError(f"no usable study in {args.file}: every row lacks the effect size "
                       f"(--yi {args.yi}) or its {which[2:]} ({which} {args.sei or args.vi})")

    mods = (args.mods or "").strip() or "1"
    formula = f"{_term(args.yi)} ~ {mods}"
    cls = MetaFixed if method == "FE" else MetaRandom
    model = cls.from_formula(formula, data=df, vi=vi)
    kept = _kept_rows(model, df)
    labels = None if args.labels is None else [str(x) for x in df.loc[kept, args.labels]]
    res = model.fit(test=args.test) if method == "FE" else model.fit(method=method,
                                                                      test=args.test)

    print(res.summary(alpha=args.alpha))
    print()
    print(res.heterogeneity_summary(alpha=args.alpha))
    print()
    print(res.prediction_summary(alpha=args.alpha, pooled=mods == "1", labels=labels))

    written = []
    if args.forest:
        _save_figure(res.plot_forest(labels=labels, alpha=args.alpha, xlabel=args.yi),
                     args.forest)
        written.append(f"Forest plot written to {args.forest}")
    if args.funnel:
        _save_figure(res.plot_funnel(alpha=args.alpha), args.funnel)
        written.append(f"Funnel plot written to {args.funnel}")
    if written:
        print()
        print("\n".join(written))
    return EXIT_OK


def _kept_rows(model, df):
    """Row labels the model kept (rows with missing values are dropped)."""
    labels = getattr(model.data, "row_labels", None)
    return df.index if labels is None else labels


# ------------------------------------------------------------------------ gwas
def _add_gwas_parser(subparsers):
    from .batch.cli import DESCRIPTION, add_gwas_arguments

    p = subparsers.add_parser(
        "gwas", help="meta-analysis of GWAS summary-statistics files (METAL-like)",
        description=DESCRIPTION)
    add_gwas_arguments(p)
    p.set_defaults(func=_cmd_gwas)
    return p


def _cmd_gwas(args):
    from .batch.cli import run_gwas

    return run_gwas(args)


# ---------------------------------------------------------------------- driver
#: Sub-commands in the order of ``metamodels --help``: name -> parser builder.
_COMMANDS = {
    "demo": _add_demo_parser,
    "meta": _add_meta_parser,
    "gwas": _add_gwas_parser,
}


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors raise instead of exiting."""

    def error(self, message):
        raise _UsageError(self, message)


class _UsageError(Exception):
    def __init__(self, parser, message):
        super().__init__(message)
        self.parser = parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``metamodels`` (one sub-parser per command).

    Returns
    -------
    argparse.ArgumentParser
        Usage errors raise (they are reported by :func:`main`) instead of exiting.
    """
    from ._version import __version__

    parser = _Parser(prog=PROG,
                     description="Meta-analysis from the command line (metamodels "
                                 f"{__version__}).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=_Parser)
    for add in _COMMANDS.values():
        add(subparsers)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"{PROG}: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line interface; returns the exit code.

    The console script ``metamodels`` (and ``python -m metamodels``) calls it; see
    ``docs/cli.md`` for the commands.  Warnings are printed as one line
    ``metamodels: warning: ...``; user errors as ``metamodels: error: ...``.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (without the program name); ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        0 on success, 2 for a usage or input error (or a command's own code).

    Examples
    --------
    >>> from metamodels.cli import main
    >>> main(["--version"])
    metamodels ...
    0
    >>> main(["meta", "no-such-file.csv"])
    2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"{exc.parser.prog}: error: {exc} (see '{exc.parser.prog} --help')",
              file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return int(args.func(args))
        except CLIError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except (ValueError, OSError, ArithmeticError) as exc:
            print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
            return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
