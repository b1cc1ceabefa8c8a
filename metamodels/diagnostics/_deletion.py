"""Numeric kernels of the deletion diagnostics of univariate meta-analysis.

Plain functions on arrays ``y`` (k,), ``v`` (k,), ``X`` (k, p).

* :func:`refit_tau2` -- the tau^2 estimate of a (reduced) data set with the estimator of
  the full fit, on the scalar kernel :class:`~metamodels.core.scalar.DiagonalTau2`
  (ML and REML: its global maximiser, as the full fit; the empirical Bayes iteration
  starts from the full fit's tau^2).
* :func:`deleted_states` -- for every deletion ``i`` at once, the GLS fit of the data
  without row ``i`` at a given ``t_i`` (its own tau^2): coefficients, ``(X'WX)^{-1}``,
  generalised Q and ``tr P``.  All deletions share one cross-product matrix
  ``W M_o`` with ``W_ij = 1/(v_j + t_i)`` for ``j != i`` and 0 on the diagonal, ``M_o`` the
  row outer products of ``M = [X | y]`` -- ``O(k^2 p^2)`` flops, no model constructions.
  For a common ``t`` (fixed-effects and fixed-tau^2 fits, Cochran's Q and ``tr P_0`` of
  the reduced data) it is the exact closed-form deletion update
  ``S_(-i) = S - w_i m_i m_i'`` in ``O(k p^2)``.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from ..core.scalar import DiagonalTau2, cross_pieces
from ..core.tau2 import dl, global_maximum, score_upper_bound
from ..univariate import estimators as est
from ..univariate.fitting import fit_univariate

if TYPE_CHECKING:
    from ..multivariate.results import MetaMixedResults

__all__ = ["refit_tau2", "deleted_tau2_ml_reml", "deleted_states", "prefix_fit"]

#: deletions processed per block (bounds the (block, k) weight matrix)
BLOCK = 512


def refit_tau2(method: str, y: np.ndarray, v: np.ndarray, X: np.ndarray,
               start: float | None = None, tol: float = 1e-10, maxiter: int = 200,
               problem: DiagonalTau2 | None = None, tau2_init: float | None = None
               ) -> float:
    """tau^2 of the data ``(y, v, X)`` by ``method`` (FE: 0).

    ML and REML: :meth:`DiagonalTau2.maximize` (the global maximiser, the full fit's
    algorithm), with the general optimiser of :func:`fit_univariate` should it not
    converge; EB iterates from ``start``.  Returns NaN when the reduced data cannot be
    fitted (fewer studies than coefficients, singular design).

    Parameters
    ----------
    method : str
        The estimator of the full fit (``"FE"``, ``"DL"``, ``"REML"``, ...).
    y, v : ndarray
        Effect sizes and sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    start : float, optional
        Starting value of the empirical Bayes iteration.
    tol : float, default 1e-10
        Convergence tolerance.
    maxiter : int, default 200
        Iteration limit.
    problem : DiagonalTau2, optional
        The scalar kernel of ``(y, v, X)`` when already built.
    tau2_init : float, optional
        The starting value of the Sidik-Jonkman estimator the full fit was given.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Unknown ``method``.
    """
    k, p = X.shape
    if method == "FE":
        return 0.0
    if k <= p:
        return np.nan
    try:
        if problem is None:
            problem = DiagonalTau2(y, v, X)
        if method in ("ML", "REML"):
            reml = method == "REML"
            t, ok, _ = problem.maximize(reml=reml, tol=tol, maxiter=maxiter)
            if not ok:
                t = fit_univariate(y, v, X, method, "z", tol=tol, maxiter=maxiter).tau2
            return float(t)
        if method == "DL":
            return est.tau2_dl(y, v, X, with_se=False, problem=problem)[0]
        if method == "HS":
            return est.tau2_hs(y, v, X, problem=problem)[0]
        if method == "HE":
            return problem.hedges()
        if method == "PM":
            return est.tau2_pm(y, v, X, problem=problem)[0]
        if method == "EB":
            return est.tau2_eb(y, v, X, tol=tol, maxiter=maxiter, start=start,
                               problem=problem)[0]
        if method == "SJ":
            return est.tau2_sj(y, v, X, tau2_init)[0]
    except np.linalg.LinAlgError:
        return np.nan
    raise ValueError(f"unknown method {method!r}")


def deleted_tau2_ml_reml(y: np.ndarray, v: np.ndarray, X: np.ndarray, reml: bool = True,
                         tol: float = 1e-10, maxiter: int = 100) -> np.ndarray:
    """(RE)ML tau^2 of the k data sets without one row each, all at once.

    The global search of the single fits (:func:`metamodels.core.tau2.global_maximum`,
    as :meth:`DiagonalTau2.maximize`) run on the k deletion problems together: the
    score ingredients of problem ``i`` at ``t`` come from the full data's row outer
    products weighted by ``1/(v_j + t)`` with row ``i``'s weight set to 0
    (:func:`~metamodels.core.scalar.cross_pieces`), i.e. the full data's sums at ``t``
    (computed once per distinct ``t``: the initial grid, from one bound and one centre,
    the full data's DerSimonian-Laird estimate, is shared by all problems) minus row
    ``i``'s term -- no reduced data set is ever built.

    Parameters
    ----------
    y, v : ndarray
        Effect sizes and sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    reml : bool, default True
        REML (else ML).
    tol : float, default 1e-10
        Convergence tolerance.
    maxiter : int, default 100
        Iteration limit of the global search.

    Returns
    -------
    tau2 : ndarray
        One estimate per deletion (k,); NaN where a reduced data set has no
        residual degrees of freedom.
    """
    k, p = X.shape
    if k - 1 <= p:
        return np.full(k, np.nan)
    full = DiagonalTau2(y, v, X)
    outer = full._outer                                   # (k, q*q + 1), y centred by OLS
    q = p + 1
    drop_all = np.arange(k)

    def pieces(rows, t):
        # S_j of problem i at t: the full data's sums at t minus row i's term; the full
        # sums are computed once per distinct t (the initial grid is shared by all)
        rows = drop_all if rows is None else np.asarray(rows)
        t = np.asarray(t, dtype=float)
        tu, inv = np.unique(t, return_inverse=True)
        full_S = np.empty((3, tu.size, q * q + 1))
        for s0 in range(0, tu.size, BLOCK):
            sl = slice(s0, s0 + BLOCK)
            W = np.empty((3, tu[sl].size, k))
            np.add(v[None, :], tu[sl, None], out=W[0])
            np.reciprocal(W[0], out=W[0])
            np.multiply(W[0], W[0], out=W[1])
            np.multiply(W[1], W[0], out=W[2])
            full_S[:, sl] = (W.reshape(-1, k) @ outer).reshape(3, -1, q * q + 1)
        wi = 1.0 / (v[rows] + t)
        wij = np.stack([wi, wi * wi, wi * wi * wi])               # (3, n)
        S = full_S[:, inv.reshape(-1)] - wij[:, :, None] * outer[rows][None, :, :]
        return cross_pieces(S, p, reml)

    def loglik(rows, t):
        rows = drop_all if rows is None else np.asarray(rows)
        return np.array([full.subset(drop_all != r).loglik(x, reml)
                         for r, x in zip(rows.tolist(), np.asarray(t).tolist())])

    # search bounds from the (centred) residual sums of squares of the reduced data
    rss = outer[:, q * q - 1].sum() - outer[:, q * q - 1]
    vmin = np.array([np.min(np.delete(v, i)) for i in range(k)]) if k < 64 else \
        np.where(np.arange(k) == np.argmin(v), np.partition(v, 1)[1], v.min())
    vmax = np.where(np.arange(k) == np.argmax(v), np.partition(v, k - 2)[k - 2], v.max())
    m = (k - 1 - p) if reml else (k - 1)
    # one bound and one centre for all problems (the largest bound is valid for each;
    # the centre only places extra grid points): the initial grid is then common
    U = np.full(k, float(np.max(score_upper_bound(rss, np.full(k, float(m)), vmin, vmax))))
    q0, trp0 = full.moments(0.0)[:2]
    centre = np.full(k, float(dl(np.array([q0]), k - p, trp0)[0]))
    t, _, ok = global_maximum(pieces, loglik, U, tol=tol, maxiter=maxiter, centre=centre)
    for i in np.flatnonzero(~ok):                        # rare: the single-fit fallback
        keep = drop_all != i
        t[i] = fit_univariate(y[keep], v[keep], X[keep], "REML" if reml else "ML", "z",
                              tol=tol).tau2
    return np.asarray(t, dtype=float)


def deleted_states(y: np.ndarray, v: np.ndarray, X: np.ndarray, t: np.ndarray,
                   with_trace: bool = False, drop: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """GLS fits of the data without row ``drop[i]`` at ``t[i]``, for all ``i`` at once.

    Parameters
    ----------
    y, v : ndarray
        Effect sizes and sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    t : ndarray
        tau^2 of each reduced fit (NaN rows give NaN results).
    with_trace : bool, default False
        Also return ``tr P`` of each reduced fit (for I^2 and H^2).
    drop : (n,) int array, optional
        Row deleted in fit ``i`` (``arange(k)`` by default, ``n = k``).

    Returns
    -------
    beta : ndarray
        Coefficients of the reduced fits (n, p).
    cov : ndarray
        ``(X_(-i)' W X_(-i))^{-1}`` (no Knapp-Hartung factor) (n, p, p).
    q : ndarray
        Generalised Q ``r'Wr`` of the reduced fits (n,).
    trp : ndarray or None
        ``tr P = sum w - tr((X'WX)^{-1} X'W^2X)`` of the reduced fits.
    """
    k, p = X.shape
    t = np.asarray(t, dtype=float)
    n = t.shape[0]
    drop = np.arange(k) if drop is None else np.asarray(drop)
    b0 = np.linalg.lstsq(X, y, rcond=None)[0]           # centre y (accuracy, as DiagonalTau2)
    M = np.column_stack([X, y - X @ b0])
    q = p + 1
    outer = (M[:, :, None] * M[:, None, :]).reshape(k, q * q)
    xouter = outer.reshape(k, q, q)[:, :p, :p].reshape(k, p * p)
    beta = np.full((n, p), np.nan)
    cov = np.full((n, p, p), np.nan)
    genq = np.full(n, np.nan)
    trp = np.full(n, np.nan) if with_trace else None
    ok = np.isfinite(t)
    common = bool(ok.all() and n and np.all(t == t[0]))
    if common:
        # one tau^2 for all deletions: the exact rank-one downdate of the full sums
        w = 1.0 / (v + t[0])
        S_all = w @ outer
        G_all = (w * w) @ xouter if with_trace else None
    for start in range(0, n, BLOCK):
        rows = np.arange(start, min(n, start + BLOCK))
        rows = rows[ok[rows]]
        if rows.size == 0:
            continue
        if common:
            wd = w[drop[rows]]
            S = (S_all[None, :] - wd[:, None] * outer[drop[rows]]).reshape(-1, q, q)
        else:
            W = 1.0 / (v[None, :] + t[rows, None])
            W[np.arange(rows.size), drop[rows]] = 0.0
            S = (W @ outer).reshape(-1, q, q)
        A = S[:, :p, :p]
        try:
            C = np.linalg.inv(A)
        except np.linalg.LinAlgError:
            C = np.stack([_safe_inv(a) for a in A])
        C = 0.5 * (C + np.swapaxes(C, 1, 2))
        bc = np.einsum("nij,nj->ni", C, S[:, :p, p])
        beta[rows] = bc + b0
        cov[rows] = C
        genq[rows] = S[:, p, p] - np.einsum("ni,ni->n", S[:, :p, p], bc)
        if with_trace and common:
            G = (G_all[None, :] - (wd * wd)[:, None] * xouter[drop[rows]]).reshape(-1, p, p)
            trp[rows] = w.sum() - wd - np.einsum("nij,nji->n", C, G)
        elif with_trace:
            G = ((W * W) @ xouter).reshape(-1, p, p)
            trp[rows] = W.sum(axis=1) - np.einsum("nij,nji->n", C, G)
    return beta, cov, genq, trp


def _safe_inv(a):
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        return np.full(a.shape, np.nan)


def prefix_fit(y: np.ndarray, v: np.ndarray, X: np.ndarray, method: str,
               start: float | None, tol: float = 1e-10, tau2_init: float | None = None
               ) -> tuple[float, np.ndarray, np.ndarray, float, float, float]:
    """tau^2, coefficients, ``(X'WX)^{-1}``, generalised Q, fixed-effects Q and
    ``tr P_0`` of one (prefix) data set; ``method`` is replaced by FE when there are no
    residual degrees of freedom (a single study, as metafor's ``cumul``).

    Parameters
    ----------
    y, v : ndarray
        Effect sizes and sampling variances (k,).
    X : ndarray
        Design matrix (k, p).
    method : str
        The estimator.
    start : float or None
        Starting value of the iterative estimators.
    tol : float, default 1e-10
        Convergence tolerance.
    tau2_init : float, optional
        The Sidik-Jonkman starting value of the full fit.

    Returns
    -------
    tau2 : float
        The estimate (0 without residual df).
    beta : ndarray
        Coefficients (p,).
    cov : ndarray
        ``(X'WX)^{-1}`` (p, p).
    genq : float
        Generalised Q at ``tau2``.
    q0 : float
        Cochran's Q (fixed-effects weights).
    trp0 : float
        ``tr P_0`` (NaN without residual df).
    """
    k, p = X.shape
    problem = DiagonalTau2(y, v, X)
    if k <= p:
        tau2 = 0.0
    else:
        tau2 = refit_tau2(method, y, v, X, start=start, tol=tol, problem=problem,
                          tau2_init=tau2_init)
    st = problem.state(tau2, reml=False)
    q0, trp0, _, _ = problem.moments(0.0) if k > p else (0.0, np.nan, 0, 0)
    return tau2, st.beta, st.cov, st.q, q0, trp0


def mixed_deletion_fits(results: MetaMixedResults, codes: np.ndarray, n_units: int,
                        reestimate: bool = True) -> list:
    """Fits of a MetaMixed model without unit ``j`` (rows with ``codes == j``), for
    ``j = 0..n_units-1``: results objects, or ``SimpleNamespace(params, theta, ...)``
    evaluated at the full fit's variance components when ``reestimate`` is False; None
    for reduced data that cannot be fitted.

    Parameters
    ----------
    results : MetaMixedResults
        The full fit.
    codes : ndarray
        Unit code of each row (integers ``0..n_units-1``).
    n_units : int
        Number of units.
    reestimate : bool, default True
        Refit the variance components after each deletion.

    Returns
    -------
    list
        One entry per unit.
    """
    from ..core.likelihood import evaluate
    out = []
    for j in range(n_units):
        rows = np.flatnonzero(codes == j)
        if not reestimate:
            keep = np.ones(codes.shape[0], dtype=bool)
            keep[rows] = False
            try:
                sub = results._submodel(keep)
                theta = np.asarray(results.theta, dtype=float)
                ev = evaluate(theta, sub.endog, sub.exog, sub.spec, reml=results.reml)
                out.append(SimpleNamespace(params=ev.beta, theta=theta, cov=ev.cov_beta,
                                           sub=sub))
            except (ValueError, np.linalg.LinAlgError):
                out.append(None)
            continue
        out.append(results._refit_without(rows))
    return out
