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
from .api import METHODS, meta_analyze
from .asset import asset
from .gwas import GWASResult, meta_analyze_files
from .kernels import chi2_sf, log10_pvalue_normal
from .mantra import distance_from_frequencies, mantra, mantra_detail
from .mvalues import mvalues
from .output_pool import GWASWorkerError
from .sumstats import GWASInputError, GWASWarning

__all__ = ["meta_analyze", "meta_analyze_files", "GWASResult", "GWASInputError",
           "GWASWarning", "GWASWorkerError", "METHODS",
           "log10_pvalue_normal", "chi2_sf", "mvalues", "mantra", "mantra_detail",
           "distance_from_frequencies", "asset"]
