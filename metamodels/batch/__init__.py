"""Batch engine: millions of meta-analyses at once (GWAS summary statistics).

* :func:`meta_analyze` -- intercept-only fixed- and random-effects meta-analysis of
  every row of ``(m, k)`` arrays of effects and standard errors (vectorised kernels
  in :mod:`metamodels.batch.kernels`; dask arrays give lazy results);
* :func:`meta_analyze_files` -- the file-to-file GWAS workflow behind
  ``metamodels gwas``: streaming read of summary-statistics files, allele alignment,
  genomic control, chunked meta-analysis and output (:mod:`metamodels.batch.gwas`).

Optional: ``tqdm`` (progress bar) and ``dask`` (``engine="dask"`` and lazy
:func:`meta_analyze` on dask arrays); neither is needed.  See ``docs/gwas.md``.
"""
import importlib as _importlib
import sys as _sys
import types as _types

#: Public names and the submodules they live in, imported on first use (PEP 562):
#: ``metamodels gwas`` starts its reading processes before scipy and the kernels
#: are loaded.
_EXPORTS = {"meta_analyze": "api", "METHODS": "api", "asset": "asset",
            "GWASResult": "gwas", "meta_analyze_files": "gwas", "chi2_sf": "kernels",
            "log10_pvalue_normal": "kernels", "distance_from_frequencies": "mantra",
            "mantra": "mantra", "mantra_detail": "mantra", "mvalues": "mvalues",
            "GWASWorkerError": "output_pool", "GWASInputError": "sumstats",
            "GWASWarning": "sumstats"}

__all__ = ["meta_analyze", "meta_analyze_files", "GWASResult", "GWASInputError",
           "GWASWarning", "GWASWorkerError", "METHODS",
           "log10_pvalue_normal", "chi2_sf", "mvalues", "mantra", "mantra_detail",
           "distance_from_frequencies", "asset"]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(_importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


class _Package(_types.ModuleType):
    """``mantra``, ``asset`` and ``mvalues`` name both a function exported here and
    the submodule defining it: importing the submodule must not replace the function
    (the import system sets the package's attribute to the submodule)."""

    def __setattr__(self, name, value):
        if name in _SHADOWED and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_SHADOWED = {"mantra", "asset", "mvalues"}
_sys.modules[__name__].__class__ = _Package
