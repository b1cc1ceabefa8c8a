"""LocationScaleMeta: meta-regression of the mean and of log(tau)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Sequence

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

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .results import LocationScaleResults

__all__ = ["LocationScaleMeta"]


class LocationScaleMeta(EngineModelMixin, FormulaPickleMixin, LikelihoodModel):
    """Location-scale meta-analysis: a regression for the mean and one for log(tau).

    The heterogeneity of the effect sizes gets its own regression: each effect size has
    its own between-study SD ``tau_i`` with ``log(tau_i)`` linear in the scale moderators
    (metafor's ``rma(yi, vi, mods = ~ x, scale = ~ z)``).  Optionally a study-level
    (group) random effect is added whose log-SD has a regression of its own on
    group-level variables.  Known sampling variances ``vi`` or a known sampling
    covariance ``V`` (dense, sparse or a list of per-study blocks, never densified) are
    given.  Most users build the model with :meth:`from_formula`.

    Parameters
    ----------
    endog : array_like
        Effect sizes ``y_i``, shape ``(n,)``.
    exog : array_like
        Location design ``X``, shape ``(n, p)`` (include the intercept column).
    exog_scale : array_like
        Design ``Z`` of ``log(tau_i)``, shape ``(n, qa)`` (a column of ones for a constant
        heterogeneity).
    vi : array_like, optional
        Known sampling variances ``v_i`` (``(n,)``, positive).  Give ``vi`` or ``V``.
    V : array_like, scipy.sparse matrix or list of arrays, optional
        Known sampling covariance ``S``: an ``(n, n)`` dense or sparse matrix, or a list of
        square blocks (one per independent study, in row order).
    groups : array_like, optional
        Group (study) labels, ``(n,)``, of an extra random effect ``u_g`` shared by the
        rows of a group.  Default None: no group effect.
    exog_group_scale : array_like, optional
        Design ``W`` of ``log(omega_g)``, shape ``(n, qc)``; must be constant within each
        group.  Needs ``groups``; default: a constant ``omega``.
    scale_names : list of str, optional
        Names of the columns of ``exog_scale`` (default ``z0, z1, ...``); the parameters
        are labelled ``scale:<name>``.
    group_scale_names : list of str, optional
        Names of the columns of ``exog_group_scale`` (default ``w0, w1, ...``), labelled
        ``group_scale:<name>``.
    weights : array_like, optional
        Likelihood weights, ``(n,)``, positive: the log-likelihood contribution of each
        independent unit is multiplied by its weight (constant within units).  Weights
        are *not* variances: ``weights=2`` counts a study twice (as if duplicated) and
        leaves its sampling variance unchanged, whereas halving ``vi`` would claim it is
        twice as precise and change the heterogeneity it implies.
    **kwargs
        Passed to :class:`statsmodels.base.model.LikelihoodModel` (e.g. ``hasconst``).

    Raises
    ------
    ValueError
        Missing values in the arrays (use :meth:`from_formula` with ``missing="drop"``),
        a group scale design not constant within groups, ``exog_group_scale`` without
        ``groups``, invalid weights, or too few effect sizes for the coefficients.
    metamodels.exceptions.SpecificationError
        A singular location or scale design (collinear columns).

    See Also
    --------
    LocationScaleMeta.from_formula : build the model from formulas.
    metamodels.locscale.LocationScaleResults : the results of :meth:`fit`.
    BivariateLocationScaleMeta : two outcomes with their own scale models.
    MetaRandom : the constant-heterogeneity special case.

    Notes
    -----
    The model for effect size ``i`` in group ``g(i)`` is

    .. math::

        y_i = x_i'b + u_{g(i)} + e_i + s_i, \\quad s \\sim N(0, S), \\quad
        e_i \\sim N(0, \\tau_i^2), \\ \\log\\tau_i = z_i'a, \\quad
        u_g \\sim N(0, \\omega_g^2), \\ \\log\\omega_g = w_g'c,

    so that without groups and with a diagonal ``S``,
    ``y_i ~ N(x_i'b, v_i + tau_i^2)``.  The marginal covariance
    ``V = S + diag(tau_i^2) + sum_g omega_g^2 J_g`` is block diagonal over independent
    units.

    metafor's ``rma(scale = ~ z)`` models ``log(tau^2) = z'alpha``, so ``a = alpha / 2``
    (and ``exp(a)`` is the multiplicative effect on tau).  Fitting is profiled ML or REML
    on the shared engine (Newton with the analytic observed information, second
    derivatives included); the location coefficients are profiled out by GLS.  The
    model and its parametrisation follow Viechtbauer & López-López [1]_.

    References
    ----------
    .. [1] Viechtbauer, W., & López-López, J. A. (2022). Location-scale models for
       meta-analysis. Research Synthesis Methods, 13(6), 697-715.

    Examples
    --------
    Writing-to-learn interventions (Bangert-Drowns et al. 2004): does the heterogeneity
    shrink with the sample size?

    >>> import numpy as np
    >>> import metamodels as mm
    >>> dat = mm.datasets.load("bangertdrowns2004")
    >>> dat["lni"] = np.log(dat["ni"])
    >>> model = mm.LocationScaleMeta.from_formula("yi ~ meta", dat, vi="vi",
    ...                                           scale_formula="~ lni")
    >>> res = model.fit(method="REML")
    >>> print(res.params.round(4))
    Intercept          0.0946
    meta               0.1861
    scale:Intercept    0.4055
    scale:lni         -0.4173
    dtype: float64
    """

    def __init__(self, endog: ArrayLike, exog: ArrayLike, exog_scale: ArrayLike,
                 vi: ArrayLike | None = None, V: Any = None, groups: ArrayLike | None = None,
                 exog_group_scale: ArrayLike | None = None,
                 scale_names: Sequence[str] | None = None,
                 group_scale_names: Sequence[str] | None = None,
                 weights: ArrayLike | None = None, **kwargs: Any) -> None:
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
    def from_formula(cls, formula: str, data: pd.DataFrame,
                     vi: str | ArrayLike | None = None, V: Any = None,
                     scale_formula: str = "~ 1", groups: str | None = None,
                     group_scale_formula: str | None = None,
                     weights: str | ArrayLike | None = None,
                     subset: Any = None, missing: Literal["drop", "raise"] = "drop",
                     **kwargs: Any) -> LocationScaleMeta:
        """Build the model from a formula for the mean and one for ``log(tau)``.

        Parameters
        ----------
        formula : str
            patsy formula of the effect sizes and the location moderators,
            e.g. ``"yi ~ habitat + duration"``.
        data : pandas.DataFrame
            One row per effect size.
        vi : str or array_like, optional
            Column name of the sampling variances, or an array aligned with ``data``.
            Give ``vi`` or ``V``.
        V : array_like, scipy.sparse matrix or list of arrays, optional
            Known sampling covariance of all rows of ``data`` (``(n, n)`` dense or sparse,
            or per-study blocks); rows dropped for missing values are removed from it.
        scale_formula : str, default "~ 1"
            Right-hand side of the ``log(tau)`` regression, e.g. ``"~ habitat"``; the
            default is a constant heterogeneity.
        groups : str, optional
            Column of ``data`` with the group (study) labels of an extra random effect.
        group_scale_formula : str, optional
            Right-hand side of the ``log(omega)`` regression of the group effect, with
            variables constant within groups (needs ``groups``).  Default: constant.
        weights : str or array_like, optional
            Likelihood weights (column name or array), see :class:`LocationScaleMeta`.
        subset : array_like, optional
            Row selection applied to ``data`` first (``data.loc[subset]``).
        missing : {"drop", "raise"}, default "drop"
            Rows with a missing value in any formula variable, ``vi``, the weights or the
            groups are dropped (with a
            :class:`~metamodels.exceptions.MissingDataWarning`) or raise.
        **kwargs
            Passed to the constructor.

        Returns
        -------
        LocationScaleMeta
            The model; ``formula``, ``design_info``, ``scale_design_info`` and
            ``n_dropped`` are set, and ``data.frame`` holds the rows used.

        Raises
        ------
        ValueError
            ``groups`` not a column of ``data``, ``weights`` of the wrong length, or
            the errors of the constructor.
        metamodels.exceptions.SpecificationError
            A singular location or scale design.

        See Also
        --------
        LocationScaleMeta.fit

        Examples
        --------
        >>> import metamodels as mm
        >>> df = mm.datasets.load("konstantopoulos2011")
        >>> model = mm.LocationScaleMeta.from_formula("yi ~ 1", df, vi="vi",
        ...                                           groups="district")
        >>> model.fit().param_names
        ['Intercept', 'scale:Intercept', 'group_scale:Intercept']
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
                  group_scale_names=(["Intercept"] if groups is not None else None)
                  if Wg is None else list(Wg.columns),
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

    def fit(self, method: Literal["REML", "ML"] = "REML",
            start: ArrayLike | None = None, tol: float = 1e-10,
            maxiter: int = 200) -> LocationScaleResults:
        """Fit by profiled REML (default) or ML.

        The log-likelihood, profiled over the location coefficients, is maximised over
        the scale coefficients by Newton steps on the analytic observed information
        (:func:`metamodels.core.optimize.maximize`: should the solution lie on a bound,
        the search is repeated from ``start`` and from a start with ``tau`` doubled, and
        the highest likelihood kept).  The model is not modified.

        Parameters
        ----------
        method : {"REML", "ML"}, default "REML"
            Restricted or full maximum likelihood (metafor's ``method="REML"``/``"ML"``).
            Compare models differing in their location moderators with ML fits.
        start : array_like, optional
            Starting values of the scale coefficients (``a`` then ``c``, in the order of
            ``model.spec.param_names``).  Default: the log of the DerSimonian-Laird
            ``tau`` in the first scale coefficient (with groups, ``tau^2`` split evenly
            between ``tau`` and ``omega``), other coefficients 0.
        tol : float, default 1e-10
            Convergence tolerance of the optimiser.
        maxiter : int, default 200
            Maximum number of Newton/scoring iterations.

        Returns
        -------
        LocationScaleResults
            Estimates, standard errors, ``tau``, predictions and ``check()``.

        Raises
        ------
        ValueError
            Unknown ``method`` or ``start`` of the wrong length.

        Warns
        -----
        metamodels.exceptions.ConvergenceWarning
            The optimiser stopped before converging.
        metamodels.exceptions.BoundaryWarning
            A parameter ended on a bound of its space.

        Examples
        --------
        >>> import numpy as np
        >>> import metamodels as mm
        >>> dat = mm.datasets.load("bangertdrowns2004")
        >>> dat["lni"] = np.log(dat["ni"])
        >>> model = mm.LocationScaleMeta.from_formula("yi ~ 1", dat, vi="vi",
        ...                                           scale_formula="~ lni")
        >>> res = model.fit(method="ML")
        >>> print(res.sd_ratios.round(3))
        scale:Intercept    2.382
        scale:lni          0.599
        dtype: float64
        """
        from .results import LocationScaleResults, LocationScaleResultsWrapper
        method = _check_method(method, ("REML", "ML"), "method")
        start = check_start(self.spec, self._start() if start is None else start)
        alt = start.copy()
        alt[0] += np.log(2.0)
        out = engine_fit(self.endog, self.exog, self.spec, start, method, tol, maxiter,
                         restarts=[alt], stacklevel=2)
        return LocationScaleResultsWrapper(LocationScaleResults(self, out, method))

