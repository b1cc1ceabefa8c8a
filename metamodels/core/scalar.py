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
3``) of ``M = [X | y]``: with ``c = (b, -1)`` (so ``r = -Mc``), ``r'Wr = c'S_1c`` (the
generalised Q), ``u'u = c'S_2c``, ``u'Wu = c'S_3c``, ``X'Wu = -(S_2c)_{1..p}``,
``sum w h = tr(C X'W^3X)``.  :class:`DiagonalTau2` stores the row outer products
``m_i m_i'`` once (of ``y`` minus an ordinary least-squares fit, so that these quadratic
forms do not cancel), so one evaluation is a single ``(3, k) x (k, (p+1)^2)`` product
followed by one Cholesky solve of ``X'WX`` with all right-hand sides at once -- about
a dozen small array operations whatever ``k``.

:meth:`DiagonalTau2.maximize` is the estimator: one evaluation at ``t = 0`` gives the
score there and the DerSimonian-Laird start; :meth:`DiagonalTau2.newton` keeps a bracket
of the score's sign change and takes Newton steps on ``g(t) (a + t - t_n)^2`` (same
root, nearly linear in ``t``) while they stay inside it, else Fisher steps, else
bisection; an interior maximum is compared with ``t = 0`` when that is a local maximum
too, and a boundary solution is re-checked on a score grid
(:meth:`DiagonalTau2.boundary_recheck`): the likelihood can be bimodal.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.linalg.lapack import dposv, dpotri

from .likelihood import NotPositiveDefiniteError, profiled_llf

__all__ = ["DiagonalTau2", "Tau2State", "tau2_newton", "tau2_boundary_recheck"]

#: grid t_j = T 4^-j, j = 0..GRID, searched for an interior maximum when the ascent
#: ends at 0 (as the batch kernels do)
GRID = 10


@lru_cache(maxsize=64)
def _index_helpers(p):
    """Rows picking ``tr(C S_2[:p, :p])`` and ``tr(C S_3[:p, :p])`` out of the flattened
    (column-major) solution of :meth:`DiagonalTau2._solve`, and the upper-triangle mask
    of a (p, p) matrix (read-only, shared between problems of the same ``p``)."""
    q = p + 1
    rows = np.zeros((2, p, 3 * q))
    rows[0, np.arange(p), q + np.arange(p)] = 1.0
    rows[1, np.arange(p), 2 * q + np.arange(p)] = 1.0
    rows = rows.transpose(0, 2, 1).reshape(2, 3 * q * p)
    upper = np.triu(np.ones((p, p), dtype=bool))
    rows.flags.writeable = upper.flags.writeable = False
    return rows, upper


