"""Information criteria.

``AIC = -2 llf + 2 d``, ``BIC = -2 llf + d log(n)``,
``AICc = -2 llf + 2 d n / (n - d - 1)`` (with ``n`` replaced by ``max(n, d + 2)`` as metafor
does, so that AICc stays finite for tiny samples), where ``d`` counts the estimated
parameters and ``n`` the observations (``n - p`` under REML).
"""
from __future__ import annotations

import numpy as np

__all__ = ["information_criteria"]


def information_criteria(llf: float, n_params: int,
                         n: float) -> tuple[float, float, float]:
    """Akaike, Bayesian and small-sample corrected Akaike information criteria.

    The formulas are those of the module docstring (metafor's conventions).

    Parameters
    ----------
    llf : float
        Maximised (restricted) log-likelihood.
    n_params : int
        Number of estimated parameters ``d``.
    n : int
        Effective sample size (``k`` under ML, ``k - p`` under REML).

    Returns
    -------
    tuple of float
        ``(aic, bic, aicc)``.

    Examples
    --------
    >>> from metamodels.inference import information_criteria
    >>> aic, bic, aicc = information_criteria(-12.5, 2, 13)
    >>> print(round(aic, 2), round(bic, 4), round(aicc, 2))
    29.0 30.1299 30.2
    """
    d = float(n_params)
    m = max(float(n), d + 2.0)
    aic = -2.0 * llf + 2.0 * d
    bic = -2.0 * llf + d * np.log(n)
    aicc = -2.0 * llf + 2.0 * d * m / (m - d - 1.0)
    return aic, bic, aicc
