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

:meth:`DiagonalTau2.maximize` is the (RE)ML estimator: the global search of
:mod:`metamodels.core.tau2` (shared with the batch kernels) fed with
:meth:`DiagonalTau2.pieces`, the score ingredients at many ``t`` in one batched
evaluation (``S_j`` for ``j = 1, 2, 3`` at all points with one matrix product and one
batched solve), and :meth:`DiagonalTau2.search_bound`, beyond which the score is
negative.  It returns the global maximiser over ``t >= 0`` even where the likelihood is
multimodal.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.linalg.lapack import dposv, dpotri

from .likelihood import NotPositiveDefiniteError, profiled_llf
from .tau2 import Pieces, dl, global_maximum, he, q_equation_root, score_upper_bound

__all__ = ["DiagonalTau2", "Tau2State", "cross_pieces"]

#: Initial grid of :meth:`DiagonalTau2.maximize` (``0`` and ``U SINGLE_RATIO^-j``,
#: ``j < SINGLE_GRID``): one problem is evaluated on a dense grid in one batched call, so
#: that its cells are mostly resolved in one round.
SINGLE_GRID = 10
SINGLE_RATIO = 6.0


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


@lru_cache(maxsize=64)
def _batch_trace_rows(p):
    """Rows picking ``tr(C S_2[:p, :p])`` and ``tr(C S_3[:p, :p])`` out of each point's
    flattened (row-major) solution ``(p, 2 + 2p)`` of :meth:`DiagonalTau2.pieces`."""
    width = 2 + 2 * p
    rows = np.zeros((2, p * width))
    i = np.arange(p)
    rows[0, i * width + 1 + i] = 1.0
    rows[1, i * width + 2 + p + i] = 1.0
    rows.flags.writeable = False
    return rows


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
        k, p = X.shape
        q = p + 1
        self.k, self.p, self.q = k, p, q
        self.y, self.v, self.X = y, np.asarray(v, dtype=float), X
        Mt = np.empty((q, k))                    # M' with M = [X, y - X b0]
        Mt[:p] = X.T
        Mt[p] = y - X @ self._b0
        # rows m_i m_j' (long inner loops: a (k, q, q) broadcast is ~20x slower)
        outer_t = np.empty((q * q + 1, k))
        np.multiply(Mt[:, None, :], Mt[None, :, :], out=outer_t[:-1].reshape(q, q, k))
        outer_t[-1] = 1.0                        # gives sum w^j alongside
        self._outer = outer_t.T                  # (k, q q + 1) view
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
        """:meth:`score` and ``F = u'u``, ``G = tr P`` (REML) or ``sum w`` (ML)."""
        p, q = self.p, self.q
        S, sums = self._cross(t)
        _, sol = self._solve(S)
        c = self._c
        c[:p] = sol[:, p]                          # c = (b, -1): r = -M c
        Sc = S @ c                                 # (3, q)
        rwr, uu, uwu = (Sc @ c).tolist()
        if reml:
            G, trpp = self._traces(sums, sol)
            info = 0.5 * trpp
        else:
            G, info = sums[0], 0.5 * sums[1]
        obs = -info + uwu - float(Sc[1, :p] @ (sol[:, q:2 * q] @ c))
        return 0.5 * (uu - G), info, obs, uu, G

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

    def q_and_slope(self, t):
        """``Q = y'P(t)y`` and ``y'P(t)^2y = -dQ/dt`` (the generalised Q equation's
        Newton steps, :func:`metamodels.core.tau2.q_equation_root`)."""
        p = self.p
        S, _ = self._cross(t)
        _, sol = self._solve(S)
        c = self._c
        c[:p] = sol[:, p]
        q, uu = (S[:2] @ c @ c).tolist()
        return q, uu

    def solve_q(self, target, tol=1e-12, maxiter=200):
        """The root of ``y'P(t)y = target`` over ``t >= 0`` (0 when ``Q(0) <= target``)
        by :func:`metamodels.core.tau2.q_equation_root`; returns ``(t, converged)``."""
        def qfun(rows, t):
            out = np.array([self.q_and_slope(x) for x in t.tolist()]).reshape(-1, 2)
            return out[:, 0], out[:, 1]

        t, ok = q_equation_root(qfun, np.array([float(target)]), tol=tol, maxiter=maxiter)
        return float(t[0]), bool(ok[0])

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

    def dersimonian_laird(self):
        """DerSimonian-Laird moment estimate ``max(0, (Q - (k - p)) / tr P_0)`` (the
        estimator with its standard error is
        :func:`metamodels.univariate.estimators.tau2_dl`)."""
        q, trp, _, _ = self.moments(0.0)
        return float(dl(q, self.k - self.p, trp))

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
        return float(he(rss, trpv, self.k - p))

    # -------------------------------------------------------------- global maximum
    def pieces(self, ts, reml=True):
        """Score ingredients :class:`~metamodels.core.tau2.Pieces` at several ``ts`` at
        once (one batched evaluation): ``F = y'P^2y``, ``G = tr P`` (REML) or ``sum w``
        (ML), ``H = y'P^3y`` and ``K``, the expected information, from the
        cross-products ``S_j = M'W^jM``: with ``c = (b, -1)`` and ``C = (X'WX)^{-1}``,
        ``F = c'S_2c``, ``H = c'S_3c - z'Cz`` with ``z = (S_2c)_{1..p}``,
        ``tr P = sum w - tr(C S_2)``, ``tr P^2 = sum w^2 - 2 tr(C S_3) + tr(C S_2 C S_2)``
        (``S_j`` restricted to the ``X`` block where multiplied by ``C``)."""
        p, q = self.p, self.q
        ts = np.asarray(ts, dtype=float)
        n = ts.shape[0]
        if n == 1:                        # one point: the leaner single-t kernel
            g, info, obs, F, G = self._score_terms(float(ts[0]), reml)
            return Pieces(np.array([g]), np.array([F]), np.array([G]),
                          np.array([obs + info]), np.array([info]))
        w = np.empty((3, n, self.k))
        np.add(self.v[None, :], ts[:, None], out=w[0])
        np.reciprocal(w[0], out=w[0])
        np.multiply(w[0], w[0], out=w[1])
        np.multiply(w[1], w[0], out=w[2])
        S = (w.reshape(3 * n, self.k) @ self._outer).reshape(3, n, q * q + 1)
        return cross_pieces(S, p, reml)

    def search_bound(self, reml=True):
        """:func:`~metamodels.core.tau2.score_upper_bound` of these data: the
        (RE)ML score is negative for every ``t`` above it."""
        rss = float(self._outer[:, self.q * self.q - 1].sum())    # (y - X b0)'(y - X b0)
        m = self.k - self.p if reml else self.k
        return float(score_upper_bound(rss, m, float(self.v.min()), float(self.v.max())))

    def maximize(self, reml=True, tol=1e-10, maxiter=100):
        """The (RE)ML estimate of ``t``: the global maximiser over ``t >= 0``.

        :func:`metamodels.core.tau2.global_maximum` (shared with the batch kernels,
        :func:`metamodels.batch.kernels.tau2_ml_reml`) covers ``[0, U]``
        (:meth:`search_bound`) with cells until each is certified free of a better
        maximum, locates every local maximum by bracketed Newton steps and keeps the
        highest log-likelihood (``t = 0`` included when the score is not positive
        there).

        Returns
        -------
        t, converged, n_iter
            ``n_iter``: the number of score evaluations.
        """
        count = [0]

        def pieces(rows, t):
            count[0] += t.shape[0]
            return self.pieces(t, reml)

        def point(t):
            count[0] += 1
            g, info, obs, F, G = self._score_terms(t, reml)
            return g, F, G, obs + info, info

        def loglik(rows, t):
            return np.array([self.loglik(x, reml) for x in t.tolist()])

        U = (self.search_bound(reml),)
        q, trp, _, _ = self.moments(0.0)
        centre = (float(dl(q, self.k - self.p, trp)),)           # DerSimonian-Laird
        t, _, ok = global_maximum(pieces, loglik, U, tol=tol, maxiter=maxiter,
                                  grid=SINGLE_GRID, ratio=SINGLE_RATIO, centre=centre,
                                  point=point)
        return float(t[0]), bool(ok[0]), count[0]


