"""Leave-one-out influence diagnostics (metafor's ``influence.rma.uni``, and Cook's
distances, DFBETAS and hat values of ``rma.mv`` models).

``res.get_influence()`` returns :class:`MetaInfluence` for MetaFixed/MetaRandom results
and :class:`MetaMixedInfluence` for MetaMixed results.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from ..core.scalar import DiagonalTau2
from ..univariate.fitting import weighted_estimate
from ._deletion import deleted_states, deleted_tau2_ml_reml, mixed_deletion_fits, refit_tau2
from ._meta_input import refit_options

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

    from ..multivariate.results import MetaMixedResults
    from ..univariate.results import MetaResults

__all__ = ["MetaInfluence", "MetaMixedInfluence", "get_influence", "univariate_deletions"]


def _arrays(results):
    m = results.model
    return (np.asarray(m.endog, dtype=float), np.asarray(m.vi, dtype=float),
            np.asarray(m.exog, dtype=float))


def _tau2_fixed(results):
    fit = getattr(results, "_fit", None)
    return bool(getattr(fit, "tau2_fixed", False))


@dataclass(frozen=True)
class Deletions:
    """The k leave-one-out fits of a univariate model (arrays, row ``i`` = study ``i``
    deleted).

    Parameters
    ----------
    tau2 : ndarray
        tau^2 of the reduced fits (k,).
    beta : ndarray
        Coefficients (k, p).
    cov : ndarray
        ``(X'WX)^{-1}`` of the reduced data, without the Knapp-Hartung factor (k, p, p).
    s2w : ndarray
        Knapp-Hartung factor of the reduced fits (1 without ``"knha"``) (k,).
    q : ndarray
        Cochran's Q (fixed-effects weights) of the reduced data (k,).
    trp0 : ndarray
        ``tr P_0`` of the reduced data (I^2, H^2) (k,).
    """

    tau2: np.ndarray        # tau^2 of the reduced fits
    beta: np.ndarray        # (k, p) coefficients
    cov: np.ndarray         # (k, p, p) (X'WX)^{-1} of the reduced data (no KnHa factor)
    s2w: np.ndarray         # Knapp-Hartung factor of the reduced fits (1 without "knha")
    q: np.ndarray           # Cochran's Q (fixed-effects weights) of the reduced data
    trp0: np.ndarray        # tr P_0 of the reduced data (I^2, H^2)

    @property
    def vb(self) -> np.ndarray:
        """Covariance of the reduced fits' coefficients (with the KnHa factor)."""
        return self.cov * self.s2w[:, None, None]


def univariate_deletions(results: MetaResults) -> Deletions:
    """All leave-one-out refits of a MetaFixed/MetaRandom result (:class:`Deletions`):
    tau^2 re-estimated by the same method (warm start from the full fit; kept fixed when
    it was fixed in the fit), the rest by the batched deletion kernel.

    Parameters
    ----------
    results : MetaResults
        A MetaFixed/MetaRandom fit.

    Returns
    -------
    Deletions
    """
    y, v, X = _arrays(results)
    k, p = X.shape
    rows_all = np.arange(k)
    a, tau2_init = refit_options(results)
    method = results.method
    if method == "FE" or _tau2_fixed(results):
        tau2 = np.full(k, float(results.tau2))
    elif method in ("ML", "REML"):
        tau2 = deleted_tau2_ml_reml(y, v, X, reml=method == "REML")
    else:
        full = DiagonalTau2(y, v, X)
        rows = np.arange(k)
        tau2 = np.empty(k)
        for i in range(k):
            keep = rows != i
            tau2[i] = refit_tau2(method, y[keep], v[keep], X[keep], start=float(results.tau2),
                                 problem=full.subset(keep), tau2_init=tau2_init)
    beta, cov, genq, _ = deleted_states(y, v, X, tau2)
    _, _, q0, trp0 = deleted_states(y, v, X, np.zeros(k), with_trace=True)
    if a is not None:               # user weights: the reduced fits keep them (no KnHa)
        for i in range(k):
            keep = rows_all != i
            beta[i], cov[i] = weighted_estimate(y[keep], v[keep], X[keep], tau2[i], a[keep])
    df = k - 1 - p
    with np.errstate(divide="ignore", invalid="ignore"):
        s2w = genq / df if results.test == "knha" else np.ones(k)
    return Deletions(tau2, beta, cov, s2w, q0, trp0)


class MetaInfluence:
    """Leave-one-out diagnostics of a MetaFixed/MetaRandom fit (metafor's
    ``influence.rma.uni``), in the manner of statsmodels' ``OLSInfluence``.

    Parameters
    ----------
    results : MetaResults
        A MetaFixed/MetaRandom fit.

    Notes
    -----
    For each study ``i`` the model is refitted without it (``tau^2`` re-estimated by the
    same method; :func:`univariate_deletions`).  With ``b``, ``Var(b)`` of the full fit,
    ``b_(-i)``, ``Var(b_(-i))``, ``tau^2_(-i)`` and the Knapp-Hartung factor ``s^2_(-i)``
    (1 without ``test="knha"``) of the reduced fit, ``w_i = 1/(v_i + tau^2)`` and the hat
    values ``h_i = w_i x_i'(X'WX)^{-1}x_i`` of the full fit:

    * ``rstudent = (y_i - x_i'b_(-i)) / sqrt(s^2_(-i)(v_i + tau^2_(-i)) + x_i'Var(b_(-i))x_i)``
    * ``dffits = x_i'(b - b_(-i)) / sqrt(s^2_(-i) h_i (tau^2_(-i) + v_i))``
    * ``cooks_d = (b - b_(-i))' Var(b)^{-1} (b - b_(-i))``
    * ``cov_ratio = det Var(b_(-i)) / det Var(b)``
    * ``dfbetas_j = (b - b_(-i))_j / sqrt(s^2_(-i) [(X'W_(-i)X)^{-1}]_jj)`` with
      ``W_(-i) = diag(1/(v + tau^2_(-i)))`` over all k studies
    * ``tau2_deleted``, ``q_deleted`` (Cochran's Q of the reduced data), ``hat`` and
      ``weight = 100 w_i / sum w``.

    A study is flagged ``is_influential`` (metafor's asterisk) when ``|dffits| >
    3 sqrt(p/(k-p))``, or ``P(chi2_p <= cooks_d) > 0.5``, or ``hat > 3p/k``, or any
    ``|dfbetas| > 1``.  All definitions are those of metafor 3.8 (Viechtbauer and Cheung
    2010, Research Synthesis Methods 1).

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> infl = res.get_influence()
    >>> print(infl.cooks_distance[:3].round(3))
    [0.002 0.113 0.026]
    >>> fig = infl.plot()          # the eight panels of metafor's plot(influence(res))
    >>> len(fig.axes)
    8
    """

    def __init__(self, results: MetaResults) -> None:
        self.results = results
        self.k, self.p = results.model.exog.shape

    @cached_property
    def _del(self):
        return univariate_deletions(self.results)

    @cached_property
    def _full(self):
        res = self.results
        y, v, X = _arrays(res)
        w = 1.0 / (v + float(res.tau2))
        b = np.asarray(res.params, dtype=float)
        vb = np.asarray(res.cov_params(), dtype=float)
        a = refit_options(res)[0]
        if a is not None:                  # H = X(X'AX)^{-1}X'A with the user weights
            w = a
            C = np.linalg.inv(X.T @ (a[:, None] * X))
        else:
            C = vb / res._fit.knha_factor
        hat = w * np.einsum("ij,jk,ik->i", X, C, X)
        return y, v, X, w, b, vb, hat

    @cached_property
    def hat_matrix_diag(self) -> np.ndarray:
        """Diagonal of ``H = X(X'WX)^{-1}X'W`` (metafor's ``hatvalues``)."""
        return self._full[6]

    @cached_property
    def _table(self):
        y, v, X, w, b, vb, hat = self._full
        d = self._del
        k, p = self.k, self.p
        vb_del = d.vb
        pred_del = np.einsum("ij,ij->i", X, d.beta)
        vpred_del = np.einsum("ij,ijk,ik->i", X, vb_del, X)
        resid = y - pred_del
        resid[np.abs(resid) < 100 * np.finfo(float).eps] = 0.0
        rstudent = resid / np.sqrt(d.s2w * (v + d.tau2) + vpred_del)
        dfb = b[None, :] - d.beta
        cooks = np.einsum("ij,jk,ik->i", dfb, np.linalg.inv(vb), dfb)
        with np.errstate(invalid="ignore"):
            cov_ratio = np.linalg.det(vb_del) / np.linalg.det(vb)
        a = refit_options(self.results)[0]
        if a is not None:
            # the covariance of the weighted estimator on all k studies at tau^2_(-i)
            full_del = np.array([weighted_estimate(y, v, X, t, a)[1] for t in d.tau2])
        else:
            # (X'W_(-i)X)^{-1} over all k studies at tau^2_(-i): add study i back
            wi = 1.0 / (v + d.tau2)
            Cx = np.einsum("ijk,ik->ij", d.cov, X)
            denom = 1.0 + wi * np.einsum("ij,ij->i", X, Cx)
            full_del = d.cov - (wi / denom)[:, None, None] * Cx[:, :, None] * Cx[:, None, :]
        # the change of the fitted value over its SD on all studies at tau^2_(-i)
        # (with inverse-variance weights that SD is sqrt(s2w hat (tau^2_(-i) + v)))
        dpred = np.einsum("ij,ij->i", X, dfb)
        dffits = dpred / (np.sqrt(np.einsum("ij,ijk,ik->i", X, full_del, X)) if a is not None
                          else np.sqrt(d.s2w * hat * (d.tau2 + v)))
        dfbetas = dfb / np.sqrt(d.s2w[:, None] * np.diagonal(full_del, axis1=1, axis2=2))
        weight = 100.0 * w / w.sum()
        frame = pd.DataFrame({"rstudent": rstudent, "dffits": dffits, "cooks_d": cooks,
                              "cov_ratio": cov_ratio, "tau2_deleted": d.tau2,
                              "q_deleted": d.q, "hat": hat, "weight": weight},
                             index=self.results._fitted_index)
        for j, name in enumerate(self.results.model.exog_names):
            frame[f"dfbetas_{name}"] = dfbetas[:, j]
        with np.errstate(invalid="ignore"):
            flag = ((np.abs(dffits) > 3.0 * np.sqrt(p / (k - p)))
                    | (stats.chi2.cdf(cooks, p) > 0.5) | (hat > 3.0 * p / k)
                    | np.any(np.abs(dfbetas) > 1.0, axis=1))
        frame["is_influential"] = flag
        return frame

    def summary_frame(self) -> pd.DataFrame:
        """All diagnostics, one row per study (metafor's ``influence.rma.uni``).

        Returns
        -------
        DataFrame
            Columns rstudent, dffits, cooks_d, cov_ratio, tau2_deleted, q_deleted, hat,
            weight (percent), ``dfbetas_<name>`` per coefficient and is_influential.
        """
        return self._table.copy()

    # statsmodels-style attributes
    @property
    def resid_studentized_external(self) -> np.ndarray:
        """Externally studentised residuals (metafor's ``rstudent``)."""
        return self._table["rstudent"].to_numpy()

    @property
    def dffits(self) -> np.ndarray:
        """DFFITS of each study."""
        return self._table["dffits"].to_numpy()

    @property
    def cooks_distance(self) -> np.ndarray:
        """Cook's distances."""
        return self._table["cooks_d"].to_numpy()

    @property
    def cov_ratio(self) -> np.ndarray:
        """Covariance ratios ``det Var(b_(-i)) / det Var(b)``."""
        return self._table["cov_ratio"].to_numpy()

    @property
    def dfbetas(self) -> np.ndarray:
        """DFBETAS, (k, p)."""
        cols = [c for c in self._table.columns if c.startswith("dfbetas_")]
        return self._table[cols].to_numpy()

    @property
    def is_influential(self) -> np.ndarray:
        """Boolean flags of influential studies (metafor's asterisk; class Notes)."""
        return self._table["is_influential"].to_numpy()

    def plot(self, which: str = "influence", **kwargs: Any) -> Figure:
        """Index plots of the diagnostics (metafor's ``plot.infl.rma.uni``).

        Parameters
        ----------
        which : {"influence", "dfbetas"}
            ``"influence"``: the eight panels (rstudent, dffits, cooks_d, cov_ratio,
            tau2_deleted, q_deleted, hat, weight); ``"dfbetas"``: one panel per
            coefficient.  Influential studies are red.
        **kwargs
            ``figsize``; see :func:`metamodels.diagnostics.plots.influence_plot`.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from .influence_plots import influence_plot
        return influence_plot(self, which=which, **kwargs)


class MetaMixedInfluence:
    """Cook's distances, DFBETAS and hat values of a MetaMixed fit (metafor's
    ``cooks.distance.rma.mv``, ``dfbetas.rma.mv``, ``hatvalues.rma.mv``), by row or by
    cluster.

    Parameters
    ----------
    results : MetaMixedResults
    cluster : array_like, optional
        One label per row: whole clusters are deleted at a time.
    reestimate : bool
        Re-estimate the variance components after each deletion (metafor's default),
        starting from the full fit's values; else keep them at the full fit's values.

    Notes
    -----
    With ``b``, ``Var(b)`` of the full fit and ``b_(-j)``, ``theta_(-j)`` of the fit
    without unit ``j`` (a row, or all rows of a cluster):
    ``cooks_d = (b - b_(-j))' Var(b)^{-1} (b - b_(-j))`` and
    ``dfbetas = (b - b_(-j)) / sqrt(diag (X'M(theta_(-j))^{-1}X)^{-1})`` with ``M`` the
    marginal covariance of all rows.  ``hat`` is the diagonal of
    ``H = X(X'M^{-1}X)^{-1}X'M^{-1}``; for clusters, the sum of its rows' hat values (the
    trace of the cluster's block, an addition to metafor).

    Examples
    --------
    >>> import metamodels as mm
    >>> konst = mm.datasets.load("konstantopoulos2011")
    >>> ml = mm.MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", konst,
    ...                                vi="vi").fit()
    >>> infl = ml.get_influence(cluster=konst["district"])
    >>> print(infl.summary_frame().round(3).head(3))
             cooks_d    hat  dfbetas_Intercept
    cluster
    11         0.069  0.068             -0.263
    12         0.016  0.092             -0.121
    18         0.042  0.085              0.199
    """

    def __init__(self, results: MetaMixedResults, cluster: ArrayLike | None = None,
                 reestimate: bool = True) -> None:
        self.results = results
        n = int(results.model.nobs)
        if cluster is None:
            self.ids = np.arange(n)
            self._codes = np.arange(n)
            self.cluster = None
        else:
            cluster = np.asarray(cluster)
            if cluster.shape[0] != n:
                raise ValueError(f"cluster has {cluster.shape[0]} entries but the model has "
                                 f"{n} rows")
            if pd.isna(pd.Series(cluster)).any():
                raise ValueError("cluster contains missing values")
            self.ids, self._codes = pd.factorize(pd.Series(cluster), sort=True)[::-1]
            self.ids = np.asarray(self.ids)
            self._codes = np.asarray(self._codes)
            self.cluster = cluster
        self.reestimate = bool(reestimate)

    @cached_property
    def _fits(self):
        return mixed_deletion_fits(self.results, self._codes, len(self.ids), self.reestimate)

    @cached_property
    def _table(self):
        res = self.results
        m = res.model
        b = np.asarray(res.params, dtype=float)
        vb = np.asarray(res.cov_params(), dtype=float)
        svb = np.linalg.inv(vb)
        names = list(m.exog_names)
        n = len(self.ids)
        cooks = np.full(n, np.nan)
        dfbetas = np.full((n, b.size), np.nan)
        for j, fit in enumerate(self._fits):
            if fit is None:
                continue
            dfb = b - np.asarray(fit.params, dtype=float)
            cooks[j] = dfb @ svb @ dfb
            C = _full_cov_beta(res, np.asarray(fit.theta, dtype=float))
            dfbetas[j] = dfb / np.sqrt(np.diag(C))
        hat_rows = mixed_hat_values(res)
        hat = np.bincount(self._codes, weights=hat_rows, minlength=n)
        index = (res._fitted_index if self.cluster is None else pd.Index(self.ids, name="cluster"))
        frame = pd.DataFrame({"cooks_d": cooks, "hat": hat}, index=index)
        for j, name in enumerate(names):
            frame[f"dfbetas_{name}"] = dfbetas[:, j]
        return frame

    def summary_frame(self) -> pd.DataFrame:
        """The diagnostics, one row per deleted unit (row or cluster).

        Returns
        -------
        DataFrame
            Columns cooks_d, hat and ``dfbetas_<name>`` per coefficient.
        """
        return self._table.copy()

    @property
    def cooks_distance(self) -> np.ndarray:
        """Cook's distances (metafor's ``cooks.distance.rma.mv``)."""
        return self._table["cooks_d"].to_numpy()

    @property
    def dfbetas(self) -> np.ndarray:
        """DFBETAS, (units, p) (metafor's ``dfbetas.rma.mv``)."""
        cols = [c for c in self._table.columns if c.startswith("dfbetas_")]
        return self._table[cols].to_numpy()

    @property
    def hat_matrix_diag(self) -> np.ndarray:
        """Hat values (per cluster: the sum over its rows)."""
        return self._table["hat"].to_numpy()

    def plot(self, **kwargs: Any) -> Figure:
        """Index plots of Cook's distance, hat values and DFBETAS.

        Parameters
        ----------
        **kwargs
            ``figsize``; see :func:`metamodels.diagnostics.influence_plots.mixed_influence_plot`.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from .influence_plots import mixed_influence_plot
        return mixed_influence_plot(self, **kwargs)


def _full_cov_beta(results, theta):
    from ..core.likelihood import evaluate
    m = results.model
    return evaluate(theta, m.endog, m.exog, m.spec, reml=False).cov_beta


def mixed_hat_values(results):
    """Diagonal of ``X(X'M^{-1}X)^{-1}X'M^{-1}`` of a MetaMixed fit."""
    from ..base.results import block_solve
    m = results.model
    theta = np.asarray(results.theta, dtype=float)
    C = np.asarray(results._ev.cov_beta, dtype=float)
    X = m.exog
    # row i of M^{-1} X, block by block
    MiX = np.column_stack([block_solve(m.spec, theta, X[:, j]) for j in range(X.shape[1])])
    return np.einsum("ij,jk,ik->i", X, C, MiX)


def get_influence(results: MetaResults | MetaMixedResults, cluster: ArrayLike | None = None,
                  reestimate: bool = True) -> MetaInfluence | MetaMixedInfluence:
    """Influence diagnostics of a fitted meta-analysis (metafor's ``influence``).

    Leave-one-out diagnostics in the manner of statsmodels' ``OLSInfluence``:
    externally studentised residuals, DFFITS, Cook's distances, covariance ratios,
    DFBETAS, leave-one-out tau^2 and Q, hat values and weights (Viechtbauer and Cheung
    2010).  Also available as ``results.get_influence()``.

    Parameters
    ----------
    results : MetaResults or MetaMixedResults
        A :class:`~metamodels.MetaFixed`, :class:`~metamodels.MetaRandom` or
        :class:`~metamodels.MetaMixed` fit.
    cluster : array_like, optional
        MetaMixed only: one label per row; whole clusters are deleted at a time.
    reestimate : bool, default True
        MetaMixed only: re-estimate the variance components after each deletion
        (metafor's default); else keep them at the full fit's values.

    Returns
    -------
    MetaInfluence or MetaMixedInfluence
        ``summary_frame()`` gives the table, ``plot()`` the index plots; the formulas
        are in the Notes of :class:`MetaInfluence` and :class:`MetaMixedInfluence`.

    Raises
    ------
    ValueError
        ``cluster`` with a univariate model, or of the wrong length.
    TypeError
        ``results`` is not a MetaFixed, MetaRandom or MetaMixed fit.

    See Also
    --------
    leave_one_out, baujat_plot

    References
    ----------
    .. [1] Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence
       diagnostics for meta-analysis. *Research Synthesis Methods*, 1(2), 112-125.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> infl = mm.diagnostics.get_influence(res)
    >>> print(infl.summary_frame()[["rstudent", "cooks_d", "hat"]].round(3).head(3))
       rstudent  cooks_d    hat
    0    -0.218    0.002  0.051
    1    -1.292    0.113  0.064
    2    -0.755    0.026  0.044
    >>> print(infl.is_influential.any())
    False
    """
    if hasattr(results.model, "vi") and hasattr(results, "_fit"):
        if cluster is not None:
            raise ValueError("cluster= applies to MetaMixed fits; a univariate model has one "
                             "row per study")
        return MetaInfluence(results)
    if hasattr(results.model, "spec") and hasattr(results.model, "known"):
        return MetaMixedInfluence(results, cluster=cluster, reestimate=reestimate)
    raise TypeError(f"get_influence is not available for {type(results).__name__}")
