"""Low-rank (Woodbury) evaluation of the profiled likelihood for ``V_b = s I + Z_b G_b Z_b'``.

When the residual covariance is ``s I`` (``s = sigma^2``) and all other covariance comes
from random effects, block ``b`` (``n_b`` rows, ``q_b`` random-effect columns: every term's
columns for every level present in the block, ``G_b`` block diagonal over the levels) has

.. math::

    V = s I + Z G Z', \\qquad V^{-1} = s^{-1}(I - Z D Z'),
    \\qquad D = (s I + G S)^{-1} G,

    \\log|V| = (n_b - q_b)\\log s + \\log|K|, \\qquad K = s I + W'GW,

with ``S = Z'Z = W W'`` (``W`` from the eigen-decomposition of ``S``; the identities hold for
singular ``G`` and ``S``, and ``V`` is positive definite exactly when ``K`` is, which a batched
Cholesky factorisation checks).  With ``F = I - D S`` (so ``V^{-1} Z = s^{-1} Z F``) every
quantity of :func:`~metamodels.core.likelihood.evaluate` is a function of the per-block
cross-products ``S``, ``Z'X``, ``Z'r_0`` and of the totals ``X'X``, ``X'r_0``, ``r_0'r_0``,
computed once (``r_0 = y - X b_0`` with the OLS ``b_0``; the GLS step solves for
``b - b_0``, which avoids cancellation with large means):

.. math::

    A_{zz} = Z'V^{-1}Z = s^{-1} S F,\\quad A_{zx} = Z'V^{-1}X = s^{-1}F'Z'X,\\quad
    \\sum_b X'V^{-1}X = s^{-1}(X'X - \\textstyle\\sum_b X'Z D Z'X),

    z_u = Z'u = s^{-1} F' Z'r, \\qquad
    u'u = s^{-2}(r'r - 2 r'Z D Z'r + r'Z D S D Z'r).

For a ``G`` parameter ``V_j = Z E_j Z'`` (``E_j = dG_b/d\\theta_j``, block diagonal over
the levels) and for ``s`` ``V_j = I``:

.. math::

    \\operatorname{tr}(V^{-1}V_j) = \\operatorname{tr}(E_j A_{zz}) \\text{ or }
    s^{-1}(n_b - \\operatorname{tr} DS),\\qquad u'V_j u = z_u'E_j z_u \\text{ or } u'u,

    \\operatorname{tr}(V^{-1}V_jV^{-1}V_k) = \\operatorname{tr}(E_jA_{zz}E_kA_{zz}),\\;
    \\operatorname{tr}(E_j Z'V^{-2}Z),\\; \\operatorname{tr}V^{-2},\\qquad
    Z'V^{-2}Z = s^{-1}F'A_{zz},

    \\operatorname{tr}V^{-2} = s^{-2}(n_b - 2\\operatorname{tr}DS + \\operatorname{tr}DSDS),
    \\qquad X'V^{-2}X = s^{-2}(X'X - 2X'ZDZ'X + X'ZDSDZ'X),

and with ``H = V^{-1}XCX'V^{-1}``, ``H_z = A_{zx} C A_{zx}'``:
``tr(H V_j V^{-1} V_k) = tr(H_z E_j A_zz E_k)``, ``tr(E_j H_z F)/s`` and
``tr(C X'V^{-3}X)`` with ``X'V^{-3}X = s^{-1}(X'V^{-2}X - A_{zx}'DA_{zx})``;
``u'V_jV^{-1}V_ku = z_u'E_jA_{zz}E_kz_u``, ``z_u'E_j F'z_u/s`` and
``s^{-1}(u'u - z_u'Dz_u)``; ``X'V^{-1}V_ju = A_{zx}'E_jz_u`` and
``s^{-1}(X'u - X'ZDz_u)``.  These are the sums ``T``, ``CQ``, ``UU``, ``B``, ``XU`` of
:func:`~metamodels.core.likelihood.assemble`.

Blocks with the same composition (number of levels of each term) share ``E_j`` and are
stacked into ``(n_blocks, q, q)`` arrays; compositions are padded to a coarse ladder of level
counts (padding levels have zero ``Z`` columns, which changes none of the formulas above)
so that the number of stacks stays small.  Memory is linear in the number of rows and the
evaluation cost does not depend on the block sizes.

Conditioning: ``s^{-1}(I - Z D Z')`` computes ``1/(s + lambda)`` in the directions of
``Z G Z'`` (eigenvalue ``lambda``) as a difference of terms of size ``1/s``.  Where a block
has fewer rows than ``Z`` has independent columns (``rank Z_b = n_b``) ``V_b`` remains well
conditioned as ``s -> 0`` but the identity loses about ``2 log10(lambda / s)`` digits; such
evaluations (``||G||_F tr(S_b) > 1000 s`` in one of those blocks) are left to the dense
path.  In blocks with ``n_b > rank Z_b`` ``V_b`` itself has condition number
``1 + lambda/s`` and both paths are equally accurate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .likelihood import (Evaluation, NotPositiveDefiniteError, _gls_inverse, profiled_llf,
                         assemble, rdot, tdot)

__all__ = ["LowRankTerm", "LowRankView"]

#: Largest ``||G||_F tr(S_b) / s`` (a bound on ``kappa = lambda_max(Z G Z') / s``) accepted
#: in a block whose ``Z`` has full row rank; beyond it the dense path is used (errors grow
#: like ``eps kappa^2`` there, ~1e-11 at the bound).
_KAPPA_MAX = 1e3

_LADDER = np.array([1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128,
                    160, 192, 256, 320, 384, 512, 640, 768, 1024])


@dataclass(frozen=True)
class LowRankTerm:
    """One random-effects term for :class:`LowRankView`.

    Parameters
    ----------
    Z : (n, k) array
        Design of the term's ``k`` correlated effects.
    codes : (n,) int array
        Level of the grouping factor per row.
    structure : Structure
        ``G_t`` (``matrix``, ``derivatives``, ``second_derivatives``, ``is_linear``).
    params : slice
        Position of the structure's parameters in ``theta``.
    """

    Z: np.ndarray
    codes: np.ndarray
    structure: object
    params: slice


class _Stack:
    """Blocks of one composition: cross-products stacked over blocks."""

    def __init__(self, levels, ks, S, Zx, Zr, n_rows):
        self.levels = tuple(int(v) for v in levels)       # padded level count per term
        self.ks = ks
        self.offsets = np.cumsum([0] + [L * k for L, k in zip(self.levels, ks)])
        self.q = int(self.offsets[-1])
        self.S = S                                          # (nb, q, q)  Z'Z
        self.Zx = Zx                                        # (nb, q, p)  Z'X
        self.Zr = Zr                                        # (nb, q)     Z'r0
        lam, U = np.linalg.eigh(S)
        self.W = U * np.sqrt(np.clip(lam, 0.0, None))[:, None, :]   # S = W W'
        self.Wt = np.ascontiguousarray(np.swapaxes(self.W, 1, 2))
        self.n_rows = n_rows
        self.diag = np.arange(self.q)
        # blocks whose Z spans all their rows (rank Z_b = n_b): V_b stays positive definite
        # as s -> 0, where s^-1 (I - Z D Z') loses ~log10(kappa^2) digits
        rank = np.sum(lam > 1e-10 * np.maximum(lam.max(axis=1, keepdims=True), 1e-300), axis=1)
        span = rank >= n_rows
        self.span_trace = float(np.trace(S[span], axis1=1, axis2=2).max()) if span.any() else 0.0

    def expand(self, mats):
        """Block-diagonal ``(q, q)`` matrices ``kron(I_L, d)`` from per-term stacks.

        ``mats[t]`` is a ``(c_t, k_t, k_t)`` array; the result is ``(sum_t c_t, q, q)``
        with term ``t``'s matrices placed on its level blocks.
        """
        count = sum(m.shape[0] for m in mats)
        out = np.zeros((count, self.q, self.q))
        pos = 0
        for t, m in enumerate(mats):
            c = m.shape[0]
            self._place(out[pos:pos + c], m, t)
            pos += c
        return out

    def _place(self, out, d, t):
        """``out[:, sl, sl] = kron(I_L, d)`` for term ``t`` (``d``: (c, k, k))."""
        L, k = self.levels[t], self.ks[t]
        if L == 0 or k == 0:
            return
        o = self.offsets[t]
        blk = np.zeros((d.shape[0], L, k, L, k))
        ar = np.arange(L)
        blk[:, ar, :, ar, :] = d[None]
        out[:, o:o + L * k, o:o + L * k] = blk.reshape(d.shape[0], L * k, L * k)


class LowRankView:
    """Per-block cross-products of ``y ~ N(Xb, s I + Z G Z')`` and their evaluator.

    Parameters
    ----------
    terms : list of LowRankTerm
    block : (n,) int array
        Independent unit of each row (no level of any term spans two units).
    y : (n,) array
    X : (n, p) array
    sigma_index : int
        Position of ``s`` in ``theta``.
    n_params : int
    dense_cost : float, optional
        Cost estimate of the dense block path (``sum_b n_b^3``); sets :attr:`preferred`.
    """

    def __init__(self, terms, block, y, X, sigma_index, n_params, dense_cost=None):
        y = np.asarray(y, dtype=float)
        X = np.asarray(X, dtype=float)
        n, p = X.shape
        self.terms = list(terms)
        self.sigma_index = int(sigma_index)
        self.n_params = int(n_params)
        self.n, self.p = n, p
        self.XtX = tdot(X, X)
        # any b_0 near the GLS solution will do: OLS from the normal equations
        self.beta0 = np.linalg.lstsq(self.XtX, tdot(X, y), rcond=None)[0]
        r0 = y - rdot(X, self.beta0)
        self.Xtr = tdot(X, r0)
        self.rtr = float(r0 @ r0)
        _, block = np.unique(np.asarray(block), return_inverse=True)
        block = block.ravel()
        nb = int(block.max()) + 1 if n else 0
        ks = [t.Z.shape[1] for t in self.terms]
        pos, levels = _level_positions(self.terms, block, nb)
        comp, stack_of = _compositions(levels)
        qs = comp @ np.asarray(ks)                           # q per stack
        # blocks ordered by stack; the columns of block b are col0[b] .. col0[b] + q_b - 1
        order = np.argsort(stack_of, kind="stable")
        rank = np.empty(nb, dtype=np.int64)
        rank[order] = np.arange(nb)
        q_block = qs[stack_of]
        col0 = np.zeros(nb, dtype=np.int64)
        col0[order] = np.r_[0, np.cumsum(q_block[order])[:-1]]
        self.q_total = int(q_block.sum())                    # sum_b q_b (padded)
        term_off = np.zeros((comp.shape[0], len(ks)), dtype=np.int64)
        term_off[:, 1:] = np.cumsum(comp * np.asarray(ks), axis=1)[:, :-1]
        rows, cols, vals = [], [], []
        for t, term in enumerate(self.terms):
            base = col0[block] + term_off[stack_of[block], t] + pos[t] * ks[t]
            for c in range(ks[t]):
                rows.append(np.arange(n))
                cols.append(base + c)
                vals.append(np.asarray(term.Z[:, c], dtype=float))
        Zs = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(n, self.q_total))       # blockdiag_b(Z_b), n x sum q_b
        ZtZ = (Zs.T @ Zs).tocoo()
        ZtZ.sum_duplicates()
        ZtX = np.asarray(Zs.T @ X)
        Ztr = np.asarray(Zs.T @ r0).ravel()
        n_rows = np.bincount(block, minlength=nb)
        eb = np.repeat(order, q_block[order])[ZtZ.row]       # block of each Z'Z entry
        self.stacks = []
        for s_id in range(comp.shape[0]):
            members = order[stack_of[order] == s_id]         # contiguous in `order`
            q, m = int(qs[s_id]), members.size
            S = np.zeros((m, q, q))
            sel = stack_of[eb] == s_id
            off = col0[eb[sel]]
            S[rank[eb[sel]] - rank[members[0]], ZtZ.row[sel] - off, ZtZ.col[sel] - off] = \
                ZtZ.data[sel]
            S = 0.5 * (S + np.swapaxes(S, 1, 2))
            c0 = int(col0[members[0]])
            self.stacks.append(_Stack(comp[s_id], ks, S, ZtX[c0:c0 + m * q].reshape(m, q, p),
                                      Ztr[c0:c0 + m * q].reshape(m, q), n_rows[members]))
        self.dense_cost = float(np.sum(n_rows ** 3.0)) if dense_cost is None else float(dense_cost)
        self.cost = float(sum(st.S.shape[0] * st.q ** 3 for st in self.stacks))
        self.preferred = self.cost < self.dense_cost
        self.g_index = np.concatenate([np.arange(self.n_params)[t.params] for t in self.terms])

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, theta, reml=True, order=0):
        """The profiled (RE)ML evaluation at ``theta`` (``None``, i.e. use the dense path,
        when ``s <= 0`` or the Woodbury identity would be ill-conditioned).

        Same contract and numbers as :func:`~metamodels.core.likelihood.evaluate`.
        """
        theta = np.asarray(theta, dtype=float)
        s = float(theta[self.sigma_index])
        if not (s > 0.0 and np.isfinite(s)):
            return None
        p = self.p
        Gt = [t.structure.matrix(theta[t.params]) for t in self.terms]
        xdx = np.zeros((p, p))
        xdr = np.zeros(p)
        rdr = 0.0
        logdet_v = (self.n - self.q_total) * np.log(s)
        state = []
        for st in self.stacks:
            G = st.expand([g[None] for g in Gt]).sum(axis=0)
            if st.span_trace * np.sqrt(np.sum(G * G)) > _KAPPA_MAX * s:
                return None                                   # ill-conditioned: dense path
            K = np.matmul(st.Wt @ G, st.W)
            K[:, st.diag, st.diag] += s
            try:
                L = np.linalg.cholesky(K)
            except np.linalg.LinAlgError as exc:
                raise NotPositiveDefiniteError(
                    "V(theta) is not positive definite in a block") from exc
            dl = np.diagonal(L, axis1=1, axis2=2)
            if not (np.all(dl > 0) and np.all(np.isfinite(dl))):
                raise NotPositiveDefiniteError("V(theta) is singular in a block")
            logdet_v += 2.0 * float(np.sum(np.log(dl)))
            M = G @ st.S
            M[:, st.diag, st.diag] += s
            try:                       # D = (sI + GS)^{-1} G (not symmetric: LU solve)
                D = np.linalg.solve(M, np.broadcast_to(G, M.shape))
            except np.linalg.LinAlgError as exc:
                raise NotPositiveDefiniteError(
                    "V(theta) is numerically singular in a block") from exc
            if not np.all(np.isfinite(D)):
                raise NotPositiveDefiniteError("V(theta) is numerically singular in a block")
            D = 0.5 * (D + np.swapaxes(D, 1, 2))
            Dzx = D @ st.Zx
            Dzr = np.matmul(D, st.Zr[..., None])[..., 0]
            xdx += tdot(st.Zx.reshape(-1, p), Dzx.reshape(-1, p))
            xdr += tdot(Dzx.reshape(-1, p), st.Zr.reshape(-1))
            rdr += float(np.vdot(st.Zr, Dzr))
            state.append((D, Dzx, Dzr))
        xvx = (self.XtX - xdx) / s
        xvr = (self.Xtr - xdr) / s
        rvr = (self.rtr - rdr) / s
        C, logdet_xvx = _gls_inverse(xvx)
        delta = C @ xvr
        beta = self.beta0 + delta
        rss = float(rvr - delta @ xvr)
        n = self.n
        llf = profiled_llf(n, p, logdet_v, logdet_xvx, rss, reml)
        ev0 = Evaluation(theta, llf, beta, C, rss, logdet_v, logdet_xvx)
        if order == 0:
            return ev0
        return self._derivatives(ev0, theta, s, Gt, delta, state, xvx, xvr, reml)

    def _derivatives(self, ev0, theta, s, Gt, delta, state, xvx, xvr, reml):
        p, q = self.p, self.n_params
        C = ev0.cov_beta
        dG = [t.structure.derivatives(theta[t.params]) for t in self.terms]
        nonlin = [not t.structure.is_linear for t in self.terms]
        d2G = None
        if any(nonlin):
            d2G = [t.structure.second_derivatives(theta[t.params]) for t in self.terms]
        nG = int(sum(d.shape[0] for d in dG))
        grad_g = np.zeros(nG)
        T_gg, CQ_gg, UU_gg = np.zeros((nG, nG)), np.zeros((nG, nG)), np.zeros((nG, nG))
        T_gs, CQ_gs, UU_gs = np.zeros(nG), np.zeros(nG), np.zeros(nG)
        B_g = np.zeros((nG, p, p))
        XU_g = np.zeros((nG, p))
        extra_g = np.zeros((nG, nG)) if d2G is not None else None
        tr_ds = tr_dsds = zr_dzr = dzr_s_dzr = zu_d_zu = 0.0
        dzx_s_dzx = np.zeros((p, p))
        dzx_zu = np.zeros(p)
        azx_d_azx = np.zeros((p, p))
        for st, (D, Dzx, Dzr0) in zip(self.stacks, state):
            S, Zx = st.S, st.Zx
            nb, qb = S.shape[:2]
            DS = D @ S
            SD = np.swapaxes(DS, 1, 2)
            Azz = (S - S @ DS) / s
            Azz = 0.5 * (Azz + np.swapaxes(Azz, 1, 2))
            Azx = (Zx - SD @ Zx) / s
            zr = st.Zr - rdot(Zx.reshape(-1, p), delta).reshape(nb, qb)   # Z'r
            Dzr = Dzr0 - rdot(Dzx.reshape(-1, p), delta).reshape(nb, qb)  # D Z'r
            SDzr = np.matmul(S, Dzr[..., None])[..., 0]
            zu = (zr - SDzr) / s                                      # Z'u
            SDzu = np.matmul(SD, zu[..., None])[..., 0]
            Dzu = np.matmul(D, zu[..., None])[..., 0]
            tr_ds += float(np.trace(DS, axis1=1, axis2=2).sum())
            tr_dsds += float(np.vdot(DS, SD))
            zr_dzr += float(np.vdot(zr, Dzr))
            dzr_s_dzr += float(np.vdot(Dzr, SDzr))
            zu_d_zu += float(np.vdot(zu, Dzu))
            Dzx_f = Dzx.reshape(-1, p)
            dzx_s_dzx += tdot(Dzx_f, (S @ Dzx).reshape(-1, p))
            dzx_zu += tdot(Dzx_f, zu.reshape(-1))
            E = st.expand(dG)                                         # (nG, qb, qb)
            Ef = E.reshape(nG, -1)
            N = np.matmul(E[:, None], Azz[None])                      # E_j A_zz
            Ezu = np.matmul(E[:, None], zu[None, :, :, None])[..., 0]  # E_j z_u
            zz = tdot(zu, zu)                                         # sum_b z_u z_u'
            sum_azz = Azz.sum(axis=0)
            grad_g += -0.5 * Ef @ sum_azz.ravel() + 0.5 * Ef @ zz.ravel()
            Nf = N.reshape(nG, -1).T                                  # (nb q q, nG)
            T_gg += tdot(Nf, np.swapaxes(N, 2, 3).reshape(nG, -1).T)
            Bzz = (Azz - SD @ Azz) / s                                # Z'V^-2 Z
            T_gs += Ef @ Bzz.sum(axis=0).ravel()
            AEzu = np.matmul(Azz[None], Ezu[..., None])[..., 0]
            Ezu_f = Ezu.reshape(nG, -1).T                             # (nb q, nG)
            Azx_f = Azx.reshape(-1, p)
            UU_gg += tdot(Ezu_f, AEzu.reshape(nG, -1).T)
            UU_gs += tdot(Ezu_f, ((zu - SDzu) / s).reshape(-1))
            XU_g += tdot(Ezu_f, Azx_f)
            if reml:
                EA = np.matmul(E[:, None], Azx[None])                 # (nG, nb, qb, p)
                EA_f = EA.transpose(1, 2, 0, 3).reshape(nb * qb, nG * p)
                B_g += tdot(Azx_f, EA_f).reshape(p, nG, p).transpose(1, 0, 2)
                AzxC = rdot(Azx_f, C).reshape(nb, qb, p)
                Hz = np.matmul(AzxC, np.swapaxes(Azx, 1, 2))          # A_zx C A_zx'
                EH = np.matmul(E[:, None], Hz[None])
                CQ_gg += tdot(Nf, np.swapaxes(EH, 2, 3).reshape(nG, -1).T)
                CQ_gs += Ef @ (Hz - Hz @ DS).sum(axis=0).ravel() / s
                azx_d_azx += tdot(Azx_f, (D @ Azx).reshape(-1, p))
            if extra_g is not None:
                Q = sum_azz - zz
                if reml:
                    Q = Q - Hz.sum(axis=0)
                extra_g += 0.5 * self._second_order(st, d2G, nonlin, Q)
        # residual variance s: V_j = I
        n = self.n
        rr = self.rtr - 2.0 * float(delta @ self.Xtr) + float(delta @ self.XtX @ delta)
        uu = (rr - 2.0 * zr_dzr + dzr_s_dzr) / s ** 2
        xdx = self.XtX - s * xvx
        grad_s = -0.5 * (n - tr_ds) / s + 0.5 * uu
        T_ss = (n - 2.0 * tr_ds + tr_dsds) / s ** 2
        UU_ss = (uu - zu_d_zu) / s
        xu_total = xvr - xvx @ delta                                 # sum_b X'u
        XU_s = (xu_total - dzx_zu) / s
        B_s = (self.XtX - 2.0 * xdx + dzx_s_dzx) / s ** 2            # sum_b X'V^-2 X
        # assemble in theta order
        gi, si = self.g_index, self.sigma_index
        grad = np.zeros(q)
        T, CQ, UU = np.zeros((q, q)), np.zeros((q, q)), np.zeros((q, q))
        B = np.zeros((q, p, p))
        XU = np.zeros((q, p))
        ix = np.ix_(gi, gi)
        grad[gi], grad[si] = grad_g, grad_s
        T[ix], T[gi, si], T[si, gi], T[si, si] = T_gg, T_gs, T_gs, T_ss
        UU[ix], UU[gi, si], UU[si, gi], UU[si, si] = UU_gg, UU_gs, UU_gs, UU_ss
        XU[gi], XU[si] = XU_g, XU_s
        if reml:
            CQ_ss = float(np.sum(C * ((B_s - azx_d_azx) / s)))      # tr(C X'V^-3 X)
            CQ[ix], CQ[gi, si], CQ[si, gi], CQ[si, si] = CQ_gg, CQ_gs, CQ_gs, CQ_ss
            B[gi], B[si] = B_g, B_s
        extra = None
        if extra_g is not None:
            extra = np.zeros((q, q))
            extra[ix] = extra_g
        return assemble(ev0, grad, T, B, CQ, UU, XU, reml, extra)

    @staticmethod
    def _second_order(st, d2G, nonlin, Q):
        """``<E_jk, Q>`` for pairs of parameters of the same nonlinear term."""
        sizes = [d.shape[0] for d in d2G]
        nG = int(sum(sizes))
        out = np.zeros((nG, nG))
        pos = 0
        for t, d2 in enumerate(d2G):
            c = sizes[t]
            if nonlin[t] and c:
                mats = [np.zeros((0, *d.shape[-2:])) for d in d2G]
                mats[t] = d2.reshape(c * c, *d2.shape[-2:])
                E2 = st.expand(mats)                                  # (c*c, q, q)
                out[pos:pos + c, pos:pos + c] = (E2.reshape(c * c, -1) @ Q.ravel()).reshape(c, c)
            pos += c
        return out


def _level_positions(terms, block, nb):
    """Per term: each row's level position within its block, and levels per block."""
    pos, nlev = [], []
    for t in terms:
        _, g = np.unique(np.asarray(t.codes).ravel(), return_inverse=True)
        width = int(g.max()) + 1
        uniq, inv = np.unique(block.astype(np.int64) * width + g.ravel(), return_inverse=True)
        pair_block = uniq // width                          # (block, level) pairs, sorted
        counts = np.bincount(pair_block, minlength=nb)
        first = np.r_[0, np.cumsum(counts)[:-1]]
        pos.append((np.arange(uniq.size) - first[pair_block])[inv.ravel()])
        nlev.append(counts)
    return pos, np.column_stack(nlev)


def _compositions(levels):
    """Distinct level-count rows (stacks) and the stack of each block; with more than six
    compositions the counts are rounded up to :data:`_LADDER` (padding levels)."""
    comp, stack_of = np.unique(levels, axis=0, return_inverse=True)
    if comp.shape[0] > 6:
        padded = _LADDER[np.searchsorted(_LADDER, np.minimum(levels, _LADDER[-1]))]
        padded = np.where(levels > _LADDER[-1], levels, padded)
        comp, stack_of = np.unique(padded, axis=0, return_inverse=True)
    return comp, stack_of.ravel()
