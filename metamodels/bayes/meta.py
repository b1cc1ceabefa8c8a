"""BayesMeta: Bayesian random-effects meta-analysis and meta-regression by quadrature.

The posterior of the normal-normal hierarchical model is (p + 1)-dimensional; given
``tau`` the coefficients are conjugate normal, so everything reduces to one
numerical integral over ``tau`` (Roever 2020, bayesmeta).  This module holds the
model class; the array-level kernels (conditional posterior given ``tau``, moments of
``zeta^2``, joint draws) are in :mod:`metamodels.bayes.kernels` and
:mod:`metamodels.bayes.results` builds the summaries.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..base.model import MetaModelBase
from ..exceptions import SpecificationError
from ..formula.checks import design_rank
from . import priors as pr
from .mu_priors import coefficient_prior
from .integration import TauPosterior
from .kernels import Conditional, conditional, draw_joint, zeta2_draws, zeta2_moments
from .results import BayesMetaResults

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["BayesMeta", "Conditional", "conditional", "zeta2_moments", "draw_joint"]

class BayesMeta(MetaModelBase):
    r"""Bayesian random-effects meta-analysis and meta-regression (no MCMC).

    The posterior of the normal-normal hierarchical model is computed by numerical
    integration over the heterogeneity ``tau`` and exact normal conjugacy for
    everything else, as R's bayesmeta (``bayesmeta(y, sigma, mu.prior, tau.prior)``),
    so results are deterministic to quadrature accuracy; only the quantiles of the
    spread ``zeta`` of the study effects use Monte Carlo draws.

    Parameters
    ----------
    endog : array_like
        Effect sizes ``y_i``, one per study.
    vi : array_like
        Known sampling variances ``v_i > 0``.
    exog : array_like, optional
        Moderators (k, p) including the intercept column if wanted; intercept only
        (``mu``) when omitted.
    mu_prior : None, priors.Flat, priors.Normal or priors.MultivariateNormal
        Prior of ``mu`` (of the coefficients ``b`` with ``exog``); ``None`` (default) is
        flat.
    tau_prior : priors.TauPrior, frozen scipy distribution or callable
        Prior of the heterogeneity standard deviation ``tau`` (see
        :mod:`metamodels.bayes.priors`; required).  A callable is taken as an
        (unnormalised) density on ``tau`` (:func:`~metamodels.bayes.priors.as_tau_prior`).
    missing : {"none", "drop", "raise"}
        Handling of missing values in the inputs (statsmodels' ``missing``); default
        ``"none"``.

    Raises
    ------
    ValueError
        If ``tau_prior`` is missing, ``endog`` is not one-dimensional, an input is not
        finite, a sampling variance is not positive, or the priors are malformed.
    TypeError
        If ``mu_prior`` or ``tau_prior`` is of an unsupported type.
    metamodels.exceptions.SpecificationError
        If the moderators are collinear.
    metamodels.bayes.priors.ImproperPosteriorError
        If the prior combination gives an improper posterior (see Notes).

    See Also
    --------
    prior_sensitivity : the same analysis under many priors.
    metamodels.MetaRandom : the frequentist random-effects model.
    metamodels.bayes.gibbs.fit_bayes : Bayesian linear mixed models by Gibbs sampling.

    Notes
    -----
    The normal-normal hierarchical model is

    .. math::

        y_i \mid \theta_i \sim N(\theta_i, v_i), \quad
        \theta_i \mid b, \tau \sim N(x_i'b, \tau^2), \quad
        b \sim N(b_0, \Sigma_0) \text{ or flat}, \quad \tau \sim p(\tau),

    with ``b`` and ``tau`` independent a priori (``x_i'b = mu`` without moderators).
    Integrating out ``theta`` and, by conjugacy, ``b`` leaves the one-dimensional
    marginal posterior ``p(tau | y) ∝ p(tau) m(y | tau)`` (see
    :func:`~metamodels.bayes.kernels.conditional`), which is integrated by adaptive
    Gauss-Legendre quadrature with an error estimate
    (:mod:`metamodels.bayes.integration`).  Every other posterior is a mixture over ``tau``:

    * ``b | tau, y ~ N(bhat(tau), A(tau)^-1)``;
    * ``theta_i | tau, y ~ N(lam_i y_i + (1 - lam_i) x_i'bhat,
      lam_i v_i + (1 - lam_i)^2 x_i'A^-1 x_i)``, ``lam_i = tau^2 / (tau^2 + v_i)``
      (shrinkage estimates);
    * ``theta_new | tau, y ~ N(bhat, A^-1 + tau^2)`` (intercept-only models);
    * ``beta_F = sum w_i theta_i / sum w_i`` (``w_i = 1/v_i``), a linear function of
      ``theta``, is a normal mixture;
    * ``zeta^2 = sum w_i (theta_i - beta_F)^2 / sum w_i`` is a quadratic form in the
      normal vector ``theta | tau, y``: its mean and variance are exact (quadrature of
      the conditional moments, :func:`~metamodels.bayes.kernels.zeta2_moments`), its
      quantiles, intervals and
      density come from Monte Carlo draws of the joint posterior (``tau`` by inverse
      CDF, then ``b`` and ``theta`` from their conditional normals).

    The posterior is proper iff the prior density of ``tau`` is integrable at 0 and
    ``p(tau) tau^-(k - p_flat)`` is integrable at infinity (``p_flat = p`` for a flat
    prior on ``b``, else 0); improper combinations raise
    :class:`~metamodels.bayes.priors.ImproperPosteriorError`.

    References
    ----------
    .. [1] Roever C (2020). Bayesian random-effects meta-analysis using the bayesmeta R
       package. Journal of Statistical Software 93(6), 1-51.
    .. [2] Gelman A (2006). Prior distributions for variance parameters in hierarchical
       models. Bayesian Analysis 1(3), 515-534.

    Examples
    --------
    The BCG vaccine trials (log risk ratios) with a normal prior on ``mu`` and a
    half-normal prior on ``tau``:

    >>> import metamodels as mm
    >>> from metamodels.bayes import BayesMeta, priors
    >>> es = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                     ci="cpos", di="cneg")
    >>> res = BayesMeta(es["yi"], es["vi"], mu_prior=priors.Normal(0, 4),
    ...                 tau_prior=priors.HalfNormal(0.5)).fit(n_draws=2000)
    >>> res.summary_frame(names=["mu", "tau"])[["mean", "hpd_lower", "hpd_upper"]].round(2)
         mean  hpd_lower  hpd_upper
    mu  -0.71      -1.08      -0.34
    tau  0.57       0.32       0.86
    >>> round(res.prob("mu", upper=0), 3)          # P(mu <= 0 | y)
    1.0

    A meta-regression on absolute latitude, from a formula (flat prior on the
    coefficients):

    >>> reg = BayesMeta.from_formula("yi ~ ablat", data=es, vi="vi",
    ...                              tau_prior=priors.HalfNormal(0.5)).fit(n_draws=2000)
    >>> reg.summary_frame(names=["ablat"])[["mean", "sd"]].round(3)
            mean     sd
    ablat -0.029  0.008
    """

    _min_studies = 1

    def __init__(self, endog: ArrayLike, vi: ArrayLike, exog: ArrayLike | None = None,
                 mu_prior: pr.Flat | pr.Normal | pr.MultivariateNormal | None = None,
                 tau_prior: pr.TauPrior | Any = None,
                 missing: Literal["none", "drop", "raise"] = "none") -> None:
        self.mu_prior = pr.Flat() if mu_prior is None else mu_prior
        tau_prior_in = pr.as_tau_prior(tau_prior)
        super().__init__(endog, vi, exog=exog, missing=missing)
        self.coef_prior = coefficient_prior(self.mu_prior, self.k_params)
        self.p_flat = self.k_params if self.coef_prior is None else 0
        self.tau_prior = tau_prior_in.bind(self.vi)
        self.intercept_only = bool(self.k_params == 1 and self.k_constant)
        self.tail_exponent = self._check_proper()

    def _validate(self):
        y, v, X = self.endog, self.vi, self.exog
        if y.ndim != 1:
            raise ValueError("endog must be one-dimensional (one effect size per row)")
        self._check_finite()
        bad = np.flatnonzero(v <= 0)
        if bad.size:
            raise ValueError(f"sampling variances vi must be strictly positive; rows "
                             f"{bad[:10].tolist()} have vi <= 0")
        k, p = X.shape
        if k < 1:
            raise ValueError("no studies")
        rank = design_rank(X)
        if rank < p:
            raise SpecificationError("singular design: the moderators are collinear "
                                     f"(rank {rank} < {p} columns)")
        proper = getattr(self.mu_prior, "proper", False)
        if not proper and k <= p:
            raise pr.ImproperPosteriorError(
                f"{k} studies for {p} coefficients with a flat prior: the posterior is improper "
                "(need more studies than coefficients, or a proper normal mu_prior)")

    def _check_proper(self):
        """Power-law exponent of the posterior of tau at infinity (checks propriety)."""
        prior = self.tau_prior
        if isinstance(prior, pr.Fixed):
            return -np.inf
        lo, hi = prior.support
        a0, ainf = prior.tails
        k, what = int(self.nobs), repr(prior)
        if lo == 0 and a0 <= -1 + 1e-6:
            raise pr.ImproperPosteriorError(
                f"improper posterior: the prior {what} behaves like tau^{a0:g} at tau = 0, "
                "which is not integrable while the likelihood stays positive there")
        if not np.isfinite(hi):
            apost = ainf - (k - self.p_flat)
            if apost >= -1 - 1e-6:
                raise pr.ImproperPosteriorError(
                    f"improper posterior: the prior {what} behaves like tau^{ainf:g} at "
                    f"infinity and the likelihood like tau^-{k - self.p_flat} ({k} studies"
                    f"{', flat mu prior' if self.p_flat else ''}); use a proper tau prior"
                    f"{' or a normal mu prior' if self.p_flat else ''}")
            return float(apost)
        return -np.inf

    def moment_exists(self, r: float) -> bool:
        """Whether ``E[tau^r | y]`` is finite.

        Decided from the power-law exponent of the posterior density of ``tau`` at
        infinity (prior tail times the likelihood's ``tau^-(k - p_flat)``).

        Parameters
        ----------
        r : float
            Order of the moment.

        Returns
        -------
        bool
        """
        return bool(self.tail_exponent + r < -1)

    def loglike_tau(self, tau: ArrayLike) -> np.ndarray:
        """Log likelihood of ``tau`` with ``b`` integrated out against its prior.

        ``log m(y | tau)``, the marginal likelihood of ``tau`` given by the normal
        conjugacy of ``b`` (with a flat prior on ``b``: up to a constant, the
        restricted likelihood of ``tau^2``).

        Parameters
        ----------
        tau : array_like
            Values of ``tau >= 0``.

        Returns
        -------
        ndarray
            ``log m(y | tau)``, one value per entry of ``tau`` (1-d).
        """
        return conditional(self.endog, self.vi, self.exog, self.coef_prior, tau).logm

    def fit(self, rtol: float = 1e-10, n_draws: int = 100_000,
            random_state: int | np.random.Generator | None = 0,
            max_intervals: int = 4000) -> BayesMetaResults:
        """Compute the posterior.

        The marginal posterior of ``tau`` is integrated by adaptive Gauss-Legendre
        quadrature (the moments of ``tau`` up to order 2 that exist are part of the
        error control); every other posterior is a normal mixture over the quadrature
        nodes.  The model is not changed.

        Parameters
        ----------
        rtol : float
            Target relative error of the quadrature over ``tau`` (default ``1e-10``).
        n_draws : int
            Monte Carlo draws of the joint posterior used for the quantiles, intervals
            and density of ``zeta^2`` (and ``zeta``) and by nothing else; at least
            1000 (default 100,000).
        random_state : int, numpy Generator or None
            Seed of those draws (default 0: results are reproducible).
        max_intervals : int
            Cap on the number of quadrature intervals (default 4000).

        Returns
        -------
        BayesMetaResults
            Posterior summaries, densities, marginal likelihood and draws.

        Raises
        ------
        ValueError
            If ``n_draws < 1000``.

        Examples
        --------
        >>> import metamodels as mm
        >>> from metamodels.bayes import BayesMeta, priors
        >>> es = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                     ci="cpos", di="cneg")
        >>> res = BayesMeta(es["yi"], es["vi"], tau_prior=priors.HalfCauchy(0.5)).fit(
        ...     n_draws=2000)
        >>> res.integration_error < 1e-8
        True
        """
        if int(n_draws) < 1000:
            raise ValueError(f"n_draws must be at least 1000, got {n_draws!r}")
        rng = np.random.default_rng(random_state)
        y, v, X = self.endog, self.vi, self.exog
        prior = self.tau_prior
        if isinstance(prior, pr.Fixed):
            post = None
            nodes, weights = np.array([prior.tau]), np.array([1.0])
            tau_draws = np.full(int(n_draws), prior.tau)
        else:
            logh = _LogPosterior(self)
            n_mom = max(r for r in (0, 1, 2) if r == 0 or self.moment_exists(r))
            scale = (float(np.sqrt(np.median(v))), float(max(np.std(y), np.sqrt(np.min(v)))))
            post = TauPosterior(logh, prior.support, scale, n_moments=n_mom, rtol=rtol,
                                max_intervals=max_intervals)
            nodes, weights = post.nodes, post.weights
            tau_draws = post.sample(int(n_draws), rng)
        cond = conditional(y, v, X, self.coef_prior, nodes)
        zeta2 = zeta2_draws(y, v, X, self.coef_prior, tau_draws, rng)
        return BayesMetaResults(self, post, nodes, weights, cond, zeta2)


class _LogPosterior:
    """Unnormalised log posterior of ``tau``: ``log p(tau) + log m(y | tau)`` (a picklable
    callable, so that fitted results can be pickled)."""

    def __init__(self, model):
        self.model = model

    def __call__(self, t):
        prior = self.model.tau_prior
        t = np.asarray(t, dtype=float)
        flat = t.ravel()
        out = np.full(flat.shape, -np.inf)
        lp = prior.logpdf(flat)
        ok = np.isfinite(lp) & np.isfinite(flat)
        if np.any(ok):
            out[ok] = lp[ok] + self.model.loglike_tau(flat[ok])
        return out.reshape(t.shape) if t.ndim else float(out[0])

