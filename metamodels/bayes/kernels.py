"""Array-level kernels of the normal-normal hierarchical model (no model class):
the conditional posterior given ``tau``, exact moments of ``zeta^2`` and joint draws.

Used by :class:`~metamodels.bayes.BayesMeta` (fitting) and by
:class:`~metamodels.bayes.BayesMetaResults` (summaries); neither imports the other for
them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    CoefPrior = tuple[np.ndarray, np.ndarray, float] | None

__all__ = ["Conditional", "conditional", "zeta2_moments", "draw_joint", "zeta2_draws"]

LOG2PI = float(np.log(2 * np.pi))


@dataclass(frozen=True)
class Conditional:
    """Conditional posterior given ``tau`` (arrays over n values of ``tau``).

    ``b | tau, y ~ N(bhat, bcov)``; ``lam = tau^2 / (tau^2 + v)`` (n, k) are the
    shrinkage fractions and ``logm`` the log likelihood integrated over ``b``.

    Parameters
    ----------
    tau : ndarray (n,)
        The values of ``tau``.
    lam : ndarray (n, k)
        Shrinkage fractions ``tau^2 / (tau^2 + v_i)``.
    bhat : ndarray (n, p)
        Conditional posterior means of the coefficients.
    bcov : ndarray (n, p, p)
        Conditional posterior covariances ``A(tau)^-1``.
    logm : ndarray (n,)
        ``log m(y | tau)``.
    """

    tau: np.ndarray
    lam: np.ndarray
    bhat: np.ndarray
    bcov: np.ndarray
    logm: np.ndarray

    def theta_moments(self, y: np.ndarray, v: np.ndarray,
                      X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Means (n, k) and variances (n, k) of the study effects ``theta_i``.

        Parameters
        ----------
        y, v : ndarray (k,)
            Effect sizes and sampling variances.
        X : ndarray (k, p)
            Design.

        Returns
        -------
        mean, var : ndarray (n, k)
            ``lam y + (1 - lam) x'bhat`` and ``lam v + (1 - lam)^2 x'bcov x``.
        """
        fitted = self.bhat @ X.T
        mean = self.lam * y + (1 - self.lam) * fitted
        xbx = np.einsum("ki,nij,kj->nk", X, self.bcov, X)
        return mean, self.lam * v + (1 - self.lam) ** 2 * xbx


def conditional(y: np.ndarray, v: np.ndarray, X: np.ndarray, cprior: CoefPrior,
                tau: ArrayLike) -> Conditional:
    """Conditional posterior of the coefficients given each value of ``tau``.

    With ``W = diag(1/(v_i + tau^2))`` and a normal prior ``b ~ N(b0, P0^-1)``
    (``P0 = 0`` for the flat prior): ``A = X'WX + P0``, ``bhat = A^-1 (X'Wy + P0 b0)``,
    ``bcov = A^-1`` and the integrated likelihood is
    ``log m = -1/2 [k log 2pi + sum log(v_i + tau^2) + log|A| + r'Wr
    + (bhat - b0)'P0(bhat - b0)] + 1/2 log|P0|`` (``+ p/2 log 2pi`` for the flat prior,
    whose density is taken as 1).

    Parameters
    ----------
    y, v : ndarray (k,)
        Effect sizes and sampling variances.
    X : ndarray (k, p)
        Design.
    cprior : tuple or None
        ``(b0, P0, log|P0|)`` of a normal prior, ``None`` for the flat prior.
    tau : float or array_like
        Values of ``tau``.

    Returns
    -------
    Conditional
    """
    tau = np.atleast_1d(np.asarray(tau, dtype=float)).ravel()
    k, p = X.shape
    d = v[None, :] + tau[:, None] ** 2
    w = 1.0 / d
    A = np.einsum("nk,ki,kj->nij", w, X, X)
    rhs = (w * y) @ X
    if cprior is not None:
        b0, P0, logdet_p0 = cprior
        A = A + P0
        rhs = rhs + P0 @ b0
    Ainv = np.linalg.inv(A)
    Ainv = 0.5 * (Ainv + np.swapaxes(Ainv, 1, 2))
    bhat = np.einsum("nij,nj->ni", Ainv, rhs)
    r = y - bhat @ X.T
    quad = np.sum(w * r * r, axis=1)
    if cprior is not None:
        db = bhat - b0
        quad = quad + np.einsum("ni,ij,nj->n", db, P0, db)
        const = 0.5 * logdet_p0
    else:
        const = 0.5 * p * LOG2PI
    logdet = np.linalg.slogdet(A)[1]
    logm = -0.5 * (k * LOG2PI + np.sum(np.log(d), axis=1) + logdet + quad) + const
    return Conditional(tau, tau[:, None] ** 2 * w, bhat, Ainv, logm)


