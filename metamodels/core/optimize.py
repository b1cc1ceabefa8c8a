"""Maximise the profiled (RE)ML log-likelihood over theta.

Projected Newton / Fisher scoring with step halving, the classical algorithm of
mixed-model software (Jennrich and Sampson 1976; Harville 1977): from ``theta`` take the
step ``J(theta)^{-1} g(theta)`` with the observed information ``J`` when it is positive
definite (quadratic convergence), else the Fisher-scoring step ``I(theta)^{-1} g``; coordinates that sit on a bound and whose gradient points
out of the parameter space are held fixed (active set); the step is halved until the
log-likelihood does not decrease.  When scoring stalls the search finishes with
L-BFGS-B on the same analytic gradient.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from .likelihood import Evaluation, NotPositiveDefiniteError, evaluate

__all__ = ["FitOutcome", "maximize"]


@dataclass(frozen=True)
class FitOutcome:
    """Result of :func:`maximize`."""

    evaluation: Evaluation
    converged: bool
    n_iter: int
    at_lower: np.ndarray
    at_upper: np.ndarray
    method: str
    message: str

    @property
    def theta(self):
        return self.evaluation.theta


def _safe_eval(theta, y, X, spec, reml, order):
    """:func:`evaluate` at a trial point, or ``None`` (a rejected step) when ``V(theta)``
    is not positive definite or numerically singular there, or the log-likelihood or its
    derivatives are not finite (any ``LinAlgError``: ``NotPositiveDefiniteError`` is one)."""
    try:
        with np.errstate(all="ignore"):
            ev = evaluate(theta, y, X, spec, reml, order)
    except (np.linalg.LinAlgError, FloatingPointError, ZeroDivisionError):
        return None
    if not np.isfinite(ev.llf) or (ev.grad is not None and not np.all(np.isfinite(ev.grad))):
        return None
    return ev


#: ``face_search="auto"`` examines the faces of the parameter box for models with at most
#: this many observations (the cost is a few extra fits, negligible for small data).
FACE_SEARCH_MAX_NOBS = 2000


def maximize(y, X, spec, theta0, reml=True, tol=1e-10, maxiter=200, restarts=(),
             face_search="auto") -> FitOutcome:
    """Find the (RE)ML estimate of theta.

    Parameters
    ----------
    y, X : arrays
    spec : CovarianceSpec
    theta0 : (q,) starting value (clipped to the bounds)
    reml : bool
    restarts : sequence of (q,) arrays
        Further starting values, tried only when the solution from ``theta0`` lies on a
        bound (a boundary maximum may be local: the likelihood in variance parameters
        can be multimodal); the fit with the highest log-likelihood is kept.
    tol : float
        Convergence when every step is below ``tol * (|theta_j| + se_j)``, with ``se_j``
        the standard error implied by the Fisher information (a scale-free criterion).
    maxiter : int
    face_search : {"auto", True, False}
        The likelihood in several variance parameters can have a local maximum inside the
        parameter space and a higher one on its boundary (some variances at 0), which no
        local search started inside finds.  With ``face_search`` the maximiser also
        maximises over each face of the box where a subset of the variance-type
        parameters (bounded below, unbounded above) sits at its lower bound -- every
        subset when there are at most three such parameters, each single one otherwise --
        and continues from a face maximum that beats the solution found.  ``"auto"`` does
        so when the data have at most ``FACE_SEARCH_MAX_NOBS`` observations.

    Notes
    -----
    Maximum likelihood over several variance parameters has no cheap global guarantee;
    the face search removes the common failure (an interior local maximum beside a
    boundary one).  A one-parameter likelihood (tau^2 of a univariate meta-analysis)
    is maximised globally by :mod:`metamodels.core.tau2`.
    """
    best = _maximize_from(y, X, spec, theta0, reml, tol, maxiter, interior=False)
    if best.at_lower.any() or best.at_upper.any():
        # A boundary maximum may be local: search again keeping iterates strictly
        # inside (steps that would leave the box are halved, as metafor does) and
        # keep the best of the solutions found.
        for start in [theta0, *restarts]:
            other = _maximize_from(y, X, spec, start, reml, tol, maxiter, interior=True)
            if other.evaluation.llf > best.evaluation.llf + 1e-10 * (1 + abs(best.evaluation.llf)):
                best = other
    if face_search == "auto":
        face_search = int(np.asarray(y).shape[0]) <= FACE_SEARCH_MAX_NOBS
    if face_search:
        best = _face_search(y, X, spec, best, reml, tol, maxiter)
    return best


def _better(a, b):
    """True when outcome ``a`` has a clearly higher log-likelihood than ``b``."""
    la, lb = a.evaluation.llf, b.evaluation.llf
    return la > lb + 1e-10 * (1.0 + abs(lb))


def _face_search(y, X, spec, best, reml, tol, maxiter):
    """Maximise over the faces of the box where variance-type parameters are at their
    lower bound (see :func:`maximize`); keep the best solution."""
    from itertools import combinations
    lo, hi = spec.lower, spec.upper
    cand = np.flatnonzero(np.isfinite(lo) & ~np.isfinite(hi) & ~best.at_lower)
    if cand.size == 0:
        return best
    sizes = range(1, cand.size + 1) if cand.size <= 3 else (1,)
    for size in sizes:
        for subset in combinations(cand, size):
            fixed = np.zeros(lo.shape, dtype=bool)
            fixed[list(subset)] = True
            start = np.where(fixed, lo, best.theta)
            try:
                face = _maximize_from(y, X, spec, start, reml, tol, maxiter,
                                      interior=False, fixed=fixed)
            except (np.linalg.LinAlgError, FloatingPointError, ZeroDivisionError, ValueError):
                continue            # V is singular on this face
            if not _better(face, best):
                continue
            # Free all parameters again from the face maximum: it stays there when the
            # gradient points out of the box, or climbs further.
            try:
                free = _maximize_from(y, X, spec, face.theta, reml, tol, maxiter,
                                      interior=False)
            except (np.linalg.LinAlgError, FloatingPointError, ZeroDivisionError, ValueError):
                continue
            if not _better(face, free):
                best = free
    return best


def _maximize_from(y, X, spec, theta0, reml, tol, maxiter, interior, fixed=None):
    lo, hi = spec.lower, spec.upper
    theta = np.clip(np.asarray(theta0, dtype=float), lo, hi)
    ev = evaluate(theta, y, X, spec, reml, order=1)
    it = 0
    for it in range(1, maxiter + 1):
        g = ev.grad
        free = ~(((theta <= lo) & (g <= 0)) | ((theta >= hi) & (g >= 0)))
        if fixed is not None:
            free &= ~fixed
        step = np.zeros_like(theta)
        if free.any():
            step[free] = _direction(ev, free)
        scale = tol * (np.abs(theta) + _se(ev.info))
        if np.all(np.abs(step) <= scale) and not np.any(theta + step < lo) \
                and not np.any(theta + step > hi):
            return _outcome(ev, spec, True, it - 1, "newton-scoring", "converged")
        # Near the optimum the predicted gain g'step falls below the rounding noise of
        # the log-likelihood (log-determinants of ill-conditioned X'V^-1X); there the
        # full step is taken, as its size is governed by the accurate gradient.
        noise = 1e-11 * (1.0 + abs(ev.llf))
        new_ev = None
        lam = 1.0
        if interior:
            for _ in range(60):
                trial = theta + lam * step
                if np.all((trial > lo) & (trial < hi)):
                    break
                lam *= 0.5
        for _ in range(40):
            cand = np.clip(theta + lam * step, lo, hi)
            cand_ev = _safe_eval(cand, y, X, spec, reml, 1)
            if cand_ev is not None and (cand_ev.llf >= ev.llf - 1e-12 * (1 + abs(ev.llf))
                                        or abs(float(g @ (cand - theta))) < noise):
                new_ev = cand_ev
                break
            lam *= 0.5
        if new_ev is None:
            break
        delta = np.abs(new_ev.theta - theta)
        theta, ev = new_ev.theta, new_ev
        scale = tol * (np.abs(theta) + _se(ev.info))
        if interior:
            near = (theta - lo < scale * 1e3) | (hi - theta < scale * 1e3)
            if near.any():          # converging onto the bound: snap and stop
                ev = evaluate(np.where(theta - lo < scale * 1e3, lo,
                                       np.where(hi - theta < scale * 1e3, hi, theta)),
                              y, X, spec, reml, order=1)
                return _outcome(ev, spec, True, it, "newton-scoring", "converged")
        if np.all(delta <= scale):
            return _outcome(ev, spec, True, it, "newton-scoring", "converged")
    # Fallback: quasi-Newton on the same analytic gradient.
    return _lbfgs(y, X, spec, theta, reml, tol, it, fixed)


def _se(info):
    d = np.diag(info)
    return np.where(d > 0, 1.0 / np.sqrt(np.abs(d) + 1e-300), 0.0)


def _direction(ev, free):
    """Newton step with the observed information when it is positive definite,
    otherwise a Fisher-scoring step."""
    allfree = bool(free.all())
    g = ev.grad if allfree else ev.grad[free]
    for mat in (ev.obs_info, ev.info):
        if mat is None:
            continue
        sub = mat if allfree else mat[np.ix_(free, free)]
        if sub.shape == (1, 1):
            if sub[0, 0] > 0:
                return g / sub[0, 0]
            continue
        try:
            L = np.linalg.cholesky(sub)
            d = np.diagonal(L)
            if d.min() <= 1e-10 * d.max():
                continue
            return np.linalg.solve(sub, g)
        except np.linalg.LinAlgError:
            continue
    return np.linalg.lstsq(ev.info[np.ix_(free, free)], g, rcond=None)[0]


def _outcome(ev, spec, converged, n_iter, method, message):
    th = ev.theta
    return FitOutcome(ev, converged, n_iter, th <= spec.lower, th >= spec.upper, method, message)


def _lbfgs(y, X, spec, theta, reml, tol, n_prev, fixed=None):
    def fun(t):
        e = _safe_eval(t, y, X, spec, reml, 1)
        if e is None:
            return np.inf, np.zeros_like(t)
        return -e.llf, -e.grad

    bounds = [(None if not np.isfinite(a) else a, None if not np.isfinite(b) else b)
              for a, b in zip(spec.lower, spec.upper)]
    if fixed is not None:
        bounds = [(theta[j], theta[j]) if fixed[j] else bd for j, bd in enumerate(bounds)]
    res = optimize.minimize(fun, theta, jac=True, method="L-BFGS-B", bounds=bounds,
                            options={"maxiter": 1000, "gtol": 1e-9, "ftol": 1e-15})
    ev = evaluate(res.x, y, X, spec, reml, order=1)
    g = ev.grad.copy()
    th = ev.theta
    g[(th <= spec.lower) & (g <= 0)] = 0.0
    g[(th >= spec.upper) & (g >= 0)] = 0.0
    scale = np.sqrt(np.clip(np.diag(ev.info), 1e-300, None))
    ok = bool(res.success) or bool(np.all(np.abs(g) / scale <= 1e-4))
    return _outcome(ev, spec, ok, n_prev + int(res.nit), "lbfgs", str(res.message))
