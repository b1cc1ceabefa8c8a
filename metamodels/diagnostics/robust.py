r"""Cluster-robust (sandwich) inference for fitted meta-analytic models.

``res.robust(cluster, cov_type="CR2")`` on any meta-analysis results (MetaFixed,
MetaRandom, MetaMixed) returns a frozen :class:`RobustResults`: the model's estimates with
cluster-robust standard errors, Satterthwaite degrees of freedom for each coefficient and
Hotelling's T^2-Z (HTZ) Wald tests, as R's clubSandwich computes them (``vcovCR`` with the
model's marginal covariance as working model, ``coef_test(test = "Satterthwaite")``,
``Wald_test(test = "HTZ")``).

Notes
-----
Write the model as ``y = X b + e`` with working covariance ``Phi = V(theta_hat)`` (sampling
covariance plus the fitted random-effects parts), weights ``W = Phi^{-1}`` and
``M = (X'WX)^{-1}``; clusters ``j = 1..m`` must contain whole blocks of ``V``.  With
residuals ``e_j = y_j - X_j b``, the cluster-robust covariance is

.. math:: V^{CR} = M \Big(\sum_j X_j' W_j A_j e_j e_j' A_j W_j X_j\Big) M

with ``A_j = I`` (CR0), ``A_j = \sqrt{m/(m-1)} I`` (CR1, clubSandwich's definition),
``A_j = \sqrt{m/(m-p)} I`` (CR1p, metafor's ``robust(adjust = TRUE)``) or, for the bias-reduced
linearisation of Bell & McCaffrey (2002) generalised by McCaffrey, Bell & Botts (2001)
and Pustejovsky & Tipton (2018) (CR2),
``A_j = U_j' B_j^{-1/2} U_j`` with ``Phi_j = U_j' U_j`` (Cholesky) and
``B_j = U_j (Phi_j - X_j M X_j') U_j'``, which makes ``V^{CR}`` unbiased when the
working model is right.

For a ``q x p`` constraint matrix ``C``, ``C V^{CR} C' = sum_j (G_j' y)(G_j' y)'`` with
``G_j = (I - H)_j' A_j W_j X_j M C'`` (``H = X M X' W``).  Under the working model the
elements ``P_{s i, t j} = g_{si}' Phi g_{tj}`` reduce to
``delta_ij v_{si}' Phi_j v_{tj} - u_{si}' M u_{tj}`` with ``v_j = A_j W_j X_j M C'`` and
``u_j = X_j' v_j``.  The Satterthwaite degrees of freedom of one contrast (``q = 1``) are
``(sum_j P_jj)^2 / sum_ij P_ij^2`` (Bell & McCaffrey 2002).  The HTZ test (Tipton &
Pustejovsky 2015) standardises ``D = Omega^{-1/2} C V^{CR} C' Omega^{-1/2}`` with
``Omega = E(C V^{CR} C')``, takes ``eta = q(q+1) / sum_st Var(D_st)`` (the Wishart
degrees of freedom with the same total variance) and refers
``F = (eta - q + 1) / (eta q) * Q``, ``Q = (Cb - c)' (C V^{CR} C')^{-1} (Cb - c)``, to
``F(q, eta - q + 1)``.

References
----------
Bell, R. M., & McCaffrey, D. F. (2002). Bias reduction in standard errors for linear
regression with multi-stage samples. Survey Methodology, 28(2), 169-181.

Tipton, E., & Pustejovsky, J. E. (2015). Small-sample adjustments for tests of moderators
and model fit using robust variance estimation in meta-regression. Journal of Educational
and Behavioral Statistics, 40(6), 604-634.

Pustejovsky, J. E., & Tipton, E. (2018). Small-sample methods for cluster-robust variance
estimation and hypothesis testing in fixed effects models. Journal of Business & Economic
Statistics, 36(4), 672-683.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import patsy
from scipy import linalg, stats

from ..exceptions import SpecificationError
from ..inference.sandwich import (cluster_robust_pieces, inv_sqrt_psd, p_array,
                                  satterthwaite_df, working_blocks)
from ..mixed import MixedModel
from ..multivariate import MetaMixed
from ..univariate import MetaFixed, MetaRandom
from ._meta_input import refit_options

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike
    from statsmodels.iolib.summary2 import Summary

    from ..mixed.results import MixedResults
    from ..multivariate.results import MetaMixedResults
    from ..univariate.results import MetaResults

__all__ = ["robust", "RobustResults", "HTZTestResult", "cluster_robust_pieces"]

_SUPPORTED = (MetaFixed, MetaRandom, MetaMixed, MixedModel)

_COV_TYPES = ("CR0", "CR1", "CR1p", "CR2", "BR", "CR3")
_DDF = ("satterthwaite", "residual")


# --------------------------------------------------------------- test result
@dataclass(frozen=True)
class HTZTestResult:
    """Cluster-robust Wald test with the HTZ small-sample approximation (returned by
    :meth:`RobustResults.wald_test`; clubSandwich's ``Wald_test(test = "HTZ")``).

    Parameters
    ----------
    statistic : float
        The F statistic ``(eta - q + 1) / (eta q) * Q``.
    pvalue : float
    df_num : int
        ``q``, the number of constraints.
    df_denom : float
        ``eta - q + 1``.
    q_statistic : float
        Hotelling's ``Q = (Cb - c)' (C V C')^{-1} (Cb - c)`` (the naive Wald chi-square).
    eta : float
        Degrees of freedom of the approximating Wishart distribution.
    test : str, default "HTZ"
        Name of the test.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ ablat", data=dat, vi="vi").fit()
    >>> test = res.robust(cluster="alloc").wald_test("ablat = 0")
    >>> print(test.df_num, round(test.df_denom, 3), round(test.pvalue, 4))
    1 1.518 0.044
    """

    statistic: float
    pvalue: float
    df_num: int
    df_denom: float
    q_statistic: float
    eta: float
    test: str = "HTZ"

    def __str__(self):
        return (f"HTZ F({self.df_num}, {self.df_denom:.4g}) = {self.statistic:.4f}, "
                f"p = {self.pvalue:.4g}")


# ---------------------------------------------------------------- kernels
# the sandwich kernels live in :mod:`metamodels.inference.sandwich` (shared with the
# empirical covariance of MixedModel); the old private names are kept
_inv_sqrt_psd = inv_sqrt_psd
_p_array = p_array


def htz_test(pieces, beta, C, c0):
    """HTZ Wald test of ``C b = c0`` (see the module Notes)."""
    C = np.atleast_2d(C)
    q = C.shape[0]
    diff = C @ beta - c0
    VC = C @ pieces["cov"] @ C.T
    Q = float(diff @ np.linalg.solve(VC, diff))
    # Omega = E(C V C') = sum_j P[:, j, :, j]; P is bilinear in the contrasts, so the
    # standardised array Omega^{-1/2} P Omega^{-1/2} is P of the contrasts Omega^{-1/2} C
    Omega = np.zeros((q, q))
    for Ej, Xj, Phi in zip(pieces["E"], pieces["X"], pieces["Phi"]):
        v = Ej.T @ C.T
        u = Xj.T @ v
        Omega += v.T @ Phi @ v - u.T @ pieces["M"] @ u
    w, R = np.linalg.eigh((Omega + Omega.T) / 2)
    Om_is = (R / np.sqrt(w)) @ R.T
    Pn = _p_array(pieces, Om_is @ C)
    # Var(D_st) = sum_ij P[t,i,s,j] P[s,i,t,j] + P[t,i,t,j] P[s,i,s,j], summed over s, t
    T = sum(Pn[s, :, s, :] for s in range(q))
    total = float(np.sum(T * T))
    for s_ in range(q):
        for t_ in range(q):
            total += float(np.sum(Pn[t_, :, s_, :] * Pn[s_, :, t_, :]))
    eta = q * (q + 1) / total
    df2 = eta - q + 1
    F = (eta - q + 1) / (eta * q) * Q
    pval = float(stats.f.sf(F, q, df2)) if df2 > 0 else np.nan
    return HTZTestResult(float(F), pval, int(q), float(df2), Q, float(eta))


# ------------------------------------------------------------ the working model
def _working_blocks(res, codes):
    """Per cluster, the rows and the working covariance ``V(theta_hat)`` of the fit."""
    model = res.model
    n = int(model.exog.shape[0])
    spec = getattr(model, "spec", None)
    fit = getattr(res, "_ev", None) or getattr(res, "_fit", None)
    if spec is not None and fit is not None and hasattr(spec, "layout"):
        return working_blocks(spec, fit.theta, codes)
    m = int(codes.max()) + 1
    rows = [np.flatnonzero(codes == j) for j in range(m)]
    vi = getattr(model, "vi", None)
    tau2 = getattr(res, "tau2", None)
    if vi is not None and tau2 is not None and np.ndim(tau2) == 0 and len(vi) == n:
        v = np.asarray(vi, dtype=float) + float(tau2)
        return rows, [np.diag(v[r]) for r in rows]
    raise TypeError(f"robust() needs a meta-analysis fit with a working covariance "
                    f"(MetaFixed, MetaRandom, MetaMixed); got {type(res).__name__}")


#: Covariances :func:`robust` gives for fits with user weights (with ``ddf="residual"``).
_WEIGHTED_COV_TYPES = ("CR0", "CR1", "CR1p")


def _weighted_pieces(X, resid, a, codes, m, cov_type):
    """The sandwich of the weighted estimator ``b = M X'Ay`` (``M = (X'AX)^{-1}``):
    ``sum_j E_j e_j e_j' E_j'`` with ``E_j = c M X_j' A_j``, ``c^2`` 1 (CR0),
    ``m/(m-1)`` (CR1) or ``m/(m-p)`` (CR1p).  No small-sample adjustment matrices, so
    no Satterthwaite df or HTZ test (``"weighted"`` marks the pieces)."""
    p = X.shape[1]
    M = np.linalg.inv(X.T @ (a[:, None] * X))
    c = {"CR0": 1.0, "CR1": m / (m - 1), "CR1p": m / (m - p)}[cov_type] ** 0.5
    rows = [np.flatnonzero(codes == j) for j in range(m)]
    E = [c * (M @ (X[r] * a[r, None]).T) for r in rows]
    meat = np.array([Ej @ resid[r] for Ej, r in zip(E, rows)])
    cov = meat.T @ meat
    return {"cov": (cov + cov.T) / 2, "M": M, "E": E, "X": [X[r] for r in rows],
            "resid": [resid[r] for r in rows], "weighted": True}


def _cluster_codes(res, cluster):
    """Integer cluster codes for the fitted rows (a column name of the model's data, a
    Series aligned on the data's index, or an array with one value per fitted row)."""
    model = res.model
    n = int(model.exog.shape[0])
    frame = getattr(getattr(model, "data", None), "frame", None)
    if isinstance(cluster, str):
        if frame is None or cluster not in frame.columns:
            raise ValueError(f"cluster={cluster!r} is not a column of the model's data; pass "
                             "the cluster labels as an array or Series")
        cluster = frame[cluster]
    if isinstance(cluster, pd.Series) and len(cluster) != n:
        idx = res._fitted_index
        if idx is None or not idx.isin(cluster.index).all():
            raise ValueError(f"cluster has {len(cluster)} values and its index does not "
                             f"cover the {n} fitted rows")
        cluster = cluster.loc[idx]
    labels = np.asarray(cluster)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"cluster needs one label per fitted row ({n}), got shape "
                         f"{labels.shape}")
    if pd.isna(labels).any():
        raise ValueError("cluster has missing labels")
    codes = pd.factorize(labels, sort=True)[0]
    return codes