def cross_pieces(S, p, reml=True):
    """:class:`~metamodels.core.tau2.Pieces` from stacked weighted cross-products
    ``S[j - 1, i] = [M'W_i^jM | sum w_i^j]`` (shape ``(3, n, q*q + 1)``, ``M = [X | y]``,
    ``q = p + 1``) of ``n`` problems or points (see :meth:`DiagonalTau2.pieces`)."""
    q = p + 1
    n = S.shape[1]
    sums = S[:, :, -1]
    S = S[:, :, :-1].reshape(3, n, q, q)
    # right-hand sides: S_1[:p, p] (coefficients), S_2[:p, :] and S_3[:p, :p]
    rhs = np.concatenate([S[0, :, :p, p:], S[1, :, :p, :], S[2, :, :p, :p]], axis=2)
    try:
        sol = np.linalg.solve(S[0, :, :p, :p], rhs)           # (n, p, 1 + q + p)
    except np.linalg.LinAlgError as exc:
        raise NotPositiveDefiniteError(
            "X'WX is singular: the design matrix is rank deficient") from exc
    c = np.empty((n, q, 1))
    c[:, :p, 0] = sol[:, :, 0]
    c[:, p, 0] = -1.0
    S23c = np.matmul(S[1:], c)                                   # (2, n, q, 1)
    F = np.matmul(np.swapaxes(c, 1, 2), S23c[0])[:, 0, 0]
    cS3c = np.matmul(np.swapaxes(c, 1, 2), S23c[1])[:, 0, 0]
    CG = sol[:, :, 1:1 + p]                                      # C S_2[:p, :p]
    Cz = np.matmul(CG, c[:, :p]) - sol[:, :, 1 + p:2 + p]        # C (S_2 c)[:p]
    H = cS3c - np.matmul(np.swapaxes(S23c[0, :, :p], 1, 2), Cz)[:, 0, 0]
    if reml:                          # tr(C S_2), tr(C S_3) in one product
        tr2, tr3 = _batch_trace_rows(p) @ sol.reshape(n, -1).T
        G = sums[0] - tr2
        K = 0.5 * (sums[1] - 2.0 * tr3 + (CG * np.swapaxes(CG, 1, 2)).sum((1, 2)))
    else:
        G, K = sums[0], 0.5 * sums[1]
    return Pieces(0.5 * (F - G), F, G, H, K)