def _collinear(chol, A):
    """Whether a column is (numerically) a combination of the previous ones: the squared
    Cholesky pivot ``d_j^2 = A_jj (1 - R_j^2)`` below ``1e-12 A_jj`` (scale free)."""
    return any(d * d <= 1e-12 * a for d, a in zip(chol.diagonal().tolist(),
                                                  A.diagonal().tolist()))


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

    Notes
    -----
    ``y`` is replaced by its ordinary least-squares residual ``y - X b0`` (and ``b0``
    added back to the coefficients), which leaves every residual, score and likelihood
    unchanged but keeps the quadratic forms in the stored cross-products accurate.
    """

    def __init__(self, y, v, X):
        # Work with y minus an ordinary least-squares fit X b0: the residuals, and so the
        # quadratic forms below, are then computed without cancellation even when X b
        # is large compared with y - X b (effect sizes around 1000 with residuals of 0.1)
        chol, b0, info = dposv(X.T @ X, X.T @ y)
        self._b0 = b0 if info == 0 else np.zeros(X.shape[1])
        M = np.column_stack([X, y - X @ self._b0])
        k, q = M.shape
        self.k, self.p, self.q = k, q - 1, q
        self.y, self.v, self.X = y, np.asarray(v, dtype=float), X
        outer = np.empty((k, q * q + 1))
        outer[:, :-1] = (M[:, :, None] * M[:, None, :]).reshape(k, q * q)
        outer[:, -1] = 1.0                       # gives sum w^j alongside
        self._outer = outer
        self._w = np.empty((3, k))
        self._c = np.full(q, -1.0)
        self._trace_rows, self._upper = _index_helpers(q - 1)

    def subset(self, keep):
        """The problem of the rows ``keep`` (boolean mask or indices), sharing this one's
        cross-products (no refactorisation: deletion diagnostics build k of them)."""
        new = object.__new__(DiagonalTau2)
        new._b0 = self._b0
        new._outer = self._outer[keep]
        new.k, new.p, new.q = new._outer.shape[0], self.p, self.q
        new.y, new.v, new.X = self.y[keep], self.v[keep], self.X[keep]
        new._w = np.empty((3, new.k))
        new._c = np.full(self.q, -1.0)
        new._trace_rows, new._upper = self._trace_rows, self._upper
        return new

    # -------------------------------------------------------------- building blocks
    def _cross(self, t):
        """``S_j = M'W^jM`` (3, q, q) and ``[sum w^j]`` (list of 3) at ``t``."""
        w = self._w
        np.add(self.v, t, out=w[0])
        np.reciprocal(w[0], out=w[0])
        np.multiply(w[0], w[0], out=w[1])
        np.multiply(w[1], w[0], out=w[2])
        S = w @ self._outer
        q = self.q
        return S[:, :-1].reshape(3, q, q), S[:, -1].tolist()

    def _solve(self, S):
        """Cholesky factor of ``X'WX`` and ``C [S_1 S_2 S_3][:p, :]`` (p, 3q), Fortran
        ordered, so that ``C S_j[:p, l]`` is column ``j q + l``."""
        p, q = self.p, self.q
        rhs = S[:, :p, :].transpose(1, 0, 2).reshape(p, 3 * q)
        A = S[0, :p, :p]
        chol, sol, info = dposv(A, rhs)
        if info != 0 or _collinear(chol, A):
            raise NotPositiveDefiniteError(
                "X'WX is singular: the design matrix is rank deficient")
        return chol, sol

    def _traces(self, sums, sol):
        """``tr(P) = sum w - tr(CG)`` and ``tr(PP) = sum w^2 - 2 tr(C X'W^3X) +
        tr(CGCG)`` with ``P = W - WXCX'W`` (no k x k matrix)."""
        p, q = self.p, self.q
        tr_cg, tr_cg3 = (self._trace_rows @ sol.ravel(order="F")).tolist()
        CG = sol[:, q:q + p]
        return sums[0] - tr_cg, sums[1] - 2.0 * tr_cg3 + float(np.vdot(CG, CG.T))

    # -------------------------------------------------------------- public kernels
    def score(self, t, reml=True):
        """Score, expected and observed information of the profiled (RE)ML
        log-likelihood at ``t`` (see the module docstring)."""
        return self._score_terms(t, reml)[:3]

    def _score_terms(self, t, reml):
        """:meth:`score` and ``a = sum w / sum w^2``."""
        p, q = self.p, self.q
        S, sums = self._cross(t)
        _, sol = self._solve(S)
        c = self._c
        c[:p] = sol[:, p]                          # c = (b, -1): r = -M c
        Sc = S @ c                                 # (3, q)
        rwr, uu, uwu = (Sc @ c).tolist()
        if reml:
            trp, trpp = self._traces(sums, sol)
            g, info = 0.5 * (uu - trp), 0.5 * trpp
        else:
            g, info = 0.5 * (uu - sums[0]), 0.5 * sums[1]
        obs = -info + uwu - float(Sc[1, :p] @ (sol[:, q:2 * q] @ c))
        return g, info, obs, sums[0] / sums[1]

    def state(self, t, reml=True):
        """GLS coefficients, their covariance, Q, log-likelihood and expected
        information at ``t`` (:class:`Tau2State`)."""
        p = self.p
        S, sums = self._cross(t)
        chol, sol = self._solve(S)
        c = self._c
        c[:p] = sol[:, p]
        rwr = float(c @ S[0] @ c)
        cov = dpotri(chol)[0]                      # upper triangle of C
        cov = np.where(self._upper, cov, cov.T)
        logdet_w = float(np.log(self._w[0]).sum())
        if reml:
            info = 0.5 * self._traces(sums, sol)[1]
            logdet_xwx = 2.0 * float(np.log(np.diagonal(chol)).sum())
        else:
            info, logdet_xwx = 0.5 * sums[1], 0.0
        llf = profiled_llf(self.k, p, -logdet_w, logdet_xwx, rwr, reml)
        return Tau2State(float(t), sol[:, p] + self._b0, cov, rwr, llf, info)

    def genq(self, t):
        """Generalised Q ``y'P(t)y = r'Wr`` (the GLS weighted residual sum of squares)."""
        p = self.p
        S, _ = self._cross(t)
        _, sol = self._solve(S)
        c = self._c
        c[:p] = sol[:, p]
        return float(c @ S[0] @ c)

    def moments(self, t):
        """``(y'P(t)y, tr P(t), tr P(t)^2, sum w)`` -- the ingredients of the moment
        estimators and their standard errors."""
        p = self.p
        S, sums = self._cross(t)
        _, sol = self._solve(S)
        c = self._c
        c[:p] = sol[:, p]
        trp, trpp = self._traces(sums, sol)
        return float(c @ S[0] @ c), trp, trpp, sums[0]

    def loglik(self, t, reml=True):
        """Profiled (RE)ML log-likelihood at ``t``."""
        return self.state(t, reml).llf

    def hedges(self):
        """Hedges' (HE) estimate ``max(0, (r'r - tr(PV)) / (k - p))`` from the ordinary
        least-squares residuals ``r``, ``P = I - X(X'X)^{-1}X'`` (a start for the
        empirical Bayes iteration and the general optimiser)."""
        p, q = self.p, self.q
        w = self._w[:2]
        w[0] = 1.0
        w[1] = self.v
        S = w @ self._outer                       # M'M, M'VM and [k, sum v]
        S2 = S[:, :-1].reshape(2, q, q)
        rhs = S2[:, :p, :].transpose(1, 0, 2).reshape(p, 2 * q)
        chol, sol, info = dposv(S2[0, :p, :p], rhs)
        if info != 0 or _collinear(chol, S2[0, :p, :p]):
            raise NotPositiveDefiniteError("X'X is singular: the design matrix is rank deficient")
        c = self._c
        c[:p] = sol[:, p]
        rss = float(c @ S2[0] @ c)
        trpv = float(S[1, -1]) - float(sol.trace(offset=q))
        return max(0.0, (rss - trpv) / (self.k - p))

    # -------------------------------------------------------------- iterations
    def scores(self, ts, reml=True):
        """Scores at several ``ts`` at once (one batched evaluation; used for grids)."""
        p, q = self.p, self.q
        ts = np.asarray(ts, dtype=float)
        n = ts.shape[0]
        w = 1.0 / (self.v[None, :] + ts[:, None])
        S = np.concatenate([w, w * w]) @ self._outer           # (2n, q*q + 1)
        sums = S[:n, -1]
        S1, S2 = S[:n, :-1].reshape(n, q, q), S[n:, :-1].reshape(n, q, q)
        rhs = np.concatenate([S1[:, :p, p:], S2[:, :p, :p]], axis=2)
        sol = np.linalg.solve(S1[:, :p, :p], rhs)              # (n, p, 1 + p)
        c = np.concatenate([sol[:, :, 0], -np.ones((n, 1))], axis=1)
        uu = np.einsum("ni,nij,nj->n", c, S2, c)
        g = 0.5 * (uu - sums)
        if reml:
            g += 0.5 * np.trace(sol[:, :, 1:], axis1=1, axis2=2)
        return g

    def _newton_step(self, t, reml):
        """Score, informations and the step ``g / (J - 2g/a)`` at ``t`` (``None`` when
        its denominator is not positive), ``a = sum w / sum w^2``."""
        g, info, obs, a = self._score_terms(t, reml)
        d = obs - 2.0 * g / a
        return g, info, obs, (g / d if d > 0 else None)

    def newton(self, reml=True, start=0.0, tol=1e-10, maxiter=100):
        """Maximise the profiled (RE)ML likelihood over ``t >= 0`` from ``start``.

        The step is Newton's on ``h(t) = g(t) (a + t - t_n)^2`` rather than on the
        score ``g`` itself, with ``a = sum w / sum w^2`` (a weighted mean of ``v_i + t``
        at the current ``t_n``): ``t_{n+1} = t_n + g / (J - 2g/a)``.  ``h`` has the
        same root, but for equal ``v_i`` it is linear in ``t`` (``g`` is then
        ``(s - v - t) / (v + t)^2`` up to constants), so the steps do not undershoot
        the way plain Newton steps on the convex score do; near the root the two
        coincide (quadratic convergence).  Steps leaving the bracket fall back to
        Fisher scoring, then bisection; with only negative scores seen and a step
        towards 0, ``t = 0`` itself is tested.

        Returns
        -------
        t, info, converged, n_iter
            The estimate, the expected information (at the last evaluated point, within
            ~1e-5 relative of the estimate), whether the iteration converged (the final
            step is below ``1e-5 (t + se)``, leaving an error of order ``1e-10 (t +
            se)``) and the number of score evaluations after the start.
        """
        t = max(0.0, float(start))
        lo, hi = 0.0, np.inf              # bracket: score > 0 at lo, < 0 at hi
        positive_seen = False
        g, info, obs, step = self._newton_step(t, reml)
        if t == 0.0 and g <= 0.0:
            return 0.0, info, True, 0
        for it in range(1, maxiter + 1):
            if g > 0:
                lo, positive_seen = max(lo, t), True
            else:
                hi = min(hi, t)
            new = t + step if step is not None else np.nan
            if not lo < new < hi:
                fisher = t + g / info
                if lo < fisher < hi:
                    new = fisher
                elif not np.isfinite(hi):
                    new = max(2.0 * t, t + abs(g) / info, 1e-8)
                elif positive_seen:
                    new = 0.5 * (lo + hi)
                else:
                    new = -1.0
            if not positive_seen and g < 0 and new <= 0.5 * t:
                # heading for the boundary with no positive score seen: test t = 0 itself
                g0, i0, o0, s0 = self._newton_step(0.0, reml)
                if g0 <= 0.0:
                    return 0.0, i0, True, it
                lo, positive_seen = 0.0, True
                new = s0 if s0 is not None and 0.0 < s0 < hi else 0.5 * hi
            t = max(new, 0.0)
            g, info, obs, step = self._newton_step(t, reml)
            if t == 0.0 and g <= 0.0:
                return 0.0, info, True, it
            # the steps converge quadratically: once the next one is below 1e-5 (t + se)
            # its own error is ~1e-10 (t + se), so it is taken without another evaluation
            if step is not None and obs > 0:
                scale = t + 1.0 / np.sqrt(info)
                if abs(step) <= max(1e-5, tol) * scale and t + step >= 0:
                    return t + step, info, True, it
        return t, info, False, maxiter

    def maximize(self, reml=True, tol=1e-10, maxiter=100):
        """The (RE)ML estimate of ``t``: the largest local maximum found by

        1. one evaluation at ``t = 0``, giving the score ``g(0)`` and the
           DerSimonian-Laird estimate, the start of
        2. the ascent of :meth:`newton`;
        3. when it ends at 0, :meth:`boundary_recheck` searches a score grid for an
           interior maximum; when it ends inside while ``g(0) <= 0`` (so 0 is a local
           maximum too), the two log-likelihoods decide.

        The batch kernels (:func:`metamodels.batch.kernels.tau2_ml_reml`) follow the
        same steps for each meta-analysis.

        Returns
        -------
        t, converged, n_iter
        """
        k, p = self.k, self.p
        S, sums = self._cross(0.0)
        _, sol = self._solve(S)
        c = self._c
        c[:p] = sol[:, p]
        rwr, uu = (S[:2] @ c @ c).tolist()
        trp = self._traces(sums, sol)[0]
        g0 = 0.5 * (uu - trp) if reml else 0.5 * (uu - sums[0])
        start = max(0.0, (rwr - (k - p)) / trp)
        if start == 0.0 and g0 <= 0.0:
            t, _, ok, n_iter = self.boundary_recheck(reml=reml, tol=tol, maxiter=maxiter)
            return t, ok, n_iter + 1
        t, _, ok, n_iter = self.newton(reml=reml, start=start, tol=tol, maxiter=maxiter)
        n_iter += 1
        if ok and t == 0.0:
            t, _, ok, extra = self.boundary_recheck(reml=reml, tol=tol, maxiter=maxiter)
            n_iter += extra
        elif ok and g0 <= 0.0 and self.loglik(0.0, reml) >= self.loglik(t, reml):
            t = 0.0
        return t, ok, n_iter

    def boundary_recheck(self, reml=True, tol=1e-10, maxiter=100):
        """Search for an interior maximum better than the boundary solution ``t = 0``.

        The score is evaluated on ``t_j = T 4^{-j}`` (``j = 0..GRID``, ``T = var(y) +
        max v``, above which it is negative) in one batched evaluation; the largest
        grid point with a positive score starts the ascent, and its maximum replaces 0
        if its log-likelihood is higher.

        Returns
        -------
        t, info, converged, n_iter  (``t = 0`` when no better interior maximum exists)
        """
        T = float(np.var(self.y) + self.v.max())
        grid = T * 4.0 ** -np.arange(GRID + 1)
        positive = np.flatnonzero(self.scores(grid, reml) > 0)
        if positive.size == 0:
            return 0.0, self.score(0.0, reml)[1], True, 1
        t, info, ok, it = self.newton(reml=reml, start=grid[positive[0]], tol=tol,
                                      maxiter=maxiter)
        if t > 0 and self.loglik(t, reml) > self.loglik(0.0, reml) + 1e-10:
            return t, info, ok, it + 1
        return 0.0, self.score(0.0, reml)[1], True, it + 1


def tau2_newton(y, v, X, reml=True, start=0.0, tol=1e-10, maxiter=100):
    """:meth:`DiagonalTau2.newton` for the data ``(y, v, X)``."""
    return DiagonalTau2(y, v, X).newton(reml=reml, start=start, tol=tol, maxiter=maxiter)


def tau2_boundary_recheck(y, v, X, reml=True, tol=1e-10, maxiter=100):
    """:meth:`DiagonalTau2.boundary_recheck` for the data ``(y, v, X)``."""
    return DiagonalTau2(y, v, X).boundary_recheck(reml=reml, tol=tol, maxiter=maxiter)
