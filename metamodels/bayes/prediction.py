"""Posterior predictions of :class:`~metamodels.bayes.BayesMeta`: normal mixtures over
the quadrature nodes of tau."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from ..base.prediction import PredictionResults
from .distributions import NormalMixture

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["BayesPrediction"]


def _check_alpha(alpha):
    alpha = float(alpha)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    return alpha


class BayesPrediction(PredictionResults):
    """Posterior predictions: per row a normal mixture over the quadrature nodes of tau.

    ``means``, ``variances`` are (nodes, m) arrays of ``x_0'bhat(tau)`` and
    ``x_0'A(tau)^-1 x_0``; the predictive interval adds ``tau^2``.

    Parameters
    ----------
    weights : array_like (nodes,)
        Quadrature weights of the posterior of ``tau``.
    means, variances : ndarray (nodes, m)
        Conditional posterior means and variances of ``x_0'b`` at each node.
    tau : ndarray (nodes,)
        The nodes.
    index : pandas Index, optional
        Row labels of the predictions.
    transf : callable, optional
        Monotone back-transformation of the means and interval limits.
    """

    def __init__(self, weights: ArrayLike, means: np.ndarray, variances: np.ndarray,
                 tau: np.ndarray, index: pd.Index | None = None,
                 transf: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        W = np.asarray(weights, dtype=float)
        mean = W @ means
        var = W @ (variances + means ** 2) - mean ** 2
        var_obs = W @ (variances + tau[:, None] ** 2 + means ** 2) - mean ** 2
        super().__init__(mean, np.clip(var, 0, None), np.clip(var_obs - var, 0, None),
                         None, index, transf=transf)
        self._W, self._means, self._vars, self._tau = W, means, variances, tau

    def conf_int(self, obs: bool | float = False, alpha: float = 0.05) -> np.ndarray:
        """Central credible (``obs=False``) or predictive intervals, ``(m, 2)``.

        Parameters
        ----------
        obs : bool
            False: interval of ``x_0'b``; True: predictive interval of a new study's
            effect ``x_0'b + u``.  A float here is taken as ``alpha`` (statsmodels'
            positional ``conf_int(alpha)``).
        alpha : float
            ``1 - alpha`` intervals (default 0.05).

        Returns
        -------
        ndarray (m, 2)
            Exact quantiles of the normal mixtures (transformed by ``transf``).
        """
        if not isinstance(obs, (bool, np.bool_)):
            obs, alpha = False, float(obs)
        alpha = _check_alpha(alpha)
        extra = self._tau[:, None] ** 2 if obs else 0.0
        sds = np.sqrt(np.clip(self._vars + extra, 1e-300, None))
        out = np.array([NormalMixture(self._W, self._means[:, i], sds[:, i]).central(alpha)
                        for i in range(self._means.shape[1])])
        if self.transf is None:
            return out
        t = self._apply(out)                    # quantiles map through monotone transf
        return np.column_stack([t.min(axis=1), t.max(axis=1)])
