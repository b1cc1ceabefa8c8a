"""Shared data handling for meta-analytic models on statsmodels' LikelihoodModel."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from statsmodels.base.data import ModelData
from statsmodels.base.model import LikelihoodModel

from ..exceptions import SpecificationError
from ..formula.checks import (checked_rank, numeric_matrix, numeric_vector, reject_infinite,
                              require_rows, row_index)
from .formula import formula_rows, warn_dropped
from .pickling import FormulaPickleMixin

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["MetaModelBase", "resolve_column"]


def resolve_column(value, data, name, what="values"):
    """A keyword that may be a column name of ``data`` or an array: a float vector, with
    missing values as NaN.  Text cells and infinite values raise a SpecificationError
    naming the column and the rows (infinite values are not missing values)."""
    if isinstance(value, str):
        if data is None or value not in data:
            raise ValueError(f"{name}={value!r} is not a column of the data")
        col = data[value]
        arr = numeric_vector(col, f"column {value!r} ({name})")
        reject_infinite(arr, f"column {value!r} ({name})", col.index, what)
        return arr
    if value is None:
        raise ValueError(f"{name} is required")
    arr = numeric_vector(value, name)
    reject_infinite(arr, name, row_index(value), what)
    return arr


def _check_method(value, valid, what):
    if type(value) is str and value in valid:     # already canonical: no table
        return value
    key = str(value).upper()
    table = {v.upper(): v for v in valid}
    if key not in table:
        raise ValueError(f"unknown {what} {value!r}; valid values are {', '.join(valid)}")
    return table[key]


#: Sampling variances must lie in this range: the estimators use ``(1/v)^3`` (the
#: information of tau^2), which must stay a finite, normal double.
VI_RANGE = (1e-100, 1e100)
#: Largest ratio of sampling variances within one meta-analysis that the single-fit tau^2
#: kernel evaluates accurately (its cross-products lose all digits near 1e18).
VI_SPREAD = 1e15


class MetaModelBase(FormulaPickleMixin, LikelihoodModel):
    """Common constructor of univariate meta-analytic models.

    Parameters
    ----------
    endog : array_like
        Observed effect sizes ``y_i`` (k,).
    vi : array_like
        Known sampling variances ``v_i`` (k,), strictly positive.
    exog : array_like, optional
        Moderator design matrix (k, p); an intercept-only model when omitted.
    missing : {"none", "drop", "raise"}
        As in statsmodels: ``"drop"`` removes rows with a missing value in ``endog``,
        ``exog`` or ``vi`` (with a :class:`MissingDataWarning`), ``"raise"`` raises.
        ``"none"`` performs no dropping and raises if a value is missing.
    """

    _min_studies = 1
    design_info = None  # set by from_formula
    formula = None

    def __init__(self, endog: ArrayLike, vi: ArrayLike, exog: ArrayLike | None = None,
                 missing: Literal["none", "drop", "raise"] = "none",
                 **kwargs: Any) -> None:
        default_exog = exog is None
        n_in = len(endog)
        require_rows(n_in, "endog (the effect sizes)")
        cls = type(self).__name__
        if "weights" in kwargs:
            raise TypeError(f"weights= belongs to {cls}(...).fit(weights=w) (metafor's "
                            "rma(..., weights=w)), not to the model: the model would "
                            "keep it unused")
        vi = numeric_vector(vi, "vi", hint=(
            f"; the second argument of {cls}(endog, vi, exog) is vi, the sampling "
            "variances, not exog as in statsmodels: pass the moderators as exog=X"))
        if vi.shape[0] != n_in:
            raise ValueError(f"vi has {vi.shape[0]} values but there are {n_in} effect "
                             "sizes: lengths must match")
        numeric_vector(endog, "endog")          # text cells: name the rows
        if exog is not None:
            numeric_matrix(exog, "exog")
        if default_exog:
            if isinstance(endog, (pd.Series, pd.DataFrame)):
                exog = pd.DataFrame({"Intercept": np.ones(n_in)}, index=endog.index)
            else:
                exog = np.ones((n_in, 1))
        elif len(exog) != n_in:
            raise ValueError(f"exog has {len(exog)} rows but there are {n_in} effect sizes")
        if missing not in ("none", "drop", "raise"):
            raise ValueError(f"missing must be 'none', 'drop' or 'raise', got {missing!r}")
        if missing == "drop":
            complete = ~np.isnan(np.asarray(endog, dtype=float).reshape(n_in, -1)).any(axis=1)
            complete &= ~np.isnan(vi)
            complete &= ~np.isnan(np.asarray(exog, dtype=float).reshape(n_in, -1)).any(axis=1)
            if not complete.any():
                raise SpecificationError(f"no observations: all {n_in} rows have missing values")
        self._default_exog = default_exog
        super().__init__(endog, exog, missing=missing, vi=vi, **kwargs)
        if default_exog:
            self.data.xnames = ["Intercept"]
        self.vi = np.asarray(self.vi, dtype=float)
        warn_dropped(n_in - self.endog.shape[0], stacklevel=4)
        self._validate()
        del self._default_exog
        self.nobs = float(self.endog.shape[0])
        self.k_params = self.exog.shape[1]
        self.df_model = float(self.k_params - self.k_constant)
        self.df_resid = float(self.endog.shape[0] - self.k_params)

    def _handle_data(self, endog, exog, missing, hasconst, **kwargs):
        """statsmodels' data handling, or for the plain case -- float arrays, the
        default intercept column, no missing-value handling -- the same
        :class:`~statsmodels.base.data.ModelData` built directly (statsmodels' generic
        path detects the constant column and converts the inputs: half the cost of
        constructing a small model)."""
        if (self._default_exog and missing == "none" and hasconst is None
                and type(endog) is np.ndarray and endog.ndim == 1
                and endog.dtype == np.float64 and set(kwargs) == {"vi"}):
            data = ModelData.__new__(ModelData)
            data.__dict__.update(orig_endog=endog, orig_exog=exog, endog=endog, exog=exog,
                                 const_idx=0, k_constant=1, _cache={})
            self.vi = kwargs["vi"]
            return data
        return super()._handle_data(endog, exog, missing, hasconst, **kwargs)

    def _check_finite(self):
        """Infinite values (not missing values: ``missing="drop"`` keeps them) and
        remaining missing values raise, naming the rows."""
        y, v, X = self.endog, self.vi, self.exog
        if np.isfinite(y).all() and np.isfinite(v).all() and np.isfinite(X).all():
            return
        labels = self.data.row_labels
        reject_infinite(y, "endog", labels, "effect sizes")
        reject_infinite(v, "vi", labels, "sampling variances")
        reject_infinite(X, "exog", labels, "moderator values")
        bad = ~np.isfinite(y) | ~np.isfinite(v) | ~np.isfinite(X).all(axis=1)
        rows = np.flatnonzero(bad)[:10] if labels is None else labels[bad][:10]
        raise ValueError(f"effect sizes, vi or moderators have missing values in row(s) "
                         f"{list(rows)}; use missing='drop' to drop those rows")

    def _plain_valid(self, y, v, X):
        """True when the value checks of :meth:`_validate` pass for sure, by four
        reductions: finite sums mean finite values (NaN and inf propagate), and
        ``min v``, ``max v`` (NaN where a value is NaN) inside the accepted range and
        spread; otherwise the detailed checks run and name the problem."""
        vmin, vmax = float(np.minimum.reduce(v)), float(np.maximum.reduce(v))
        return bool(np.isfinite(np.add.reduce(y))
                    and (getattr(self, "_default_exog", False) or np.isfinite(X.sum()))
                    and VI_RANGE[0] <= vmin and vmax <= VI_RANGE[1]
                    and vmax <= VI_SPREAD * vmin)

    def _validate(self):
        y, v, X = self.endog, self.vi, self.exog
        if y.ndim != 1:
            raise ValueError("endog must be one-dimensional (one effect size per row)")
        if not self._plain_valid(y, v, X):
            self._check_values()
        k, p = X.shape
        require_rows(k, "the data after dropping rows with missing values")
        if k < self._min_studies:
            raise ValueError(f"too few studies: {type(self).__name__} needs at least "
                             f"{self._min_studies}, got {k}")
        # the default intercept column has rank 1
        rank = p if getattr(self, "_default_exog", False) else checked_rank(
            X, lambda: self.exog_names, stacklevel=5)
        if rank < p:
            raise SpecificationError("singular design: the moderators are collinear "
                                     f"(rank {rank} < {p} columns)")
        if k <= p:
            raise ValueError(f"too few studies: {k} studies for {p} coefficients "
                             "(need more studies than coefficients)")

    def _check_values(self):
        """Missing, infinite, non-positive, out-of-range or too widely spread values:
        the error naming the rows."""
        y, v = self.endog, self.vi
        self._check_finite()
        if not (v > 0).all():
            bad = np.flatnonzero(v <= 0)
            raise ValueError(f"sampling variances vi must be strictly positive; rows "
                             f"{bad[:10].tolist()} have vi <= 0")
        out = (v < VI_RANGE[0]) | (v > VI_RANGE[1])
        if out.any():
            raise SpecificationError(
                f"sampling variances vi in row(s) {np.flatnonzero(out)[:10].tolist()} lie "
                f"outside [{VI_RANGE[0]:g}, {VI_RANGE[1]:g}] (min {v.min():.3g}, max "
                f"{v.max():.3g}): the weights 1/vi and their powers would overflow double "
                "precision; check the data or rescale the effect sizes (y/c with vi/c^2)")
        if v.max() > VI_SPREAD * v.min():
            raise SpecificationError(
                f"sampling variances span {v.max() / v.min():.3g}-fold (min {v.min():.3g}, "
                f"max {v.max():.3g}), more than {VI_SPREAD:g}-fold: the likelihood at "
                "small tau^2 cannot be evaluated accurately in double precision by the "
                "single-fit kernel; check the data (mm.batch.meta_analyze handles such rows)")

    @classmethod
    def from_formula(cls, formula: str, data: pd.DataFrame, vi: str | ArrayLike,
                     subset: Any = None, missing: Literal["drop", "raise"] = "drop",
                     eval_env: int = 0, **kwargs: Any) -> MetaModelBase:
        """Build the model from a patsy formula ``"yi ~ x1 + C(group)"``.

        The left-hand side names the effect sizes, the right-hand side the moderators
        (``"yi ~ 1"``: no moderators), as metafor's ``rma(yi, vi, mods = ~ x1, data=)``.

        Parameters
        ----------
        formula : str
            patsy formula; the intercept is included unless removed with ``- 1``.
        data : pandas.DataFrame
            One row per effect size.
        vi : str or array_like
            Column name of the sampling variances, or an array aligned with ``data``.
        subset : array_like, optional
            Row selection applied to ``data`` first (``data.loc[subset]``).
        missing : {"drop", "raise"}, default "drop"
            Rows with a missing value in the formula variables or ``vi`` are dropped
            (with a :class:`~metamodels.exceptions.MissingDataWarning`) or raise.
        eval_env : int, default 0
            Extra frames above the caller for looking up functions in the formula.
        **kwargs
            Passed to the model's constructor (e.g. ``MetaRandom``'s options).

        Returns
        -------
        MetaModelBase
            A model of the calling class, with ``formula`` and ``design_info`` set (so
            that ``predict`` and ``get_prediction`` accept DataFrames of the moderators).

        Raises
        ------
        ValueError
            ``vi`` not a column of ``data``, of the wrong length, or missing values with
            ``missing="raise"``.
        metamodels.exceptions.SpecificationError
            Text or infinite values in ``vi``, a singular design, or no complete rows.

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                      ci="cpos", di="cneg")
        >>> model = mm.MetaRandom.from_formula("yi ~ ablat", dat, vi="vi")
        >>> model.exog_names
        ['Intercept', 'ablat']
        """
        if subset is not None:
            data = data.loc[subset]
        require_rows(len(data), "data")
        vi_arr = resolve_column(vi, data, "vi", "sampling variances")
        if vi_arr.shape[0] != len(data):
            raise ValueError(f"vi has length {vi_arr.shape[0]} but data has {len(data)} rows")
        rows = formula_rows(formula, data, missing, extra={"vi": vi_arr},
                            eval_env=eval_env + 1)
        design = rows.design
        mod = cls(design.endog, rows.extra["vi"], design.exog, **kwargs)
        mod.formula = formula
        mod.design_info = design.design_info
        mod.data.frame = data
        return mod

    # statsmodels' LikelihoodModel API: the likelihood lives in the engine.
    def loglike(self, params: ArrayLike,
                method: Literal["REML", "ML"] = "REML") -> float:
        """Profiled (RE)ML log-likelihood at the between-study variance ``params = [tau2]``.

        Parameters
        ----------
        params : array_like of length 1 (or a float)
            ``tau^2 >= 0`` (``[0]`` for the fixed-effects model); the coefficients are
            profiled out by GLS.
        method : {"REML", "ML"}, default "REML"
            Restricted or full log-likelihood.

        Returns
        -------
        float
            The profiled log-likelihood.

        Raises
        ------
        ValueError
            ``params`` not one finite non-negative number, or an unknown ``method``.

        Notes
        -----
        With ``V = diag(v_i + tau^2)`` and ``b`` the GLS estimate,
        ``l_ML = -1/2 [k log 2pi + log|V| + r'V^-1 r]`` and
        ``l_REML = -1/2 [(k-p) log 2pi + log|V| + log|X'V^-1 X| + r'V^-1 r]`` (the SAS /
        lme4 convention, without metafor's ``+1/2 log|X'X|``).  At the estimate it equals
        ``results.llf`` of a fit by the same method.

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                      ci="cpos", di="cneg")
        >>> res = mm.MetaRandom.from_formula("yi ~ 1", dat, vi="vi").fit()
        >>> bool(abs(res.model.loglike([res.tau2]) - res.llf) < 1e-10)
        True
        """
        from ..core.likelihood import profiled_llf
        method = _check_method(method, ("REML", "ML"), "method")
        t = np.asarray(params, dtype=float).reshape(-1)
        if t.size != 1 or not np.isfinite(t[0]) or t[0] < 0:
            raise ValueError(f"params must be one non-negative tau^2, got {params!r}")
        v = self.vi + t[0]
        w = 1.0 / v
        X, y = self.exog, self.endog
        xwx = X.T @ (w[:, None] * X)
        b = np.linalg.solve(xwx, X.T @ (w * y))
        r = y - X @ b
        k, p = X.shape
        return float(profiled_llf(k, p, float(np.log(v).sum()),
                                  float(np.linalg.slogdet(xwx)[1]), float(r @ (w * r)),
                                  method == "REML"))
