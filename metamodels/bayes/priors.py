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

Every ``tau`` prior reports its support, whether it is proper and the power-law
exponents of its density at 0 and at infinity (``p(tau) ~ tau^a0`` as
``tau -> 0``, ``p(tau) ~ tau^a_inf`` as ``tau -> inf``; ``-inf`` means faster than
any power).  :class:`~metamodels.bayes.BayesMeta` uses the exponents to decide
whether the posterior is proper: the likelihood integrated over ``mu`` is positive
and finite at ``tau = 0`` and decays like ``tau^-(k - p_flat)`` (``p_flat`` = number of
coefficients with a flat prior), so the posterior is proper iff ``a0 > -1`` (when the
support reaches 0) and ``a_inf - (k - p_flat) < -1`` (when it reaches infinity).
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import integrate, special, stats

from ..exceptions import SpecificationError

__all__ = [
    "ImproperPosteriorError", "Flat", "Normal", "MultivariateNormal", "TauPrior",
    "HalfNormal", "HalfCauchy", "HalfT", "Uniform", "Jeffreys", "LogUniformTau2",
    "GammaPrecision", "UniformPrecision", "ParetoPrecision", "Fixed", "Custom",
    "as_tau_prior",
]

_LOG2 = np.log(2.0)


class ImproperPosteriorError(SpecificationError):
    """The prior and the data give an improper (non-normalisable) posterior."""


def _positive(value, name, allow_inf=False):
    value = float(value)
    if not (value > 0 and (allow_inf or np.isfinite(value))):
        raise ValueError(f"{name} must be a positive{'' if allow_inf else ' finite'} number, "
                         f"got {value!r}")
    return value


# --------------------------------------------------------------------------- mu priors
class Flat:
    """Improper uniform prior on ``mu`` (or on every meta-regression coefficient)."""

    proper = False

    def __repr__(self):
        return "Flat()"


class Normal:
    """Normal prior ``N(loc, scale^2)`` on ``mu``; independent normals on coefficients.

    Parameters
    ----------
    loc, scale : float or array_like
        Mean and standard deviation; scalars are broadcast to every coefficient of a
        meta-regression, arrays must have one entry per coefficient.
    """

    proper = True

    def __init__(self, loc=0.0, scale=1.0):
        self.loc = np.asarray(loc, dtype=float)
        self.scale = np.asarray(scale, dtype=float)
        if not (np.all(np.isfinite(self.loc)) and np.all(np.isfinite(self.scale))
                and np.all(self.scale > 0)):
            raise ValueError("Normal prior needs finite loc and positive finite scale, got "
                             f"loc={loc!r}, scale={scale!r}")

    def mean_cov(self, p):
        """Prior mean (p,) and covariance (p, p) for ``p`` coefficients."""
        try:
            loc = np.broadcast_to(self.loc, (p,)).astype(float)
            scale = np.broadcast_to(self.scale, (p,)).astype(float)
        except ValueError:
            raise ValueError(f"the Normal prior has {self.loc.size} location(s) and "
                             f"{self.scale.size} scale(s) but the model has {p} "
                             "coefficients") from None
        return loc, np.diag(scale ** 2)

    def __repr__(self):
        fmt = lambda a: f"{float(a):g}" if a.size == 1 else np.array2string(a, precision=4)  # noqa: E731
        return f"Normal(loc={fmt(self.loc)}, scale={fmt(self.scale)})"


class MultivariateNormal:
    """Multivariate normal prior ``N(mean, cov)`` on the meta-regression coefficients."""

    proper = True

    def __init__(self, mean, cov):
        self.mean = np.atleast_1d(np.asarray(mean, dtype=float))
        self.cov = np.atleast_2d(np.asarray(cov, dtype=float))
        p = self.mean.size
        if self.cov.shape != (p, p) or not np.allclose(self.cov, self.cov.T):
            raise ValueError(f"cov must be a symmetric ({p}, {p}) matrix")
        if not np.all(np.isfinite(self.mean)) or np.any(np.linalg.eigvalsh(self.cov) <= 0):
            raise ValueError("MultivariateNormal prior needs a finite mean and a positive "
                             "definite covariance")

    def mean_cov(self, p):
        if self.mean.size != p:
            raise ValueError(f"the MultivariateNormal prior has {self.mean.size} entries but "
                             f"the model has {p} coefficients")
        return self.mean.copy(), self.cov.copy()

    def __repr__(self):
        return f"MultivariateNormal(mean={np.array2string(self.mean, precision=4)}, cov=...)"


def coefficient_prior(prior, p):
    """``(b0, P0, logdet P0)`` of a normal prior, or ``None`` for a flat prior."""
    if prior is None or isinstance(prior, Flat):
        return None
    if not isinstance(prior, (Normal, MultivariateNormal)):
        raise TypeError("mu_prior must be None, priors.Flat(), priors.Normal(...) or "
                        f"priors.MultivariateNormal(...), got {prior!r}")
    b0, cov = prior.mean_cov(p)
    P0 = np.linalg.inv(cov)
    return b0, 0.5 * (P0 + P0.T), float(-np.linalg.slogdet(cov)[1])


