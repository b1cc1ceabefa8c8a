"""Egger's regression test for funnel-plot asymmetry (metafor's ``regtest``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy import stats

from ._meta_input import check_alpha, meta_input, refit, sample_sizes

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..univariate.results import MetaResults
    from ._meta_input import MetaInput

__all__ = ["EggerTestResult", "egger_test", "weighted_regression"]

_PREDICTORS = ("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv")
_LIMIT_PREDICTORS = ("sei", "vi", "ninv", "sqrtninv")   # -> 0 as the study grows
_LABEL = {"sei": "standard error", "vi": "sampling variance", "ni": "sample size",
          "ninv": "inverse sample size", "sqrtni": "square root of the sample size",
          "sqrtninv": "inverse square root of the sample size"}


@dataclass(frozen=True)
class EggerTestResult:
    """Regression test for funnel-plot asymmetry (returned by :func:`egger_test`).

    Frozen; ``print(result)`` shows the test as metafor's ``regtest`` does.

    Parameters
    ----------
    statistic : float
        z or t statistic of the predictor's coefficient (the test of asymmetry).
    pvalue : float
        Its two-sided p-value.
    df : float or None
        Residual degrees of freedom of the t test (``None`` for a z test).
    slope : float
        The predictor's coefficient.
    limit_estimate : float
        The intercept, i.e. the estimate for a study of infinite precision
        (intercept-only models with a predictor that vanishes as the study grows:
        sei, vi, ninv, sqrtninv; NaN otherwise).
    limit_se : float
        Standard error of ``limit_estimate`` (NaN when it is NaN).
    limit_ci : tuple of float
        ``(lower, upper)`` ``1 - alpha`` confidence interval of ``limit_estimate``.
    model : {"rma", "lm"}
        The test model fitted.
    predictor : {"sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv"}
        The predictor added.
    distribution : {"z", "t"}
        Reference distribution of the test.
    alpha : float, default 0.05
        Level of ``limit_ci``.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> test = mm.egger_test(res, model="lm")
    >>> print(test.distribution, test.df, round(test.limit_estimate, 4))
    t 11.0 -0.1909
    """

    statistic: float
    pvalue: float
    df: float | None
    slope: float
    limit_estimate: float
    limit_se: float
    limit_ci: tuple
    model: str
    predictor: str
    distribution: str
    alpha: float = 0.05

    def __str__(self):
        kind = ("mixed-effects meta-regression" if self.model == "rma"
                else "weighted regression with multiplicative dispersion")
        stat = (f"z = {self.statistic:.4f}" if self.df is None
                else f"t = {self.statistic:.4f}, df = {self.df:g}")
        out = ["Regression test for funnel plot asymmetry",
               f"  model: {kind}", f"  predictor: {_LABEL[self.predictor]}",
               f"  test for asymmetry: {stat}, p = {self.pvalue:.4g}"]
        if np.isfinite(self.limit_estimate):
            lo, hi = self.limit_ci
            out.append(f"  limit estimate (as precision -> infinity): {self.limit_estimate:.4f} "
                       f"({100 * (1 - self.alpha):g}% CI {lo:.4f} to {hi:.4f})")
        return "\n".join(out)

    def summary(self) -> str:
        """The printed form of the test (as metafor's ``print.regtest``).

        Returns
        -------
        str
        """
        return str(self)


def _predictor(inp, predictor, ni):
    if predictor == "sei":
        return np.sqrt(inp.v)
    if predictor == "vi":
        return inp.v
    n = sample_sizes(inp, ni)
    return {"ni": n, "ninv": 1.0 / n, "sqrtni": np.sqrt(n), "sqrtninv": 1.0 / np.sqrt(n)}[
        predictor]


def weighted_regression(y: np.ndarray, v: np.ndarray, X: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, int]:
    """Weighted least squares with weights ``1/v_i`` and a multiplicative dispersion
    (R's ``lm(y ~ X - 1, weights = 1/v)``).

    Parameters
    ----------
    y, v : ndarray
        Effect sizes and sampling variances (k,).
    X : ndarray
        Design matrix (k, p).

    Returns
    -------
    params : ndarray
        Coefficients (p,).
    cov_params : ndarray
        Their covariance, scaled by the dispersion estimate (p, p).
    df_resid : int
        ``k - p``.

    Raises
    ------
    ValueError
        No more studies than coefficients.
    """
    w = 1.0 / v
    XtW = X.T * w
    A = XtW @ X
    b = np.linalg.solve(A, XtW @ y)
    r = y - X @ b
    df = X.shape[0] - X.shape[1]
    if df <= 0:
        raise ValueError("too few studies for the weighted regression: need more studies "
                         "than coefficients")
    s2 = float(w @ r ** 2) / df
    return b, s2 * np.linalg.inv(A), df


def egger_test(results: MetaResults | MetaInput, model: Literal["rma", "lm"] = "rma",
               predictor: Literal["sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv"] = "sei",
               ni: ArrayLike | str | None = None, alpha: float = 0.05) -> EggerTestResult:
    r"""Regression test for funnel-plot asymmetry (Egger et al. 1997; metafor's ``regtest``).

    Small studies with systematically larger (or smaller) effects make the funnel plot
    asymmetric, a sign of publication bias or other small-study effects.  The test
    regresses the effects on a measure of precision and tests its coefficient.

    Parameters
    ----------
    results : MetaResults
        The fitted meta-analysis (:class:`~metamodels.MetaFixed` or
        :class:`~metamodels.MetaRandom` results; moderators, if any, are kept in the
        test model).
    model : {"rma", "lm"}
        ``"rma"``: the predictor is added to the meta-regression, refitted with the same
        tau^2 estimator and test (z, t or Knapp-Hartung).  ``"lm"``: Egger's classical
        weighted regression of ``y_i`` on the predictor with weights ``1/v_i`` and a
        multiplicative dispersion parameter, t test with ``k - p - 1`` df.
    predictor : {"sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv"}
        Standard error (Egger's test), sampling variance, sample size, its inverse, its
        square root or the inverse square root.
    ni : array_like or str, optional
        Sample sizes for the ``n``-based predictors: one value per study of the fit, or
        the name of a column of the data the model was built from; by default the
        column ``"ni"`` of that data, if there is one.
    alpha : float, default 0.05
        ``1 - alpha`` interval of the limit estimate.

    Returns
    -------
    EggerTestResult
        ``statistic``, ``pvalue``, ``slope``, ``limit_estimate`` and ``limit_ci``.

    Raises
    ------
    TypeError
        ``results`` is not a univariate meta-analysis fit.
    ValueError
        Unknown ``model`` or ``predictor``; ``alpha`` outside (0, 1); sample sizes
        needed but missing or invalid; a constant predictor (or one collinear with the
        moderators); too few studies (need more than ``p + 1``).

    See Also
    --------
    rank_correlation_test : Begg and Mazumdar's rank correlation test.
    pet_peese : the conditional PET-PEESE estimate.
    trim_and_fill : trim-and-fill adjustment.

    Notes
    -----
    The test model is

    .. math::

        y_i = x_i'\beta + \beta_a a_i + u_i + e_i, \qquad u_i \sim N(0, \tau^2),
        \qquad e_i \sim N(0, v_i),

    with ``a_i`` the predictor (``u_i`` absent for ``model="lm"``, where instead
    :math:`\operatorname{Var}(e_i) = \phi v_i`); asymmetry is tested by
    :math:`H_0: \beta_a = 0`.  ``model="rma"`` refits with the estimator and test of
    ``results``.  For intercept-only models and predictors that vanish for an
    infinitely precise study (sei, vi, ninv, sqrtninv), the intercept is the "limit
    estimate": PET (sei) and PEESE (vi) of Stanley and Doucouliagos (2014).

    References
    ----------
    .. [1] Egger, M., Davey Smith, G., Schneider, M., & Minder, C. (1997). Bias in
       meta-analysis detected by a simple, graphical test. *BMJ*, 315(7109), 629-634.
    .. [2] Sterne, J. A. C., & Egger, M. (2005). Regression methods to detect
       publication and other bias in meta-analysis. In H. R. Rothstein, A. J. Sutton,
       & M. Borenstein (Eds.), *Publication Bias in Meta-Analysis* (pp. 99-110).
       Wiley.
    .. [3] Stanley, T. D., & Doucouliagos, H. (2014). Meta-regression approximations
       to reduce publication selection bias. *Research Synthesis Methods*, 5(1),
       60-78.

    Examples
    --------
    metafor: ``regtest(rma(yi, vi, data=dat))`` on the BCG trials.

    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> test = mm.egger_test(res)
    >>> print(round(test.statistic, 4), round(test.pvalue, 4))
    -0.8033 0.4218
    >>> print(mm.egger_test(res, model="lm"))
    Regression test for funnel plot asymmetry
      model: weighted regression with multiplicative dispersion
      predictor: standard error
      test for asymmetry: t = -1.4013, df = 11, p = 0.1887
      limit estimate (as precision -> infinity): -0.1909 (95% CI -0.6753 to 0.2935)
    """
    inp = meta_input(results)
    alpha = check_alpha(alpha)
    model = str(model).lower()
    if model not in ("rma", "lm"):
        raise ValueError(f"model must be 'rma' or 'lm', got {model!r}")
    predictor = str(predictor).lower()
    if predictor not in _PREDICTORS:
        raise ValueError(f"unknown predictor {predictor!r}; valid values are "
                         f"{', '.join(_PREDICTORS)}")
    a = _predictor(inp, predictor, ni)
    X = np.column_stack([inp.X, a])
    p = inp.X.shape[1]
    if inp.k <= p + 1:
        raise ValueError(f"too few studies ({inp.k}) for the regression test: need more "
                         f"than {p + 1}")
    if np.linalg.matrix_rank(X) <= p:
        raise ValueError(f"the predictor {predictor!r} is constant (or collinear with the "
                         "moderators): the regression test is not defined")
    if model == "rma":
        fit = refit(inp, inp.y, inp.v, X, weights=inp.weights)
        b = np.asarray(fit.params)
        se = np.asarray(fit.bse)
        use_t = bool(fit.use_t)
        df = float(fit.df_resid) if use_t else None
    else:
        b, cov, df_i = weighted_regression(inp.y, inp.v, X)
        se = np.sqrt(np.diag(cov))
        use_t, df = True, float(df_i)
    stat = float(b[-1] / se[-1])
    if use_t:
        pval = float(2 * stats.t.sf(abs(stat), df))
        crit = stats.t.ppf(1 - alpha / 2, df)
    else:
        pval = float(2 * stats.norm.sf(abs(stat)))
        crit = stats.norm.ppf(1 - alpha / 2)
    limit, limit_se, ci = np.nan, np.nan, (np.nan, np.nan)
    if inp.intercept_only and predictor in _LIMIT_PREDICTORS:
        limit, limit_se = float(b[0]), float(se[0])
        ci = (float(b[0] - crit * se[0]), float(b[0] + crit * se[0]))
    return EggerTestResult(stat, pval, df, float(b[-1]), limit, limit_se, ci, model, predictor,
                           "t" if use_t else "z", alpha)
