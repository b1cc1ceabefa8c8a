"""LocationScaleMeta: meta-regression of the mean and of log(tau)."""
from __future__ import annotations


import numpy as np
import pandas as pd
import patsy
from statsmodels.base.model import LikelihoodModel

from ..base.engine import EngineModelMixin, check_start, engine_fit
from ..base.formula import formula_rows
from ..base.pickling import FormulaPickleMixin
from ..base.model import _check_method, resolve_column
from ..core.known import KnownCovariance
from ..core.scalar import DiagonalTau2
from ..exceptions import SpecificationError
from .covariance import LocationScaleCovariance

__all__ = ["LocationScaleMeta"]


class LocationScaleMeta(EngineModelMixin, FormulaPickleMixin, LikelihoodModel):
    """Location-scale meta-analysis (heterogeneity modelled by its own regression).

    Parameters
    ----------
    endog : (n,) effect sizes
    exog : (n, p) location design
    exog_scale : (n, qa) design of ``log(tau)``
    vi, V : known sampling variances or covariance (dense, sparse or blocks)
    groups : (n,) array, optional
        Study (group) labels of an extra random effect ``u_g``.
    exog_group_scale : (n, qc) array, optional
        Design of ``log(omega_g)``; must be constant within each group.

    weights : (n,) array, optional
        Likelihood weights: the log-likelihood contribution of each independent unit is
        multiplied by its weight (constant within units).  Weights are *not* variances:
        ``weights=2`` counts a study twice (as if duplicated) and leaves its sampling
        variance unchanged, whereas halving ``vi`` would claim it is twice as precise and
        change the heterogeneity it implies.

    Notes
    -----
    .. math::

        y_i = x_i'b + u_{g(i)} + e_i + s_i, \\quad s \\sim N(0, S), \\quad
        e_i \\sim N(0, \\tau_i^2), \\ \\log\\tau_i = z_i'a, \\quad
        u_g \\sim N(0, \\omega_g^2), \\ \\log\\omega_g = w_g'c.

    metafor's ``rma(scale=)`` models ``log(tau^2) = z'alpha``, so ``a = alpha / 2``.
    Fitting is profiled ML or REML on the shared engine (Newton with the analytic
    observed information, second derivatives included).
    """

    def __init__(self, endog, exog, exog_scale, vi=None, V=None, groups=None,
                 exog_group_scale=None, scale_names=None, group_scale_names=None,
                 weights=None, **kwargs):
        n = len(endog)
        known = KnownCovariance.from_input(n, vi=vi, V=V)
        super().__init__(endog, exog, missing="none", **kwargs)
        known.validate()
        Zs = np.asarray(exog_scale, dtype=float).reshape(n, -1)
        y, X = self.endog, self.exog
        for name, arr in (("effect sizes", y), ("location moderators", X), ("scale moderators", Zs)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contain missing values; use from_formula(..., "
                                 "missing='drop')")
        for name, A in (("location", X), ("scale", Zs)):
            if np.linalg.matrix_rank(A) < A.shape[1]:
                raise SpecificationError(f"singular {name} design: its columns are collinear")
        g_codes, Ws = None, None
        if groups is not None:
            g_codes, _ = pd.factorize(pd.Series(np.asarray(groups)), sort=True)
            W = np.ones((n, 1)) if exog_group_scale is None else \
                np.asarray(exog_group_scale, dtype=float).reshape(n, -1)
            n_g = int(g_codes.max()) + 1
            Ws = np.zeros((n_g, W.shape[1]))
            Ws[g_codes] = W
            if not np.allclose(Ws[g_codes], W):
                raise ValueError("the group scale formula must be constant within each group")
        elif exog_group_scale is not None:
            raise ValueError("exog_group_scale / group_scale_formula needs groups=")
        if n <= X.shape[1] + Zs.shape[1]:
            raise ValueError(f"too few effect sizes ({n}) for {X.shape[1]} location and "
                             f"{Zs.shape[1]} scale coefficients")
        self.known = known
        self.exog_scale = Zs
        self.group_codes = g_codes
        self.scale_names = list(scale_names or [f"z{i}" for i in range(Zs.shape[1])])
        self.group_scale_names = [] if Ws is None else list(
            group_scale_names or [f"w{i}" for i in range(Ws.shape[1])])
        self.spec = LocationScaleCovariance(known, Zs, g_codes, Ws, self.scale_names,
                                            self.group_scale_names)
        self.weights = None
        if weights is not None:
            w = np.asarray(weights, dtype=float).ravel()
            if w.shape[0] != n or not np.all(np.isfinite(w)) or np.any(w <= 0):
                raise ValueError("weights must be positive finite numbers, one per effect size")
            blocks = [w[rows] for rows in self.spec.layout.groups]
            if any(np.ptp(b, axis=1).max() > 0 for b in blocks if b.shape[1] > 1):
                raise ValueError("weights must be constant within each independent unit "
                                 "(rows linked by V or by groups)")
            self.spec.block_weights = [b[:, 0] for b in blocks]
            self.weights = w
        self.data.param_names = list(self.exog_names) + list(self.spec.param_names)
        self.nobs = float(n)
        self.k_location = X.shape[1]
        self.df_resid = float(n - X.shape[1])
        self.df_model = float(X.shape[1] - self.k_constant)
        self.n_dropped = 0

    design_info = None
    scale_design_info = None
    formula = None

    @classmethod
    def from_formula(cls, formula, data, vi=None, V=None, scale_formula="~ 1", groups=None,
                     group_scale_formula=None, weights=None, subset=None, missing="drop",
                     **kwargs):
        """Build from ``"yi ~ habitat + duration"`` with ``scale_formula="~ habitat"``.

        ``groups`` names a column (study-level random effect); ``group_scale_formula``
        models its log-SD with study-level variables.
        """
        if subset is not None:
            data = data.loc[subset]
        data = pd.DataFrame(data)
        n_all = len(data)
        if isinstance(vi, str):
            vi = resolve_column(vi, data, "vi")
        known = KnownCovariance.from_input(n_all, vi=vi, V=V)
        rhs = scale_formula.split("~", 1)[-1]
        grhs = None if group_scale_formula is None else group_scale_formula.split("~", 1)[-1]
        if isinstance(weights, str):
            weights = resolve_column(weights, data, "weights")
        # rows complete for the scale formulas, the known variances and the weights
        bad = ~np.isfinite(known.diagonal())
        if weights is not None:
            weights = np.asarray(weights, dtype=float)
            if weights.shape[0] != n_all:
                raise ValueError(f"weights has length {weights.shape[0]} but data has {n_all} rows")
            bad |= ~np.isfinite(weights)
        positional = data.reset_index(drop=True)
        for f in [rhs] + ([grhs] if grhs else []):
            mf = patsy.dmatrix(f, positional, NA_action="drop", return_type="dataframe")
            ok = np.zeros(n_all, dtype=bool)
            ok[np.asarray(mf.index, dtype=np.int64)] = True
            bad |= ~ok
        if groups is not None:
            if groups not in data:
                raise ValueError(f"groups={groups!r} is not a column of the data")
            bad |= data[groups].isna().to_numpy()
        rows = formula_rows(formula, data, missing, bad, eval_env=1,
                            what="the scale formulas, sampling variances, weights or groups")
        design, kept, keep, n_drop = rows.design, rows.data, rows.keep, rows.n_dropped
        Zs = patsy.dmatrix(rhs, kept, return_type="dataframe")
        Wg = None if grhs is None else patsy.dmatrix(grhs, kept, return_type="dataframe")
        mod = cls(design.endog, design.exog, Zs.to_numpy(),
                  vi=None, V=known.subset(keep) if n_drop else known,
                  groups=None if groups is None else kept[groups].to_numpy(),
                  exog_group_scale=None if Wg is None else Wg.to_numpy(),
                  scale_names=list(Zs.columns),
                  group_scale_names=None if Wg is None else list(Wg.columns),
                  weights=None if weights is None else weights[keep], **kwargs)
        mod.formula = formula
        mod.design_info = design.design_info
        mod.scale_design_info = Zs.design_info
        mod.group_scale_design_info = None if Wg is None else Wg.design_info
        mod.data.frame = kept
        mod.n_dropped = n_drop
        return mod

    def _start(self):
        y, X, v = self.endog, self.exog, self.known.diagonal()
        tau2 = max(DiagonalTau2(y, v, X).dersimonian_laird(), 1e-4 * float(np.var(y)) + 1e-8)
        a = np.zeros(self.spec.qa)
        share = 0.5 if self.spec.qc else 1.0
        a[0] = 0.5 * np.log(share * tau2)
        c = np.zeros(self.spec.qc)
        if self.spec.qc:
            c[0] = 0.5 * np.log(0.5 * tau2)
        return np.concatenate([a, c])

    def fit(self, method="REML", start=None, tol=1e-10, maxiter=200):
        """Fit by REML (default) or ML; returns :class:`LocationScaleResults`."""
        from .results import LocationScaleResults, LocationScaleResultsWrapper
        method = _check_method(method, ("REML", "ML"), "method")
        start = check_start(self.spec, self._start() if start is None else start)
        alt = start.copy()
        alt[0] += np.log(2.0)
        out = engine_fit(self.endog, self.exog, self.spec, start, method, tol, maxiter,
                         restarts=[alt], stacklevel=2)
        return LocationScaleResultsWrapper(LocationScaleResults(self, out, method))

