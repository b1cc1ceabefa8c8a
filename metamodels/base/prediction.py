"""Prediction results shared by every model: ``get_prediction(new).summary_frame()``."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["PredictionResults", "critical_value", "interval_frame", "check_transf"]


class PredictionResults:
    """Predicted means with confidence and prediction intervals (statsmodels' interface).

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
    extra_columns : dict, optional
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
    """

    def __init__(self, predicted, var_mean, var_extra=0.0, df=None, index=None,
                 extra_columns=None, transf=None):
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
    def predicted(self):
        """Predicted means (back-transformed with ``transf``)."""
        return self._apply(self._mean)

    # statsmodels' names
    @property
    def predicted_mean(self):
        return self.predicted

    @property
    def se_mean(self):
        if self.transf is not None:
            return np.full(self._mean.shape, np.nan)
        return np.sqrt(self.var_pred_mean)

    @property
    def se_obs(self):
        if self.transf is not None:
            return np.full(self._mean.shape, np.nan)
        return np.sqrt(self.var_pred_mean + self.var_extra)

    @property
    def se(self):
        return self.se_mean

    @property
    def index(self):
        return self.row_labels

    def _crit(self, alpha):
        return critical_value(alpha, self.df)

    def conf_int(self, obs=False, alpha=0.05):
        """``(m, 2)`` array of confidence (``obs=False``) or prediction intervals."""
        if not isinstance(obs, (bool, np.bool_)):      # conf_int(alpha) positional use
            obs, alpha = False, float(obs)
        c = self._crit(alpha)
        var = self.var_pred_mean + (self.var_extra if obs else 0.0)
        se = np.sqrt(var)
        lo, hi = self._apply(self._mean - c * se), self._apply(self._mean + c * se)
        return np.column_stack([np.minimum(lo, hi), np.maximum(lo, hi)])

    def summary_frame(self, alpha=0.05):
        """DataFrame with mean, mean_se, mean_ci_lower/upper, obs_ci_lower/upper."""
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
