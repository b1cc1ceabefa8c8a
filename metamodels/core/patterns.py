"""Shared factorisation per missingness pattern for R-side (residual-only) covariances.

Without random effects a block (subject) has ``V_b = R^{(c)}[o_b, o_b]``: the rows and
columns of a class covariance ``R^{(c)}`` (``D x D`` over *slots*, e.g. visits) at the
block's observed slots ``o_b``.  ``V_b`` depends only on the block's *pattern*
``k = (c, o_b)``, so it is factorised once per pattern.  Padding every block to all ``D``
slots (zero rows for missing slots) and writing ``V_k^{-1}`` padded with zeros as
``\\tilde V_k^{-1}``, the derivative of ``V`` in slot space is ``R_j = dR^{(c)}/d\\theta_j``
for every block of class ``c``; with ``Y_b = \\tilde V^{-1}_{k(b)} X_b`` (``D x p``) and
``u_b = \\tilde V^{-1}_{k(b)} r_b``:

.. math::

    \\log|V| = \\sum_k n_k \\log|V_k|, \\qquad X'V^{-1}X = \\sum_b X_b'Y_b,

    \\partial_j\\ell = -\\tfrac12 \\langle R_j, \\textstyle\\sum_k n_k \\tilde V_k^{-1}\\rangle
    + \\tfrac12 \\langle R_j, \\textstyle\\sum_b u_bu_b'\\rangle
    \\; [+\\tfrac12 \\operatorname{tr}(C B_j)],
    \\qquad B_j = \\sum_b Y_b' R_j Y_b,

and the sums quadratic in ``V^{-1}`` become contractions of ``D^2 x D^2`` tensors
aggregated over patterns (never over blocks):

.. math::

    T_{jl} = \\sum_k n_k \\operatorname{tr}(V_k^{-1}R_jV_k^{-1}R_l)
           = \\sum R_j[a,c] R_l[b,e] \\, O_T[c,b,e,a], \\quad
    O_T = \\sum_k n_k\\, \\tilde V_k^{-1} \\otimes \\tilde V_k^{-1},

    CQ_{jl} = \\sum_k \\operatorname{tr}(H_k R_j V_k^{-1} R_l), \\quad
    O_{CQ} = \\sum_k \\tilde V_k^{-1} \\otimes H_k, \\quad
    H_k = \\sum_{b \\in k} Y_b C Y_b',

    UU_{jl} = \\sum_b u_b'R_jV^{-1}R_lu_b, \\quad
    O_{UU} = \\sum_k \\tilde V_k^{-1} \\otimes U_k, \\quad U_k = \\sum_{b\\in k} u_bu_b',

    XU_j = \\sum_b Y_b'R_ju_b .

Per block the work is a few ``D x D`` by ``D x p`` products (``O(D^2 p)``); per pattern
``O(D^4)``; the ``q`` covariance parameters only enter through ``q x D^2`` contractions.
For covariances nonlinear in theta the observed information adds
``1/2 <R_jl, sum_k n_k V_k^{-1} - [sum_k H_k] - sum_b u_b u_b'>`` (REML term in brackets).
"""
from __future__ import annotations

import numpy as np

from .likelihood import (Evaluation, _gls_inverse, cholesky_inverse, profiled_llf,
                         assemble, rdot, tdot)

__all__ = ["PatternView"]


def _kron_contract(R, A, B):
    """``M[j, l] = sum R_j[a,c] R_l[b,e] sum_k A_k[c,b] B_k[e,a]``.

    ``R``: (q, D, D); ``A``, ``B``: (npat, D, D).
    """
    q, D = R.shape[0], R.shape[1]
    O = tdot(A.reshape(A.shape[0], -1), B.reshape(B.shape[0], -1))    # [(c,b), (e,a)]
    O = O.reshape(D, D, D, D).transpose(3, 0, 1, 2).reshape(D * D, D * D)   # [(a,c), (b,e)]
    Rf = R.reshape(q, D * D)
    return Rf @ O @ Rf.T


