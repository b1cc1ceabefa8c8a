"""Entry point :func:`fit_bayes` (``MixedModel.fit_bayes``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ...base.registry import register_fitter

from .priors import resolve_priors
from .results import BayesMixedResults, GibbsSettings
from .sampler import GibbsSampler

if TYPE_CHECKING:
    from ...mixed.model import MixedModel
    from .priors import GibbsPriors

__all__ = ["fit_bayes"]


def fit_bayes(model: MixedModel, draws: int = 10000, burn: int = 2000, chains: int = 2,
              seed: int | None = None, thin: int = 1,
              priors: GibbsPriors | dict[str, Any] | Literal["sas", "metamodels"] | None = None,
              ) -> BayesMixedResults:
    r"""Bayesian fit of a :class:`~metamodels.MixedModel` by Gibbs sampling.

    SAS PROC BGLIMM for normal responses (``NMC=``, ``NBI=``, ``THIN=``, ``SEED=``);
    called as ``MixedModel.fit_bayes(**kw)``.

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
        Draws, posterior summaries (mean, sd, HPD, ESS, R-hat), DIC and contrasts.

    Raises
    ------
    NotImplementedError
        For covariance structures without a conjugate prior (AR1, CSH, TOEP, ...), and
        (from ``MixedModel.fit_bayes``) for weights or an aliased design.
    ValueError
        For invalid sampler settings (``draws >= thin >= 1``, ``burn >= 0``,
        ``chains >= 1``) or prior settings.
    TypeError
        If ``priors`` is of an unsupported type.

    See Also
    --------
    GibbsPriors : prior settings.
    GibbsSampler : the sampler (for repeated runs on the same design).

    Notes
    -----
    .. math::

        y = X b + \sum_t Z_t u_t + e, \quad u_t \sim N(0, I \otimes G_t), \quad
        e \sim N(0, R),

        p(b) \propto 1 \text{ or } N(m, P^{-1}), \quad
        v \sim IG(a, b) \text{ (scalar variances)}, \quad
        S \sim IW(\nu, \Psi) \text{ (unstructured matrices)}.

    One iteration draws ``(b, u)`` jointly from their Gaussian full conditional, the
    missing repeated measures of ``UN`` residuals, then ``R`` and each ``G_t`` from their
    inverse gamma / inverse Wishart full conditionals (:class:`GibbsSampler`).  The
    chains start from dispersed values around an OLS fit.

    References
    ----------
    SAS Institute Inc. SAS/STAT User's Guide: The BGLIMM Procedure.
    Huang A, Wand MP (2013). Simple marginally noninformative prior distributions for
    covariance matrices. Bayesian Analysis 8(2), 439-452.

    Examples
    --------
    >>> import metamodels as mm
    >>> from metamodels.bayes.gibbs import fit_bayes
    >>> df = mm.datasets.load("sleepstudy")
    >>> model = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", data=df)
    >>> post = fit_bayes(model, draws=500, burn=200, chains=2, seed=1)
    >>> post.settings.draws, post.nchains, post.ndraws
    (500, 2, 500)
    >>> post.draws.columns[:4].tolist()
    ['chain', 'iteration', 'Intercept', 'Days']
    """
    priors = resolve_priors(priors)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))
    sampler = GibbsSampler(model, priors)
    raw = sampler.run(draws=draws, burn=burn, thin=thin, chains=chains, seed=seed)
    settings = GibbsSettings(int(draws), int(burn), int(thin), int(chains), seed, raw.seconds)
    return BayesMixedResults(model, sampler.layout, raw, settings, priors)


register_fitter("bayes", fit_bayes)       # MixedModel.fit_bayes looks it up