def zeta2_moments(cond: Conditional, y: np.ndarray, v: np.ndarray,
                  X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact conditional mean and variance of ``zeta^2`` given each ``tau``.

    ``zeta^2 = theta'M theta`` with ``M = (W0 - w0 w0'/S)/S``, ``w0 = 1/v``,
    ``S = sum w0``; given ``tau``, ``theta ~ N(m, C)``, ``C = diag(lam v) + U bcov U'``,
    ``U = diag(1 - lam) X``.  Then ``E = tr(MC) + m'Mm`` and
    ``Var = 2 tr(MCMC) + 4 m'MCMm``.  ``MC`` is written as ``diag(a) + L R'`` with
    ``a = w0 lam v / S``, ``L = [W0 U bcov / S, -w0/S^2]`` and
    ``R = [U, w0 lam v + U bcov U'w0]`` (rank p + 1), so the traces cost O(k p^2).

    Parameters
    ----------
    cond : Conditional
        Conditional posterior at the values of ``tau``.
    y, v : ndarray (k,)
        Effect sizes and sampling variances.
    X : ndarray (k, p)
        Design.

    Returns
    -------
    mean, var : ndarray (n,)
        Conditional mean and variance of ``zeta^2`` at each ``tau``.
    """
    w0 = 1.0 / v
    S = w0.sum()
    m, _ = cond.theta_moments(y, v, X)
    D = cond.lam * v
    U = (1 - cond.lam)[:, :, None] * X[None, :, :]
    Ai = cond.bcov
    beta = m @ w0 / S
    mMm = np.sum(w0 * (m - beta[:, None]) ** 2, axis=1) / S
    a = w0 * D / S
    UAi = np.einsum("nkp,npq->nkq", U, Ai)
    L = np.concatenate([w0[None, :, None] * UAi / S,
                        np.broadcast_to(-w0[None, :, None] / S ** 2, (m.shape[0], w0.size, 1))],
                       axis=2)
    UAiUw = np.einsum("nkq,nq->nk", UAi, np.einsum("nkp,k->np", U, w0))
    R = np.concatenate([U, (w0 * D + UAiUw)[:, :, None]], axis=2)
    diagLR = np.einsum("nkj,nkj->nk", L, R)
    RL = np.einsum("nki,nkj->nij", R, L)
    tr_mc = a.sum(axis=1) + diagLR.sum(axis=1)
    tr_mcmc = (np.sum(a * a, axis=1) + 2 * np.sum(a * diagLR, axis=1)
               + np.einsum("nij,nji->n", RL, RL))
    u = (w0 * m - w0 * beta[:, None]) / S                      # M m
    Uu = np.einsum("nkp,nk->np", U, u)
    uCu = np.sum(D * u * u, axis=1) + np.einsum("np,npq,nq->n", Uu, Ai, Uu)
    return tr_mc + mMm, 2 * tr_mcmc + 4 * uCu


def draw_joint(y: np.ndarray, v: np.ndarray, X: np.ndarray, cprior: CoefPrior,
               tau: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draws of ``(b, theta)`` given draws of ``tau`` (exact conditional sampling).

    Parameters
    ----------
    y, v : ndarray (k,)
        Effect sizes and sampling variances.
    X : ndarray (k, p)
        Design.
    cprior : tuple or None
        ``(b0, P0, log|P0|)`` of a normal prior, ``None`` for the flat prior.
    tau : ndarray (n,)
        Draws of ``tau``.
    rng : numpy.random.Generator
        Random number generator.

    Returns
    -------
    b : ndarray (n, p)
    theta : ndarray (n, k)
    """
    cond = conditional(y, v, X, cprior, tau)
    chol = np.linalg.cholesky(cond.bcov)
    b = cond.bhat + np.einsum("nij,nj->ni", chol, rng.standard_normal(cond.bhat.shape))
    n, k = cond.lam.shape
    mean = cond.lam * y + (1 - cond.lam) * (b @ X.T)
    theta = mean + np.sqrt(cond.lam * v) * rng.standard_normal((n, k))
    return b, theta


def zeta2_draws(y: np.ndarray, v: np.ndarray, X: np.ndarray, cprior: CoefPrior,
                tau: np.ndarray, rng: np.random.Generator, chunk: int = 20_000) -> np.ndarray:
    """Draws of ``zeta^2 = sum w_i (theta_i - beta_F)^2 / sum w_i`` (``w_i = 1/v_i``)
    given draws of ``tau``, in chunks of ``chunk`` draws.

    Parameters
    ----------
    y, v : ndarray (k,)
        Effect sizes and sampling variances.
    X : ndarray (k, p)
        Design.
    cprior : tuple or None
        ``(b0, P0, log|P0|)`` of a normal prior, ``None`` for the flat prior.
    tau : ndarray (n,)
        Draws of ``tau``.
    rng : numpy.random.Generator
        Random number generator.
    chunk : int
        Draws per vectorised batch (memory).

    Returns
    -------
    ndarray (n,)
    """
    w0 = 1.0 / v
    out = np.empty(tau.size)
    for s in range(0, tau.size, chunk):
        _, theta = draw_joint(y, v, X, cprior, tau[s:s + chunk], rng)
        beta = theta @ w0 / w0.sum()
        out[s:s + chunk] = np.sum(w0 * (theta - beta[:, None]) ** 2, axis=1) / w0.sum()
    return out
