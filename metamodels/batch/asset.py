"""ASSET subset search (Bhattacharjee et al. 2012, Am J Hum Genet 90:821-835).

Notes
-----
Study ``i`` has ``z_i = b_i / s_i`` and weight ``a_i`` (``a_i = 1/s_i``: the
inverse-variance fixed effect of a subset; ``weights="n"``: ``a_i = sqrt(n_i)``, as
ASSET).  Every non-empty subset ``S`` has the fixed-effect statistic

    Z_S = sum_{i in S} a_i z_i / sqrt(sum_{i in S} a_i^2),

and under the null ``(Z_S)`` is a Gaussian field on the subsets with
``corr(Z_S, Z_T) = A_{S cap T} / sqrt(A_S A_T)``, ``A_S = sum_S a_i^2``.

*One-sided*: ``z = max_S Z_S``; its p-value accounts for the search by the
discrete-local-maxima (DLM) approximation of the paper: ``P(max Z > z)`` is the
expected number of local maxima above ``z``, each subset's term
``int_z^inf phi(x) prod_T P(Z_T <= x | Z_S = x) dx`` over its neighbours ``T`` (one
study added or removed), as if the neighbours were independent given ``Z_S = x``;
``P(Z_T <= x | Z_S = x) = Phi(x c_ST)``, ``c_ST = sqrt((1 - rho_ST) / (1 + rho_ST))``.

*Two-sided* (ASSET's ``h.traits`` two-sided search): the studies are split by the sign
of their ``z_i`` (``z_i >= 0`` positive, as ASSET).  The one-sided search runs within
the ``k_+`` positive studies (``z_pos = max_{S in positive} Z_S``) and, on ``-z_i``,
within the ``k_-`` negative ones (``z_neg``), each over the ``2^{k_g} - 1`` subsets of
its group, and each p-value is that of the group's maximum *given the signs*: under
the null the ``|z_i|`` are independent of the signs, so

    p_g = P(max_{S in g} Z_S > z_g | z_i > 0 for i in g)
        = 2^{k_g} P(max Z_S > z_g, z_i > 0 for all i in g),

by the DLM of the same field restricted to the orthant: adding a study ``j`` to ``S``
does not raise ``Z_S = x`` exactly when ``z_j <= x c_Sj``, so with ``z_j > 0`` its
factor is ``P(0 < z_j <= x c_Sj) = Phi(x c_Sj) - 1/2`` (exact, these ``z_j`` are
independent of ``Z_S``); removing a study keeps its factor ``Phi(x c_Si)`` (then
``z_i > 0`` holds).  The two p-values are independent given the signs and are
combined by Fisher's rule, ``X^2 = -2 (log p_+ + log p_-)`` on 4 degrees of freedom,
or on 2 when one group is empty (its p-value is 1).  ``z`` and ``subset`` are those of
the side with the larger statistic (``z`` signed).

The integrals are Gauss-Laguerre rules in ``u = max(z, 1) (x - z)`` (4 nodes for
``z >= 2``, 8 below).  The DLM is
computed for every variant whose Bonferroni bound (``(2^k - 1) P(Z > z)``, times
``2^{k_g}`` within a sign group) is below ``dlm_below`` (default 0.05: the variants
significant even by Bonferroni, those of interest in a GWAS); the others get the DLM
of the mean weights of the variants with the same studies (two-sided: the same group),
interpolated in ``z`` (these p-values are large; the approximation is in the weights;
patterns of at most 64 variants are computed exactly).  p-values are capped at 1.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal


import numpy as np
from scipy import special

from .numpy_engine import run_threaded
from .subsets import (check_k, missing_patterns, study_arrays, subset_matrix, subset_string,
                      valid_mask)

__all__ = ["asset", "dlm_pvalue", "ASSET_MAX_K"]

#: Exact search over 2^k - 1 subsets: up to 2^14 per variant.
ASSET_MAX_K = 14
#: Gauss-Laguerre rules: 4 nodes from ``z = 2`` on (relative error < 3e-4 against
#: adaptive quadrature), 8 below (where the 4-node rule is off by up to 4%).
_LAG = np.polynomial.laguerre.laggauss(4)
_LAG_SMALL = np.polynomial.laguerre.laggauss(8)
_Z_SMALL = 2.0
_CELLS = 1 << 22
#: Patterns of more variants than this get the mean-weights DLM curve (it costs ~50 rows).
_CURVE_ROWS = 64
#: Below this ``z`` a p-value is 1 (the DLM sum is at least about 1 there).
_Z_TINY = 1e-6


def _neighbour_c(a2, M):
    """``c = sqrt((1 - rho)/(1 + rho))`` of every subset and neighbour: ``(r, N, k)``
    (``inf`` for no neighbour: removing the only study)."""
    A = a2 @ M.T                                          # (r, N)
    Ab = A[:, :, None]
    a2b = a2[:, None, :]
    inS = M[None, :, :] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(inS, np.sqrt(np.maximum(Ab - a2b, 0.0) / Ab),
                       np.sqrt(Ab / (Ab + a2b)))
        c = np.sqrt((1.0 - rho) / (1.0 + rho))
    c = np.where(rho <= 0, np.inf, c)                     # the empty set is no neighbour
    return c


def dlm_pvalue(z, a, M=None, *, positive=False):
    """DLM p-value ``P(max_S Z_S > z)`` of each row: ``z`` (r,), weights ``a`` (r, k).

    With ``positive=True`` the p-value given that every study's ``z_i`` is positive,
    ``P(max_S Z_S > z | z_i > 0 for all i)`` (ASSET's two-sided search within one sign
    group; see :mod:`metamodels.batch.asset`).
    """
    z = np.asarray(z, dtype=np.float64)
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    r, k = a.shape
    if M is None:
        M = subset_matrix(k)
    out = np.ones(r)
    for sel, (nodes, wts) in ((z > _Z_TINY) & (z < _Z_SMALL), _LAG_SMALL), (z >= _Z_SMALL, _LAG):
        pos = np.flatnonzero(sel)
        step = max(1, _CELLS // (M.shape[0] * k * nodes.size))
        for i0 in range(0, pos.size, step):
            rows = pos[i0:i0 + step]
            out[rows] = _dlm_rows(z[rows], a[rows], M, positive, nodes, wts)
    return out


def _dlm_rows(zz, a, M, positive, nodes, wts):
    """:func:`dlm_pvalue` of rows with ``zz > 0`` by the Gauss-Laguerre rule ``nodes``,
    ``wts``."""
    k = M.shape[1]
    cs = np.maximum(zz, 1.0)
    c = _neighbour_c(a ** 2, M)                           # (b, N, k)
    x = zz[:, None] + nodes[None, :] / cs[:, None]        # (b, L)
    xc = x[:, None, None, :] * c[..., None]               # (b, N, k, L); x, c > 0
    # Phi(xc) = (1 + erf(xc/sqrt 2)) / 2; given positive signs a study outside S has
    # Phi(xc) - 1/2 = erf(xc/sqrt 2) / 2 (x, c > 0: no cancellation)
    e = special.erf(xc * np.sqrt(0.5))
    e += (M > 0)[None, :, :, None] if positive else 1.0
    g = e.prod(axis=2)                                    # (b, N, L): 2^k prod_T factors
    u = nodes[None, :]
    h = wts[None, :] * np.exp(u - zz[:, None] * u / cs[:, None]
                              - u * u / (2 * cs[:, None] ** 2))   # (b, L)
    total = np.einsum("bnl,bl->b", g, h)
    # the 2^k of g cancels the 2^k of the positive orthant; otherwise divide by it
    logp = (-0.5 * zz * zz - 0.5 * np.log(2 * np.pi) - np.log(cs)
            + np.log(np.maximum(total, 1e-300)) - (0.0 if positive else k * np.log(2.0)))
    return np.minimum(np.exp(logp), 1.0)


#: z grid of the mean-weights DLM curve (beyond its end the Bonferroni bound is < 0.05
#: for k <= 14, also times 2^k given the signs, so those rows are computed exactly).
_ZGRID = np.linspace(0.0, 6.5, 53)


def _pvalues(z, a, M, dlm_below, curve=None, positive=False):
    """DLM p-values: per row where the Bonferroni bound is below ``dlm_below``, else
    from ``curve`` (log p of the mean weights on :data:`_ZGRID`), interpolated."""
    N, k = M.shape
    bonf = N * special.ndtr(-z) * (2.0 ** k if positive else 1.0)
    exact = (bonf < dlm_below) | (z > _ZGRID[-1]) if curve is not None else z > 0
    p = np.ones(z.size)
    if np.any(exact):
        p[exact] = dlm_pvalue(z[exact], a[exact], M, positive=positive)
    rest = ~exact & (z > 0)
    if np.any(rest):
        p[rest] = np.exp(np.interp(z[rest], _ZGRID, curve))
    return p


def _mean_curve(a, M, positive=False):
    """log DLM p-value on :data:`_ZGRID` for the mean weights of the rows ``a``."""
    abar = a.mean(axis=0)
    p = dlm_pvalue(_ZGRID, np.broadcast_to(abar, (_ZGRID.size, abar.size)), M,
                   positive=positive)
    return np.log(p)


def _search(zst, a, groups, k, dlm_below, positive):
    """Best subset of the studies marked in ``groups`` (bool (m, k)) of every row:
    ``z = max_S Z_S`` (0 where the group is empty), its DLM p-value (1 there) and the
    subset as 0/1 strings."""
    m = zst.shape[0]
    zbest, p = np.zeros(m), np.ones(m)
    sub = np.full(m, "0" * k, dtype=f"U{k}")
    tasks = []
    for cols, rows in missing_patterns(groups):
        check_k(cols.size, ASSET_MAX_K, "ASSET")
        M = subset_matrix(cols.size)
        step = max(1, _CELLS // M.shape[0])
        # the mean-weights curve costs as much as ~50 rows: only for larger patterns
        curve = (_mean_curve(a[np.ix_(rows, cols)], M, positive) if rows.size > _CURVE_ROWS
                 else None)
        tasks += [(cols, rows[r0:r0 + step], M, curve) for r0 in range(0, rows.size, step)]

    def run(task):
        cols, r, M, curve = task
        ar = a[np.ix_(r, cols)]
        Z = (ar * zst[np.ix_(r, cols)]) @ M.T             # (r, N)
        Z /= np.sqrt((ar * ar) @ M.T)
        best = np.argmax(Z, axis=1)
        zb = Z[np.arange(r.size), best]
        zbest[r] = zb
        p[r] = _pvalues(zb, ar, M, dlm_below, curve, positive)
        sub[r] = subset_string(M[best].astype(np.uint8), cols, k)

    run_threaded(run, tasks)
    return zbest, p, sub


def _fisher(p_pos, p_neg, df4):
    """Fisher's ``X^2 = -2 (log p_+ + log p_-)`` and its p-value on 4 df (``df4``) or 2."""
    chi2 = -2.0 * (np.log(p_pos) + np.log(p_neg))
    half = 0.5 * chi2
    return chi2, np.where(df4, np.exp(-half) * (1.0 + half), np.exp(-half))


