r"""Fits of a :class:`~.designs.GLMMDesign`: equal-effects, random-effects (ML) and the
saturated model of the heterogeneity tests.

Heterogeneity tests (metafor's ``QE.Wld`` and ``QE.LRT``) compare the equal-effects model
with the saturated model in which every study has its own effect ``phi_i`` (the quantity
``x_i' b`` models).  The likelihood-ratio statistic is ``2 (l_sat - l_EE)``.  The Wald
statistic tests ``phi = X b`` in the saturated model:
``Q = phi' V^{-1} phi - phi' V^{-1} X (X' V^{-1} X)^{-1} X' V^{-1} phi`` with
``V = Cov(phi)`` (invariant to the parametrisation of the saturated model's extra
coefficients).  For the models whose saturated fit is a plain GLM ``phi_i`` and its
information are closed-form (``UM.FS``: the log odds ratio/rate ratio of the table with
``1/V_ii = 1 / (1/I_1 + 1/I_2)``, ``I = n p (1-p)`` or the count; ``CM.EL``: the
conditional MLE with ``1/V_ii = Var(a | phi_i)``).  A study whose ``phi_i`` is infinite
(a zero cell) carries no information and contributes 0 (the limit of the statistic).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .families import NoncentralHypergeometric
from .optimize import maximize_clusters
from .quadrature import cluster_loglik

__all__ = ["GLMMFit", "fit_glmm", "generalized_q"]


@dataclass(frozen=True)
class GLMMFit:
    """Outcome of :func:`fit_glmm` (coefficients on the scale of the given ``X``)."""

    beta: np.ndarray
    cov_beta: np.ndarray
    theta: np.ndarray           # random-effects SDs or Cholesky entries (empty without any)
    cov_theta: np.ndarray
    llf: float                  # log-likelihood (quadrature / Laplace / exact)
    llf_ee: float               # the equal-effects fit's
    llf_sat: float              # the saturated model's
    cond_deviance: float        # lme4's deviance(): sum of deviance residuals at the modes
    llf_sat_obs: float          # saturated log-likelihood of the observations
    q_wald: float
    converged: bool
    n_iter: int


def generalized_q(phi, Vinv, X):
    """``phi' V^-1 phi - phi' V^-1 X (X' V^-1 X)^-1 X' V^-1 phi`` (NaN when the studies
    left do not identify ``b``)."""
    XtV = X.T @ Vinv
    r = XtV @ phi
    try:
        return float(phi @ Vinv @ phi - r @ np.linalg.solve(XtV @ X, r))
    except np.linalg.LinAlgError:
        return np.nan


def cholesky_factor(theta, q):
    """Lower-triangular ``L`` (q, q) from ``q`` standard deviations (independent random
    effects) or the ``q (q + 1) / 2`` row-wise lower-triangle entries (correlated)."""
    theta = np.asarray(theta, dtype=float)
    if theta.size == q:
        return np.diag(theta)
    L = np.zeros((q, q))
    L[np.tril_indices(q)] = theta
    return L


def scaled_design(Z, theta):
    """Random-effects design times the Cholesky factor: ``Z L``."""
    q = Z.shape[2]
    if len(theta) == q:
        return Z * theta
    return np.einsum("kjq,qr->kjr", Z, cholesky_factor(theta, q))


def _objective(design, Z, nagq):
    fam, p, r = design.family, design.X.shape[2], design.W.shape[2]

    def fun(a, s):
        eta0 = (design.offset + design.X @ s[:p] + design.W @ s[p:p + r]
                + np.einsum("kjl,kl->kj", design.A, a))
        return cluster_loglik(fam, eta0, scaled_design(Z, s[p + r:]), nagq)[0]

    return fun


def _conditional_mle(fam):
    """Per-table conditional MLE of the log odds ratio and ``Var(a)`` there."""
    deg = fam.degenerate()[:, 0]
    theta = np.zeros(fam.y.shape)
    for _ in range(200):
        mu, var = fam.mean_var(theta)
        step = np.where(deg[:, None], 0.0, np.clip((fam.y - mu) / np.maximum(var, 1e-300), -2, 2))
        theta = theta + step
        if np.max(np.abs(step)) < 1e-13:
            break
    _, var = fam.mean_var(theta)
    ll = np.where(deg[:, None], 0.0, fam.loglik(theta))
    return theta[:, 0], var[:, 0], deg, float(ll.sum())


def _saturated(design, X, ee, nagq):
    """Saturated log-likelihood and the Wald statistic (see the module Notes)."""
    fam = design.family
    if isinstance(fam, NoncentralHypergeometric):
        phi, info, deg, ll = _conditional_mle(fam)
        ok = ~deg
        return ll, generalized_q(phi[ok], np.diag(info[ok]), X[ok])
    if design.A_sat is not None and design.Z_fe.shape[2]:
        return _saturated_glmm(design, X, ee, nagq)
    eta, info = fam.saturated_eta()
    ll = float(np.sum(fam.loglik_saturated()))
    eta = eta - design.offset
    with np.errstate(divide="ignore", invalid="ignore"):
        if eta.shape[1] == 2:
            phi = eta[:, 0] - eta[:, 1]
            info = 1.0 / (1.0 / info[:, 0] + 1.0 / info[:, 1])
        else:
            phi, info = eta[:, 0], info[:, 0]
    ok = np.isfinite(phi) & (info > 0)
    return ll, generalized_q(phi[ok], np.diag(info[ok]), X[ok])


def _saturated_glmm(design, X, ee, nagq):
    """UM.RS: study effects ``phi_i`` fixed, random study intercepts kept."""
    fam = design.family
    with np.errstate(divide="ignore", invalid="ignore"):
        eta, _ = fam.saturated_eta()
        phi0 = (eta - design.offset) @ np.array([1.0, -1.0])
    ok = np.isfinite(phi0)
    phi0 = np.where(ok, phi0, 0.0)
    sat = replace(design, X=np.zeros(design.X.shape[:2] + (0,)), A=design.A_sat)
    fun = _objective(sat, design.Z_fe, nagq)
    p = design.X.shape[2]
    opt = maximize_clusters(fun, phi0[:, None], ee.shared[p:], cov_local=True)
    if not ok.all() or opt.cov_local is None:
        return opt.value, np.nan
    return opt.value, generalized_q(opt.local[:, 0], np.linalg.inv(opt.cov_local), X)


def fit_glmm(design, X, method="ML", nagq=7):
    """Fit ``design`` by ``method`` ("ML" or "EE") and compute the heterogeneity tests.

    ``X`` is the study-level moderator matrix (k, p) the design was built from.
    """
    p = design.X.shape[2]
    r = design.W.shape[2]
    q_fe = design.Z_fe.shape[2]
    glmer_fe_nagq = nagq if method == "EE" else 1     # metafor: nAGQ = 1 for UM.RS ML
    fe_nagq = glmer_fe_nagq if q_fe else nagq
    fun_fe = _objective(design, design.Z_fe, fe_nagq)
    ee = maximize_clusters(fun_fe, design.local_start,
                           np.concatenate([np.zeros(p), design.w_start, np.full(q_fe, 0.5)]))
    ll_sat, q_wald = _saturated(design, X, ee, fe_nagq)
    fam = design.family
    sat_obs = float(np.sum(fam.loglik_saturated())) if hasattr(fam, "loglik_saturated") else np.nan
    if method == "EE":
        opt, Z, use_nagq = ee, design.Z_fe, fe_nagq
    else:
        q = design.Z.shape[2]
        use_nagq = 1 if q > 1 else nagq
        Z = design.Z
        extra = [0.0, 0.5] if design.cor else np.full(q - q_fe, 0.5)   # L21, L22
        start = np.concatenate([ee.shared, extra])
        local = ee.local
        if use_nagq > 11:                 # many points (CM.EL): approach with 9 first
            rough = maximize_clusters(_objective(design, Z, 9), local, start, tol=1e-5)
            start, local = rough.shared, rough.local
        opt = maximize_clusters(_objective(design, Z, use_nagq), local, start)
    s = opt.shared
    cond_dev = np.nan
    if np.isfinite(sat_obs):
        eta0 = design.offset + design.X @ s[:p] + design.W @ s[p:p + r] + \
            np.einsum("kjl,kl->kj", design.A, opt.local)
        _, eta = cluster_loglik(fam, eta0, scaled_design(Z, s[p + r:]), use_nagq)
        cond_dev = float(2 * np.sum(fam.loglik_saturated() - fam.loglik(eta)))
    return GLMMFit(s[:p], opt.cov_shared[:p, :p], s[p + r:],
                   opt.cov_shared[p + r:, p + r:], opt.value, ee.value, ll_sat, cond_dev,
                   sat_obs, q_wald, opt.converged and ee.converged, opt.n_iter)
