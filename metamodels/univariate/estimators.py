"""Closed-form and estimating-equation kernels for univariate meta-analysis.

Plain functions on arrays (``y`` and ``v`` of length k, design ``X`` of shape (k, p)),
reused by the model classes and by the batch engine.  Notation: ``w_i = 1/(v_i + tau^2)``,
``W = diag(w)``, ``P = W - W X (X'WX)^{-1} X'W``; the fixed-effects versions use
``tau^2 = 0``.

References
----------
DerSimonian R, Laird N (1986). Meta-analysis in clinical trials. Control Clin Trials 7.
Hedges LV, Olkin I (1985). Statistical Methods for Meta-Analysis (HE estimator).
Hunter JE, Schmidt FL (2004). Methods of Meta-Analysis (HS estimator).
Sidik K, Jonkman JN (2005). Simple heterogeneity variance estimation for meta-analysis. JRSS C 54.
Paule RC, Mandel J (1982). Consensus values and weighting factors. J Res NBS 87.
Morris CN (1983). Parametric empirical Bayes inference. JASA 78; Berkey CS et al. (1995) (EB).
Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators. JEBS 30
(sampling variances of the estimators).
Viechtbauer W (2007). Confidence intervals for the amount of heterogeneity. Stat Med 26 (Q-profile).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..core import tau2 as t2
from ..core.scalar import DiagonalTau2

__all__ = [
    "WLSFit", "wls", "tau2_dl", "tau2_he", "tau2_hs", "tau2_hsk", "tau2_sj", "tau2_pm", "tau2_pmm",
    "tau2_dlit", "tau2_sjit", "tau2_eb",
    "se_tau2_ml", "se_tau2_reml", "q_profile_ci", "heterogeneity_s2",
]


@dataclass(frozen=True)
class WLSFit:
    """Weighted least squares with weights ``w = 1/(v + tau2)``.

    Parameters
    ----------
    beta : ndarray
        Coefficients ``(X'WX)^{-1} X'Wy`` (p,).
    cov : ndarray
        ``(X'WX)^{-1}`` (p, p).
    w : ndarray
        The weights (k,).
    resid : ndarray
        Residuals ``y - X beta`` (k,).
    q : float
        ``sum w r^2 = y'Py``, the generalised Q statistic.
    """

    beta: np.ndarray
    cov: np.ndarray      # (X'WX)^{-1}
    w: np.ndarray
    resid: np.ndarray
    q: float             # sum w r^2 = y'Py (generalised Q)

    def p_matrix(self, X: np.ndarray) -> np.ndarray:
        """``P = W - W X (X'WX)^{-1} X'W`` (k x k; small-k helper).

        Parameters
        ----------
        X : ndarray
            The design matrix of the fit (k, p).

        Returns
        -------
        ndarray
            ``P`` (k, k).
        """
        wx = X * self.w[:, None]
        return np.diag(self.w) - wx @ self.cov @ wx.T


def wls(y: np.ndarray, v: np.ndarray, X: np.ndarray, tau2: float = 0.0) -> WLSFit:
    """Weighted least squares fit with weights ``1/(v + tau2)``.

    Parameters
    ----------
    y : ndarray
        Effect sizes (k,).
    v : ndarray
        Sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    tau2 : float, default 0.0
        Between-study variance added to ``v``.

    Returns
    -------
    WLSFit
    """
    w = 1.0 / (v + tau2)
    wx = X * w[:, None]
    xwx = X.T @ wx
    cov = np.linalg.inv(xwx)
    cov = 0.5 * (cov + cov.T)
    beta = cov @ (wx.T @ y)
    r = y - X @ beta
    return WLSFit(beta, cov, w, r, float(np.sum(w * r * r)))


def _sum_pp(P):
    return float(np.sum(P * P))


def _problem(y, v, X, problem):
    return DiagonalTau2(y, v, X) if problem is None else problem


def tau2_dl(y: np.ndarray, v: np.ndarray, X: np.ndarray, with_se: bool = True,
            problem: DiagonalTau2 | None = None) -> tuple[float, float]:
    """DerSimonian-Laird moment estimator, truncated at 0, and its standard error.

    ``tau^2 = (Q_E - (k - p)) / tr(P_0)`` with ``P_0`` at ``tau^2 = 0``;
    ``Var = [2(k-p) + 4 tau^2 tr(P_0) + 2 tau^4 tr(P_0 P_0)] / tr(P_0)^2``.
    ``problem``: the :class:`~metamodels.core.scalar.DiagonalTau2` of ``(y, v, X)`` when
    already built (here and in the other estimators using it).

    Parameters
    ----------
    y : ndarray
        Effect sizes (k,).
    v : ndarray
        Sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    with_se : bool, default True
        Compute the standard error (NaN otherwise).
    problem : DiagonalTau2, optional
        The :class:`~metamodels.core.scalar.DiagonalTau2` of ``(y, v, X)`` when already
        built (saves recomputing its cross-products).

    Returns
    -------
    tau2 : float
        The estimate.
    se : float
        Its standard error.
    """
    k, p = X.shape
    q, trp, trpp, _ = _problem(y, v, X, problem).moments(0.0)
    tau2 = float(t2.dl(q, k - p, trp))
    if not with_se:
        return tau2, np.nan
    return tau2, float(t2.moment_se(tau2, k - p, trp, trpp, trp))


def tau2_he(y: np.ndarray, v: np.ndarray, X: np.ndarray) -> tuple[float, float]:
    """Hedges (HE) estimator from ordinary least-squares residuals, and its standard error.

    ``tau^2 = (y'Py - tr(PV)) / (k - p)`` with ``P = I - X(X'X)^{-1}X'``, ``V = diag(v)``
    (the estimate alone, without a k x k matrix: :meth:`DiagonalTau2.hedges`).

    Parameters
    ----------
    y : ndarray
        Effect sizes (k,).
    v : ndarray
        Sampling variances (k,).
    X : ndarray
        Design matrix (k, p).

    Returns
    -------
    tau2 : float
        The estimate.
    se : float
        Its standard error.
    """
    k, p = X.shape
    P = np.eye(k) - X @ np.linalg.solve(X.T @ X, X.T)
    PV = P * v[None, :]
    trpv = float(np.trace(PV))
    tau2 = float(t2.he(float(y @ P @ y), trpv, k - p))
    se = np.sqrt((2 * float(np.sum(PV * PV.T)) + 4 * tau2 * trpv + 2 * tau2 ** 2 * (k - p))
                 / (k - p) ** 2)
    return tau2, float(se)


def tau2_hs(y: np.ndarray, v: np.ndarray, X: np.ndarray,
            problem: DiagonalTau2 | None = None) -> tuple[float, float]:
    """Hunter-Schmidt estimator ``(Q_E - k) / sum(1/v)``, truncated at 0.

    Parameters
    ----------
    y : ndarray
        Effect sizes (k,).
    v : ndarray
        Sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    problem : DiagonalTau2, optional
        The :class:`~metamodels.core.scalar.DiagonalTau2` of ``(y, v, X)`` when already
        built (saves recomputing its cross-products).

    Returns
    -------
    tau2 : float
        The estimate.
    se : float
        Its standard error.
    """
    k, p = X.shape
    q, trp, trpp, sw = _problem(y, v, X, problem).moments(0.0)
    tau2 = float(t2.hs(q, k, sw))
    return tau2, float(t2.moment_se(tau2, k - p, trp, trpp, sw))


def tau2_hsk(y: np.ndarray, v: np.ndarray, X: np.ndarray,
             problem: DiagonalTau2 | None = None) -> tuple[float, float]:
    """Hunter-Schmidt estimator with the small-sample correction of Brannick et al.
    (2019): ``(k/(k - p) Q_E - k) / sum(1/v)``, truncated at 0.

    Its standard error is the delta-method ``k/(k - p) sqrt(Var Q_E) / sum(1/v)`` with
    ``Var Q_E`` at the estimate (as for HS).

    Parameters
    ----------
    y : ndarray
        Effect sizes (k,).
    v : ndarray
        Sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    problem : DiagonalTau2, optional
        The :class:`~metamodels.core.scalar.DiagonalTau2` of ``(y, v, X)`` when already
        built (saves recomputing its cross-products).

    Returns
    -------
    tau2 : float
        The estimate.
    se : float
        Its standard error.
    """
    k, p = X.shape
    q, trp, trpp, sw = _problem(y, v, X, problem).moments(0.0)
    tau2 = max(0.0, (k / (k - p) * q - k) / sw)
    return tau2, float(k / (k - p) * t2.moment_se(tau2, k - p, trp, trpp, sw))


def tau2_sj(y: np.ndarray, v: np.ndarray, X: np.ndarray,
            tau2_init: float | None = None) -> tuple[float, float]:
    """Sidik-Jonkman estimator.

    Start from ``tau0^2 = sum (y_i - ybar)^2 / k`` (or ``tau2_init``, a better a-priori
    value, as metafor's ``control=list(tau2.init=)``) and return
    ``tau^2 = tau0^2 * y'P(tau0^2)y / (k - p)`` (y centred, as in the paper).

    Parameters
    ----------
    y : ndarray
        Effect sizes (k,).
    v : ndarray
        Sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    tau2_init : float, optional
        Positive starting value ``tau0^2``.

    Returns
    -------
    tau2 : float
        The estimate.
    se : float
        Its standard error.

    Raises
    ------
    ValueError
        A starting value that is not positive.
    """
    k, p = X.shape
    yc = y - y.mean()
    tau0 = float(np.mean(yc * yc)) if tau2_init is None else float(tau2_init)
    if not tau0 > 0:
        raise ValueError(f"the Sidik-Jonkman starting value must be positive, got {tau0!r}")
    fit = wls(yc, v, X, tau0)
    tau2 = tau0 * fit.q / (k - p)
    P = fit.p_matrix(X)
    PV = P * v[None, :]
    se = np.sqrt(tau0 ** 2 / (k - p) ** 2 * (2 * float(np.sum(PV * PV.T))
                                            + 4 * tau2 * float(np.sum(PV * P))
                                            + 2 * tau2 ** 2 * _sum_pp(P)))
    return tau2, float(se)


def _se_pm(v, tau2, k, p):
    """Standard error used for the Paule-Mandel / empirical Bayes estimators:
    ``sqrt(2 k^2 / ((k - p) (sum w)^2))``."""
    return float(np.sqrt(2.0 * k ** 2 / (k - p) / np.sum(1.0 / (v + tau2)) ** 2))


def tau2_pm(y: np.ndarray, v: np.ndarray, X: np.ndarray, tol: float = 1e-12,
            problem: DiagonalTau2 | None = None) -> tuple[float, float]:
    """Paule-Mandel estimator: the root of ``y'P(tau^2)y = k - p`` (0 if Q_E < k - p).

    Safeguarded Newton steps on the convex, decreasing generalised Q
    (:func:`metamodels.core.tau2.q_equation_root`, shared with the batch kernels) to a
    relative step of ``tol``.

    Parameters
    ----------
    y : ndarray
        Effect sizes (k,).
    v : ndarray
        Sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    tol : float, default 1e-12
        Relative step at which the root search stops.
    problem : DiagonalTau2, optional
        The :class:`~metamodels.core.scalar.DiagonalTau2` of ``(y, v, X)`` when already
        built (saves recomputing its cross-products).

    Returns
    -------
    tau2 : float
        The estimate.
    se : float
        Its standard error.
    """
    k, p = X.shape
    tau2, _ = _problem(y, v, X, problem).solve_q(k - p, tol=tol)
    return tau2, _se_pm(v, tau2, k, p)


def tau2_pmm(y: np.ndarray, v: np.ndarray, X: np.ndarray, tol: float = 1e-12,
             problem: DiagonalTau2 | None = None) -> tuple[float, float]:
    """Median-unbiased Paule-Mandel estimator (Viechtbauer 2021): the root of
    ``y'P(tau^2)y = chi2_{k-p; 0.5}`` (0 if Q_E is below the median already).

    Parameters
    ----------
    y : ndarray
        Effect sizes (k,).
    v : ndarray
        Sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    tol : float, default 1e-12
        Relative step at which the root search stops.
    problem : DiagonalTau2, optional
        The :class:`~metamodels.core.scalar.DiagonalTau2` of ``(y, v, X)`` when already
        built (saves recomputing its cross-products).

    Returns
    -------
    tau2 : float
        The estimate.
    se : float
        Its standard error.
    """
    k, p = X.shape
    tau2, _ = _problem(y, v, X, problem).solve_q(stats.chi2.ppf(0.5, k - p), tol=tol)
    return tau2, _se_pm(v, tau2, k, p)


def _iterate(step, start, tol, maxiter):
    """Fixed-point iteration ``t <- step(t)`` to a change below ``tol (1 + t)``."""
    t = start
    for it in range(1, maxiter + 1):
        new = step(t)
        if abs(new - t) <= tol * (1.0 + new):
            return new, True, it
        t = new
    return t, False, maxiter


def tau2_dlit(y: np.ndarray, v: np.ndarray, X: np.ndarray, tol: float = 1e-12,
              maxiter: int = 1000, problem: DiagonalTau2 | None = None
              ) -> tuple[float, float, bool, int]:
    """Iterated DerSimonian-Laird estimator: DL's moment equation with weights
    ``1/(v + tau^2)`` at the previous estimate, from DL until it stops changing.

    The fixed point solves ``y'P(tau^2)y = k - p``, the Paule-Mandel equation.

    Parameters
    ----------
    y : ndarray
        Effect sizes (k,).
    v : ndarray
        Sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    tol : float, default 1e-12
        Stop when the change is below ``tol (1 + tau^2)``.
    maxiter : int, default 1000
        Iteration limit.
    problem : DiagonalTau2, optional
        The :class:`~metamodels.core.scalar.DiagonalTau2` of ``(y, v, X)`` when already
        built.

    Returns
    -------
    tau2 : float
        The estimate.
    se : float
        Its standard error.
    converged : bool
        Whether the iteration converged.
    n_iter : int
        Iterations used.
    """
    k, p = X.shape
    problem = _problem(y, v, X, problem)

    def step(t):
        q, trp, _, _ = problem.moments(t)
        # E y'P_a y = tr(P_a V) + tau^2 tr(P_a) with a = 1/(v + t): tr(P_a V) = k - p - t tr(P_a)
        return max(0.0, (q - (k - p)) / trp + t)

    tau2, ok, n = _iterate(step, problem.dersimonian_laird(), tol, maxiter)
    _, trp, trpp, _ = problem.moments(tau2)
    se = float(np.sqrt(2.0 * (k - p)) / trp) if tau2 >= 0 else np.nan
    return tau2, se, ok, n


def tau2_sjit(y: np.ndarray, v: np.ndarray, X: np.ndarray, tol: float = 1e-12,
              maxiter: int = 1000, tau2_init: float | None = None,
              problem: DiagonalTau2 | None = None) -> tuple[float, float, bool, int]:
    """Iterated Sidik-Jonkman estimator: ``tau^2 <- tau^2 y'P(tau^2)y / (k - p)`` from
    the Sidik-Jonkman estimate (or ``tau2_init``) to a fixed point, which solves the
    Paule-Mandel equation ``y'P(tau^2)y = k - p`` (0 is a fixed point too).

    Parameters
    ----------
    y : ndarray
        Effect sizes (k,).
    v : ndarray
        Sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    tol : float, default 1e-12
        Stop when the change is below ``tol (1 + tau^2)``.
    maxiter : int, default 1000
        Iteration limit.
    tau2_init : float, optional
        Starting value of the Sidik-Jonkman step.
    problem : DiagonalTau2, optional
        The :class:`~metamodels.core.scalar.DiagonalTau2` of ``(y, v, X)`` when already
        built.

    Returns
    -------
    tau2 : float
        The estimate.
    se : float
        Its standard error.
    converged : bool
        Whether the iteration converged.
    n_iter : int
        Iterations used.
    """
    k, p = X.shape
    problem = _problem(y, v, X, problem)
    start = tau2_sj(y, v, X, tau2_init)[0]
    tau2, ok, n = _iterate(lambda t: t * problem.genq(t) / (k - p), start, tol, maxiter)
    return tau2, _se_pm(v, tau2, k, p), ok, n


def tau2_eb(y: np.ndarray, v: np.ndarray, X: np.ndarray, tol: float = 1e-12,
            maxiter: int = 1000, start: float | None = None,
            problem: DiagonalTau2 | None = None) -> tuple[float, float, bool, int]:
    """Empirical Bayes estimator (Morris 1983; Berkey et al. 1995).

    Iterates ``tau^2 <- tau^2 + [k/(k-p) y'P y - k] / sum(w)`` (halving steps that would
    go below 0) until the change is below ``tol * (1 + tau^2)``.  Its fixed point solves
    the same estimating equation as Paule-Mandel.

    Parameters
    ----------
    y : ndarray
        Effect sizes (k,).
    v : ndarray
        Sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    tol : float, default 1e-12
        Stop when the change is below ``tol (1 + tau^2)``.
    maxiter : int, default 1000
        Iteration limit.
    start : float, optional
        Starting value (default: the Hedges estimate).
    problem : DiagonalTau2, optional
        The :class:`~metamodels.core.scalar.DiagonalTau2` of ``(y, v, X)`` when already
        built.

    Returns
    -------
    tau2 : float
        The estimate.
    se : float
        Its standard error.
    converged : bool
        Whether the iteration converged.
    n_iter : int
        Iterations used.
    """
    k, p = X.shape
    problem = _problem(y, v, X, problem)
    tau2 = problem.hedges() if start is None else float(start)
    for it in range(1, maxiter + 1):
        adj = (k / (k - p) * problem.genq(tau2) - k) / float(np.sum(1.0 / (v + tau2)))
        while tau2 + adj < 0:
            adj /= 2.0
            if abs(adj) < 1e-300:
                adj = -tau2
                break
        new = tau2 + adj
        done = abs(new - tau2) <= tol * (1.0 + new)
        tau2 = new
        if done:
            return tau2, _se_pm(v, tau2, k, p), True, it
    return tau2, _se_pm(v, tau2, k, p), False, maxiter


def se_tau2_ml(v: np.ndarray, tau2: float) -> float:
    """Inverse Fisher information of the ML estimator: ``sqrt(2 / sum w^2)``.

    Parameters
    ----------
    v : ndarray
        Sampling variances (k,).
    tau2 : float
        The estimate.

    Returns
    -------
    float
    """
    w = 1.0 / (v + tau2)
    return float(np.sqrt(2.0 / np.sum(w * w)))


def se_tau2_reml(v: np.ndarray, X: np.ndarray, tau2: float) -> float:
    """Inverse Fisher information of the REML estimator: ``sqrt(2 / tr(PP))`` with
    ``tr(PP) = sum w^2 - 2 tr(C X'W^3X) + tr(C G C G)``, ``G = X'W^2X`` (no k x k matrix).

    Parameters
    ----------
    v : ndarray
        Sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    tau2 : float
        The estimate.

    Returns
    -------
    float
    """
    w = 1.0 / (v + tau2)
    wx = X * w[:, None]
    C = np.linalg.inv(X.T @ wx)
    G = wx.T @ wx
    CG = C @ G
    trpp = float(w @ w - 2.0 * np.sum(C * (wx.T @ (wx * w[:, None]))) + np.sum(CG * CG.T))
    return float(np.sqrt(2.0 / trpp))


def heterogeneity_s2(v: np.ndarray, X: np.ndarray) -> float:
    """Typical within-study variance ``s^2 = (k - p) / tr(P_0)`` used by I^2 and H^2.

    Parameters
    ----------
    v : ndarray
        Sampling variances (k,).
    X : ndarray
        Design matrix (k, p).

    Returns
    -------
    float
    """
    k, p = X.shape
    return (k - p) / DiagonalTau2(np.zeros_like(v), v, X).moments(0.0)[1]


def q_profile_ci(y: np.ndarray, v: np.ndarray, X: np.ndarray, alpha: float = 0.05,
                 tol: float = 1e-12) -> tuple[float, float]:
    """Q-profile confidence interval for tau^2 (Viechtbauer 2007).

    Lower and upper limits solve ``y'P(tau^2)y = chi2_{k-p; 1-alpha/2}`` and
    ``= chi2_{k-p; alpha/2}``; a limit is 0 when ``Q_E`` is already below its target.

    Parameters
    ----------
    y : ndarray
        Effect sizes (k,).
    v : ndarray
        Sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    alpha : float, default 0.05
        ``1 - alpha`` interval.
    tol : float, default 1e-12
        Relative accuracy of the roots.

    Returns
    -------
    tuple of float
        ``(lower, upper)``.
    """
    k, p = X.shape
    df = k - p
    problem = DiagonalTau2(y, v, X)
    return (problem.solve_q(stats.chi2.ppf(1 - alpha / 2, df), tol=tol)[0],
            problem.solve_q(stats.chi2.ppf(alpha / 2, df), tol=tol)[0])
