"""Bayesian linear mixed models by Gibbs sampling (SAS PROC BGLIMM for normal data).

Model
-----
For a :class:`~metamodels.MixedModel`::

    y = X b + sum_t Z_t u_t + e
    u_t = (u_t1, ..., u_tL)' with u_tl ~ N(0, G_t) independently over the levels l
    e ~ N(0, R),  R = blockdiag over subjects s of R_c(s)[visits of s]

``G_t`` is ``g_t`` (a scalar variance, ``(1 | g)``), ``diag(g_t1, ..., g_tq)`` (``VC``) or
unstructured (``UN``, ``(x | g)``); ``R_c`` (one per ``cov_group`` level ``c``) is
``s2 I`` (``ID``), ``diag(v_1, ..., v_d)`` (``VC``/``DIAG``), ``c J + s2 I`` (``CS``) or
unstructured (``UN``).

Priors (independent; :class:`GibbsPriors`)
------------------------------------------
* ``p(b) = 1`` (default) or ``b ~ N(m, P^-1)``;
* each scalar variance ``v ~ IG(a, b)`` (default ``a = b = 0.001``), density
  ``b^a / Gamma(a) v^(-a-1) exp(-b / v)``, or ``sqrt(v) ~ half-t(nu, A)``;
* each unstructured matrix ``S (q x q) ~ IW(nu, Psi)`` (default ``nu = q + 1`` and a
  data-scaled diagonal ``Psi``, see :class:`GibbsPriors`), density
  ``|S|^(-(nu+q+1)/2) exp(-tr(Psi S^-1) / 2)``, or the
  Huang-Wand prior ``S | c ~ IW(nu + q - 1, 2 nu diag(1/c))``, ``c_k ~ IG(1/2, 1/A^2)``.
* ``priors="sas"`` (:meth:`GibbsPriors.sas`): PROC BGLIMM's defaults -- flat ``b``,
  ``IW(q + 3, (q + 3) I)`` on every ``q x q`` matrix and ``IG(2, 2)`` on scalar variances.

``CS`` residuals are sampled in their random-intercept form (a hidden intercept per
subject with variance ``c`` plus independent residuals of variance ``s2``), so ``c >= 0``
with an inverse gamma prior on ``c``.

Sampler
-------
Blocked Gibbs (:class:`GibbsSampler`): ``(b, u)`` jointly from their Gaussian full
conditional; missing repeated measures of ``UN`` residuals from their conditional normal
given the observed ones (data augmentation); ``R`` and each ``G_t`` from their inverse
gamma / inverse Wishart full conditionals.  Chains run together, vectorised.

Entry point: :func:`fit_bayes` (``MixedModel.fit_bayes(**kw)``), returning
:class:`BayesMixedResults` (draws, ``summary_frame()`` with mean, sd, HPD interval, ESS and
R-hat, DIC, ``estimate()`` of contrasts; ``summary(style="sas")`` prints BGLIMM's
"Posterior Summaries and Intervals" table).
"""
from .diagnostics import ess, hpd_interval, rhat
from .fit import fit_bayes
from .priors import GibbsPriors
from .results import (DIC, BayesMixedResults, GibbsSettings, PosteriorContrast,
                      PosteriorIntervalsTable)
from .sampler import GibbsDraws, GibbsSampler

__all__ = ["fit_bayes", "GibbsPriors", "GibbsSampler", "GibbsDraws", "BayesMixedResults",
           "DIC", "PosteriorContrast", "GibbsSettings", "PosteriorIntervalsTable", "ess",
           "rhat", "hpd_interval"]
