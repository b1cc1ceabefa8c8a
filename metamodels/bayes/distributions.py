"""One-dimensional posterior distributions of :class:`~metamodels.bayes.BayesMetaResults`.

* :class:`NormalMixture` -- ``sum_j W_j N(m_j, s_j^2)`` over the quadrature nodes of
  ``tau`` (``mu``, coefficients, ``theta[i]``, ``theta_new``, ``beta_F``);
* :class:`TauDistribution` -- the marginal posterior of ``tau`` (``power=1``) or of
  ``tau^2`` (``power=2``) from the exact quadrature;
* :class:`SampleDistribution` -- Monte Carlo draws (``zeta2``, ``zeta``), optionally
  with exact moments;
* :class:`PointMass` -- ``tau`` and ``tau^2`` under a fixed ``tau^2``.

All share ``mean``, ``sd``, ``cdf``, ``ppf``, ``pdf``, ``logpdf``, ``hpd`` and ``mode``.
Shortest (HPD) intervals assume a unimodal density: the interval ``[Q(p), Q(p+1-a)]``
is found from ``f(Q(p)) = f(Q(p+1-a))`` (or at ``p = 0``/``p = a`` when the density is
monotone on the support).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize, special, stats

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .integration import TauPosterior

__all__ = ["NormalMixture", "TauDistribution", "SampleDistribution", "PointMass"]


class _Base:
    """Shared interface: ``mean`` and ``var`` attributes, ``bounds`` of the support,
    ``exact`` (False for Monte Carlo distributions)."""

    exact = True
    bounds = (-np.inf, np.inf)

    @property
    def sd(self) -> float:
        """Standard deviation (``inf``/``nan`` when the variance does not exist)."""
        v = self.var
        return float(np.sqrt(v)) if np.isfinite(v) and v >= 0 else float(v)

    def median(self) -> float:
        """The 0.5 quantile.

        Returns
        -------
        float
        """
        return float(self.ppf(0.5))

    def central(self, alpha: float) -> tuple[float, float]:
        """Equal-tailed ``1 - alpha`` interval.

        Parameters
        ----------
        alpha : float
            Tail probability, ``alpha / 2`` on each side.

        Returns
        -------
        tuple of float
            The ``alpha / 2`` and ``1 - alpha / 2`` quantiles.
        """
        return float(self.ppf(alpha / 2)), float(self.ppf(1 - alpha / 2))

    def hpd(self, alpha: float) -> tuple[float, float]:
        """Shortest ``1 - alpha`` interval (highest density, for a unimodal density).

        Parameters
        ----------
        alpha : float
            One minus the probability of the interval.

        Returns
        -------
        tuple of float
            ``(Q(p), Q(p + 1 - alpha))`` with ``f(Q(p)) = f(Q(p + 1 - alpha))`` (or
            ``p`` at an end of its range when the density is monotone).
        """
        lo_b, hi_b = self.bounds
        p_min = 0.0 if np.isfinite(lo_b) else alpha * 1e-4
        p_max = alpha if np.isfinite(hi_b) else alpha * (1 - 1e-4)
        # coarse global search of the interval length (guards against non-unimodal
        # densities such as tau^2's spike at 0), then the exact optimality condition
        # f(Q(p)) = f(Q(p + 1 - alpha)) on the bracketing cell
        grid = np.linspace(p_min, p_max, 41)
        length = self.ppf_many(grid + 1 - alpha) - self.ppf_many(grid)
        j = int(np.argmin(length))
        a, b = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]

        def d(p):
            la = self.logpdf(self.ppf(p))
            lb = self.logpdf(self.ppf(p + 1 - alpha))
            return 0.0 if la == lb else la - lb   # inf - inf counts as equal

        da, db = d(a), d(b)
        if da < 0 < db:
            p = optimize.brentq(d, a, b, xtol=1e-14, rtol=1e-12)
        else:
            p = grid[j]
        return float(self.ppf(p)), float(self.ppf(p + 1 - alpha))

    def pdf(self, x: ArrayLike) -> float | np.ndarray:
        """Density, ``exp(logpdf(x))``.

        Parameters
        ----------
        x : float or array_like
            Values of the quantity.

        Returns
        -------
        float or ndarray
            A float for scalar ``x``, else an array of the shape of ``x``.
        """
        with np.errstate(over="ignore"):
            return np.exp(self.logpdf(x))

    def ppf_many(self, q: ArrayLike) -> np.ndarray:
        """Quantiles at several probabilities.

        Parameters
        ----------
        q : array_like
            Probabilities.

        Returns
        -------
        ndarray
            One quantile per entry of ``q`` (1-d).
        """
        return np.array([self.ppf(p) for p in np.ravel(q)])


class NormalMixture(_Base):
    """``sum_j w_j N(means_j, sds_j^2)``; ``mean``/``var`` may be given (e.g. ``inf``).

    Parameters
    ----------
    weights : ndarray (n,)
        Mixture weights (normalised here; components below ``1e-18`` of the largest
        weight are dropped).
    means, sds : array_like (n,)
        Means and standard deviations (positive) of the components.
    mean, var : float, optional
        Moments to report instead of the mixture's own (``inf``/``nan`` when the
        posterior moment does not exist although the finite mixture has one).

    Raises
    ------
    ValueError
        If a standard deviation is not positive.
    """

    def __init__(self, weights: np.ndarray, means: ArrayLike, sds: ArrayLike,
                 mean: float | None = None, var: float | None = None) -> None:
        keep = weights > 1e-18 * weights.max()       # the rest carry < 1e-15 in total
        self.w = weights[keep] / weights[keep].sum()
        self.m = np.asarray(means, dtype=float)[keep]
        self.s = np.asarray(sds, dtype=float)[keep]
        if np.any(self.s <= 0):
            raise ValueError("normal mixture components need positive standard deviations")
        self.mean = float(self.w @ self.m) if mean is None else float(mean)
        if var is None:
            var = float(self.w @ (self.s ** 2 + self.m ** 2)) - self.mean ** 2
        self.var = max(float(var), 0.0) if np.isfinite(var) else float(var)
        self._tab = None
        self._lo = float(np.min(self.m - 40 * self.s))
        self._hi = float(np.max(self.m + 40 * self.s))

    def cdf(self, x: ArrayLike) -> float | np.ndarray:
        """Distribution function.

        Parameters
        ----------
        x : float or array_like
            Values of the quantity.

        Returns
        -------
        float or ndarray
            A float for scalar ``x``, else an array of the shape of ``x``.
        """
        x = np.asarray(x, dtype=float)
        z = (x.reshape(-1, 1) - self.m) / self.s
        out = special.ndtr(z) @ self.w
        return out.reshape(x.shape) if x.ndim else float(out[0])

    @property
    def _table(self):
        """CDF on a grid (initial values of the quantile iterations)."""
        if self._tab is None:
            centre = self.mean if np.isfinite(self.mean) else float(self.w @ self.m)
            spread = self.sd if np.isfinite(self.var) else float(np.sqrt(self.w @ self.s ** 2))
            x = centre + spread * np.linspace(-20, 20, 801)
            z = (x.reshape(-1, 1) - self.m) / self.s
            lower = special.ndtri(np.clip(special.ndtr(z) @ self.w, 1e-300, 0.5))
            upper = -special.ndtri(np.clip(special.ndtr(-z) @ self.w, 1e-300, 0.5))
            probit = np.where(lower < 0, lower, upper)          # accurate in both tails
            keep = np.concatenate([[True], np.diff(probit) > 0])
            self._tab = (probit[keep], x[keep])
        return self._tab

    def _cdf_pdf(self, x):
        z = (x.reshape(-1, 1) - self.m) / self.s
        phi = np.exp(-0.5 * z * z) / (np.sqrt(2 * np.pi) * self.s)
        return special.ndtr(z) @ self.w, phi @ self.w

    def logpdf(self, x: ArrayLike) -> float | np.ndarray:
        """Log density (log-sum-exp over the components).

        Parameters
        ----------
        x : float or array_like
            Values of the quantity.

        Returns
        -------
        float or ndarray
            A float for scalar ``x``, else an array of the shape of ``x``.
        """
        x = np.asarray(x, dtype=float)
        z = (x.reshape(-1, 1) - self.m) / self.s
        lp = -0.5 * z * z - np.log(self.s) - 0.5 * np.log(2 * np.pi) + np.log(self.w)
        out = special.logsumexp(lp, axis=1)
        return out.reshape(x.shape) if x.ndim else float(out[0])

    def ppf(self, q: float) -> float:
        """Quantile at probability ``q``.

        Parameters
        ----------
        q : float
            Probability in ``[0, 1]`` (0 and 1 give ``-inf`` and ``inf``).

        Returns
        -------
        float
        """
        return float(self.ppf_many(np.array([float(q)]))[0])

    def ppf_many(self, q: ArrayLike) -> np.ndarray:
        """Quantiles by vectorised safeguarded Newton iterations (bisection fallback).

        Parameters
        ----------
        q : array_like
            Probabilities.

        Returns
        -------
        ndarray
            One quantile per entry of ``q`` (1-d), to about ``1e-14`` relative.
        """
        q = np.asarray(q, dtype=float).ravel()
        out = np.where(q <= 0, -np.inf, np.inf)
        todo = (q > 0) & (q < 1)
        qq = q[todo]
        lo, hi = np.full(qq.shape, self._lo), np.full(qq.shape, self._hi)
        x = np.clip(np.interp(special.ndtri(qq), *self._table), lo, hi)
        for _ in range(200):
            F, f = self._cdf_pdf(x)
            lo = np.where(F < qq, x, lo)
            hi = np.where(F >= qq, x, hi)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                xn = x - (F - qq) / f
            bad = ~np.isfinite(xn) | (xn < lo) | (xn > hi)
            xn = np.where(bad, 0.5 * (lo + hi), xn)
            hit = np.abs(F - qq) <= 4e-16
            xn = np.where(hit, x, xn)
            done = (hit | (np.abs(xn - x) <= 1e-14 * np.maximum(1.0, np.abs(x)))
                    | (hi - lo <= 4e-16 * np.maximum(1.0, np.abs(x))))
            x = xn
            if np.all(done):
                break
        out[todo] = x
        return out

    def mode(self) -> float:
        """Maximiser of the density (grid search, then bounded scalar minimisation).

        Returns
        -------
        float
        """
        x = np.linspace(self.ppf(0.002), self.ppf(0.998), 2001)
        j = int(np.argmax(self.logpdf(x)))
        a, b = x[max(j - 1, 0)], x[min(j + 1, x.size - 1)]
        res = optimize.minimize_scalar(lambda t: -self.logpdf(t), bounds=(a, b),
                                       method="bounded", options={"xatol": 1e-12})
        return float(res.x)


class TauDistribution(_Base):
    """Posterior of ``tau**power`` from a :class:`~metamodels.bayes.integration.TauPosterior`.

    Parameters
    ----------
    post : TauPosterior
        The quadrature of the marginal posterior of ``tau``.
    power : int
        1 for ``tau``, 2 for ``tau^2``.
    mean, var : float
        Posterior mean and variance of ``tau**power`` (computed by the caller).
    """

    def __init__(self, post: TauPosterior, power: int = 1, mean: float = np.nan,
                 var: float = np.nan) -> None:
        self.post, self.power = post, int(power)
        self.mean, self.var = float(mean), float(var)
        self.bounds = (post.lo ** power, post.hi ** power)

    def _t(self, x):
        return np.asarray(x, dtype=float) ** (1.0 / self.power)

    def cdf(self, x: ArrayLike) -> float | np.ndarray:
        """Distribution function.

        Parameters
        ----------
        x : float or array_like
            Values of the quantity.

        Returns
        -------
        float or ndarray
            A float for scalar ``x``, else an array of the shape of ``x``.
        """
        return self.post.cdf(self._t(x))

    def ppf(self, q: float) -> float:
        """Quantile at probability ``q``.

        Parameters
        ----------
        q : float
            Probability in ``[0, 1]``.

        Returns
        -------
        float
        """
        return float(self.post.ppf(float(q))) ** self.power

    def ppf_many(self, q: ArrayLike) -> np.ndarray:
        """Quantiles at several probabilities.

        Parameters
        ----------
        q : array_like
            Probabilities.

        Returns
        -------
        ndarray
        """
        return self.post.ppf(np.ravel(q)) ** self.power

    def logpdf(self, x: ArrayLike) -> float | np.ndarray:
        """Log density (with the Jacobian of ``tau -> tau**power``).

        Parameters
        ----------
        x : float or array_like
            Values of the quantity.

        Returns
        -------
        float or ndarray
            A float for scalar ``x``, else an array of the shape of ``x``.
        """
        x = np.asarray(x, dtype=float)
        t = self._t(x)
        out = self.post.logpdf(t)
        if self.power != 1:
            with np.errstate(divide="ignore"):
                out = out - np.log(self.power) + (1.0 / self.power - 1.0) * np.log(x)
        return out if np.ndim(out) else float(out)

    def mode(self) -> float:
        """Maximiser of the density (the lower bound when the density decreases there).

        Returns
        -------
        float
        """
        if self.power == 1:
            return self.post.mode
        lo, hi = self.bounds
        x = np.linspace(lo, min(hi, self.ppf(0.999)), 4001)[1:]
        lp = np.asarray(self.logpdf(x))
        if self.logpdf(lo) >= lp.max():
            return float(lo)
        j = int(np.argmax(lp))
        res = optimize.minimize_scalar(lambda t: -self.logpdf(t), method="bounded",
                                       bounds=(x[max(j - 1, 0)], x[min(j + 1, x.size - 1)]),
                                       options={"xatol": 1e-14})
        return float(res.x)


class SampleDistribution(_Base):
    """Empirical distribution of Monte Carlo draws (quantiles, HPD, reflected KDE).

    Parameters
    ----------
    draws : array_like
        The draws.
    mean, var : float, optional
        Exact moments to report instead of the draws' (e.g. from quadrature).
    lower : float
        Lower bound of the support; the kernel density estimate is reflected there.
    """

    exact = False

    def __init__(self, draws: ArrayLike, mean: float | None = None, var: float | None = None,
                 lower: float = -np.inf) -> None:
        self.draws = np.sort(np.asarray(draws, dtype=float))
        self.mean = float(self.draws.mean()) if mean is None else float(mean)
        self.var = float(self.draws.var()) if var is None else float(var)
        self.bounds = (float(lower), np.inf)
        self._kde = None

    def cdf(self, x: ArrayLike) -> float | np.ndarray:
        """Empirical distribution function of the draws.

        Parameters
        ----------
        x : float or array_like
            Values of the quantity.

        Returns
        -------
        float or ndarray
            A float for scalar ``x``, else an array of the shape of ``x``.
        """
        x = np.asarray(x, dtype=float)
        out = np.searchsorted(self.draws, x, side="right") / self.draws.size
        return out if out.ndim else float(out)

    def ppf(self, q: float) -> float:
        """Sample quantile (numpy's default, linear interpolation).

        Parameters
        ----------
        q : float
            Probability in ``[0, 1]``.

        Returns
        -------
        float
        """
        return float(np.quantile(self.draws, float(q)))

    def ppf_many(self, q: ArrayLike) -> np.ndarray:
        """Sample quantiles at several probabilities.

        Parameters
        ----------
        q : array_like
            Probabilities.

        Returns
        -------
        ndarray
        """
        return np.quantile(self.draws, np.ravel(q))

    def hpd(self, alpha: float) -> tuple[float, float]:
        """Shortest interval between two draws containing ``ceil((1 - alpha) n)`` draws.

        Parameters
        ----------
        alpha : float
            One minus the probability of the interval.

        Returns
        -------
        tuple of float
        """
        n = self.draws.size
        m = int(np.ceil((1 - alpha) * n))
        width = self.draws[m - 1:] - self.draws[:n - m + 1]
        j = int(np.argmin(width))
        return float(self.draws[j]), float(self.draws[j + m - 1])

    def logpdf(self, x: ArrayLike) -> float | np.ndarray:
        """Log of a Gaussian kernel density estimate (at most ~20,000 draws), reflected
        at the lower bound.

        Parameters
        ----------
        x : float or array_like
            Values of the quantity.

        Returns
        -------
        float or ndarray
            A float for scalar ``x``, else an array of the shape of ``x``.
        """
        if self._kde is None:
            sub = self.draws[:: max(1, self.draws.size // 20000)]
            self._kde = stats.gaussian_kde(sub)
        x = np.asarray(x, dtype=float)
        dens = self._kde(x.ravel())
        lo = self.bounds[0]
        if np.isfinite(lo):                          # reflection at the lower bound
            dens = np.where(x.ravel() >= lo, dens + self._kde(2 * lo - x.ravel()), 0.0)
        with np.errstate(divide="ignore"):
            out = np.log(dens).reshape(x.shape)
        return out if out.ndim else float(out)

    def mode(self) -> float:
        """Maximiser of the kernel density estimate on a grid.

        Returns
        -------
        float
        """
        x = np.linspace(self.draws[0], self.ppf(0.99), 2001)
        return float(x[int(np.argmax(self.logpdf(x)))])


class PointMass(_Base):
    """A degenerate distribution at ``value``.

    Parameters
    ----------
    value : float
        The point.
    """

    def __init__(self, value: float) -> None:
        self.value = float(value)
        self.mean, self.var = self.value, 0.0
        self.bounds = (self.value, self.value)

    def cdf(self, x: ArrayLike) -> float | np.ndarray:
        """1 where ``x >= value``, else 0.

        Parameters
        ----------
        x : float or array_like
            Values of the quantity.

        Returns
        -------
        float or ndarray
            A float for scalar ``x``, else an array of the shape of ``x``.
        """
        out = (np.asarray(x, dtype=float) >= self.value).astype(float)
        return out if out.ndim else float(out)

    def ppf(self, q: float) -> float:
        """The point, whatever ``q``.

        Parameters
        ----------
        q : float
            Probability (ignored).

        Returns
        -------
        float
        """
        return self.value

    def hpd(self, alpha: float) -> tuple[float, float]:
        """``(value, value)``.

        Parameters
        ----------
        alpha : float
            Ignored.

        Returns
        -------
        tuple of float
        """
        return self.value, self.value

    def logpdf(self, x: ArrayLike) -> float | np.ndarray:
        """Not defined: a point mass has no density.

        Parameters
        ----------
        x : float or array_like
            Ignored.

        Returns
        -------
        float or ndarray
            Never returns.

        Raises
        ------
        ValueError
            Always.
        """
        raise ValueError("the posterior is a point mass (fixed tau^2): it has no density")

    def mode(self) -> float:
        """The point.

        Returns
        -------
        float
        """
        return self.value
