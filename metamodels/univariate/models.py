"""MetaFixed and MetaRandom: univariate meta-analysis and meta-regression."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ..base.model import MetaModelBase, _check_method
from ..exceptions import BoundaryWarning, ConvergenceWarning
from .fitting import METHODS, TESTS, fit_univariate
from .genq import check_weights
from .results import MetaRandomResults, MetaResults, MetaResultsWrapper

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["MetaFixed", "MetaRandom"]

#: tau^2 estimators accepted by :meth:`MetaRandom.fit`
Tau2Method = Literal["REML", "ML", "DL", "HE", "HS", "HSk", "SJ", "EB", "PM", "PMM", "GENQ",
                     "GENQM", "DLIT", "SJIT"]


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
    r"""Fixed-effects (common-effect) meta-analysis and meta-regression.

    The counterpart of metafor's ``rma(yi, vi, mods, method="EE")`` (``"FE"`` in
    older metafor versions): the effect sizes are combined by inverse-variance
    weighted least squares, with the sampling variances taken as known.  Build the
    model from arrays, or from a data frame with :meth:`from_formula`
    (``MetaFixed.from_formula("yi ~ ablat", data=dat, vi="vi")``), then call
    :meth:`fit`.

    Parameters
    ----------
    endog : array_like
        Effect sizes ``y_i``, one per study (k,).
    vi : array_like
        Known sampling variances ``v_i > 0`` (k,).
    exog : array_like, optional
        Moderator design matrix (k, p), including the intercept column if wanted;
        an intercept-only model (one pooled effect) when omitted.
    missing : {"none", "drop", "raise"}
        Missing-value handling, as in statsmodels: ``"drop"`` removes the rows with a
        missing ``endog``, ``vi`` or moderator (with a
        :class:`~metamodels.exceptions.MissingDataWarning`); ``"none"`` (default) and
        ``"raise"`` raise on missing values.
    **kwargs
        Passed on to statsmodels' :class:`~statsmodels.base.model.LikelihoodModel`.

    Raises
    ------
    ValueError
        Lengths of ``endog``, ``vi`` and ``exog`` differ, ``vi <= 0``, missing or
        infinite values (without ``missing="drop"``), or no more studies than
        coefficients.
    metamodels.exceptions.SpecificationError
        Collinear moderators, or sampling variances outside the range that double
        precision can handle.

    See Also
    --------
    MetaRandom : random-effects meta-analysis.
    metamodels.mantel_haenszel, metamodels.peto : fixed-effects pooling of 2x2 tables.

    Notes
    -----
    The model is

    .. math::

        y_i = x_i'\beta + e_i, \qquad e_i \sim N(0, v_i), \qquad i = 1, \dots, k,

    with ``v_i`` known.  The estimate is weighted least squares with weights
    ``w_i = 1/v_i``: :math:`\hat\beta = (X'WX)^{-1} X'Wy` and
    :math:`\operatorname{Var}(\hat\beta) = (X'WX)^{-1}`.  Residual heterogeneity is
    measured by Cochran's :math:`Q = \sum_i w_i (y_i - x_i'\hat\beta)^2`, referred to
    :math:`\chi^2_{k-p}`; :math:`I^2 = (Q - (k-p))/Q` (truncated at 0),
    :math:`H^2 = Q/(k-p)` and the precision-weighted spread
    :math:`\zeta^2 = (Q - (k-p)) / \sum_i w_i`.

    References
    ----------
    .. [1] Hedges, L. V., & Olkin, I. (1985). *Statistical Methods for Meta-Analysis*.
       Academic Press.
    .. [2] Cochran, W. G. (1954). The combination of estimates from different
       experiments. *Biometrics*, 10(1), 101-129.
    .. [3] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor
       package. *Journal of Statistical Software*, 36(3), 1-48.

    Examples
    --------
    Log risk ratios of the BCG vaccine trials, regressed on absolute latitude:

    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaFixed.from_formula("yi ~ ablat", data=dat, vi="vi").fit()
    >>> print(res.params.round(4))
    Intercept    0.3436
    ablat       -0.0292
    dtype: float64
    >>> print(round(res.q, 2), res.q_df)
    30.73 11
    """

    def fit(self, test: Literal["z", "t", "knha"] = "z",
            weights: ArrayLike | pd.Series | str | None = None,
            weighted: bool = True) -> MetaFixedResults:
        """Fit by inverse-variance weighted least squares.

        The model is not changed; every call returns new results.

        Parameters
        ----------
        test : {"z", "t", "knha"}, default "z"
            Reference distribution of the Wald tests and intervals: normal (``"z"``)
            or t with ``k - p`` degrees of freedom (``"t"``); ``"knha"`` multiplies the
            covariance by ``Q_E / (k - p)`` and uses t(k - p) (metafor's
            ``rma(method="EE", test="knha")``; Knapp and Hartung meant it for random
            effects -- with a fixed-effects model it is an ad hoc overdispersion
            factor).  Case-insensitive.
        weights : array_like, pandas Series or str, optional
            User weights ``a_i`` (one per study, a Series indexed like the data, or a
            column name of the formula data): ``b = (X'AX)^{-1} X'Ay`` with covariance
            ``(X'AX)^{-1} X'AVAX (X'AX)^{-1}`` (metafor's ``weights=``).  Default:
            inverse-variance weights ``1/v_i``.
        weighted : bool, default True
            ``False`` gives the unweighted (equal-weights) estimate (metafor's
            ``weighted=FALSE``).

        Returns
        -------
        MetaFixedResults
            Estimates, Wald inference, heterogeneity statistics (``q``, ``i2``,
            ``h2``, ``zeta2``) and diagnostics; see :class:`MetaResults`.

        Raises
        ------
        ValueError
            Unknown ``test``; both ``weights`` and ``weighted=False``; weights that are
            not one positive finite value per study; ``test="knha"`` with user weights.
        """
        test = _check_method(test, TESTS, "test").lower()
        a = _user_weights(self, weights, weighted)
        if a is not None and test == "knha":
            raise ValueError("test='knha' with user weights is not defined; use test='z' or 't'")
        fit = fit_univariate(self.endog, self.vi, self.exog, "FE", test, weights=a)
        return MetaResultsWrapper(MetaFixedResults(self, fit))


class MetaFixedResults(MetaResults):
    """Results of :class:`MetaFixed` (returned by :meth:`MetaFixed.fit`).

    Everything of :class:`MetaResults`, plus :attr:`zeta2`.  ``tau2`` is 0.

    Parameters
    ----------
    model : MetaFixed
        The fitted model.
    fit : UnivariateFit
        The numbers of the fit (:func:`metamodels.univariate.fitting.fit_univariate`).

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> fe = mm.MetaFixed.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> print(round(fe.params["Intercept"], 4), round(fe.i2, 4), round(fe.zeta2, 4))
    -0.4303 0.9212 0.23
    """

    @property
    def zeta2(self) -> float:
        """Precision-weighted spread ``(Q - (k - p)) / sum(1/v_i)``."""
        return (self.q - self.q_df) / float(np.sum(1.0 / self.model.vi))


class MetaRandom(MetaModelBase):
    r"""Random-effects meta-analysis and mixed-effects meta-regression.

    The counterpart of metafor's ``rma(yi, vi, mods, method=...)`` (``rma.uni``): the
    true effects vary between studies around ``x_i'b`` with variance ``tau^2``, which
    is estimated by one of fourteen estimators.  Build the model from arrays, or from
    a data frame with :meth:`from_formula`
    (``MetaRandom.from_formula("yi ~ ablat", data=dat, vi="vi")``), then call
    :meth:`fit`.

    Parameters
    ----------
    endog : array_like
        Effect sizes ``y_i``, one per study (k,).
    vi : array_like
        Known sampling variances ``v_i > 0`` (k,).
    exog : array_like, optional
        Moderator design matrix (k, p), including the intercept column if wanted;
        an intercept-only model (one pooled effect) when omitted.
    missing : {"none", "drop", "raise"}
        Missing-value handling, as in statsmodels: ``"drop"`` removes the rows with a
        missing ``endog``, ``vi`` or moderator (with a
        :class:`~metamodels.exceptions.MissingDataWarning`); ``"none"`` (default) and
        ``"raise"`` raise on missing values.
    **kwargs
        Passed on to statsmodels' :class:`~statsmodels.base.model.LikelihoodModel`.

    Raises
    ------
    ValueError
        Lengths of ``endog``, ``vi`` and ``exog`` differ, ``vi <= 0``, missing or
        infinite values (without ``missing="drop"``), fewer than 2 studies, or no more
        studies than coefficients.
    metamodels.exceptions.SpecificationError
        Collinear moderators, or sampling variances outside the range that double
        precision can handle.

    See Also
    --------
    MetaFixed : fixed-effects (common-effect) meta-analysis.
    metamodels.MetaMixed : multilevel and multivariate meta-analysis (``rma.mv``).
    metamodels.LocationScaleMeta : ``tau^2`` depending on moderators.

    Notes
    -----
    The model is

    .. math::

        y_i = x_i'\beta + u_i + e_i, \qquad u_i \sim N(0, \tau^2), \qquad
        e_i \sim N(0, v_i),

    i.e. :math:`y \sim N(X\beta, V)` with :math:`V = \operatorname{diag}(v_i + \tau^2)`,
    a linear mixed model whose level-1 variance is known.  ``tau^2`` is estimated by
    one of

    * ``"ML"``, ``"REML"``: (restricted) maximum likelihood on the shared Gaussian
      engine (Fisher scoring on the profiled likelihood, truncated at 0; Viechtbauer
      2005);
    * ``"DL"`` (DerSimonian and Laird 1986), ``"HE"`` (Hedges), ``"HS"``
      (Hunter-Schmidt), ``"SJ"`` (Sidik and Jonkman 2005): closed-form moment
      estimators; ``"HSk"``: Hunter-Schmidt with Brannick et al.'s (2019) small-sample
      factor ``(k/(k-p) Q_E - k) / sum(1/v_i)``;
    * ``"PM"``: the Paule-Mandel root of the generalised Q equation
      :math:`\sum_i w_i (y_i - x_i'\hat\beta)^2 = k - p`; ``"PMM"``: its
      median-unbiased version, the root of ``... = chi2_{k-p; 0.5}`` (Viechtbauer 2021);
    * ``"EB"``: the empirical Bayes iteration of Morris (1983), whose fixed point solves
      the same equation, as do ``"DLIT"`` (DerSimonian-Laird iterated with updated
      weights) and ``"SJIT"`` (Sidik-Jonkman iterated);
    * ``"GENQ"``: the generalised Q method-of-moments estimator with user weights ``a_i``
      (DerSimonian and Kacker 2007), ``(Q_a - tr(P_a V)) / tr(P_a)`` truncated at 0;
      ``"GENQM"``: its median-unbiased version (the ``tau^2`` at which ``Q_a`` is the
      median of its weighted chi-square distribution).

    Given ``tau^2``, :math:`\hat\beta` is generalised least squares with weights
    :math:`w_i = 1/(v_i + \hat\tau^2)`, :math:`\hat\beta = (X'WX)^{-1}X'Wy`,
    :math:`\operatorname{Var}(\hat\beta) = (X'WX)^{-1}`.  With ``test="knha"`` the
    covariance is multiplied by :math:`s_w^2 = \sum_i w_i r_i^2 / (k - p)` and t(k - p)
    quantiles are used (Knapp and Hartung 2003; Hartung-Knapp-Sidik-Jonkman).

    References
    ----------
    .. [1] DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials.
       *Controlled Clinical Trials*, 7(3), 177-188.
    .. [2] Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance
       estimators in the random-effects model. *Journal of Educational and Behavioral
       Statistics*, 30(3), 261-293.
    .. [3] Knapp, G., & Hartung, J. (2003). Improved tests for a random effects
       meta-regression with a single covariate. *Statistics in Medicine*, 22(17),
       2693-2710.
    .. [4] Paule, R. C., & Mandel, J. (1982). Consensus values and weighting factors.
       *Journal of Research of the National Bureau of Standards*, 87(5), 377-385.
    .. [5] Sidik, K., & Jonkman, J. N. (2005). Simple heterogeneity variance
       estimation for meta-analysis. *Journal of the Royal Statistical Society,
       Series C*, 54(2), 367-384.
    .. [6] Morris, C. N. (1983). Parametric empirical Bayes inference: Theory and
       applications. *Journal of the American Statistical Association*, 78(381), 47-55.
    .. [7] DerSimonian, R., & Kacker, R. (2007). Random-effects model for meta-analysis
       of clinical trials: An update. *Contemporary Clinical Trials*, 28(2), 105-114.
    .. [8] Viechtbauer, W. (2021). Median-unbiased estimators for the amount of
       heterogeneity in meta-analysis. European Congress of Methodology, Valencia.
    .. [9] Brannick, M. T., Potter, S. M., Benitez, B., & Morris, S. B. (2019).
       Bias and precision of alternate estimators in meta-analysis: Benefits of
       blending Schmidt-Hunter and Hedges approaches. *Organizational Research
       Methods*, 22(2), 490-514.

    Examples
    --------
    Random-effects meta-analysis of the log risk ratios of the BCG vaccine trials
    (metafor: ``rma(yi, vi, data=dat)`` gives -0.7145 and tau^2 = 0.3132):

    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> print(round(res.params["Intercept"], 4), round(res.tau2, 4))
    -0.7145 0.3132
    >>> print(res.conf_int().round(4))
                    0       1
    Intercept -1.0669 -0.3622

    A mixed-effects meta-regression with the DerSimonian-Laird estimator and the
    Knapp-Hartung adjustment:

    >>> res = mm.MetaRandom.from_formula("yi ~ ablat", data=dat, vi="vi").fit(
    ...     method="DL", test="knha")
    >>> print(res.params.round(4))
    Intercept    0.2595
    ablat       -0.0292
    dtype: float64
    """

    _min_studies = 2

    def fit(self, method: Tau2Method = "REML", test: Literal["z", "t", "knha"] = "z",
            tau2: float | None = None, tol: float = 1e-10, maxiter: int = 200,
            weights: ArrayLike | pd.Series | str | None = None, weighted: bool = True,
            tau2_init: float | None = None) -> MetaRandomResults:
        """Estimate tau^2 and the coefficients.

        The model is not changed; every call returns new results (metafor's
        ``rma(..., method=, test=, tau2=, weights=, weighted=)``).

        Parameters
        ----------
        method : str, default "REML"
            One of ``"DL"``, ``"HE"``, ``"HS"``, ``"HSk"``, ``"SJ"``, ``"ML"``,
            ``"REML"``, ``"EB"``, ``"PM"``, ``"PMM"``, ``"GENQ"``, ``"GENQM"``,
            ``"DLIT"``, ``"SJIT"`` (case-insensitive); see the class Notes.
        test : {"z", "t", "knha"}, default "z"
            Reference distribution of the Wald tests and intervals: normal, t with
            ``k - p`` df, or the Knapp-Hartung adjusted covariance with t(k - p).
        tau2 : float, optional
            Fix tau^2 at this non-negative value (no estimation; metafor's ``tau2=``).
        tol : float, default 1e-10
            Convergence tolerance of the iterative estimators (REML, ML, EB, PM, PMM,
            DLIT, SJIT).
        maxiter : int, default 200
            Iteration limit of the iterative estimators.
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
            Estimates, Wald inference, ``tau2`` and its standard error, heterogeneity
            statistics, BLUPs and diagnostics.

        Raises
        ------
        ValueError
            Unknown ``method`` or ``test``; a negative or non-finite ``tau2``;
            ``GENQ``/``GENQM`` without ``weights`` (or ``weighted=False``);
            ``test="knha"`` with user weights; ``tau2_init`` with an estimator other
            than SJ or SJIT; invalid weights.

        Warns
        -----
        metamodels.exceptions.ConvergenceWarning
            The iterative estimator did not converge in ``maxiter`` iterations.
        metamodels.exceptions.BoundaryWarning
            ``tau^2`` was estimated at 0: the fit equals the fixed-effects fit.
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
