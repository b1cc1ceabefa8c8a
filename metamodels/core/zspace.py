"""Z-space (penalised least squares) evaluation of ``y ~ N(X b, s (I + Z Lambda Lambda' Z'))``.

For random effects that are not nested in one grouping (crossed or partially crossed
factors) the independent units of the block path merge into one block of all rows.  This
module works in the space of the ``q`` random-effect columns instead, as lme4 does (Bates,
Maechler, Bolker and Walker 2015, "Fitting linear mixed-effects models using lme4", JSS
67(1), section 3).  With ``G_t = s Lambda_t Lambda_t'`` (``Lambda_t`` the relative
covariance factor of term ``t``, ``Lambda`` block diagonal over the terms' levels):

.. math::

    A(\\theta) = \\Lambda' Z'Z \\Lambda + I = L L', \\qquad
    R_{ZX} = L^{-1}\\Lambda'Z'X, \\quad c_u = L^{-1}\\Lambda'Z'y,

    R_X'R_X = X'X - R_{ZX}'R_{ZX}, \\quad
    \\hat b = (R_X'R_X)^{-1}(X'y - R_{ZX}'c_u), \\quad
    r^2 = y'y - c_u'c_u - \\hat b'(X'y - R_{ZX}'c_u),

and (Sylvester's identity ``|I + Z\\Lambda\\Lambda'Z'| = |A|``)

.. math::

    \\log|V| = n \\log s + \\log|A|, \\quad \\log|X'V^{-1}X| = \\log|R_X'R_X| - p\\log s,
    \\quad r'V^{-1}r = r^2 / s,

so the engine's profiled (RE)ML log-likelihood costs one factorisation of the ``q x q``
matrix ``A`` and products with the cross-products ``Z'Z``, ``Z'X``, ``Z'y`` (computed once;
nothing of size ``n`` is touched per evaluation).  Profiling ``s`` as well gives lme4's
deviance in the relative parameters ``theta`` (lower triangles of the ``Lambda_t``, column
by column, diagonal ``>= 0``), ``-2 l_ML = \\log|A| + n(1 + \\log(2\\pi r^2/n))`` and
``-2 l_REML = \\log|A| + \\log|R_X'R_X| + (n-p)(1 + \\log(2\\pi r^2/(n-p)))``, which
:meth:`ZSpaceView.search` minimises without derivatives (bounded COBYQA, Powell's
quadratic-model method, as lme4's bobyqa).

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
from scipy import linalg, optimize, sparse

from .likelihood import Evaluation, NotPositiveDefiniteError, profiled_llf, rdot, tdot

__all__ = ["ZSpaceTerm", "ZSpaceDesign", "ZSpaceView", "ZSpaceSensitivities",
           "zspace_eligible_structure", "psd_factor", "ZSPACE_MIN_COLUMNS",
           "ZSPACE_DENSE_MAX"]

#: ``path="auto"``: the Z-space path is used when one independent unit of the block path
#: holds at least this many random-effect columns (crossed factors merge all rows into
#: one unit; nested designs keep small units and stay on the block path).
ZSPACE_MIN_COLUMNS = 400
#: Largest dense Schur complement (columns of the non-eliminated terms).
ZSPACE_DENSE_MAX = 20000
#: A ``G`` that is not positive semi-definite has no relative factor: up to this many rows
#: such a point is evaluated on the dense block path, beyond it it is rejected.
_DENSE_FALLBACK_ROWS = 5000


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

    def __init__(self, terms, n, weights=None):
        self.terms = list(terms)
        self.n = int(n)
        # observation weights (SAS WEIGHT, Var(e_i) = s / w_i): the design is kept for the
        # rescaled model W^{1/2} V W^{1/2} = s (I + Z~ Gamma Z~'), Z~ = W^{1/2} Z
        self.root_w = None if weights is None else np.sqrt(np.asarray(weights, dtype=float))
        self.levels = [int(np.max(t.codes)) + 1 if self.n else 0 for t in self.terms]
        self.ks = [int(t.Z.shape[1]) for t in self.terms]
        widths = [L * k for L, k in zip(self.levels, self.ks)]
        self.e = int(np.argmax(widths))
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
        te = self.terms[self.e]
        Ze_rows = te.Z if self.root_w is None else te.Z * self.root_w[:, None]
        ke, Le = self.ks[self.e], self.levels[self.e]
        De = np.zeros((Le, ke, ke))
        codes_e = np.asarray(te.codes, dtype=np.int64)
        for a in range(ke):
            for b in range(a + 1):
                De[:, a, b] = De[:, b, a] = np.bincount(
                    codes_e, weights=Ze_rows[:, a] * Ze_rows[:, b], minlength=Le)
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


class ZSpaceView:
    """Cross-products of ``(y, X)`` with the Z-space design and the engine evaluator.

    Parameters
    ----------
    design : ZSpaceDesign
    y, X : arrays
    sigma_index : int
        Position of the residual variance ``s`` in ``theta``.
    n_params : int
    preferred : bool
        Whether the engine uses this path by default (:func:`evaluate` with ``fast=None``).
    """

    def __init__(self, design, y, X, sigma_index, n_params, preferred=True):
        self.design = design
        self.sigma_index = int(sigma_index)
        self.n_params = int(n_params)
        self.preferred = bool(preferred)
        self.n_factorizations = 0
        y = np.asarray(y, dtype=float)
        X = np.asarray(X, dtype=float)
        self.logdet_w = 0.0                          # log|W^{-1}| added to log|V|
        if design.root_w is not None:
            y, X = y * design.root_w, X * design.root_w[:, None]
            self.logdet_w = -2.0 * float(np.sum(np.log(design.root_w)))
        self.n, self.p = X.shape
        self.XtX = tdot(X, X)
        self.beta0 = np.linalg.lstsq(self.XtX, tdot(X, y), rcond=None)[0]
        r0 = y - rdot(X, self.beta0)               # centred: b = b0 + delta (no cancellation)
        self.Xtr = tdot(X, r0)
        self.rtr = float(r0 @ r0)
        Zs = design.Zs
        self.ZtX = np.asarray(Zs.T @ X)
        self.Ztr = np.asarray(Zs.T @ r0).ravel()

    # --------------------------------------------------------------- PLS
    def pls(self, lams):
        """Penalised least squares at relative factors ``lams``: ``(factor, logdet_A,
        R_X'R_X Cholesky, log|R_X'R_X|, delta, pwrss)``."""
        d, p = self.design, self.p
        F = d.factor(lams)
        rhs = d.apply_lambda(lams, np.column_stack([self.ZtX, self.Ztr]), transpose=True)
        sol = F.forward(rhs)
        Rzx, cu = sol[:, :p], sol[:, p]
        xtx = self.XtX - Rzx.T @ Rzx
        xtx = 0.5 * (xtx + xtx.T)
        try:
            Rx = linalg.cholesky(xtx, lower=True, check_finite=False)
        except linalg.LinAlgError as exc:
            raise NotPositiveDefiniteError("X'V^-1X is singular: the design matrix is rank "
                                           "deficient") from exc
        dx = np.diagonal(Rx)
        if np.any(dx * dx <= 1e-12 * np.diagonal(xtx)):
            raise NotPositiveDefiniteError("X'V^-1X is singular: the design matrix is rank "
                                           "deficient")
        rhs_b = self.Xtr - Rzx.T @ cu
        delta = linalg.cho_solve((Rx, True), rhs_b, check_finite=False)
        pwrss = self.rtr - float(cu @ cu) - float(delta @ rhs_b)
        return F, Rx, 2.0 * float(np.sum(np.log(dx))), delta, max(pwrss, 0.0)

    def criterion_parts(self, theta_rel, reml=True):
        """``(a, b)`` at relative parameters: ``a = log|A|`` (ML) or
        ``log|A| + log|R_X'R_X|`` (REML) and ``b = r^2``, the penalised residual sum of
        squares.  The log-likelihood at residual variance ``s`` is
        ``-1/2 [m log(2 pi s) + a + b / s]`` with ``m = n - p`` (REML) or ``n`` (ML)."""
        key = (bool(reml), tuple(np.asarray(theta_rel, dtype=float).tolist()))
        cache = self.__dict__.setdefault("_parts", {})
        hit = cache.get(key)
        if hit is None:
            self.n_factorizations += 1
            lams = self.design.lambdas(np.asarray(theta_rel, dtype=float))
            F, _, ld_x, _, pwrss = self.pls(lams)
            hit = (F.logdet + (ld_x if reml else 0.0), pwrss)
            if len(cache) > 256:
                cache.clear()
            cache[key] = hit
        return hit

    def deviance(self, theta_rel, reml=True):
        """lme4's profiled deviance ``-2 l`` at relative parameters ``theta_rel``:
        ``a + m (1 + log(2 pi b / m))`` (see :meth:`criterion_parts`)."""
        a, b = self.criterion_parts(theta_rel, reml)
        m = self.n - self.p if reml else self.n
        if not b > 0:
            return np.inf
        return a + m * (1.0 + np.log(2.0 * np.pi * b / m))

    def _stencil(self, x, reml, rel_step=1e-4):
        """Values, gradients and Hessians of ``a`` and ``b`` (:meth:`criterion_parts`) at
        ``x`` by central differences: ``(a, b, ga, gb, Ha, Hb)``."""
        m = x.size
        h = rel_step * np.maximum(np.abs(x), 0.05)
        E = np.diag(h)

        def parts(v):
            return np.array(self.criterion_parts(v, reml))

        f0 = parts(x)
        fp = np.array([parts(x + E[i]) for i in range(m)])
        fm = np.array([parts(x - E[i]) for i in range(m)])
        g = (fp - fm) / (2 * h[:, None])
        H = np.zeros((2, m, m))
        for i in range(m):
            H[:, i, i] = (fp[i] - 2 * f0 + fm[i]) / h[i] ** 2
            for j in range(i):
                v = (parts(x + E[i] + E[j]) - parts(x + E[i] - E[j])
                     - parts(x - E[i] + E[j]) + parts(x - E[i] - E[j])) / (4 * h[i] * h[j])
                H[:, i, j] = H[:, j, i] = v
        return f0[0], f0[1], g[:, 0], g[:, 1], H[0], H[1]

    def _profiled_derivatives(self, st, reml):
        """Gradient and Hessian of the profiled deviance ``a + m log b + const``."""
        a, b, ga, gb, Ha, Hb = st
        m = self.n - self.p if reml else self.n
        g = ga + m * gb / b
        H = Ha + m * (Hb / b - np.outer(gb, gb) / b ** 2)
        return g, H

    # ----------------------------------------------------- SAS parameters
    def _split(self, theta):
        return relative_factors(self.design, theta, self.sigma_index)

    def sas_theta(self, lams, s):
        """The engine's parameters (each term's structure parameters, then ``s``) of
        ``G_t = s Lambda_t Lambda_t'``."""
        theta = np.zeros(self.n_params)
        for t, lam in zip(self.design.terms, lams):
            theta[t.params] = _structure_params(t.structure, s * lam @ lam.T)
        theta[self.sigma_index] = s
        return theta

    def evaluate(self, theta, reml=True, order=0):
        """:class:`~metamodels.core.likelihood.Evaluation` at the engine's ``theta``.

        ``order=1`` adds the gradient and the observed information by central differences
        in ``(theta_rel, sigma)`` (lme4 / lmerTest's parameters; :meth:`derivatives`),
        mapped to the engine's parameters; ``info`` (expected information) is ``None``
        on this path.  Returns ``None`` (dense path) when a ``G`` is not positive
        semi-definite (at most ``_DENSE_FALLBACK_ROWS`` rows; larger data raise a
        NotPositiveDefiniteError).
        """
        try:
            lams, s = self._split(theta)
        except NotPositiveDefiniteError:
            if order == 0 and self.n <= _DENSE_FALLBACK_ROWS:
                return None
            raise
        F, Rx, ld_x, delta, pwrss = self.pls(lams)
        n, p = self.n, self.p
        C = s * linalg.cho_solve((Rx, True), np.eye(p), check_finite=False)
        logdet_v = n * np.log(s) + F.logdet + self.logdet_w
        logdet_xvx = ld_x - p * np.log(s)
        rss = pwrss / s
        llf = profiled_llf(n, p, logdet_v, logdet_xvx, rss, reml)
        ev = Evaluation(np.asarray(theta, dtype=float), llf, self.beta0 + delta, C, rss,
                        logdet_v, logdet_xvx)
        if order == 0:
            return ev
        grad, obs = self.derivatives(lams, s, reml)
        return Evaluation(ev.theta, llf, ev.beta, C, rss, logdet_v, logdet_xvx, grad,
                          None, obs)

    def derivatives(self, lams, s, reml, stencil=None):
        """Gradient and observed information in the engine's parameters (see
        :meth:`evaluate`).

        In ``phi = (theta_rel, sigma)`` the log-likelihood is
        ``l = -1/2 [m log(2 pi sigma^2) + a(theta) + b(theta) / sigma^2]``, so central
        differences of ``a`` and ``b`` in ``theta_rel`` alone give its gradient and
        Hessian (the ``sigma`` rows are analytic).  Then ``grad = J^{-T} g_phi`` and
        ``I = (J (-H_phi)^{-1} J')^{+}`` with ``J = d theta / d phi`` (the delta method,
        valid also where ``J`` is singular, e.g. a variance at 0)."""
        d = self.design
        x = d.theta_rel(lams)
        a, b, ga, gb, Ha, Hb = self._stencil(x, reml) if stencil is None else stencil
        m = self.n - self.p if reml else self.n
        sigma = np.sqrt(s)
        k = x.size
        g = np.zeros(k + 1)
        H = np.zeros((k + 1, k + 1))
        g[:k] = -0.5 * (ga + gb / s)
        g[k] = -m / sigma + b / sigma ** 3
        H[:k, :k] = -0.5 * (Ha + Hb / s)
        H[:k, k] = H[k, :k] = gb / sigma ** 3
        H[k, k] = m / s - 3.0 * b / s ** 2
        J = self._jacobian(lams, s)
        grad = np.linalg.lstsq(J.T, g, rcond=None)[0]
        try:
            cov_phi = np.linalg.inv(-H)
        except np.linalg.LinAlgError:
            cov_phi = np.linalg.pinv(-H)
        cov = J @ cov_phi @ J.T
        cov = 0.5 * (cov + cov.T)
        obs = np.linalg.pinv(cov, hermitian=True)
        return grad, 0.5 * (obs + obs.T)

    def _jacobian(self, lams, s):
        """``d theta / d phi`` (engine parameters by ``(theta_rel, sigma)``)."""
        d = self.design
        sigma = np.sqrt(s)
        J = np.zeros((self.n_params, d.n_theta + 1))
        col = 0
        for t, (term, lam, (r, c)) in enumerate(zip(d.terms, lams, d.tril)):
            for a, b in zip(r, c):
                E = np.zeros_like(lam)
                E[a, b] = 1.0
                dG = s * (E @ lam.T + lam @ E.T)
                J[term.params, col] = _structure_params(term.structure, dG)
                col += 1
            J[term.params, -1] = _structure_params(term.structure, 2 * sigma * lam @ lam.T)
        J[self.sigma_index, -1] = 2 * sigma
        return J

    # ------------------------------------------------------------- search
    def search(self, start, reml, tol=1e-10, maxiter=200):
        """Minimise lme4's profiled deviance over ``theta_rel``: bounded COBYQA (scipy
        >= 1.14; Powell's method before), then Newton steps on central differences
        (:meth:`_polish`).  Returns ``(theta, message, n_evaluations, converged,
        stencil)``: the engine's parameters and the final central-difference stencil
        (reused for the derivatives)."""
        d = self.design
        theta_rel0 = None
        try:
            lams0, _ = self._split(start)
            theta_rel0 = d.theta_rel(lams0)
        except NotPositiveDefiniteError:
            pass
        if theta_rel0 is None or not np.all(np.isfinite(theta_rel0)):
            theta_rel0 = np.concatenate([np.where(r == c, 1.0, 0.0) for r, c in d.tril])
        lo = d.theta_lower
        x0 = np.maximum(theta_rel0, lo)
        n0 = self.n_factorizations

        def fun(x):
            try:
                return float(self.deviance(np.maximum(x, lo), reml))
            except (NotPositiveDefiniteError, np.linalg.LinAlgError, FloatingPointError):
                return np.inf

        bounds = optimize.Bounds(lo, np.full(lo.shape, np.inf))
        with np.errstate(all="ignore"):
            try:
                res = optimize.minimize(fun, x0, method="COBYQA", bounds=bounds,
                                        options={"maxfev": max(500, 100 * x0.size),
                                                 "initial_tr_radius": 0.2,
                                                 "final_tr_radius": 1e-4})
            except ValueError:                       # scipy < 1.14: no COBYQA
                res = optimize.minimize(fun, x0, method="Powell", bounds=bounds,
                                        options={"xtol": 1e-6, "ftol": 1e-12,
                                                 "maxfev": max(500, 200 * x0.size)})
        x = np.maximum(res.x, lo)
        x, stencil, polished = self._polish(x, lo, reml, max(2, min(maxiter, 8)))
        converged = polished or bool(res.success)
        lams = d.lambdas(x)
        s = stencil[1] / (self.n - self.p if reml else self.n)
        message = "converged" if polished else str(res.message)
        return (self.sas_theta(lams, s), message, self.n_factorizations - n0, converged,
                (lams, s, stencil))

    def _polish(self, x, lo, reml, steps):
        """Newton steps on the free coordinates (off their bound) with the gradient and
        Hessian of the profiled deviance from :meth:`_stencil`, each kept when it lowers
        the deviance; stops when a step is below ``1e-7`` relative.  Returns ``(x,
        stencil at x, converged)``."""
        st = self._stencil(x, reml)
        dev = self.deviance(x, reml)
        for _ in range(steps):
            free = np.flatnonzero(x > lo + 1e-9)
            g, H = self._profiled_derivatives(st, reml)
            if free.size == 0:
                return x, st, True
            gf, Hf = g[free], H[np.ix_(free, free)]
            try:
                np.linalg.cholesky(Hf)
                step = -np.linalg.solve(Hf, gf)
            except np.linalg.LinAlgError:
                return x, st, False
            if np.all(np.abs(step) <= 1e-7 * np.maximum(np.abs(x[free]), 1e-2)):
                return x, st, True
            cand = x.copy()
            cand[free] = np.maximum(x[free] + step, lo[free])
            dc = self.deviance(cand, reml)
            if not dc <= dev:
                # the remaining step is below the noise of the deviance
                return x, st, bool(np.all(np.abs(step) <= 1e-4 * np.maximum(np.abs(x[free]), 1e-2)))
            if np.all(np.abs(step) <= 1e-6 * np.maximum(np.abs(x[free]), 1e-2)):
                # a short Newton step lands within rounding of the optimum (quadratic
                # convergence) and changes the Hessian by about its relative size: move
                # the stencil along instead of recomputing it
                a, b = self.criterion_parts(cand, reml)
                full = cand - x
                st = (a, b, st[2] + st[4] @ full, st[3] + st[5] @ full, st[4], st[5])
                return cand, st, True
            x, dev = cand, dc
            st = self._stencil(x, reml)
        return x, st, False

    # ------------------------------------------------- conditional quantities
    def solve(self, theta, vec):
        """``V^{-1} vec`` for an (n,) or (n, m) array: ``s^{-1}(v - Z Lambda A^{-1}
        Lambda' Z' v)``."""
        return zspace_solve(self.design, *self._split(theta), vec)