if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import ArrayLike


def asset(beta: ArrayLike, se: ArrayLike, side: Literal["one", "two"] = "one",
          n: ArrayLike | None = None, *,
          weights: Literal["inverse-variance", "n"] | None = None, dlm_below: float = 0.05,
          as_frame: bool = True,
          index: ArrayLike | None = None) -> pd.DataFrame | dict[str, Any]:
    """ASSET subset-based meta-analysis of every variant.

    Parameters
    ----------
    beta, se : array_like, shape (m, k)
        Effects and standard errors; NaN marks a missing study.
    side : {"one", "two"}
        One-sided search for the best subset (largest ``Z_S``), or ASSET's
        two-sided search: one-sided searches within the positive and within the
        negative studies, combined by Fisher's rule.
    n : array_like, shape (k,) or (m, k), optional
        Sample sizes, needed for ``weights="n"``.
    weights : {"inverse-variance", "n"}, optional
        Subset statistics with inverse-variance weights (default) or ASSET's
        ``sqrt(n_i)`` weights on the study z-scores (default when ``n`` is given).
    dlm_below : float, default 0.05
        Rows whose Bonferroni bound is below this get their own DLM p-value.
    as_frame : bool, default True
        DataFrame (default) or dict of arrays.
    index : array_like, optional
        Row labels of the frame (default: those of ``beta`` if it is a DataFrame).

    Returns
    -------
    DataFrame or dict
        ``k``, ``z``, ``pvalue``, ``subset`` (0/1 per study in study order, ``0``
        for a missing study); two-sided adds ``z_pos``, ``z_neg`` (0 for an empty
        sign group), ``pvalue_pos``, ``pvalue_neg`` (each given the signs; 1 for an
        empty group), ``subset_pos``, ``subset_neg``, ``k_pos``, ``k_neg`` and the
        Fisher statistic ``chi2`` (on 4 df, 2 when a group is empty).

    Raises
    ------
    ValueError
        Unknown ``side`` or ``weights``, ``weights="n"`` without ``n``, or too many
        studies for the subset search.

    Notes
    -----
    See :mod:`metamodels.batch.asset` for the statistics and the p-values (R's ASSET
    package, Bhattacharjee et al. 2012).

    Examples
    --------
    >>> import numpy as np
    >>> from metamodels.batch import asset
    >>> beta = np.array([[0.30, 0.25, 0.02], [0.10, 0.12, 0.09]])
    >>> se = np.full((2, 3), 0.05)
    >>> out = asset(beta, se)
    >>> print(out[["k", "subset"]])
       k subset
    0  3    110
    1  3    111
    """
    if side not in ("one", "two"):
        raise ValueError(f"side must be 'one' or 'two', got {side!r}")
    if index is None and hasattr(beta, "index") and hasattr(beta, "columns"):
        index = beta.index
    beta, se = study_arrays(beta, se)
    m, k = beta.shape
    if weights is None:
        weights = "n" if n is not None else "inverse-variance"
    if weights not in ("inverse-variance", "n"):
        raise ValueError("weights must be 'inverse-variance' or 'n'")
    valid = valid_mask(beta, se)
    zst = np.where(valid, beta / np.where(valid, se, 1.0), 0.0)
    if weights == "n":
        if n is None:
            raise ValueError("weights='n' needs the sample sizes n")
        nn = np.broadcast_to(np.asarray(n, dtype=np.float64), (m, k))
        if np.any(~(nn[valid] > 0)):
            raise ValueError("sample sizes must be positive")
        a = np.where(valid, np.sqrt(np.where(valid, nn, 1.0)), 0.0)
    else:
        a = np.where(valid, 1.0 / np.where(valid, se, 1.0), 0.0)
    out = {"k": valid.sum(axis=1)}
    if side == "one":
        out["z"], out["pvalue"], out["subset"] = _search(zst, a, valid, k, dlm_below, False)
    else:
        gpos = valid & (zst >= 0)                          # ASSET: beta >= 0 is positive
        gneg = valid & (zst < 0)
        zp, pp, sp = _search(zst, a, gpos, k, dlm_below, True)
        zn, pn, sn = _search(-zst, a, gneg, k, dlm_below, True)
        kp, kn = gpos.sum(axis=1), gneg.sum(axis=1)
        chi2, pval = _fisher(pp, pn, (kp > 0) & (kn > 0))
        pos_best = zp >= zn
        out["z"] = np.where(pos_best, zp, -zn)
        out["pvalue"] = pval
        out["subset"] = np.where(pos_best, sp, sn)
        out.update(z_pos=zp, z_neg=zn, pvalue_pos=pp, pvalue_neg=pn, subset_pos=sp,
                   subset_neg=sn, k_pos=kp, k_neg=kn, chi2=chi2)
    none = out["k"] == 0
    for c in ("z", "pvalue"):
        out[c] = np.where(none, np.nan, out[c])
    if not as_frame:
        return out
    import pandas as pd

    return pd.DataFrame(out, index=index, copy=False)
