"""Prediction results shared by every model: ``get_prediction(new).summary_frame()``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd
from scipy import stats

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["PredictionResults", "critical_value", "interval_frame", "check_transf"]


class PredictionResults:
    """Predicted means with confidence and prediction intervals (statsmodels' interface).

    Returned by ``get_prediction`` of every results class; users do not create it.

    Parameters
    ----------
    predicted : (m,) array
        Predicted means ``x_0'b`` (or conditional means ``x_0'b + z_0'u``).
    var_mean : (m,) array
        Variance of the predicted mean, ``x_0' Var(b) x_0``.
    var_extra : (m,) array or float
        Variance a new observation adds around the mean: the random effects a new unit
        draws (``tau^2`` in meta-analysis; ``z_0' G z_0`` plus the residual variance in
        mixed models).  NaN when it cannot be determined for the rows.
    df : float, array or None
        Degrees of freedom of the t reference distribution (None: normal).
    index : pandas Index, optional
        Row labels of :meth:`summary_frame` (default: a range index).
    extra_columns : dict or callable, optional
        Further columns appended by :meth:`summary_frame` (functions of ``alpha``
        returning column dictionaries are allowed).
    transf : callable, optional
        Back-transformation (e.g. ``np.exp`` for log ratios): applied to the means and to
        the limits of both intervals (re-ordered when ``transf`` is decreasing), standard
        errors reported as NaN, as metafor's ``predict(..., transf=)``.

    Notes
    -----
    ``mean_ci = mean +/- c mean_se`` and ``obs_ci = mean +/- c sqrt(mean_se^2 + var_extra)``
    with ``c`` the normal (or t) quantile, as statsmodels' ``PredictionResults`` and
    metafor's ``predict`` (``ci.lb``/``pi.lb``).

    Examples
    --------
    >>> import pandas as pd
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ ablat", dat, vi="vi").fit()
    >>> pred = res.get_prediction(pd.DataFrame({"ablat": [10, 50]}))
    >>> print(pred.summary_frame(alpha=0.05).round(4))
         mean  mean_se  mean_ci_lower  mean_ci_upper  obs_ci_lower  obs_ci_upper
    0 -0.0395   0.1866        -0.4053         0.3262       -0.6930        0.6139
    1 -1.2036   0.1716        -1.5400        -0.8672       -1.8412       -0.5661
    """

    def __init__(self, predicted: ArrayLike, var_mean: ArrayLike,
                 var_extra: ArrayLike | float = 0.0, df: Any = None, index: Any = None,
                 extra_columns: dict | Callable | None = None,
                 transf: Callable | None = None) -> None:
        check_transf(transf)
        self._mean = np.asarray(predicted, dtype=float)
        self.var_pred_mean = np.asarray(var_mean, dtype=float)
        self.var_extra = np.broadcast_to(np.asarray(var_extra, dtype=float),
                                         self._mean.shape)
        self.df = df
        self.row_labels = index
        self._extra_columns = extra_columns
        self.transf = transf

    def _apply(self, values):
        if self.transf is None:
            return values
        return np.asarray(self.transf(np.asarray(values, dtype=float)), dtype=float)

    @property
    def predicted(self) -> np.ndarray:
        """Predicted means (back-transformed with ``transf``)."""
        return self._apply(self._mean)

    # statsmodels' names
    @property
    def predicted_mean(self) -> np.ndarray:
        """Predicted means (statsmodels' name of :attr:`predicted`)."""
        return self.predicted

    @property
    def se_mean(self) -> np.ndarray:
        """Standard errors of the predicted means, ``sqrt(x_0' Var(b) x_0)`` (NaN with
        ``transf``)."""
        if self.transf is not None:
            return np.full(self._mean.shape, np.nan)
        return np.sqrt(self.var_pred_mean)

    @property
    def se_obs(self) -> np.ndarray:
        """Standard errors for a new observation, ``sqrt(se_mean^2 + var_extra)`` (NaN
        with ``transf``)."""
        if self.transf is not None:
            return np.full(self._mean.shape, np.nan)
        return np.sqrt(self.var_pred_mean + self.var_extra)

    @property
    def se(self) -> np.ndarray:
        """Alias of :attr:`se_mean` (statsmodels' name)."""
        return self.se_mean

    @property
    def index(self) -> Any:
        """Row labels of the predictions (None: positions)."""
        return self.row_labels

    def _crit(self, alpha):
        return critical_value(alpha, self.df)

    def conf_int(self, obs: bool = False, alpha: float = 0.05) -> np.ndarray:
        """Confidence intervals of the means or prediction intervals of new observations.

        Parameters
        ----------
        obs : bool, default False
            False: confidence intervals of the predicted means (metafor's ``ci.lb``,
            ``ci.ub``); True: prediction intervals of a new observation, which add
            ``var_extra`` (metafor's ``pi.lb``, ``pi.ub``).  A float given here
            positionally is taken as ``alpha`` (``conf_int(0.1)``).
        alpha : float, default 0.05
            ``1 - alpha`` intervals, normal or t quantiles (``df``).

        Returns
        -------
        numpy.ndarray
            ``(m, 2)`` lower and upper limits (back-transformed with ``transf``, in
            increasing order).

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                      ci="cpos", di="cneg")
        >>> pred = mm.MetaRandom.from_formula("yi ~ 1", dat, vi="vi").fit().get_prediction()
        >>> pred.conf_int(obs=True, alpha=0.1)[0].round(4)     # 90% prediction interval
        array([-1.6815,  0.2524])
        """
        if not isinstance(obs, (bool, np.bool_)):      # conf_int(alpha) positional use
            obs, alpha = False, float(obs)
        c = self._crit(alpha)
        var = self.var_pred_mean + (self.var_extra if obs else 0.0)
        se = np.sqrt(var)
        lo, hi = self._apply(self._mean - c * se), self._apply(self._mean + c * se)
        return np.column_stack([np.minimum(lo, hi), np.maximum(lo, hi)])

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """All predictions and intervals in one table (statsmodels' ``summary_frame``).

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence and prediction intervals.

        Returns
        -------
        pandas.DataFrame
            Columns mean, mean_se, mean_ci_lower, mean_ci_upper, obs_ci_lower,
            obs_ci_upper, then any model-specific columns (e.g. ``tau`` and its limits
            of location-scale models), indexed by :attr:`index`.
        """
        ci = self.conf_int(alpha=alpha)
        pi = self.conf_int(obs=True, alpha=alpha)
        cols = {"mean": self.predicted, "mean_se": self.se_mean,
                "mean_ci_lower": ci[:, 0], "mean_ci_upper": ci[:, 1],
                "obs_ci_lower": pi[:, 0], "obs_ci_upper": pi[:, 1]}
        extra = self._extra_columns
        if callable(extra):
            extra = extra(alpha)
        cols.update(extra or {})
        return pd.DataFrame(cols, index=self.row_labels)

    default_alpha = 0.05

    def __getitem__(self, column):
        """Column of :meth:`summary_frame` at ``default_alpha`` (``pred["tau"]``)."""
        return self.summary_frame(self.default_alpha)[column]


def interval_frame(pred, se, crit, index, transf=None):
    """DataFrame pred, se, pi_lower, pi_upper (``transf`` applied to pred and the limits,
    se NaN, limits re-ordered, as metafor's ``transf=``)."""
    pred, se = np.asarray(pred, dtype=float), np.asarray(se, dtype=float)
    lo, hi = pred - crit * se, pred + crit * se
    if check_transf(transf) is not None:
        pred, lo, hi = (np.asarray(transf(a), dtype=float) for a in (pred, lo, hi))
        lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
        se = np.full(pred.shape, np.nan)
    return pd.DataFrame({"pred": pred, "se": se, "pi_lower": lo, "pi_upper": hi}, index=index)


def critical_value(alpha, df=None):
    """Normal (``df=None``) or t quantile ``1 - alpha/2``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    return stats.norm.ppf(1 - alpha / 2) if df is None else stats.t.ppf(1 - alpha / 2, df)


def check_transf(transf):
    """``transf`` (None or a callable such as ``np.exp``), or a TypeError."""
    if transf is not None and not callable(transf):
        raise TypeError(f"transf must be a callable such as np.exp, got {type(transf).__name__}")
    return transf
