"""Generalised Q statistics with arbitrary weights: estimators of tau^2 and their exact
confidence intervals.

With positive weights ``a_i`` (``A = diag(a)``) and ``P_a = A - A X (X'AX)^{-1} X'A``,
the generalised Q statistic is ``Q_a = y'P_a y``.  Under the random-effects model
``y ~ N(Xb, Sigma)``, ``Sigma = diag(v_i + tau^2)``,

.. math::

    E\\,Q_a = \\operatorname{tr}(P_a V) + \\tau^2 \\operatorname{tr}(P_a), \\qquad
    Q_a \\sim \\sum_j \\lambda_j(\\tau^2)\\, \\chi^2_1 ,

where ``lambda_j(tau^2)`` are the eigenvalues of ``Sigma^{1/2} P_a Sigma^{1/2}`` (``k - p``
of them are non-zero).  The method-of-moments (GENQ) estimator equates ``Q_a`` with its
expectation (DerSimonian and Kacker 2007); its median-unbiased version (GENQM) equates it
with the median of its distribution (Viechtbauer 2021); the confidence interval inverts
the distribution function, which decreases in ``tau^2`` (Jackson 2013; Jackson et al.
2014).  Inverse-variance weights give the DerSimonian-Laird estimator, equal weights the
Hedges estimator.

The distribution function of a positive linear combination of independent chi-square
variables is Imhof's (1961) integral

.. math::

    P(Q \\le x) = \\tfrac12 - \\tfrac1\\pi \\int_0^\\infty
    \\frac{\\sin\\theta(u)}{u\\,\\rho(u)}\\,du, \\quad
    \\theta(u) = \\tfrac12 \\sum_j \\arctan(\\lambda_j u) - \\tfrac12 x u, \\quad
    \\rho(u) = \\prod_j (1 + \\lambda_j^2 u^2)^{1/4},

evaluated by adaptive quadrature to an absolute error of about 1e-11.

References
----------
DerSimonian R, Kacker R (2007). Random-effects model for meta-analysis of clinical trials:
an update. Contemp Clin Trials 28, 105-114.
Imhof JP (1961). Computing the distribution of quadratic forms in normal variables.
Biometrika 48, 419-426.
Jackson D (2013). Confidence intervals for the between-study variance in random effects
meta-analysis using generalised Cochran heterogeneity statistics. Res Synth Methods 4.
Jackson D, Turner R, Rhodes K, Viechtbauer W (2014). Methods for calculating confidence and
credible intervals for the residual between-study variance in random effects
meta-regression models. BMC Med Res Methodol 14, 103.
Viechtbauer W (2021). Median-unbiased estimators for the amount of heterogeneity in
meta-analysis. European Congress of Methodology, Valencia.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import integrate, optimize, stats

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["weighted_chi2_cdf", "GenQ", "check_weights"]


def check_weights(weights: ArrayLike, k: int, name: str = "weights") -> np.ndarray:
    """Validated user weights: a finite, positive float vector of length ``k``.

    Parameters
    ----------
    weights : array_like
        The weights.
    k : int
        Required length.
    name : str, default "weights"
        Name used in error messages.

    Returns
    -------
    ndarray

    Raises
    ------
    ValueError
        Non-numeric, wrong length, non-finite or non-positive weights.
    """
    try:
        a = np.asarray(weights, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if a.shape[0] != k:
        raise ValueError(f"{name} has length {a.shape[0]} but there are {k} studies")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"{name} must be finite and positive")
    return a


def weighted_chi2_cdf(x: float, lam: ArrayLike) -> float:
    """``P(sum_j lam_j chi2_1 <= x)`` for positive ``lam`` (Imhof's integral).

    Parameters
    ----------
    x : float
        The point at which the distribution function is evaluated.
    lam : array_like
        Positive coefficients (1-d).

    Returns
    -------
    float
        A probability in [0, 1].
    """
    lam = np.asarray(lam, dtype=float)
    if x <= 0:
        return 0.0
    if lam.size == 0:
        return 1.0
    # scale to max(lam) = 1: better conditioned integrand, same probability
    s = float(lam.max())
    lam = lam / s
    x = x / s
    if lam.size <= 2:
        return _cdf_one_or_two(x, lam)

    def c(u):
        return 0.5 * np.arctan(lam * u).sum()

    def amp(u):
        return 1.0 / (u * np.exp(0.25 * np.log1p((lam * u) ** 2).sum()))

    def integrand(u):
        if u == 0.0:
            return 0.5 * (float(lam.sum()) - x)
        return np.sin(c(u) - 0.5 * x * u) * amp(u)

    # [0, A] by adaptive quadrature; the tail [A, inf) as two Fourier integrals
    # (sin(c - w u) = sin c cos wu - cos c sin wu, w = x/2, with c(u) slowly varying)
    w = 0.5 * x
    A = 20.0
    opts = dict(limit=1000, epsabs=1e-13, epsrel=1e-11)
    total = integrate.quad(integrand, 0.0, A, **opts)[0]
    total += integrate.quad(lambda u: np.sin(c(u)) * amp(u), A, np.inf, weight="cos", wvar=w,
                            limlst=200, epsabs=1e-13)[0]
    total -= integrate.quad(lambda u: np.cos(c(u)) * amp(u), A, np.inf, weight="sin", wvar=w,
                            limlst=200, epsabs=1e-13)[0]
    p = 0.5 - total / np.pi
    return float(min(1.0, max(0.0, p)))


def _cdf_one_or_two(x, lam):
    """Exact distribution function for one or two terms (Imhof's integral converges too
    slowly there): the chi-square itself, or the convolution
    ``int_0^x f_1(s) F_2(x - s) ds`` with the ``s^(-1/2)`` singularity of the first
    density as the quadrature weight."""
    if lam.size == 1:
        return float(stats.chi2.cdf(x / lam[0], 1))
    l1, l2 = float(lam[0]), float(lam[1])
    smooth = lambda s: (np.exp(-s / (2.0 * l1)) / np.sqrt(2.0 * np.pi * l1)  # noqa: E731
                        * stats.chi2.cdf((x - s) / l2, 1))
    val = integrate.quad(smooth, 0.0, x, weight="alg", wvar=(-0.5, 0.0), epsabs=1e-14,
                         epsrel=1e-12, limit=200)[0]
    return float(min(1.0, max(0.0, val)))


class GenQ:
    """The generalised Q statistic of ``(y, v, X)`` with weights ``a`` (module notes).

    Parameters
    ----------
    y, v : ndarray
        Effect sizes and sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    a : ndarray
        Positive weights (k,).
    """

    def __init__(self, y: np.ndarray, v: np.ndarray, X: np.ndarray, a: np.ndarray) -> None:
        self.y, self.v, self.X, self.a = y, v, X, a
        k, p = X.shape
        self.k, self.p = k, p
        ax = X * a[:, None]
        P = np.diag(a) - ax @ np.linalg.solve(X.T @ ax, ax.T)
        self.P = 0.5 * (P + P.T)
        self.q = float(y @ self.P @ y)
        self.trp = float(np.trace(self.P))
        self.trpv = float(np.diagonal(self.P) @ v)

    def moment_estimate(self) -> float:
        """GENQ: ``max(0, (Q_a - tr(P_a V)) / tr(P_a))``.

        Returns
        -------
        float
        """
        return max(0.0, (self.q - self.trpv) / self.trp)

    def moment_se(self, tau2: float) -> float:
        """``sqrt(Var Q_a) / tr(P_a)`` at ``tau2``, ``Var Q_a = 2 tr((P_a Sigma)^2)``.

        Parameters
        ----------
        tau2 : float
            Between-study variance.

        Returns
        -------
        float
        """
        ps = self.P * (self.v + tau2)[None, :]
        return float(np.sqrt(2.0 * np.sum(ps * ps.T)) / self.trp)

    def eigenvalues(self, tau2: float) -> np.ndarray:
        """Non-zero eigenvalues of ``Sigma^{1/2} P_a Sigma^{1/2}`` (``k - p`` of them).

        Parameters
        ----------
        tau2 : float
            Between-study variance.

        Returns
        -------
        ndarray
        """
        s = np.sqrt(self.v + tau2)
        lam = np.linalg.eigvalsh(self.P * s[:, None] * s[None, :])
        lam = np.sort(lam)[::-1][: self.k - self.p]
        return lam[lam > lam[0] * 1e-12] if lam.size else lam

    def cdf(self, tau2: float) -> float:
        """``P(Q_a <= q_observed)`` when the heterogeneity is ``tau2`` (decreasing).

        Parameters
        ----------
        tau2 : float
            Between-study variance.

        Returns
        -------
        float
        """
        return weighted_chi2_cdf(self.q, self.eigenvalues(tau2))

    def _root(self, target, upper_hint):
        """``tau^2 >= 0`` with ``cdf(tau^2) = target`` (0 if ``cdf(0) < target``)."""
        f = lambda t: self.cdf(t) - target  # noqa: E731
        if f(0.0) <= 0.0:
            return 0.0
        hi = max(upper_hint, 1e-4)
        for _ in range(200):
            if f(hi) < 0.0:
                break
            hi *= 2.0
        else:
            raise RuntimeError("no upper bound found for the generalised Q root")
        return float(optimize.brentq(f, 0.0, hi, xtol=1e-14, rtol=1e-11))

    def median_estimate(self) -> float:
        """GENQM: the ``tau^2`` at which ``Q_a`` is the median of its distribution.

        Returns
        -------
        float
        """
        return self._root(0.5, 10.0 * max(self.moment_estimate(), float(np.var(self.y))))

    def conf_int(self, alpha: float = 0.05) -> tuple[float, float]:
        """Exact ``1 - alpha`` interval: ``cdf(lower) = 1 - alpha/2``, ``cdf(upper) = alpha/2``.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` interval.

        Returns
        -------
        tuple of float
            ``(lower, upper)``.
        """
        hint = 10.0 * max(self.moment_estimate(), float(np.var(self.y)))
        return self._root(1.0 - alpha / 2.0, hint), self._root(alpha / 2.0, hint)