# -------------------------------------------------------------------------- tau priors
class TauPrior:
    """Base class of priors on the heterogeneity standard deviation ``tau``.

    Subclasses define ``_logpdf`` on the interior of ``support``; ``logpdf`` returns
    ``-inf`` outside.  For proper priors the density is normalised.
    """

    proper = True
    support = (0.0, np.inf)
    tails = (0.0, -np.inf)   # power-law exponents of the density at 0 and at infinity

    def logpdf(self, tau):
        """Log prior density of ``tau`` (vectorised; ``-inf`` outside the support)."""
        tau = np.asarray(tau, dtype=float)
        lo, hi = self.support
        out = np.full(tau.shape, -np.inf)
        inside = (tau >= lo) & (tau <= hi)
        if np.any(inside):
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                out[inside] = self._logpdf(tau[inside])
        return out

    def pdf(self, tau):
        """Prior density of ``tau``."""
        return np.exp(self.logpdf(tau))

    def bind(self, vi):
        """The prior specialised to sampling variances ``vi`` (data-dependent priors)."""
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
    """Half-normal prior: ``p(tau) = 2/scale * phi(tau/scale)``, ``tau >= 0``."""

    def __init__(self, scale=1.0):
        self.scale = _positive(scale, "scale")

    def _logpdf(self, tau):
        return _LOG2 + stats.norm.logpdf(tau, scale=self.scale)

    def _args(self):
        return {"scale": self.scale}


class HalfT(TauPrior):
    """Half-Student-t prior with ``df`` degrees of freedom and scale ``scale``."""

    def __init__(self, df=3.0, scale=1.0):
        self.df = _positive(df, "df")
        self.scale = _positive(scale, "scale")
        self.tails = (0.0, -(self.df + 1.0))

    def _logpdf(self, tau):
        return _LOG2 + stats.t.logpdf(tau, self.df, scale=self.scale)

    def _args(self):
        return {"df": self.df, "scale": self.scale}


class HalfCauchy(HalfT):
    """Half-Cauchy prior ``p(tau) = 2 / (pi scale (1 + (tau/scale)^2))`` (half-t, 1 df)."""

    def __init__(self, scale=1.0):
        super().__init__(1.0, scale)

    def _args(self):
        return {"scale": self.scale}


class Uniform(TauPrior):
    """Uniform prior on ``tau`` over ``[lower, upper]``; improper when ``upper`` is None."""

    def __init__(self, lower=0.0, upper=None):
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
    """Jeffreys prior for ``tau`` in the normal-normal model (bayesmeta's ``"Jeffreys"``).

    ``p(tau) ∝ sqrt(I(tau))`` with the Fisher information of ``tau`` in the marginal
    model ``y_i ~ N(mu, v_i + tau^2)``, ``I(tau) = 2 sum_i tau^2 / (v_i + tau^2)^2``
    (the ``mu``-``tau`` cross information is 0), i.e.
    ``p(tau) ∝ sqrt(sum_i (tau / (v_i + tau^2))^2)``.  It depends on the data's
    sampling variances, behaves like ``tau`` at 0 and ``1/tau`` at infinity, and is
    improper.  ``overall=True`` gives the "overall" Jeffreys prior
    ``sqrt(det I(mu, tau)) ∝ p(tau) sqrt(sum_i 1/(v_i + tau^2))``, which decays like
    ``tau^-2`` and is proper (normalised numerically).
    """

    proper = False
    tails = (1.0, -1.0)

    def __init__(self, overall=False):
        self.overall = bool(overall)
        self._vi = None
        self._lognorm = 0.0
        if self.overall:
            self.proper, self.tails = True, (1.0, -2.0)

    def bind(self, vi):
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
    """

    def __init__(self, lower, upper=None):
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
    """

    def __init__(self, shape=0.001, rate=0.001):
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
    """

    def __init__(self, upper=None, lower=0.0):
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
    """

    def __init__(self, shape=1.0, scale=1.0):
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
    """Point mass at ``tau^2 = tau2``: the conditional (empirical-Bayes-like) analysis."""

    def __init__(self, tau2):
        tau2 = float(tau2)
        if not (np.isfinite(tau2) and tau2 >= 0):
            raise ValueError(f"Fixed prior needs a non-negative finite tau2, got {tau2!r}")
        self.tau2 = tau2
        self.tau = float(np.sqrt(tau2))
        self.support = (self.tau, self.tau)
        self.tails = (np.inf, -np.inf)

    def logpdf(self, tau):
        """Not a density: a point mass (returns 0 at ``tau`` and ``-inf`` elsewhere)."""
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
    support : (lower, upper)
        Where the density is positive.
    log : bool
        Whether ``density`` returns the log density.
    label : str, optional

    Notes
    -----
    Whether the prior (and then the posterior) is proper is decided from numerically
    estimated power-law exponents of the density near the ends of the support (slopes
    of ``log p`` against ``log tau`` between ``1e-10`` and ``1e-8``, and between
    ``1e8`` and ``1e10``, times the typical standard error), so densities with
    logarithmic factors at the boundary can be misjudged.  Proper densities are
    normalised by adaptive quadrature.
    """

    def __init__(self, density, support=(0.0, np.inf), log=False, label=None):
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

    def bind(self, vi):
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


def as_tau_prior(prior):
    """Coerce ``prior`` (a :class:`TauPrior`, a callable density on ``tau`` or a frozen
    scipy distribution) to a :class:`TauPrior`."""
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
