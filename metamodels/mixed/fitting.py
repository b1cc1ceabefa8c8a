"""Fit a MixedModel on the shared engine and compute conditional quantities."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..core.likelihood import NotPositiveDefiniteError
from ..core.optimize import maximize
from ..exceptions import BoundaryWarning, ConvergenceWarning
from ..inference.ddf import check_ddf
from .identifiability import check_residual_scale

__all__ = ["MixedFit", "fit_mixed"]


@dataclass(frozen=True)
class MixedFit:
    """Numbers of one fitted mixed model."""

    theta: np.ndarray
    beta: np.ndarray
    cov_beta: np.ndarray
    llf: float
    reml: bool
    converged: bool
    n_iter: int
    obs_info: np.ndarray
    exp_info: np.ndarray
    grad: np.ndarray
    at_lower: np.ndarray


def fit_mixed(model, reml=True, start=None, maxiter=200, tol=1e-10, ddf="satterthwaite"):
    """Maximise the (restricted) likelihood of ``model`` and wrap the results."""
    from .results import MixedResults, MixedResultsWrapper
    ddf = check_ddf(ddf)
    y, spec = model.endog, model.spec
    # columns on very different scales (a predictor times 1e12) are fitted on columns
    # scaled by powers of two (exact in floating point); ordinary designs are used as is
    d = model.exog_fit_scales
    X = model.exog if d is None else model.exog / d
    if start is None:
        # OLS residual variance from the normal equations (cheap for tall X)
        xtx, xty = X.T @ X, X.T @ y
        beta_ols = np.linalg.solve(xtx, xty)
        rss = float(y @ y - beta_ols @ xty)
        s2 = max(rss, 1e-12 * float(y @ y)) / max(1.0, X.shape[0] - X.shape[1])
        start = spec.start(s2)
    start = np.asarray(start, dtype=float)
    if start.shape != (spec.n_params,):
        raise ValueError(f"start must have {spec.n_params} values "
                         f"({', '.join(spec.param_names)})")
    try:
        out = maximize(y, X, spec, start, reml=reml, tol=tol, maxiter=maxiter)
    except NotPositiveDefiniteError:
        raise
    except np.linalg.LinAlgError as exc:    # a singular V at a trial point, not rejected
        raise NotPositiveDefiniteError(
            f"V(theta) became singular during the {'REML' if reml else 'ML'} optimisation "
            f"({exc}): a variance collapsing to 0, e.g. an outcome fitted exactly by the "
            "fixed effects") from exc
    ev = out.evaluation
    if not out.converged:
        warnings.warn(f"the {'REML' if reml else 'ML'} optimisation did not converge "
                      f"({out.message})", ConvergenceWarning, stacklevel=3)
    lower_hit = out.at_lower & (spec.lower > -np.inf)
    if lower_hit.any():
        names = [spec.param_names[i] for i in np.flatnonzero(lower_hit)]
        warnings.warn(f"parameter(s) on the boundary of the parameter space: {names}",
                      BoundaryWarning, stacklevel=3)
    for part, G in zip(spec.random, spec.G_matrices(ev.theta)):
        if G.shape[0] > 1 and np.linalg.eigvalsh(G).min() < -1e-8 * max(1.0, np.abs(G).max()):
            warnings.warn(f"the estimated G matrix of {part.name} is not positive "
                          "semi-definite", BoundaryWarning, stacklevel=3)
    check_residual_scale(model, ev.theta, stacklevel=4)
    # back to the original columns: b = D^-1 b_s, C = D^-1 C_s D^-1, and the REML term
    # -1/2 log|X'V^-1X| gains -sum(log d)
    beta, cov_beta, llf = ev.beta, ev.cov_beta, ev.llf
    if d is not None:
        beta, cov_beta = beta / d, cov_beta / np.outer(d, d)
        llf = llf - (float(np.sum(np.log(d))) if reml else 0.0)
    fit = MixedFit(ev.theta, beta, cov_beta, llf, reml, out.converged, out.n_iter,
                   ev.obs_info, ev.info, ev.grad, out.at_lower)
    return MixedResultsWrapper(MixedResults(model, fit, ddf=ddf))

