r"""Cluster-robust (sandwich) covariance kernels: plain functions on arrays.

Used by ``res.robust(...)`` (:mod:`metamodels.diagnostics.robust`) and by the empirical
covariance of MixedModel fits (``fit(cov_type="empirical", ...)``,
:mod:`metamodels.inference.empirical`).

Notes
-----
Write the model as ``y = X b + e`` with working covariance ``Phi = V(theta_hat)``, weights
``W = Phi^{-1}`` and ``M = (X'WX)^{-1}``; clusters ``j = 1..m`` contain whole blocks of
``V``.  With residuals ``e_j = y_j - X_j b`` the sandwich is

.. math:: V^{CR} = \sum_j E_j e_j e_j' E_j', \qquad E_j = M X_j' W_j A_j

with the adjustment ``A_j``:

========================  ===================================================================
``cov_type``              ``A_j``
========================  ===================================================================
CR0                       ``I`` (SAS ``EMPIRICAL``, mmrm "Empirical", Liang and Zeger 1986)
CR1, CR1p                 ``sqrt(m/(m-1)) I``, ``sqrt(m/(m-p)) I``
CR2                       clubSandwich's bias-reduced linearisation: ``Phi_j = U_j'U_j``
                          (Cholesky), ``B_j = U_j (Phi_j - X_j M X_j') U_j'``,
                          ``A_j = U_j' B_j^{-1/2} U_j``
BR                        mmrm's "Empirical-Bias-Reduced": whitened by ``Phi_j = L_j L_j'``
                          (lower Cholesky), ``X~_j = L_j^{-1} X_j``,
                          ``A_j = Phi_j L_j^{-T} (I - X~_j M X~_j')^{-1/2} L_j^{-1}``
CR3                       the jackknife (mmrm "Empirical-Jackknife", clubSandwich CR3):
                          ``A_j = (I - X_j M X_j' W_j)^{-1}``, so
                          ``E_j = M X_j' (Phi_j - X_j M X_j')^{-1}``
========================  ===================================================================

CR2 and BR both make ``V^{CR}`` unbiased under the working model
(``A_j (Phi_j - X_j M X_j') A_j' = Phi_j``, McCaffrey, Bell and Botts 2001; Bell and
McCaffrey 2002) but use different square roots; they coincide when every ``Phi_j`` is a
multiple of the identity.  CR3 equals ``sum_j (b_(-j) - b)(b_(-j) - b)'`` with ``b_(-j)``
the GLS estimate without cluster ``j`` at the same ``Phi`` (no ``(m-1)/m`` factor, as
mmrm).  When a cluster alone determines a coefficient (leverage one), CR2 and BR take
pseudo-inverse square roots and CR3 raises.

For the contrasts in the rows of ``C``, ``C V^{CR} C' = sum_j (G_j'y)(G_j'y)'`` with
``G_j = (I - H)_j' E_j' C'``; under the working model ``P_{si,tj} = g_si' Phi g_tj =
delta_ij v_si' Phi_j v_tj - u_si' M u_tj`` (``v_j = E_j' C'``, ``u_j = X_j' v_j``), and
the Satterthwaite df of one contrast are ``(sum_j P_jj)^2 / sum_ij P_ij^2`` (Bell and
McCaffrey 2002; mmrm's Satterthwaite df for empirical covariances; clubSandwich's
``coef_test(test = "Satterthwaite")``).

References
----------
Liang KY, Zeger SL (1986) Biometrika 73: 13-22.  McCaffrey DF, Bell RM, Botts CH (2001)
Proceedings of the Survey Research Methods Section, ASA.  Bell RM, McCaffrey DF (2002)
Survey Methodology 28: 169-181.  Pustejovsky JE, Tipton E (2018) J Bus Econ Stat 36:
672-683.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg

__all__ = ["COV_TYPES", "inv_sqrt_psd", "cluster_robust_pieces", "p_array",
           "satterthwaite_df", "working_blocks"]

#: adjustments of :func:`cluster_robust_pieces`
COV_TYPES = ("CR0", "CR1", "CR1p", "CR2", "BR", "CR3")


def inv_sqrt_psd(B, rtol=1e-12):
    """Symmetric ``B^{-1/2}`` (pseudo-inverse on the null space, as for CR2 with fixed
    effects that absorb a cluster)."""
    w, Q = np.linalg.eigh((B + B.T) / 2)
    keep = w > rtol * max(w.max(), 0.0)
    d = np.zeros_like(w)
    d[keep] = 1.0 / np.sqrt(w[keep])
    return (Q * d) @ Q.T


def _adjusted(cov_type, L, Xj, wx, P, M, m, p):
    """``E_j = M X_j' W_j A_j`` (p x n_j) of one cluster (``wx = W_j X_j``)."""
    if cov_type == "CR2":
        U = L.T                                                       # Phi = U'U
        B = U @ (P - Xj @ M @ Xj.T) @ U.T
        return M @ wx.T @ (U.T @ inv_sqrt_psd(B) @ U)
    if cov_type == "BR":
        Linv = np.linalg.inv(L)
        Xt = Linv @ Xj                                                # L^{-1} X_j
        A = inv_sqrt_psd(np.eye(Xj.shape[0]) - Xt @ M @ Xt.T)
        return M @ Xt.T @ A @ Linv                                    # M X~' A L^{-1}
    if cov_type == "CR3":
        D = P - Xj @ M @ Xj.T
        w = np.linalg.eigvalsh((D + D.T) / 2)
        if w.min() <= 1e-10 * max(w.max(), 1e-300):
            raise ValueError("jackknife (CR3) covariance undefined: a cluster alone "
                             "determines some coefficient (leverage one), so the fit "
                             "without it is not identified")
        return M @ np.linalg.solve(D, Xj).T
    if cov_type in ("CR1", "CR1p"):
        return np.sqrt(m / (m - (1 if cov_type == "CR1" else p))) * (M @ wx.T)
    return M @ wx.T


