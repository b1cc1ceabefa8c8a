"""Factorisation of ``A = Lambda'Z'Z Lambda + I`` for the Z-space path
(:mod:`metamodels.core.zspace`).

Factorisation (scipy only: see docs/engine.md for why not CHOLMOD).  The columns of one
term ``e`` (the one with most columns) form a block-diagonal part of ``A`` (``k_e x k_e``
blocks, one per level); it is eliminated exactly and the Schur complement of the other
terms' ``q_r`` columns is factorised densely:

.. math::

    A = \\begin{pmatrix} A_{ee} & A_{er} \\\\ A_{re} & A_{rr} \\end{pmatrix},\\quad
    L_{ee} L_{ee}' = A_{ee},\\quad
    L_{rr}L_{rr}' = I + \\Lambda_r'(Z_r'Z_r - Z_r'Z_e M_e Z_e'Z_r)\\Lambda_r,

with ``M_e = Lambda_e A_ee^{-1} Lambda_e'`` (block diagonal) and ``A_re = Lambda_r'
Z_r'Z_e Lambda_e`` kept sparse.  The elimination order is chosen once per design (the
fill-reducing choice for crossed factors: the big factor's diagonal blocks first, the
dense part the smaller factors); the sparse pattern of ``Z_r'Z_e`` is fixed, so each
evaluation only rescales it.  The cost per evaluation is one sparse product and
``q_r^3 / 3`` flops.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse

from .likelihood import NotPositiveDefiniteError

__all__ = ["ZSpaceTerm", "ZSpaceDesign", "zspace_eligible_structure", "psd_factor",
           "single_threaded_blas", "ZSPACE_MIN_COLUMNS", "ZSPACE_DENSE_MAX"]

#: ``path="auto"``: the Z-space path is used when one independent unit of the block path
#: holds at least this many random-effect columns (crossed factors merge all rows into
#: one unit; nested designs keep small units and stay on the block path).
ZSPACE_MIN_COLUMNS = 400
#: Largest dense Schur complement (columns of the non-eliminated terms).
ZSPACE_DENSE_MAX = 20000


_CONTROLLER = []


def single_threaded_blas():
    """A context in which BLAS/LAPACK run on one thread (``threadpoolctl``, when
    installed; otherwise a no-op).

    The Z-space path's dense factorisations are of moderate size (``q_r`` up to a few
    thousand): on one thread they cost ``q_r^3 / 3`` flops of CPU, whereas a threaded
    OpenBLAS ``potrf`` of that size spends up to 20 times more CPU spinning when the
    cores are shared (measured on the project's 2-core machine; see docs/engine.md)."""
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
            _CONTROLLER.append(ThreadpoolController())
        except Exception:                     # not installed or no BLAS found
            _CONTROLLER.append(None)
    ctl = _CONTROLLER[0]
    return contextlib.nullcontext() if ctl is None else ctl.limit(limits=1, user_api="blas")


def zspace_eligible_structure(structure):
    """Structures the relative covariance factor represents: unstructured ``G`` (``UN``)
    or one variance of one column."""
    name = getattr(structure, "name", "")
    return name == "UN" or (structure.dim == 1 and structure.n_params == 1
                            and getattr(structure, "is_linear", False))


def psd_factor(G, tol=1e-10):
    """Lower-triangular ``F`` with ``F F' = G`` for a positive semi-definite ``G`` (a
    Cholesky factorisation that sets a column to 0 at a zero pivot); ``None`` when ``G`` is
    not positive semi-definite (a pivot below ``-tol`` times the largest diagonal)."""
    G = np.asarray(G, dtype=float)
    k = G.shape[0]
    F = np.zeros((k, k))
    scale = max(float(np.max(np.abs(np.diag(G)))) if k else 0.0, 1e-300)
    for j in range(k):
        d = G[j, j] - F[j, :j] @ F[j, :j]
        if d < -tol * scale:
            return None
        if d <= tol * scale:
            rest = G[j + 1:, j] - F[j + 1:, :j] @ F[j, :j]
            if np.any(np.abs(rest) > 1e-7 * scale):
                return None
            continue
        F[j, j] = np.sqrt(d)
        F[j + 1:, j] = (G[j + 1:, j] - F[j + 1:, :j] @ F[j, :j]) / F[j, j]
    return F


@dataclass(frozen=True)
class ZSpaceTerm:
    """One random term: design ``Z`` (n, k), level codes (n,), ``G`` structure and the
    position of its parameters in ``theta``."""

    Z: np.ndarray
    codes: np.ndarray
    structure: object
    params: slice


def _tril_colmajor(k):
    """Lower-triangle positions of a ``k x k`` factor in lme4's order (column by column)."""
    r, c = np.tril_indices(k)
    o = np.lexsort((r, c))
    return r[o], c[o]


class ZSpaceDesign:
    """The random-effects design in Z space and its fixed elimination plan.

    Parameters
    ----------
    terms : list of ZSpaceTerm
    n : int
        Number of rows.

    Notes
    -----
    Internal column order: the eliminated term ``e`` first, then the other terms, each
    level by level (``k_t`` columns per level).
    """

    def __init__(self, terms, n, weights=None, whiten=None, eliminable=None):
        self.terms = list(terms)
        self.n = int(n)
        # observation weights (SAS WEIGHT, Var(e_i) = s / w_i): the design is kept for the
        # rescaled model W^{1/2} V W^{1/2} = s (I + Z~ Gamma Z~'), Z~ = W^{1/2} Z
        self.root_w = None if weights is None else np.sqrt(np.asarray(weights, dtype=float))
        self.levels = [int(np.max(t.codes)) + 1 if self.n else 0 for t in self.terms]
        self.ks = [int(t.Z.shape[1]) for t in self.terms]
        widths = [L * k for L, k in zip(self.levels, self.ks)]
        cand = range(len(self.terms)) if eliminable is None else list(eliminable)
        self.e = int(max(cand, key=lambda t: widths[t]))
        self.order = [self.e] + [t for t in range(len(self.terms)) if t != self.e]
        self.offsets = {}
        pos = 0
        for t in self.order:
            self.offsets[t] = pos
            pos += widths[t]
        self.q = pos
        self.q_e = widths[self.e]
        self.q_r = self.q - self.q_e
        if self.q_r > ZSPACE_DENSE_MAX:
            raise NotImplementedError(
                f"the Z-space path factorises the {self.q_r} columns of the smaller crossed "
                f"factors densely (at most {ZSPACE_DENSE_MAX})")
        rows, cols, vals = [], [], []
        for t, term in enumerate(self.terms):
            k = self.ks[t]
            base = self.offsets[t] + np.asarray(term.codes, dtype=np.int64) * k
            for c in range(k):
                rows.append(np.arange(self.n))
                cols.append(base + c)
                zc = np.asarray(term.Z[:, c], dtype=float)
                vals.append(zc if self.root_w is None else zc * self.root_w)
        self.Zs = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(self.n, self.q))
        ke, Le = self.ks[self.e], self.levels[self.e]
        if whiten is None:
            te = self.terms[self.e]
            Ze_rows = te.Z if self.root_w is None else te.Z * self.root_w[:, None]
            De = np.zeros((Le, ke, ke))
            codes_e = np.asarray(te.codes, dtype=np.int64)
            for a in range(ke):
                for b in range(a + 1):
                    De[:, a, b] = De[:, b, a] = np.bincount(
                        codes_e, weights=Ze_rows[:, a] * Ze_rows[:, b], minlength=Le)
        else:
            # known covariance S = L L' (meta-analysis): Z~ = L^{-1} Z (``whiten`` is the
            # sparse block-diagonal L^{-1}); the eliminated term must nest S's blocks so
            # that Z~_e'Z~_e stays block diagonal over its levels
            self.Zs = sparse.csr_matrix(whiten @ self.Zs)
            De = _diagonal_blocks(self.Zs[:, :self.q_e], ke, Le)
        self.De = De
        Zcsc = self.Zs.tocsc()
        Ze, Zr = Zcsc[:, :self.q_e], Zcsc[:, self.q_e:]
        self.B = (Zr.T @ Ze).tocsr()                        # Z_r'Z_e (q_r, q_e)
        self.B.sum_duplicates()
        self.Crr = (Zr.T @ Zr).tocoo()                     # Z_r'Z_r, sparse
        self.Crr.sum_duplicates()
        self.Bt = self.B.T.tocsr()
        # block-diagonal pattern of kron(I_Le, M) for the eliminated term
        self._bd_indptr = np.arange(0, self.q_e * ke + 1, ke)
        self._bd_indices = ((np.arange(self.q_e) // ke * ke)[:, None]
                            + np.arange(ke)[None, :]).ravel()
        self.tril = [_tril_colmajor(k) for k in self.ks]
        self.n_theta = int(sum(len(r) for r, _ in self.tril))
        lower = []
        for r, c in self.tril:
            lower.append(np.where(r == c, 0.0, -np.inf))
        self.theta_lower = np.concatenate(lower) if lower else np.zeros(0)

    # ------------------------------------------------------------- parameters
    def lambdas(self, theta_rel):
        """Relative factors ``Lambda_t`` from lme4's ``theta``."""
        out, pos = [], 0
        for k, (r, c) in zip(self.ks, self.tril):
            lam = np.zeros((k, k))
            lam[r, c] = theta_rel[pos:pos + len(r)]
            out.append(lam)
            pos += len(r)
        return out

    def theta_rel(self, lams):
        return np.concatenate([lam[r, c] for lam, (r, c) in zip(lams, self.tril)])

    # ------------------------------------------------------------- products
    def apply_lambda(self, lams, M, transpose=False):
        """``Lambda' M`` (``transpose=True``) or ``Lambda M`` for ``M`` (q, m) or (q,)."""
        vec = M.ndim == 1
        M2 = M[:, None] if vec else M
        out = np.empty_like(M2, dtype=float)
        for t in self.order:
            o, L, k = self.offsets[t], self.levels[t], self.ks[t]
            blk = M2[o:o + L * k]
            lam = lams[t].T if transpose else lams[t]
            if k == 1:
                out[o:o + L] = lam[0, 0] * blk
            else:
                out[o:o + L * k] = np.einsum("ij,ljm->lim", lam,
                                             blk.reshape(L, k, -1)).reshape(L * k, -1)
        return out[:, 0] if vec else out

    def factor(self, lams):
        """The factorisation of ``A = Lambda'Z'Z Lambda + I`` (:class:`_Factor`)."""
        return _Factor(self, lams)

    def internal_to_terms(self, vec):
        """Split a q-vector (internal order) into per-term ``(levels, k)`` arrays."""
        return [vec[self.offsets[t]:self.offsets[t] + L * k].reshape(L, k)
                for t, (L, k) in enumerate(zip(self.levels, self.ks))]


def _diagonal_blocks(Ze, k, L):
    """The ``k x k`` diagonal blocks of ``Ze'Ze`` (``L`` levels); a ValueError when
    ``Ze'Ze`` has entries off these blocks (the term does not nest the rows' coupling)."""
    C = sparse.coo_matrix(Ze.T @ Ze)
    lr, lc = C.row // k, C.col // k
    off = (lr != lc) & (C.data != 0)
    if np.any(off):
        raise ValueError("the eliminated Z-space term does not nest the blocks of the "
                         "known covariance")
    De = np.zeros((L, k, k))
    np.add.at(De, (lr, C.row % k, C.col % k), C.data)
    return De


def _schur_factor(d, lams, BM, chunk=1024):
    """Lower Cholesky factor of ``S = I + Lambda_r'(Z_r'Z_r - B M_e B')Lambda_r`` (``BM =
    B M_e``): the dense ``S`` is filled by row chunks of the sparse product (bounded
    temporary memory), scaled in place and factorised in place by LAPACK ``potrf``."""
    q_r = d.q_r
    S = np.empty((q_r, q_r))
    for r0 in range(0, q_r, chunk):
        r1 = min(q_r, r0 + chunk)
        S[r0:r1] = (BM[r0:r1] @ d.Bt).toarray()
    np.negative(S, out=S)
    S[d.Crr.row, d.Crr.col] += d.Crr.data
    for t in d.order[1:]:                       # Lambda_r' S Lambda_r, slot by slot
        o, L, k = d.offsets[t] - d.q_e, d.levels[t], d.ks[t]
        lam = lams[t]
        if k == 1:
            S[o:o + L] *= lam[0, 0]
            S[:, o:o + L] *= lam[0, 0]
            continue
        rows = S[o:o + L * k].reshape(L, k, q_r)
        S[o:o + L * k] = np.einsum("ji,ljm->lim", lam, rows).reshape(L * k, q_r)
        cols = S[:, o:o + L * k].reshape(q_r, L, k)
        S[:, o:o + L * k] = np.einsum("mlj,ji->mli", cols, lam).reshape(q_r, L * k)
    S[np.diag_indices(q_r)] += 1.0
    c, info = linalg.lapack.dpotrf(S.T, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        raise NotPositiveDefiniteError("Lambda'Z'Z Lambda + I is numerically singular")
    return c


class _Factor:
    """``A = L L'`` in the block-elimination form of the module docstring."""

    def __init__(self, design, lams):
        d = self.design = design
        self.lams = lams
        e, ke = d.e, d.ks[d.e]
        lam_e = lams[e]
        Aee = np.einsum("ji,ljk,km->lim", lam_e, d.De, lam_e)
        Aee[:, np.arange(ke), np.arange(ke)] += 1.0
        if ke == 1:
            a = Aee[:, 0, 0]
            self.Lee = np.sqrt(a)[:, None, None]
            self.Aee_inv = (1.0 / a)[:, None, None]
        else:
            self.Lee = np.linalg.cholesky(Aee)
            Li = np.linalg.inv(self.Lee)
            self.Aee_inv = np.matmul(np.swapaxes(Li, 1, 2), Li)
        logdet = 2.0 * float(np.sum(np.log(np.diagonal(self.Lee, axis1=1, axis2=2))))
        q_r = d.q_r
        if q_r:
            Me = np.einsum("ij,ljk,mk->lim", lam_e, self.Aee_inv, lam_e)    # Lambda A^-1 Lambda'
            Mbd = sparse.csr_matrix((Me.reshape(-1), d._bd_indices, d._bd_indptr),
                                    shape=(d.q_e, d.q_e))
            self.Lrr = _schur_factor(d, self.lams, d.B @ Mbd)
            logdet += 2.0 * float(np.sum(np.log(np.diagonal(self.Lrr))))
        else:
            self.Lrr = np.zeros((0, 0))
        if not np.isfinite(logdet):
            raise NotPositiveDefiniteError("Lambda'Z'Z Lambda + I is not finite")
        self.logdet = logdet

    def _lam_r(self, M, transpose):
        """``Lambda_r' M`` / ``Lambda_r M`` on the rest block (rows of ``M``: q_r)."""
        d = self.design
        out = np.empty_like(M)
        for t in d.order[1:]:
            o, L, k = d.offsets[t] - d.q_e, d.levels[t], d.ks[t]
            lam = self.lams[t].T if transpose else self.lams[t]
            blk = M[o:o + L * k]
            if k == 1:
                out[o:o + L] = lam[0, 0] * blk
            else:
                out[o:o + L * k] = np.einsum("ij,ljm->lim", lam,
                                             blk.reshape(L, k, -1)).reshape(L * k, -1)
        return out

    def _ee(self, mats, b):
        """Batched ``mats_l @ b_l`` over the eliminated term's levels (b: (q_e, m))."""
        ke = self.design.ks[self.design.e]
        m = b.shape[1]
        return np.matmul(mats, b.reshape(-1, ke, m)).reshape(-1, m)

    def _are(self, x):
        """``A_re x = Lambda_r' B Lambda_e x`` for x (q_e, m)."""
        d = self.design
        lam_e = self.lams[d.e]
        ke = d.ks[d.e]
        y = np.einsum("ij,ljm->lim", lam_e, x.reshape(-1, ke, x.shape[1])).reshape(x.shape)
        return self._lam_r(np.asarray(d.B @ y), transpose=True)

    def _aer(self, x):
        """``A_er x = Lambda_e' B' Lambda_r x`` for x (q_r, m)."""
        d = self.design
        lam_e = self.lams[d.e]
        ke = d.ks[d.e]
        y = np.asarray(d.B.T @ self._lam_r(x, transpose=False))
        return np.einsum("ji,ljm->lim", lam_e, y.reshape(-1, ke, y.shape[1])).reshape(y.shape)

    def forward(self, b):
        """``L^{-1} b`` for b (q, m)."""
        d = self.design
        be, br = b[:d.q_e], b[d.q_e:]
        Lee_inv = self._Lee_inv
        xe = self._ee(Lee_inv, be)
        if not d.q_r:
            return xe
        t = br - self._are(self._ee(self.Aee_inv, be))
        xr = linalg.solve_triangular(self.Lrr, t, lower=True, check_finite=False)
        return np.vstack([xe, xr])

    def backward(self, x):
        """``L'^{-1} x`` for x (q, m)."""
        d = self.design
        xe, xr = x[:d.q_e], x[d.q_e:]
        if d.q_r:
            yr = linalg.solve_triangular(self.Lrr, xr, lower=True, trans="T",
                                         check_finite=False)
            # L_re' y_r = L_ee^{-1} A_er y_r
            xe = xe - self._ee(self._Lee_inv, self._aer(yr))
        else:
            yr = xr
        ye = self._ee(np.swapaxes(self._Lee_inv, 1, 2), xe)
        return np.vstack([ye, yr])

    def solve(self, b):
        """``A^{-1} b`` for b (q, m)."""
        return self.backward(self.forward(b))

    @property
    def _Lee_inv(self):
        inv = self.__dict__.get("_lee_inv")
        if inv is None:
            ke = self.design.ks[self.design.e]
            inv = (1.0 / self.Lee) if ke == 1 else np.linalg.inv(self.Lee)
            self._lee_inv = inv
        return inv

    def inverse_diagonal_blocks(self, chunk=2048):
        """Diagonal ``k_t x k_t`` blocks of ``A^{-1}`` per term (internal columns), as a
        list over terms of ``(levels, k, k)`` arrays."""
        d = self.design
        out = [None] * len(d.terms)
        ke = d.ks[d.e]
        blocks_e = self.Aee_inv.copy()
        if d.q_r:
            Srinv = linalg.cho_solve((self.Lrr, True), np.eye(d.q_r), check_finite=False)
            # (A^-1)_ee = A_ee^-1 + W' S^-1 W with W = A_re A_ee^-1 (columns by chunks)
            for start in range(0, d.q_e, chunk * ke):
                stop = min(d.q_e, start + chunk * ke)
                E = np.zeros((d.q_e, stop - start))
                E[np.arange(start, stop), np.arange(stop - start)] = 1.0
                W = self._are(self._ee(self.Aee_inv, E))
                Y = linalg.solve_triangular(self.Lrr, W, lower=True, check_finite=False)
                lev = (stop - start) // ke
                Yb = Y.reshape(d.q_r, lev, ke)
                blocks_e[start // ke:stop // ke] += np.einsum("ila,ilb->lab", Yb, Yb)
            for t in d.order[1:]:
                o, L, k = d.offsets[t] - d.q_e, d.levels[t], d.ks[t]
                sub = Srinv[o:o + L * k, o:o + L * k].reshape(L, k, L, k)
                out[t] = sub[np.arange(L), :, np.arange(L), :]
        out[d.e] = blocks_e
        return out
