"""log10 of chi-square tail probabilities beyond the double-precision range.

Cochran's Q of a strongly heterogeneous variant can have a p-value below the
smallest double (``1e-308``): :func:`metamodels.batch.kernels.chi2_sf` then returns
0.  The GWAS output writes p-values from their log10 (exactly, to any size), and
:func:`log10_chi2_sf` supplies it for the heterogeneity test as
:func:`metamodels.batch.kernels.log10_pvalue_normal` does for the z-tests.
"""
from __future__ import annotations

import numpy as np
from scipy import special

from .kernels import LN10, chi2_sf

__all__ = ["log10_chi2_sf"]

#: Below this tail probability the continued fraction is used instead of ``log10``
#: of :func:`chi2_sf` (well inside the normal double range).
_TINY = 1e-280


def log10_chi2_sf(x, df, p=None):
    """``log10 P(chi2_df > x)``, finite however small the probability.

    Parameters
    ----------
    x, df : array_like
        Statistic and degrees of freedom (broadcast together).
    p : array, optional
        ``chi2_sf(x, df)`` if already computed.

    Returns
    -------
    ndarray
        ``log10`` of the tail probability; NaN where ``df < 1`` or ``x`` is NaN,
        ``-inf`` for ``x = +inf``.

    Notes
    -----
    Where ``p >= 1e-280`` this is ``log10 p``.  Smaller tails (``x`` far above
    ``df``) use the regularised upper incomplete gamma function
    ``Q(a, y) = P(chi2_df > x)`` with ``a = df/2``, ``y = x/2`` in log space:

    .. math::

        \\log Q(a, y) = -y + a \\log y - \\log\\Gamma(a) + \\log F,\\qquad
        F = \\cfrac{1}{y + 1 - a - \\cfrac{1 (1 - a)}{y + 3 - a -
            \\cfrac{2 (2 - a)}{y + 5 - a - \\dotsb}}}

    (Abramowitz and Stegun 6.5.31; Legendre's continued fraction, evaluated with the
    modified Lentz method, which converges in a few terms for ``y > a + 1``, the
    only case reached since ``Q >= 1e-280`` otherwise).
    """
    x = np.asarray(x, dtype=float)
    df = np.asarray(df, dtype=float)
    x, df = np.broadcast_arrays(x, df)
    if p is None:
        p = chi2_sf(x, df)
    p = np.broadcast_to(np.asarray(p, dtype=float), x.shape)
    out = np.full(x.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        big = p >= _TINY
        out[big] = np.log10(p[big])
        tiny = ~big & (df >= 1) & (x >= 0) & ~np.isnan(x)
    if tiny.any():
        out[tiny] = _log10_q_cf(0.5 * df[tiny], 0.5 * x[tiny])
    return out


def _log10_q_cf(a, y, eps=1e-15, maxiter=500):
    """``log10 Q(a, y)`` by the continued fraction (modified Lentz), for ``y > a``."""
    out = np.full(y.shape, -np.inf)
    fin = np.isfinite(y)
    a, yf = a[fin], y[fin]
    tiny = 1e-300
    b = yf + 1.0 - a
    c = np.full(yf.shape, 1.0 / tiny)
    d = 1.0 / b
    h = d.copy()
    todo = np.ones(yf.shape, dtype=bool)
    for i in range(1, maxiter + 1):
        an = -i * (i - a)
        b = b + 2.0
        d = an * d + b
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        step = d * c
        h = np.where(todo, h * step, h)
        todo &= np.abs(step - 1.0) >= eps
        if not todo.any():
            break
    out[fin] = (-yf + a * np.log(yf) - special.gammaln(a) + np.log(h)) / LN10
    return out
