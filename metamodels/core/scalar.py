"""One variance component in a diagonal model: ``V = diag(v + t)``, ``t >= 0``.

The profiled (RE)ML score and observed information of this model are scalars built
from a handful of ``p``-dimensional products, so a safeguarded Newton iteration needs no
log-likelihood evaluations at all.  With ``w = 1/(v + t)``, ``C = (X'WX)^{-1}``,
``r = y - X b``, ``u = w r``, ``G = X'W^2X`` and ``h_i = w_i^2 x_i'Cx_i``:

.. math::

    g_{ML} = \\tfrac12(u'u - \\sum w),\\qquad
    g_{REML} = g_{ML} + \\tfrac12 \\operatorname{tr}(CG),

    I_{ML} = \\tfrac12 \\sum w^2,\\qquad
    I_{REML} = \\tfrac12\\big(\\sum w^2 - 2\\sum w h + \\operatorname{tr}(CGCG)\\big),

    J = -I + u'Wu - (X'Wu)'C(X'Wu).

Everything is a function of the weighted cross-products ``S_j = M'W^jM`` (``j = 1, 2,
3``) of ``M = [X | y]``: with ``c = (-b, 1)`` (so ``r = Mc``), ``r'Wr = c'S_1c`` (the
generalised Q), ``u'u = c'S_2c``, ``u'Wu = c'S_3c``, ``X'Wu = (S_2c)_{1..p}``,
``sum w h = tr(C X'W^3X)``.  :class:`DiagonalTau2` stores the row outer products
``m_i m_i'`` once, so one evaluation is a single ``(3, k) x (k, (p+1)^2)`` product
followed by one Cholesky solve of ``X'WX`` with all right-hand sides at once -- about
a dozen small array operations whatever ``k``.

The iteration keeps a bracket of the score's sign change, takes the Newton step when the
observed information is positive and the step stays inside the bracket, else a Fisher
step, else bisection.  This is the engine's kernel for univariate meta-analysis; callers
re-check boundary solutions with :func:`tau2_boundary_recheck` (the likelihood can have
a local maximum at ``t = 0`` besides an interior one).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dposv, dpotrs

from .likelihood import NotPositiveDefiniteError, profiled_llf

__all__ = ["DiagonalTau2", "Tau2State", "tau2_newton", "tau2_boundary_recheck"]

#: grid t_j = T 4^-j, j = 0..GRID, searched for an interior maximum when the ascent
#: ends at 0 (as the batch kernels do)
GRID = 10


@dataclass(frozen=True)
class Tau2State:
    """GLS fit and likelihood of ``V = diag(v + t)`` at one ``t``."""

    t: float
    beta: np.ndarray       # GLS coefficients
    cov: np.ndarray        # (X'WX)^{-1}
    q: float               # r'Wr, the generalised Q
    llf: float             # profiled ML or REML log-likelihood (SAS / lme4 convention)
    info: float            # expected information of t (ML or REML)


class DiagonalTau2:
    """The data ``(y, v, X)`` of ``y ~ N(Xb, diag(v + t))`` in cross-product form.

    Parameters
    ----------
    y, v : (k,) arrays
        Response and known variances (``v > 0``).
    X : (k, p) array of full column rank
    """

    def __init__(self, y, v, X):
        M = np.column_stack([X, y])
        k, q = M.shape
        self.k, self.p, self.q = k, q - 1, q
        self.y, self.v, self.X = y, np.asarray(v, dtype=float), X
        outer = np.empty((k, q * q + 1))
        outer[:, :-1] = (M[:, :, None] * M[:, None, :]).reshape(k, q * q)
        outer[:, -1] = 1.0                       # gives sum w^j alongside
        self._outer = outer
        self._w = np.empty((3, k))

    # -------------------------------------------------------------- building blocks
    def _cross(self, t):
        """``S_j = M'W^jM`` (3, q, q) and ``sum w^j`` (3,) at ``t``."""
        w = self._w
        np.add(self.v, t, out=w[0])
        np.reciprocal(w[0], out=w[0])
        np.multiply(w[0], w[0], out=w[1])
        np.multiply(w[1], w[0], out=w[2])
        S = w @ self._outer
        q = self.q
        return S[:, :-1].reshape(3, q, q), S[:, -1]

    def _solve(self, S):
        """Cholesky factor of ``X'WX`` and ``C S_j[:p, :]`` as a (p, 3, q) array."""
        p, q = self.p, self.q
        rhs = S[:, :p, :].transpose(1, 0, 2).reshape(p, 3 * q)
        chol, sol, info = dposv(S[0, :p, :p], rhs)
        if info != 0:
            raise NotPositiveDefiniteError(
                "X'WX is singular: the design matrix is rank deficient")
        return chol, sol.reshape(p, 3, q)

    # -------------------------------------------------------------- public kernels
    def score(self, t, reml=True):
        """Score, expected and observed information of the profiled (RE)ML
        log-likelihood at ``t`` (see the module docstring)."""
        p = self.p
        S, sums = self._cross(t)
        _, sol = self._solve(S)
        c = np.append(-sol[:, 0, p], 1.0)          # r = M c
        Sc = S @ c                                 # (3, q)
        quad = Sc @ c                              # r'Wr, u'u, u'Wu
        g = 0.5 * (quad[1] - sums[0])
        if reml:
            CG = sol[:, 1, :p]
            tr = np.einsum("iai->a", sol[:, 1:, :p])     # tr(CG), tr(C X'W^3X)
            g += 0.5 * tr[0]
            info = 0.5 * (sums[1] - 2.0 * tr[1] + np.einsum("ij,ji->", CG, CG))
        else:
            info = 0.5 * sums[1]
        obs = -info + quad[2] - Sc[1, :p] @ (sol[:, 1, :] @ c)
        return float(g), float(info), float(obs)

    def state(self, t, reml=True):
        """GLS coefficients, their covariance, Q, log-likelihood and expected
        information at ``t`` (:class:`Tau2State`)."""
        p = self.p
        S, sums = self._cross(t)
        chol, sol = self._solve(S)
        beta = sol[:, 0, p].copy()
        c = np.append(-beta, 1.0)
        q = float(c @ S[0] @ c)
        cov = dpotrs(chol, np.eye(p))[0]
        cov = 0.5 * (cov + cov.T)
        logdet_w = float(np.log(self._w[0]).sum())
        if reml:
            CG = sol[:, 1, :p]
            info = 0.5 * (sums[1] - 2.0 * np.trace(sol[:, 2, :p]) + np.einsum("ij,ji->", CG, CG))
            logdet_xwx = 2.0 * float(np.log(np.diagonal(chol)).sum())
        else:
            info, logdet_xwx = 0.5 * sums[1], 0.0
        llf = profiled_llf(self.k, p, -logdet_w, logdet_xwx, q, reml)
        return Tau2State(float(t), beta, cov, q, llf, float(info))

    def loglik(self, t, reml=True):
        """Profiled (RE)ML log-likelihood at ``t``."""
        return self.state(t, reml).llf

    def hedges(self):
        """Hedges' (HE) estimate ``max(0, (r'r - tr(PV)) / (k - p))`` from the ordinary
        least-squares residuals ``r``, ``P = I - X(X'X)^{-1}X'`` (the Newton start)."""
        p, q = self.p, self.q
        S = (np.vstack([np.ones(self.k), self.v]) @ self._outer[:, :-1]).reshape(2, q, q)
        rhs = np.concatenate([S[0, :p, p:], S[1, :p, :p]], axis=1)
        _, sol, info = dposv(S[0, :p, :p], rhs)
        if info != 0:
            raise NotPositiveDefiniteError("X'X is singular: the design matrix is rank deficient")
        c = np.append(-sol[:, 0], 1.0)
        rss = float(c @ S[0] @ c)
        trpv = float(self.v.sum() - np.trace(sol[:, 1:]))
        return max(0.0, (rss - trpv) / (self.k - p))

    # -------------------------------------------------------------- iterations
    def newton(self, reml=True, start=0.0, tol=1e-10, maxiter=100):
        """Maximise the profiled (RE)ML likelihood over ``t >= 0`` from ``start``.

        Returns
        -------
        t, info, converged, n_iter
            The estimate, the expected information (at the last evaluated point, within
            ~1e-5 relative of the estimate), whether the iteration converged (the final
            Newton step is below ``1e-5 (t + se)``, leaving an error of order
            ``1e-10 (t + se)``) and the number of score evaluations after the start.
        """
        t = max(0.0, float(start))
        lo, hi = 0.0, np.inf              # bracket: score > 0 at lo side, < 0 at hi
        g, info, obs = self.score(t, reml)
        if t == 0.0 and g <= 0.0:
            return 0.0, info, True, 0
        for it in range(1, maxiter + 1):
            if g > 0:
                lo = max(lo, t)
            else:
                hi = min(hi, t)
            step = g / obs if obs > 0 else g / info
            new = t + step
            if lo == 0.0 and g < 0 and (new <= 0.5 * t or new < 0):
                # heading for the boundary with no positive score seen: test t = 0 itself
                g0, i0, o0 = self.score(0.0, reml)
                if g0 <= 0.0:
                    return 0.0, i0, True, it
                lo = 0.0
                g, info, obs, t = g0, i0, o0, 0.0
                continue
            if not (lo <= new <= hi) or new < 0:
                fisher = t + g / info
                if lo <= fisher <= hi and fisher >= 0:
                    new = fisher
                elif np.isfinite(hi):
                    new = 0.5 * (lo + hi)
                else:
                    new = max(2.0 * t, t + abs(g) / info, 1e-8)
            t = max(new, 0.0)
            g, info, obs = self.score(t, reml)
            if t == 0.0 and g <= 0.0:
                return 0.0, info, True, it
            # Newton converges quadratically: once the next step is below 1e-5 (t + se)
            # its own error is ~1e-10 (t + se), so it is taken without another evaluation.
            if obs > 0:
                nxt = g / obs
                scale = t + 1.0 / np.sqrt(info)
                if abs(nxt) <= max(1e-5, tol) * scale and t + nxt >= 0:
                    return t + nxt, info, True, it
        return t, info, False, maxiter

    def boundary_recheck(self, reml=True, tol=1e-10, maxiter=100):
        """Search for an interior maximum better than the boundary solution ``t = 0``.

        The score is evaluated on ``t_j = T 4^{-j}`` (``j = 0..GRID``, ``T = var(y) +
        max v``, above which it is negative); the largest grid point with a positive
        score starts a bracketed Newton ascent, and its maximum replaces 0 if its
        log-likelihood is higher.

        Returns
        -------
        t, info, converged, n_iter  (``t = 0`` when no better interior maximum exists)
        """
        T = float(np.var(self.y) + self.v.max())
        found = None
        for j in range(GRID + 1):
            t = T * 4.0 ** -j
            if self.score(t, reml)[0] > 0:
                found = t
                break
        if found is None:
            return 0.0, self.score(0.0, reml)[1], True, GRID + 1
        t, info, ok, it = self.newton(reml=reml, start=found, tol=tol, maxiter=maxiter)
        if t > 0 and self.loglik(t, reml) > self.loglik(0.0, reml) + 1e-10:
            return t, info, ok, it
        return 0.0, self.score(0.0, reml)[1], True, it


def tau2_newton(y, v, X, reml=True, start=0.0, tol=1e-10, maxiter=100):
    """:meth:`DiagonalTau2.newton` for the data ``(y, v, X)``."""
    return DiagonalTau2(y, v, X).newton(reml=reml, start=start, tol=tol, maxiter=maxiter)


def tau2_boundary_recheck(y, v, X, reml=True, tol=1e-10, maxiter=100):
    """:meth:`DiagonalTau2.boundary_recheck` for the data ``(y, v, X)``."""
    return DiagonalTau2(y, v, X).boundary_recheck(reml=reml, tol=tol, maxiter=maxiter)
