"""Information criteria.

``AIC = -2 llf + 2 d``, ``BIC = -2 llf + d log(n)``,
``AICc = -2 llf + 2 d n / (n - d - 1)`` (with ``n`` replaced by ``max(n, d + 2)`` as metafor
does, so that AICc stays finite for tiny samples), where ``d`` counts the estimated
parameters and ``n`` the observations (``n - p`` under REML).
"""
from __future__ import annotations

import numpy as np

__all__ = ["information_criteria"]


def information_criteria(llf, n_params, n):
    """Return ``(aic, bic, aicc)``.

    Parameters
    ----------
    llf : float
        Maximised (restricted) log-likelihood.
    n_params : int
        Number of estimated parameters ``d``.
    n : int
        Effective sample size (``k`` under ML, ``k - p`` under REML).
    """
    d = float(n_params)
    m = max(float(n), d + 2.0)
    aic = -2.0 * llf + 2.0 * d
    bic = -2.0 * llf + d * np.log(n)
    aicc = -2.0 * llf + 2.0 * d * m / (m - d - 1.0)
    return aic, bic, aicc
