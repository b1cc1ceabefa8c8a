"""Z-space evaluation with a known sampling covariance: ``y ~ N(X b, S + Z G Z')``.

Multilevel meta-analysis with crossed random effects (studies crossed with labs or
outcomes, metafor's ``rma.mv`` with several ``~ 1 | factor`` terms) has a known level-1
covariance ``S`` (block diagonal by study, often diagonal) and no residual variance.
With ``S = L L'`` (Cholesky factors of its small blocks) the whitened data

.. math::

    y^* = L^{-1} y, \\quad X^* = L^{-1} X, \\quad Z^* = L^{-1} Z,
    \\qquad y^* \\sim N(X^* b,\\; I + Z^* G Z^{*\\prime})

have the model of :mod:`metamodels.core.zspace` with the residual variance fixed at 1
(not profiled).  With ``G = c^2 \\Lambda\\Lambda'`` (``c^2`` the median sampling variance,
so that the relative factors ``Lambda`` are of order one) and ``Z~ = c Z^*``, the
penalised least squares of Bates, Maechler, Bolker and Walker (2015, JSS 67(1), sec. 3)
give

.. math::

    A = \\Lambda'\\tilde Z'\\tilde Z\\Lambda + I = L_A L_A', \\quad
    \\log|V| = \\log|S| + \\log|A|, \\quad
    \\log|X'V^{-1}X| = \\log|R_X'R_X|, \\quad r'V^{-1}r = r^2,

so ``-2 l_ML = n log 2 pi + log|S| + log|A| + r^2`` and ``-2 l_REML = (n - p) log 2 pi +
log|S| + log|A| + log|R_X'R_X| + r^2``, minimised over ``Lambda`` without derivatives
(:meth:`ZSpaceView.search`), the gradient and observed information by central
differences, mapped to the model's parameters by the chain rule.

The eliminated term of the factorisation (:mod:`metamodels.core.zspace_factor`) must
nest the blocks of ``S`` (each block's rows in one of its levels) so that
``Z~_e'Z~_e`` stays block diagonal: the study term does; with a diagonal ``S`` every term
does.  Conditional quantities (``V^{-1}v``, BLUPs and their prediction-error variances,
diagonals of ``V`` and ``V^{-1}``) are computed here without forming ``V``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .blocks import BlockLayout
from .likelihood import Evaluation, NotPositiveDefiniteError, profiled_llf
from .zspace import ZSpaceView, _solve_scaled, _structure_params, zspace_conditional_cov
from .zspace_factor import psd_factor, single_threaded_blas, zspace_eligible_structure

__all__ = ["Whitener", "KnownZSpaceView", "known_zspace_eligible", "nesting_terms",
           "absolute_factors", "known_zspace_solve", "known_quad_diagonal",
           "known_marginal_diagonal", "known_inverse_diagonal", "known_random_effects",
           "known_true_effects"]


@dataclass(frozen=True)
class Whitener:
    """``S = L L'`` by blocks: the sparse ``L`` and ``L^{-1}``, ``log|S|``, the scale
    ``c`` (square root of the median sampling variance) and ``S`` itself."""

    L: sparse.csr_matrix
    Linv: sparse.csr_matrix
    logdet: float
    c: float
    S: sparse.csr_matrix
    components: np.ndarray

    @classmethod
    def from_known(cls, known):
        n = known.n
        comps = known.components()
        layout = BlockLayout.from_labels(comps)
        r_l, c_l, v_l, r_i, c_i, v_i = [], [], [], [], [], []
        logdet = 0.0
        for rows, S in zip(layout.groups, known.blocks_for(layout)):
            try:
                Lb = np.linalg.cholesky(S)
            except np.linalg.LinAlgError as exc:
                raise NotPositiveDefiniteError(
                    "a block of the known sampling covariance is not positive definite"
                ) from exc
            Li = np.linalg.inv(Lb)
            logdet += 2.0 * float(np.sum(np.log(np.diagonal(Lb, axis1=1, axis2=2))))
            m = rows.shape[1]
            ii, jj = np.tril_indices(m)
            for M, rr, cc, vv in ((Lb, r_l, c_l, v_l), (Li, r_i, c_i, v_i)):
                rr.append(rows[:, ii].ravel())
                cc.append(rows[:, jj].ravel())
                vv.append(M[:, ii, jj].ravel())

        def mat(r, c, v):
            return sparse.csr_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))),
                                     shape=(n, n))

        c = float(np.sqrt(np.median(known.diagonal())))
        return cls(mat(r_l, c_l, v_l), mat(r_i, c_i, v_i), logdet, c, known.to_sparse(),
                   np.asarray(comps))


def nesting_terms(random, components):
    """Positions of the random terms whose levels each hold whole blocks of ``S``
    (``components``: the block label of each row)."""
    comps = np.asarray(components, dtype=np.int64)
    out = []
    for t, part in enumerate(random):
        g = np.asarray(part.groups, dtype=np.int64)
        pairs = np.unique(np.column_stack([comps, g]), axis=0)
        if pairs.shape[0] == np.unique(comps).size:
            out.append(t)
    return out


def known_zspace_eligible(random, components):
    """Whether the Z-space path represents ``S + Z G Z'``: unstructured ``G`` or one
    variance per term, nothing fixed, and a term nesting the blocks of ``S``."""
    return bool(random) and all(
        zspace_eligible_structure(p.structure) and not hasattr(p.structure, "fixed")
        for p in random) and bool(nesting_terms(random, components))


def absolute_factors(design, theta, c):
    """Relative factors ``Lambda_t`` with ``G_t = c^2 Lambda_t Lambda_t'``; a
    NotPositiveDefiniteError when a ``G_t`` is not positive semi-definite."""
    theta = np.asarray(theta, dtype=float)
    lams = []
    for t in design.terms:
        F = psd_factor(t.structure.matrix(theta[t.params]) / c ** 2)
        if F is None:
            raise NotPositiveDefiniteError(
                "the Z-space path needs positive semi-definite G matrices")
        lams.append(F)
    return lams


class KnownZSpaceView(ZSpaceView):
    """:class:`~metamodels.core.zspace.ZSpaceView` of the whitened data with the residual
    variance fixed at 1 (see the module docstring).

    Parameters
    ----------
    design : ZSpaceDesign
        Built on ``Z~ = c L^{-1} Z``.
    whitener : Whitener
    y, X : arrays
        The data (whitened here).
    n_params : int
    """

    def __init__(self, design, whitener, y, X, n_params):
        self.whitener = whitener
        Li = whitener.Linv
        super().__init__(design, Li @ np.asarray(y, dtype=float),
                         np.asarray(Li @ np.asarray(X, dtype=float)), -1, n_params,
                         preferred=True)

    def _const(self, reml):
        m = self.n - self.p if reml else self.n
        return m * np.log(2.0 * np.pi) + self.whitener.logdet

    def _split(self, theta):
        return absolute_factors(self.design, theta, self.whitener.c), 1.0

    def deviance(self, theta_rel, reml=True):
        """``-2 l`` at the relative factors ``theta_rel``: ``a + b`` plus constants."""
        a, b = self.criterion_parts(theta_rel, reml)
        return a + b + self._const(reml)

    def _profiled_derivatives(self, st, reml):
        a, b, ga, gb, Ha, Hb = st
        return ga + gb, Ha + Hb

    def sas_theta(self, lams, s=1.0):
        """The model's parameters of ``G_t = c^2 Lambda_t Lambda_t'``."""
        theta = np.zeros(self.n_params)
        c2 = self.whitener.c ** 2
        for t, lam in zip(self.design.terms, lams):
            theta[t.params] = _structure_params(t.structure, c2 * lam @ lam.T)
        return theta

    def evaluate(self, theta, reml=True, order=0):
        """:class:`~metamodels.core.likelihood.Evaluation` at ``theta``; ``order=1`` adds
        the gradient and observed information (central differences, :meth:`derivatives`;
        ``info`` is ``None``)."""
        lams, _ = self._split(theta)
        F, Rx, ld_x, delta, pwrss = self.pls(lams)
        n, p = self.n, self.p
        from scipy import linalg
        C = linalg.cho_solve((Rx, True), np.eye(p), check_finite=False)
        logdet_v = self.whitener.logdet + F.logdet
        llf = profiled_llf(n, p, logdet_v, ld_x, pwrss, reml)
        ev = Evaluation(np.asarray(theta, dtype=float), llf, self.beta0 + delta, C, pwrss,
                        logdet_v, ld_x)
        if order == 0:
            return ev
        grad, obs = self.derivatives(lams, 1.0, reml)
        return Evaluation(ev.theta, llf, ev.beta, C, pwrss, logdet_v, ld_x, grad, None, obs)

    def derivatives(self, lams, s, reml, stencil=None):
        """Gradient and observed information in the model's parameters: central
        differences of ``a + b`` in the relative factors ``phi``, then ``grad = J^{-T}
        g_phi`` and ``I = (J (-H_phi)^{-1} J')^+`` with ``J = d theta / d phi`` by the
        chain rule through each structure's derivatives."""
        x = self.design.theta_rel(lams)
        st = self._stencil(x, reml) if stencil is None else stencil
        g = -0.5 * (st[2] + st[3])
        H = -0.5 * (st[4] + st[5])
        J = self._jacobian(lams, s)
        grad = np.linalg.lstsq(J.T, g, rcond=None)[0]
        try:
            cov_phi = np.linalg.inv(-H)
        except np.linalg.LinAlgError:
            cov_phi = np.linalg.pinv(-H)
        cov = J @ cov_phi @ J.T
        obs = np.linalg.pinv(0.5 * (cov + cov.T), hermitian=True)
        return grad, 0.5 * (obs + obs.T)

    def _jacobian(self, lams, s):
        d = self.design
        c2 = self.whitener.c ** 2
        theta = self.sas_theta(lams)
        J = np.zeros((self.n_params, d.n_theta))
        col = 0
        for term, lam, (r, cc) in zip(d.terms, lams, d.tril):
            D = np.asarray(term.structure.derivatives(theta[term.params]), dtype=float)
            Dm = D.reshape(D.shape[0], -1).T
            for a, b in zip(r, cc):
                E = np.zeros_like(lam)
                E[a, b] = 1.0
                dG = c2 * (E @ lam.T + lam @ E.T)
                J[term.params, col] = np.linalg.lstsq(Dm, dG.ravel(), rcond=None)[0]
                col += 1
        return J

    def solve(self, theta, vec):
        """``V^{-1} vec``."""
        return known_zspace_solve(self.design, self.whitener, self._split(theta)[0], vec)


def known_zspace_solve(design, whitener, lams, vec):
    """``V^{-1} vec = L^{-T} (I - Z~ Lambda A^{-1} Lambda' Z~') L^{-1} vec`` for an (n,)
    or (n, m) array."""
    vec = np.asarray(vec, dtype=float)
    one = vec.ndim == 1
    v = vec[:, None] if one else vec
    out = whitener.Linv.T @ _solve_scaled(design, lams, 1.0, np.asarray(whitener.Linv @ v))
    return out[:, 0] if one else out


def known_quad_diagonal(design, lams, M, chunk=512):
    """``m_j' Lambda A^{-1} Lambda' m_j`` for the columns ``m_j`` of the sparse (q, m)
    matrix ``M`` (internal column order), by forward solves in chunks."""
    M = sparse.csc_matrix(M)
    out = np.empty(M.shape[1])
    with single_threaded_blas():
        F = design.factor(lams)
        for j0 in range(0, M.shape[1], chunk):
            j1 = min(M.shape[1], j0 + chunk)
            B = design.apply_lambda(lams, M[:, j0:j1].toarray(), transpose=True)
            W = F.forward(B)
            out[j0:j1] = np.einsum("ij,ij->j", W, W)
    return out


def known_marginal_diagonal(known_diag, random, Gs):
    """Diagonal of ``V = S + sum_t Z_t G_t Z_t'``: ``s_ii + sum_t z_ti' G_t z_ti``."""
    out = np.asarray(known_diag, dtype=float).copy()
    for part, G in zip(random, Gs):
        out += np.einsum("ij,jk,ik->i", part.Z, G, part.Z)
    return out


def known_inverse_diagonal(design, whitener, lams):
    """Diagonal of ``V^{-1}``: ``||L^{-1} e_i||^2 - q_i`` with ``q_i`` the quadratic form
    of :func:`known_quad_diagonal` at ``Z~' L^{-1} e_i``."""
    Li = sparse.csc_matrix(whitener.Linv)
    first = np.asarray(Li.multiply(Li).sum(axis=0)).ravel()
    return first - known_quad_diagonal(design, lams, design.Zs.T @ Li)


def known_random_effects(design, whitener, lams, Gs, random, X, resid, cov_beta):
    """BLUPs ``u = G Z_l' V^{-1} r`` per level and their prediction-error variances
    ``diag(G - G Z_l' P Z_l G) = diag(c^2 Lambda (A^{-1})_ll Lambda' + G Z_l'V^{-1}X C
    X'V^{-1}Z_l G)`` (the conditional covariance of :func:`zspace_conditional_cov` plus
    the uncertainty of ``b``): a list over terms of ``(u (L, k), var (L, k))``."""
    X = np.asarray(X, dtype=float)
    sol = known_zspace_solve(design, whitener, lams, np.column_stack([resid, X]))
    Wr, WX = sol[:, 0], sol[:, 1:]
    cond = zspace_conditional_cov(design, lams, whitener.c ** 2)
    out = []
    for part, G, cc in zip(random, Gs, cond):
        L, k, p = int(part.groups.max()) + 1, part.Z.shape[1], X.shape[1]
        ZWr = np.zeros((L, k))
        np.add.at(ZWr, part.groups, part.Z * Wr[:, None])
        ZWX = np.zeros((L, k, p))
        np.add.at(ZWX, part.groups, part.Z[:, :, None] * WX[:, None, :])
        GZWX = np.einsum("ij,ljp->lip", G, ZWX)
        extra = np.einsum("lip,pr,lir->li", GZWX, cov_beta, GZWX)
        var = np.diagonal(cc, axis1=1, axis2=2) + extra
        out.append((ZWr @ G, np.clip(var, 0.0, None)))
    return out


def known_true_effects(design, whitener, lams, X, y, resid, cov_beta):
    """``(y - S P y, diag(S - S P S))`` of every row: ``S P y = S V^{-1}(y - X b)`` and
    ``diag(S - S V^{-1} S) = diag(Z Cov(u | y) Z')`` (the sampling error and the random
    effects share their conditional covariance given ``y``), plus
    ``diag(S V^{-1} X C X' V^{-1} S)``."""
    X = np.asarray(X, dtype=float)
    sol = known_zspace_solve(design, whitener, lams, np.column_stack([resid, X]))
    S = whitener.S
    SWr, SWX = S @ sol[:, 0], np.asarray(S @ sol[:, 1:])
    Z = (whitener.L @ design.Zs) / whitener.c          # c Z: Lambda acts on its columns
    cond = whitener.c ** 2 * known_quad_diagonal(design, lams, Z.T)
    var = cond + np.einsum("ip,pq,iq->i", SWX, cov_beta, SWX)
    return np.asarray(y, dtype=float) - SWr, np.clip(var, 0.0, None)
