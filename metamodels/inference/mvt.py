"""Multivariate normal and t probabilities of centred boxes, for single-step adjustments.

``box_probability(c, corr, df)`` is ``P(max_j |T_j| < c)`` for ``T`` multivariate t with
correlation matrix ``corr`` and ``df`` degrees of freedom (``df = inf``: normal). It is
the probability behind single-step ("mvt") multiplicity adjustments of a family of t
statistics with known correlation: Dunnett's (1955) test of treatments against a control
is the special case of the ``trt.vs.ctrl`` family, and Tukey's of the pairwise family.

Method (Genz 1992; Genz and Bretz 2002): with ``corr = C C'`` (Cholesky) and
``T = Z / s``, ``Z = C e``, ``s = sqrt(chi2_df / df)``, the probability is the integral over
the unit cube of a product of one-dimensional normal probabilities
(separation of variables):

.. math::

    P = \\int_0^1 \\cdots \\int_0^1 \\prod_{i=1}^m
        \\left[\\Phi\\left(\\frac{c s - \\sum_{j<i} C_{ij} y_j}{C_{ii}}\\right)
        - \\Phi\\left(\\frac{-c s - \\sum_{j<i} C_{ij} y_j}{C_{ii}}\\right)\\right] \\, dw,

``s = F^{-1}_{\\chi_{df}/\\sqrt{df}}(w_0)`` and ``y_i = \\Phi^{-1}(d_i + w_i (e_i - d_i))``.
The integral is evaluated by a randomised rank-1 lattice rule (Richtmyer generators
``frac(k sqrt(prime))``) with the baker's transform, averaged over a fixed set of random
shifts: the result is deterministic, smooth in ``c`` (common points), and its standard
error is returned.

References
----------
Genz A (1992) Numerical computation of multivariate normal probabilities. J Comput Graph
Stat 1:141-149. Genz A, Bretz F (2002) Comparison of methods for the computation of
multivariate t probabilities. J Comput Graph Stat 11:950-971. Dunnett CW (1955) A multiple
comparison procedure for comparing several treatments with a control. JASA 50:1096-1121.
Genz A, Bretz F (2009) Computation of Multivariate Normal and t Probabilities. Lecture
Notes in Statistics 195, Springer. Hothorn T, Bretz F, Westfall P (2008) Simultaneous inference in general parametric
models. Biometrical J 50:346-363 (the single-step method).
"""
from __future__ import annotations

import numpy as np
from scipy import optimize, special, stats

__all__ = ["box_probability", "box_quantile", "single_step", "single_step_pvalues"]

def _primes(count):
    """The first ``count`` primes (the lattice's generators are their square roots)."""
    found = []
    k = 2
    while len(found) < count:
        if all(k % q for q in found if q * q <= k):
            found.append(k)
        k += 1
    return np.array(found, dtype=float)


def _points(dim, n, shifts, seed=20261206):
    """``(shifts, n, dim)`` baker-transformed, randomly shifted Richtmyer lattice points."""
    gen = np.sqrt(_primes(dim))
    k = np.arange(1, n + 1, dtype=float)[:, None]
    base = np.mod(k * gen, 1.0)
    shift = np.random.default_rng(seed).random((shifts, 1, dim))
    return np.abs(2.0 * np.mod(base[None] + shift, 1.0) - 1.0)


def _cholesky(corr, tol=1e-10):
    """Lower-triangular ``L`` with ``L L' = corr`` for a positive semi-definite ``corr``.

    A singular family (pairwise differences of ``k`` means: rank ``k - 1``; ``eff``
    contrasts, which sum to zero) has estimates that are exact linear functions of the
    earlier ones: their pivots are zero and their columns of ``L`` are set to zero
    (``_Box._integral`` turns their constraints into bounds on the last free variable
    they depend on; Genz and Bretz 2009, sec. 2.3).
    """
    corr = np.asarray(corr, dtype=float)
    m = corr.shape[0]
    L = np.zeros((m, m))
    for i in range(m):
        d = corr[i, i] - L[i, :i] @ L[i, :i]
        if d < -1e-8:
            raise np.linalg.LinAlgError("correlation matrix of the family is not positive "
                                        "semi-definite")
        if d <= tol:
            continue                              # deterministic given the earlier ones
        L[i, i] = np.sqrt(d)
        L[i + 1:, i] = (corr[i + 1:, i] - L[i + 1:, :i] @ L[i, :i]) / L[i, i]
    return L


