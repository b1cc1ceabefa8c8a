"""Evidence of a :class:`~metamodels.bayes.BayesMeta` fit: the marginal likelihood
and Bayes factors of point hypotheses (a mixin of
:class:`~metamodels.bayes.results.BayesMetaResults`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .._compat import cache_readonly
from . import priors as pr
from .kernels import conditional

__all__ = ["BayesFactor", "EvidenceMixin"]


@dataclass(frozen=True)
class BayesFactor:
    r"""Bayes factor of a point null hypothesis against the full model.

    ``bf01 = p(y | H0) / p(y | H1)``: values above 1 favour the null.  Returned by
    :meth:`BayesMetaResults.bayes_factor` (and printed by its ``summary()``); ``str()``
    gives a one-line report.

    Parameters
    ----------
    hypothesis : str
        The null hypothesis, e.g. ``"mu = 0"`` or ``"tau = 0"``.
    log_bf01 : float
        Natural logarithm of ``bf01``.
    method : str
        How it was computed (``"Savage-Dickey density ratio"`` or ``"marginal
        likelihood ratio"``).

    Notes
    -----
    For a point null ``b_j = b_0`` nested in the full model (with the prior of the
    other parameters under the null equal to their conditional prior given
    ``b_j = b_0``), the Savage-Dickey density ratio gives

    .. math::

        \mathrm{BF}_{01} = \frac{p(y \mid H_0)}{p(y \mid H_1)}
        = \frac{p(b_j = b_0 \mid y)}{p(b_j = b_0)}.

    For ``tau = 0`` it is the ratio of the marginal likelihoods
    ``m(y | tau = 0) / p(y)``.

    References
    ----------
    Dickey JM (1971). The weighted likelihood ratio, linear hypotheses on normal
    location parameters. Annals of Mathematical Statistics 42(1), 204-223.
    Kass RE, Raftery AE (1995). Bayes factors. Journal of the American Statistical
    Association 90(430), 773-795.

    Examples
    --------
    >>> from metamodels.bayes import BayesFactor
    >>> bf = BayesFactor("mu = 0", -3.0, "Savage-Dickey density ratio")
    >>> round(bf.bf10, 2)
    20.09
    """

    hypothesis: str
    log_bf01: float
    method: str

    @property
    def bf01(self) -> float:
        """Bayes factor of the null against the full model, ``p(y | H0) / p(y | H1)``."""
        return float(np.exp(self.log_bf01))

    @property
    def bf10(self) -> float:
        """Bayes factor of the full model against the null, ``1 / bf01``."""
        return float(np.exp(-self.log_bf01))

    def __str__(self):
        return (f"Bayes factor for {self.hypothesis}: BF01 = {self.bf01:.4g} "
                f"(BF10 = {self.bf10:.4g}; {self.method})")


class EvidenceMixin:
    """``log_marginal_likelihood``, ``marginal_likelihood`` and :meth:`bayes_factor`
    (needs the fitted ``model``, ``tau_prior``, ``tau_posterior``, ``coef_names``,
    ``distribution`` and ``_cond`` of BayesMetaResults)."""

    @cache_readonly
    def log_marginal_likelihood(self) -> float:
        """``log p(y)``, the log evidence (bayesmeta's ``$marginal.likelihood``, logged).

        Needs proper priors on ``mu``/``b`` and on ``tau``; raises ``ValueError``
        otherwise (the evidence of an improper prior is arbitrary).
        """
        if self.model.coef_prior is None:
            raise ValueError("the marginal likelihood is undefined with a flat mu prior; use "
                             "a proper priors.Normal mu prior")
        if isinstance(self.tau_prior, pr.Fixed):
            return float(self._cond.logm[0])
        if not self.tau_prior.proper:
            raise ValueError(f"the marginal likelihood is undefined with the improper tau prior "
                             f"{self.tau_prior!r}")
        return float(self.tau_posterior.log_norm)

    @property
    def marginal_likelihood(self) -> float:
        """``p(y)``, ``exp`` of :attr:`log_marginal_likelihood` (may underflow to 0)."""
        return float(np.exp(self.log_marginal_likelihood))

    def bayes_factor(self, name: str = "mu", value: float = 0.0) -> BayesFactor:
        """Bayes factor of ``name = value`` (``BF01``) against the fitted model.

        bayesmeta's ``$bayesfactor`` (which reports both ``tau = 0`` and ``mu = 0``).

        * ``name`` = ``"mu"`` or a coefficient: Savage-Dickey density ratio
          ``p(b_j = value | y) / p(b_j = value)``; needs a proper (normal) prior on
          the coefficients (an error for the flat prior).  The ``tau`` prior is common
          to both hypotheses and may be improper (under a multivariate normal prior
          the null keeps the conditional prior of the other coefficients).
        * ``name="tau"`` (``value`` must be 0): ``m(y | tau = 0) / p(y)``, i.e. the
          fixed-effect model against the random-effects model; needs a proper ``tau``
          prior (the ``mu`` prior may be flat: its constant cancels).

        Parameters
        ----------
        name : str
            ``"mu"`` (default), a coefficient name or ``"tau"``.
        value : float
            The null value (default 0; must be 0 for ``tau``).

        Returns
        -------
        BayesFactor
            With ``bf01``, ``bf10`` and ``log_bf01``.

        Raises
        ------
        ValueError
            If the needed prior is flat, improper or fixed, ``value != 0`` for ``tau``,
            or ``name`` is another quantity.

        Examples
        --------
        >>> import metamodels as mm
        >>> from metamodels.bayes import BayesMeta, priors
        >>> es = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                     ci="cpos", di="cneg")
        >>> res = BayesMeta(es["yi"], es["vi"], mu_prior=priors.Normal(0, 4),
        ...                 tau_prior=priors.HalfNormal(0.5)).fit(n_draws=2000)
        >>> round(res.bayes_factor("mu", 0).bf10, 1)
        21.0
        >>> res.bayes_factor("tau", 0).bf01 < 1e-20      # heterogeneity: overwhelming
        True
        """
        key = self._resolve(name)
        value = float(value)
        if key in self.coef_names:
            if self.model.coef_prior is None:
                raise ValueError("Bayes factors for mu need a proper mu prior; the flat prior "
                                 "gives an arbitrary Bayes factor")
            b0, P0, _ = self.model.coef_prior
            j = self.coef_names.index(key)
            sd0 = float(np.sqrt(np.linalg.inv(P0)[j, j]))
            log_bf = (self.distribution(key).logpdf(value)
                      - stats.norm.logpdf(value, b0[j], sd0))
            return BayesFactor(f"{key} = {value:g}", float(log_bf), "Savage-Dickey density ratio")
        if key == "tau":
            if value != 0:
                raise ValueError("the Bayes factor for tau is defined for tau = 0 only")
            if isinstance(self.tau_prior, pr.Fixed) or not self.tau_prior.proper:
                raise ValueError("the Bayes factor for tau = 0 needs a proper (non-fixed) tau "
                                 "prior")
            m = self.model
            logm0 = float(conditional(m.endog, m.vi, m.exog, m.coef_prior, 0.0).logm[0])
            return BayesFactor("tau = 0", logm0 - self.tau_posterior.log_norm,
                               "marginal likelihood ratio")
        raise ValueError(f"Bayes factors are available for {', '.join(self.coef_names)} and "
                         f"tau, not {name!r}")
