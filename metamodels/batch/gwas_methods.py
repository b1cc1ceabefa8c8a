"""The heterogeneity-aware methods of ``metamodels gwas``: MANTRA, ASSET, RE2.

``--method`` may name, besides the fixed- and random-effects estimators, any of

* ``MANTRA`` -- the MANTRA-class partition model (:func:`metamodels.batch.mantra`),
  with the study distances from ``--distance FILE`` or ``--frequencies`` (the mean
  absolute difference of the aligned effect-allele frequencies over all variants);
  columns ``log10_bf``, ``log10_bf_c1``, ``p_heterogeneous``;
* ``ASSET`` -- the subset search (:func:`metamodels.batch.asset`, ``--side``);
  columns ``asset_z``, ``asset_pvalue``, ``asset_subset`` (two-sided also
  ``asset_z_pos``, ``asset_z_neg``, ``asset_subset_pos``, ``asset_subset_neg``);
* ``RE2`` -- Han and Eskin's test (``method="RE2"`` of
  :func:`metamodels.batch.meta_analyze`); columns ``stat_re2``, ``pvalue_re2`` and,
  with ``--mvalues``, ``m_1 .. m_k`` (:func:`metamodels.batch.mvalues`).

With ``--scheme samplesize`` the studies enter as ``z_i / sqrt(N_i)`` with standard
error ``1/sqrt(N_i)``, so ASSET's subset statistics use ASSET's ``sqrt(N_i)``
weights.
"""
from __future__ import annotations

import numpy as np

from .merge import chunk_rows
from .sumstats import GWASInputError

__all__ = ["EXTRA_METHODS", "split_methods", "ExtraMethods", "read_distance"]

EXTRA_METHODS = ("MANTRA", "ASSET", "RE2")


def split_methods(methods):
    """``"FE,mantra,RE2"`` -> ``(("FE",), ("MANTRA", "RE2"))``."""
    names = ([m for m in methods.replace(";", ",").split(",") if m.strip()]
             if isinstance(methods, str) else list(methods))
    std, extra = [], []
    for name in names:
        key = str(name).strip().upper()
        (extra if key in EXTRA_METHODS else std).append(key)
    return tuple(std) or ("FE",), tuple(dict.fromkeys(extra))


def read_distance(path, k):
    """A ``k x k`` distance matrix from a whitespace- or comma-separated text file
    (lines starting with ``#`` are comments)."""
    try:
        with open(path) as fh:
            rows = [line.replace(",", " ").split() for line in fh
                    if line.strip() and not line.lstrip().startswith("#")]
        D = np.array([[float(x) for x in r] for r in rows])
    except (OSError, ValueError) as exc:
        raise GWASInputError(f"cannot read the distance matrix {path}: {exc}") from None
    if D.shape != (k, k):
        raise GWASInputError(f"the distance matrix {path} must be {k} x {k} (one row and "
                             f"column per study, in the order of the files), got "
                             f"{'x'.join(map(str, D.shape)) or 'nothing'}")
    if not np.all(np.isfinite(D)) or np.any(D < 0):
        raise GWASInputError(f"the distance matrix {path} must be finite and non-negative")
    return D


