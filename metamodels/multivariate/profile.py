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

import numpy as np
from scipy import optimize, stats

from ..core.likelihood import evaluate
from ..exceptions import MetaModelsWarning

__all__ = ["profile_loglik", "profile_conf_int"]


def _bounds(spec, idx):
    return [(spec.lower[i] if np.isfinite(spec.lower[i]) else None,
             spec.upper[i] if np.isfinite(spec.upper[i]) else None) for i in idx]


def profile_loglik(model, reml, theta_hat, j, value, start=None):
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

    def fun(tf):
        try:
            with np.errstate(all="ignore"):
                ev = evaluate(full(tf), y, X, spec, reml, order=1)
        except np.linalg.LinAlgError:
            return np.inf, np.zeros(tf.size)
        if not np.isfinite(ev.llf):
            return np.inf, np.zeros(tf.size)
        return -ev.llf, -np.asarray(ev.grad)[free]

    x0 = theta_hat[free] if start is None else np.asarray(start, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = optimize.minimize(fun, x0, jac=True, method="L-BFGS-B",
                                bounds=_bounds(spec, free),
                                options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 2000})
    if not np.isfinite(sol.fun):
        return -np.inf, full(x0)
    return -float(sol.fun), full(sol.x)


def _is_variance(name):
    return "Var(" in name


def profile_conf_int(results, j, alpha=0.05, xtol=1e-12):
    """Profile-likelihood ``1 - alpha`` interval of component ``j`` of a MetaMixed fit.

    Returns
    -------
    (lower, upper)
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

    def excess(v):
        ll, th = profile_loglik(model, reml, theta_hat, j, v)
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
