"""Numeric kernels of the small-sample df methods (Satterthwaite, Kenward-Roger).

Plain functions on arrays; the df methods themselves are the objects of
:mod:`metamodels.inference.ddf`.

All functions take the pieces the engine provides at the estimate ``theta``:

* ``C = (X'V^{-1}X)^{-1}`` — covariance of the GLS estimate (``Phi`` in Kenward-Roger),
* ``B_j = X'V^{-1} V_j V^{-1} X`` so that ``dC/dtheta_j = C B_j C``,
* ``Q_jk = X'V^{-1} V_j V^{-1} V_k V^{-1} X`` and ``R_jk = X'V^{-1} V_{jk} V^{-1} X``,
* ``A`` — the asymptotic covariance of ``theta`` (inverse observed information, as lmerTest),
* ``W`` — the inverse expected information (as Kenward and Roger).

References
----------
Satterthwaite FE (1946); Giesbrecht FG, Burns JC (1985) Biometrics 41; Fai AH, Cornelius PL
(1996) J Stat Comput Simul 54; Kuznetsova A, Brockhoff PB, Christensen RHB (2017) lmerTest,
J Stat Softw 82.  Kenward MG, Roger JH (1997) Biometrics 53: 983-997; Halekoh U, Hojsgaard S
(2014) pbkrtest, J Stat Softw 59.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["pinv_psd", "EigenContrast", "eigen_contrast", "fstat_ddf",
           "satterthwaite_t_df", "satterthwaite_f", "kenward_roger_cov", "kenward_roger_adjust",
           "kenward_roger_f",
           "KRFTest", "SatterthwaiteFTest"]


def pinv_psd(M):
    """Inverse of a symmetric positive semi-definite ``M`` (pseudo-inverse if singular,
    also when it is singular to working precision: a Cholesky pivot ``d_j^2`` at most
    ``1e-12 M_jj``, i.e. a row with ``1 - R^2 <= 1e-12`` on the previous ones, which
    rounding can leave positive)."""
    try:
        L = np.linalg.cholesky(M)
        d = np.diagonal(L)
        if np.all(d * d > 1e-12 * np.diagonal(M)):
            return np.linalg.inv(M)
        return np.linalg.pinv(M, rcond=1e-10, hermitian=True)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(M)


def _dC(C, B):
    """``dC/dtheta_j = C B_j C`` for all j: (q, p, p)."""
    return np.einsum("pr,jrs,st->jpt", C, B, C)


def satterthwaite_t_df(L, C, B, A):
    """Satterthwaite df of each single-row contrast ``l'b`` (rows of ``L``).

    ``df = 2 (l'Cl)^2 / (g'Ag)``, ``g_j = l' C B_j C l``.
    """
    L = np.atleast_2d(L)
    dC = _dC(C, B)
    v = np.einsum("ip,pq,iq->i", L, C, L)
    g = np.einsum("ip,jpq,iq->ij", L, dC, L)
    denom = np.einsum("ij,jk,ik->i", g, A, g)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, 2.0 * v ** 2 / denom, np.inf)


@dataclass(frozen=True)
class EigenContrast:
    """A contrast ``L`` reduced to its row space along the eigenvectors of ``L C L'``.

    ``rows`` (q, p) are ``P_q' L`` for the ``q`` eigenvalues ``d`` of ``L C L'`` above
    ``eps * d_max`` (lmerTest's rule, ``eps = sqrt(machine epsilon)``) and ``diff``
    (q,) is ``P_q' (L b - rhs)``, so that ``F = sum(diff^2 / d) / q``.
    """

    rows: np.ndarray
    d: np.ndarray
    diff: np.ndarray

    @property
    def q(self):
        return int(self.d.shape[0])

    @property
    def wald_f(self):
        return float(np.sum(self.diff ** 2 / self.d)) / self.q


def eigen_contrast(L, b, C, rhs=None, eps=np.sqrt(np.finfo(float).eps)):
    """Reduce ``L b = rhs`` to ``q = rank(L C L')`` orthogonal eigen-contrasts.

    Rank-deficient ``L`` (redundant rows) is thereby tested on its row space, as
    lmerTest's ``contestMD`` does; a contrast with ``L C L' = 0`` raises ValueError.
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    rhs = np.zeros(L.shape[0]) if rhs is None else np.broadcast_to(
        np.asarray(rhs, dtype=float), (L.shape[0],))
    d, P = np.linalg.eigh(L @ C @ L.T)
    d, P = d[::-1], P[:, ::-1]
    keep = d > max(eps * d[0], 0.0)
    if not keep.any():
        raise ValueError("the contrast has zero variance (L C L' = 0): nothing to test")
    Pq = P[:, keep]
    return EigenContrast(Pq.T @ L, d[keep], Pq.T @ (L @ b - rhs))


def fstat_ddf(nu, tol=1e-8):
    """Denominator df of a multi-df F from the t-df ``nu_m`` of its eigen-contrasts.

    ``E = sum nu_m / (nu_m - 2)`` and ``ddf = 2E / (E - q)`` (Fai and Cornelius 1996);
    ``ddf = 2`` when some ``nu_m <= 2`` and the common value when all ``nu_m`` are equal,
    as lmerTest's ``get_Fstat_ddf``.
    """
    nu = np.atleast_1d(np.asarray(nu, dtype=float))
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    E = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * E / (E - nu.size)


@dataclass(frozen=True)
class SatterthwaiteFTest:
    statistic: float
    df_num: int
    df_denom: float
    pvalue: float


def satterthwaite_f(L, b, C, B, A, rhs=None):
    """Multi-df F test of ``L b = rhs`` with Satterthwaite denominator df.

    With ``LCL' = P D P'``, each eigen-contrast ``p_m'L`` (``d_m > 0``) gets its t-df
    ``nu_m``; ``F = sum_m (p_m'(Lb - rhs))^2 / d_m / q`` and the ddf follow
    :func:`fstat_ddf` (Fai and Cornelius 1996; lmerTest's ``contestMD``).
    """
    from scipy import stats
    ec = eigen_contrast(L, b, C, rhs)
    F = ec.wald_f
    ddf = fstat_ddf(satterthwaite_t_df(ec.rows, C, B, A))
    return SatterthwaiteFTest(F, ec.q, ddf, float(stats.f.sf(F, ec.q, ddf)))


def kenward_roger_cov(C, B, Q, W, R=None):
    """Kenward-Roger adjusted covariance of the fixed effects.

    ``Phi_A = Phi + 2 Phi Lambda Phi`` with
    ``Lambda = sum_jk W_jk (Q_jk - P_j Phi P_k - R_jk / 4)``, ``P_j = -B_j``.
    """
    WQ = np.einsum("jk,jkps->ps", W, Q)
    WR = None if R is None else np.einsum("jk,jkps->ps", W, R)
    return kenward_roger_adjust(C, B, W, WQ, WR)


def kenward_roger_adjust(C, B, W, WQ, WR=None):
    """:func:`kenward_roger_cov` from the contractions ``WQ = sum_jk W_jk Q_jk`` and
    ``WR = sum_jk W_jk R_jk`` (``None``: no second-derivative term)."""
    CB = np.matmul(C[None], B)                          # Phi P_k (sign-free)
    PPP = np.einsum("jk,jpr,krt->pt", W, B, CB)         # sum W_jk P_j Phi P_k
    Lam = WQ - PPP
    if WR is not None:
        Lam = Lam - 0.25 * WR
    return C + 2.0 * C @ Lam @ C


@dataclass(frozen=True)
class KRFTest:
    statistic: float
    df_num: int
    df_denom: float
    pvalue: float
    scale: float
    wald_f: float = np.nan      # unscaled Wald F with the adjusted covariance (F / scale)


def kenward_roger_f(L, b, C, C_adj, B, W, rhs=None):
    """Kenward-Roger F test of ``L b = rhs``.

    Uses the adjusted covariance ``C_adj`` in the Wald statistic and the unadjusted
    ``C`` (``Phi``) in ``A1``, ``A2`` (Kenward and Roger 1997, section 4).  A
    rank-deficient ``L`` is first reduced to its row space (:func:`eigen_contrast`); the
    test does not depend on the basis chosen.
    """
    from scipy import stats
    ec = eigen_contrast(L, b, C, rhs)
    L = ec.rows
    q = ec.q
    Theta = L.T @ np.linalg.solve(L @ C @ L.T, L)
    TPPP = np.matmul(np.matmul((Theta @ C)[None], B), C[None])   # Theta Phi P_j Phi (sign-free)
    tr1 = np.einsum("jpp->j", TPPP)
    A1 = float(tr1 @ W @ tr1)
    nq = TPPP.shape[0]
    A2 = float(np.sum(W * (TPPP.reshape(nq, -1) @ np.swapaxes(TPPP, 1, 2).reshape(nq, -1).T)))
    Bv = (A1 + 6.0 * A2) / (2.0 * q)
    g = ((q + 1.0) * A1 - (q + 4.0) * A2) / ((q + 2.0) * A2) if A2 > 0 else 0.0
    denom = 3.0 * q + 2.0 * (1.0 - g)
    c1, c2, c3 = g / denom, (q - g) / denom, (q + 2.0 - g) / denom
    Estar = 1.0 / (1.0 - A2 / q)
    Vstar = (2.0 / q) * (1.0 + c1 * Bv) / ((1.0 - c2 * Bv) ** 2 * (1.0 - c3 * Bv))
    rho = Vstar / (2.0 * Estar ** 2)
    ddf = 4.0 + (q + 2.0) / (q * rho - 1.0)
    lam = ddf / (Estar * (ddf - 2.0))
    Fw = float(ec.diff @ np.linalg.solve(L @ C_adj @ L.T, ec.diff)) / q
    F = lam * Fw
    return KRFTest(F, q, ddf, float(stats.f.sf(F, q, ddf)), lam, Fw)
