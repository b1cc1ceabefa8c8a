"""Closed-form effect sizes and sampling variances used by :func:`effect_size`.

Every function here receives validated float arrays of equal length (NaN marks a
missing value) and returns ``(yi, vi)``.  Nothing is checked here; the input
checks live in :mod:`metamodels.effectsize.escalc`.  The formulas follow
Borenstein et al. (2009), Hedges (1981, 1983), Hedges, Gurevitch & Curtis (1999)
and the documentation of metafor's ``escalc``; they are written out in the Notes
section of :func:`metamodels.effectsize.effect_size`.
"""
import numpy as np
from scipy.special import gammaln


def _weighted_mean(values, weights):
    """Weighted mean over the entries where both inputs are finite.

    Studies with missing inputs (NaN) are left out; studies whose own effect size
    is undefined but whose inputs are present still count, as in metafor.
    """
    ok = np.isfinite(values) & np.isfinite(weights)
    if not ok.any():
        return np.nan
    return np.sum(values[ok] * weights[ok]) / np.sum(weights[ok])


def hedges_correction(m):
    """Exact small-sample bias-correction factor of Hedges (1981).

    ``c(m) = Gamma(m / 2) / (sqrt(m / 2) * Gamma((m - 1) / 2))``, computed on the
    log scale as ``exp(lgamma(m/2) - log(m/2)/2 - lgamma((m-1)/2))`` so that it
    stays accurate for large ``m``.

    Parameters
    ----------
    m : array_like
        Degrees of freedom, ``n1 + n2 - 2`` for two independent groups.

    Returns
    -------
    ndarray
        The factor ``c(m)``; it is below 1 and tends to 1 as ``m`` grows.
    """
    m = np.asarray(m, dtype=float)
    return np.exp(gammaln(m / 2.0) - 0.5 * np.log(m / 2.0) - gammaln((m - 1.0) / 2.0))


def _pooled_var(n1, sd1, n2, sd2):
    return ((n1 - 1.0) * sd1 ** 2 + (n2 - 1.0) * sd2 ** 2) / (n1 + n2 - 2.0)


# ---------------------------------------------------------------------------
# two groups, continuous outcome


def mean_difference(m1, sd1, n1, m2, sd2, n2, vtype):
    """Raw mean difference ``m1 - m2``."""
    yi = m1 - m2
    if vtype == "LS":
        vi = sd1 ** 2 / n1 + sd2 ** 2 / n2
    else:  # "HO": common variance in both groups
        vi = _pooled_var(n1, sd1, n2, sd2) * (1.0 / n1 + 1.0 / n2)
    return yi, vi


def standardized_mean_difference(m1, sd1, n1, m2, sd2, n2, vtype):
    """Hedges' g with the exact bias correction."""
    m = n1 + n2 - 2.0
    cm = hedges_correction(m)
    d = (m1 - m2) / np.sqrt(_pooled_var(n1, sd1, n2, sd2))
    yi = cm * d
    base = 1.0 / n1 + 1.0 / n2
    if vtype == "LS":
        vi = base + yi ** 2 / (2.0 * (n1 + n2))
    elif vtype == "UB":
        vi = base + (1.0 - (m - 2.0) / (m * cm ** 2)) * yi ** 2
    elif vtype == "LS2":
        vi = cm ** 2 * (base + d ** 2 / (2.0 * (n1 + n2)))
    else:  # "AV": sample-size weighted mean of g in place of g
        gbar = _weighted_mean(yi, n1 + n2)
        vi = base + gbar ** 2 / (2.0 * (n1 + n2))
    return yi, vi


