"""More closed-form effect sizes for :func:`~metamodels.effectsize.effect_size`.

Incidence rates, Peto's log odds ratio, single means, change scores, variability ratios,
partial correlations, the phi coefficient and the odds-ratio <-> SMD conversions.  As in
:mod:`._formulas`, every function receives validated float arrays (NaN = missing, zero
counts already adjusted) and returns ``(yi, vi)``; the formulas are written out in the
Notes of :func:`~metamodels.effectsize.effect_size`.
"""
import numpy as np

from ._formulas import hedges_correction, log_odds_ratio

# ---------------------------------------------------------------- incidence rates


def log_incidence_rate_ratio(x1, t1, x2, t2, vtype):
    """``log((x1/t1) / (x2/t2))`` with variance ``1/x1 + 1/x2``."""
    return np.log((x1 / t1) / (x2 / t2)), 1.0 / x1 + 1.0 / x2


def incidence_rate_difference(x1, t1, x2, t2, vtype):
    """``x1/t1 - x2/t2`` with variance ``x1/t1^2 + x2/t2^2``."""
    return x1 / t1 - x2 / t2, x1 / t1 ** 2 + x2 / t2 ** 2


def log_incidence_rate(x, t, vtype):
    """``log(x/t)`` with variance ``1/x``."""
    return np.log(x / t), 1.0 / x


# ------------------------------------------------------------------- 2x2 tables


def peto_log_odds_ratio(a, b, c, d, vtype):
    """Peto's one-step log odds ratio ``(O - E) / V``, variance ``1 / V``.

    ``O = a``, ``E = n1 m1 / n``, ``V = n1 n2 m1 m2 / (n^2 (n - 1))`` (hypergeometric
    variance of ``a`` given the margins; ``m1 = a + c``, ``m2 = b + d``).
    """
    n1, n2, m1, m2 = a + b, c + d, a + c, b + d
    n = n1 + n2
    V = n1 * n2 * m1 * m2 / (n ** 2 * (n - 1.0))
    return (a - n1 * m1 / n) / V, 1.0 / V


def phi_coefficient(a, b, c, d, vtype):
    """Phi coefficient ``(ad - bc) / sqrt(n1 n2 m1 m2)``.

    ``"ST"`` (stratified sampling, fixed group sizes) and ``"CS"`` (cross-sectional,
    multinomial sampling) variances as in metafor (Yule 1912; Bishop, Fienberg &
    Holland 1975, section 11.3).
    """
    n1, n2, m1, m2 = a + b, c + d, a + c, b + d
    n = n1 + n2
    phi = (a * d - b * c) / np.sqrt(n1 * n2 * m1 * m2)
    p1, p2 = n1 / n, n2 / n            # row margins
    q1, q2 = m1 / n, m2 / n            # column margins
    if vtype == "CS":
        vi = (1.0 / n) * (1 - phi ** 2 + phi * (1 + phi ** 2 / 2) * (p1 - p2) * (q1 - q2)
                          / np.sqrt(p1 * p2 * q1 * q2)
                          - 3.0 / 4.0 * phi ** 2 * ((p1 - p2) ** 2 / (p1 * p2)
                                                    + (q1 - q2) ** 2 / (q1 * q2)))
    else:   # "ST": the rows (groups) are fixed
        vi = _phi_st_variance(phi, n1, n2, a / n1, c / n2, q1, q2)
    return phi, vi


def _phi_st_variance(phi, n1, n2, r1, r2, q1, q2):
    """Delta-method variance of phi when the group sizes are fixed."""
    n = n1 + n2
    p1, p2 = n1 / n, n2 / n
    # phi = sqrt(p1 p2) (r1 - r2) / sqrt(q1 q2) with q1 = p1 r1 + p2 r2
    s = np.sqrt(p1 * p2)
    g = np.sqrt(q1 * q2)
    dq = q2 - q1                       # d(q1 q2)/dq1 with q2 = 1 - q1
    d1 = s / g - s * (r1 - r2) * dq * p1 / (2 * g ** 3)
    d2 = -s / g - s * (r1 - r2) * dq * p2 / (2 * g ** 3)
    return d1 ** 2 * r1 * (1 - r1) / n1 + d2 ** 2 * r2 * (1 - r2) / n2


