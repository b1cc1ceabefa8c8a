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
from ..core.scalar import DiagonalTau2
from ..core.tau2 import dl, moment_se
from . import estimators as est
from .genq import GenQ

__all__ = ["UnivariateFit", "fit_univariate", "fit_intercept_only", "fit_general", "METHODS",
           "TESTS"]

METHODS = ("FE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM", "GENQ", "GENQM",
           "DLIT", "SJIT")
TESTS = ("z", "t", "knha")


@dataclass(frozen=True)
class UnivariateFit:
    """Numbers of one fitted univariate meta-analytic model.

    Parameters
    ----------
    method : str
        The tau^2 estimator (``"FE"`` for fixed effects).
    test : {"z", "t", "knha"}
        The test of the fit.
    params : ndarray
        Coefficients (p,).
    cov_params : ndarray
        Their covariance (p, p), including the Knapp-Hartung factor.
    tau2 : float
        Between-study variance (0 for FE).
    tau2_se : float
        Its standard error (NaN when not defined).
    llf : float
        ML log-likelihood, or the REML log-likelihood (lme4/SAS convention) for REML.
    knha_factor : float
        ``s^2_w`` of Knapp-Hartung (1 unless ``test == "knha"``).
    converged : bool
        Whether the tau^2 iteration converged.
    n_iter : int
        Iterations of the tau^2 estimator.
    tau2_fixed : bool
        Whether tau^2 was fixed by the user.
    weights : ndarray, optional
        User weights of the coefficient estimator (None: ``1/(v + tau^2)``).
    tau2_init : float, optional
        The starting value of the Sidik-Jonkman estimators (SJ, SJIT) it was given
        (refits of the same model use it too).
    """

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
    weights: np.ndarray = None  # user weights of the coefficient estimator (None: 1/(v + tau^2))
    tau2_init: float | None = None  # SJ/SJIT starting value (refits use it too)


def _engine_fit(problem, reml, tol, maxiter):
    """(RE)ML estimate of tau^2 with the engine's scalar kernel
    (:meth:`DiagonalTau2.maximize`); should it not converge, the general optimiser takes
    over with restarts."""
    tau2, converged, n_iter = problem.maximize(reml=reml, tol=tol, maxiter=maxiter)
    if converged:
        return tau2, True, n_iter
    y, v, X = problem.y, problem.v, problem.X
    k = y.shape[0]
    spec = LinearCovariance.diagonal(v, np.ones((1, k)), ("tau2",))
    starts = [[problem.hedges()], [est.tau2_dl(y, v, X, with_se=False)[0]], [float(np.var(y))]]
    out = maximize(y, X, spec, starts[0], reml=reml, tol=tol, maxiter=maxiter,
                   restarts=starts[1:])
    return float(out.theta[0]), out.converged, n_iter + out.n_iter


def _tau2(problem, y, v, X, method, tol, maxiter, tau2_init, weights):
    """``(tau2, se, converged, n_iter)`` of one estimator; ``se`` None for (RE)ML (taken
    from the information at the estimate)."""
    if method in ("ML", "REML"):
        tau2, converged, n_iter = _engine_fit(problem, method == "REML", tol, maxiter)
        return tau2, None, converged, n_iter
    if method == "EB":
        return est.tau2_eb(y, v, X, tol=tol, maxiter=maxiter, problem=problem)
    if method == "DLIT":
        return est.tau2_dlit(y, v, X, tol=tol, maxiter=maxiter, problem=problem)
    if method == "SJIT":
        return est.tau2_sjit(y, v, X, tol=tol, maxiter=maxiter, tau2_init=tau2_init,
                             problem=problem)
    if method in ("GENQ", "GENQM"):
        g = GenQ(y, v, X, weights)
        tau2 = g.moment_estimate() if method == "GENQ" else g.median_estimate()
        return tau2, g.moment_se(tau2), True, 0
    if method == "SJ":
        return (*est.tau2_sj(y, v, X, tau2_init), True, 0)
    if method == "HE":
        return (*est.tau2_he(y, v, X), True, 0)
    kernel = {"DL": est.tau2_dl, "HS": est.tau2_hs, "HSk": est.tau2_hsk, "PM": est.tau2_pm,
              "PMM": est.tau2_pmm}[method]
    return (*kernel(y, v, X, problem=problem), True, 0)


