"""Denominator degrees of freedom for Wald t and F tests of fixed effects.

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

__all__ = ["satterthwaite_t_df", "satterthwaite_f", "kenward_roger_cov", "kenward_roger_adjust",
           "kenward_roger_f",
           "KRFTest", "SatterthwaiteFTest"]


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
class SatterthwaiteFTest:
    statistic: float
    df_num: int
    df_denom: float
    pvalue: float


def satterthwaite_f(L, b, C, B, A):
    """Multi-df F test with Satterthwaite denominator df (Fai and Cornelius 1996).

    ``F = (Lb)'(LCL')^{-1}(Lb) / q``; with ``LCL' = P D P'``, each eigen-contrast
    ``p_m'L`` gets its t-df ``nu_m``; ``E = sum nu_m/(nu_m - 2)`` over ``nu_m > 2`` and
    ``ddf = 2E/(E - q)`` (as lmerTest).
    """
    from scipy import stats
    L = np.atleast_2d(L)
    q = L.shape[0]
    M = L @ C @ L.T
    lb = L @ b
    d, P = np.linalg.eigh(M)
    F = float(lb @ np.linalg.solve(M, lb)) / q
    nu = satterthwaite_t_df(P.T @ L, C, B, A)
    if q == 1:
        ddf = float(nu[0])
    else:
        ok = nu > 2
        E = float(np.sum(nu[ok] / (nu[ok] - 2.0)))
        ddf = 2.0 * E / (E - q) if E > q else np.nan
    return SatterthwaiteFTest(F, q, ddf, float(stats.f.sf(F, q, ddf)))


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


def kenward_roger_f(L, b, C, C_adj, B, W):
    """Kenward-Roger F test of ``L b = 0``.

    Uses the adjusted covariance ``C_adj`` in the Wald statistic and the unadjusted
    ``C`` (``Phi``) in ``A1``, ``A2`` (Kenward and Roger 1997, section 4).
    """
    from scipy import stats
    L = np.atleast_2d(L)
    q = L.shape[0]
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
    lb = L @ b
    Fw = float(lb @ np.linalg.solve(L @ C_adj @ L.T, lb)) / q
    F = lam * Fw
    return KRFTest(F, q, ddf, float(stats.f.sf(F, q, ddf)), lam)
