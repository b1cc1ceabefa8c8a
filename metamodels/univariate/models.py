"""MetaFixed and MetaRandom: univariate meta-analysis and meta-regression."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..base.model import MetaModelBase, _check_method
from ..exceptions import BoundaryWarning, ConvergenceWarning
from .fitting import METHODS, TESTS, fit_univariate
from .genq import check_weights
from .results import MetaRandomResults, MetaResults, MetaResultsWrapper

__all__ = ["MetaFixed", "MetaRandom"]


def _user_weights(model, weights, weighted):
    """The weights ``a_i`` of the coefficient estimator, or None for inverse-variance
    weights.  ``weights`` is array-like with one value per study used by the model, or
    a pandas Series / column name of the data indexed like it (rows dropped for missing
    values are dropped from the weights too); ``weighted=False`` gives equal weights."""
    k = int(model.nobs)
    if weights is None:
        return None if weighted else np.ones(k)
    if not weighted:
        raise ValueError("give either weights= or weighted=False, not both")
    labels = getattr(model.data, "row_labels", None)
    if isinstance(weights, str):
        frame = getattr(model.data, "frame", None)
        if frame is None or weights not in frame:
            raise ValueError(f"weights={weights!r} is not a column of the model's data")
        weights = frame[weights]
    if isinstance(weights, pd.Series) and labels is not None and len(weights) != k:
        missing = pd.Index(labels).difference(weights.index)
        if len(missing):
            raise ValueError(f"weights has no value for row(s) {list(missing[:10])}")
        weights = weights.loc[labels]
    return check_weights(weights, k)


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

    def fit(self, test="z", weights=None, weighted=True):
        """Fit by inverse-variance weighted least squares.

        Parameters
        ----------
        test : {"z", "t", "knha"}
            Normal or t(k - p) reference distribution for the Wald tests; ``"knha"``
            multiplies the covariance by ``Q_E / (k - p)`` and uses t(k - p) (metafor's
            ``rma(method="EE", test="knha")``; Knapp and Hartung meant it for random
            effects -- with a fixed-effects model it is an ad hoc overdispersion factor).
        weights : array_like, pandas Series or str, optional
            User weights ``a_i``: ``b = (X'AX)^{-1} X'Ay`` with covariance
            ``(X'AX)^{-1} X'AVAX (X'AX)^{-1}`` (metafor's ``weights=``).
        weighted : bool
            ``False`` gives the unweighted (equal-weights) estimate.

        Returns
        -------
        MetaFixedResults
        """
        test = _check_method(test, TESTS, "test").lower()
        a = _user_weights(self, weights, weighted)
        if a is not None and test == "knha":
            raise ValueError("test='knha' with user weights is not defined; use test='z' or 't'")
        fit = fit_univariate(self.endog, self.vi, self.exog, "FE", test, weights=a)
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
      ``"HSk"``: Hunter-Schmidt with Brannick et al.'s (2019) small-sample factor
      ``(k/(k-p) Q_E - k) / sum(1/v_i)``;
    * ``"PM"``: the Paule-Mandel root of the generalised Q equation
      ``sum w_i (y_i - x_i'b)^2 = k - p``; ``"PMM"``: its median-unbiased version, the
      root of ``... = chi2_{k-p; 0.5}`` (Viechtbauer 2021);
    * ``"EB"``: the empirical Bayes iteration of Morris (1983), whose fixed point solves
      the same equation, as do ``"DLIT"`` (DerSimonian-Laird iterated with updated
      weights) and ``"SJIT"`` (Sidik-Jonkman iterated);
    * ``"GENQ"``: the generalised Q method-of-moments estimator with user weights ``a_i``
      (DerSimonian and Kacker 2007), ``(Q_a - tr(P_a V)) / tr(P_a)`` truncated at 0;
      ``"GENQM"``: its median-unbiased version (the ``tau^2`` at which ``Q_a`` is the
      median of its weighted chi-square distribution).

    Given ``tau^2``, ``b`` is GLS with weights ``1/(v_i + tau^2)``.  With
    ``test="knha"`` the covariance of ``b`` is multiplied by
    ``s_w^2 = sum w_i r_i^2 / (k - p)`` and t(k - p) quantiles are used
    (Knapp and Hartung 2003; Hartung-Knapp-Sidik-Jonkman).
    """

    _min_studies = 2

    def fit(self, method="REML", test="z", tau2=None, tol=1e-10, maxiter=200, weights=None,
            weighted=True, tau2_init=None):
        """Estimate tau^2 and the coefficients.

        Parameters
        ----------
        method : str
            One of DL, HE, HS, HSk, SJ, ML, REML, EB, PM, PMM, GENQ, GENQM, DLIT, SJIT
            (case-insensitive); see the class Notes.
        test : {"z", "t", "knha"}
        tau2 : float, optional
            Fix tau^2 at this value (no estimation).
        tol, maxiter :
            Convergence controls of the iterative estimators (REML, ML, EB, PM, PMM,
            DLIT, SJIT).
        weights : array_like, pandas Series or str, optional
            User weights ``a_i`` (metafor's ``weights=``).  They define the GENQ and
            GENQM estimators of tau^2 (which require them), and the coefficient estimator
            ``b = (X'AX)^{-1} X'Ay`` with covariance ``(X'AX)^{-1} X'A Sigma AX (X'AX)^{-1}``,
            ``Sigma = diag(v_i + tau^2)``, for every method; the other estimators of tau^2
            do not use them.  The log-likelihood is evaluated at this ``b``.
        weighted : bool
            ``False``: equal weights (unweighted estimation, metafor's ``weighted=FALSE``).
        tau2_init : float, optional
            Starting value of the Sidik-Jonkman estimators SJ and SJIT (metafor's
            ``control=list(tau2.init=)``).

        Returns
        -------
        MetaRandomResults
        """
        method = _check_method(method, METHODS[1:], "method")
        test = _check_method(test, TESTS, "test").lower()
        if tau2 is not None and not (np.isfinite(tau2) and tau2 >= 0):
            raise ValueError(f"tau2 must be a non-negative number, got {tau2!r}")
        a = _user_weights(self, weights, weighted)
        if method in ("GENQ", "GENQM") and a is None and tau2 is None:
            raise ValueError(f"method={method!r} needs weights= (inverse-variance weights "
                             "1/vi give DerSimonian-Laird, equal weights give Hedges) or "
                             "weighted=False")
        if a is not None and test == "knha":
            raise ValueError("test='knha' with user weights is not defined; use test='z' or 't'")
        if tau2_init is not None and method not in ("SJ", "SJIT"):
            raise ValueError("tau2_init is the starting value of the Sidik-Jonkman "
                             f"estimators (SJ, SJIT), not of {method}")
        fit = fit_univariate(self.endog, self.vi, self.exog, method, test, tau2=tau2,
                             tol=tol, maxiter=maxiter, weights=a, tau2_init=tau2_init)
        if not fit.converged:
            warnings.warn(f"{method} estimation of tau^2 did not converge in {maxiter} "
                          "iterations", ConvergenceWarning, stacklevel=2)
        if tau2 is None and fit.tau2 <= 0.0:
            warnings.warn(f"tau^2 estimated at the boundary 0 ({method}); the random-effects "
                          "fit equals the fixed-effects fit", BoundaryWarning, stacklevel=2)
        return MetaResultsWrapper(MetaRandomResults(self, fit))
