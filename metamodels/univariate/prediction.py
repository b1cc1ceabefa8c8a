"""Predicted average effects with confidence and prediction intervals."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..base.prediction import PredictionResults

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import pandas as pd
    from numpy.typing import ArrayLike

__all__ = ["MetaPrediction"]


class MetaPrediction(PredictionResults):
    """Predictions ``x_0'b`` of a meta-regression.

    Parameters
    ----------
    exog : array_like or DataFrame
        Design rows ``x_0`` (m, p).
    params : ndarray
        Coefficients (p,).
    cov_params : ndarray
        Their covariance (p, p).
    tau2 : float
        Between-study variance added for the prediction (credibility) interval.
    df : float or None
        Degrees of freedom of the t reference distribution (None: normal).
    index : pandas.Index or sequence, optional
        Row labels of the predictions.
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

    def __init__(self, exog: ArrayLike | pd.DataFrame, params: np.ndarray,
                 cov_params: np.ndarray, tau2: float, df: float | None = None,
                 index: pd.Index | Sequence | None = None,
                 transf: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        X0 = np.asarray(exog, dtype=float)
        super().__init__(X0 @ params, np.einsum("ij,jk,ik->i", X0, cov_params, X0),
                         float(tau2), df, index, transf=transf)
        self.tau2 = tau2
