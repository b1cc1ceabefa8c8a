r"""Han and Eskin's random-effects test RE2 for millions of variants.

``method="RE2"`` of :func:`metamodels.batch.meta_analyze` dispatches here.

Notes
-----
Han and Eskin (2011, Am J Hum Genet 88:586-598).  With ``b_i ~ N(mu, s_i^2 + tau^2)``
the likelihood-ratio statistic of ``mu = 0, tau^2 = 0`` against ``mu`` free and
``tau^2 >= 0`` is, at the joint ML estimates (the batch ML fit: profile likelihood
in ``tau^2``, ``mu`` its GLS estimate),

.. math::

    S_{RE2} = \sum_i \log\frac{s_i^2}{s_i^2 + \hat\tau^2} + \sum_i \frac{b_i^2}{s_i^2}
              - \sum_i \frac{(b_i - \hat\mu)^2}{s_i^2 + \hat\tau^2}.

Its asymptotic null distribution is ``0.5 chi2_1 + 0.5 chi2_2`` (``tau^2`` on the
boundary), which is conservative for few studies; the p-value is corrected by the
ratio ``p_exact / p_asym`` of :mod:`metamodels.batch.re2_table` (made by
``tests/reference/scripts/re2_correction.py``, exact for equal standard errors).
The decomposition ``z2_total = sum b_i^2/s_i^2 = z2_fixed + q`` splits the total
evidence into the fixed-effect ``Z_F^2`` and Cochran's ``Q`` (for ``tau^2 = 0``,
``S_RE2 = Z_F^2``).  A variant with one study has ``S = z^2`` on 1 df.
"""
from __future__ import annotations

import numpy as np
from scipy import special

from .re2_table import LOG10_LEVELS, LOG10_RATIO
from .subsets import valid_mask

__all__ = ["re2_columns", "re2_pvalue", "log10_re2_asymptotic", "RE2_COLUMNS"]

RE2_COLUMNS = ("k", "beta", "se", "z", "pvalue", "log10p", "tau2", "beta_re",
               "stat_re2", "pvalue_re2", "log10p_re2", "pvalue_re2_asym", "z2_total",
               "z2_fixed", "q", "q_df", "q_pvalue")

_LEVELS = np.r_[0.0, LOG10_LEVELS]
_KMAX = max(LOG10_RATIO)


def log10_re2_asymptotic(stat):
    """``log10`` of the asymptotic p-value ``P(0.5 chi2_1 + 0.5 chi2_2 > stat)``.

    ``0.5 P(chi2_1 > s) + 0.5 exp(-s/2)``, computed in logs so it stays finite for
    any ``s``.
    """
    s = np.maximum(np.asarray(stat, dtype=np.float64), 0.0)
    a = special.log_ndtr(-np.sqrt(s)) + np.log(2.0)           # log P(chi2_1 > s)
    b = -0.5 * s                                              # log P(chi2_2 > s)
    with np.errstate(invalid="ignore"):
        return (np.logaddexp(a, b) + np.log(0.5)) / np.log(10.0)


def re2_pvalue(stat, k, correct=True):
    """``log10`` RE2 p-values: asymptotic, times the small-k correction ratio.

    The ratio ``p_exact / p_asymptotic`` of :mod:`metamodels.batch.re2_table` (exact
    for equal standard errors, k = 2..50) is interpolated linearly in
    ``log10 p_asymptotic``; below the last level (1e-12) the last ratio is used
    (the ratio decreases slowly there, so this errs on the conservative side).  For
    k = 1 the statistic is ``z^2`` on 1 df; for k > 50 no correction is applied
    (the asymptotic p-value is conservative, by 13% at k = 50 and p = 1e-4).
    """
    stat = np.asarray(stat, dtype=np.float64)
    k = np.asarray(k)
    lp = log10_re2_asymptotic(stat)
    one = k == 1
    if np.any(one):
        lp = np.where(one, (special.log_ndtr(-np.sqrt(np.maximum(stat, 0))) + np.log(2.0))
                      / np.log(10.0), lp)
    if correct:
        for kk in np.unique(k[(k >= 2) & (k <= _KMAX)]):
            sel = k == kk
            ratio = np.r_[0.0, LOG10_RATIO[int(kk)]]
            # np.interp wants increasing x: levels are decreasing
            lp[sel] += np.interp(lp[sel], _LEVELS[::-1], ratio[::-1])
    lp = np.where(np.isnan(stat), np.nan, np.minimum(lp, 0.0))
    return lp


def re2_columns(beta, se, ml, correct=True):
    """The RE2 columns of the rows of ``beta``, ``se`` given their ML fits.

    Parameters
    ----------
    beta, se : (m, k) arrays (NaN: missing study)
    ml : dict
        :func:`metamodels.batch.meta_analyze` output with ``method="ML"``.
    """
    valid = valid_mask(beta, se)
    y = np.where(valid, beta, 0.0)
    v = np.where(valid, se, 1.0) ** 2
    k = ml["k"]
    t = np.where(k >= 2, np.nan_to_num(ml["tau2"], nan=0.0), 0.0)[:, None]
    mu = np.where(k >= 2, ml["beta_re"], ml["beta"])[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        z2_total = np.sum(np.where(valid, y * y / v, 0.0), axis=1)
        stat = (z2_total + np.sum(np.where(valid, np.log(v / (v + t))
                                           - (y - mu) ** 2 / (v + t), 0.0), axis=1))
    stat = np.where(k > 0, np.maximum(stat, 0.0), np.nan)
    z2_total = np.where(k > 0, z2_total, np.nan)
    lp = re2_pvalue(stat, k, correct=correct)
    out = {c: ml[c] for c in ("k", "beta", "se", "z", "pvalue", "log10p", "q", "q_df",
                              "q_pvalue")}
    out["tau2"] = ml["tau2"]
    out["beta_re"] = ml["beta_re"]
    out["stat_re2"] = stat
    out["log10p_re2"] = lp
    out["pvalue_re2"] = np.power(10.0, lp)
    out["pvalue_re2_asym"] = np.power(10.0, np.where(k == 1, lp,
                                                     log10_re2_asymptotic(stat)))
    out["z2_total"] = z2_total
    out["z2_fixed"] = ml["z"] ** 2
    return out




def re2_from_ml(beta, se, ml, *, as_frame=True, index=None, correct=True):
    """The RE2 statistic, its p-value and the decomposition from the batch ML fits ``ml``
    (the dict ``meta_analyze(beta, se, "ML", as_frame=False)`` returns) of the same rows;
    ``meta_analyze(beta, se, method="RE2")`` calls this (see its docstring)."""
    out = re2_columns(beta, se, ml, correct=correct)
    out["converged"] = ml["converged"]
    if not as_frame:
        return out
    import pandas as pd

    return pd.DataFrame({c: out[c] for c in RE2_COLUMNS + ("converged",)}, index=index)
