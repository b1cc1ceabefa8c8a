"""Variance-stabilising and single-group measures for :func:`~metamodels.effectsize.effect_size`.

Proportions (``x`` events, ``m`` non-events, ``n = x + m``) and incidence rates (``x``
events in person-time ``t``).  As in :mod:`._formulas`, every function receives validated
float arrays (NaN = missing; zero counts already adjusted where the measure uses the
``add``/``to`` rule) and returns ``(yi, vi)``.

* PLN: ``log(x/n)``, ``v = 1/x - 1/n``.
* PAS: ``arcsin(sqrt(x/n))``, ``v = 1/(4n)``.
* PFT (Freeman and Tukey 1950): ``(arcsin(sqrt(x/(n+1))) + arcsin(sqrt((x+1)/(n+1)))) / 2``,
  ``v = 1/(4n + 2)``.
* AS (two groups): ``arcsin(sqrt(p1)) - arcsin(sqrt(p2))``, ``v = 1/(4 n1) + 1/(4 n2)``
  (Ruecker et al. 2009).
* IR: ``x/t``, ``v = x/t^2``; IRS: ``sqrt(x/t)``, ``v = 1/(4t)``; IRFT:
  ``(sqrt(x/t) + sqrt((x+1)/t)) / 2``, ``v = 1/(4t)``.

The arcsine and Freeman-Tukey measures need no adjustment for zero counts and are computed
from the counts as given (metafor does the same); their back-transformations are in
:mod:`metamodels.effectsize.transforms`.

References
----------
Freeman MF, Tukey JW (1950). Transformations related to the angular and the square root.
Ann Math Stat 21, 607-611.
Miller JJ (1978). The inverse of the Freeman-Tukey double arcsine transformation.
Am Stat 32, 138.
Ruecker G, Schwarzer G, Carpenter J, Olkin I (2009). Why add anything to nothing? The
arcsine difference as a measure of treatment effect in meta-analysis with zero cells.
Stat Med 28, 721-738.
"""
import numpy as np

#: measures computed from the unadjusted counts (metafor applies no add/to rule)
UNADJUSTED = frozenset({"PAS", "PFT", "AS", "IRS", "IRFT"})


def log_proportion(x, m, vtype):
    """``log(x/n)`` with variance ``1/x - 1/n``."""
    n = x + m
    return np.log(x / n), 1.0 / x - 1.0 / n


def arcsine_proportion(x, m, vtype):
    """``arcsin(sqrt(x/n))`` with variance ``1/(4n)``."""
    n = x + m
    return np.arcsin(np.sqrt(x / n)), 1.0 / (4.0 * n)


def freeman_tukey_proportion(x, m, vtype):
    """Freeman-Tukey double arcsine of a proportion, variance ``1/(4n + 2)``."""
    n = x + m
    y = 0.5 * (np.arcsin(np.sqrt(x / (n + 1.0))) + np.arcsin(np.sqrt((x + 1.0) / (n + 1.0))))
    return y, 1.0 / (4.0 * n + 2.0)


def arcsine_risk_difference(a, b, c, d, vtype):
    """``arcsin(sqrt(p1)) - arcsin(sqrt(p2))`` with variance ``1/(4 n1) + 1/(4 n2)``."""
    n1, n2 = a + b, c + d
    y = np.arcsin(np.sqrt(a / n1)) - np.arcsin(np.sqrt(c / n2))
    return y, 1.0 / (4.0 * n1) + 1.0 / (4.0 * n2)


def incidence_rate(x, t, vtype):
    """``x/t`` with variance ``x/t^2``."""
    return x / t, x / t ** 2


def sqrt_incidence_rate(x, t, vtype):
    """``sqrt(x/t)`` with variance ``1/(4t)``."""
    return np.sqrt(x / t), 1.0 / (4.0 * t)


def freeman_tukey_rate(x, t, vtype):
    """``(sqrt(x/t) + sqrt((x+1)/t)) / 2`` with variance ``1/(4t)``."""
    return 0.5 * (np.sqrt(x / t) + np.sqrt((x + 1.0) / t)), 1.0 / (4.0 * t)
