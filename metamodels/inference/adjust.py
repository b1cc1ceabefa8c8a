"""Multiplicity adjustments of families of t tests and intervals (emmeans' ``adjust=``).

Each family (the contrasts of one ``by`` group) of ``m`` estimates with t statistics
``t_i`` on ``df_i`` degrees of freedom gets adjusted p-values and interval half-widths
``crit_i * se_i``:

==========  ================================  ==========================================
adjust      p-values                          interval critical value
==========  ================================  ==========================================
none        ``p_i = 2 P(T_df > |t_i|)``       ``t_df(1 - alpha/2)``
tukey       ``P(Q_{k,df} > sqrt(2) |t_i|)``   ``q_{k,df}(1 - alpha) / sqrt(2)``
sidak       ``1 - (1 - p_i)^m``               ``t_df(1 - a/2)``, ``a = 1-(1-alpha)^(1/m)``
bonferroni  ``min(1, m p_i)``                 ``t_df(1 - alpha / (2m))``
holm        Holm's step-down ``p``            Bonferroni's
fdr         Benjamini-Hochberg ``p``          Bonferroni's
mvt         ``P(max_j |T_j| >= |t_i|)``       ``c``: ``P(max_j |T_j| < c) = 1 - alpha``
==========  ================================  ==========================================

``Q_{k,df}`` is the studentized range of ``k`` means (:mod:`.studentized_range`; Tukey's
HSD, exact for pairwise differences of ``k`` means; emmeans uses it for pairwise families
only and Sidak's adjustment for any other family, and so do we).  Holm and FDR adjust p-values only;
their intervals are Bonferroni's, as emmeans does.

``mvt`` is the single-step adjustment (Hothorn, Bretz and Westfall 2008; emmeans'
``adjust = "mvt"``, multcomp's ``"single-step"``): ``T`` is multivariate t with the
family's correlation matrix (from the covariance of the estimates) and each row's df
(:mod:`.mvt`). It is exact for any family: for ``trt.vs.ctrl`` contrasts it is Dunnett's
(1955) test (``adjust="dunnett"`` is accepted as its name; emmeans' default
``"dunnettx"`` is an approximation of it), for pairwise contrasts of independent means
Tukey's.

References
----------
Tukey JW (1953); Sidak Z (1967) JASA 62; Holm S (1979) Scand J Statist 6;
Benjamini Y, Hochberg Y (1995) JRSS-B 57; Dunnett CW (1955) JASA 50; Hothorn T, Bretz F,
Westfall P (2008) Biometrical J 50; Lenth RV, emmeans (R package), ``summary.emmGrid``.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from .mvt import single_step
from .studentized_range import ptukey, qtukey

__all__ = ["ADJUSTMENTS", "check_adjust", "adjust_family"]

ADJUSTMENTS = ("none", "tukey", "sidak", "bonferroni", "holm", "fdr", "mvt")


def check_adjust(adjust):
    """Canonical name of a multiplicity adjustment."""
    key = "none" if adjust is None else str(adjust).lower()
    key = {"bh": "fdr", "benjamini-hochberg": "fdr", "hsd": "tukey", "bonf": "bonferroni",
           "dunnett": "mvt", "single-step": "mvt"}.get(
        key, key)
    if key not in ADJUSTMENTS:
        raise ValueError(f"unknown adjust {adjust!r}; valid values are "
                         f"{', '.join(ADJUSTMENTS)}")
    return key


def _holm(p):
    m = p.size
    order = np.argsort(p)
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def _fdr(p):
    m = p.size
    order = np.argsort(p)[::-1]
    adj = np.minimum(1.0, np.minimum.accumulate(m / (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def _tukey(t, df, k, alpha):
    q = np.sqrt(2.0) * np.abs(t)
    p = ptukey(q, k, df, upper=True)
    crit = qtukey(1.0 - alpha, k, df) / np.sqrt(2.0)
    return np.clip(p, 0.0, 1.0), crit


def _single_step(t, df, alpha, corr):
    if corr is None:
        raise ValueError("the mvt (single-step / Dunnett) adjustment needs the family's "
                         "correlation matrix")
    return single_step(t, corr, df, 1.0 - alpha)


def adjust_family(t, df, alpha, adjust, n_means=None, corr=None):
    """``(pvalues, critical values)`` of one family of t statistics.

    Parameters
    ----------
    t, df : (m,) arrays
        t statistics and their degrees of freedom.
    alpha : float
        1 - the family's confidence level.
    adjust : str
        One of :data:`ADJUSTMENTS` (``"tukey"`` only when ``n_means`` is given: the family
        is the pairwise differences of ``n_means`` means).
    n_means : int, optional
        Number of means of a pairwise family (Tukey's ``k``).
    corr : (m, m) array, optional
        Correlation matrix of the family's estimates (needed by ``"mvt"``).

    Returns
    -------
    pvalues, crit : (m,) arrays
        Adjusted p-values and the critical values of the simultaneous intervals.
    """
    t = np.asarray(t, dtype=float)
    df = np.asarray(df, dtype=float)
    m = t.size
    p = 2.0 * stats.t.sf(np.abs(t), df)
    if adjust == "tukey":
        if n_means is None or n_means < 2:
            raise ValueError("Tukey's adjustment is for pairwise families; use sidak")
        return _tukey(t, df, int(n_means), alpha)
    if adjust == "mvt" and m > 1:
        return _single_step(t, df, alpha, corr)
    if adjust == "none" or m <= 1:
        return p, stats.t.ppf(1.0 - alpha / 2.0, df)
    if adjust == "sidak":
        a = 1.0 - (1.0 - alpha) ** (1.0 / m)
        return 1.0 - (1.0 - p) ** m, stats.t.ppf(1.0 - a / 2.0, df)
    crit = stats.t.ppf(1.0 - alpha / (2.0 * m), df)
    if adjust == "bonferroni":
        return np.minimum(1.0, m * p), crit
    if adjust == "holm":
        return _holm(p), crit
    return _fdr(p), crit
