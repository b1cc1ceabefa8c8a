r"""Per-cluster integrated log-likelihoods: adaptive Gauss-Hermite and Laplace.

Cluster ``i`` has observations ``j`` with linear predictor
``eta_ij = eta0_ij + sum_r Zs_ijr v_ir``, ``v_i ~ N(0, I_q)`` (spherical random effects;
``Zs`` is the random-effects design already multiplied by the standard deviations, so a
standard deviation of 0 is allowed).  The marginal likelihood of the cluster is

``L_i = (2 pi)^(-q/2) int exp(h_i(v)) dv``, ``h_i(v) = sum_j log f(y_ij; eta_ij(v)) - |v|^2 / 2``.

``h_i`` is strictly concave for a canonical-link family, with its mode ``v*`` found by
Newton's method and ``C = -h''(v*) = I + Zs' diag(var) Zs``.

* Laplace (``nagq = 1``): ``log L_i = h_i(v*) - 1/2 log det C``.
* Adaptive Gauss-Hermite (``q = 1``, ``nagq = K``; Liu & Pierce 1994, Pinheiro & Bates
  1995): with ``s = C^(-1/2)`` and the ``K``-point Gauss-Hermite rule ``(z_k, w_k)`` of the
  standard normal, ``L_i = s sum_k w_k exp(h_i(v* + s z_k) + z_k^2 / 2)``.

lme4's ``glmer(nAGQ = K)`` evaluates the same rule at the same modes, so fits agree to
the accuracy of the optimisers.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import special

__all__ = ["cluster_loglik", "gh_rule"]


@lru_cache(maxsize=None)
def gh_rule(nagq):
    """Gauss-Hermite nodes and weights for the standard normal density (sum to 1)."""
    z, w = np.polynomial.hermite_e.hermegauss(int(nagq))
    return z, w / w.sum()


def _h(family, eta0, Zs, v):
    """``h`` at ``v``, the linear predictor and the family's mean and variance there."""
    eta = eta0 + np.einsum("kjq,kq->kj", Zs, v)
    ll, mu, var = family.loglik_moments(eta)
    return ll.sum(axis=1) - 0.5 * np.sum(v * v, axis=1), eta, mu, var


def conditional_modes(family, eta0, Zs, tol=1e-9, maxiter=100):
    """Modes ``v*`` of ``h_i`` (k, q), the linear predictor there and ``C`` (k, q, q).

    Newton's method until the largest step is below ``tol``, then one more step
    (quadratic convergence takes the modes to rounding level)."""
    k, _, q = Zs.shape
    v = np.zeros((k, q))
    eye = np.eye(q)
    h, eta, mu, var = _h(family, eta0, Zs, v)
    last = False
    for _ in range(maxiter):
        g = np.einsum("kjq,kj->kq", Zs, family.y - mu) - v
        C = np.einsum("kjq,kj,kjr->kqr", Zs, var, Zs) + eye
        step = np.linalg.solve(C, g[..., None])[..., 0]
        t = np.ones(k)
        for _ in range(40):                       # step halving (rarely needed)
            h_new, eta_new, mu_new, var_new = _h(family, eta0, Zs, v + t[:, None] * step)
            bad = ~(h_new >= h - 1e-12 * (1 + np.abs(h)))
            if not bad.any():
                break
            t = np.where(bad, 0.5 * t, t)
        v = v + t[:, None] * step
        h, eta, mu, var = h_new, eta_new, mu_new, var_new
        if last:
            break
        last = np.max(np.abs(t[:, None] * step)) < tol
    C = np.einsum("kjq,kj,kjr->kqr", Zs, var, Zs) + eye
    return v, eta, C, h


def cluster_loglik(family, eta0, Zs, nagq=1):
    """Integrated log-likelihood of each cluster (see the module Notes).

    Parameters
    ----------
    family : a family of :mod:`metamodels.glmm.families` (data inside)
    eta0 : ndarray (k, J)
        Fixed part of the linear predictor (offset included).
    Zs : ndarray (k, J, q)
        Random-effects design times the standard deviations (``q = 0``: no random
        effects, the plain log-likelihood).
    nagq : int
        Quadrature points (``q = 1`` only; 1 is the Laplace approximation).

    Returns
    -------
    loglik : ndarray (k,)
    eta : ndarray (k, J)
        Linear predictor at the conditional modes.
    """
    q = Zs.shape[2]
    if q == 0:
        return family.loglik(eta0).sum(axis=1), eta0
    v, eta, C, h = conditional_modes(family, eta0, Zs)
    if nagq <= 1 or q > 1:
        return h - 0.5 * np.linalg.slogdet(C)[1], eta
    z, w = gh_rule(nagq)
    s = 1.0 / np.sqrt(C[:, 0, 0])
    nodes = v[:, 0][:, None] + s[:, None] * z[None, :]                  # (k, K)
    eta_n = eta0[..., None] + Zs[:, :, 0][..., None] * nodes[:, None, :]
    hn = family.loglik(eta_n).sum(axis=1) - 0.5 * nodes ** 2
    return np.log(s) + special.logsumexp(hn + 0.5 * z ** 2 + np.log(w), axis=1), eta
