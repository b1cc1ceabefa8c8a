"""MIVQUE(0) estimates of covariance parameters (SAS PROC MIXED ``METHOD=MIVQUE0``), the
default starting values of SAS's REML and ML iterations.

For a covariance linear in its parameters, ``V = sum_j theta_j V_j``, the minimum-variance
quadratic unbiased estimator with a priori ``V_0 = I`` (every random-effect variance 0,
residual variance 1: Rao 1971; Goodnight 1978) solves

    S theta = q,   S_ij = tr(M V_i M V_j),   q_i = r' V_i r,

with ``M = I - X (X'X)^{-1} X'`` and ``r = M y`` the OLS residuals: one REML
Fisher-scoring step from ``V = I``.  Blockwise, with ``K = (X'X)^{-1}``,
``F_i = X'V_iX`` and ``G_ij = X'V_iV_jX``,

    S_ij = tr(V_i V_j) - 2 tr(K G_ij) + tr(K F_i K F_j),

so nothing of size ``n x n`` is formed.  Estimates are unbiased but may be negative or
give an indefinite ``V``; :func:`mivque0_start` makes them a valid start.

References
----------
Rao CR (1971) Minimum variance quadratic unbiased estimation of variance components.
J Multivar Anal 1: 445-456.  Goodnight JH (1978) Computing MIVQUE0 estimates of variance
components, SAS Technical Report R-105.  SAS/STAT User's Guide, PROC MIXED, ``METHOD=``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..core.sensitivity import _as_dense
from ..exceptions import SpecificationError

if TYPE_CHECKING:
    from statsmodels.base.model import LikelihoodModel

__all__ = ["mivque0", "mivque0_start"]


def _system(y, X, spec):
    """``(S, q)`` of the MIVQUE(0) equations (module docstring)."""
    K = np.linalg.inv(X.T @ X)
    r = y - X @ (K @ (X.T @ y))
    n_par = spec.n_params
    p = X.shape[1]
    trVV = np.zeros((n_par, n_par))
    F = np.zeros((n_par, p, p))
    G = np.zeros((n_par, n_par, p, p))
    q = np.zeros(n_par)
    theta = np.asarray(spec.start(1.0), dtype=float)      # V_j do not depend on theta
    for rows, v, dv in zip(spec.layout.groups, spec.build(theta), spec.jacobian(theta)):
        _, dv = _as_dense(np.asarray(v), np.asarray(dv))
        Xg, rg = X[rows], r[rows]                           # (nb, m, p), (nb, m)
        trVV += np.einsum("ibkl,jblk->ij", dv, dv, optimize=True)
        AX = np.matmul(dv, Xg[None])                         # V_j X  (q, nb, m, p)
        F += np.einsum("bkp,ibkr->ipr", Xg, AX, optimize=True)
        G += np.einsum("ibkp,jbkr->ijpr", AX, AX, optimize=True)
        q += np.einsum("bk,ibkl,bl->i", rg, dv, rg, optimize=True)
    KF = np.matmul(K[None], F)                               # (q, p, p)
    S = (trVV - 2.0 * np.einsum("pr,ijrp->ij", K, G)
         + np.einsum("ipr,jrp->ij", KF, KF))
    return S, q


def mivque0(model: LikelihoodModel) -> pd.Series:
    r"""MIVQUE(0) estimates of the covariance parameters of a MixedModel.

    SAS PROC MIXED ``METHOD=MIVQUE0``: the minimum-variance quadratic unbiased
    estimator with a priori ``V_0 = I`` (every random-effect variance 0, residual
    variance 1), which SAS uses as the starting values of its REML and ML iterations
    (``MixedModel.fit(start="mivque0")`` does too).  One linear system, no iteration.

    Parameters
    ----------
    model : MixedModel
        Its covariance must be linear in the parameters (ID, VC, CS, TOEP, UN ``R`` and
        variance / unstructured ``G``), as in SAS, where MIVQUE0 is the estimator of
        linear covariance structures.

    Returns
    -------
    pandas.Series
        Estimates labelled by parameter, in the order of ``MixedResults.theta``
        (unbiased, so they may be negative or give an indefinite ``V``).

    Raises
    ------
    SpecificationError
        A covariance that is not linear in its parameters (AR1, spatial, ...) or a
        singular MIVQUE system (parameters not identified by the design).

    See Also
    --------
    metamodels.MixedModel.fit : ``start="mivque0"`` starts REML/ML from these.
    metamodels.oneway_variance_components : ANOVA estimates of the one-way model.

    Notes
    -----
    For ``V = sum_j theta_j V_j`` the estimates solve ``S theta = q`` with

    .. math::

        S_{ij} = \operatorname{tr}(M V_i M V_j), \qquad q_i = r' V_i r, \qquad
        M = I - X (X'X)^{-1} X', \quad r = M y,

    one REML Fisher-scoring step from ``V = I`` (Rao 1971; Goodnight 1978); see the
    module docstring for the blockwise computation.

    References
    ----------
    .. [1] Rao CR (1971). Minimum variance quadratic unbiased estimation of variance
       components. Journal of Multivariate Analysis 1, 445-456.
    .. [2] Goodnight JH (1978). Computing MIVQUE0 estimates of variance components. SAS
       Technical Report R-105.

    Examples
    --------
    >>> import metamodels as mm
    >>> sleep = mm.datasets.load("sleepstudy")
    >>> model = mm.MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", sleep)
    >>> print(mm.mixed.mivque0(model).round(1))
    Subject Var((Intercept))    1378.2
    Residual                     960.5
    dtype: float64
    """
    spec = model.spec
    if not getattr(spec, "is_linear", False):
        names = [p.structure.name for p in spec.random]
        if spec.residual is not None:
            names.append(spec.residual.structure.name)
        raise SpecificationError("MIVQUE0 needs a covariance linear in its parameters; this "
                                 f"model's structures are {', '.join(names)} (use the "
                                 "default start, or ID/VC/CS/TOEP/UN)")
    X = model.exog
    S, q = _system(np.asarray(model.endog, dtype=float), X, spec)
    try:
        theta = np.linalg.solve(S, q)
    except np.linalg.LinAlgError as exc:
        raise SpecificationError("MIVQUE0: the equations are singular (covariance "
                                 "parameters not identified by the design)") from exc
    return pd.Series(theta, index=list(spec.param_names))


def _positive_definite(spec, theta):
    """``V`` positive definite and every ``G`` positive semi-definite at ``theta``."""
    for G in spec.G_matrices(theta):
        G = np.asarray(G, dtype=float)
        if G.size and np.linalg.eigvalsh(G).min() < -1e-12 * max(1.0, np.abs(G).max()):
            return False
    for v in spec.build(theta):
        v = np.asarray(v)
        if v.ndim == 1 or v.shape[-1] == 1:
            if not np.all(v > 0):
                return False
        else:
            try:
                np.linalg.cholesky(v)
            except np.linalg.LinAlgError:
                return False
    return True


def mivque0_start(model: LikelihoodModel, fallback: np.ndarray) -> np.ndarray:
    """MIVQUE(0) estimates as starting values.

    Parameters below their lower bound (negative variances) are moved to 1e-4 of the
    largest estimate.  When ``V`` is then not positive definite (an indefinite unstructured
    estimate), the start is moved towards ``fallback`` (a positive-definite start): ``V``
    is linear in the parameters, so ``lam theta + (1 - lam) fallback`` is positive definite
    (and every ``G`` positive semi-definite, as a ``g_constraint="psd"`` search needs)
    for some ``lam`` in (0, 1]; the largest of 1, 1/2, 1/4, ... that is, is used.

    Parameters
    ----------
    model : MixedModel
        Its covariance must be linear in the parameters.
    fallback : numpy.ndarray
        A valid (positive definite) start.

    Returns
    -------
    numpy.ndarray
        The start (``fallback`` when no ``lam >= 1/1024`` gives a positive definite
        ``V``).
    """
    spec = model.spec
    theta = mivque0(model).to_numpy()
    floor = 1e-4 * max(float(np.max(np.abs(theta))), 1e-12)
    low = np.asarray(spec.lower, dtype=float)
    theta = np.where(np.isfinite(low) & (theta <= low), low + floor, theta)
    fallback = np.asarray(fallback, dtype=float)
    lam = 1.0
    while lam > 1e-3:
        cand = lam * theta + (1.0 - lam) * fallback
        if _positive_definite(spec, cand):
            return cand
        lam /= 2.0
    return fallback