def relative_factors(design, theta, sigma_index):
    """``(Lambda_t list, s)`` of the engine's ``theta``: ``Lambda_t`` the lower-triangular
    factor of ``G_t / s``; a NotPositiveDefiniteError when ``s <= 0`` or a ``G_t`` is not
    positive semi-definite (the Z-space path keeps lme4's constraint)."""
    theta = np.asarray(theta, dtype=float)
    s = float(theta[sigma_index])
    if not (s > 0.0 and np.isfinite(s)):
        raise NotPositiveDefiniteError("the residual variance is not positive")
    lams = []
    for t in design.terms:
        F = psd_factor(t.structure.matrix(theta[t.params]) / s)
        if F is None:
            raise NotPositiveDefiniteError(
                "the Z-space path needs positive semi-definite G matrices")
        lams.append(F)
    return lams, s


def zspace_solve(design, lams, s, vec):
    """``V^{-1} vec`` with ``V = s (I + Z Lambda Lambda' Z')`` (see :class:`ZSpaceView`;
    with weights ``V^{-1} = W^{1/2} V~^{-1} W^{1/2}``)."""
    vec = np.asarray(vec, dtype=float)
    one = vec.ndim == 1
    v = vec[:, None] if one else vec
    rw = design.root_w
    if rw is not None:
        v = v * rw[:, None]
    out = _solve_scaled(design, lams, s, v)
    if rw is not None:
        out = out * rw[:, None]
    return out[:, 0] if one else out


