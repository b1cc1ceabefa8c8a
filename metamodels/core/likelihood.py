"""Profiled Gaussian log-likelihood, its gradient and Fisher information in theta.

Model: ``y ~ N(X b, V(theta))`` with ``V`` block diagonal.  For fixed ``theta`` the
fixed effects are profiled out by generalised least squares,

.. math::

    \\hat b(\\theta) = (X' V^{-1} X)^{-1} X' V^{-1} y, \\qquad r = y - X \\hat b,

and the profiled log-likelihoods are

.. math::

    \\ell_{ML}   = -\\tfrac12 [n \\log 2\\pi + \\log|V| + r'V^{-1}r],

    \\ell_{REML} = -\\tfrac12 [(n-p)\\log 2\\pi + \\log|V| + \\log|X'V^{-1}X| + r'V^{-1}r].

The REML convention is the one of SAS PROC MIXED, lme4 and nlme (no
``+ 1/2 log|X'X|`` term; metafor adds that term).  With ``P = V^{-1} - V^{-1}X C X'V^{-1}``,
``C = (X'V^{-1}X)^{-1}`` and ``V_j = dV/dtheta_j``:

.. math::

    \\partial_j \\ell = -\\tfrac12 \\operatorname{tr}(A V_j) + \\tfrac12 r'V^{-1}V_jV^{-1}r,
    \\qquad \\mathcal I_{jk} = \\tfrac12 \\operatorname{tr}(A V_j A V_k),

with ``A = V^{-1}`` (ML) or ``A = P`` (REML).  All sums run block by block; ``P`` is
never formed: its traces are expanded into per-block terms and ``p x p`` products.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Evaluation", "evaluate", "NotPositiveDefiniteError"]

LOG2PI = np.log(2.0 * np.pi)


class NotPositiveDefiniteError(np.linalg.LinAlgError):
    """V(theta) or X'V^{-1}X is not positive definite."""


@dataclass(frozen=True)
class Evaluation:
    """Everything the engine knows at one value of theta."""

    theta: np.ndarray
    llf: float
    beta: np.ndarray
    cov_beta: np.ndarray          # C = (X'V^-1 X)^-1
    rss: float                    # r'V^-1 r (generalised residual sum of squares)
    logdet_v: float
    logdet_xvx: float
    grad: np.ndarray | None = None
    info: np.ndarray | None = None  # expected (Fisher) information in theta


def _group_pass1(v, Xg, yg):
    """Per-group V^{-1} products.  Returns (Vinv or w, ViX, Viy, logdet)."""
    if v.ndim == 1:
        if np.any(v <= 0) or not np.all(np.isfinite(v)):
            raise NotPositiveDefiniteError("V(theta) has a non-positive diagonal element")
        w = 1.0 / v
        return w, Xg * w[:, None], yg * w, float(np.sum(np.log(v)))
    try:
        L = np.linalg.cholesky(v)
    except np.linalg.LinAlgError as exc:
        raise NotPositiveDefiniteError("V(theta) is not positive definite in a block") from exc
    logdet = 2.0 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))
    vinv = np.linalg.inv(v)
    vinv = 0.5 * (vinv + np.swapaxes(vinv, 1, 2))
    return vinv, vinv @ Xg, np.einsum("bij,bj->bi", vinv, yg), logdet


def evaluate(theta, y, X, spec, reml=True, order=0) -> Evaluation:
    """Evaluate the profiled (RE)ML log-likelihood at ``theta``.

    Parameters
    ----------
    theta : (q,) array
    y : (n,) array
    X : (n, p) array
    spec : CovarianceSpec
    reml : bool
    order : {0, 1}
        0: log-likelihood and GLS only; 1: also gradient and Fisher information.

    Returns
    -------
    Evaluation
    """
    theta = np.asarray(theta, dtype=float)
    n, p = X.shape
    vs = spec.build(theta)
    groups = spec.layout.groups
    xvx = np.zeros((p, p))
    xvy = np.zeros(p)
    yvy = 0.0
    logdet_v = 0.0
    cache = []
    for rows, v in zip(groups, vs):
        if v.ndim == 1:
            idx = rows[:, 0]
            Xg, yg = X[idx], y[idx]
        else:
            Xg, yg = X[rows], y[rows]
        vinv, vix, viy, ld = _group_pass1(v, Xg, yg)
        logdet_v += ld
        if v.ndim == 1:
            xvx += Xg.T @ vix
            xvy += vix.T @ yg
            yvy += float(yg @ viy)
        else:
            xvx += np.einsum("bip,biq->pq", Xg, vix)
            xvy += np.einsum("bip,bi->p", vix, yg)
            yvy += float(np.einsum("bi,bi->", yg, viy))
        cache.append((vinv, vix, viy))
    try:
        Lx = np.linalg.cholesky(xvx)
    except np.linalg.LinAlgError as exc:
        raise NotPositiveDefiniteError(
            "X'V^-1X is singular: the design matrix is rank deficient") from exc
    logdet_xvx = 2.0 * float(np.sum(np.log(np.diag(Lx))))
    C = np.linalg.inv(xvx)
    C = 0.5 * (C + C.T)
    beta = C @ xvy
    rss = float(yvy - beta @ xvy)
    if reml:
        llf = -0.5 * ((n - p) * LOG2PI + logdet_v + logdet_xvx + rss)
    else:
        llf = -0.5 * (n * LOG2PI + logdet_v + rss)
    if order == 0:
        return Evaluation(theta, llf, beta, C, rss, logdet_v, logdet_xvx)

    q = spec.n_params
    grad = np.zeros(q)
    T = np.zeros((q, q))        # sum_b tr(V^-1 V_j V^-1 V_k)
    B = np.zeros((q, p, p))     # sum_b X'V^-1 V_j V^-1 X
    CQ = np.zeros((q, q))       # sum_b tr(V^-1 V_k H V_j),  H = V^-1 X C X' V^-1
    dvs = spec.jacobian(theta)
    for (vinv, vix, viy), dv in zip(cache, dvs):
        u = viy - vix @ beta                               # V^-1 r per block
        if dv.ndim == 2:                                   # diagonal group: dv (q, nb)
            w = vinv
            grad += -0.5 * dv @ w + 0.5 * dv @ (u * u)
            wd = dv * w                                     # (q, nb) = w * dV_j
            T += wd @ wd.T
            if reml:
                B += np.einsum("ip,ji,iq->jpq", vix, dv, vix)
                h = np.einsum("ip,pq,iq->i", vix, C, vix)   # diag of H
                CQ += (wd * h) @ dv.T
        else:
            M = np.einsum("bij,qbjk->qbik", vinv, dv)        # V^-1 V_j
            grad += -0.5 * np.einsum("qbii->q", M) + 0.5 * np.einsum("bi,qbij,bj->q", u, dv, u)
            T += np.einsum("jbik,lbki->jl", M, M)
            if reml:
                B += np.einsum("bip,qbij,bjr->qpr", vix, dv, vix)
                H = np.einsum("bip,pr,bjr->bij", vix, C, vix)
                N = np.einsum("bij,qbjk->qbik", H, dv)        # H V_j
                CQ += np.einsum("kbil,jbli->jk", M, N)
    if reml:
        CB = np.einsum("pr,jrs->jps", C, B)                 # C B_j
        grad += 0.5 * np.einsum("jpp->j", CB)
        info = 0.5 * (T - 2.0 * CQ + np.einsum("jpr,krp->jk", CB, CB))
    else:
        info = 0.5 * T
    info = 0.5 * (info + info.T)
    return Evaluation(theta, llf, beta, C, rss, logdet_v, logdet_xvx, grad, info)