def weighted_estimate(y, v, X, tau2, a):
    """Coefficients ``(X'AX)^{-1} X'A y`` with user weights ``a`` and their covariance
    ``(X'AX)^{-1} X'A Sigma A X (X'AX)^{-1}``, ``Sigma = diag(v + tau^2)`` (the
    estimator of ``fit(weights=)``, also of the diagnostics' refits)."""
    ax = X * a[:, None]
    bread = np.linalg.inv(X.T @ ax)
    beta = bread @ (ax.T @ y)
    meat = ax.T @ (ax * (v + tau2)[:, None])
    cov = bread @ meat @ bread
    return beta, 0.5 * (cov + cov.T)


def _weighted_state(y, v, X, tau2, a, reml):
    """:func:`weighted_estimate` and the (restricted) log-likelihood evaluated at its
    coefficients."""
    beta, cov = weighted_estimate(y, v, X, tau2, a)
    w = 1.0 / (v + tau2)
    r = y - X @ beta
    k, p = X.shape
    logdet_xwx = float(np.linalg.slogdet(X.T @ (X * w[:, None]))[1]) if reml else 0.0
    llf = profiled_llf(k, p, float(np.log(v + tau2).sum()), logdet_xwx, float(w @ (r * r)), reml)
    return beta, cov, llf


def fit_univariate(y: np.ndarray, v: np.ndarray, X: np.ndarray, method: str = "REML",
                   test: str = "z", tau2: float | None = None, tol: float = 1e-10,
                   maxiter: int = 200, weights: np.ndarray | None = None,
                   tau2_init: float | None = None) -> UnivariateFit:
    """Fit a fixed- or random-effects meta-regression.

    Parameters
    ----------
    y, v : ndarray
        Effect sizes and their known sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    method : str, default "REML"
        One of :data:`METHODS` (already normalised).
    test : {"z", "t", "knha"}, default "z"
        Normal, t(k - p) or Knapp-Hartung inference.
    tau2 : float, optional
        Fix tau^2 at this value instead of estimating it.
    tol : float, default 1e-10
        Convergence tolerance of the iterative estimators.
    maxiter : int, default 200
        Iteration limit of the iterative estimators.
    weights : ndarray, optional
        User weights ``a_i`` of the coefficient estimator (and of the GENQ/GENQM
        estimators of tau^2, which require them); ``None`` uses ``1/(v_i + tau^2)``.
    tau2_init : float, optional
        Starting value of the Sidik-Jonkman estimators (SJ, SJIT).

    Returns
    -------
    UnivariateFit
    """
    if (method in ("FE", "DL") and tau2 is None and weights is None and X.shape[1] == 1
            and bool((X == 1.0).all())):
        return fit_intercept_only(y, v, method, test)
    return fit_general(y, v, X, method, test, tau2, tol, maxiter, weights, tau2_init)


#: From this length on :func:`_dot` avoids BLAS (OpenBLAS threads its dot product, which
#: costs ~10x the arithmetic on a busy machine).
_BLAS_DOT_MAX = 4096


def _dot(a, b):
    """``sum a b``: BLAS for short vectors, numpy's own loop for long ones."""
    if a.shape[0] < _BLAS_DOT_MAX:
        return float(a @ b)
    return float(np.einsum("i,i->", a, b))


