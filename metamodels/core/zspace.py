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

The factorisation of ``A`` (block elimination of the largest term, dense Schur complement
of the others) lives in :mod:`metamodels.core.zspace_factor`.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg, optimize

from .likelihood import Evaluation, NotPositiveDefiniteError, profiled_llf, rdot, tdot
from .zspace_factor import (ZSPACE_DENSE_MAX, ZSPACE_MIN_COLUMNS, ZSpaceDesign,  # noqa: F401
                            ZSpaceTerm, psd_factor, single_threaded_blas,
                            zspace_eligible_structure)

__all__ = ["ZSpaceTerm", "ZSpaceDesign", "ZSpaceView", "ZSpaceSensitivities",
           "zspace_eligible_structure", "psd_factor", "zspace_maximize", "zspace_solve",
           "zspace_conditional_cov", "relative_factors", "ZSPACE_MIN_COLUMNS",
           "ZSPACE_DENSE_MAX"]

#: A ``G`` that is not positive semi-definite has no relative factor: up to this many rows
#: such a point is evaluated on the dense block path, beyond it it is rejected.
_DENSE_FALLBACK_ROWS = 5000


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
                res = self._search_without_cobyqa(fun, x0, lo, bounds)
        x = np.maximum(res.x, lo)
        x, stencil, polished = self._polish(x, lo, reml, max(2, min(maxiter, 8)))
        converged = polished or bool(res.success)
        lams = d.lambdas(x)
        s = stencil[1] / (self.n - self.p if reml else self.n)
        message = "converged" if polished else str(res.message)
        return (self.sas_theta(lams, s), message, self.n_factorizations - n0, converged,
                (lams, s, stencil))

    @staticmethod
    def _search_without_cobyqa(fun, x0, lo, bounds):
        """Older scipy: Powell's method, then L-BFGS-B (finite-difference gradients) from
        its result and from the start; the lowest deviance wins.  Powell alone can stop
        far from a boundary optimum (a singular random-slope fit: deviance 1052.8 where
        the optimum is 958.7).  Powell stops at 1e-4 in ``theta_rel``: the Newton polish
        that follows converges quadratically from there (on the 100,000-row crossed
        example of docs/mixed_models.md the same log-likelihood to 4e-11 with 40% fewer
        factorisations than at 1e-6)."""
        tries = [optimize.minimize(fun, x0, method="Powell", bounds=bounds,
                                   options={"xtol": 1e-4, "ftol": 1e-9,
                                            "maxfev": max(500, 200 * x0.size)})]
        lb = list(zip(lo, [None] * lo.size))
        for start in (np.maximum(tries[0].x, lo), x0):
            tries.append(optimize.minimize(fun, start, method="L-BFGS-B", bounds=lb,
                                           options={"ftol": 1e-15, "gtol": 1e-10,
                                                    "maxiter": 2000}))
        return min(tries, key=lambda r: r.fun if np.isfinite(r.fun) else np.inf)

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