class ExtraMethods:
    """Options, columns and per-chunk results of the methods of this module."""

    def __init__(self, methods, k, *, distance=None, frequencies=False, mvalues=False,
                 side="one", mu_sd=1.0):
        self.methods, self.k = tuple(methods), k
        self.frequencies, self.mvalues, self.side, self.mu_sd = (
            bool(frequencies), bool(mvalues), side, float(mu_sd))
        self.D = None
        if "MANTRA" in self.methods:
            if (distance is None) == (not frequencies):
                raise GWASInputError("--method mantra needs the study distances: give "
                                     "either --distance FILE or --frequencies")
            if distance is not None:
                self.D = read_distance(distance, k)
            from .mantra import MANTRA_MAX_K
            if k > MANTRA_MAX_K:
                raise GWASInputError(f"--method mantra enumerates 2^k - 1 centre sets; "
                                     f"it is limited to {MANTRA_MAX_K} studies, got {k}")
        elif distance is not None or frequencies:
            raise GWASInputError("--distance and --frequencies are options of "
                                 "--method mantra")
        if mvalues and "RE2" not in self.methods:
            raise GWASInputError("--mvalues goes with --method re2")
        if side not in ("one", "two"):
            raise GWASInputError("--side must be one or two")

    def __bool__(self):
        return bool(self.methods)

    def describe(self):
        out = []
        if "MANTRA" in self.methods:
            out.append(f"MANTRA (mu_sd {self.mu_sd}; distances from "
                       f"{'allele frequencies' if self.frequencies else 'file'})")
        if "ASSET" in self.methods:
            out.append(f"ASSET ({self.side}-sided)")
        if "RE2" in self.methods:
            out.append("RE2" + (" with m-values" if self.mvalues else ""))
        return ", ".join(out)

    def prepare(self, stores, maps, n_var, chunk_size):
        """Distances from the aligned allele frequencies (``--frequencies``)."""
        if "MANTRA" not in self.methods or self.D is not None:
            return
        k = self.k
        tot, cnt = np.zeros((k, k)), np.zeros((k, k))
        for c0 in range(0, n_var, chunk_size):
            c1 = min(c0 + chunk_size, n_var)
            f = np.full((c1 - c0, k), np.nan)
            for j, st in enumerate(stores):
                rows, loc, sg = chunk_rows(maps[j], c0, c1)
                if rows.size:
                    fj = st.take("freq", rows)
                    f[loc, j] = np.where(sg < 0, 1.0 - fj, fj)
            ok = np.isfinite(f)
            fz = np.where(ok, f, 0.0)
            for i in range(k):
                both = ok[:, i:i + 1] & ok
                tot[i] += np.sum(np.where(both, np.abs(fz[:, i:i + 1] - fz), 0.0), axis=0)
                cnt[i] += both.sum(axis=0)
        if np.any(cnt == 0):
            i, j = np.argwhere(cnt == 0)[0]
            raise GWASInputError(f"--frequencies: studies {i + 1} and {j + 1} have no "
                                 "variant with allele frequencies in common")
        self.D = tot / cnt

    def columns(self):
        cols = []
        if "MANTRA" in self.methods:
            cols += ["log10_bf", "log10_bf_c1", "p_heterogeneous"]
        if "ASSET" in self.methods:
            cols += ["asset_z", "asset_pvalue", "asset_subset"]
            if self.side == "two":
                cols += ["asset_z_pos", "asset_z_neg", "asset_subset_pos",
                         "asset_subset_neg"]
        if "RE2" in self.methods:
            cols += ["stat_re2", "pvalue_re2"]
            if self.mvalues:
                cols += [f"m_{j + 1}" for j in range(self.k)]
        return cols

    def compute(self, y, s):
        """Results of one chunk (dict of arrays)."""
        res = {}
        if "MANTRA" in self.methods:
            from .mantra import mantra

            out = mantra(y, s, self.D, mu_sd=self.mu_sd, as_frame=False)
            res.update({c: out[c] for c in ("log10_bf", "log10_bf_c1", "p_heterogeneous")})
        if "ASSET" in self.methods:
            from .asset import asset

            out = asset(y, s, side=self.side, as_frame=False)
            res["asset_z"], res["asset_subset"] = out["z"], out["subset"]
            with np.errstate(divide="ignore"):
                res["asset_log10p"] = np.log10(out["pvalue"])
            if self.side == "two":
                for c in ("z_pos", "z_neg", "subset_pos", "subset_neg"):
                    res["asset_" + c] = out[c]
        if "RE2" in self.methods:
            from .api import meta_analyze

            out = meta_analyze(y, s, method="RE2", as_frame=False)
            res["stat_re2"], res["log10p_re2"] = out["stat_re2"], out["log10p_re2"]
            if self.mvalues:
                from .mvalues import mvalues

                res["mvalues"] = mvalues(y, s, as_frame=False)
        return res

    def spec(self, res, digits):
        """Column specs (:func:`metamodels.batch.textfmt.rows_to_bytes`)."""
        sp = []
        enc = lambda v: np.char.encode(np.asarray(v, dtype=str))  # noqa: E731
        if "MANTRA" in self.methods:
            sp += [("float", res[c], digits) for c in ("log10_bf", "log10_bf_c1",
                                                         "p_heterogeneous")]
        if "ASSET" in self.methods:
            sp += [("float", res["asset_z"], digits), ("log10", res["asset_log10p"], digits),
                   ("bytes", enc(res["asset_subset"]), None)]
            if self.side == "two":
                sp += [("float", res["asset_z_pos"], digits),
                       ("float", res["asset_z_neg"], digits),
                       ("bytes", enc(res["asset_subset_pos"]), None),
                       ("bytes", enc(res["asset_subset_neg"]), None)]
        if "RE2" in self.methods:
            sp += [("float", res["stat_re2"], digits), ("log10", res["log10p_re2"], digits)]
            if self.mvalues:
                mv = res["mvalues"]
                sp += [("float", np.ascontiguousarray(mv[:, j]), digits)
                       for j in range(mv.shape[1])]
        return sp
