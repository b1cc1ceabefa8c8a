"""Adaptive quadrature for the one-dimensional marginal posterior of ``tau``.

The unnormalised marginal posterior ``h(tau) = p(tau) m(y | tau)`` is integrated on
its support ``[lo, hi]`` after a change of variables to ``u`` in ``[0, 1]``:

* finite support: ``tau = lo + (hi - lo) u^2``;
* infinite support: ``tau = lo + s (u / (1 - u))^2`` with ``s`` the posterior's
  scale,

which removes integrable ``tau^-1/2``-type singularities at the lower end and maps
power-law tails to bounded integrands.  ``[0, 1]`` is split at the posterior mode and
at multiples of ``s``; each interval is integrated with 12- and 24-point
Gauss-Legendre rules, whose difference is the error estimate, and the intervals with
the largest errors are bisected until the summed error of the normalising constant
(and of ``E[tau]``, ``E[tau^2]`` when they exist) is below ``rtol`` relative to the
totals.  The final 24-point nodes and weights form a rule ``sum_j W_j f(tau_j)`` for
posterior expectations of smooth functions of ``tau`` (normal-mixture CDFs,
conditional moments); the CDF of ``tau`` itself is exact (sum of full intervals plus
a Gauss-Legendre integral over the partial one).
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
from scipy import optimize

from ..exceptions import ConvergenceWarning

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["TauPosterior"]

_X12, _W12 = np.polynomial.legendre.leggauss(12)
_X24, _W24 = np.polynomial.legendre.leggauss(24)


class TauPosterior:
    """Normalised marginal posterior of ``tau`` from an unnormalised log density.

    Parameters
    ----------
    logh : callable
        Vectorised unnormalised log posterior density of ``tau``.
    support : tuple of float
        ``(lo, hi)``, the support of ``tau`` (``hi`` may be ``inf``).
    scale : float or sequence of float
        Typical scales of ``tau`` (e.g. a typical standard error and the spread of the
        estimates), used to search for the mode on log-spaced grids.
    n_moments : int
        Highest power ``r`` (0, 1 or 2) of ``tau`` whose posterior expectation exists
        and is included in the error control.
    rtol : float
        Target relative error of the normalising constant and moments.
    max_intervals : int
        Cap on the number of intervals (a
        :class:`~metamodels.exceptions.ConvergenceWarning` when reached before
        ``rtol``).

    Attributes
    ----------
    nodes, weights : ndarray
        Quadrature rule of the posterior (weights sum to 1).
    log_norm : float
        Log of the normalising constant ``int h(tau) dtau`` (the log marginal
        likelihood when ``h`` is a proper prior times the likelihood).
    rel_error : float
        Estimated relative error of the integration.
    mode : float
        Posterior mode of ``tau``.
    """

    def __init__(self, logh: Callable[[np.ndarray], np.ndarray], support: tuple[float, float],
                 scale: float | Sequence[float], n_moments: int = 2, rtol: float = 1e-10,
                 max_intervals: int = 4000) -> None:
        self.logh = logh
        self.lo, self.hi = float(support[0]), float(support[1])
        self.finite = bool(np.isfinite(self.hi))
        self._find_mode(scale)
        self._integrate(int(n_moments), float(rtol), int(max_intervals))

    # ------------------------------------------------------------------ transform
    def to_tau(self, u: ArrayLike) -> np.ndarray:
        """``tau`` for integration variables ``u`` in ``[0, 1]``.

        Parameters
        ----------
        u : array_like
            Values in ``[0, 1]``.

        Returns
        -------
        ndarray
        """
        u = np.asarray(u, dtype=float)
        if self.finite:
            return self.lo + (self.hi - self.lo) * u * u
        with np.errstate(divide="ignore"):
            r = u / (1.0 - u)
        return self.lo + self.s * r * r

    def to_u(self, tau: ArrayLike) -> np.ndarray:
        """Integration variable ``u`` in ``[0, 1]`` for values of ``tau`` (inverse of
        :meth:`to_tau`).

        Parameters
        ----------
        tau : array_like
            Values of ``tau``.

        Returns
        -------
        ndarray
        """
        tau = np.asarray(tau, dtype=float)
        z = np.clip(tau - self.lo, 0.0, None)
        if self.finite:
            return np.clip(np.sqrt(z / (self.hi - self.lo)), 0.0, 1.0)
        r = np.sqrt(z / self.s)
        with np.errstate(invalid="ignore"):
            return np.where(np.isinf(r), 1.0, r / (1.0 + r))

    def _jacobian(self, u):
        if self.finite:
            return 2.0 * (self.hi - self.lo) * u
        return 2.0 * self.s * u / (1.0 - u) ** 3

    def _f(self, u):
        """Integrand in ``u``: ``h(tau(u)) / h(mode) * dtau/du``."""
        tau = self.to_tau(u)
        with np.errstate(over="ignore", invalid="ignore"):
            val = np.exp(self.logh(tau) - self.logh_max) * self._jacobian(u)
        return np.nan_to_num(val, nan=0.0, posinf=0.0), tau

    # ------------------------------------------------------------------- set-up
    def _find_mode(self, scale):
        lo, hi = self.lo, self.hi
        base = max(lo, 0.0)
        grid = base + np.unique(np.outer(np.atleast_1d(scale), np.logspace(-8, 5, 521)))
        grid = np.concatenate([[lo], grid[grid < hi], [hi] if self.finite else []])
        lh = np.asarray(self.logh(grid), dtype=float)
        lh[~np.isfinite(lh)] = -np.inf
        if not np.any(np.isfinite(lh)):
            raise ValueError("the posterior density of tau is zero everywhere on the prior's "
                             "support (check the prior)")
        j = int(np.argmax(lh))
        a, b = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
        mode = grid[j]
        if b > a:
            res = optimize.minimize_scalar(lambda t: -float(self.logh(np.array([t]))[0]),
                                           bounds=(a, b), method="bounded",
                                           options={"xatol": 1e-12 * max(b, 1e-300)})
            if res.success and -res.fun >= lh[j]:
                mode = float(res.x)
        lmode = float(self.logh(np.array([mode]))[0])
        if np.isfinite(lh[0]) and lh[0] >= lmode - 1e-10:   # mode at the lower end
            mode, lmode = float(grid[0]), float(lh[0])
        self.mode, self.logh_max = float(mode), lmode
        bulk = grid[lh >= self.logh_max - 3.0]
        self.s = float(max(bulk.max() - lo, 1e-8 * np.max(scale)))

    def _initial_breaks(self):
        cuts = self.lo + self.s * np.array([1e-4, 1e-3, 1e-2, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5,
                                            10, 30, 100])
        pts = np.concatenate([[0.0, 1.0], np.linspace(0, 1, 9), self.to_u(cuts),
                              self.to_u([self.mode])])
        pts = np.unique(np.clip(pts, 0.0, 1.0))
        return pts[np.concatenate([[True], np.diff(pts) > 1e-14])]

    def _panel(self, a, b):
        """12- and 24-point integrals of ``[1, tau/s, (tau/s)^2]`` over each interval."""
        half, mid = 0.5 * (b - a), 0.5 * (b + a)
        out = []
        for x, w in ((_X12, _W12), (_X24, _W24)):
            u = mid[:, None] + half[:, None] * x[None, :]
            f, tau = self._f(u)
            t = tau / self.s
            with np.errstate(invalid="ignore", over="ignore"):
                comps = np.stack([f, f * t, f * t * t], axis=-1)
            comps = np.nan_to_num(comps, nan=0.0, posinf=0.0)
            out.append(half[:, None] * np.einsum("ijc,j->ic", comps, w))
        return out[0], out[1]

    def _integrate(self, n_moments, rtol, max_intervals):
        br = self._initial_breaks()
        a, b = br[:-1], br[1:]
        lo12, hi24 = self._panel(a, b)
        ncomp = n_moments + 1
        converged = False
        while True:
            total = hi24[:, :ncomp].sum(axis=0)
            scale = np.where(total > 0, total, 1.0)
            err = np.max(np.abs(hi24[:, :ncomp] - lo12[:, :ncomp]) / scale, axis=1)
            if err.sum() <= rtol:
                converged = True
                break
            if a.size >= max_intervals:
                break
            split = err >= max(0.1 * err.max(), rtol / a.size)
            split &= (b - a) > 1e-15
            if not np.any(split):
                break
            m = 0.5 * (a[split] + b[split])
            na = np.concatenate([a[~split], a[split], m])
            nb = np.concatenate([b[~split], m, b[split]])
            l_new, h_new = self._panel(np.concatenate([a[split], m]),
                                       np.concatenate([m, b[split]]))
            lo12 = np.concatenate([lo12[~split], l_new])
            hi24 = np.concatenate([hi24[~split], h_new])
            order = np.argsort(na)
            a, b, lo12, hi24 = na[order], nb[order], lo12[order], hi24[order]
        self.converged = converged
        self.rel_error = float(err.sum())
        if not converged:
            warnings.warn(f"quadrature of the tau posterior reached an estimated relative error "
                          f"of {self.rel_error:.2g} (target {rtol:g}) with {a.size} intervals",
                          ConvergenceWarning, stacklevel=4)
        self.a, self.b = a, b
        self._pieces = hi24[:, 0]
        self.norm = float(self._pieces.sum())
        self._cum = np.concatenate([[0.0], np.cumsum(self._pieces)]) / self.norm
        self.log_norm = float(np.log(self.norm) + self.logh_max)
        half, mid = 0.5 * (b - a), 0.5 * (b + a)
        u = (mid[:, None] + half[:, None] * _X24[None, :]).ravel()
        f, tau = self._f(u)
        w = (half[:, None] * _W24[None, :]).ravel() * f / self.norm
        keep = w > 0
        self.nodes_u, self.nodes, self.weights = u[keep], tau[keep], w[keep] / w[keep].sum()

    # ---------------------------------------------------------------- functionals
    def pdf(self, tau: ArrayLike) -> np.ndarray:
        """Normalised posterior density of ``tau``.

        Parameters
        ----------
        tau : array_like
            Values of ``tau``.

        Returns
        -------
        ndarray
        """
        tau = np.asarray(tau, dtype=float)
        with np.errstate(over="ignore"):
            return np.exp(self.logh(tau) - self.log_norm)

    def logpdf(self, tau: ArrayLike) -> np.ndarray:
        """Normalised log posterior density of ``tau``.

        Parameters
        ----------
        tau : array_like
            Values of ``tau``.

        Returns
        -------
        ndarray
        """
        return self.logh(np.asarray(tau, dtype=float)) - self.log_norm

    def _partial(self, a, u):
        half, mid = 0.5 * (u - a), 0.5 * (u + a)
        f, _ = self._f(mid[:, None] + half[:, None] * _X24[None, :])
        return half * (f @ _W24) / self.norm

    def cdf(self, tau: ArrayLike) -> float | np.ndarray:
        """Posterior CDF of ``tau`` (full intervals plus a Gauss-Legendre integral over
        the partial one).

        Parameters
        ----------
        tau : float or array_like
            Values of ``tau``.

        Returns
        -------
        float or ndarray
            A float for scalar ``tau``.
        """
        tau = np.asarray(tau, dtype=float)
        u = np.atleast_1d(self.to_u(tau)).ravel()
        j = np.clip(np.searchsorted(self.b, u, side="left"), 0, self.a.size - 1)
        out = self._cum[j] + self._partial(self.a[j], np.maximum(u, self.a[j]))
        out = np.clip(out, 0.0, 1.0).reshape(np.shape(tau))
        return out if out.ndim else float(out)

    def ppf(self, q: float | ArrayLike) -> float | np.ndarray:
        """Quantile function: vectorised safeguarded Newton iterations on the exact CDF
        inside the interval that holds each quantile.

        Parameters
        ----------
        q : float or array_like
            Probabilities (0 and 1 give the ends of the support).

        Returns
        -------
        float or ndarray
            A float for scalar ``q``, else a 1-d array.
        """
        scalar = np.ndim(q) == 0
        q = np.atleast_1d(np.asarray(q, dtype=float)).ravel()
        out = np.where(q <= 0, self.lo, self.hi)
        todo = (q > 0) & (q < 1)
        if np.any(todo):
            qq = q[todo]
            j = np.clip(np.searchsorted(self._cum, qq, side="left") - 1, 0, self.a.size - 1)
            lo, hi = self.a[j].copy(), self.b[j].copy()
            target = qq - self._cum[j]
            u = 0.5 * (lo + hi)
            for _ in range(100):
                g = self._partial(self.a[j], u) - target
                lo = np.where(g < 0, u, lo)
                hi = np.where(g >= 0, u, hi)
                with np.errstate(divide="ignore", invalid="ignore"):
                    un = u - g / (self._f(u)[0] / self.norm)
                bad = ~np.isfinite(un) | (un < lo) | (un > hi)
                un = np.where(bad, 0.5 * (lo + hi), un)
                un = np.where(np.abs(g) <= 4e-16, u, un)
                step = np.abs(un - u)
                u = un
                if np.all((step <= 1e-15) | (hi - lo <= 1e-15)):
                    break
            out[todo] = self.to_tau(u)
        return float(out[0]) if scalar else out

    def expect(self, values: ArrayLike) -> np.ndarray:
        """Posterior expectation of ``values`` (an array over the rule's nodes).

        Parameters
        ----------
        values : array_like (nodes, ...)
            A function of ``tau`` evaluated at :attr:`nodes` (first axis).

        Returns
        -------
        ndarray
            ``sum_j W_j values_j``.
        """
        return np.tensordot(self.weights, values, axes=(0, 0))

    def sample(self, n: int, rng: np.random.Generator, m: int = 8192) -> np.ndarray:
        """``n`` draws by inverse CDF: the CDF on ``m`` equal steps in ``u`` (8-point
        Gauss-Legendre per step), linearly interpolated in between.

        Parameters
        ----------
        n : int
            Number of draws (stratified uniforms, randomly permuted).
        rng : numpy.random.Generator
            Random number generator.
        m : int
            Number of steps of the tabulated CDF.

        Returns
        -------
        ndarray (n,)
        """
        edges = np.linspace(0.0, 1.0, m + 1)
        x8, w8 = np.polynomial.legendre.leggauss(8)
        half, mid = 0.5 * np.diff(edges), 0.5 * (edges[1:] + edges[:-1])
        f, _ = self._f(mid[:, None] + half[:, None] * x8[None, :])
        F = np.concatenate([[0.0], np.cumsum(half * (f @ w8))])
        F /= F[-1]
        draws = (np.arange(n) + rng.random(n)) / n          # stratified uniforms
        u = np.interp(rng.permutation(draws), F, edges)
        return self.to_tau(np.clip(u, 0.0, 1.0 - 1e-16))
