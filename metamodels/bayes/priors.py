"""Prior distributions for :class:`~metamodels.bayes.BayesMeta`.

Two families:

* priors of the mean structure (``mu``, or the coefficients ``b`` of a
  meta-regression): :class:`Flat` (or ``None``), :class:`Normal` and
  :class:`MultivariateNormal`;
* priors of the heterogeneity standard deviation ``tau``, all expressed as densities
  on ``tau`` (a prior stated on ``tau^2`` or on the precision ``1/tau^2`` is
  transformed with the Jacobian): :class:`HalfNormal`, :class:`HalfCauchy`,
  :class:`HalfT`, :class:`Uniform`, :class:`Jeffreys`, :class:`LogUniformTau2`,
  :class:`GammaPrecision`, :class:`UniformPrecision`, :class:`ParetoPrecision`,
  :class:`Fixed` (a point mass) and :class:`Custom` (any user density; a plain
  callable is wrapped automatically).

Every ``tau`` prior reports its support (``support``), whether it is proper (``proper``)
and the power-law
exponents of its density at 0 and at infinity (``p(tau) ~ tau^a0`` as
``tau -> 0``, ``p(tau) ~ tau^a_inf`` as ``tau -> inf``; ``-inf`` means faster than
any power).  :class:`~metamodels.bayes.BayesMeta` uses the exponents to decide
whether the posterior is proper: the likelihood integrated over ``mu`` is positive
and finite at ``tau = 0`` and decays like ``tau^-(k - p_flat)`` (``p_flat`` = number of
coefficients with a flat prior), so the posterior is proper iff ``a0 > -1`` (when the
support reaches 0) and ``a_inf - (k - p_flat) < -1`` (when it reaches infinity).

Examples
--------
>>> from metamodels.bayes import priors
>>> prior = priors.HalfNormal(0.5)
>>> prior, prior.proper, prior.support
(HalfNormal(scale=0.5), True, (0.0, inf))
>>> print(priors.Jeffreys().tails)          # p(tau) ~ tau at 0 and ~ 1/tau at infinity
(1.0, -1.0)
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from scipy import integrate, special, stats

from ..exceptions import SpecificationError
from .mu_priors import Flat, MultivariateNormal, Normal, _positive

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = [
    "ImproperPosteriorError", "Flat", "Normal", "MultivariateNormal", "TauPrior",
    "HalfNormal", "HalfCauchy", "HalfT", "Uniform", "Jeffreys", "LogUniformTau2",
    "GammaPrecision", "UniformPrecision", "ParetoPrecision", "Fixed", "Custom",
    "as_tau_prior",
]

_LOG2 = np.log(2.0)


class ImproperPosteriorError(SpecificationError):
    """The prior and the data give an improper (non-normalisable) posterior."""


# -------------------------------------------------------------------------- tau priors
class TauPrior:
    """Base class of priors on the heterogeneity standard deviation ``tau``.

    Subclasses define ``_logpdf`` on the interior of ``support``; ``logpdf`` returns
    ``-inf`` outside.  For proper priors the density is normalised.

    Attributes
    ----------
    proper : bool
        Whether the density integrates to 1 (improper priors are unnormalised).
    support : tuple of float
        ``(lower, upper)`` limits of ``tau`` where the density is positive.
    tails : tuple of float
        Power-law exponents ``(a0, a_inf)`` of the density at 0 and at infinity
        (``p(tau) ~ tau^a0`` as ``tau -> 0``; ``-inf`` means faster than any power);
        :class:`~metamodels.bayes.BayesMeta` uses them to check that the posterior is
        proper.
    """

    proper = True
    support = (0.0, np.inf)
    tails = (0.0, -np.inf)   # power-law exponents of the density at 0 and at infinity

    def logpdf(self, tau: ArrayLike) -> np.ndarray:
        """Log prior density of ``tau`` (vectorised; ``-inf`` outside the support).

        Parameters
        ----------
        tau : array_like
            Values of the heterogeneity standard deviation.

        Returns
        -------
        ndarray
            ``log p(tau)``, same shape as ``tau`` (unnormalised for improper priors).
        """
        tau = np.asarray(tau, dtype=float)
        lo, hi = self.support
        out = np.full(tau.shape, -np.inf)
        inside = (tau >= lo) & (tau <= hi)
        if np.any(inside):
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                out[inside] = self._logpdf(tau[inside])
        return out

    def pdf(self, tau: ArrayLike) -> np.ndarray:
        """Prior density of ``tau``.

        Parameters
        ----------
        tau : array_like
            Values of the heterogeneity standard deviation.

        Returns
        -------
        ndarray
            ``p(tau) = exp(logpdf(tau))``, same shape as ``tau``.
        """
        return np.exp(self.logpdf(tau))

    def bind(self, vi: ArrayLike) -> TauPrior:
        """The prior specialised to sampling variances ``vi`` (data-dependent priors).

        :class:`~metamodels.bayes.BayesMeta` calls this with the studies' sampling
        variances; priors that do not depend on the data return themselves.

        Parameters
        ----------
        vi : array_like
            Sampling variances of the studies.

        Returns
        -------
        TauPrior
            ``self`` for data-independent priors, else a new bound prior.
        """
        return self

    def _logpdf(self, tau):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v!r}"
                         for k, v in self._args().items())
        return f"{type(self).__name__}({args})"

    def _args(self):
        return {}


class HalfNormal(TauPrior):
    r"""Half-normal prior: ``p(tau) = 2/scale * phi(tau/scale)``, ``tau >= 0``.

    Parameters
    ----------
    scale : float
        Scale (the standard deviation of the parent normal), positive; default 1.

    Raises
    ------
    ValueError
        If ``scale`` is not positive and finite.

    Notes
    -----
    .. math::

        p(\tau) = \frac{2}{s}\,\phi(\tau / s), \quad \tau \ge 0,

    proper, with prior median ``0.674 s``.  bayesmeta's ``dhalfnormal``; a common
    weakly informative choice for log odds or risk ratios is ``s = 0.5`` (Roever et al.
    2021).

    References
    ----------
    Roever C, Bender R, Dias S, et al. (2021). On weakly informative prior distributions
    for the heterogeneity parameter in Bayesian random-effects meta-analysis. Research
    Synthesis Methods 12(4), 448-474.

    Examples
    --------
    >>> from metamodels.bayes import priors
    >>> priors.HalfNormal(0.5).pdf([0.0, 0.5]).round(4)
    array([1.5958, 0.9679])
    """

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = _positive(scale, "scale")

    def _logpdf(self, tau):
        return _LOG2 + stats.norm.logpdf(tau, scale=self.scale)

    def _args(self):
        return {"scale": self.scale}


class HalfT(TauPrior):
    r"""Half-Student-t prior with ``df`` degrees of freedom and scale ``scale``.

    Parameters
    ----------
    df : float
        Degrees of freedom ``nu > 0`` (default 3).
    scale : float
        Scale ``s > 0`` (default 1).

    Raises
    ------
    ValueError
        If ``df`` or ``scale`` is not positive and finite.

    Notes
    -----
    .. math::

        p(\tau) = \frac{2}{s}\, t_\nu(\tau / s), \quad \tau \ge 0,

    with ``t_nu`` the Student-t density; it decays like ``tau^-(nu + 1)`` (Gelman 2006).

    References
    ----------
    Gelman A (2006). Prior distributions for variance parameters in hierarchical
    models. Bayesian Analysis 1(3), 515-534.

    Examples
    --------
    >>> from metamodels.bayes import priors
    >>> priors.HalfT(3, 0.5)
    HalfT(df=3, scale=0.5)
    """

    def __init__(self, df: float = 3.0, scale: float = 1.0) -> None:
        self.df = _positive(df, "df")
        self.scale = _positive(scale, "scale")
        self.tails = (0.0, -(self.df + 1.0))

    def _logpdf(self, tau):
        return _LOG2 + stats.t.logpdf(tau, self.df, scale=self.scale)

    def _args(self):
        return {"df": self.df, "scale": self.scale}


class HalfCauchy(HalfT):
    r"""Half-Cauchy prior ``p(tau) = 2 / (pi scale (1 + (tau/scale)^2))`` (half-t, 1 df).

    Parameters
    ----------
    scale : float
        Scale ``s > 0`` (default 1), the prior median of ``tau``.

    Raises
    ------
    ValueError
        If ``scale`` is not positive and finite.

    Notes
    -----
    .. math::

        p(\tau) = \frac{2}{\pi s \,(1 + (\tau / s)^2)}, \quad \tau \ge 0.

    Proper, but with no finite mean: posterior moments of ``tau`` exist only thanks to
    the likelihood (Gelman 2006; bayesmeta's ``dhalfcauchy``).

    References
    ----------
    Gelman A (2006). Prior distributions for variance parameters in hierarchical
    models. Bayesian Analysis 1(3), 515-534.

    Examples
    --------
    >>> from metamodels.bayes import priors
    >>> prior = priors.HalfCauchy(0.5)
    >>> prior, prior.tails
    (HalfCauchy(scale=0.5), (0.0, -2.0))
    """

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__(1.0, scale)

    def _args(self):
        return {"scale": self.scale}


class Uniform(TauPrior):
    """Uniform prior on ``tau`` over ``[lower, upper]``; improper when ``upper`` is None.

    Parameters
    ----------
    lower : float
        Lower limit, ``>= 0`` (default 0).
    upper : float or None
        Upper limit, ``> lower``; ``None`` (default) gives the improper flat prior on
        ``(lower, inf)``, whose posterior is proper only with more than
        ``p_flat + 1`` studies (see :mod:`metamodels.bayes.priors`).

    Raises
    ------
    ValueError
        Unless ``0 <= lower < upper``.

    Examples
    --------
    >>> from metamodels.bayes import priors
    >>> prior = priors.Uniform(0, 10)
    >>> round(float(prior.pdf(2.0)), 6), float(prior.pdf(11.0)), prior.proper
    (0.1, 0.0, True)
    """

    def __init__(self, lower: float = 0.0, upper: float | None = None) -> None:
        lower = float(lower)
        upper = np.inf if upper is None else float(upper)
        if not (0 <= lower < upper):
            raise ValueError(f"Uniform prior needs 0 <= lower < upper, got {lower!r}, {upper!r}")
        self.lower, self.upper = lower, upper
        self.support = (lower, upper)
        self.proper = bool(np.isfinite(upper))
        self.tails = (0.0, 0.0)

    def _logpdf(self, tau):
        c = -np.log(self.upper - self.lower) if self.proper else 0.0
        return np.full(tau.shape, c)

    def _args(self):
        return {"lower": self.lower, "upper": self.upper if self.proper else None}


class Jeffreys(TauPrior):
    r"""Jeffreys prior for ``tau`` in the normal-normal model (bayesmeta's ``"Jeffreys"``).

    ``p(tau) ∝ sqrt(I(tau))`` with the Fisher information of ``tau`` in the marginal
    model ``y_i ~ N(mu, v_i + tau^2)``, ``I(tau) = 2 sum_i tau^2 / (v_i + tau^2)^2``
    (the ``mu``-``tau`` cross information is 0), i.e.
    ``p(tau) ∝ sqrt(sum_i (tau / (v_i + tau^2))^2)``.  It depends on the data's
    sampling variances, behaves like ``tau`` at 0 and ``1/tau`` at infinity, and is
    improper.  ``overall=True`` gives the "overall" Jeffreys prior
    ``sqrt(det I(mu, tau)) ∝ p(tau) sqrt(sum_i 1/(v_i + tau^2))``, which decays like
    ``tau^-2`` and is proper (normalised numerically).

    Parameters
    ----------
    overall : bool
        ``False`` (default): the Jeffreys prior of ``tau`` alone (improper);
        ``True``: the overall Jeffreys prior of ``(mu, tau)`` (proper).

    Notes
    -----
    .. math::

        p(\tau) \propto \sqrt{\sum_i \left(\frac{\tau}{v_i + \tau^2}\right)^2},
        \qquad
        p_{\text{overall}}(\tau) \propto p(\tau) \sqrt{\sum_i \frac{1}{v_i + \tau^2}}.

    The prior is evaluated only after :meth:`bind` (``BayesMeta`` binds it to the
    data's sampling variances); an unbound prior raises ``ValueError`` when evaluated.

    References
    ----------
    Bodnar O, Link A, Arendacka B, Possolo A, Elster C (2017). Bayesian estimation in
    random effects meta-analysis using a non-informative prior. Statistics in Medicine
    36(2), 378-399.

    Examples
    --------
    >>> from metamodels.bayes import priors
    >>> prior = priors.Jeffreys().bind([0.1, 0.2, 0.3])
    >>> prior.logpdf([0.1]).round(4)
    array([0.073])
    """

    proper = False
    tails = (1.0, -1.0)

    def __init__(self, overall: bool = False) -> None:
        self.overall = bool(overall)
        self._vi = None
        self._lognorm = 0.0
        if self.overall:
            self.proper, self.tails = True, (1.0, -2.0)

    def bind(self, vi: ArrayLike) -> Jeffreys:
        """A copy of the prior bound to the sampling variances ``vi``.

        Parameters
        ----------
        vi : array_like
            Sampling variances of the studies.

        Returns
        -------
        Jeffreys
            The bound prior (normalised numerically when ``overall=True``).
        """
        new = Jeffreys(self.overall)
        new._vi = np.asarray(vi, dtype=float)
        if new.overall:
            s = float(np.sqrt(np.median(new._vi)))
            f = lambda t: float(np.exp(new._logpdf(np.array([t]))[0]))  # noqa: E731
            total = sum(integrate.quad(f, a, b, limit=200)[0]
                        for a, b in ((0, s), (s, 100 * s), (100 * s, np.inf)))
            new._lognorm = float(np.log(total))
        return new

    def _logpdf(self, tau):
        if self._vi is None:
            raise ValueError("the Jeffreys prior depends on the sampling variances; use "
                             "prior.bind(vi) (BayesMeta does this)")
        tau = np.asarray(tau, dtype=float)
        d = self._vi[None, :] + tau[:, None] ** 2
        out = np.log(tau) + 0.5 * np.log(np.sum(d ** -2.0, axis=1))
        if self.overall:
            out = out + 0.5 * np.log(np.sum(1.0 / d, axis=1)) - self._lognorm
        return out

    def _args(self):
        return {"overall": self.overall} if self.overall else {}


class LogUniformTau2(TauPrior):
    """Log-uniform prior on ``tau^2`` over ``[lower, upper]`` (``p(tau^2) ∝ 1/tau^2``).

    On ``tau``: ``p(tau) = 2 / (tau log(upper/lower))`` for
    ``sqrt(lower) <= tau <= sqrt(upper)``.  ``lower=0`` or ``upper=None`` give the
    improper ``1/tau^2`` prior; with ``lower=0`` the posterior is always improper.

    Parameters
    ----------
    lower : float
        Lower limit of ``tau^2``, ``>= 0``.
    upper : float or None
        Upper limit of ``tau^2``, ``> lower``; ``None`` (default) for no upper limit.

    Raises
    ------
    ValueError
        Unless ``0 <= lower < upper``.

    Examples
    --------
    >>> from metamodels.bayes import priors
    >>> prior = priors.LogUniformTau2(1e-4, 100)
    >>> [float(t) for t in prior.support], prior.proper
    ([0.01, 10.0], True)
    """

    def __init__(self, lower: float, upper: float | None = None) -> None:
        lower = float(lower)
        upper = np.inf if upper is None else float(upper)
        if not (0 <= lower < upper):
            raise ValueError("LogUniformTau2 needs 0 <= lower < upper (values of tau^2), got "
                             f"{lower!r}, {upper!r}")
        self.lower, self.upper = lower, upper
        self.support = (np.sqrt(lower), np.sqrt(upper))
        self.proper = bool(lower > 0 and np.isfinite(upper))
        self.tails = (-1.0, -1.0)

    def _logpdf(self, tau):
        c = np.log(2.0 / np.log(self.upper / self.lower)) if self.proper else 0.0
        return c - np.log(tau)

    def _args(self):
        return {"lower": self.lower, "upper": self.upper}


class GammaPrecision(TauPrior):
    """Gamma(shape, rate) prior on the precision ``1/tau^2`` (inverse-gamma on ``tau^2``).

    On ``tau``: ``p(tau) = 2 b^a / Gamma(a) tau^-(2a+1) exp(-b/tau^2)``.  The classic
    "vague" choice ``GammaPrecision(0.001, 0.001)`` is proper but nearly improper and
    far from uninformative on ``tau`` (Gelman 2006).

    Parameters
    ----------
    shape, rate : float
        ``a > 0`` and ``b > 0`` of the gamma distribution of ``1/tau^2`` (defaults
        0.001 and 0.001).

    Raises
    ------
    ValueError
        If ``shape`` or ``rate`` is not positive and finite.

    References
    ----------
    Gelman A (2006). Prior distributions for variance parameters in hierarchical
    models. Bayesian Analysis 1(3), 515-534.

    Examples
    --------
    >>> from metamodels.bayes import priors
    >>> priors.GammaPrecision(0.001, 0.001)
    GammaPrecision(shape=0.001, rate=0.001)
    """

    def __init__(self, shape: float = 0.001, rate: float = 0.001) -> None:
        self.shape = _positive(shape, "shape")
        self.rate = _positive(rate, "rate")
        self.tails = (np.inf, -(2 * self.shape + 1))

    def _logpdf(self, tau):
        a, b = self.shape, self.rate
        return a * np.log(b) - special.gammaln(a) + _LOG2 - (2 * a + 1) * np.log(tau) - b / tau ** 2

    def _args(self):
        return {"shape": self.shape, "rate": self.rate}


class UniformPrecision(TauPrior):
    """Uniform prior on the precision ``1/tau^2`` over ``[lower, upper]``.

    On ``tau``: ``p(tau) = 2 tau^-3 / (upper - lower)`` for
    ``upper^-1/2 <= tau <= lower^-1/2``.  ``upper=None`` is the improper flat prior on
    the precision, whose ``tau^-3`` spike at 0 always gives an improper posterior.

    Parameters
    ----------
    upper : float or None
        Upper limit of the precision (default ``None``: no limit, improper).
    lower : float
        Lower limit of the precision, ``>= 0`` (default 0).

    Raises
    ------
    ValueError
        Unless ``0 <= lower < upper``.

    Examples
    --------
    >>> from metamodels.bayes import priors
    >>> priors.UniformPrecision(upper=100).support          # tau between 0.1 and inf
    (0.1, inf)
    """

    def __init__(self, upper: float | None = None, lower: float = 0.0) -> None:
        lower = float(lower)
        upper = np.inf if upper is None else float(upper)
        if not (0 <= lower < upper):
            raise ValueError("UniformPrecision needs 0 <= lower < upper (values of 1/tau^2), "
                             f"got lower={lower!r}, upper={upper!r}")
        self.lower, self.upper = lower, upper
        with np.errstate(divide="ignore"):
            self.support = (float(upper ** -0.5), float(np.float64(lower) ** -0.5))
        self.proper = bool(np.isfinite(upper))
        self.tails = (-3.0, -3.0)

    def _logpdf(self, tau):
        c = np.log(2.0 / (self.upper - self.lower)) if self.proper else _LOG2
        return c - 3.0 * np.log(tau)

    def _args(self):
        return {"upper": self.upper if self.proper else None, "lower": self.lower}


class ParetoPrecision(TauPrior):
    """Pareto(shape, scale) prior on the precision ``1/tau^2`` (``1/tau^2 >= scale``).

    On ``tau``: ``p(tau) = 2 a s^a tau^(2a - 1)`` for ``0 < tau <= s^-1/2``.

    Parameters
    ----------
    shape : float
        Pareto shape ``a > 0`` (default 1).
    scale : float
        Pareto scale ``s > 0`` (default 1): the smallest precision, so
        ``tau <= s^-1/2``.

    Raises
    ------
    ValueError
        If ``shape`` or ``scale`` is not positive and finite.

    Examples
    --------
    >>> from metamodels.bayes import priors
    >>> priors.ParetoPrecision(1, 4).support
    (0.0, 0.5)
    """

    def __init__(self, shape: float = 1.0, scale: float = 1.0) -> None:
        self.shape = _positive(shape, "shape")
        self.scale = _positive(scale, "scale")
        self.support = (0.0, self.scale ** -0.5)
        self.tails = (2 * self.shape - 1, -np.inf)

    def _logpdf(self, tau):
        a, s = self.shape, self.scale
        return np.log(2 * a) + a * np.log(s) + (2 * a - 1) * np.log(tau)

    def _args(self):
        return {"shape": self.shape, "scale": self.scale}


class Fixed(TauPrior):
    """Point mass at ``tau^2 = tau2``: the conditional (empirical-Bayes-like) analysis.

    With a fixed ``tau`` every posterior is exactly normal (no quadrature); with
    ``tau2=0`` the model is the Bayesian fixed-effect (common-effect) model.

    Parameters
    ----------
    tau2 : float
        The heterogeneity variance, finite and ``>= 0`` (e.g. the REML estimate, for
        an empirical-Bayes analysis).

    Raises
    ------
    ValueError
        If ``tau2`` is negative or not finite.

    Examples
    --------
    >>> from metamodels.bayes import priors
    >>> prior = priors.Fixed(0.04)
    >>> prior.tau, prior.logpdf([0.2, 0.3]).tolist()
    (0.2, [0.0, -inf])
    """

    def __init__(self, tau2: float) -> None:
        tau2 = float(tau2)
        if not (np.isfinite(tau2) and tau2 >= 0):
            raise ValueError(f"Fixed prior needs a non-negative finite tau2, got {tau2!r}")
        self.tau2 = tau2
        self.tau = float(np.sqrt(tau2))
        self.support = (self.tau, self.tau)
        self.tails = (np.inf, -np.inf)

    def logpdf(self, tau: ArrayLike) -> np.ndarray:
        """Not a density: a point mass (returns 0 at ``tau`` and ``-inf`` elsewhere).

        Parameters
        ----------
        tau : array_like
            Values of the heterogeneity standard deviation.

        Returns
        -------
        ndarray
            0 where ``tau`` equals the fixed value, ``-inf`` elsewhere.
        """
        tau = np.asarray(tau, dtype=float)
        return np.where(tau == self.tau, 0.0, -np.inf)

    def _args(self):
        return {"tau2": self.tau2}


class Custom(TauPrior):
    """Any user density on ``tau`` (need not be normalised).

    Parameters
    ----------
    density : callable
        ``density(tau)`` returning the (log, with ``log=True``) density; called with
        an array, or element-wise if that fails.
    support : tuple of float
        ``(lower, upper)``, where the density is positive (default ``(0, inf)``).
    log : bool
        Whether ``density`` returns the log density (default False).
    label : str, optional
        Name shown by ``repr`` and in summaries.

    Raises
    ------
    TypeError
        If ``density`` is not callable.
    ValueError
        Unless ``0 <= lower < upper``; when bound (by ``BayesMeta``), if the density is
        negative or a proper density cannot be integrated.

    Notes
    -----
    Whether the prior (and then the posterior) is proper is decided from numerically
    estimated power-law exponents of the density near the ends of the support (slopes
    of ``log p`` against ``log tau`` between ``1e-10`` and ``1e-8``, and between
    ``1e8`` and ``1e10``, times the typical standard error), so densities with
    logarithmic factors at the boundary can be misjudged.  Proper densities are
    normalised by adaptive quadrature.  Whether the prior is proper is unknown
    (``proper is None``) until :meth:`bind`.

    Examples
    --------
    >>> import numpy as np
    >>> from metamodels.bayes import priors
    >>> prior = priors.Custom(lambda t: np.exp(-t), label="exponential(1)")
    >>> bound = prior.bind([0.1, 0.2])
    >>> bound, bound.proper, round(float(bound.pdf(0.0)), 6)
    (exponential(1), True, 1.0)
    """

    def __init__(self, density: Callable[[np.ndarray], ArrayLike],
                 support: tuple[float, float] = (0.0, np.inf), log: bool = False,
                 label: str | None = None) -> None:
        if not callable(density):
            raise TypeError(f"density must be callable, got {density!r}")
        lo, hi = (float(support[0]), float(support[1]))
        if not (0 <= lo < hi):
            raise ValueError(f"support must satisfy 0 <= lower < upper, got {support!r}")
        self.density, self.log, self.label = density, bool(log), label
        self.support = (lo, hi)
        self._lognorm = 0.0
        self._bound = False
        self.proper = None

    def _raw(self, tau):
        tau = np.asarray(tau, dtype=float)
        try:
            val = np.asarray(self.density(tau), dtype=float)
            if val.shape != tau.shape:
                raise ValueError
        except Exception:
            val = np.array([float(self.density(float(t))) for t in tau.ravel()]).reshape(tau.shape)
        if self.log:
            return val
        if np.any(val < 0):
            raise ValueError("the user tau prior density returned negative values")
        with np.errstate(divide="ignore"):
            return np.log(val)

    def _logpdf(self, tau):
        return self._raw(tau) - self._lognorm

    def bind(self, vi: ArrayLike) -> Custom:
        """A copy whose tails, propriety and normalisation are determined numerically.

        The scale of the checks is ``sqrt(median(vi))`` (see Notes of the class).

        Parameters
        ----------
        vi : array_like
            Sampling variances of the studies.

        Returns
        -------
        Custom
            The bound prior (``self`` if already bound).

        Raises
        ------
        ValueError
            If a proper density cannot be integrated to a positive finite value.
        """
        if self._bound:
            return self
        new = Custom(self.density, self.support, self.log, self.label)
        new._bound = True
        s = float(np.sqrt(np.median(np.asarray(vi, dtype=float))))
        lo, hi = new.support
        a0 = _slope(new._raw, s * 1e-10, s * 1e-8) if lo == 0 else np.inf
        ainf = _slope(new._raw, s * 1e8, s * 1e10) if np.isinf(hi) else -np.inf
        new.tails = (a0, ainf)
        new.proper = bool(a0 > -1 + 1e-3 and ainf < -1 - 1e-3)
        if new.proper:
            f = lambda t: float(np.exp(new._raw(np.array([t]))[0]))  # noqa: E731
            cuts = [lo] + [c for c in (s, 100 * s) if lo < c < hi] + [hi]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", integrate.IntegrationWarning)
                total = sum(integrate.quad(f, a, b, limit=200)[0] for a, b in zip(cuts, cuts[1:]))
            if not (np.isfinite(total) and total > 0):
                raise ValueError("the user tau prior density could not be integrated")
            new._lognorm = float(np.log(total))
        return new

    def __repr__(self):
        return self.label or f"Custom({getattr(self.density, '__name__', 'density')})"


def _slope(logf, t1, t2):
    """Power-law exponent of ``exp(logf)`` between ``t1`` and ``t2``."""
    l1, l2 = logf(np.array([t1, t2]))
    if np.isneginf(l1) and np.isneginf(l2):
        return np.inf if t1 < 1 else -np.inf
    if not (np.isfinite(l1) and np.isfinite(l2)):
        return -np.inf if t1 < 1 else np.inf
    return float((l2 - l1) / (np.log(t2) - np.log(t1)))


def as_tau_prior(prior: TauPrior | Callable[..., Any] | Any) -> TauPrior:
    """Coerce ``prior`` to a :class:`TauPrior`.

    Parameters
    ----------
    prior : TauPrior, frozen scipy distribution or callable
        A :class:`TauPrior` is returned unchanged; a frozen ``scipy.stats``
        distribution (anything with ``logpdf`` and ``support()``) becomes a
        :class:`Custom` log density on its support (cut at 0); any other callable is
        taken as an unnormalised density on ``tau`` (:class:`Custom`).

    Returns
    -------
    TauPrior

    Raises
    ------
    ValueError
        If ``prior`` is None (a ``tau`` prior is required).
    TypeError
        If ``prior`` is none of the above.

    Examples
    --------
    >>> from scipy import stats
    >>> from metamodels.bayes import priors
    >>> priors.as_tau_prior(priors.HalfNormal(0.5))
    HalfNormal(scale=0.5)
    >>> priors.as_tau_prior(stats.halfnorm(scale=0.5))
    scipy halfnorm
    """
    if isinstance(prior, TauPrior):
        return prior
    if prior is None:
        raise ValueError("tau_prior is required, e.g. priors.HalfNormal(0.5) for log odds or "
                         "risk ratios; see metamodels.bayes.priors for the choices")
    if hasattr(prior, "logpdf") and hasattr(prior, "support"):
        lo, hi = prior.support()
        return Custom(prior.logpdf, support=(max(float(lo), 0.0), float(hi)), log=True,
                      label=f"scipy {getattr(getattr(prior, 'dist', None), 'name', 'dist')}")
    if callable(prior):
        return Custom(prior)
    raise TypeError(f"tau_prior must be a metamodels.bayes.priors prior or a callable "
                    f"density on tau, got {prior!r}")