def odds_ratio_to_smd(a, b, c, d, vtype, scale):
    """Log odds ratio times ``scale`` (``sqrt(3)/pi``: logistic, ``1/1.65``: normal)."""
    yi, vi = log_odds_ratio(a, b, c, d, "LS")
    return yi * scale, vi * scale ** 2


# ------------------------------------------------------------ continuous outcomes


def mean(m, sd, n, vtype):
    """Raw mean with variance ``sd^2 / n``."""
    return m.copy(), sd ** 2 / n


def log_mean(m, sd, n, vtype):
    """``log(m)`` with variance ``sd^2 / (n m^2)``."""
    return np.log(m), sd ** 2 / (n * m ** 2)


def smd_heteroscedastic(m1, sd1, n1, m2, sd2, n2, vtype):
    """Bonett's (2008, 2009) SMD standardised by ``sqrt((sd1^2 + sd2^2) / 2)``.

    ``y = c(n1 + n2 - 2) d`` and ``v = c^2 [y^2 (sd1^4/(n1-1) + sd2^4/(n2-1)) / (8 s^4)
    + (sd1^2/(n1-1) + sd2^2/(n2-1)) / s^2]`` with ``s^2 = (sd1^2 + sd2^2) / 2`` (Bonett's
    variance of the corrected estimate, scaled by the correction, as metafor 3.8).
    """
    s2 = (sd1 ** 2 + sd2 ** 2) / 2.0
    cm = hedges_correction(n1 + n2 - 2.0)
    yi = cm * (m1 - m2) / np.sqrt(s2)
    vi = cm ** 2 * (yi ** 2 * (sd1 ** 4 / (n1 - 1.0) + sd2 ** 4 / (n2 - 1.0)) / (8.0 * s2 ** 2)
                    + (sd1 ** 2 / (n1 - 1.0) + sd2 ** 2 / (n2 - 1.0)) / s2)
    return yi, vi


def log_cv_ratio(m1, sd1, n1, m2, sd2, n2, vtype):
    """Log coefficient-of-variation ratio (Nakagawa et al. 2015, eq. 11-12 without the
    mean-variance covariance terms), with the small-sample bias correction."""
    yi = (np.log(sd1 / m1) + 1.0 / (2.0 * (n1 - 1.0))
          - np.log(sd2 / m2) - 1.0 / (2.0 * (n2 - 1.0)))
    vi = (1.0 / (2.0 * (n1 - 1.0)) + sd1 ** 2 / (n1 * m1 ** 2)
          + 1.0 / (2.0 * (n2 - 1.0)) + sd2 ** 2 / (n2 * m2 ** 2))
    return yi, vi


def log_variability_ratio(sd1, n1, sd2, n2, vtype):
    """Log ratio of standard deviations (Nakagawa et al. 2015), bias corrected."""
    yi = np.log(sd1 / sd2) + 1.0 / (2.0 * (n1 - 1.0)) - 1.0 / (2.0 * (n2 - 1.0))
    return yi, 1.0 / (2.0 * (n1 - 1.0)) + 1.0 / (2.0 * (n2 - 1.0))


def smd_to_log_odds(m1, sd1, n1, m2, sd2, n2, vtype, scale):
    """Cohen's ``d`` (pooled SD, no bias correction) times ``scale`` (``pi/sqrt(3)``:
    logistic, ``1.65``: normal), variance ``(1/n1 + 1/n2 + d^2 / (2 (n1 + n2))) scale^2``
    (Hasselblad & Hedges 1995; Chinn 2000)."""
    sp = np.sqrt(((n1 - 1.0) * sd1 ** 2 + (n2 - 1.0) * sd2 ** 2) / (n1 + n2 - 2.0))
    d = (m1 - m2) / sp
    vi = 1.0 / n1 + 1.0 / n2 + d ** 2 / (2.0 * (n1 + n2))
    return d * scale, vi * scale ** 2


