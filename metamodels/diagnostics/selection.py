"""Selection models for publication bias (metafor's ``selmodel``): step-function
(Vevea and Hedges 1995), beta (Citkowicz and Vevea 2017) and the exponential-type
weight functions of Preston et al. (2004), fitted by maximum likelihood."""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..exceptions import ConvergenceWarning, SpecificationError
from . import _selection_kernels as kern
from ._meta_input import meta_input, refit

if TYPE_CHECKING:
    from ..univariate.results import MetaResults
    from ._meta_input import MetaInput

__all__ = ["SelectionModelResult", "SelectionLRTest", "selection_model"]

_ALTERNATIVES = ("greater", "less", "two-sided")


@dataclass(frozen=True)
class SelectionLRTest:
    """Likelihood-ratio test of no selection (all delta at their null values).

    Parameters
    ----------
    statistic : float
        ``2 (llf - llf_null)``, truncated at 0.
    pvalue : float
        Upper-tail chi-square p-value.
    df : int
        Number of free selection parameters.
    """

    statistic: float
    pvalue: float
    df: int


@dataclass(frozen=True)
class SelectionModelResult:
    """A fitted selection model (returned by :func:`selection_model`).

    Frozen; ``print(result)`` shows :meth:`summary`.

    Parameters
    ----------
    params, bse : pandas.Series
        Coefficients (adjusted for selection) and their standard errors.
    tau2, tau2_se : float
        Between-study variance (0 and NaN for a fixed-effects model).
    delta, delta_se : numpy.ndarray
        Selection parameters (stepfun: relative selection probability of each p-value
        interval, the first fixed at 1; beta: delta_1, delta_2; others: delta).
    llf : float
        Maximised log-likelihood.
    llf_null : float
        Log-likelihood of the model without selection (at the ML fit).
    lr_test_selection : SelectionLRTest
        LR test against the model without selection.
    type : str
        The weight function (``"stepfun"``, ``"beta"``, ...).
    steps : tuple of float
        The p-value cut points (stepfun) or the threshold (others; empty without).
    alternative : {"greater", "less", "two-sided"}
        Sidedness of the p-values.
    random_effects : bool
        Whether tau^2 was estimated.
    p_table : pandas.DataFrame or None
        stepfun: number of studies whose p-value falls in each interval.
    converged : bool
        Whether the optimiser converged.
    k : int
        Number of studies.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> sel = mm.selection_model(res, type="stepfun", steps=[0.025], alternative="less")
    >>> print(sel.conf_int().round(3))
               lower  upper
    Intercept -1.133 -0.108
    >>> print(sel.p_table)
                    k
    0 < p <= 0.025  8
    0.025 < p <= 1  5
    """

    params: pd.Series
    bse: pd.Series
    tau2: float
    tau2_se: float
    delta: np.ndarray
    delta_se: np.ndarray
    llf: float
    llf_null: float
    lr_test_selection: SelectionLRTest
    type: str
    steps: tuple
    alternative: str
    random_effects: bool
    p_table: object
    converged: bool
    k: int

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals of the coefficients, ``b -/+ z_{1-alpha/2} se``.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` intervals.

        Returns
        -------
        DataFrame
            Columns ``lower`` and ``upper``, one row per coefficient.
        """
        z = stats.norm.isf(alpha / 2)
        return pd.DataFrame({"lower": self.params - z * self.bse,
                             "upper": self.params + z * self.bse})

    def summary(self) -> str:
        """Printable tables: coefficients, tau^2, the selection parameters with 95%
        Wald intervals, the studies per p-value interval and the LR test (metafor's
        ``print.rma.uni.selmodel``).

        Returns
        -------
        str
        """
        z = self.params / self.bse
        p = 2 * stats.norm.sf(np.abs(z))
        ci = self.conf_int()
        coef = pd.DataFrame({"estimate": self.params, "se": self.bse, "z": z, "pvalue": p,
                             "ci_lower": ci["lower"], "ci_upper": ci["upper"]})
        names = _delta_names(self.type, self.steps)
        dz = stats.norm.isf(0.025)
        dtab = pd.DataFrame({"estimate": self.delta, "se": self.delta_se,
                             "ci_lower": self.delta - dz * self.delta_se,
                             "ci_upper": self.delta + dz * self.delta_se}, index=names)
        steps = "" if not self.steps else f", steps {list(self.steps)}"
        lr = self.lr_test_selection
        lines = [f"Selection model: {self.type}{steps}, alternative = {self.alternative}, "
                 f"k = {self.k}",
                 f"log-likelihood: {self.llf:.4f} (without selection: {self.llf_null:.4f})",
                 "", "Coefficients (adjusted for selection):",
                 coef.to_string(float_format="{:.4f}".format)]
        if self.random_effects:
            lines += ["", f"tau^2 = {self.tau2:.4f} (SE {self.tau2_se:.4f})"]
        lines += ["", "Selection parameters:", dtab.to_string(float_format="{:.4f}".format)]
        if self.p_table is not None:
            lines += ["", "Studies per p-value interval:", self.p_table.to_string()]
        lines += ["", f"LR test of no selection: chi2({lr.df}) = {lr.statistic:.4f}, "
                  f"p = {lr.pvalue:.4g}"]
        return "\n".join(lines)

    def __str__(self):
        return self.summary()


def _delta_names(kind, steps):
    if kind == "stepfun":
        edges = (0.0,) + tuple(steps)
        return [f"{edges[j]:g} < p <= {edges[j + 1]:g}" for j in range(len(steps))]
    if kind == "beta":
        return ["delta1", "delta2"]
    return ["delta"]


def _check_steps(kind, steps):
    if steps is None:
        if kind == "stepfun":
            raise ValueError("type='stepfun' needs steps=, e.g. steps=[0.025, 1]")
        return ()
    s = np.atleast_1d(np.asarray(steps, dtype=float))
    if s.size == 0 or np.any(~np.isfinite(s)) or np.any((s <= 0) | (s > 1)) \
            or np.any(np.diff(s) <= 0):
        raise ValueError(f"steps must be increasing values in (0, 1], got {steps!r}")
    if kind == "stepfun":
        if s[-1] != 1.0:
            s = np.r_[s, 1.0]
        return tuple(float(a) for a in s)
    if kind == "beta":
        raise ValueError("type='beta' takes no steps")
    if s.size != 1 or s[0] >= 1.0:
        raise ValueError(f"type={kind!r} takes one threshold alpha in (0, 1) as steps, "
                         f"got {steps!r}")
    return (float(s[0]),)


class _Likelihood:
    """Negative log-likelihood of a selection model on (beta, [tau^2], delta_free)."""

    def __init__(self, y, v, X, kind, steps, alternative, random_effects, pval_min):
        self.y, self.v, self.X = y, v, X
        self.sei = np.sqrt(v)
        self.kind, self.steps, self.alt = kind, steps, alternative
        self.re = random_effects
        self.p = X.shape[1]
        logp, log1mp = kern.log_p_pair(y / self.sei, alternative)
        self.logp, self.log1mp = logp, log1mp
        self.pval_min = pval_min
        self.clogp, self.clog1mp = kern.censor(logp, log1mp, pval_min)
        if kind == "stepfun":
            pv = np.exp(logp)
            self.interval = np.searchsorted(np.asarray(steps), pv, side="left")
        self.n_delta = kern.n_delta(kind, len(steps))
        self.threshold = steps[0] if (kind != "stepfun" and steps) else None

    def split(self, theta):
        b = theta[: self.p]
        tau2 = theta[self.p] if self.re else 0.0
        d_free = theta[self.p + int(self.re):]
        if self.kind == "stepfun":
            delta = np.r_[1.0, d_free]
        else:
            delta = d_free
        return b, tau2, delta

    def loglike(self, theta, coarse=False):
        b, tau2, delta = self.split(theta)
        mu = self.X @ b
        s2 = self.v + tau2
        s = np.sqrt(s2)
        ll = stats.norm.logpdf(self.y, mu, s)
        if self.kind == "stepfun":
            with np.errstate(divide="ignore"):
                ll = ll + np.log(delta[self.interval])
                probs = kern.step_probabilities(mu, s, self.sei, self.steps, self.alt)
                ll = ll - np.log(probs @ delta)
        else:
            ll = ll + kern.log_weight(self.kind, delta, self.clogp, self.clog1mp,
                                      self.threshold)
            ll = ll - kern.log_normaliser(self.kind, delta, mu, s, self.sei, self.alt,
                                          self.threshold, self.pval_min, coarse)
        out = float(np.sum(ll))
        return out if np.isfinite(out) else -np.inf

    def negll(self, theta):
        val = self.loglike(theta)
        return 1e300 if not np.isfinite(val) else -val

    def negll_coarse(self, theta):
        val = self.loglike(theta, coarse=True)
        return 1e300 if not np.isfinite(val) else -val


def _num_grad(f, x, lower, h=1e-6):
    g = np.empty_like(x)
    for j in range(x.shape[0]):
        hj = h * max(1.0, abs(x[j]))
        up, dn = x.copy(), x.copy()
        up[j] += hj
        if x[j] - hj < lower[j]:
            g[j] = (f(up) - f(x)) / hj
        else:
            dn[j] -= hj
            g[j] = (f(up) - f(dn)) / (2 * hj)
    return g


def _num_hess(f, x, h=1e-4):
    n = x.shape[0]
    H = np.empty((n, n))
    hs = h * np.maximum(1.0, np.abs(x))
    f0 = f(x)
    for i in range(n):
        for j in range(i, n):
            if i == j:
                e = np.zeros(n)
                e[i] = hs[i]
                H[i, i] = (f(x + e) - 2 * f0 + f(x - e)) / hs[i] ** 2
            else:
                ei, ej = np.zeros(n), np.zeros(n)
                ei[i], ej[j] = hs[i], hs[j]
                H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                                     + f(x - ei - ej)) / (4 * hs[i] * hs[j])
    return H


def selection_model(results: MetaResults | MetaInput,
                    type: Literal["stepfun", "beta", "halfnorm", "negexp", "logistic",
                                  "power"] = "stepfun",
                    steps: Sequence[float] | float | None = None,
                    alternative: Literal["greater", "less", "two-sided"] = "greater",
                    pval_min: float | None = None, tol: float = 1e-12,
                    maxiter: int = 2000) -> SelectionModelResult:
    r"""Fit a selection model to a univariate meta-analysis (metafor's ``selmodel``).

    A model of publication bias: studies are published with a probability that
    depends on their p-value, through a weight function whose parameters are
    estimated jointly with the effect and tau^2.

    Parameters
    ----------
    results : MetaResults
        :class:`~metamodels.MetaFixed` or :class:`~metamodels.MetaRandom` results of
        the model without selection; it is refitted by maximum likelihood (tau^2
        kept at 0 for fixed-effects fits).  Moderators are kept.
    type : {"stepfun", "beta", "halfnorm", "negexp", "logistic", "power"}
        The weight function (case-insensitive); see the Notes.
    steps : sequence of float
        stepfun: the p-value cut points ``a_1 < ... < a_c`` (1 is appended when
        missing).  halfnorm, negexp, logistic, power: optionally one threshold
        ``alpha`` below which ``w(p) = 1``.
    alternative : {"greater", "less", "two-sided"}
        Sidedness of the p-values ``p_i`` of ``z_i = y_i / sqrt(v_i)`` on which
        selection is assumed to act.
    pval_min : float, optional
        p-values are censored to ``[pval_min, 1 - pval_min]`` in the weight function
        (Citkowicz and Vevea 2017): default 1e-5 for beta and power (where ``w`` is
        unbounded or 0 at the ends), 0 otherwise, as metafor.
    tol : float, default 1e-12
        Convergence tolerance of the final Newton steps.
    maxiter : int, default 2000
        Iteration limit of the L-BFGS-B phase.

    Returns
    -------
    SelectionModelResult
        ``params``, ``bse``, ``tau2``, ``delta``, ``lr_test_selection``, ``summary()``.

    Raises
    ------
    ValueError
        Unknown ``type`` or ``alternative``; invalid ``steps`` (missing for stepfun,
        not increasing in (0, 1], given for beta) or ``pval_min``.
    metamodels.exceptions.SpecificationError
        A p-value interval without studies (its selection probability is not
        identified), a threshold with studies on one side only, or a fit with tau^2
        fixed.

    Warns
    -----
    metamodels.exceptions.ConvergenceWarning
        The optimiser did not converge.

    See Also
    --------
    trim_and_fill, egger_test, pet_peese

    Notes
    -----
    Study ``i`` has ``y_i ~ N(mu_i, s_i^2)``, ``mu_i = x_i'b``, ``s_i^2 = v_i + tau^2``
    before selection; it is observed with relative probability ``w(p_i)``, so the
    density of an observed study is

    .. math:: f(y_i) = w(p_i)\, \phi(y_i; \mu_i, s_i^2) / A_i, \qquad
              A_i = \int w(p(y))\, \phi(y; \mu_i, s_i^2)\, dy .

    Weight functions: stepfun ``w = delta_j`` for ``a_{j-1} < p <= a_j`` with
    ``delta_1 = 1`` (``A_i`` a sum of normal probabilities); beta
    ``p^(d1-1) (1-p)^(d2-1)``; halfnorm ``exp(-d p^2)``; negexp ``exp(-d p)``;
    logistic ``2 exp(-d p) / (1 + exp(-d p))``; power ``(1-p)^d``; with a threshold
    ``alpha`` these are 1 for ``p <= alpha`` and evaluated at ``p - alpha`` above it (as
    metafor, so that ``w`` is continuous).  For the continuous
    functions ``A_i`` is computed by panel-wise Gauss-Legendre quadrature on the
    standardised scale (the part with ``p <= alpha`` in closed form).  All parameters
    are estimated jointly by maximum likelihood (L-BFGS-B with bounds ``tau^2 >= 0``,
    ``delta`` in [0, 100], on a coarser quadrature, then Newton steps on the exact
    one); standard errors come from the numerical Hessian.  The LR test compares with
    the ML fit without selection (df = number of delta parameters).

    References
    ----------
    .. [1] Vevea, J. L., & Hedges, L. V. (1995). A general linear model for estimating
       effect size in the presence of publication bias. *Psychometrika*, 60(3),
       419-435.
    .. [2] Citkowicz, M., & Vevea, J. L. (2017). A parsimonious weight function for
       modeling publication bias. *Psychological Methods*, 22(1), 28-41.
    .. [3] Preston, C., Ashby, D., & Smyth, R. (2004). Adjusting for publication bias:
       Modelling the selection process. *Journal of Evaluation in Clinical Practice*,
       10(2), 313-322.
    .. [4] Hedges, L. V. (1992). Modeling publication selection effects in
       meta-analysis. *Statistical Science*, 7(2), 246-255.

    Examples
    --------
    A step function with one cut at p = 0.025 (one-sided p-values for negative
    effects, since the BCG vaccine lowers the risk):

    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> sel = mm.selection_model(res, type="stepfun", steps=[0.025], alternative="less")
    >>> print(sel.params.round(3), sel.delta.round(2))
    Intercept   -0.621
    dtype: float64 [1.   0.64]
    >>> print(round(sel.lr_test_selection.pvalue, 2))
    0.62
    """
    inp = meta_input(results)
    kind = str(type).lower()
    if kind not in kern.WEIGHT_FUNCTIONS:
        raise ValueError(f"unknown selection model type {type!r}; valid values are "
                         f"{', '.join(kern.WEIGHT_FUNCTIONS)}")
    alt = {"two.sided": "two-sided", "two_sided": "two-sided"}.get(alternative, alternative)
    if alt not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(_ALTERNATIVES)}, got "
                         f"{alternative!r}")
    steps = _check_steps(kind, steps)
    re = inp.method != "FE"
    if re and inp.tau2_fixed:
        raise SpecificationError("selection models estimate tau^2: refit without tau2=")
    pval_min = kern.default_pval_min(kind) if pval_min is None else float(pval_min)
    if not 0.0 <= pval_min < 0.5:
        raise ValueError(f"pval_min must lie in [0, 0.5), got {pval_min!r}")
    lik = _Likelihood(inp.y, inp.v, inp.X, kind, steps, alt, re, pval_min)
    p_table = None
    if kind == "stepfun":
        counts = np.bincount(lik.interval, minlength=len(steps))
        names = _delta_names(kind, steps)
        p_table = pd.DataFrame({"k": counts}, index=names)
        if np.any(counts == 0):
            empty = [n for n, c in zip(names, counts) if c == 0]
            raise SpecificationError(f"no study has a p-value in the interval(s) {empty}: "
                                     "their selection probabilities are not identified; "
                                     "choose other steps")
    elif steps:
        below = np.exp(lik.logp) <= steps[0]
        if below.all() or not below.any():
            raise SpecificationError(f"the threshold {steps[0]:g} must have studies with "
                                     "p-values on both sides")

    # start from the ML fit without selection
    ml = _ml_fit(inp)
    nd_free = lik.n_delta - (1 if kind == "stepfun" else 0)
    d0 = kern.null_delta(kind, len(steps))[(1 if kind == "stepfun" else 0):]
    b0 = np.asarray(ml.params, dtype=float)
    theta0 = np.r_[b0, [max(float(ml.tau2), 0.0)] if re else [], d0]
    llf_null = lik.loglike(theta0)
    d_lo, d_hi = kern.delta_bounds(kind)
    lower = np.r_[np.full(inp.X.shape[1], -np.inf), [0.0] if re else [], np.full(nd_free, d_lo)]
    upper = np.r_[np.full(inp.X.shape[1] + int(re), np.inf), np.full(nd_free, d_hi)]
    bounds = [(None if np.isinf(lo) else lo, None if np.isinf(hi) else hi)
              for lo, hi in zip(lower, upper)]
    f = lik.negll
    start = np.maximum(theta0, lower)
    if kind in ("halfnorm", "negexp", "logistic", "power"):
        start[-1] = 1.0
    fc = lik.negll_coarse     # first phase on the cheaper quadrature; Newton polishes
    x, fx = start, fc(start)
    for _ in range(10):      # L-BFGS-B can stop early on a flat stretch: restart it
        res = optimize.minimize(fc, x, jac=lambda t: _num_grad(fc, t, lower),
                                method="L-BFGS-B", bounds=bounds,
                                options=dict(maxiter=maxiter, ftol=1e-13, gtol=1e-7,
                                             maxcor=30))
        improved = fx - res.fun
        x, fx = res.x, res.fun
        if improved < 1e-10:
            break
    theta, converged = _polish(f, x, lower, upper, tol)
    converged = converged and np.isfinite(f(theta))
    if not converged:
        warnings.warn("the selection model did not converge; estimates may be inaccurate",
                      ConvergenceWarning, stacklevel=2)
    llf = -f(theta)
    free = (theta > lower + 1e-10) & (theta < upper - 1e-10)
    se = np.full(theta.shape[0], np.nan)
    H = _num_hess(f, theta)
    idx = np.flatnonzero(free)
    try:
        cov = np.linalg.inv(H[np.ix_(idx, idx)])
        se[idx] = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
    except np.linalg.LinAlgError:
        pass
    b, tau2, delta = lik.split(theta)
    p = inp.X.shape[1]
    names = list(getattr(inp.model, "exog_names", None) or [f"x{j}" for j in range(p)])
    tau2_se = float(se[p]) if re else np.nan
    dse = se[p + int(re):]
    if kind == "stepfun":
        dse = np.r_[np.nan, dse]
    stat = max(0.0, 2.0 * (llf - llf_null))
    lr = SelectionLRTest(float(stat), float(stats.chi2.sf(stat, nd_free)), int(nd_free))
    return SelectionModelResult(pd.Series(b, index=names), pd.Series(se[:p], index=names),
                                float(tau2), tau2_se, np.asarray(delta, float), dse,
                                float(llf), float(llf_null), lr, kind, steps, alt, re,
                                p_table, bool(converged), inp.k)


def _ml_fit(inp):
    """The ML fit without selection (the input itself if it is ML or fixed effects)."""
    if inp.weights is not None:
        raise SpecificationError("a selection model is a likelihood with inverse-variance "
                                 "weights: it is not defined for a fit with user weights "
                                 "(weights= or weighted=False), as in metafor's selmodel")
    if inp.method in ("FE", "ML"):
        return inp.results
    return refit(inp, inp.y, inp.v, inp.X, method="ML", test="z")


def _polish(f, theta, lower, upper, tol, steps=8):
    """Newton steps on the free parameters with the numerical Hessian."""
    converged = False
    for _ in range(steps):
        free = (theta > lower + 1e-10) & (theta < upper - 1e-10)
        g = _num_grad(f, theta, lower)
        idx = np.flatnonzero(free)
        if idx.size == 0:
            return theta, True
        gi = g[idx]
        if np.max(np.abs(gi)) < 1e-7:
            converged = True
            break
        H = _num_hess(f, theta)[np.ix_(idx, idx)]
        try:
            step = np.linalg.solve(H, gi)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.linalg.eigvalsh(H) > 0):
            break
        t = 1.0
        f0 = f(theta)
        while t > 1e-4:
            new = theta.copy()
            new[idx] = theta[idx] - t * step
            new = np.clip(new, lower, upper)
            if f(new) <= f0 + 1e-12:
                theta = new
                break
            t /= 2
        else:
            break
        if np.max(np.abs(t * step)) < tol:
            converged = True
            break
    else:
        free = (theta > lower + 1e-10) & (theta < upper - 1e-10)
        converged = np.max(np.abs(_num_grad(f, theta, lower)[free]), initial=0.0) < 1e-5
    return theta, converged
