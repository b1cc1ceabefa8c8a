"""What every model fitted on the core engine shares: one fit sequence and ``loglike(theta)``.

An *engine model* states its covariance ``V(theta)`` as a core specification
(``model.spec``, e.g. :class:`~metamodels.core.blockcov.BlockCovariance`) and its data as
``model.endog``, ``model.exog``.  The fit sequence is the same for all of them:

1. starting values (the model's own rule) checked against ``spec.param_names``
   (:func:`check_start`);
2. the profiled (RE)ML maximisation (:func:`metamodels.core.optimize.maximize`, or a
   model's search strategy built on it, e.g. over the PSD variant of ``spec``), a singular
   ``V`` at a trial point turned into a
   :class:`~metamodels.core.likelihood.NotPositiveDefiniteError` naming the method;
3. one :class:`~metamodels.exceptions.ConvergenceWarning` when the optimiser stopped
   early and one :class:`~metamodels.exceptions.BoundaryWarning` naming every parameter on
   a finite bound (:func:`warn_boundary`);
4. the model's results class wraps the :class:`~metamodels.core.optimize.FitOutcome`.

:func:`engine_fit` does steps 1-3; :class:`EngineModelMixin` gives the models
``loglike(theta)``.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..core.likelihood import NotPositiveDefiniteError, evaluate
from ..core.optimize import maximize
from ..exceptions import BoundaryWarning, ConvergenceWarning
from .model import _check_method

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["EngineModelMixin", "engine_fit", "check_start", "boundary_items",
           "warn_boundary"]

BOUNDARY_NOTE = ("(a variance at 0 or a correlation at the end of its range: the "
                 "between-unit covariance matrix is singular; Wald standard errors of these "
                 "parameters are not valid)")


def check_start(spec, start, what="start"):
    """``start`` as a float vector of ``spec.n_params`` values, or a ValueError naming the
    parameters."""
    start = np.asarray(start, dtype=float)
    if start.shape != (spec.n_params,):
        raise ValueError(f"{what} needs {spec.n_params} values "
                         f"({', '.join(spec.param_names)})")
    return start


def boundary_items(spec, outcome, exclude=None):
    """``"name = value"`` for every parameter of ``outcome`` on a finite bound of ``spec``
    (leaving out those where the boolean mask ``exclude`` is true)."""
    th = outcome.theta
    hit = (outcome.at_lower & np.isfinite(spec.lower)) | (outcome.at_upper & np.isfinite(spec.upper))
    if exclude is not None:
        hit &= ~np.asarray(exclude, dtype=bool)
    return [f"{spec.param_names[i]} = {th[i]:.6g}" for i in np.flatnonzero(hit)]


def warn_boundary(items, stacklevel=3):
    """One :class:`~metamodels.exceptions.BoundaryWarning` listing ``items`` (nothing when
    empty)."""
    if items:
        warnings.warn("estimate(s) on the boundary of the parameter space: " + ", ".join(items)
                      + " " + BOUNDARY_NOTE, BoundaryWarning, stacklevel=stacklevel + 1)


def engine_fit(y, X, spec, start, method="REML", tol=1e-10, maxiter=200, restarts=(),
               search=None, boundary=True, stacklevel=3, degenerate=None):
    """Steps 1-3 of the fit sequence (see the module docstring).

    Parameters
    ----------
    y, X : arrays
    spec : CovarianceSpec
    start : (q,) array
        Starting values (the model's rule).
    method : {"REML", "ML"}
    tol, maxiter : optimiser settings
    restarts : sequence of (q,) arrays
        Further starting values tried when the first optimum lies on a bound.
    search : callable, optional
        ``search(y, X, spec, start, reml, tol, maxiter, restarts) -> FitOutcome``, a
        model's own search strategy; :func:`~metamodels.core.optimize.maximize` by default.
    boundary : bool
        Issue the :class:`BoundaryWarning` of :func:`boundary_items` (models that name
        their boundary parameters otherwise pass ``False`` and call :func:`warn_boundary`).
    stacklevel : int
        Of the warnings, counted from the caller (2: the caller's caller).
    degenerate : callable, optional
        ``degenerate(outcome) -> bool``: the fit reached a degenerate solution that the
        caller reports with its own warning (a residual variance collapsed to 0, where
        the likelihood is unbounded and no optimiser can meet its criterion); the
        ConvergenceWarning is then not issued.

    Returns
    -------
    FitOutcome
    """
    reml = method == "REML"
    start = check_start(spec, start)
    try:
        if search is None:
            out = maximize(y, X, spec, start, reml=reml, tol=tol, maxiter=maxiter,
                           restarts=restarts)
        else:
            out = search(y, X, spec, start, reml, tol, maxiter, restarts)
    except NotPositiveDefiniteError:
        raise
    except np.linalg.LinAlgError as exc:    # a singular V at a trial point, not rejected
        raise NotPositiveDefiniteError(
            f"V(theta) became singular during the {method} optimisation ({exc}): a variance "
            "collapsing to 0, e.g. an outcome fitted exactly by the fixed effects") from exc
    if not out.converged and not (degenerate is not None and degenerate(out)):
        warnings.warn(f"{method} estimation did not converge ({out.message})",
                      ConvergenceWarning, stacklevel=stacklevel + 1)
    if boundary:
        warn_boundary(boundary_items(spec, out), stacklevel=stacklevel + 1)
    return out


class EngineModelMixin:
    """``loglike(theta)`` of a model fitted on the core engine (``self.spec``,
    ``self.endog``, ``self.exog``).

    Notes
    -----
    The engine maximises the log-likelihood profiled over the fixed effects ``b``: for
    covariance parameters ``theta``,

    .. math::

        \\ell_{ML}(\\theta) = -\\tfrac12\\big[n \\log 2\\pi + \\log|V(\\theta)|
            + r' V(\\theta)^{-1} r\\big], \\quad r = y - X\\hat b(\\theta),

        \\ell_{REML}(\\theta) = \\ell_{ML}(\\theta) + \\tfrac{p}{2}\\log 2\\pi
            - \\tfrac12 \\log|X' V(\\theta)^{-1} X|,

    with ``b_hat(theta)`` the GLS estimate.  ``loglike(res.theta, method=res.method)``
    equals ``res.llf``.
    """

    def loglike(self, params: ArrayLike,
                method: Literal["REML", "ML"] = "REML") -> float:
        """Profiled (RE)ML log-likelihood at the covariance parameters ``params``.

        Parameters
        ----------
        params : (q,) array_like
            Covariance parameters ``theta`` in ``model.spec.param_names`` order (the
            ``theta`` of a fit's results), not the fixed effects: these are profiled out.
        method : {"REML", "ML"}, default "REML"
            Restricted or full log-likelihood.

        Returns
        -------
        float
            The profiled log-likelihood (SAS/lme4 convention for REML; see Notes of the
            class).

        Raises
        ------
        NotPositiveDefiniteError
            When ``V(theta)`` is not positive definite.
        ValueError
            ``params`` of the wrong length or an unknown ``method``.

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.datasets.load("bangertdrowns2004")
        >>> res = mm.LocationScaleMeta.from_formula("yi ~ 1", dat, vi="vi").fit()
        >>> theta = res.params["scale:Intercept"]
        >>> bool(abs(res.model.loglike([theta], method="REML") - res.llf) < 1e-8)
        True
        """
        method = _check_method(method, ("REML", "ML"), "method")
        theta = check_start(self.spec, params, "params (theta)")
        return float(evaluate(theta, np.asarray(self.endog, dtype=float),
                              np.asarray(self.exog, dtype=float), self.spec,
                              reml=method == "REML").llf)