class _Box:
    """``c -> P(max_j |T_j| < c)`` for one correlation and df, on fixed lattice points
    (the chi quantiles of the points are computed once and reused for every ``c``)."""

    def __init__(self, corr, df, n=16384, shifts=8):
        self.corr = np.atleast_2d(np.asarray(corr, dtype=float))
        self.df = float(df)
        m = self.corr.shape[0]
        self.m = m
        if m == 1:
            return
        self.chol = _cholesky(self.corr)
        finite = np.isfinite(self.df)
        w = _points(max(m - 1 + finite, 1), n, shifts)
        if finite:
            u = np.clip(w[..., 0], 1e-300, 1 - 1e-16)
            self.s = np.sqrt(stats.chi2.ppf(u, self.df) / self.df)
            w = w[..., 1:]
        else:
            self.s = np.ones(w.shape[:-1])
        self.w = w

    def _integral(self, lo, hi, chol, w):
        """Mean over shifts (and its SE) of the separated integrand of
        ``P(lo_i s < T_i < hi_i s)``, ``T = chol y``, ``y ~ N(0, I)``.

        Each row's constraint bounds the last ``y_j`` it depends on, given the earlier
        ones; the bounds of all rows ending at ``j`` are intersected, so rows that are
        exact functions of earlier ones (zero pivots) stay smooth constraints (Genz and
        Bretz 2009, sec. 2.3) rather than indicator functions.
        """
        m = chol.shape[0]
        s = self.s
        nz = np.abs(chol) > 1e-12
        last = np.array([np.flatnonzero(nz[i]).max() for i in range(m)])
        f = np.ones(s.shape)
        y = np.zeros(s.shape + (m,))
        free = [j for j in range(m) if chol[j, j] != 0.0]
        for n_done, j in enumerate(free):
            a = np.full(s.shape, -np.inf)
            b = np.full(s.shape, np.inf)
            for i in np.flatnonzero(last == j):
                centre = y[..., :j] @ chol[i, :j] if j else 0.0
                u = (lo[i] * s - centre) / chol[i, j]
                v = (hi[i] * s - centre) / chol[i, j]
                if chol[i, j] < 0:
                    u, v = v, u
                a = np.maximum(a, u)
                b = np.minimum(b, v)
            d = special.ndtr(a)
            e = special.ndtr(np.maximum(a, b))
            f *= e - d
            if n_done < len(free) - 1:
                y[..., j] = special.ndtri(np.clip(d + w[..., n_done] * (e - d),
                                                  1e-300, 1 - 1e-16))
        vals = f.mean(axis=1)
        return float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(vals.size))

    def __call__(self, c):
        """``(probability, standard error)`` of ``max_j |T_j| < c``."""
        if c <= 0:
            return 0.0, 0.0
        if self.m == 1:
            return float(1.0 - 2.0 * stats.t.sf(c, self.df)), 0.0
        lim = np.full(self.m, float(c))
        return self._integral(-lim, lim, self.chol, self.w)

    def exceed(self, c):
        """``P(max_j |T_j| >= c)`` with relative accuracy (small p-values).

        The union is split into disjoint events ``|T_j| >= c, |T_k| < c (k < j)``; each is
        twice (symmetry) a separated integral with ``T_j`` first and bounded below by
        ``c``, so its tail factor multiplies rather than cancels.
        """
        if self.m == 1:
            return float(2.0 * stats.t.sf(c, self.df))
        total = 0.0
        for j in range(self.m):
            order = [j] + list(range(j))
            chol = _cholesky(self.corr[np.ix_(order, order)])
            lo = np.r_[c, np.full(j, -c)]
            hi = np.r_[np.inf, np.full(j, c)]
            total += 2.0 * self._integral(lo, hi, chol, self.w)[0]
        return min(1.0, total)


