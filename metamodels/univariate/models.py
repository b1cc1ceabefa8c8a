"""MetaFixed and MetaRandom: univariate meta-analysis and meta-regression."""
from __future__ import annotations

import warnings

import numpy as np

from ..base.model import MetaModelBase, _check_method
from ..exceptions import BoundaryWarning, ConvergenceWarning
from .fitting import METHODS, TESTS, fit_univariate
from .results import MetaRandomResults, MetaResults, MetaResultsWrapper

__all__ = ["MetaFixed", "MetaRandom"]


class MetaFixed(MetaModelBase):
    """Fixed-effects (common-effect) meta-analysis and meta-regression.

    Parameters
    ----------
    endog : array_like
        Effect sizes ``y_i``.
    vi : array_like
        Known sampling variances ``v_i > 0``.
    exog : array_like, optional
        Moderators (k, p); intercept only when omitted.
    missing : {"none", "drop", "raise"}

    Notes
    -----
    The model is ``y_i = x_i'b + e_i``, ``e_i ~ N(0, v_i)`` with ``v_i`` known.  The
    estimate is weighted least squares with weights ``w_i = 1/v_i``:
    ``b = (X'WX)^{-1} X'Wy`` and ``Var(b) = (X'WX)^{-1}``.  Residual heterogeneity is
    Cochran's ``Q = sum w_i (y_i - x_i'b)^2 ~ chi2(k - p)``; ``I^2 = (Q - (k-p))/Q``
    (truncated at 0), ``H^2 = Q/(k-p)`` and the precision-weighted spread
    ``zeta^2 = (Q - (k-p)) / sum w_i``.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaFixed.from_formula("yi ~ ablat", data=dat, vi="vi").fit()
    """

    def fit(self, test="z"):
        """Fit by inverse-variance weighted least squares.

        Parameters
        ----------
        test : {"z", "t"}
            Normal or t(k - p) reference distribution for the Wald tests.

        Returns
        -------
        MetaFixedResults
        """
        test = _check_method(test, ("z", "t"), "test")
        fit = fit_univariate(self.endog, self.vi, self.exog, "FE", test)
        return MetaResultsWrapper(MetaFixedResults(self, fit))


class MetaFixedResults(MetaResults):
    """Results of :class:`MetaFixed`."""

    @property
    def zeta2(self):
        """Precision-weighted spread ``(Q - (k - p)) / sum(1/v_i)``."""
        return (self.q - self.q_df) / float(np.sum(1.0 / self.model.vi))


class MetaRandom(MetaModelBase):
    """Random-effects meta-analysis and mixed-effects meta-regression.

    Parameters
    ----------
    endog : array_like
        Effect sizes ``y_i``.
    vi : array_like
        Known sampling variances ``v_i > 0``.
    exog : array_like, optional
        Moderators (k, p); intercept only when omitted.
    missing : {"none", "drop", "raise"}

    Notes
    -----
    The model is

    .. math::

        y_i = x_i'b + u_i + e_i, \\quad u_i \\sim N(0, \\tau^2), \\quad e_i \\sim N(0, v_i),

    i.e. ``y ~ N(Xb, V)`` with ``V = diag(v_i + tau^2)``, a linear mixed model whose
    level-1 variance is known.  ``tau^2`` is estimated by one of

    * ``"ML"``, ``"REML"``: (restricted) maximum likelihood on the shared Gaussian
      engine (Fisher scoring on the profiled likelihood, truncated at 0);
    * ``"DL"``, ``"HE"``, ``"HS"``, ``"SJ"``: closed-form moment estimators;
    * ``"PM"``: the Paule-Mandel root of the generalised Q equation
      ``sum w_i (y_i - x_i'b)^2 = k - p``;
    * ``"EB"``: the empirical Bayes iteration of Morris (1983), whose fixed point solves
      the same equation.

    Given ``tau^2``, ``b`` is GLS with weights ``1/(v_i + tau^2)``.  With
    ``test="knha"`` the covariance of ``b`` is multiplied by
    ``s_w^2 = sum w_i r_i^2 / (k - p)`` and t(k - p) quantiles are used
    (Knapp and Hartung 2003; Hartung-Knapp-Sidik-Jonkman).
    """

    _min_studies = 2

    def fit(self, method="REML", test="z", tau2=None, tol=1e-10, maxiter=200):
        """Estimate tau^2 and the coefficients.

        Parameters
        ----------
        method : str
            One of DL, HE, HS, SJ, ML, REML, EB, PM (case-insensitive).
        test : {"z", "t", "knha"}
        tau2 : float, optional
            Fix tau^2 at this value (no estimation).
        tol, maxiter :
            Convergence controls of the iterative estimators (REML, ML, EB, PM).

        Returns
        -------
        MetaRandomResults
        """
        method = _check_method(method, METHODS[1:], "method")
        test = _check_method(test, TESTS, "test").lower()
        if tau2 is not None and not (np.isfinite(tau2) and tau2 >= 0):
            raise ValueError(f"tau2 must be a non-negative number, got {tau2!r}")
        fit = fit_univariate(self.endog, self.vi, self.exog, method, test, tau2=tau2,
                             tol=tol, maxiter=maxiter)
        if not fit.converged:
            warnings.warn(f"{method} estimation of tau^2 did not converge in {maxiter} "
                          "iterations", ConvergenceWarning, stacklevel=2)
        if tau2 is None and fit.tau2 <= 0.0:
            warnings.warn(f"tau^2 estimated at the boundary 0 ({method}); the random-effects "
                          "fit equals the fixed-effects fit", BoundaryWarning, stacklevel=2)
        return MetaResultsWrapper(MetaRandomResults(self, fit))