def smd_change_score(m1, m2, sd1, sd2, n, r, vtype):
    """Standardised mean change with change-score standardisation (Gibbons et al. 1993):
    ``c(n - 1) (m1 - m2) / sd_d``, ``sd_d^2 = sd1^2 + sd2^2 - 2 r sd1 sd2``."""
    sdd = np.sqrt(sd1 ** 2 + sd2 ** 2 - 2.0 * r * sd1 * sd2)
    yi = hedges_correction(n - 1.0) * (m1 - m2) / sdd
    return yi, 1.0 / n + yi ** 2 / (2.0 * n)


def smd_change_raw(m1, m2, sd1, n, r, vtype):
    """Standardised mean change with raw-score standardisation (Becker 1988):
    ``c(n - 1) (m1 - m2) / sd1``, variance ``2 (1 - r) / n + y^2 / (2 n)``."""
    yi = hedges_correction(n - 1.0) * (m1 - m2) / sd1
    return yi, 2.0 * (1.0 - r) / n + yi ** 2 / (2.0 * n)


# -------------------------------------------------------------- partial correlations


def partial_correlation(t, n, m, vtype):
    """Partial correlation from the t statistic of a regression coefficient:
    ``t / sqrt(t^2 + df)``, ``df = n - m - 1``, variance ``(1 - r^2)^2 / df``."""
    df = n - m - 1.0
    r = t / np.sqrt(t ** 2 + df)
    return r, (1.0 - r ** 2) ** 2 / df


def fisher_z_partial(t, n, m, vtype):
    """Fisher's z of the partial correlation, variance ``1 / (n - m - 1)`` (metafor 3.8)."""
    r, _ = partial_correlation(t, n, m, vtype)
    return np.arctanh(r), 1.0 / (n - m - 1.0)


# ------------------------------------------------- coefficients of determination


def r2_from_f(f, n, m):
    """``R^2`` of a regression with ``m`` predictors from its omnibus F statistic:
    ``m F / (m F + n - m - 1)``."""
    return m * f / (m * f + n - m - 1.0)


def r_squared(r2, n, m, vtype):
    """Raw coefficient of determination ``R^2`` of a regression with ``m`` predictors on
    ``n`` cases (metafor 4's ``"R2"``).

    Variances (large sample, multivariate normal data; Kendall & Stuart 1979,
    eqs. 27.88 and 27.87 as metafor labels them): ``"LS"`` ``4 R^2 (1 - R^2)^2 / n``;
    ``"LS2"`` ``4 R^2 (1 - R^2)^2 (n - m - 1)^2 / ((n^2 - 1)(n + 3))``; ``"AV"``/``"AV2"``
    the same with the ``n``-weighted mean ``R^2`` over studies.
    """
    if vtype in ("AV", "AV2"):
        ok = np.isfinite(r2) & np.isfinite(n)
        base = np.sum(n[ok] * r2[ok]) / np.sum(n[ok]) if ok.any() else np.nan
    else:
        base = r2
    v = 4.0 * base * (1.0 - base) ** 2 / n
    if vtype in ("LS2", "AV2"):
        v = v * n * (n - m - 1.0) ** 2 / ((n ** 2 - 1.0) * (n + 3.0))
    return r2, v


def fisher_z_r_squared(r2, n, m, vtype):
    """``atanh(sqrt(R^2)) = 1/2 log((1 + R)/(1 - R))`` with variance ``1/n`` (Olkin & Finn
    1995, whose ``log((1 + R)/(1 - R))`` has variance ``4/n``; metafor 4's ``"ZR2"``)."""
    return np.arctanh(np.sqrt(r2)), 1.0 / n
