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

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> import numpy as np
    >>> import pandas as pd
    >>> res = mm.MetaRandom.from_formula("yi ~ ablat", data=dat, vi="vi").fit()
    >>> pred = res.get_prediction(pd.DataFrame({"ablat": [10, 50]}), transf=np.exp)
    >>> print(pred.summary_frame().round(3))
        mean  mean_se  mean_ci_lower  mean_ci_upper  obs_ci_lower  obs_ci_upper
    0  0.961      NaN          0.667          1.386         0.500         1.848
    1  0.300      NaN          0.214          0.420         0.159         0.568
    """

    def __init__(self, exog: ArrayLike | pd.DataFrame, params: np.ndarray,
                 cov_params: np.ndarray, tau2: float, df: float | None = None,
                 index: pd.Index | Sequence | None = None,
                 transf: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        X0 = np.asarray(exog, dtype=float)
        super().__init__(X0 @ params, np.einsum("ij,jk,ik->i", X0, cov_params, X0),
                         float(tau2), df, index, transf=transf)
        self.tau2 = tau2
