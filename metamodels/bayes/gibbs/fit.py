"""Entry point :func:`fit_bayes` (``MixedModel.fit_bayes``)."""
from __future__ import annotations

import numpy as np

from ...base.registry import register_fitter

from .priors import resolve_priors
from .results import BayesMixedResults, GibbsSettings
from .sampler import GibbsSampler

__all__ = ["fit_bayes"]


def fit_bayes(model, draws=10000, burn=2000, chains=2, seed=None, thin=1, priors=None):
    """Bayesian fit of a :class:`~metamodels.MixedModel` by Gibbs sampling.

    The model is ``y = X b + sum_t Z_t u_t + e`` with ``u_t ~ N(0, I (x) G_t)`` and
    ``e ~ N(0, R)``; priors (:class:`GibbsPriors`, all independent): flat or normal on
    ``b``, inverse gamma (or half-t on the SD) on scalar variances, inverse Wishart (or
    Huang-Wand) on unstructured ``G`` and ``R`` matrices.  Every full conditional is
    conjugate; missing repeated measures of ``UN`` residuals are imputed each iteration
    (data augmentation).  See :mod:`metamodels.bayes.gibbs` and ``docs/bayes_mixed.md``.

    Parameters
    ----------
    model : MixedModel
        Random terms with ``ID`` (``(1 | g)``), ``UN`` (``(x | g)``) or ``VC``
        (``re_struct="VC"``) covariance; residual structure ``ID``, ``VC``/``DIAG``,
        ``CS`` (``c >= 0``) or ``UN``, optionally with ``cov_group``.
    draws : int
        Iterations per chain after burn-in (SAS ``NMC=``); ``draws // thin`` are kept.
    burn : int
        Burn-in iterations per chain (SAS ``NBI=``).
    chains : int
        Independent chains from dispersed starting values (run together, vectorised).
    seed : int, optional
        Seed of the random number generator; the same seed gives identical draws.  With
        ``None`` a fresh seed is drawn and recorded in ``res.settings.seed``.
    thin : int
        Keep every ``thin``-th draw (SAS ``THIN=``).
    priors : GibbsPriors, dict or str, optional
        Prior settings: a :class:`GibbsPriors`, a dict of its fields, ``"sas"`` for PROC
        BGLIMM's defaults (:meth:`GibbsPriors.sas`: flat ``b``, ``IW(q + 3, (q + 3) I)``
        on every ``q x q`` covariance matrix, ``IG(2, 2)`` on scalar variances) or
        ``None``/``"metamodels"`` for this package's vague defaults.

    Returns
    -------
    BayesMixedResults
    """
    priors = resolve_priors(priors)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))
    sampler = GibbsSampler(model, priors)
    raw = sampler.run(draws=draws, burn=burn, thin=thin, chains=chains, seed=seed)
    settings = GibbsSettings(int(draws), int(burn), int(thin), int(chains), seed, raw.seconds)
    return BayesMixedResults(model, sampler.layout, raw, settings, priors)


register_fitter("bayes", fit_bayes)       # MixedModel.fit_bayes looks it up
