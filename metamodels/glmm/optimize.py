r"""Maximisation of a sum of per-cluster log-likelihoods with cluster-specific parameters.

The objective is ``l(a, s) = sum_i l_i(a_i, s)``: ``a_i`` (``L`` values) belong to cluster
``i`` only (fixed study effects), ``s`` (``m`` values) are shared (coefficients and
standard deviations).  The per-cluster gradients and Hessians in the ``L + m``
coordinates are central finite differences of the vector ``l_i``: moving every ``a_i``
by the same step moves each cluster along its own coordinate, so the cost does not grow
with the number of clusters.  The Hessian of the whole problem is block-arrow shaped;
Newton steps (Levenberg-damped when the Hessian is not negative definite) and the
inverse Hessian use the Schur complement of the cluster blocks:

``S = H_ss - sum_i H_si H_ii^{-1} H_is``, ``Cov(s) = -S^{-1}``, and
``Cov(a) = -(H_aa^{-1} + H_aa^{-1} H_as S^{-1} H_sa H_aa^{-1})``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["maximize_clusters", "ClusterOptimum"]

_HG = 1e-5      # gradient step
_HH = 2e-4      # Hessian step


@dataclass(frozen=True)
class ClusterOptimum:
    """Maximum of :func:`maximize_clusters`.

    Attributes
    ----------
    local : ndarray (k, L)
    shared : ndarray (m,)
    value : float
    cov_shared : ndarray (m, m)
        Inverse of the negative Hessian (Schur complement), shared block.
    cov_local : ndarray (k L, k L) or None
        The same for the cluster parameters (when asked for).
    converged : bool
    n_iter : int
    """

    local: np.ndarray
    shared: np.ndarray
    value: float
    cov_shared: np.ndarray
    cov_local: np.ndarray | None
    converged: bool
    n_iter: int


def _derivatives(fun, a, s, hess=True):
    """Per-cluster value, gradient (k, d) and Hessian (k, d, d) in (a_i, s)."""
    L, m = a.shape[1], s.shape[0]
    d = L + m

    def at(delta):
        return fun(a + delta[:L], s + delta[L:])

    f0 = at(np.zeros(d))
    k = f0.shape[0]
    g = np.empty((k, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = _HG
        g[:, j] = (at(e) - at(-e)) / (2 * _HG)
    if not hess:
        return f0, g, None
    H = np.empty((k, d, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = _HH
        H[:, j, j] = (at(e) - 2 * f0 + at(-e)) / _HH ** 2
        for l in range(j):
            f = np.zeros(d)
            f[l] = _HH
            H[:, j, l] = H[:, l, j] = (at(e + f) - at(e - f) - at(f - e) + at(-e - f)) / (4 * _HH ** 2)
    return f0, g, H


def _solve(g, H, L, lam):
    """Newton step of the block-arrow system ``(-H + lam I) step = g`` and the Schur
    complement (None when a block is not positive definite)."""
    A = -H[:, :L, :L] + lam * np.eye(L)
    B = -H[:, :L, L:]
    D = -H[:, L:, L:].sum(axis=0) + lam * np.eye(H.shape[1] - L)
    ga, gs = g[:, :L], g[:, L:].sum(axis=0)
    try:
        if L:
            Ai = np.linalg.inv(A)
            if np.any(np.linalg.eigvalsh(A) <= 0):
                return None
            S = D - np.einsum("kla,klm,kmb->ab", B, Ai, B)
            rhs = gs - np.einsum("kla,klm,km->a", B, Ai, ga)
        else:
            Ai, S, rhs = None, D, gs
        if np.any(np.linalg.eigvalsh(S) <= 0):
            return None
        ds = np.linalg.solve(S, rhs)
        da = np.einsum("klm,km->kl", Ai, ga - B @ ds) if L else np.zeros((g.shape[0], 0))
    except np.linalg.LinAlgError:
        return None
    return da, ds, S, Ai, B


def maximize_clusters(fun, a0, s0, tol=1e-9, maxiter=200, cov_local=False):
    """Maximise ``sum_i fun(a, s)[i]`` over cluster parameters ``a`` (k, L) and shared
    parameters ``s`` (m,) by damped Newton steps (see the module Notes).

    ``fun`` returns the vector of cluster log-likelihoods (NaN or -inf where undefined).
    Converged when the largest step is below ``tol`` or the predicted increase of the
    objective below ``1e-11`` (finite-difference noise makes smaller steps meaningless).
    """
    a, s = np.array(a0, dtype=float), np.array(s0, dtype=float)
    L = a.shape[1]
    lam = 0.0
    value = float(np.sum(fun(a, s)))
    converged = False
    it = 0
    for it in range(1, maxiter + 1):
        _, g, H = _derivatives(fun, a, s)
        sol = None
        while sol is None or lam > 0:
            sol = _solve(g, H, L, lam)
            if sol is not None:
                da, ds = sol[0], sol[1]
                new = float(np.sum(fun(a + da, s + ds)))
                if np.isfinite(new) and new >= value - 1e-12 * (1 + abs(value)):
                    break
                sol = None
            lam = max(1e-4, 10 * lam)
            if lam > 1e12:
                break
        if sol is None:
            break
        decrement = float(np.sum(g[:, :L] * da) + g[:, L:].sum(axis=0) @ ds)
        a, s, value = a + da, s + ds, new
        lam = lam / 100 if lam > 1e-3 else 0.0
        step = max(np.max(np.abs(da), initial=0.0), np.max(np.abs(ds), initial=0.0))
        if step < tol or abs(decrement) < 1e-11:
            converged = True
            break
    _, g, H = _derivatives(fun, a, s)
    sol = _solve(g, H, L, 0.0)
    m = s.shape[0]
    if sol is None:
        cov_s = np.full((m, m), np.nan)
        cov_a = None
    else:
        _, _, S, Ai, B = sol
        try:
            cov_s = np.linalg.inv(S)
        except np.linalg.LinAlgError:
            cov_s = np.full((m, m), np.nan)
        cov_a = None
        if cov_local and L:
            k = a.shape[0]
            blocks = np.zeros((k * L, k * L))
            for i in range(k):
                blocks[i * L:(i + 1) * L, i * L:(i + 1) * L] = Ai[i]
            AiB = np.einsum("klm,kmb->klb", Ai, B).reshape(k * L, m)
            cov_a = blocks + AiB @ cov_s @ AiB.T
    return ClusterOptimum(a, s, value, cov_s, cov_a, converged, it)
