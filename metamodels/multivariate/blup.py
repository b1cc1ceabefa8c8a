"""BLUPs of MetaMixed fits with their prediction-error variances.

For ``y = X b + sum_t Z_t u_t + e``, ``u_t ~ N(0, I (x) G_t)``, ``e ~ N(0, S)`` with
``V = S + sum_t Z_t (I (x) G_t) Z_t'``, ``W = V^{-1}``, ``C = (X'WX)^{-1}`` and
``P = W - W X C X' W`` (Henderson 1975; Raudenbush and Bryk 1985):

* random effects of term ``t`` at level ``l`` (metafor's ``ranef.rma.mv``):
  ``u_l = G_t Z_l' W (y - X b)`` with prediction-error covariance
  ``Var(u_l - u_l_hat) = G_t - G_t Z_l' P Z_l G_t``, where ``Z_l`` holds the rows of
  level ``l`` (they lie in one independent block, so ``Z_l' W Z_l`` and ``Z_l' W X`` are
  sums over that block);
* study-level true effects ``theta = X b + sum_t Z_t u_t`` (metafor's ``blup.rma.uni``
  for one term): ``theta_hat = y - S P y`` with ``Var(theta_hat - theta) = S - S P S``.

Intervals are ``estimate +- c se`` with ``c`` the normal quantile (``test="z"``) or the t
quantile with the term's df (:func:`metamodels.multivariate.dfs.random_term_df`).
"""
from __future__ import annotations

import numpy as np

__all__ = ["random_effect_pieces", "study_blup_pieces", "level_labels"]


def _blocks(spec, theta):
    """``(rows, V)`` per block group with ``V`` as an (nb, m, m) array."""
    for rows, v in zip(spec.layout.groups, spec.build(theta)):
        v = np.asarray(v, dtype=float)
        if v.ndim == 1:
            v = v[:, None, None]
        elif v.ndim == 2:
            v = np.stack([np.diag(r) for r in v])
        yield rows, v


def random_effect_pieces(spec, theta, X, resid, cov_beta):
    """Per active random term: (BLUPs (L, q), prediction-error variances (L, q))."""
    X = np.asarray(X, dtype=float)
    if spec.zspace_active():           # crossed random effects: never form V
        from ..core.zspace_known import known_random_effects
        return known_random_effects(spec.zspace_design(), spec._zspace_whitener(),
                                    spec._zspace_split(theta)[0], spec.G_matrices(theta),
                                    spec.random, X, resid, cov_beta)
    p = X.shape[1]
    Gs = spec.G_matrices(theta)
    acc = []
    for part in spec.random:
        L, q = int(part.groups.max()) + 1, part.Z.shape[1]
        acc.append((np.zeros((L, q)), np.zeros((L, q, q)), np.zeros((L, q, p))))
    for rows, V in _blocks(spec, theta):
        W = np.linalg.inv(V)
        Wr = np.einsum("bij,bj->bi", W, resid[rows])
        WX = np.einsum("bij,bjp->bip", W, X[rows])
        for part, (ZWr, ZWZ, ZWX) in zip(spec.random, acc):
            Z, g = part.Z[rows], part.groups[rows]
            same = (g[:, :, None] == g[:, None, :]).astype(float)
            T = np.einsum("bij,bij,bjq->biq", same, W, Z)       # sum_{j in level(i)} W_ij Z_j
            gi = g.reshape(-1)
            Zi = Z.reshape(-1, Z.shape[-1])
            np.add.at(ZWr, gi, Zi * Wr.reshape(-1)[:, None])
            np.add.at(ZWZ, gi, Zi[:, :, None] * T.reshape(-1, Z.shape[-1])[:, None, :])
            np.add.at(ZWX, gi, Zi[:, :, None] * WX.reshape(-1, p)[:, None, :])
    out = []
    for G, (ZWr, ZWZ, ZWX) in zip(Gs, acc):
        u = ZWr @ G
        ZPZ = ZWZ - np.einsum("lqp,pr,lsr->lqs", ZWX, cov_beta, ZWX)
        var = np.diagonal(G - np.einsum("ij,ljk,km->lim", G, ZPZ, G), axis1=1, axis2=2)
        out.append((u, np.clip(var, 0.0, None)))
    return out


def study_blup_pieces(spec, known_spec, theta, X, y, resid):
    """``(theta_hat, Var(theta_hat - theta))`` of every row: ``y - S P y`` and
    ``diag(S - S P S)`` (S the known sampling covariance, from ``known_spec``: the same
    block layout as ``spec`` without random terms)."""
    X = np.asarray(X, dtype=float)
    if spec.zspace_active():           # crossed random effects: never form V
        from ..core.zspace_known import known_true_effects
        C = np.linalg.inv(X.T @ spec.zspace_solve(theta, X))
        return known_true_effects(spec.zspace_design(), spec._zspace_whitener(),
                                  spec._zspace_split(theta)[0], X, y, resid, C)
    p = X.shape[1]
    n = y.shape[0]
    pred, var = np.empty(n), np.empty(n)
    S_blocks = list(_blocks(known_spec, np.zeros(known_spec.n_params)))
    XWX = np.zeros((p, p))
    pieces = []
    for (rows, V), (rows_s, S) in zip(_blocks(spec, theta), S_blocks):
        if rows.shape != rows_s.shape or not np.array_equal(rows, rows_s):
            raise RuntimeError("the known covariance and the model use different block "
                               "layouts")
        W = np.linalg.inv(V)
        SW = S @ W
        SWX = np.einsum("bij,bjp->bip", SW, X[rows])
        XWX += np.einsum("bip,bij,bjq->pq", X[rows], W, X[rows])
        pieces.append((rows, S, SW, SWX))
    C = np.linalg.inv(XWX)
    for rows, S, SW, SWX in pieces:
        Py = np.einsum("bij,bj->bi", SW, resid[rows])       # S W (y - X b) = S P y
        pred[rows] = y[rows] - Py
        SWS = np.einsum("bij,bjk->bik", SW, S)
        d = np.diagonal(S, axis1=1, axis2=2) - np.diagonal(SWS, axis1=1, axis2=2)
        var[rows] = d + np.einsum("bip,pq,biq->bi", SWX, C, SWX)
    return pred, np.clip(var, 0.0, None)


def level_labels(levels):
    """metafor-style labels of grouping levels (nested levels joined by ``/``)."""
    return [("/".join(str(v) for v in lev) if isinstance(lev, tuple) else lev)
            for lev in levels]
