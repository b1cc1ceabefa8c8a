"""Array-level fitting of fixed- and random-effects (meta-regression) models.

``fit_univariate(y, v, X, method, test)`` is the whole numerical job behind
:class:`~metamodels.MetaFixed` and :class:`~metamodels.MetaRandom`; the classes only
handle data and labels.  ML and REML run on the shared block-diagonal engine
(:mod:`metamodels.core`) with ``V(tau^2) = diag(v) + tau^2 I``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.covariance import LinearCovariance
from ..core.likelihood import profiled_llf
from ..core.optimize import maximize
from ..core.scalar import tau2_boundary_recheck, tau2_newton
from . import estimators as est

__all__ = ["UnivariateFit", "fit_univariate", "METHODS", "TESTS", "loglik_ml", "loglik_reml"]

METHODS = ("FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")
TESTS = ("z", "t", "knha")


@dataclass(frozen=True)
class UnivariateFit:
    """Numbers of one fitted univariate meta-analytic model."""

    method: str
    test: str
    params: np.ndarray
    cov_params: np.ndarray     # covariance of params, including the Knapp-Hartung factor
    tau2: float
    tau2_se: float
    llf: float                 # ML log-likelihood, or REML (lme4/SAS convention) for REML
    knha_factor: float         # s^2_w of Knapp-Hartung (1 unless test == "knha")
    converged: bool
    n_iter: int
    tau2_fixed: bool


def loglik_ml(y, v, X, tau2, fit=None):
    """Gaussian log-likelihood at ``tau2`` with the GLS coefficients plugged in
    (``fit``: the WLS fit at ``tau2`` when already computed)."""
    fit = est.wls(y, v, X, tau2) if fit is None else fit
    k, p = X.shape
    return profiled_llf(k, p, -float(np.sum(np.log(fit.w))), 0.0, fit.q, reml=False)


def loglik_reml(y, v, X, tau2, fit=None):
    """Restricted log-likelihood (no ``+1/2 log|X'X|`` term; see :mod:`metamodels.core`)."""
    fit = est.wls(y, v, X, tau2) if fit is None else fit
    k, p = X.shape
    logdet = -np.linalg.slogdet(fit.cov)[1]                 # log|X'WX|
    return profiled_llf(k, p, -float(np.sum(np.log(fit.w))), logdet, fit.q, reml=True)


def _engine_fit(y, v, X, reml, tol, maxiter):
    """(RE)ML estimate of tau^2: the engine's scalar Newton kernel; a boundary solution
    is re-checked by the general optimiser with restarts (the likelihood can have a
    local maximum at 0 besides an interior one)."""
    start = est.tau2_he(y, v, X, with_se=False)[0]
    tau2, info, converged, n_iter = tau2_newton(y, v, X, reml=reml, start=start, tol=tol,
                                                maxiter=maxiter)
    if converged and tau2 == 0.0:
        tau2, info, converged, extra = tau2_boundary_recheck(y, v, X, reml=reml, tol=tol,
                                                             maxiter=maxiter)
        n_iter += extra
    if converged:
        se = est.se_tau2_reml(v, X, tau2) if reml else est.se_tau2_ml(v, tau2)
        return tau2, se, True, n_iter, None
    k = y.shape[0]
    spec = LinearCovariance.diagonal(v, np.ones((1, k)), ("tau2",))
    restarts = [[est.tau2_dl(y, v, X, with_se=False)[0]], [float(np.var(y))]]
    out = maximize(y, X, spec, [start], reml=reml, tol=tol, maxiter=maxiter, restarts=restarts)
    tau2 = float(out.theta[0])
    info = out.evaluation.info[0, 0]
    se = float(np.sqrt(1.0 / info)) if info > 0 else np.nan
    return tau2, se, out.converged, n_iter + out.n_iter, out.evaluation.llf


def fit_univariate(y, v, X, method="REML", test="z", tau2=None, tol=1e-10, maxiter=200):
    """Fit a fixed- or random-effects meta-regression.

    Parameters
    ----------
    y, v : (k,) arrays
        Effect sizes and their known sampling variances.
    X : (k, p) array
    method : str
        One of :data:`METHODS` (already normalised).
    test : {"z", "t", "knha"}
    tau2 : float, optional
        Fix tau^2 at this value instead of estimating it.
    tol, maxiter : iteration controls of the iterative estimators.

    Returns
    -------
    UnivariateFit
    """
    k, p = X.shape
    converged, n_iter = True, 0
    if method == "FE":
        tau2_hat, se_tau2 = 0.0, np.nan
    elif tau2 is not None:
        tau2_hat, se_tau2 = float(tau2), np.nan
    elif method in ("ML", "REML"):
        tau2_hat, se_tau2, converged, n_iter, _ = _engine_fit(y, v, X, method == "REML",
                                                              tol, maxiter)
    elif method == "EB":
        tau2_hat, se_tau2, converged, n_iter = est.tau2_eb(y, v, X, tol=tol, maxiter=maxiter)
    else:
        kernel = {"DL": est.tau2_dl, "HE": est.tau2_he, "HS": est.tau2_hs,
                  "SJ": est.tau2_sj, "PM": est.tau2_pm}[method]
        tau2_hat, se_tau2 = kernel(y, v, X)
    fit = est.wls(y, v, X, tau2_hat)
    cov = fit.cov
    factor = 1.0
    if test == "knha":
        factor = fit.q / (k - p)
        cov = cov * factor
    if method == "REML":
        llf = loglik_reml(y, v, X, tau2_hat, fit)
    else:
        llf = loglik_ml(y, v, X, tau2_hat, fit)
    return UnivariateFit(method, test, fit.beta, cov, tau2_hat, se_tau2, llf, factor,
                         bool(converged), int(n_iter), tau2 is not None)

