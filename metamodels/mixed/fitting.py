"""Fit a MixedModel on the shared engine and compute conditional quantities."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base.engine import boundary_items, check_start, engine_fit, warn_boundary
from ..core.likelihood import evaluate
from ..core.structures import params_to, psd_structure
from ..exceptions import BoundaryWarning
from ..inference.ddf import check_ddf, ddf_class
from ..inference.empirical import check_compatible, check_cov_type
from ..core.random import g_parameter_names
from .aliasing import expand, expand_cov
from .identifiability import check_residual_scale, collapsed_residual

if TYPE_CHECKING:
    from statsmodels.base.model import LikelihoodModel

__all__ = ["MixedFit", "fit_mixed"]


@dataclass(frozen=True)
class MixedFit:
    """Numbers of one fitted mixed model (the input of
    :class:`~metamodels.mixed.results.MixedResults`).

    Attributes
    ----------
    theta : numpy.ndarray
        Covariance parameters (``model.spec.param_names`` order).
    beta : numpy.ndarray
        Fixed effects (aliased columns 0, SAS's g2 solution).
    cov_beta : numpy.ndarray
        Model-based covariance ``(X'V^{-1}X)^{-1}`` of ``beta``.
    llf : float
        (Restricted) log-likelihood at the estimate.
    reml : bool
        REML (True) or ML fit.
    converged : bool
        Whether the search met its tolerance.
    n_iter : int
        Iterations used.
    obs_info, exp_info : numpy.ndarray
        Observed and expected information of ``theta``.
    grad : numpy.ndarray
        Gradient at the estimate.
    at_lower : numpy.ndarray
        Boolean mask of the parameters at their lower bound.
    boundary : tuple of str
        ``"name = value"`` of every covariance parameter estimated on a bound of its
        range (those named by the fit's BoundaryWarning).
    """

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
    boundary: tuple = ()


G_CONSTRAINTS = ("sas", "psd")


def fit_mixed(model: LikelihoodModel, reml: bool = True, start: Any = None, maxiter: int = 200,
              tol: float = 1e-10, g_constraint: str = "sas", ddf: str = "satterthwaite",
              cov_type: str = "nonrobust") -> Any:
    """Maximise the (restricted) likelihood of ``model`` and wrap the results.

    ``g_constraint="sas"`` bounds the variances only (SAS PROC MIXED: a ``G`` that is not
    positive definite is reported with a warning); ``"psd"`` keeps every ``G`` positive
    semi-definite (lme4): the search runs over
    :meth:`~metamodels.core.blockcov.BlockCovariance.psd_variant` and the optimum is mapped
    back to the SAS parameters, which the results report.  ``ddf`` is the results' default
    denominator-df method and ``cov_type`` the covariance of the fixed effects
    (:mod:`metamodels.inference.empirical`).  The fit sequence is
    :func:`metamodels.base.engine.engine_fit`; crossed random effects go through the
    Z-space path (:func:`_fit_zspace`) when the covariance says so
    (``model.spec.zspace_active()``).

    Parameters
    ----------
    model : MixedModel
        The model.
    reml : bool, default True
        REML (True) or ML.
    start : array_like, "mivque0" or None
        Starting covariance parameters (see :meth:`MixedModel.fit`).
    maxiter : int, default 200
        Largest number of iterations.
    tol : float, default 1e-10
        Relative step tolerance.
    g_constraint : {"sas", "psd"}, default "sas"
        Constraint on ``G``.
    ddf : str, default "satterthwaite"
        Default ddf method of the results.
    cov_type : str, default "nonrobust"
        Covariance of the fixed effects.

    Returns
    -------
    MixedResults
        Wrapped in statsmodels' results wrapper.
    """
    ddf = check_ddf(ddf)
    cov_type = check_cov_type(cov_type)
    check_compatible(ddf_class(ddf), cov_type)
    y, spec = model.endog, model.spec
    # columns on very different scales (a predictor times 1e12) are fitted on columns
    # scaled by powers of two (exact in floating point); ordinary designs are used as is
    d = model.exog_fit_scales
    keep = ~model.aliased            # accept_singular: fit on the estimable columns
    X = model.exog if d is None else model.exog / d
    if not keep.all():
        X, d = X[:, keep], (None if d is None else d[keep])
    mivque = isinstance(start, str)
    if mivque and start.lower() != "mivque0":
        raise ValueError(f"start must be values, None or 'mivque0', got {start!r}")
    if start is None or mivque:
        # OLS residual variance from the normal equations (cheap for tall X)
        xtx, xty = X.T @ X, X.T @ y
        beta_ols = np.linalg.solve(xtx, xty)
        rss = float(y @ y - beta_ols @ xty)
        s2 = max(rss, 1e-12 * float(y @ y)) / max(1.0, X.shape[0] - X.shape[1])
        start = spec.start(s2)
        if mivque:                      # SAS's default start (linear structures)
            from .mivque import mivque0_start
            start = mivque0_start(model, fallback=start)
    start = check_start(spec, start)
    if g_constraint not in G_CONSTRAINTS:
        raise ValueError(f"g_constraint must be one of {G_CONSTRAINTS}, got {g_constraint!r}")
    search = spec
    if spec.zspace_active():
        return _fit_zspace(model, X, d, start, reml, tol, maxiter, ddf, cov_type)
    if g_constraint == "psd":
        search, to_sas, from_sas = spec.psd_variant()
        start = from_sas(start)
    def degenerate(outcome):
        theta = outcome.theta if search is spec else to_sas(outcome.theta)
        return collapsed_residual(model, theta) is not None

    out = engine_fit(y, X, search, start, "REML" if reml else "ML", tol, maxiter,
                     boundary=False, stacklevel=3, degenerate=degenerate)
    ev = out.evaluation
    boundary = (boundary_items(search, out) if search is spec
                else _psd_boundary_names(spec, search, out))
    warn_boundary(boundary, stacklevel=3)
    at_lower = out.at_lower
    if search is not spec:
        ev = evaluate(to_sas(ev.theta), y, X, spec, reml, order=1)
        at_lower = ev.theta <= spec.lower
    for part, G in zip(spec.random, spec.G_matrices(ev.theta)):
        if G.shape[0] > 1 and np.linalg.eigvalsh(G).min() <= 1e-8 * max(1e-300, np.abs(G).max()) \
                and search is spec:
            # SAS: "Estimated G matrix is not positive definite"
            warnings.warn(f"the estimated G matrix of {part.name} is not positive definite "
                          "(SAS semantics: only the variances are bounded; "
                          "g_constraint='psd' keeps G positive semi-definite as lme4 does)",
                          BoundaryWarning, stacklevel=3)
    check_residual_scale(model, ev.theta, stacklevel=4)
    return _results(model, ev, out, d, reml, at_lower, ddf, cov_type, boundary)


def _results(model, ev, out, d, reml, at_lower, ddf, cov_type, boundary=()):
    """Wrap an engine evaluation at the estimate into MixedResults."""
    from .results import MixedResults, MixedResultsWrapper
    keep = ~model.aliased
    # back to the original columns: b = D^-1 b_s, C = D^-1 C_s D^-1, and the REML term
    # -1/2 log|X'V^-1X| gains -sum(log d)
    beta, cov_beta, llf = ev.beta, ev.cov_beta, ev.llf
    if d is not None:
        beta, cov_beta = beta / d, cov_beta / np.outer(d, d)
        llf = llf - (float(np.sum(np.log(d))) if reml else 0.0)
    if not keep.all():               # SAS's g2 solution: aliased coefficients 0
        beta, cov_beta = expand(beta, model.aliased, 0.0), expand_cov(cov_beta, model.aliased,
                                                                     0.0)
    fit = MixedFit(ev.theta, beta, cov_beta, llf, reml, out.converged, out.n_iter,
                   ev.obs_info, ev.info, ev.grad, at_lower, tuple(boundary))
    return MixedResultsWrapper(MixedResults(model, fit, ddf=ddf, cov_type=cov_type))


def _fit_zspace(model, X, d, start, reml, tol, maxiter, ddf, cov_type):
    """The Z-space fit (crossed random effects, :mod:`metamodels.core.zspace`): lme4's
    profiled deviance over the relative covariance factors, so ``G`` stays positive
    semi-definite whatever ``g_constraint`` says; a singular ``G`` (a variance at 0 or a
    correlation at +-1) is reported with a BoundaryWarning, as lme4's "boundary
    (singular) fit"."""
    from ..core.zspace import zspace_maximize
    spec, y = model.spec, model.endog
    out = engine_fit(y, X, spec, start, "REML" if reml else "ML", tol, maxiter,
                     boundary=True, stacklevel=4, search=zspace_maximize)
    ev = out.evaluation
    for part, G in zip(spec.random, spec.G_matrices(ev.theta)):
        if G.shape[0] > 1 and np.linalg.eigvalsh(G).min() <= 1e-8 * max(1e-300, np.abs(G).max()):
            warnings.warn(f"the estimated G matrix of {part.name} is singular (boundary fit: "
                          "a correlation at +-1 or a variance at 0)", BoundaryWarning,
                          stacklevel=4)
    check_residual_scale(model, ev.theta, stacklevel=5)
    return _results(model, ev, out, d, reml, out.at_lower, ddf, cov_type,
                    boundary_items(spec, out))


def _psd_boundary_names(spec, search, out):
    """Boundary parameters of a ``g_constraint="psd"`` fit, named as variances and
    correlations (``Var(col) = 0``, ``Corr(col2,col1) = 1``) rather than in the search
    coordinates (standard deviations, Cholesky factors)."""
    theta = out.theta
    names = []
    in_g = np.zeros(spec.n_params, dtype=bool)
    for part, spart, sl in zip(spec.random, search.random, spec._g_slices):
        in_g[sl] = True
        rep = psd_structure(part.structure)
        t = params_to(spart.structure, rep, theta[sl])
        on = (t <= rep.lower) | (t >= rep.upper)
        labels = g_parameter_names(replace(part, structure=rep))
        names += [f"{part.name} {labels[i]} = {t[i]:.6g}" for i in np.flatnonzero(on)]
    return names + boundary_items(search, out, exclude=in_g)

