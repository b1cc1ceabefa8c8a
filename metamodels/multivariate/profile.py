"""Profile (restricted) likelihood of MetaMixed variance components and the
profile-likelihood confidence intervals built on it (metafor's ``profile.rma.mv`` and
``confint.rma.mv``).

The profile log-likelihood of component ``theta_j`` at ``v`` is the (RE)ML log-likelihood
maximised over the other components with ``theta_j = v`` fixed (the fixed effects are
profiled out by GLS, as in the fit).  The ``1 - alpha`` interval is
``{v : 2 (l_hat - l_p(v)) <= chi2_{1, 1-alpha}}``: its limits are the roots of
``2 (l_hat - l_p(v)) - chi2_{1, 1-alpha}`` on either side of the estimate, found by
Brent's method.  A limit is the bound of the parameter space (0 for a variance, the
lower/upper correlation bound) when the statistic stays below the critical value up to
that bound, as in metafor.  For a variance whose profile never crosses the critical value
(a flat likelihood), the upper limit is ``inf`` with a warning (metafor reports its
search bound, ``max(10, 100 v_hat)``, marked ">").
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import optimize, stats

from ..core.likelihood import evaluate
from ..exceptions import MetaModelsWarning

if TYPE_CHECKING:
    from statsmodels.base.model import LikelihoodModel
    from numpy.typing import ArrayLike


__all__ = ["profile_loglik", "profile_conf_int"]


def profile_loglik(model: LikelihoodModel, reml: bool, theta_hat: ArrayLike, j: int, value: float,
                   start: ArrayLike | None = None) -> tuple[float, np.ndarray]:
    """Maximised (restricted) log-likelihood with ``theta_j = value``.

    Parameters
    ----------
    model : MetaMixed
    reml : bool
    theta_hat : (q,) array
        The estimate (the other components start there unless ``start`` is given).
    j : int
        Index of the profiled component in ``model.spec.param_names``.
    value : float
    start : (q - 1,) array, optional

    Returns
    -------
    (llf, theta)
        The profile log-likelihood (SAS/lme4 REML convention, as ``results.llf``) and
        the full parameter vector at the constrained maximum (``llf`` is ``-inf`` when no
        positive definite ``V`` is found).
    """
    spec, y, X = model.spec, model.endog, model.exog
    theta_hat = np.asarray(theta_hat, dtype=float)
    free = np.array([i for i in range(theta_hat.size) if i != j], dtype=int)

    def full(tf):
        th = theta_hat.copy()
        th[j] = value
        th[free] = tf
        return th

    if free.size == 0:
        try:
            return float(evaluate(full(free), y, X, spec, reml).llf), full(free)
        except np.linalg.LinAlgError:
            return -np.inf, full(free)

    lower = np.array([spec.lower[i] for i in free], dtype=float)
    upper = np.array([spec.upper[i] for i in free], dtype=float)
    x0 = theta_hat[free] if start is None else np.asarray(start, dtype=float)
    x0 = np.clip(x0, lower, upper)

    def ev_at(tf):
        try:
            with np.errstate(all="ignore"):
                ev = evaluate(full(tf), y, X, spec, reml, order=1)
        except np.linalg.LinAlgError:
            return None
        return ev if np.isfinite(ev.llf) and np.all(np.isfinite(ev.grad)) else None

    out = _newton(ev_at, x0, free, lower, upper)
    if out is None:
        out = _lbfgs(ev_at, x0, free, lower, upper)
    if out is None:
        return -np.inf, full(x0)
    return out[0], full(out[1])


def _newton(ev_at, x, free, lower, upper, maxiter=60, tol=1e-11):
    """Projected Newton on the free components (observed information, Fisher scoring
    where it is not positive definite; coordinates on a bound whose gradient points out
    held fixed; step halving).  ``(llf, x)`` or None when it does not converge."""
    ev = ev_at(x)
    if ev is None:
        return None
    for _ in range(maxiter):
        g = np.asarray(ev.grad, dtype=float)[free]
        J = None if ev.obs_info is None else np.asarray(ev.obs_info)[np.ix_(free, free)]
        active = ((x <= lower) & (g < 0)) | ((x >= upper) & (g > 0))
        keep = ~active
        step = np.zeros_like(x)
        if keep.any():
            A = J[np.ix_(keep, keep)] if J is not None else None
            if A is None or np.linalg.eigvalsh(A).min() <= 0:
                A = np.asarray(ev.info)[np.ix_(free, free)][np.ix_(keep, keep)]
            # pseudo-inverse: a component can drop out of the likelihood (a correlation
            # once a variance is 0), leaving a singular information matrix
            step[keep] = np.linalg.pinv(A, rcond=1e-12, hermitian=True) @ g[keep]
            if not np.all(np.isfinite(step)):
                return None
        if np.all(np.abs(step) <= tol * (np.abs(x) + 1e-8)) or not keep.any():
            return float(ev.llf), x
        t = 1.0
        while t > 1e-10:
            xn = np.clip(x + t * step, lower, upper)
            en = ev_at(xn)
            if en is not None and en.llf >= ev.llf - 1e-12 * abs(ev.llf):
                break
            t /= 2
        else:
            return float(ev.llf), x           # no ascent left: at the maximum
        x, ev = xn, en
    return None


def _lbfgs(ev_at, x0, free, lower, upper):
    def fun(tf):
        ev = ev_at(tf)
        if ev is None:
            return np.inf, np.zeros(tf.size)
        return -ev.llf, -np.asarray(ev.grad)[free]

    bounds = [(lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None)
              for lo, hi in zip(lower, upper)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 2000})
    return (-float(sol.fun), sol.x) if np.isfinite(sol.fun) else None


def _is_variance(name):
    return "Var(" in name


def profile_conf_int(results: Any, j: int, alpha: float = 0.05,
                     xtol: float = 1e-12) -> tuple[float, float]:
    """Profile-likelihood ``1 - alpha`` interval of component ``j`` of a MetaMixed fit.

    Parameters
    ----------
    results : MetaMixedResults
        The fit.
    j : int
        Index of the component in ``model.spec.param_names``.
    alpha : float, default 0.05
        ``1 - alpha`` interval: where ``2 (llf - profile llf)`` reaches
        ``chi2_1(1 - alpha)``.
    xtol : float, default 1e-12
        Absolute tolerance of the root search (Brent).

    Returns
    -------
    (lower, upper)
        Floats; a limit at a bound of the parameter when the profile stays above the
        critical value there, ``inf`` (with a warning) when it does up to a large value.

    Raises
    ------
    ValueError
        ``alpha`` outside ``(0, 1)``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    model = results.model
    spec = model.spec
    reml = results.reml
    theta_hat = np.asarray(results._ev.theta, dtype=float)
    name = spec.param_names[j]
    est = theta_hat[j]
    top = float(results.llf)
    crit = stats.chi2.ppf(1 - alpha, 1)
    free = [i for i in range(theta_hat.size) if i != j]
    last = {"x": theta_hat[free]}

    lo_free = np.asarray(spec.lower, dtype=float)[free]
    hi_free = np.asarray(spec.upper, dtype=float)[free]

    def on_bound(x):
        return (x <= lo_free) | (x >= hi_free)

    hat_on_bound = on_bound(theta_hat[free])

    def excess(v):
        # from the last solution (a neighbour during the root search); again from the
        # estimate when that ends on a bound the estimate is not on: a far start can end
        # at a boundary stationary point (e.g. a variance at 0 making a correlation
        # irrelevant)
        ll, th = profile_loglik(model, reml, theta_hat, j, v, start=last["x"])
        if not np.isfinite(ll) or np.any(on_bound(th[free]) & ~hat_on_bound):
            ll0, th0 = profile_loglik(model, reml, theta_hat, j, v)
            if ll0 > ll:
                ll, th = ll0, th0
        if np.isfinite(ll):
            last["x"] = th[free]
        return 2.0 * (top - ll) - crit

    lo_bound, hi_bound = spec.lower[j], spec.upper[j]
    # lower limit
    if est <= lo_bound or excess(lo_bound) <= 0:
        lower = float(lo_bound)
    else:
        lower = optimize.brentq(excess, lo_bound, est, xtol=xtol, rtol=4 * np.finfo(float).eps,
                                maxiter=500)
    # upper limit
    if np.isfinite(hi_bound):
        if excess(hi_bound) <= 0:
            return float(lower), float(hi_bound)
        upper = optimize.brentq(excess, est, hi_bound, xtol=xtol,
                                rtol=4 * np.finfo(float).eps, maxiter=500)
        return float(lower), float(upper)
    hi = max(10.0, 100.0 * est) if _is_variance(name) else max(1.0, 2 * abs(est) + 1.0)
    for _ in range(12):
        if excess(hi) > 0:
            break
        hi *= 10.0
    else:
        warnings.warn(f"the profile likelihood of {name} stays above its critical value "
                      f"up to {hi:.3g}: the upper confidence limit is unbounded (inf)",
                      MetaModelsWarning, stacklevel=3)
        return float(lower), np.inf
    upper = optimize.brentq(excess, est, hi, xtol=xtol, rtol=4 * np.finfo(float).eps,
                            maxiter=500)
    return float(lower), float(upper)