class PatternView:
    """Padded per-block data of a residual-only model and its evaluator.

    Parameters
    ----------
    block : (n,) int array
        Independent unit (subject) of each row.
    slot : (n,) int array
        Slot ``0 .. D-1`` of each row (distinct within a block).
    block_class : (n,) int array
        Class (covariance group) of each row; constant within a block.
    y : (n,) array
    X : (n, p) array
    n_slots : int
        ``D``.
    slot_cov : object
        ``matrices(theta) -> (K, D, D)``, ``derivatives(theta) -> (K, q, D, D)`` and
        ``second_derivatives(theta) -> (K, q, q, D, D)`` or ``None`` (linear): the class
        covariances in slot space.
    n_params : int
    dense_cost : float, optional
        Cost estimate of the dense block path; sets :attr:`preferred`.
    """

    def __init__(self, block, slot, block_class, y, X, n_slots, slot_cov, n_params,
                 dense_cost=None):
        y = np.asarray(y, dtype=float)
        X = np.asarray(X, dtype=float)
        n, p = X.shape
        D = int(n_slots)
        self.n, self.p, self.D, self.q = n, p, D, int(n_params)
        self.slot_cov = slot_cov
        _, block = np.unique(np.asarray(block), return_inverse=True)
        block = block.ravel()
        slot = np.asarray(slot, dtype=np.int64).ravel()
        cls = np.asarray(block_class, dtype=np.int64).ravel()
        nb = int(block.max()) + 1 if n else 0
        bcls = np.zeros(nb, dtype=np.int64)
        bcls[block] = cls
        if np.any(bcls[block] != cls):
            raise ValueError("block_class must be constant within blocks")
        mask = np.zeros((nb, D), dtype=bool)
        mask[block, slot] = True
        if mask.sum() != n:
            raise ValueError("slots must be distinct within blocks")
        key = np.column_stack([bcls, mask])
        pats, pid = np.unique(key, axis=0, return_inverse=True)    # sorted: class first
        pid = pid.ravel()
        order = np.argsort(pid, kind="stable")
        self.pid = pid[order]                                      # pattern of each block
        rank = np.empty(nb, dtype=np.int64)
        rank[order] = np.arange(nb)
        self.Xt = np.zeros((nb, D, p))
        self.Xt[rank[block], slot] = X
        self.yt = np.zeros((nb, D))
        self.yt[rank[block], slot] = y
        self.counts = np.bincount(self.pid, minlength=pats.shape[0]).astype(float)
        self.starts = np.r_[0, np.cumsum(self.counts)[:-1]].astype(np.int64)
        self.pclass = pats[:, 0]
        pmask = pats[:, 1:].astype(bool)
        self.n_classes = int(self.pclass.max()) + 1 if pats.shape[0] else 0
        # pattern and block ranges of each class (patterns are sorted by class)
        self.class_pat = [np.flatnonzero(self.pclass == c) for c in range(self.n_classes)]
        ends = self.starts + self.counts.astype(np.int64)
        self.class_blk = [slice(int(self.starts[ix[0]]), int(ends[ix[-1]])) if ix.size
                          else slice(0, 0) for ix in self.class_pat]
        # patterns grouped by their number of observed slots, for batched factorisation
        sizes = pmask.sum(axis=1)
        self.by_size = []
        for m in np.unique(sizes):
            ix = np.flatnonzero(sizes == m)
            sl = np.nonzero(pmask[ix])[1].reshape(ix.size, m)
            self.by_size.append((ix, sl))
        npat = pats.shape[0]
        self.npat = npat
        self.cost = float(3 * npat * D ** 4 + nb * D * D * p * (3 + min(p, self.q)))
        self.dense_cost = float(dense_cost) if dense_cost is not None else np.inf
        self.preferred = self.cost <= self.dense_cost

    # ------------------------------------------------------------------ evaluation
    def _factor(self, R):
        """Padded ``V_k^{-1}`` (npat, D, D) and ``log|V_k|`` per pattern."""
        D = self.D
        Vi = np.zeros((self.npat, D, D))
        ld = np.zeros(self.npat)
        for ix, sl in self.by_size:
            V = R[self.pclass[ix][:, None, None], sl[:, :, None], sl[:, None, :]]
            vinv, ld[ix] = cholesky_inverse(V)
            Vi[ix[:, None, None], sl[:, :, None], sl[:, None, :]] = vinv
        return Vi, ld

    def evaluate(self, theta, reml=True, order=0):
        """The profiled (RE)ML evaluation at ``theta``; same contract and numbers as
        :func:`~metamodels.core.likelihood.evaluate`."""
        theta = np.asarray(theta, dtype=float)
        p, n = self.p, self.n
        R = np.asarray(self.slot_cov.matrices(theta), dtype=float)
        Vi, ld = self._factor(R)
        logdet_v = float(self.counts @ ld)
        Vb = Vi[self.pid]                                           # (nb, D, D)
        Y = Vb @ self.Xt                                            # V^-1 X (padded)
        yv = np.matmul(Vb, self.yt[..., None])[..., 0]
        xvx = tdot(self.Xt.reshape(-1, p), Y.reshape(-1, p))
        xvy = tdot(Y.reshape(-1, p), self.yt.reshape(-1))
        yvy = float(np.vdot(self.yt, yv))
        C, logdet_xvx = _gls_inverse(xvx)
        beta = C @ xvy
        rss = float(yvy - beta @ xvy)
        llf = profiled_llf(n, p, logdet_v, logdet_xvx, rss, reml)
        ev0 = Evaluation(theta, llf, beta, C, rss, logdet_v, logdet_xvx)
        if order == 0:
            return ev0
        u = yv - rdot(Y.reshape(-1, p), beta).reshape(yv.shape)       # V^-1 r (padded)
        return self._derivatives(ev0, theta, Vi, Y, u, reml)

    def _derivatives(self, ev0, theta, Vi, Y, u, reml):
        p, q, D = self.p, self.q, self.D
        C = ev0.cov_beta
        dR = np.asarray(self.slot_cov.derivatives(theta), dtype=float)      # (K, q, D, D)
        d2R = self.slot_cov.second_derivatives(theta)
        U = np.add.reduceat(u[:, :, None] * u[:, None, :], self.starts, axis=0)
        if reml:
            YC = rdot(Y.reshape(-1, p), C).reshape(Y.shape)
            H = np.add.reduceat(np.matmul(YC, np.swapaxes(Y, 1, 2)), self.starts, axis=0)
        grad = np.zeros(q)
        T, CQ, UU = np.zeros((q, q)), np.zeros((q, q)), np.zeros((q, q))
        B = np.zeros((q, p, p))
        XU = np.zeros((q, p))
        extra = None if d2R is None else np.zeros((q, q))
        for c in range(self.n_classes):
            pk, bk = self.class_pat[c], self.class_blk[c]
            if pk.size == 0:
                continue
            Rc = dR[c]
            Rf = Rc.reshape(q, D * D)
            Vk, Uk = Vi[pk], U[pk]
            vsum = tdot(Vk.reshape(pk.size, -1), self.counts[pk])
            usum = Uk.reshape(pk.size, -1).sum(axis=0)
            grad += 0.5 * (Rf @ (usum - vsum))
            T += _kron_contract(Rc, Vk * self.counts[pk][:, None, None], Vk)
            UU += _kron_contract(Rc, Vk, Uk)
            Yk, uk = Y[bk], u[bk]
            nbk = Yk.shape[0]
            if q > p:        # through sum_b Y_b[a]' Y_b[c] and sum_b Y_b[a]' u_b[c]
                # (stacks of p x p products: one (D p) x (D p) GEMM is as cheap but
                # multithreaded BLAS stalls on it when the cores are oversubscribed)
                Yt = np.ascontiguousarray(Yk.transpose(1, 2, 0))          # (D, p, nbk)
                TU = np.matmul(Yt, uk).transpose(0, 2, 1).reshape(D * D, p)
                XU += Rf @ TU
            else:            # parameter by parameter
                Ru = np.matmul(Rc[:, None], uk[None, :, :, None])[..., 0]   # (q, nbk, D)
                XU += tdot(Ru.reshape(q, -1).T, Yk.reshape(-1, p))
            if reml:
                Hk = H[pk]
                CQ += _kron_contract(Rc, Vk, Hk)
                if q > p:
                    TY = np.matmul(Yt[:, None], np.swapaxes(Yt, 1, 2)[None])  # (D, D, p, p)
                    B += tdot(Rf.T, TY.reshape(D * D, p * p)).reshape(q, p, p)
                else:
                    W = np.matmul(Rc[:, None], Yk[None])                     # (q, nbk, D, p)
                    W = W.transpose(1, 2, 0, 3).reshape(nbk * D, q * p)
                    B += tdot(Yk.reshape(-1, p), W).reshape(p, q, p).transpose(1, 0, 2)
            if extra is not None:
                Q = vsum - usum
                if reml:
                    Q = Q - Hk.reshape(pk.size, -1).sum(axis=0)
                R2 = np.asarray(d2R[c], dtype=float).reshape(q * q, D * D)
                extra += 0.5 * (R2 @ Q).reshape(q, q)
        return assemble(ev0, grad, T, B, CQ, UU, XU, reml, extra)
