"""Bayesian random-effects meta-analysis by numerical integration (no MCMC).

:class:`BayesMeta` fits the normal-normal hierarchical model with a normal or flat
prior on ``mu`` (or on meta-regression coefficients) and any prior on the
heterogeneity ``tau`` from :mod:`metamodels.bayes.priors`; the posterior is
integrated over ``tau`` by adaptive quadrature, everything else is exact normal
conjugacy (as in Roever's bayesmeta R package).  :func:`prior_sensitivity` tabulates
posterior summaries under many priors.

:mod:`metamodels.bayes.gibbs` fits Bayesian linear mixed models
(``MixedModel.fit_bayes``) by Gibbs sampling, as SAS PROC BGLIMM for normal data.
"""
from . import gibbs, priors  # gibbs registers MixedModel.fit_bayes's sampler
from .meta import BayesMeta
from .results import BayesFactor, BayesMetaResults
from .sensitivity import prior_sensitivity

__all__ = ["BayesMeta", "BayesMetaResults", "BayesFactor", "prior_sensitivity", "priors", "gibbs"]
