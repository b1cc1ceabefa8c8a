"""Distribution of the studentized range (Tukey's HSD) by fixed Gauss-Legendre quadrature.

``Q = R / s`` with ``R`` the range of ``k`` independent standard normals and
``s^2 ~ chi2_df / df`` independent of them:

    P(Q <= q) = int_0^inf f_s(s) W(q s) ds,
    W(w) = k int phi(z) [Phi(z) - Phi(z - w)]^(k-1) dz,
    f_s(s) = 2 (df/2)^(df/2) / Gamma(df/2) s^(df-1) exp(-df s^2 / 2),

(``df = inf``: ``P(Q <= q) = W(q)``; ``df < 2``: scipy's adaptive quadrature).  Both
integrals use composite Gauss-Legendre rules on fixed panels (``z`` in [-9, 9]; ``log s``
between the 1e-16 and 1 - 1e-16 quantiles of ``s``, the density's constant replaced by the
rule's normalisation), as Copenhaver and Holland (1988) did (R's ``ptukey``); the quantile
solves ``P(Q <= q) = p`` by secant steps from a nearby solved df, else Brent's method.
Accuracy 1e-10 (absolute) or better against adaptive quadrature
(``scipy.stats.studentized_range``) for ``2 <= df <= 5000``, at a few milliseconds a value
instead of tenths of a second (scipy treats ``df >= 1e5`` as infinite; here ``df > 1e7``).

References
----------
Copenhaver MD, Holland B (1988) Computation of the distribution of the maximum
studentized range statistic with application to multiple significance testing of simple
effects.  J Stat Comput Simul 30: 1-15.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import optimize, special, stats

__all__ = ["ptukey", "qtukey"]

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(20)


def _panels(lo, hi, n):
    edges = np.linspace(lo, hi, n + 1)
    half = np.diff(edges)[:, None] / 2.0
    mid = (edges[:-1] + edges[1:])[:, None] / 2.0
    return (mid + half * _NODES).ravel(), (half * _WEIGHTS).ravel()


_Z, _WZ = _panels(-9.0, 9.0, 12)
_PHI_Z = stats.norm.pdf(_Z) * _WZ
_CDF_Z = special.ndtr(_Z)


def _range_cdf(w, k):
    """``P(R <= w)`` for the range of ``k`` standard normals, ``w`` an array."""
    w = np.asarray(w, dtype=float)
    inner = np.clip(_CDF_Z - special.ndtr(_Z - w[..., None]), 0.0, 1.0) ** (k - 1)
    return np.clip(k * inner @ _PHI_Z, 0.0, 1.0)


@lru_cache(maxsize=256)
def _s_rule(df):
    """Nodes and density-weighted weights of ``s = sqrt(chi2_df / df)``, integrated over
    ``log s`` (smooth for every ``df > 0``)."""
    lo = 0.5 * np.log(stats.chi2.ppf(1e-16, df) / df)
    hi = 0.5 * np.log(stats.chi2.isf(1e-16, df) / df)
    t, w = _panels(lo, hi, 12)
    s = np.exp(t)
    logf = df * t - df * s * s / 2.0            # log density up to its constant
    f = w * np.exp(logf - logf.max())
    return s, f / f.sum()                       # the rule integrates the density to 1


def _cdf(q, k, df):
    if q <= 0:
        return 0.0
    if not np.isfinite(df) or df > 1e7:
        return float(_range_cdf(np.array([q]), k)[0])
    if df < 2:          # s^(df-1) too spread in log s for the fixed rule: adaptive quadrature
        return float(stats.studentized_range.cdf(q, k, df))
    s, w = _s_rule(float(df))
    return float(np.clip(_range_cdf(q * s, k) @ w, 0.0, 1.0))


def ptukey(q, k, df, upper=False):
    """``P(Q <= q)`` (``upper=True``: ``P(Q > q)``) of the studentized range of ``k``
    means with ``df`` degrees of freedom; ``q`` and ``df`` broadcast."""
    q, df = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(df, dtype=float))
    out = np.array([_cdf(a, int(k), b) for a, b in zip(q.ravel(), df.ravel())])
    out = out.reshape(q.shape)
    return 1.0 - out if upper else out


def qtukey(p, k, df):
    """Quantile of the studentized range: ``q`` with ``P(Q <= q) = p`` (``df`` an array)."""
    df = np.atleast_1d(np.asarray(df, dtype=float))
    out = np.empty(df.shape)
    cache = {}
    for i, d in enumerate(df.ravel()):
        if d not in cache:
            cache[d] = _solve(p, int(k), d, cache)
        out.flat[i] = cache[d]
    return out


def _solve(p, k, df, cache):
    """Root of ``P(Q <= q) = p``: secant steps from the solution at the nearest df already
    solved, Brent's method on a bracket if they fail."""
    def f(x):
        return _cdf(x, k, df) - p
    if cache:
        near = min(cache, key=lambda d: abs(np.log(d / df)) if np.isfinite(d * df) else 0)
        x0 = cache[near]
        try:
            x = optimize.newton(f, x0, x1=x0 * 1.001, tol=1e-12, maxiter=20)
            if np.isfinite(x) and x > 0 and abs(f(x)) < 1e-12:
                return float(x)
        except (RuntimeError, OverflowError):
            pass
    hi = 10.0
    while f(hi) < 0:
        hi *= 2.0
    return optimize.brentq(f, 0.0, hi, xtol=1e-13, rtol=1e-13)
