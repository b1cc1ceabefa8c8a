"""Vectorised kernels: many intercept-only meta-analyses at once.

Every function works on a *block* of ``b`` meta-analyses of at most ``k`` studies held
study-major, i.e. as ``(k, b)`` arrays (one column per meta-analysis), so that the sums
over studies are ``k - 1`` vectorised additions of length-``b`` rows:

``Y``
    effects ``y_ij``, 0 where study ``j`` lacks meta-analysis ``i``;
``V``
    sampling variances ``v_ij = se_ij^2``, ``+inf`` where missing;
``W``
    fixed-effects weights ``w_ij = 1/v_ij`` (0 where missing).

With ``+inf`` variances a missing study gets weight ``1/(v + tau^2) = 0`` for every
``tau^2``, so no mask is needed in the sums.  The formulas are those of
:mod:`metamodels.univariate.estimators` for the design ``X = 1`` (``p = 1``):

* fixed effect: ``b = sum w y / sum w``, ``se = (sum w)^{-1/2}``,
  ``Q = sum w (y - b)^2`` on ``k - 1`` df;
* DerSimonian-Laird: ``tau^2 = max(0, (Q - (k-1)) / (sum w - sum w^2 / sum w))``;
* Hedges: ``tau^2 = max(0, [sum (y - ybar)^2 - (k-1)/k sum v] / (k - 1))``;
* Paule-Mandel: the root of ``Q(tau^2) = sum w_t (y - b_t)^2 = k - 1`` with
  ``w_t = 1/(v + tau^2)``;
* ML / REML: the global maximiser of the (restricted) log-likelihood
  ``l = -1/2 [sum log(v + t) + Q(t)]`` (``+ log sum w_t`` for REML) over ``t >= 0``
  (the search of :mod:`metamodels.core.tau2`, shared with the single fits);
* random-effects estimate ``b_t = sum w_t y / sum w_t``, ``se = (sum w_t)^{-1/2}``;
* ``I^2 = t / (t + s^2)`` with ``s^2 = (k-1) sum w / ((sum w)^2 - sum w^2)``
  (random effects) or ``max(0, (Q - (k-1)) / Q)`` (fixed effect).

Rows with ``k = 0`` give NaN; with ``k = 1`` the fixed-effect estimate is the study's
own, ``Q = 0`` on 0 df and everything that needs ``k >= 2`` is NaN.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from ..core.tau2 import Pieces, dl, global_maximum, he, q_equation_root, score_upper_bound

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = [
    "prepare_block", "fixed_effect", "tau2_dl", "tau2_he", "tau2_pm", "tau2_ml_reml",
    "random_effects", "i2_fixed", "i2_random", "log10_pvalue_normal", "chi2_sf",
    "LN10", "CHI2_1_MEDIAN",
]

LN10 = float(np.log(10.0))
LN2 = float(np.log(2.0))
from .methods import CHI2_1_MEDIAN  # noqa: E402  (re-exported)


def prepare_block(beta, se, out=None, return_complete=False):
    """Study-major working arrays of a block of rows.

    Parameters
    ----------
    beta, se : (b, k) arrays
        Effects and standard errors, one meta-analysis per row; a study is missing when
        either value is NaN or infinite, or ``se <= 0``.
    out : tuple of (at least) three C-contiguous float arrays of ``>= k b`` elements
        (e.g. ``(k, b')`` with ``b' >= b``), optional
        Buffers to reuse (their first ``k b`` elements, as contiguous ``(k, b)``
        arrays).
    return_complete : bool
        Also return whether no study is missing in any row of the block.

    Returns
    -------
    Y, V, W : (k, b) arrays
        Effects (0 where missing), variances (``+inf`` where missing) and weights
        ``1/V``.
    n : (b,) int array
        Number of contributing studies ``k_i``.
    complete : bool
        Only with ``return_complete``: ``n == k`` in every row.
    """
    b, k = beta.shape
    if out is None:
        Y, V, W = (np.empty((k, b)) for _ in range(3))
    else:
        Y, V, W = (a.reshape(-1)[:k * b].reshape(k, b) for a in out[:3])
    # a complete block (the common case: every se in (0, inf), every beta finite) skips
    # the masks, by three reductions of the contiguous inputs (NaN fails every test; a
    # sum of finite betas that overflows only sends the block to the masks, which give
    # the same result; they also bring the inputs into the cache for the transposed
    # copies), and V = se^2 is squared straight from the input
    complete = bool(beta.size and se.min() > 0 and se.max() < np.inf
                    and np.isfinite(beta.sum()))
    np.copyto(Y, beta.T)
    if complete:
        with np.errstate(over="ignore"):  # se^2 beyond the double range: weight 0
            np.multiply(se.T, se.T, out=V)
        n = np.full(b, k, dtype=np.int64)
    else:
        np.copyto(V, se.T)
        ok = np.isfinite(Y)                   # finite beta,
        tmp = np.empty_like(ok)
        with np.errstate(invalid="ignore"):
            ok &= np.greater(V, 0.0, out=tmp)     # se > 0 (not NaN)
            ok &= np.less(V, np.inf, out=tmp)     # and finite
        with np.errstate(over="ignore"):      # se^2 beyond the double range: weight 0
            np.multiply(V, V, out=V)
        # the few missing cells by their flat indices (a masked copy scans every cell)
        miss = np.flatnonzero(np.logical_not(ok, out=tmp))
        Y.reshape(-1)[miss] = 0.0
        V.reshape(-1)[miss] = np.inf
        n = ok.sum(axis=0)
    np.divide(1.0, V, out=W)
    return (Y, V, W, n, complete) if return_complete else (Y, V, W, n)


def fixed_effect(Y, W, out=None, sw2=True, work=None):
    """Inverse-variance fixed-effect estimates and Cochran's Q.

    ``b = sum w y / sum w``, ``se = 1/sqrt(sum w)``, ``Q = sum w (y - b)^2`` (two-pass,
    without the cancellation of ``sum w y^2 - (sum w y)^2 / sum w``).

    Parameters
    ----------
    Y, W : (k, b) arrays
        As returned by :func:`prepare_block`.
    out : tuple of three (b,) float arrays, optional
        Where ``beta``, ``se`` and ``q`` are written.
    sw2 : bool
        Compute ``sum w^2`` (else ``None`` is returned in its place).
    work : (k, b') float array with ``b' >= b``, optional
        Scratch space.

    Returns
    -------
    beta, se, q, sw, sw2 : (b,) arrays
        ``sw = sum w`` and ``sw2 = sum w^2`` are reused by the tau^2 estimators.
    """
    b_out, se_out, q_out = (None, None, None) if out is None else out
    sw = W.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = np.divide(np.einsum("ij,ij->j", W, Y), sw, out=b_out)
        se = np.sqrt(sw)
        se = np.divide(1.0, se, out=se_out if se_out is not None else se)
    tmp = np.subtract(Y, beta, out=None if work is None
                      else work.reshape(-1)[:Y.size].reshape(Y.shape))
    with np.errstate(invalid="ignore"):
        q = np.einsum("ij,ij,ij->j", tmp, tmp, W, out=q_out)   # W = 0 where missing
    return beta, se, q, sw, (np.einsum("ij,ij->j", W, W) if sw2 else None)


def i2_fixed(q, n, out=None):
    """``I^2 = max(0, (Q - (k-1)) / Q)`` (0 when ``Q = 0``; NaN when ``k < 2``); ``n``
    an array or one number for all rows; written into ``out`` if given."""
    df = n - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        i2 = np.subtract(q, df, out=out)
        np.divide(i2, q, out=i2)
        np.maximum(0.0, i2, out=i2)
    np.copyto(i2, 0.0, where=q == 0)
    if np.ndim(n) == 0:
        if n < 2:
            i2[...] = np.nan
    else:
        i2[n < 2] = np.nan
    return i2


def _trace_p0(sw, sw2):
    """``tr(P_0) = sum w - sum w^2 / sum w`` (0 when ``k = 1``)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return sw - sw2 / sw


def tau2_dl(q, n, sw, sw2):
    """DerSimonian-Laird: ``tau^2 = max(0, (Q - (k-1)) / tr(P_0))``; NaN when ``k < 2``."""
    t = dl(q, n - 1.0, _trace_p0(sw, sw2))
    t[n < 2] = np.nan
    return t


def tau2_he(Y, V, n):
    """Hedges: ``tau^2 = max(0, [sum (y - ybar)^2 - (k-1)/k sum v] / (k - 1))`` with the
    unweighted mean ``ybar``; NaN when ``k < 2``."""
    miss = np.isinf(V)
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = Y.sum(axis=0) / n
        d = Y - ybar
        d[miss] = 0.0
        ss = np.einsum("ij,ij->j", d, d)
        sv = np.where(miss, 0.0, V).sum(axis=0)
        t = he(ss, (n - 1.0) / n * sv, n - 1.0)
    t[n < 2] = np.nan
    return t


def random_effects(Y, V, tau2):
    """GLS estimate with weights ``w_t = 1/(v + tau^2)``: ``b_t = sum w_t y / sum w_t``,
    ``se_t = (sum w_t)^{-1/2}``."""
    Wt = V + tau2
    np.divide(1.0, Wt, out=Wt)
    swt = Wt.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = np.einsum("ij,ij->j", Wt, Y) / swt
        se = 1.0 / np.sqrt(swt)
    return beta, se


def i2_random(tau2, n, sw, sw2):
    """``I^2 = tau^2 / (tau^2 + s^2)``, ``s^2 = (k-1) sum w / ((sum w)^2 - sum w^2)``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = (n - 1.0) * sw / (sw * sw - sw2)
        i2 = tau2 / (tau2 + s2)
    i2[n < 2] = np.nan
    return i2


# ------------------------------------------------------------------ iterative
def _weights_and_residuals(Y, V, t):
    """``w_t = 1/(v + t)``, ``sum w_t`` and ``r = y - b_t`` (``b_t`` the weighted mean)
    per column, as new arrays the callers may overwrite."""
    W = V + t
    np.divide(1.0, W, out=W)
    sw = W.sum(axis=0)
    R = W * Y
    with np.errstate(invalid="ignore", divide="ignore"):
        b = R.sum(axis=0) / sw
    np.subtract(Y, b, out=R)
    return W, sw, R


def _weighted_moments(Y, V, t):
    """``u1 = sum w_t r^2`` (the generalised Q) and ``u2 = sum w_t^2 r^2`` at
    ``tau^2 = t``, with ``w_t = 1/(v + t)`` and ``r = y - b_t`` (one value per column)."""
    W, sw, R = _weights_and_residuals(Y, V, t)
    np.multiply(R, W, out=W)                      # w r (0 where missing)
    u1 = np.einsum("ij,ij->j", W, R)
    u2 = np.einsum("ij,ij->j", W, W)
    return u1, u2


def tau2_pm(Y, V, n, tol=1e-12, maxiter=200):
    """Paule-Mandel estimator, all columns at once: the root of
    ``Q(t) = sum w_t (y - b_t)^2 = k - 1`` (``0`` when ``Q(0) <= k - 1``) by the
    safeguarded Newton steps of :func:`metamodels.core.tau2.q_equation_root`, shared with
    the single fits, with ``Q'(t) = -sum w_t^2 (y - b_t)^2``.

    Returns
    -------
    tau2 : (b,) array (NaN when ``k < 2``)
    converged : (b,) bool array
    """
    m = Y.shape[1]
    tau2 = np.full(m, np.nan)
    conv = np.ones(m, dtype=bool)
    cols = np.flatnonzero(n >= 2)
    if cols.size:
        Yc, Vc = Y[:, cols], V[:, cols]
        est, ok = q_equation_root(lambda rows, t: _weighted_moments(Yc[:, rows], Vc[:, rows], t),
                                  n[cols] - 1.0, tol=tol, maxiter=maxiter)
        tau2[cols] = est
        conv[cols] = ok
    return tau2, conv


def _pieces(Y, V, t, reml):
    """Score ingredients (:class:`~metamodels.core.tau2.Pieces`) of (RE)ML at
    ``tau^2 = t`` (per column), for the design ``X = 1``.

    With ``w = 1/(v + t)``, ``r = y - b_t``, ``s_j = sum w^j`` and ``P = W - ww'/s_1``
    (so ``Py = w r``): ``F = y'P^2y = sum w^2 r^2``, ``G = tr P = s_1 - s_2/s_1`` (REML)
    or ``s_1`` (ML), ``H = y'P^3y = sum w^3 r^2 - (sum w^2 r)^2 / s_1`` and
    ``K = tr(P^2)/2 = (s_2 - 2 s_3/s_1 + s_2^2/s_1^2)/2`` (REML) or ``s_2/2`` (ML).
    """
    W, sw, WR = _weights_and_residuals(Y, V, t)
    np.multiply(WR, W, out=WR)                    # w r (0 where missing)
    tmp = WR * WR                                 # w^2 r^2
    F = tmp.sum(axis=0)
    np.multiply(tmp, W, out=tmp)                  # w^3 r^2
    u3 = tmp.sum(axis=0)
    np.multiply(WR, W, out=WR)                    # w^2 r
    c = WR.sum(axis=0)
    np.multiply(W, W, out=tmp)
    sw2 = tmp.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if reml:
            np.multiply(tmp, W, out=tmp)
            sw3 = tmp.sum(axis=0)
            a = sw2 / sw
            G = sw - a
            K = 0.5 * (sw2 - 2.0 * sw3 / sw + a * a)
        else:
            G = sw
            K = 0.5 * sw2
        H = u3 - c * c / sw
    return Pieces(0.5 * (F - G), F, G, H, K)


def _loglik(Y, V, t, reml):
    """``l(t) = -1/2 [sum log(v + t) + Q(t)]`` (``+ log sum w_t`` inside for REML)."""
    W, sw, R = _weights_and_residuals(Y, V, t)
    np.multiply(R, R, out=R)
    q = np.einsum("ij,ij->j", R, W)
    with np.errstate(divide="ignore"):
        np.log(W, out=R)
    R[W == 0] = 0.0
    llf = 0.5 * R.sum(axis=0) - 0.5 * q
    if reml:
        llf -= 0.5 * np.log(sw)
    return llf


def _search_bound(Y, V, n, reml):
    """:func:`~metamodels.core.tau2.score_upper_bound` per column: ``RSS`` of the
    unweighted mean, ``m = k - 1`` (REML) or ``k`` (ML) and the extreme variances."""
    miss = np.isinf(V)
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = Y.sum(axis=0) / n
        d = np.where(miss, 0.0, Y - ybar)
        rss = np.einsum("ij,ij->j", d, d)
    vmin = V.min(axis=0)
    vmax = np.where(miss, 0.0, V).max(axis=0)
    return score_upper_bound(rss, n - 1.0 if reml else n * 1.0, vmin, vmax)


def tau2_ml_reml(Y, V, n, start=None, reml=True, tol=1e-10, maxiter=100):
    """(Restricted) maximum-likelihood tau^2: the global maximiser over ``t >= 0``.

    Maximises ``l = -1/2 [sum log(v + t) + Q(t)]`` (ML) or
    ``l = -1/2 [sum log(v + t) + log sum w_t + Q(t)]`` (REML) in all columns at once
    with :func:`metamodels.core.tau2.global_maximum` -- the algorithm of the single
    fits (:meth:`metamodels.core.scalar.DiagonalTau2.maximize`), fed with the score
    ingredients of :func:`_pieces` -- on ``[0, U]``, ``U`` the data-derived bound
    beyond which the score is negative (:func:`_search_bound`).  Every local maximum
    is located and the highest likelihood is kept, so the result is the global
    maximiser (see :mod:`metamodels.core.tau2` for the guarantee), also where the
    likelihood is multimodal.

    Parameters
    ----------
    Y, V : (k, b) arrays
    n : (b,) ints
    start : ignored (kept for compatibility: the search needs no start)
    reml : bool
    tol, maxiter : convergence controls of the Newton steps (``tol`` relative to
        ``t + se``)

    Returns
    -------
    tau2 : (b,) array (NaN when ``k < 2``)
    converged : (b,) bool array (True also where ``k < 2``: nothing to iterate)
    """
    m = Y.shape[1]
    tau2 = np.full(m, np.nan)
    conv = np.ones(m, dtype=bool)
    cols = np.flatnonzero(n >= 2)
    if cols.size == 0:
        return tau2, conv
    Yc, Vc = (Y, V) if cols.size == m else (Y[:, cols], V[:, cols])

    def pieces(rows, t):
        if rows is None:
            return _pieces(Yc, Vc, t, reml)
        return _pieces(Yc[:, rows], Vc[:, rows], t, reml)

    def loglik(rows, t):
        return _loglik(Yc[:, rows], Vc[:, rows], t, reml)

    U = _search_bound(Yc, Vc, n[cols], reml)
    est, _, ok = global_maximum(pieces, loglik, U, tol=tol, maxiter=maxiter)
    tau2[cols] = est
    conv[cols] = ok
    return tau2, conv


# -------------------------------------------------------------------- p-values
def log10_pvalue_normal(z: ArrayLike, out: np.ndarray | None = None) -> np.ndarray:
    """Two-sided normal p-value on the log10 scale, without underflow.

    ``log10 p = (log 2 + log Phi(-|z|)) / log 10`` with ``log Phi`` from
    :func:`scipy.special.log_ndtr`, finite for any finite ``z`` (``z = 50`` gives about
    -544.7); NaN where ``z`` is NaN.

    Parameters
    ----------
    z : array_like
        z statistics.
    out : numpy.ndarray, optional
        An array of the shape of ``z`` to write into (the same operations, in place).

    Returns
    -------
    numpy.ndarray
        ``log10`` of the two-sided p-values (same shape as ``z``; ``out`` when given).

    Examples
    --------
    >>> from metamodels.batch import log10_pvalue_normal
    >>> log10_pvalue_normal([1.96, 50.0]).round(2)
    array([  -1.3 , -544.67])
    """
    if out is None:
        return (LN2 + special.log_ndtr(-np.abs(z))) / LN10
    np.abs(z, out=out)                    # the same operations, in place
    np.negative(out, out=out)
    special.log_ndtr(out, out=out)
    out += LN2
    out /= LN10
    return out


def chi2_sf(x: ArrayLike, df: ArrayLike) -> np.ndarray:
    """Upper tail of the chi-square distribution, ``P(chi2_df > x)``, elementwise.

    Integer ``df <= 64`` (and ``x < 1000``, beyond which the leading ``exp(-x/2)``
    would lose precision) use the closed forms of Abramowitz and Stegun 26.4.4-5 (one
    vectorised pass for all rows): even ``df = 2m``:
    ``exp(-x/2) sum_{j<m} (x/2)^j / j!``; odd ``df = 2m + 1``:
    ``erfc(sqrt(x/2)) + 2 phi(sqrt x) sum_{j=1}^{m} x^{j-1/2} / (1 3 ... (2j-1))``.
    Others go to :func:`scipy.special.chdtrc`.  NaN where ``df < 1`` or ``x`` is NaN.

    Parameters
    ----------
    x : array_like
        Chi-square statistics.
    df : array_like
        Degrees of freedom (broadcast against ``x``).

    Returns
    -------
    numpy.ndarray
        Upper-tail probabilities, shape of ``x`` and ``df`` broadcast.

    Examples
    --------
    >>> from metamodels.batch import chi2_sf
    >>> chi2_sf([3.84, 10.0], 1).round(4)
    array([0.05  , 0.0016])
    """
    x = np.asarray(x, dtype=float)
    df = np.asarray(df, dtype=float)
    if df.ndim == 0 and x.size and 1 <= df <= 64 and df == np.floor(df) \
            and x.min() >= 0 and x.max() < 1000:    # one df (complete blocks): one series
        m = int(df) // 2
        half = 0.5 * x
        return _chi2_sf_one_df(x, half, np.exp(-half), m, df != 2 * m)
    shape = np.broadcast(x, df).shape
    x = np.broadcast_to(x, shape)
    df = np.broadcast_to(df, shape)
    out = np.full(shape, np.nan)
    with np.errstate(invalid="ignore"):
        small = (df >= 1) & (df <= 64) & (x >= 0) & (x < 1000)
        small &= df == np.floor(df)
        other = (df >= 1) & ~small & ~np.isnan(x)
    if other.any():
        out[other] = special.chdtrc(df[other], x[other])
    if small.all():
        out[...] = _chi2_sf_int(x, df)
    elif small.any():
        out[small] = _chi2_sf_int(x[small], df[small])
    return out


def _chi2_sf_int(x, df):
    """Closed forms of :func:`chi2_sf` for integer ``1 <= df <= 64``."""
    if x.ndim == 1 and x.size >= 1024 and df.min() != df.max():
        return _chi2_sf_by_df(x, df)          # a few df values among many rows
    half = 0.5 * x
    e = np.exp(-half)
    m = np.floor(0.5 * df)
    mmax = int(m.max()) if m.size else 0
    odd = df != 2.0 * m
    if m.size and df.min() == df.max():       # one df (complete blocks): one series
        return _chi2_sf_one_df(x, half, e, mmax, bool(odd.flat[0]))
    # even df = 2m:  exp(-x/2) * sum_{j=0}^{m-1} (x/2)^j / j!
    acc = np.ones_like(x)
    term = np.ones_like(x)
    for j in range(1, mmax):
        term *= half
        term *= 1.0 / j
        acc += term * (j < m)
    acc *= e
    if not odd.any():
        return np.minimum(acc, 1.0)
    # odd df = 2m + 1:  erfc(sqrt(x/2)) + 2 phi(sqrt x) sum_{j=1}^{m} sqrt(x)^(2j-1) / (2j-1)!!
    oterm = np.sqrt(x)
    oacc = np.zeros_like(x)
    for j in range(1, mmax + 1):
        oacc += oterm * (j <= m)
        oterm *= x
        oterm *= 1.0 / (2 * j + 1)
    oacc *= e
    oacc *= 2.0 / np.sqrt(2.0 * np.pi)
    oacc += special.erfc(np.sqrt(half))
    return np.minimum(np.where(odd, oacc, acc), 1.0)


def _chi2_sf_by_df(x, df):
    """:func:`_chi2_sf_int` of a vector with several df: the rows sorted by df (a
    radix sort of small integers) and each run given :func:`_chi2_sf_one_df` (the
    terms the mixed series adds beyond a row's own df are exact zeros, so the values
    are the same)."""
    d = df.astype(np.uint8)                   # 1 <= df <= 64
    order = np.argsort(d, kind="stable")
    xs = x[order]
    res = np.empty_like(xs)
    start = 0
    for value, count in enumerate(np.bincount(d)):
        if count:
            seg = xs[start:start + count]
            half = 0.5 * seg
            m = value // 2
            res[start:start + count] = _chi2_sf_one_df(seg, half, np.exp(-half), m,
                                                       value != 2 * m)
            start += count
    out = np.empty_like(x)
    out[order] = res
    return out


def _chi2_sf_one_df(x, half, e, m, odd):
    """:func:`_chi2_sf_int` when every element has the same df (``2m`` or ``2m + 1``):
    the same series and operations, without the masks of mixed df."""
    if not odd:
        acc = np.ones_like(x)
        term = np.ones_like(x)
        for j in range(1, m):
            term *= half
            term *= 1.0 / j
            acc += term
        acc *= e
        return np.minimum(acc, 1.0, out=acc)
    oterm = np.sqrt(x)
    if m == 0:                                # df = 1: erfc alone
        return np.minimum(special.erfc(np.sqrt(half, out=oterm), out=oterm), 1.0, out=oterm)
    oacc = oterm.copy()                       # the j = 1 term (0 + t = t)
    for j in range(1, m):
        oterm *= x
        oterm *= 1.0 / (2 * j + 1)
        oacc += oterm
    oacc *= e
    oacc *= 2.0 / np.sqrt(2.0 * np.pi)
    oacc += special.erfc(np.sqrt(half, out=oterm), out=oterm)
    return np.minimum(oacc, 1.0, out=oacc)