def cluster_robust_pieces(X, resid, Phi_blocks, rows, cov_type="CR2"):
    """The sandwich pieces of a cluster-robust covariance (see the module Notes).

    Parameters
    ----------
    X : ndarray (n, p)
    resid : ndarray (n,)
        Residuals ``y - X b`` of the fitted (GLS) estimates.
    Phi_blocks : list of ndarray
        The working covariance of each cluster's rows (``W_j = Phi_j^{-1}``).
    rows : list of int ndarray
        The rows of each cluster.
    cov_type : {"CR0", "CR1", "CR1p", "CR2", "BR", "CR3"}

    Returns
    -------
    dict
        ``cov`` (``V^{CR}``, p x p), ``M`` (``(X'WX)^{-1}``), ``E`` (list of
        ``M X_j' W_j A_j``, p x n_j), ``Phi`` and ``X`` blocks, ``resid`` blocks.
    """
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type must be one of {COV_TYPES}, got {cov_type!r}")
    m = len(rows)
    p = X.shape[1]
    Xs = [X[r] for r in rows]
    es = [resid[r] for r in rows]
    chols = [linalg.cholesky(P, lower=True) for P in Phi_blocks]          # Phi = L L'
    WX = [linalg.cho_solve((L, True), Xj) for L, Xj in zip(chols, Xs)]
    M = np.linalg.inv(sum(Xj.T @ wx for Xj, wx in zip(Xs, WX)))
    M = (M + M.T) / 2
    E = [_adjusted(cov_type, L, Xj, wx, P, M, m, p)
         for L, Xj, wx, P in zip(chols, Xs, WX, Phi_blocks)]
    meat = np.array([Ej @ ej for Ej, ej in zip(E, es)])                  # (m, p)
    cov = meat.T @ meat
    return {"cov": (cov + cov.T) / 2, "M": M, "E": E, "Phi": list(Phi_blocks), "X": Xs,
            "resid": es}


