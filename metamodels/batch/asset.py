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
``int_z^inf phi(x) prod_T Phi(x sqrt((1 - rho_ST) / (1 + rho_ST))) dx`` over its
neighbours ``T`` (one study added or removed), as if the neighbours were
independent given ``Z_S = x``.  The integral is a 4-node Gauss-Laguerre rule in
``u = z (x - z)``.  The DLM is computed for every variant whose Bonferroni bound
``(2^k - 1) P(Z > z)`` is below ``dlm_below`` (default 0.05: the variants
significant even by Bonferroni, those of interest in a GWAS); the others get the
DLM of the mean weights of the variants with the same studies present, interpolated
in ``z`` (these p-values are large; the approximation is in the weights; patterns of
at most 200 variants are computed exactly).
p-values are capped at 1.

*Two-sided*: the best positive subset (``z_pos = max(0, max_S Z_S)``, whose studies
all have ``z_i > 0``) and the best negative one (``z_neg = max(0, max_S -Z_S)``),
each with its one-sided DLM p-value ``p_+``, ``p_-``, combined as ASSET does:
``X^2 = Phi^{-1}(p_+/2)^2 + Phi^{-1}(p_-/2)^2`` on 2 df.  ``z`` and ``subset`` are
those of the side with the larger statistic (``z`` signed).
"""
from __future__ import annotations


import numpy as np
from scipy import special

from .numpy_engine import run_threaded
from .subsets import (check_k, missing_patterns, study_arrays, subset_matrix, subset_string,
                      valid_mask)

__all__ = ["asset", "dlm_pvalue", "ASSET_MAX_K"]

#: Exact search over 2^k - 1 subsets: up to 2^14 per variant.
ASSET_MAX_K = 14
_LAG_U, _LAG_W = np.polynomial.laguerre.laggauss(4)
_CELLS = 1 << 22


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


def dlm_pvalue(z, a, M=None):
    """DLM p-value ``P(max_S Z_S > z)`` of each row: ``z`` (r,), weights ``a`` (r, k)."""
    z = np.asarray(z, dtype=np.float64)
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    r, k = a.shape
    if M is None:
        M = subset_matrix(k)
    out = np.ones(r)
    pos = np.flatnonzero(z > 0)
    if pos.size == 0:
        return out
    step = max(1, _CELLS // (M.shape[0] * k * _LAG_U.size))
    for i0 in range(0, pos.size, step):
        rows = pos[i0:i0 + step]
        zz = z[rows]
        cs = np.maximum(zz, 1.0)
        c = _neighbour_c(a[rows] ** 2, M)                  # (b, N, k)
        x = zz[:, None] + _LAG_U[None, :] / cs[:, None]     # (b, L)
        xc = x[:, None, None, :] * c[..., None]             # (b, N, k, L); x, c > 0
        g = special.ndtr(xc).prod(axis=2)                   # >= 2^-k: no underflow
        logg = np.log(g)                                    # (b, N, L)
        u = _LAG_U[None, :]
        logh = (np.log(_LAG_W)[None, :] + u - zz[:, None] * u / cs[:, None]
                - u * u / (2 * cs[:, None] ** 2))           # (b, L)
        terms = logg + logh[:, None, :]
        b = terms.shape[0]
        lse = special.logsumexp(terms.reshape(b, -1), axis=1)
        logp = -0.5 * zz * zz - 0.5 * np.log(2 * np.pi) - np.log(cs) + lse
        out[rows] = np.minimum(np.exp(logp), 1.0)
    return out


#: z grid of the mean-weights DLM curve (beyond its end the Bonferroni bound is < 0.05
#: for k <= 14, so those rows are computed exactly).
_ZGRID = np.linspace(0.0, 6.5, 53)


def _pvalues(z, a, M, dlm_below, curve=None):
    """DLM p-values: per row where the Bonferroni bound is below ``dlm_below``, else
    from ``curve`` (log p of the mean weights on :data:`_ZGRID`), interpolated."""
    N = M.shape[0]
    bonf = N * special.ndtr(-z)
    exact = (bonf < dlm_below) | (z > _ZGRID[-1]) if curve is not None else z > 0
    p = np.ones(z.size)
    if np.any(exact):
        p[exact] = dlm_pvalue(z[exact], a[exact], M)
    rest = ~exact & (z > 0)
    if np.any(rest):
        p[rest] = np.exp(np.interp(z[rest], _ZGRID, curve))
    return p


def _mean_curve(a, M):
    """log DLM p-value on :data:`_ZGRID` for the mean weights of the rows ``a``."""
    abar = a.mean(axis=0)
    return np.log(dlm_pvalue(_ZGRID, np.broadcast_to(abar, (_ZGRID.size, abar.size)), M))


def asset(beta, se, side="one", n=None, *, weights=None, dlm_below=0.05, as_frame=True,
          index=None):
    """ASSET subset-based meta-analysis of every variant.

    Parameters
    ----------
    beta, se : array_like, shape (m, k)
        Effects and standard errors; NaN marks a missing study.
    side : {"one", "two"}
        One-sided search for the best subset (largest ``Z_S``), or ASSET's
        two-sided search combining the best positive and negative subsets.
    n : array_like, shape (k,) or (m, k), optional
        Sample sizes, needed for ``weights="n"``.
    weights : {"inverse-variance", "n"}, optional
        Subset statistics with inverse-variance weights (default) or ASSET's
        ``sqrt(n_i)`` weights on the study z-scores (default when ``n`` is given).
    dlm_below : float
        Rows whose Bonferroni bound is below this get their own DLM p-value.

    Returns
    -------
    DataFrame or dict
        ``k``, ``z``, ``pvalue``, ``subset`` (0/1 per study in study order, ``0``
        for a missing study); two-sided adds ``z_pos``, ``z_neg``,
        ``pvalue_pos``, ``pvalue_neg``, ``subset_pos``, ``subset_neg`` and ``chi2``.

    Notes
    -----
    See :mod:`metamodels.batch.asset` for the statistics and the p-values.
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
    sides = (1.0,) if side == "one" else (1.0, -1.0)
    res = {s: (np.full(m, np.nan), np.full(m, np.nan), np.full(m, "0" * k, dtype=f"U{k}"))
           for s in sides}
    tasks = []
    for cols, rows in missing_patterns(valid):
        check_k(cols.size, ASSET_MAX_K, "ASSET")
        M = subset_matrix(cols.size)
        step = max(1, _CELLS // M.shape[0])
        # the mean-weights curve costs as much as ~50 rows: only for larger patterns
        curve = _mean_curve(a[np.ix_(rows, cols)], M) if rows.size > 200 else None
        tasks += [(cols, rows[r0:r0 + step], M, curve) for r0 in range(0, rows.size, step)]

    def run(task):
        cols, r, M, curve = task
        ar = a[np.ix_(r, cols)]
        Z = (ar * zst[np.ix_(r, cols)]) @ M.T             # (r, N)
        Z /= np.sqrt((ar * ar) @ M.T)
        idx = np.arange(r.size)
        for sg in sides:
            best = np.argmax(Z, axis=1) if sg > 0 else np.argmin(Z, axis=1)
            zb = sg * Z[idx, best]
            if side == "two":
                zb = np.maximum(zb, 0.0)
            p = _pvalues(zb, ar, M, dlm_below, curve)
            sub = subset_string(M[best].astype(np.uint8), cols, k)
            if side == "two":
                sub = np.where(zb > 0, sub, "0" * k)
            res[sg][0][r], res[sg][1][r], res[sg][2][r] = zb, p, sub

    run_threaded(run, tasks)
    out = {"k": valid.sum(axis=1)}
    if side == "one":
        out["z"], out["pvalue"], out["subset"] = res[1.0]
    else:
        zp, pp, sp = res[1.0]
        zn, pn, sn = res[-1.0]
        chi2 = special.ndtri(pp / 2) ** 2 + special.ndtri(pn / 2) ** 2
        pos_best = zp >= zn
        out["z"] = np.where(pos_best, zp, -zn)
        out["pvalue"] = np.exp(-chi2 / 2)                  # chi2 on 2 df
        out["subset"] = np.where(pos_best, sp, sn)
        out.update(z_pos=zp, z_neg=zn, pvalue_pos=pp, pvalue_neg=pn, subset_pos=sp,
                   subset_neg=sn, chi2=chi2)
    none = out["k"] == 0
    for c in ("z", "pvalue"):
        out[c] = np.where(none, np.nan, out[c])
    if not as_frame:
        return out
    import pandas as pd

    return pd.DataFrame(out, index=index)