def fit_intercept_only(y: np.ndarray, v: np.ndarray, method: str, test: str
                       ) -> UnivariateFit:
    """FE or DL fit of the intercept-only model (``X = 1``) in closed form: the same
    numbers as :func:`fit_general` without its cross-product machinery.

    With ``w_i = 1/v_i`` and ``y`` centred at its mean (as :class:`DiagonalTau2` does):
    ``Q = sum w (y - b_FE)^2``, ``tr P_0 = sum w - sum w^2 / sum w``,
    ``tr P_0^2 = sum w^2 - 2 sum w^3 / sum w + (sum w^2 / sum w)^2``; DerSimonian-Laird
    ``tau^2 = max(0, (Q - (k - 1)) / tr P_0)`` with the moment standard error; then
    ``b = sum w_t y / sum w_t``, ``Var(b) = 1 / sum w_t`` with ``w_t = 1/(v + tau^2)``
    and the ML log-likelihood at ``tau^2`` (as the general path reports for FE and DL).
    Long sums avoid BLAS (:func:`_dot`).

    Parameters
    ----------
    y, v : ndarray
        Effect sizes and sampling variances (k,).
    method : {"FE", "DL"}
        The estimator.
    test : {"z", "t", "knha"}
        The test.

    Returns
    -------
    UnivariateFit
    """
    k = y.shape[0]
    ybar = float(np.add.reduce(y)) / k
    yc = y - ybar
    w = 1.0 / v
    sw = float(np.add.reduce(w))
    tau2, se_tau2 = 0.0, np.nan
    if method == "DL":
        w2 = w * w
        sw2 = float(_dot(w, w))
        r = yc - _dot(w, yc) / sw
        q0 = _dot(w * r, r)
        trp = sw - sw2 / sw
        trpp = sw2 - 2.0 * _dot(w2, w) / sw + (sw2 / sw) ** 2
        tau2 = float(dl(q0, k - 1, trp))
        se_tau2 = float(moment_se(tau2, k - 1, trp, trpp, trp))
        if tau2 > 0.0:
            w = 1.0 / (v + tau2)
            sw = float(np.add.reduce(w))
    bc = _dot(w, yc) / sw
    r = yc - bc
    rwr = _dot(w * r, r)
    llf = profiled_llf(k, 1, float(np.add.reduce(np.log(v + tau2))), 0.0, rwr, False)
    cov = np.array([[1.0 / sw]])
    factor = 1.0
    if test == "knha":
        factor = rwr / (k - 1)
        cov = cov * factor
    return UnivariateFit(method, test, np.array([ybar + bc]), cov, tau2, se_tau2, llf,
                         factor, True, 0, False)


def fit_general(y: np.ndarray, v: np.ndarray, X: np.ndarray, method: str = "REML",
                test: str = "z", tau2: float | None = None, tol: float = 1e-10,
                maxiter: int = 200, weights: np.ndarray | None = None,
                tau2_init: float | None = None) -> UnivariateFit:
    """:func:`fit_univariate` for any design, estimator and weights (the cross-product
    kernel :class:`~metamodels.core.scalar.DiagonalTau2` and the engine).

    Parameters
    ----------
    y, v : ndarray
        Effect sizes and sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    method : str, default "REML"
        One of :data:`METHODS` (already normalised).
    test : {"z", "t", "knha"}, default "z"
        The test.
    tau2 : float, optional
        Fix tau^2 at this value instead of estimating it.
    tol : float, default 1e-10
        Convergence tolerance of the iterative estimators.
    maxiter : int, default 200
        Iteration limit of the iterative estimators.
    weights : ndarray, optional
        User weights ``a_i`` of the coefficient estimator.
    tau2_init : float, optional
        Starting value of the Sidik-Jonkman estimators.

    Returns
    -------
    UnivariateFit
    """
    k, p = X.shape
    problem = DiagonalTau2(y, v, X)
    reml = method == "REML"
    converged, n_iter = True, 0
    if method == "FE":
        tau2_hat, se_tau2 = 0.0, np.nan
    elif tau2 is not None:
        tau2_hat, se_tau2 = float(tau2), np.nan
    else:
        tau2_hat, se_tau2, converged, n_iter = _tau2(problem, y, v, X, method, tol, maxiter,
                                                     tau2_init, weights)
    state = problem.state(tau2_hat, reml)
    if se_tau2 is None:
        se_tau2 = float(np.sqrt(1.0 / state.info)) if state.info > 0 else np.nan
    beta, cov, llf = state.beta, state.cov, state.llf
    if weights is not None:
        beta, cov, llf = _weighted_state(y, v, X, tau2_hat, weights, reml)
    factor = 1.0
    if test == "knha":
        factor = state.q / (k - p)
        cov = cov * factor
    return UnivariateFit(method, test, beta, cov, tau2_hat, se_tau2, llf, factor,
                         bool(converged), int(n_iter), tau2 is not None, weights,
                         tau2_init if method in ("SJ", "SJIT") else None)