# ------------------------------------------------------------------ results
@dataclass(frozen=True, eq=False)
class RobustResults:
    """Cluster-robust inference on a fitted model (frozen; from ``res.robust(...)``).

    Created by :func:`robust`; the formulas are in the module Notes
    (:mod:`metamodels.diagnostics.robust`).

    Parameters
    ----------
    params : Series
        The model's estimates (unchanged).
    cov_params_robust : DataFrame
        The cluster-robust covariance ``V^{CR}`` (see the module Notes).
    df_satterthwaite : Series
        Satterthwaite degrees of freedom of each coefficient (clubSandwich's
        ``coef_test(test = "Satterthwaite")``).
    cov_type : str
        The adjustment (``"CR2"``, ``"CR1"``, ...).
    n_clusters : int
        Number of clusters ``m``.
    ddf : {"satterthwaite", "residual"}
        Which degrees of freedom :attr:`df` gives.
    _pieces : dict
        Internal: the per-cluster pieces of the sandwich, used by :meth:`wald_test`.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ ablat", data=dat, vi="vi").fit()
    >>> rob = res.robust(cluster="trial", cov_type="CR1p", ddf="residual")
    >>> print(rob.summary_frame()[["coef", "se", "df"]].round(4))
                 coef      se    df
    Intercept  0.2515  0.1905  11.0
    ablat     -0.0291  0.0052  11.0
    """

    params: pd.Series
    cov_params_robust: pd.DataFrame
    df_satterthwaite: pd.Series
    cov_type: str
    n_clusters: int
    ddf: str
    _pieces: dict = field(repr=False)

    @property
    def param_names(self) -> list[str]:
        """Names of the coefficients."""
        return list(self.params.index)

    @property
    def df(self) -> pd.Series:
        """Degrees of freedom used by :attr:`pvalues` and :meth:`conf_int`:
        ``df_satterthwaite`` (``ddf="satterthwaite"``) or ``m - p`` for every
        coefficient (``ddf="residual"``, metafor's ``robust()`` without clubSandwich)."""
        if self.ddf == "residual":
            return pd.Series(float(self.n_clusters - len(self.params)), index=self.params.index,
                             name="df")
        return self.df_satterthwaite

    @property
    def bse(self) -> pd.Series:
        """Cluster-robust standard errors."""
        return pd.Series(np.sqrt(np.diag(self.cov_params_robust.to_numpy())),
                         index=self.params.index, name="bse")

    @property
    def tvalues(self) -> pd.Series:
        """t statistics ``params / bse``."""
        return pd.Series(self.params.to_numpy() / self.bse.to_numpy(), index=self.params.index,
                         name="tvalues")

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided t p-values on :attr:`df` degrees of freedom."""
        p = 2 * stats.t.sf(np.abs(self.tvalues.to_numpy()), self.df.to_numpy())
        return pd.Series(p, index=self.params.index, name="pvalues")

    def cov_params(self) -> pd.DataFrame:
        """The cluster-robust covariance matrix (clubSandwich's ``vcovCR``).

        Returns
        -------
        DataFrame
        """
        return self.cov_params_robust

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Confidence limits ``b -/+ t_{1-alpha/2, df_k} se_k`` (``df_k`` from
        :attr:`df`; clubSandwich's ``conf_int``).

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` intervals.

        Returns
        -------
        DataFrame
            Columns ``lower`` and ``upper``, one row per coefficient.
        """
        q = stats.t.ppf(1 - alpha / 2, self.df.to_numpy())
        b, se = self.params.to_numpy(), self.bse.to_numpy()
        return pd.DataFrame({"lower": b - q * se, "upper": b + q * se}, index=self.params.index)

    def wald_test(self, r_matrix: str | Sequence[str] | ArrayLike,
                  q_matrix: ArrayLike | None = None) -> HTZTestResult:
        """HTZ test of linear constraints ``R b = q``.

        Parameters
        ----------
        r_matrix : str, list of str or array_like
            Constraints as statsmodels takes them: a string such as ``"ablat = 0"`` or
            ``"a = 0, b = 0"``, a list of strings, or a ``q x p`` array (then
            ``q_matrix`` gives the right-hand sides, zero by default).
        q_matrix : array_like, optional
            Right-hand sides of array constraints (zero by default).

        Returns
        -------
        HTZTestResult

        Raises
        ------
        ValueError
            An array of the wrong width, or linearly dependent constraints.
        """
        names = self.param_names
        if isinstance(r_matrix, (str, list, tuple)) and all(
                isinstance(s, str) for s in np.atleast_1d(r_matrix)):
            lc = patsy.DesignInfo(names).linear_constraint(r_matrix)
            C, c0 = lc.coefs, lc.constants[:, 0]
        else:
            C = np.atleast_2d(np.asarray(r_matrix, dtype=float))
            if C.shape[1] != len(names):
                raise ValueError(f"r_matrix needs {len(names)} columns, got {C.shape[1]}")
            c0 = (np.zeros(C.shape[0]) if q_matrix is None
                  else np.asarray(q_matrix, dtype=float).reshape(-1))
        if np.linalg.matrix_rank(C) < C.shape[0]:
            raise ValueError("the constraints are linearly dependent")
        if self._pieces.get("weighted"):
            raise SpecificationError("the HTZ test needs the working model's GLS; this "
                                     "fit has user weights (use the coefficient table, "
                                     "with m - p df)")
        return htz_test(self._pieces, self.params.to_numpy(), C, c0)

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Coefficient table (clubSandwich's ``coef_test``).

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence intervals.

        Returns
        -------
        DataFrame
            Columns ``coef``, ``se`` (robust), ``t``, ``df``, ``pvalue``, ``ci_lower``,
            ``ci_upper``.
        """
        ci = self.conf_int(alpha)
        return pd.DataFrame({"coef": self.params, "se": self.bse, "t": self.tvalues,
                             "df": self.df, "pvalue": self.pvalues,
                             "ci_lower": ci["lower"], "ci_upper": ci["upper"]})

    def summary(self, alpha: float = 0.05) -> Summary:
        """Printable summary: a title with the adjustment and the number of clusters,
        then :meth:`summary_frame`.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence intervals.

        Returns
        -------
        statsmodels.iolib.summary2.Summary
        """
        from statsmodels.iolib import summary2
        s = summary2.Summary()
        s.add_title(f"Cluster-robust inference ({self.cov_type}, {self.n_clusters} clusters, "
                    f"{self.ddf} df)")
        s.add_df(self.summary_frame(alpha), float_format="%.4f")
        return s

    def __str__(self):
        return str(self.summary())


def robust(results: MetaResults | MetaMixedResults | MixedResults,
           cluster: str | pd.Series | ArrayLike,
           cov_type: Literal["CR2", "CR1", "CR1p", "CR0", "BR", "CR3"] = "CR2",
           ddf: Literal["satterthwaite", "residual"] = "satterthwaite") -> RobustResults:
    """Cluster-robust inference for a fitted meta-analysis (``results.robust``).

    Standard errors, t tests and Wald tests that stay valid when the working model
    (the fitted covariance) is wrong, as long as clusters are independent: the
    approach of robust variance estimation for dependent effect sizes (Hedges,
    Tipton and Johnson 2010) with the small-sample corrections of clubSandwich.

    Parameters
    ----------
    results : MetaResults, MetaMixedResults or MixedResults
        A fitted MetaFixed, MetaRandom, MetaMixed or MixedModel model.
    cluster : str, Series or array_like
        Cluster labels: a column name of the model's data, a Series aligned on the
        data's index, or one label per fitted row.
    cov_type : {"CR2", "CR1", "CR1p", "CR0", "BR", "CR3"}
        ``"CR2"`` (bias-reduced, clubSandwich's default for meta-analysis), ``"CR1"``
        (``m / (m - 1)`` times CR0, clubSandwich's CR1), ``"CR1p"`` (``m / (m - p)``
        times CR0, metafor's ``robust(adjust = TRUE)``), ``"CR0"`` (no adjustment),
        ``"BR"`` (mmrm's bias-reduced variant) or ``"CR3"`` (jackknife); see
        :mod:`metamodels.inference.sandwich`.
    ddf : {"satterthwaite", "residual"}
        Degrees of freedom of the t tests and intervals: Satterthwaite's per coefficient
        (clubSandwich's ``coef_test``) or ``m - p`` (metafor's ``robust()``).  The HTZ
        Wald test does not depend on it.

    Returns
    -------
    RobustResults
        ``params``, ``bse``, ``df``, ``pvalues``, ``conf_int()``, ``wald_test()``,
        ``summary()``.

    Raises
    ------
    ValueError
        Unknown ``cov_type`` or ``ddf``; cluster labels that do not match the fitted
        rows or have missing values; fewer than two clusters, or not more clusters
        than coefficients with ``CR1p`` or ``ddf="residual"``.
    TypeError
        A fit of an unsupported model.
    metamodels.exceptions.SpecificationError
        A MetaFixed/MetaRandom fit with user weights and a ``cov_type`` other than
        CR0, CR1, CR1p or ``ddf`` other than ``"residual"`` (for such fits the
        sandwich of the weighted estimator ``(X'AX)^{-1}X'A`` is used, without the
        small-sample adjustments that assume the working model's GLS).

    References
    ----------
    .. [1] Hedges, L. V., Tipton, E., & Johnson, M. C. (2010). Robust variance
       estimation in meta-regression with dependent effect size estimates.
       *Research Synthesis Methods*, 1(1), 39-65.
    .. [2] Tipton, E., & Pustejovsky, J. E. (2015). Small-sample adjustments for tests
       of moderators and model fit using robust variance estimation in
       meta-regression. *Journal of Educational and Behavioral Statistics*, 40(6),
       604-634.
    .. [3] Pustejovsky, J. E., & Tipton, E. (2018). Small-sample methods for
       cluster-robust variance estimation and hypothesis testing in fixed effects
       models. *Journal of Business & Economic Statistics*, 36(4), 672-683.

    Examples
    --------
    The BCG meta-regression with trials clustered by allocation method (three
    clusters: a toy example; the Satterthwaite df show how little information that
    leaves):

    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ ablat", data=dat, vi="vi").fit()
    >>> rob = res.robust(cluster="alloc")
    >>> print(rob.summary_frame()[["coef", "se", "df", "pvalue"]].round(4))
                 coef      se      df  pvalue
    Intercept  0.2515  0.0917  1.6888  0.1332
    ablat     -0.0291  0.0045  1.5177  0.0440
    >>> print(rob.wald_test("ablat = 0"))
    HTZ F(1, 1.518) = 41.6088, p = 0.04404
    """
    if cov_type not in _COV_TYPES:
        raise ValueError(f"cov_type must be one of {_COV_TYPES}, got {cov_type!r}")
    model = results.model
    if not isinstance(model, _SUPPORTED):
        raise TypeError("robust() supports MetaFixed, MetaRandom, MetaMixed and MixedModel "
                        f"fits; got a {type(model).__name__} fit")
    user_w = refit_options(results)[0]
    if user_w is not None and (cov_type not in _WEIGHTED_COV_TYPES or ddf != "residual"):
        # the small-sample corrections (CR2, BR, CR3), Satterthwaite df and HTZ tests
        # here assume the working model's GLS (W = Phi^-1)
        raise SpecificationError(
            "for a fit with user weights (weights= or weighted=False) robust() gives "
            "the plain sandwich of the weighted estimator: cov_type 'CR0', 'CR1' or "
            "'CR1p' with ddf='residual' (metafor's robust(); CR1p is its adjust=TRUE), "
            f"not cov_type={cov_type!r} with ddf={ddf!r}")
    X = np.asarray(model.exog, dtype=float)
    p = X.shape[1]
    beta = np.asarray(results.params, dtype=float)[:p]
    resid = np.asarray(model.endog, dtype=float) - X @ beta
    codes = _cluster_codes(results, cluster)
    m = int(codes.max()) + 1
    if ddf not in _DDF:
        raise ValueError(f"ddf must be one of {_DDF}, got {ddf!r}")
    if m <= p and (cov_type == "CR1p" or ddf == "residual"):
        raise ValueError(f"{cov_type} with ddf={ddf!r} needs more clusters ({m}) than "
                         f"coefficients ({p})")
    if m < 2:
        raise ValueError("cluster-robust inference needs at least two clusters")
    names = list(getattr(results, "param_names", None) or model.exog_names)[:p]
    if user_w is not None:
        pieces = _weighted_pieces(X, resid, user_w, codes, m, cov_type)
        df = np.full(p, float(m - p))
    else:
        rows, Phi = _working_blocks(results, codes)
        pieces = cluster_robust_pieces(X, resid, Phi, rows, cov_type)
        df = satterthwaite_df(pieces, np.eye(p))
    return RobustResults(params=pd.Series(beta, index=names, name="params"),
                         cov_params_robust=pd.DataFrame(pieces["cov"], index=names,
                                                        columns=names),
                         df_satterthwaite=pd.Series(df, index=names, name="df"),
                         cov_type=cov_type, n_clusters=m, ddf=ddf, _pieces=pieces)