def box_probability(c, corr, df=np.inf, n=16384, shifts=8):
    """``P(max_j |T_j| < c)`` for multivariate t (or normal) ``T`` with correlation ``corr``.

    Parameters
    ----------
    c : float
        Half-width of the box (``c >= 0``).
    corr : (m, m) array_like
        Correlation matrix of ``T`` (positive semi-definite).
    df : float, optional
        Degrees of freedom (any positive real; ``inf`` for the normal).
    n, shifts : int, optional
        Lattice points per shift and number of random shifts.

    Returns
    -------
    prob, stderr : float
        The probability and the standard error of its lattice estimate.
    """
    return _Box(corr, df, n, shifts)(c)


def _boxes(corr, df):
    """One :class:`_Box` per distinct df of a family (each row uses its own df; rows
    whose df is undefined get no box and NaN results)."""
    df = np.asarray(df, dtype=float)
    return {d: _Box(corr, d) for d in np.unique(df[~np.isnan(df)])}


def _quantile(box, level):
    """The ``c`` with ``box(c) = level``, between the unadjusted and the Bonferroni
    critical values."""
    alpha = 1.0 - level
    lo = stats.t.ppf(1.0 - alpha / 2.0, box.df)
    hi = stats.t.ppf(1.0 - alpha / (2.0 * box.m), box.df)
    if box.m == 1:
        return float(lo)
    f = lambda c: box(c)[0] - level  # noqa: E731
    if f(hi) <= 0:
        return float(hi)
    if f(lo) >= 0:
        return float(lo)
    return float(optimize.brentq(f, lo, hi, xtol=1e-10))


def single_step(t, corr, df, level):
    """Single-step adjusted p-values and simultaneous critical values of one family.

    Parameters
    ----------
    t : (m,) array_like
        t statistics.
    corr : (m, m) array_like
        Correlation matrix of the family's estimates.
    df : float or (m,) array_like
        Degrees of freedom of each row.
    level : float
        Joint coverage of the intervals (``1 - alpha``).

    Returns
    -------
    pvalues, crit : (m,) numpy.ndarray
        As :func:`single_step_pvalues` and :func:`box_quantile`, sharing the lattice
        work of each df.
    """
    t = np.asarray(t, dtype=float)
    df = np.broadcast_to(np.asarray(df, dtype=float), t.shape)
    boxes = _boxes(corr, df)
    crit = np.full(t.size, np.nan)
    for d, box in boxes.items():
        crit[df == d] = _quantile(box, level)
    return single_step_pvalues(t, corr, df, boxes), crit


def single_step_pvalues(t, corr, df, boxes=None):
    """Single-step adjusted p-values ``P(max_j |T_j| >= |t_i|)`` of one family.

    Each row uses its own ``df`` (as emmeans' ``adjust = "mvt"`` and Tukey's adjustment
    do). Adjusted p-values below 1e-4 are computed as a sum of disjoint tail
    probabilities (``_Box.exceed``), which keeps their relative accuracy; all are kept
    within the always-valid bounds ``[p_i, min(1, m p_i)]`` (unadjusted and Bonferroni).
    """
    t = np.abs(np.asarray(t, dtype=float))
    df = np.broadcast_to(np.asarray(df, dtype=float), t.shape)
    m = t.size
    p_unadj = 2.0 * stats.t.sf(t, df)
    if boxes is None:
        boxes = _boxes(corr, df)
    out = np.empty(m)
    for i in range(m):
        if np.isnan(t[i]) or np.isnan(df[i]):
            out[i] = np.nan
            continue
        if np.isinf(t[i]):
            out[i] = 0.0
            continue
        box = boxes[df[i]]
        out[i] = 1.0 - box(t[i])[0]
        if out[i] < 1e-4:            # below the lattice's absolute accuracy: the tail
            out[i] = box.exceed(t[i])  # sum keeps relative accuracy
    return np.clip(out, p_unadj, np.minimum(1.0, m * p_unadj))


def box_quantile(level, corr, df=np.inf):
    """The ``c`` with ``P(max_j |T_j| < c) = level`` (simultaneous interval half-width).

    Parameters
    ----------
    level : float
        Joint coverage, e.g. 0.95.
    corr : (m, m) array_like
        Correlation matrix of the family.
    df : float, optional
        Degrees of freedom (``inf`` for the normal).

    Returns
    -------
    float
        The critical value; between the unadjusted and the Bonferroni one.
    """
    return _quantile(_Box(corr, df), level)
