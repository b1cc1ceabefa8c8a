"""PanelModel: fixed, random, between, pooled and first-difference panel estimators."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from statsmodels.base.model import LikelihoodModel

from ..base.formula import formula_rows, warn_dropped
from ..base.pickling import FormulaPickleMixin
from ..formula.checks import (numeric_matrix, numeric_vector, reject_infinite, require_rows,
                              row_index)
from . import estimators as est

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .results import PanelResults

__all__ = ["PanelModel", "EFFECTS", "RE_METHODS"]

EFFECTS = ("fixed", "twoway", "random", "between", "pooled", "first-difference", "time",
           "random-time")
RE_METHODS = ("swar", "ml", "reml")
COV_TYPES = ("nonrobust", "cluster")

_EFFECT_ALIASES = {
    "fe": "fixed", "within": "fixed", "individual": "fixed", "entity": "fixed",
    "twoways": "twoway", "two-way": "twoway", "two_way": "twoway",
    "period": "time", "time-fixed": "time", "fixed-time": "time",
    "random_time": "random-time", "re-time": "random-time", "time-random": "random-time",
    "re": "random", "be": "between", "pooling": "pooled", "ols": "pooled",
    "fd": "first-difference", "first_difference": "first-difference",
    "firstdifference": "first-difference", "first-differences": "first-difference",
}
_RE_ALIASES = {"swamy-arora": "swar", "swamy_arora": "swar", "sa": "swar"}


def _check_effects(effects):
    key = str(effects).lower()
    key = _EFFECT_ALIASES.get(key, key)
    if key not in EFFECTS:
        raise ValueError(f"unknown effects {effects!r}; valid values are {', '.join(EFFECTS)}")
    return key


def _check_re_method(re_method, effects, arg="method"):
    random = effects in ("random", "random-time")
    if re_method is None:
        return "swar" if random else None
    if not random:
        raise ValueError(f"{arg} applies to effects='random' only (and 'random-time'; got "
                         f"effects={effects!r})")
    key = str(re_method).lower()
    key = _RE_ALIASES.get(key, key)
    if key not in RE_METHODS:
        raise ValueError(f"unknown {arg} {re_method!r}; valid values are "
                         f"{', '.join(RE_METHODS)}")
    return key


def _check_cov(cov_type, cov_kwds, effects):
    key = str(cov_type).lower()
    key = {"clustered": "cluster", "robust": "cluster"}.get(key, key)
    if key not in COV_TYPES:
        raise ValueError(f"unknown cov_type {cov_type!r}; valid values are "
                         f"{', '.join(COV_TYPES)}")
    kw = dict(cov_kwds or {})
    if key == "nonrobust":
        if kw:
            raise ValueError("cov_kwds are only used with cov_type='cluster'")
        return key, {}
    unknown = set(kw) - {"cluster", "correction"}
    if unknown:
        raise ValueError(f"unknown cov_kwds {sorted(unknown)}; valid keys are 'cluster' "
                         "('entity' or 'time') and 'correction' ('HC1', 'HC0', 'sss')")
    cluster = str(kw.get("cluster", "entity")).lower()
    cluster = {"group": "entity", "individual": "entity", "period": "time"}.get(cluster, cluster)
    if cluster not in ("entity", "time"):
        raise ValueError(f"cov_kwds['cluster'] must be 'entity' or 'time', got {cluster!r}")
    corr = str(kw.get("correction", "HC1"))
    table = {c.lower(): c for c in est.CORRECTIONS}
    if corr.lower() not in table:
        raise ValueError(f"cov_kwds['correction'] must be one of {', '.join(est.CORRECTIONS)}, "
                         f"got {corr!r}")
    if effects == "between":
        raise ValueError("cluster-robust covariance is not available for the between "
                         "estimator (one observation per entity)")
    return key, {"cluster": cluster, "correction": table[corr.lower()]}


def _factorize(values):
    s = pd.Series(np.asarray(values, dtype=object) if not isinstance(values, pd.Series)
                  else values.to_numpy())
    try:
        codes, uniques = pd.factorize(s, sort=True)
    except TypeError:            # labels of mixed types cannot be sorted
        codes, uniques = pd.factorize(s, sort=False)
    return np.asarray(codes, dtype=np.int64), pd.Index(uniques)


def _take(obj, keep):
    if isinstance(obj, (pd.Series, pd.DataFrame)):
        return obj.iloc[np.flatnonzero(keep)]
    return np.asarray(obj)[keep]


def _labels_array(values, n, what):
    if values is None:
        return None
    arr = values.to_numpy() if isinstance(values, (pd.Series, pd.Index)) else np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{what} must be one-dimensional with one label per row ({n} rows), "
                         f"got shape {arr.shape}")
    return arr


class PanelModel(FormulaPickleMixin, LikelihoodModel):
    """Linear panel-data model ``y_it = x_it'b + u_i + e_it`` with a choice of estimators.

    The model holds the data; :meth:`fit` chooses the estimator (fixed, two-way, time,
    random, random-time, between, pooled or first-difference), as R's ``plm(...,
    model=)``.  Most users build it with :meth:`from_formula`.

    Parameters
    ----------
    endog : array_like (n,)
        Response ``y_it``.
    exog : array_like (n, p)
        Regressors including the intercept column (formulas add it).
    entity : array_like (n,)
        Entity (cross-section unit) label of each row.
    time : array_like (n,), optional
        Period label of each row; when omitted the rows of an entity are taken as
        consecutive periods in the order given.
    missing : {"none", "drop", "raise"}
        ``"drop"`` removes rows with a missing or non-finite value (in ``endog``, ``exog``,
        ``entity`` or ``time``) with a :class:`~metamodels.exceptions.MissingDataWarning`;
        otherwise such rows raise.
    **kwargs
        Passed to :class:`statsmodels.base.model.LikelihoodModel`.

    Raises
    ------
    ValueError
        Rows of different lengths, missing values (without ``missing="drop"``), fewer
        than two entities, or duplicate (entity, period) pairs.

    See Also
    --------
    PanelModel.fit : the estimators.
    metamodels.panel.hausman : the Hausman test of fixed against random effects.
    metamodels.panel.compare : side-by-side tables.
    MixedModel : the random-intercept model by (RE)ML.

    Notes
    -----
    With entities ``i = 1..N`` observed ``T_i`` times (``n = sum T_i``) the error-components
    model is

    .. math::

        y_{it} = \\alpha + x_{it}'\\beta + u_i + e_{it}, \\quad
        e_{it} \\sim (0, \\sigma^2_e), \\quad u_i \\sim (0, \\sigma^2_u).

    Every estimator is least squares on transformed data (``fit(effects=...)``):

    * ``"fixed"`` (within): ``y_it - ybar_i`` on ``x_it - xbar_i``; ``u_i`` are free
      parameters, ``df = n - N - K``.  ``"twoway"`` also sweeps out period effects
      ``lambda_t`` (exactly, by Frisch-Waugh-Lovell, also for unbalanced panels).
      ``"time"``: period effects only, ``y_it - ybar_t`` on ``x_it - xbar_t``,
      ``df = n - T - K`` (plm's ``effect="time"``).
    * ``"random"``: GLS with ``u_i`` random and uncorrelated with ``x``, i.e. OLS of
      ``y_it - theta_i ybar_i`` on ``x_it - theta_i xbar_i`` (the intercept column becomes
      ``1 - theta_i``) with ``theta_i = 1 - sqrt(sigma2_e / (T_i sigma2_u + sigma2_e))``.
      The variance components come from Swamy-Arora (``method="swar"``, plm's default,
      including its unbalanced-panel version) or from maximum likelihood (``"ML"``,
      ``"REML"``: the random-intercept :class:`~metamodels.MixedModel`
      ``y ~ x + (1 | entity)``).
    * ``"random-time"``: random period effects ``lambda_t`` instead of entity effects,
      the same estimators with entities and periods exchanged (``theta_t``, Swamy-Arora
      or ML/REML of ``y ~ x + (1 | period)``; plm's ``model="random", effect="time"``).
    * ``"between"``: OLS of the entity means ``ybar_i`` on ``xbar_i`` (N rows).
    * ``"pooled"``: OLS ignoring the panel structure.
    * ``"first-difference"``: OLS of ``y_it - y_i,t-1`` on ``x_it - x_i,t-1`` between
      consecutive available periods of each entity; an intercept becomes the constant of
      the differenced equation (a linear trend in levels), as in plm.

    The estimators and their R counterparts follow Croissant & Millo [1]_; the Hausman
    test is that of Hausman [2]_ and the Swamy-Arora variance components those of [3]_.

    References
    ----------
    .. [1] Croissant, Y., & Millo, G. (2008). Panel data econometrics in R: The plm
       package. Journal of Statistical Software, 27(2), 1-43.
    .. [2] Hausman, J. A. (1978). Specification tests in econometrics. Econometrica,
       46(6), 1251-1271.
    .. [3] Swamy, P. A. V. B., & Arora, S. S. (1972). The exact finite sample properties
       of the estimators of coefficients in the error components regression models.
       Econometrica, 40(2), 261-275.

    Examples
    --------
    >>> import metamodels as mm
    >>> from metamodels.panel import PanelModel, hausman
    >>> df = mm.datasets.load("grunfeld")
    >>> m = PanelModel.from_formula("inv ~ value + capital", df, entity="firm", time="year")
    >>> fe, re = m.fit(effects="fixed"), m.fit(effects="random")
    >>> round(hausman(fe, re).statistic, 4)
    2.3304
    """

    design_info = None
    formula = None

    def __init__(self, endog: ArrayLike, exog: ArrayLike, entity: ArrayLike,
                 time: ArrayLike | None = None,
                 missing: Literal["none", "drop", "raise"] = "none", **kwargs: Any) -> None:
        if missing not in ("none", "drop", "raise"):
            raise ValueError(f"missing must be 'none', 'drop' or 'raise', got {missing!r}")
        if exog is None:
            raise ValueError("exog is required (include a column of ones for an intercept)")
        n = len(endog)
        if len(exog) != n:
            raise ValueError(f"exog has {len(exog)} rows but endog has {n}")
        ent = _labels_array(entity, n, "entity")
        tim = _labels_array(time, n, "time")
        self.entity_name = getattr(entity, "name", None) or "entity"
        self.time_name = (getattr(time, "name", None) or "time") if time is not None else "period"
        require_rows(n, "endog")
        y_a = numeric_vector(endog, "endog")
        X_a = numeric_matrix(exog, "exog")
        reject_infinite(y_a, "endog", row_index(endog), "outcome values")
        reject_infinite(X_a, "exog", row_index(endog), "regressor values")
        if X_a.ndim == 1:
            X_a = X_a[:, None]
        bad = ~np.isfinite(y_a) | ~np.all(np.isfinite(X_a), axis=1) | pd.isna(ent)
        if tim is not None:
            bad |= pd.isna(tim)
        if bad.any():
            if missing != "drop":
                raise ValueError(f"{int(bad.sum())} row(s) have missing or non-finite values in "
                                 "endog, exog, entity or time; use missing='drop' to drop them")
            keep = ~bad
            endog, exog, ent = _take(endog, keep), _take(exog, keep), ent[keep]
            tim = tim[keep] if tim is not None else None
            warn_dropped(int(bad.sum()), stacklevel=3)
        super().__init__(endog, exog, missing="none", **kwargs)
        if self.endog.ndim != 1:
            raise ValueError("endog must be one-dimensional")
        self.entity_codes, self.entity_labels = _factorize(ent)
        if tim is None:
            self.time_codes = pd.Series(self.entity_codes).groupby(self.entity_codes) \
                .cumcount().to_numpy().astype(np.int64)
            self.time_labels = pd.RangeIndex(int(self.time_codes.max()) + 1 if n else 0)
        else:
            self.time_codes, self.time_labels = _factorize(tim)
        self._validate_panel()
        self._full_names = tuple(self.exog_names)   # result views relabel exog_names
        self.nobs = float(self.endog.shape[0])
        self.n_entities = len(self.entity_labels)
        self.n_periods = len(self.time_labels)
        self.entity_sizes = np.bincount(self.entity_codes, minlength=self.n_entities)
        self.balanced = bool(np.all(self.entity_sizes == self.n_periods))
        self.df_model = float(self.exog.shape[1] - self.k_constant)
        self.df_resid = float(self.nobs - self.exog.shape[1])

    def _validate_panel(self):
        e, t = self.entity_codes, self.time_codes
        n_ent = int(e.max()) + 1 if e.size else 0
        if n_ent < 2:
            raise ValueError(f"a panel needs at least 2 entities; got {n_ent}"
                             + (f" ({self.entity_labels[0]!r})" if n_ent else ""))
        key = e * (int(t.max()) + 1) + t
        dup = pd.Series(key).duplicated(keep="first").to_numpy()
        if dup.any():
            pairs = sorted({(self.entity_labels[a], self.time_labels[b])
                            for a, b in zip(e[dup], t[dup])}, key=str)
            shown = ", ".join(f"({a!r}, {b!r})" for a, b in pairs[:5])
            more = f" and {len(pairs) - 5} more" if len(pairs) > 5 else ""
            raise ValueError(f"duplicate ({self.entity_name}, {self.time_name}) pairs: {shown}"
                             f"{more}; each entity may have one row per period")

    # ---------------------------------------------------------------- formula
    @classmethod
    def from_formula(cls, formula: str, data: pd.DataFrame, entity: str | ArrayLike,
                     time: str | ArrayLike | None = None, subset: Any = None,
                     missing: Literal["drop", "raise"] = "drop", eval_env: int = 0,
                     **kwargs: Any) -> PanelModel:
        """Build the model from a patsy formula, e.g. ``"inv ~ value + capital"``.

        Parameters
        ----------
        formula : str
            Response and regressors (patsy syntax; an intercept is included unless
            removed with ``- 1``/``0 +``).
        data : pandas.DataFrame
            One row per (entity, period).
        entity : str or array_like
            Column of ``data`` (or an array aligned with it) identifying the entities.
        time : str or array_like, optional
            Column (or array) of the periods.
        subset : array_like, optional
            Row selection applied to ``data`` first.
        missing : {"drop", "raise"}
            Rows with a missing value in a formula variable, ``entity`` or ``time`` are
            dropped with a :class:`~metamodels.exceptions.MissingDataWarning`, or raise.
        eval_env : int, default 0
            Extra frames above the caller for looking up functions in the formula.
        **kwargs
            Passed to the constructor.

        Returns
        -------
        PanelModel
            The model, with ``formula`` and ``design_info`` set.

        Raises
        ------
        ValueError
            ``entity`` or ``time`` not a column of ``data`` (or of the wrong length), and
            the errors of the constructor.

        Examples
        --------
        >>> import metamodels as mm
        >>> df = mm.datasets.load("grunfeld")
        >>> model = mm.PanelModel.from_formula("inv ~ value + capital", df, entity="firm",
        ...                                    time="year")
        >>> model.n_entities, model.n_periods, model.balanced
        (10, 20, True)
        """
        if subset is not None:
            data = data.loc[subset]
        data = pd.DataFrame(data)
        ent, ent_name = cls._column(entity, data, "entity")
        tim, tim_name = (None, None) if time is None else cls._column(time, data, "time")
        bad = np.asarray(pd.isna(ent) | (pd.isna(tim) if tim is not None else False))
        what = "the entity/time column(s)" if tim is not None else "the entity column"
        rows = formula_rows(formula, data, missing, bad, eval_env=eval_env + 1, what=what)
        design, keep = rows.design, rows.keep
        mod = cls(design.endog, design.exog, entity=pd.Series(ent[keep], name=ent_name),
                  time=None if tim is None else pd.Series(tim[keep], name=tim_name), **kwargs)
        mod.formula = formula
        mod.design_info = design.design_info
        mod.data.frame = rows.data
        return mod

    @staticmethod
    def _column(spec, data, what):
        if isinstance(spec, str):
            if spec not in data.columns:
                raise ValueError(f"{what} column {spec!r} not found in data; columns are "
                                 f"{list(data.columns)}")
            return data[spec].to_numpy(), spec
        arr = np.asarray(spec)
        if arr.ndim != 1 or arr.shape[0] != len(data):
            raise ValueError(f"{what} must be a column name of data or an array with one "
                             f"label per row ({len(data)} rows)")
        return arr, getattr(spec, "name", None) or what

    # -------------------------------------------------------------------- fit
    @property
    def _const_idx(self):
        idx = getattr(self.data, "const_idx", None)
        if not self.k_constant or idx is None:
            return None
        return int(np.atleast_1d(idx)[0])

    def fit(self, effects: str = "fixed", method: str | None = None,
            cov_type: Literal["nonrobust", "cluster"] = "nonrobust",
            cov_kwds: dict | None = None, re_method: str | None = None) -> PanelResults:
        """Fit one panel estimator (R's ``plm(..., model=, effect=)``).

        The model is not modified; fit it several times to compare estimators.

        Parameters
        ----------
        effects : str
            ``"fixed"`` (within; entity effects), ``"twoway"`` (entity and period effects),
            ``"time"`` (within; period effects only), ``"random"`` (GLS), ``"random-time"``
            (GLS with random period effects), ``"between"``, ``"pooled"`` or
            ``"first-difference"`` (plm's names ``"within"``, ``"twoways"``,
            ``"pooling"``, ``"fd"`` work too).
        method : {"swar", "ML", "REML"}, optional
            Variance-component estimator of ``effects="random"`` / ``"random-time"``
            (case-insensitive):
            Swamy-Arora (default; plm's ``random.method="swar"``) or (restricted) maximum
            likelihood of the random-intercept :class:`~metamodels.MixedModel`.
        cov_type : {"nonrobust", "cluster"}
            Classical covariance (plm's ``vcov``) or the cluster-robust (Arellano) sandwich
            of the transformed regression.
        cov_kwds : dict, optional
            With ``cov_type="cluster"``: ``cluster`` -- ``"entity"`` (default) or
            ``"time"``; ``correction`` -- ``"HC1"`` (default; ``n/(n - k)``, as plm's
            ``vcovHC(type="HC1")``), ``"HC0"`` (none) or ``"sss"``
            (``G/(G-1) (n-1)/(n-k)``, plm's Stata-like small-sample correction); ``n`` is
            the number of observations of the transformed regression and ``k`` its
            number of coefficients.
        re_method : str, optional
            Former name of ``method`` (deprecated; a DeprecationWarning).

        Returns
        -------
        PanelResults
            Coefficients with t (normal for random effects) inference, variance
            components, R-squared values, ``summary()``.

        Raises
        ------
        ValueError
            An unknown ``effects``, ``method`` or ``cov_type``, ``method`` with a
            non-random estimator, or invalid ``cov_kwds``.

        Examples
        --------
        >>> import metamodels as mm
        >>> df = mm.datasets.load("grunfeld")
        >>> model = mm.PanelModel.from_formula("inv ~ value + capital", df, entity="firm",
        ...                                    time="year")
        >>> fe = model.fit(effects="fixed")
        >>> print(fe.params.round(4))
        value      0.1101
        capital    0.3101
        dtype: float64
        >>> re = model.fit(effects="random", method="swar")
        >>> round(re.theta, 4), round(re.sigma2_entity, 2)
        (0.8612, 7089.8)
        """
        from .results import PanelResults, PanelResultsWrapper
        effects = _check_effects(effects)
        arg = "method"
        if re_method is not None:
            if method is not None:
                raise TypeError("give method= only (re_method= is its deprecated old name)")
            warnings.warn("re_method= is deprecated; use method= (the vocabulary of every "
                          "metamodels fit)", DeprecationWarning, stacklevel=2)
            method, arg = re_method, "re_method"
        re_method = _check_re_method(method, effects, arg)
        cov_type, cov_kwds = _check_cov(cov_type, cov_kwds, effects)
        y, X = self.endog, self.exog
        names = list(self._full_names)
        args = (y, X, names, self._const_idx, self.entity_codes, self.n_entities,
                self.time_codes)
        if effects == "fixed":
            fit = est.fit_within(*args)
        elif effects == "twoway":
            fit = est.fit_twoway(*args, self.n_periods)
        elif effects == "time":
            fit = est.fit_time(*args, self.n_periods)
        elif effects == "random-time":
            fit = est.fit_random_time(*args, self.n_periods, method=re_method)
        elif effects == "between":
            fit = est.fit_between(*args)
        elif effects == "pooled":
            fit = est.fit_pooled(*args)
        elif effects == "first-difference":
            order = np.lexsort((self.time_codes, self.entity_codes))
            fit = est.fit_first_difference(*args, order)
        elif re_method == "swar":
            fit = est.fit_random_swar(*args)
        else:
            fit = est.fit_random_likelihood(*args, reml=re_method == "reml")
        return PanelResultsWrapper(PanelResults(self, fit, cov_type, cov_kwds))

    def loglike(self, params: ArrayLike) -> float:  # pragma: no cover - not applicable
        """Not available: the panel estimators are least squares on transformed data.

        Parameters
        ----------
        params : array_like
            Ignored.

        Raises
        ------
        NotImplementedError
            Always; use :meth:`fit` (the results' ``llf`` holds the log-likelihood).
        """
        raise NotImplementedError("panel estimators are least squares on transformed data; "
                                  "use fit()")
