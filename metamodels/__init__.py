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
from . import batch, bayes, datasets, diagnostics, exceptions
from ._version import __version__
# publication bias (issue 14)
from .diagnostics import (egger_test, fail_safe_n, henmi_copas, pet_peese,
                          rank_correlation_test, selection_model, trim_and_fill)
from .bayes import BayesMeta, priors
from .effectsize import effect_size, summarize_effect_sizes, to_long, to_table
from .effectsize import transforms as transf
from .inference.compare import lr_test_table as lr_test
from .locscale import BivariateLocationScaleMeta, LocationScaleMeta
from .mixed import MixedModel
from .mixed.anova_vc import oneway_variance_components
from .multivariate import BivariateMeta, MetaMixed
from .multivariate.masem import correlation_covariance, regression_from_matrix
from .panel import PanelModel, compare, hausman
from .univariate import MetaFixed, MetaRandom
from .univariate.mantel_haenszel import mantel_haenszel
from .univariate.peto import peto
from .glmm import MetaGLMM
from .diagnostics import subgroup_analysis

__all__ = ["__version__", "MetaFixed", "MetaRandom", "MixedModel", "LocationScaleMeta", "PanelModel", "hausman", "compare", "BayesMeta", "priors", "bayes", "batch", "MetaMixed", "BivariateMeta", "lr_test", "oneway_variance_components", "effect_size", "datasets", "exceptions", "mantel_haenszel", "peto", "MetaGLMM",
           # publication bias (issue 14)
           "egger_test", "rank_correlation_test", "trim_and_fill", "fail_safe_n", "pet_peese",
           "selection_model", "henmi_copas",
           "subgroup_analysis",
           # effect-size helpers (issue 21)
           "summarize_effect_sizes", "to_long", "to_table", "transf",
           "correlation_covariance", "regression_from_matrix",
           "BivariateLocationScaleMeta"]
