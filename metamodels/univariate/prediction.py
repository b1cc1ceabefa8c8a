"""Predicted average effects with confidence and prediction intervals."""
from __future__ import annotations

import numpy as np

from ..base.prediction import PredictionResults

__all__ = ["MetaPrediction"]


class MetaPrediction(PredictionResults):
    """Predictions ``x_0'b`` of a meta-regression.

    Parameters
    ----------
    exog : (m, p) array or DataFrame
    params, cov_params : arrays
    tau2 : float
        Between-study variance added for the prediction (credibility) interval.
    df : float or None
        Degrees of freedom of the t reference distribution (None: normal).
    transf : callable, optional
        Back-transformation of means and limits (see
        :class:`~metamodels.base.prediction.PredictionResults`).

    Notes
    -----
    ``mean = x_0'b``, ``mean_se = sqrt(x_0' Var(b) x_0)``, confidence interval
    ``mean +/- c mean_se`` and prediction interval ``mean +/- c sqrt(mean_se^2 + tau^2)``,
    where ``c`` is the normal (or t with ``k - p`` df) quantile.  These are metafor's
    ``ci.lb/ci.ub`` and ``pi.lb/pi.ub``.
    """

    def __init__(self, exog, params, cov_params, tau2, df=None, index=None, transf=None):
        X0 = np.asarray(exog, dtype=float)
        super().__init__(X0 @ params, np.einsum("ij,jk,ik->i", X0, cov_params, X0),
                         float(tau2), df, index, transf=transf)
        self.tau2 = tau2