def _solve_scaled(design, lams, s, v):
    """``V~^{-1} v = s^{-1}(v - Z~ Lambda A^{-1} Lambda' Z~' v)`` for v (n, m)."""
    with single_threaded_blas():
        F = design.factor(lams)
    w = design.apply_lambda(lams, np.asarray(design.Zs.T @ v), transpose=True)
    w = design.apply_lambda(lams, F.solve(w))
    return (v - np.asarray(design.Zs @ w)) / s


def zspace_conditional_cov(design, lams, s):
    """Conditional covariances of the random effects, ``s Lambda_t (A^{-1})_ll
    Lambda_t'`` per level (lme4's ``condVar``): a list over terms of (levels, k, k)."""
    with single_threaded_blas():
        blocks = design.factor(lams).inverse_diagonal_blocks()
    return [s * np.einsum("ij,ljk,mk->lim", lam, B, lam) for lam, B in zip(lams, blocks)]


def _structure_params(structure, G):
    """Parameters of ``structure`` (UN or one variance) whose matrix is ``G``."""
    if hasattr(structure, "theta_from_matrix"):
        return structure.theta_from_matrix(G)
    return np.array([G[0, 0]])


class ZSpaceSensitivities:
    """``B_j = X'V^{-1} V_j V^{-1} X`` (Satterthwaite) from Z-space quantities:
    ``Z'V^{-1}X`` per level for a ``G`` parameter (``V_j = Z (I (x) dG_j) Z'``) and
    ``X'V^{-2}X`` for the residual variance.  Kenward-Roger's ``Q`` and ``R`` need
    ``q x q`` traces and are not offered on this path."""

    supports_kenward_roger = False

    def __init__(self, design, theta, X, sigma_index, n_params):
        lams, s = relative_factors(design, theta, sigma_index)
        X = np.asarray(X, dtype=float)
        p = X.shape[1]
        if design.root_w is not None:               # B_j = X~'V~^-1 V~_j V~^-1 X~
            X = X * design.root_w[:, None]
        VX = _solve_scaled(design, lams, s, X)                  # V~^-1 X~  (n, p)
        ZVX = np.asarray(design.Zs.T @ VX)                      # Z~'V~^-1X~ (q, p)
        B = np.zeros((n_params, p, p))
        for t, term in enumerate(design.terms):
            o, L, k = design.offsets[t], design.levels[t], design.ks[t]
            blk = ZVX[o:o + L * k].reshape(L, k, p)
            dG = term.structure.derivatives(theta[term.params])
            for j, D in zip(range(term.params.start, term.params.stop), dG):
                B[j] = np.einsum("lap,ab,lbr->pr", blk, D, blk)
        B[sigma_index] = tdot(VX, VX)
        self.B = B
        self.theta = np.asarray(theta, dtype=float)
        self.is_linear = True

    def q_contract(self, W):
        raise NotImplementedError(
            "Kenward-Roger is not available on the Z-space path (crossed random effects: "
            "its q x q traces are prohibitive); use ddf='satterthwaite'")

    r_contract = q_contract


def zspace_maximize(y, X, spec, start, reml=True, tol=1e-10, maxiter=200, restarts=()):
    """The Z-space fit of ``spec`` (which offers ``zspace_view``): lme4's profiled
    deviance minimised over the relative factors (:meth:`ZSpaceView.search`), then one
    order-1 evaluation at the estimate.  Same contract as
    :func:`~metamodels.core.optimize.maximize` (a
    :class:`~metamodels.core.optimize.FitOutcome`); ``G`` stays positive semi-definite
    (lme4's constraint)."""
    from .optimize import FitOutcome
    with single_threaded_blas():
        view = spec.zspace_view(y, X, force=True)
        theta, message, nfev, converged, (lams, s, stencil) = view.search(start, reml, tol,
                                                                          maxiter)
        ev = view.evaluate(theta, reml, order=0)
        grad, obs = view.derivatives(lams, s, reml, stencil)
        ev = Evaluation(ev.theta, ev.llf, ev.beta, ev.cov_beta, ev.rss, ev.logdet_v,
                        ev.logdet_xvx, grad, None, obs)
    return FitOutcome(ev, converged, nfev, theta <= spec.lower, theta >= spec.upper,
                      "zspace-cobyqa", message)