def log_ratio_of_means(m1, sd1, n1, m2, sd2, n2, vtype):
    """Log ratio of means ``log(m1 / m2)``."""
    yi = np.log(m1 / m2)
    if vtype == "LS":
        vi = sd1 ** 2 / (n1 * m1 ** 2) + sd2 ** 2 / (n2 * m2 ** 2)
    elif vtype == "HO":
        sp2 = _pooled_var(n1, sd1, n2, sd2)
        vi = sp2 / (n1 * m1 ** 2) + sp2 / (n2 * m2 ** 2)
    elif vtype == "AV":
        # coefficient of variation sd / mean (signed), averaged over studies per group
        cv1 = _weighted_mean(sd1 / m1, n1)
        cv2 = _weighted_mean(sd2 / m2, n2)
        vi = cv1 ** 2 / n1 + cv2 ** 2 / n2
    else:  # "AVHO": one coefficient of variation for both groups and all studies
        cv = _weighted_mean(np.concatenate([sd1 / m1, sd2 / m2]), np.concatenate([n1, n2]))
        vi = cv ** 2 * (1.0 / n1 + 1.0 / n2)
    return yi, vi


# ---------------------------------------------------------------------------
# 2x2 tables (cells already adjusted for zero counts)


def log_odds_ratio(a, b, c, d, vtype):
    """Log odds ratio ``log(a d / (b c))`` and Woolf's variance."""
    yi = np.log(a * d / (b * c))
    vi = 1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d
    return yi, vi


def log_risk_ratio(a, b, c, d, vtype):
    """Log risk ratio ``log((a / n1) / (c / n2))``."""
    n1 = a + b
    n2 = c + d
    yi = np.log((a / n1) / (c / n2))
    vi = 1.0 / a - 1.0 / n1 + 1.0 / c - 1.0 / n2
    return yi, vi


def risk_difference(a, b, c, d, vtype):
    """Risk difference ``a / n1 - c / n2``."""
    n1 = a + b
    n2 = c + d
    p1 = a / n1
    p2 = c / n2
    yi = p1 - p2
    if vtype == "LS":
        vi = p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2
    elif vtype == "UB":
        vi = p1 * (1.0 - p1) / (n1 - 1.0) + p2 * (1.0 - p2) / (n2 - 1.0)
    else:  # "AV": pooled risks over all studies with data
        ok = np.isfinite(n1) & np.isfinite(n2)
        p1bar = np.sum(a[ok]) / np.sum(n1[ok]) if ok.any() else np.nan
        p2bar = np.sum(c[ok]) / np.sum(n2[ok]) if ok.any() else np.nan
        vi = p1bar * (1.0 - p1bar) / n1 + p2bar * (1.0 - p2bar) / n2
    return yi, vi


# ---------------------------------------------------------------------------
# correlations


def fisher_z(r, n, vtype):
    """Fisher's r-to-z transform ``atanh(r)`` with variance ``1 / (n - 3)``."""
    yi = np.arctanh(r)
    vi = 1.0 / (n - 3.0)
    return yi, vi


def raw_correlation(r, n, vtype):
    """Raw correlation with variance ``(1 - r^2)^2 / (n - 1)``."""
    yi = r.copy()
    if vtype == "LS":
        vi = (1.0 - r ** 2) ** 2 / (n - 1.0)
    else:  # "AV": sample-size weighted mean correlation in the variance
        rbar = _weighted_mean(r, n)
        vi = (1.0 - rbar ** 2) ** 2 / (n - 1.0)
    return yi, vi


# ---------------------------------------------------------------------------
# single-group proportions (counts already adjusted for zeros)


def logit_proportion(x, m, vtype):
    """Log odds ``log(x / m)`` of events ``x`` and non-events ``m``."""
    n = x + m
    yi = np.log(x / m)
    if vtype == "LS":
        vi = 1.0 / x + 1.0 / m
    else:  # "AV": pooled proportion over all studies with data
        ok = np.isfinite(n)
        pbar = np.sum(x[ok]) / np.sum(n[ok]) if ok.any() else np.nan
        vi = 1.0 / (n * pbar * (1.0 - pbar))
    return yi, vi


def raw_proportion(x, m, vtype):
    """Raw proportion ``x / (x + m)``."""
    n = x + m
    p = x / n
    yi = p
    if vtype == "LS":
        vi = p * (1.0 - p) / n
    elif vtype == "UB":
        vi = p * (1.0 - p) / (n - 1.0)
    else:  # "AV": pooled proportion over all studies with data
        ok = np.isfinite(n)
        pbar = np.sum(x[ok]) / np.sum(n[ok]) if ok.any() else np.nan
        vi = pbar * (1.0 - pbar) / n
    return yi, vi