def p_array(pieces, C):
    """``P[s, i, t, j] = g_si' Phi g_tj`` for the contrasts in the rows of ``C`` (q x p)."""
    M = pieces["M"]
    V = [Ej.T @ C.T for Ej in pieces["E"]]                 # v_j = E_j' C' (n_j, q)
    U = np.stack([Xj.T @ v for Xj, v in zip(pieces["X"], V)])          # (m, p, q)
    m, p, q = U.shape
    rows = U.transpose(2, 0, 1).reshape(q * m, p)                        # rows (a, i)
    P = -(rows @ M @ rows.T).reshape(q, m, q, m)
    for j, (v, Phi) in enumerate(zip(V, pieces["Phi"])):
        P[:, j, :, j] += v.T @ Phi @ v
    return P


def satterthwaite_df(pieces, C):
    """Satterthwaite (Bell-McCaffrey) df of each contrast in the rows of ``C``.

    For one contrast ``P_ij = delta_ij a_j - u_i' M u_j`` (``a_j = v_j' Phi_j v_j``), so
    ``tr P = sum_j (a_j - u_j'Mu_j)`` and ``sum_ij P_ij^2 = sum_j a_j^2
    - 2 sum_j a_j u_j'Mu_j + tr((M S)^2)`` with ``S = sum_j u_j u_j'``: no ``m x m``
    matrix is formed."""
    C = np.atleast_2d(C)
    M = pieces["M"]
    k = C.shape[0]
    m = len(pieces["E"])
    a = np.empty((m, k))
    U = np.empty((m, M.shape[0], k))
    for j, (Ej, Xj, Phi) in enumerate(zip(pieces["E"], pieces["X"], pieces["Phi"])):
        v = Ej.T @ C.T                                                    # (n_j, k)
        a[j] = np.einsum("ic,ij,jc->c", v, Phi, v)
        U[j] = Xj.T @ v
    uMu = np.einsum("jpc,pq,jqc->jc", U, M, U)                            # (m, k)
    out = np.empty(k)
    for c in range(k):
        MS = M @ (U[:, :, c].T @ U[:, :, c])
        tr = np.sum(a[:, c] - uMu[:, c])
        ss = np.sum(a[:, c] ** 2) - 2 * np.sum(a[:, c] * uMu[:, c]) + np.sum(MS * MS.T)
        out[c] = tr ** 2 / ss
    return out


def working_blocks(spec, theta, codes):
    """Per cluster, the rows and the working covariance ``V(theta)`` of a block
    covariance ``spec`` (:class:`~metamodels.core.blockcov.BlockCovariance`); ``codes``
    (n,) are cluster codes ``0..m-1``, each cluster a union of whole blocks of ``V``
    (ValueError otherwise)."""
    if getattr(spec, "zspace_active", lambda: False)():
        raise NotImplementedError(
            "cluster-robust inference needs clusters holding whole independent blocks of V; "
            "with crossed random effects (the Z-space path) all rows form one block")
    m = int(codes.max()) + 1
    rows = [np.flatnonzero(codes == j) for j in range(m)]
    full = {}
    for grp, vb in zip(spec.layout.groups, spec.build(np.asarray(theta, dtype=float))):
        grp = np.asarray(grp)
        vb = np.asarray(vb, dtype=float)
        for r, v in zip(grp, vb):
            lab = codes[r]
            if np.any(lab != lab[0]):
                raise ValueError("the clusters split a block of the model's covariance "
                                 "matrix V: every random-effects level and every block "
                                 "of correlated errors must lie within one cluster "
                                 "(cluster at the level of the outermost random effect "
                                 "or coarser)")
            full.setdefault(int(lab[0]), []).append((r, v if v.ndim == 2 else np.diag(v)))
    Phi = []
    for j, rj in enumerate(rows):
        pos = {int(r): k for k, r in enumerate(rj)}
        P = np.zeros((len(rj), len(rj)))
        for r, v in full[j]:
            idx = [pos[int(x)] for x in r]
            P[np.ix_(idx, idx)] = v
        Phi.append(P)
    return rows, Phi
