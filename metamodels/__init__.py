"""metamodels: meta-analysis and linear mixed models for the statsmodels world.

Every model is one linear Gaussian model ``y ~ N(X b, V(theta))`` with ``V`` block
diagonal; model classes specify ``V(theta)`` and share one likelihood engine
(:mod:`metamodels.core`).

Examples
--------
A random-effects meta-regression of the BCG vaccine trials (metafor's
``rma(yi, vi, mods = ~ ablat, data = dat)``):

>>> import metamodels as mm
>>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
...                      ci="cpos", di="cneg")
>>> res = mm.MetaRandom.from_formula("yi ~ ablat", dat, vi="vi").fit(method="REML")
>>> print(res.params.round(4))
Intercept    0.2515
ablat       -0.0291
dtype: float64
>>> print(round(res.tau2, 4))
0.0763
"""
import importlib as _importlib

from ._version import __version__

#: Public names and where they live; imported on first use (PEP 562), so that
#: ``import metamodels`` and the command line (``metamodels gwas`` needs only the batch
#: engine) do not pay for every family's imports up front.
_LAZY = {
    "egger_test": ".diagnostics", "fail_safe_n": ".diagnostics",
    "henmi_copas": ".diagnostics", "pet_peese": ".diagnostics",
    "rank_correlation_test": ".diagnostics", "selection_model": ".diagnostics",
    "trim_and_fill": ".diagnostics", "subgroup_analysis": ".diagnostics",
    "BayesMeta": ".bayes", "priors": ".bayes",
    "effect_size": ".effectsize", "summarize_effect_sizes": ".effectsize",
    "to_long": ".effectsize", "to_table": ".effectsize",
    "transf": (".effectsize", "transforms"),
    "lr_test": (".inference.compare", "lr_test_table"),
    "BivariateLocationScaleMeta": ".locscale", "LocationScaleMeta": ".locscale",
    "MixedModel": ".mixed",
    "oneway_variance_components": ".mixed.anova_vc",
    "BivariateMeta": ".multivariate", "MetaMixed": ".multivariate",
    "correlation_covariance": ".multivariate.masem",
    "regression_from_matrix": ".multivariate.masem",
    "PanelModel": ".panel", "compare": ".panel", "hausman": ".panel",
    "MetaFixed": ".univariate", "MetaRandom": ".univariate",
    "mantel_haenszel": ".univariate.mantel_haenszel", "peto": ".univariate.peto",
    "MetaGLMM": ".glmm",
}
_SUBPACKAGES = ("batch", "bayes", "datasets", "diagnostics", "exceptions")


def __getattr__(name):
    """Import a public name (or a subpackage) the first time it is used."""
    where = _LAZY.get(name)
    if where is not None:
        module, attr = where if isinstance(where, tuple) else (where, name)
        value = getattr(_importlib.import_module(module, __name__), attr)
    elif not name.startswith("__"):
        try:
            value = _importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBPACKAGES))


__all__ = ["__version__", "MetaFixed", "MetaRandom", "MixedModel", "LocationScaleMeta", "PanelModel", "hausman", "compare", "BayesMeta", "priors", "bayes", "batch", "MetaMixed", "BivariateMeta", "lr_test", "oneway_variance_components", "effect_size", "datasets", "exceptions", "mantel_haenszel", "peto", "MetaGLMM",
           # publication bias (issue 14)
           "egger_test", "rank_correlation_test", "trim_and_fill", "fail_safe_n", "pet_peese",
           "selection_model", "henmi_copas",
           "subgroup_analysis",
           # effect-size helpers (issue 21)
           "summarize_effect_sizes", "to_long", "to_table", "transf",
           "correlation_covariance", "regression_from_matrix",
           "BivariateLocationScaleMeta"]
