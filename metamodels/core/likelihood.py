"""Profiled Gaussian log-likelihood, its gradient and Fisher information in theta.

Model: ``y ~ N(X b, V(theta))`` with ``V`` block diagonal.  For fixed ``theta`` the
fixed effects are profiled out by generalised least squares,

.. math::

    \\hat b(\\theta) = (X' V^{-1} X)^{-1} X' V^{-1} y, \\qquad r = y - X \\hat b,

and the profiled log-likelihoods are

.. math::

    \\ell_{ML}   = -\\tfrac12 [n \\log 2\\pi + \\log|V| + r'V^{-1}r],

    \\ell_{REML} = -\\tfrac12 [(n-p)\\log 2\\pi + \\log|V| + \\log|X'V^{-1}X| + r'V^{-1}r].

The REML convention is the one of SAS PROC MIXED, lme4 and nlme (no
``+ 1/2 log|X'X|`` term; metafor adds that term).  With ``P = V^{-1} - V^{-1}X C X'V^{-1}``,
``C = (X'V^{-1}X)^{-1}`` and ``V_j = dV/dtheta_j``:

.. math::

    \\partial_j \\ell = -\\tfrac12 \\operatorname{tr}(A V_j) + \\tfrac12 r'V^{-1}V_jV^{-1}r,
    \\qquad \\mathcal I_{jk} = \\tfrac12 \\operatorname{tr}(A V_j A V_k),

with ``A = V^{-1}`` (ML) or ``A = P`` (REML).  For covariances linear in theta the
observed information is ``J_{jk} = -I_{jk} + u'V_j P V_k u`` with ``u = V^{-1} r = Py``
(both likelihoods), which gives Newton steps at the cost of a few ``p``-vectors.
All sums run block by block; ``P`` is never formed: its traces are expanded into
per-block terms and ``p x p`` products (:func:`assemble`)::

    T_jk  = sum_b tr(V^-1 V_j V^-1 V_k)          B_j  = sum_b X'V^-1 V_j V^-1 X
    CQ_jk = sum_b tr(H V_j V^-1 V_k)             UU_jk = sum_b u'V_j V^-1 V_k u
    XU_j  = sum_b X'V^-1 V_j u                   H = V^-1 X C X'V^-1 (per block)

    grad_j += 1/2 tr(C B_j)   and   I_jk = 1/2 [T - 2 CQ + tr(C B_j C B_k)]   (REML)
    J = -I + UU - XU C XU'

Specifications may offer cheaper evaluators of the same sums (``fast=`` of
:func:`evaluate`): :mod:`~metamodels.core.lowrank` (``V_b = s I + Z_b G_b Z_b'`` through
the Woodbury identity and per-block cross-products) and :mod:`~metamodels.core.patterns`
(residual-only models: one factorisation per missingness pattern).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dpotrf, dpotri, dtrtri

__all__ = ["Evaluation", "evaluate", "assemble", "fast_view", "profiled_llf",
           "NotPositiveDefiniteError", "cholesky_inverse"]

LOG2PI = np.log(2.0 * np.pi)


class NotPositiveDefiniteError(np.linalg.LinAlgError):
    """V(theta) or X'V^{-1}X is not positive definite."""


@dataclass(frozen=True)
class Evaluation:
    """Everything the engine knows at one value of theta."""

    theta: np.ndarray
    llf: float
    beta: np.ndarray
    cov_beta: np.ndarray          # C = (X'V^-1 X)^-1
    rss: float                    # r'V^-1 r (generalised residual sum of squares)
    logdet_v: float
    logdet_xvx: float
    grad: np.ndarray | None = None
    info: np.ndarray | None = None      # expected (Fisher) information in theta
    obs_info: np.ndarray | None = None  # observed information (linear covariances only)


def _group_pass1(v, Xg, yg, wts=None):
    """Per-group V^{-1} products.  Returns (Vinv or w, ViX, Viy, logdet); with block
    weights ``wts`` the log-determinant is the weighted sum over blocks."""
    if v.ndim == 1:
        if not (v.min() > 0 and v.max() < np.inf):
            raise NotPositiveDefiniteError("V(theta) has a non-positive diagonal element")
        w = 1.0 / v
        return w, Xg * w[:, None], yg * w, float(np.sum(np.log(v)))
    vinv, per_block = cholesky_inverse(v)
    logdet = float(per_block.sum() if wts is None else per_block @ wts)
    return vinv, vinv @ Xg, np.einsum("bij,bj->bi", vinv, yg), logdet


#: A Cholesky pivot ``d_j^2`` below ``_PIVOT_TOL * m * V_jj`` is rounding noise: the block
#: is singular to working precision (the computed ``d_j^2`` carries an absolute error of
#: order ``m eps V_jj``), and its inverse would be meaningless.
_PIVOT_TOL = 64.0 * np.finfo(float).eps


def cholesky_inverse(v):
    """Inverses and log-determinants of a stack of symmetric positive definite blocks.

    ``V = L L'`` (batched Cholesky), ``V^{-1} = L^{-T} L^{-1}`` with ``L^{-1}`` from the
    factor (forward substitution, or LAPACK ``dtrtri`` for large blocks): no general
    inverse, and the result is symmetric positive definite by construction.

    Parameters
    ----------
    v : (nb, m, m) array

    Returns
    -------
    vinv : (nb, m, m) array
    logdet : (nb,) array
        ``log|V_b| = 2 sum_j log L_jj``.

    Raises
    ------
    NotPositiveDefiniteError
        When a block is not positive definite, is singular to working precision (a
        pivot ``L_jj^2 <= 64 m eps V_jj``) or has non-finite entries.
    """
    try:
        L = np.linalg.cholesky(v)
    except np.linalg.LinAlgError as exc:
        raise NotPositiveDefiniteError("V(theta) is not positive definite in a block") from exc
    m = v.shape[-1]
    d = np.diagonal(L, axis1=1, axis2=2)
    dv = np.diagonal(v, axis1=1, axis2=2)
    with np.errstate(invalid="ignore"):
        ok = np.all(d * d > _PIVOT_TOL * m * dv) and np.all(np.isfinite(d))
    if not ok:
        raise NotPositiveDefiniteError(
            "V(theta) is singular (to working precision) in a block")
    Linv = _triangular_inverse(L, d)
    vinv = np.matmul(np.swapaxes(Linv, 1, 2), Linv)
    if not np.all(np.isfinite(vinv)):
        raise NotPositiveDefiniteError("V(theta) is numerically singular in a block")
    return vinv, 2.0 * np.sum(np.log(d), axis=1)


def _triangular_inverse(L, d):
    """``L^{-1}`` of a stack of lower-triangular ``L`` with diagonals ``d`` (all > 0)."""
    nb, m, _ = L.shape
    if m > 24 and nb <= 64:
        out = np.empty_like(L)
        for b in range(nb):
            inv, info = dtrtri(L[b], lower=1)
            if info != 0:
                raise NotPositiveDefiniteError("V(theta) is singular in a block")
            out[b] = inv
        return out
    Linv = np.zeros_like(L)
    rd = 1.0 / d
    for i in range(m):                   # row i of L^{-1}: (e_i - L[i, :i] L^{-1}[:i]) / L_ii
        if i:
            row = -np.einsum("bk,bkj->bj", L[:, i, :i], Linv[:, :i, :])
        else:
            row = np.zeros((nb, m))
        row[:, i] += 1.0
        Linv[:, i, :] = row * rd[:, i, None]
    return Linv


#: OpenBLAS runs a GEMM single-threaded when ``m n k <= 4 * 65536`` and a GEMV when
#: ``m n < 4 * 2304``; above that the work is split over threads, which can stall badly
#: (10-100 times slower) when the cores are oversubscribed.  The fast paths compute their
#: tall-skinny products in slices below these sizes: the same flops, no thread hand-offs.
_GEMM_SINGLE = 262144
_GEMV_SINGLE = 9216


def _slice_rows(m, k, total):
    limit = _GEMV_SINGLE if min(m, k) == 1 else _GEMM_SINGLE
    return max(1, min(total, limit // max(1, m * k)))


def _stack_rows(A, rows):
    """``A`` (N, m) zero-padded to a multiple of ``rows`` and cut into (nchunk, rows, m)."""
    N = A.shape[0]
    nchunk = -(-N // rows)
    if nchunk * rows != N:
        A = np.concatenate([A, np.zeros((nchunk * rows - N, A.shape[1]))])
    return np.ascontiguousarray(A).reshape(nchunk, rows, A.shape[1])


def tdot(A, B):
    """``A'B`` for tall ``A`` (N, m) and ``B`` (N, k) or (N,), in row slices (see above)."""
    vec = B.ndim == 1
    if vec:
        B = B[:, None]
    N, m = A.shape
    rows = _slice_rows(m, B.shape[1], N)
    if rows >= N:
        out = A.T @ B
    else:
        out = np.matmul(np.swapaxes(_stack_rows(A, rows), 1, 2), _stack_rows(B, rows)).sum(0)
    return out[:, 0] if vec else out


def rdot(A, B):
    """``A @ B`` for tall ``A`` (N, k) and small ``B`` (k, n) or (k,), in row slices."""
    vec = B.ndim == 1
    if vec:
        B = B[:, None]
    N, k = A.shape
    rows = _slice_rows(k, B.shape[1], N) if B.shape[1] == 1 else \
        max(1, min(N, _GEMM_SINGLE // max(1, k * B.shape[1])))
    if rows >= N:
        out = A @ B
    else:
        out = np.matmul(_stack_rows(A, rows), B).reshape(-1, B.shape[1])[:N]
    return out[:, 0] if vec else out


def profiled_llf(n, p, logdet_v, logdet_xvx, rss, reml):
    """``l_REML = -1/2 [(n-p) log 2pi + log|V| + log|X'V^-1X| + r'V^-1r]`` or
    ``l_ML = -1/2 [n log 2pi + log|V| + r'V^-1r]`` (see the module docstring)."""
    if reml:
        return -0.5 * ((n - p) * LOG2PI + logdet_v + logdet_xvx + rss)
    return -0.5 * (n * LOG2PI + logdet_v + rss)


def _gls_inverse(xvx):
    """``(X'V^-1X)^{-1}`` (from its Cholesky factor, LAPACK ``dpotri``) and
    ``log|X'V^-1X|``; a clear error when X is (numerically) rank deficient, i.e. a column
    with ``1 - R^2 <= 1e-12`` on the previous ones in the ``V^{-1}`` metric."""
    xvx = 0.5 * (xvx + xvx.T)
    if not np.all(np.isfinite(xvx)):
        raise NotPositiveDefiniteError("X'V^-1X is not finite: V(theta) is numerically singular")
    L, info = dpotrf(xvx, lower=1, clean=1)
    d = np.diagonal(L)
    # scale free: the squared pivot d_j^2 = A_jj (1 - R_j^2), with R_j^2 of column j on
    # the previous ones, below 1e-12 A_jj is a collinear column
    if info != 0 or np.any(d * d <= 1e-12 * np.diagonal(xvx)):
        raise NotPositiveDefiniteError(
            "X'V^-1X is singular: the design matrix is rank deficient")
    C, info = dpotri(L, lower=1)
    if info != 0:
        raise NotPositiveDefiniteError(
            "X'V^-1X is singular: the design matrix is rank deficient")
    C = np.tril(C) + np.tril(C, -1).T
    return C, 2.0 * float(np.log(d).sum())


def evaluate(theta, y, X, spec, reml=True, order=0, fast=None) -> Evaluation:
    """Evaluate the profiled (RE)ML log-likelihood at ``theta``.

    Parameters
    ----------
    theta : (q,) array
    y : (n,) array
    X : (n, p) array
    spec : CovarianceSpec
    reml : bool
    order : {0, 1}
        0: log-likelihood and GLS only; 1: also gradient and Fisher information.
    fast : {None, True, False}
        Specialised evaluators offered by the specification (``spec.lowrank_view(y, X)``:
        ``V_b = s I + Z_b G_b Z_b'`` by Woodbury, :mod:`~metamodels.core.lowrank`;
        ``spec.pattern_view(y, X)``: one factorisation per missingness pattern,
        :mod:`~metamodels.core.patterns`).  ``None`` uses them when eligible and
        estimated cheaper than the dense blocks, ``True`` whenever eligible, ``False``
        never (dense block path).  All paths give the same numbers.

    Returns
    -------
    Evaluation

    Raises
    ------
    NotPositiveDefiniteError
        When ``V(theta)`` or ``X'V^{-1}X`` is not positive definite, is singular to
        working precision, or the log-likelihood or its derivatives are not finite
        (the optimiser treats such a trial point as a rejected step).
    """
    try:
        ev = _evaluate(theta, y, X, spec, reml, order, fast)
    except NotPositiveDefiniteError:
        raise
    except (np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError) as exc:
        raise NotPositiveDefiniteError(
            f"V(theta) is numerically singular at theta = {np.asarray(theta).tolist()}") from exc
    if not np.isfinite(ev.llf) or (ev.grad is not None and not np.all(np.isfinite(ev.grad))) \
            or (ev.info is not None and not np.all(np.isfinite(ev.info))):
        raise NotPositiveDefiniteError(
            f"the log-likelihood is not finite at theta = {np.asarray(theta).tolist()}")
    return ev


def _evaluate(theta, y, X, spec, reml, order, fast):
    """The body of :func:`evaluate` (errors and finiteness are checked there)."""

    theta = np.asarray(theta, dtype=float)
    weights = getattr(spec, "block_weights", None)
    if fast is not False and weights is None:
        view = fast_view(spec, y, X)
        if view is not None and (fast or view.preferred):
            ev = view.evaluate(theta, reml, order)
            if ev is not None:
                return ev
    n, p = X.shape
    if getattr(spec, "components", None) is not None and spec.is_linear and weights is None \
            and len(spec.layout.groups) == 1 and spec.layout.groups[0].shape[1] == 1:
        return _evaluate_diagonal(theta, y, X, spec, reml, order)
    vs = spec.build(theta)
    groups = spec.layout.groups
    if weights is None:
        weights = [None] * len(groups)
    elif any(v.ndim == 1 for v in vs):
        raise NotImplementedError("block weights need dense blocks (size-1 blocks as (nb,1,1))")
    n_eff = float(sum(r.size if w is None else w.sum() * r.shape[1]
                      for r, w in zip(groups, weights)))
    xvx = np.zeros((p, p))
    xvy = np.zeros(p)
    yvy = 0.0
    logdet_v = 0.0
    cache = []
    for rows, v, wts in zip(groups, vs, weights):
        if v.ndim == 1:
            idx = rows[:, 0]
            Xg, yg = X[idx], y[idx]
        else:
            Xg, yg = X[rows], y[rows]
        vinv, vix, viy, ld = _group_pass1(v, Xg, yg, wts)
        logdet_v += ld
        if v.ndim == 1:
            xvx += Xg.T @ vix
            xvy += vix.T @ yg
            yvy += float(yg @ viy)
        else:
            Xw = Xg if wts is None else Xg * wts[:, None, None]
            yw = yg if wts is None else yg * wts[:, None]
            xvx += np.einsum("bip,biq->pq", Xw, vix)
            xvy += np.einsum("bip,bi->p", vix, yw)
            yvy += float(np.einsum("bi,bi->", yw, viy))
        cache.append((vinv, vix, viy))
    C, logdet_xvx = _gls_inverse(xvx)
    beta = C @ xvy
    rss = float(yvy - beta @ xvy)
    llf = profiled_llf(n_eff, p, logdet_v, logdet_xvx, rss, reml)
    if order == 0:
        return Evaluation(theta, llf, beta, C, rss, logdet_v, logdet_xvx)

    q = spec.n_params
    hess_terms = None if getattr(spec, "is_linear", False) else _second_derivatives(spec, theta)
    linear = getattr(spec, "is_linear", False) or hess_terms is not None
    grad = np.zeros(q)
    T = np.zeros((q, q))        # sum_b tr(V^-1 V_j V^-1 V_k)
    B = np.zeros((q, p, p))     # sum_b X'V^-1 V_j V^-1 X
    CQ = np.zeros((q, q))       # sum_b tr(V^-1 V_k H V_j),  H = V^-1 X C X' V^-1
    UU = np.zeros((q, q))       # sum_b u'V_j V^-1 V_k u
    XU = np.zeros((q, p))       # sum_b X'V^-1 V_j u
    dvs = spec.jacobian(theta) if q else []    # no parameter (known V): nothing to sum
    for (vinv, vix, viy), dv, wts in zip(cache, dvs, weights):
        u = viy - vix @ beta                               # V^-1 r per block
        if dv.ndim == 2:                                   # diagonal group: dv (q, nb)
            w = vinv
            du = dv * u                                     # V_j u
            grad += -0.5 * dv @ w + 0.5 * du @ u
            wd = dv * w                                     # w * dV_j
            T += wd @ wd.T
            if linear:
                UU += (du * w) @ du.T
                XU += du @ vix
            if reml:
                B += np.matmul(np.swapaxes(dv[:, :, None] * vix[None], 1, 2), vix)
                h = np.sum((vix @ C) * vix, axis=1)                # diag of H
                CQ += (wd * h) @ dv.T
        else:
            nb, m, _ = vinv.shape
            M = np.matmul(vinv[None], dv)                     # V^-1 V_j  (q, nb, m, m)
            Mt = np.swapaxes(M, 2, 3)
            du = np.matmul(dv, u[None, :, :, None])[..., 0]   # V_j u     (q, nb, m)
            # block weights multiply every per-block contribution (first factor only)
            Mw = M if wts is None else M * wts[None, :, None, None]
            duw = du if wts is None else du * wts[None, :, None]
            grad += -0.5 * np.trace(Mw, axis1=2, axis2=3).sum(axis=1) \
                + 0.5 * (duw * u[None]).reshape(q, -1).sum(axis=1)
            T += Mw.reshape(q, -1) @ Mt.reshape(q, -1).T
            if linear:
                vdu = np.matmul(vinv[None], du[..., None])[..., 0]
                UU += duw.reshape(q, -1) @ vdu.reshape(q, -1).T
                XU += duw.reshape(q, -1) @ vix.reshape(-1, p)
            if reml:
                W = np.matmul(dv, vix[None])                  # V_j V^-1 X (q, nb, m, p)
                if wts is not None:
                    W = W * wts[None, :, None, None]
                B += np.matmul(vix.reshape(-1, p).T[None], W.reshape(q, -1, p))
                H = np.matmul(vix @ C, np.swapaxes(vix, 1, 2))  # V^-1 X C X' V^-1
                N = np.matmul(H[None], dv)                    # H V_j
                if wts is not None:
                    N = N * wts[None, :, None, None]
                CQ += N.reshape(q, -1) @ Mt.reshape(q, -1).T
    extra = None
    if hess_terms is not None:
        if any(w is not None for w in weights):
            hess_terms = [H if w is None else H * w[None, None, :, None, None]
                          for H, w in zip(hess_terms, weights)]
        extra = _second_order_terms(hess_terms, cache, beta, C, reml)
    return assemble(Evaluation(theta, llf, beta, C, rss, logdet_v, logdet_xvx), grad,
                    T, B, CQ, UU if linear else None, XU, reml, extra)


def assemble(ev0, grad, T, B, CQ, UU, XU, reml, extra=None):
    """Finish an order-1 evaluation from the block sums (shared by all code paths).

    Parameters
    ----------
    ev0 : Evaluation
        Order-0 result (theta, llf, beta, C, ...).
    grad : (q,) array
        ``-1/2 sum_b tr(V^-1 V_j) + 1/2 u'V_j u`` (without the REML term).
    T, CQ, UU : (q, q) arrays
        ``sum_b tr(V^-1 V_j V^-1 V_k)``, ``sum_b tr(H V_j V^-1 V_k)`` with
        ``H = V^-1 X C X'V^-1`` (REML only) and ``sum_b u'V_j V^-1 V_k u`` (``None``: no
        observed information).
    B : (q, p, p) array
        ``sum_b X'V^-1 V_j V^-1 X`` (REML only).
    XU : (q, p) array
        ``sum_b X'V^-1 V_j u``.
    extra : (q, q) array, optional
        ``1/2 tr(A V_jk) - 1/2 u'V_jk u`` for covariances nonlinear in theta.

    Notes
    -----
    REML: ``grad_j += 1/2 tr(C B_j)`` and
    ``I_jk = 1/2 [T_jk - 2 CQ_jk + tr(C B_j C B_k)]``; ML: ``I = T / 2``.  Observed
    information ``J = -I + UU - XU C XU' (+ extra)``.
    """
    C = ev0.cov_beta
    grad = np.array(grad, dtype=float)
    if reml:
        CB = np.matmul(C[None], B)                          # C B_j
        grad += 0.5 * np.trace(CB, axis1=1, axis2=2)
        q, p = CB.shape[:2]
        cross = CB.reshape(q, -1) @ np.swapaxes(CB, 1, 2).reshape(q, -1).T
        info = 0.5 * (T - 2.0 * CQ + cross)
    else:
        info = 0.5 * T
    info = 0.5 * (info + info.T)
    obs = None
    if UU is not None:
        obs = -info + UU - XU @ C @ XU.T
        if extra is not None:
            obs = obs + extra
        obs = 0.5 * (obs + obs.T)
    return Evaluation(ev0.theta, ev0.llf, ev0.beta, C, ev0.rss, ev0.logdet_v,
                      ev0.logdet_xvx, grad, info, obs)


def fast_view(spec, y, X):
    """The specialised evaluator a specification offers for ``(y, X)``, or ``None``.

    Asks ``spec.zspace_view(y, X)`` (crossed random effects, :mod:`~metamodels.core.zspace`),
    ``spec.lowrank_view(y, X)`` and then ``spec.pattern_view(y, X)``; each returns an
    object with ``evaluate(theta, reml, order) -> Evaluation | None`` and a boolean
    ``preferred`` (estimated cheaper than the dense path), or ``None`` when not eligible.
    """
    for name in ("zspace_view", "lowrank_view", "pattern_view"):
        fn = getattr(spec, name, None)
        if fn is not None:
            view = fn(y, X)
            if view is not None:
                return view
    return None


def _second_derivatives(spec, theta):
    fn = getattr(spec, "hessian_terms", None)
    return None if fn is None else fn(theta)


def _second_order_terms(hess_terms, cache, beta, C, reml):
    """``1/2 tr(A V_jk) - 1/2 u'V_jk u`` for covariances nonlinear in theta."""
    out = 0.0
    for (vinv, vix, viy), H in zip(cache, hess_terms):
        u = viy - vix @ beta
        tr = np.einsum("bij,qrbji->qr", vinv, H)
        if reml:
            tr = tr - _trace_cxhx(C, vix, H)
        out = out + 0.5 * tr - 0.5 * np.einsum("bi,qrbij,bj->qr", u, H, u)
    return out


def _trace_cxhx(C, vix, H):
    """``tr(C X'V^-1 V_jk V^-1 X)`` summed over blocks, for all (j, k)."""
    K = np.einsum("bip,pr,bjr->bij", vix, C, vix)          # V^-1 X C X' V^-1 per block
    return np.einsum("bji,qrbij->qr", K, H)


def _evaluate_diagonal(theta, y, X, spec, reml, order):
    """Lean path of :func:`evaluate` for independent observations and a linear
    ``V = diag(k + D'theta)`` (univariate meta-analysis): the same formulas with
    the block sums written as vector operations."""
    rows = spec.layout.groups[0][:, 0]
    D = spec.components[0]                       # (q, n), rows in layout order
    known = spec.known[0]
    if rows[0] != 0 or rows[-1] != rows.shape[0] - 1:
        y, X = y[rows], X[rows]
    v = theta @ D if known is None else known + theta @ D
    if not (v.min() > 0 and v.max() < np.inf):
        raise NotPositiveDefiniteError("V(theta) has a non-positive diagonal element")
    n, p = X.shape
    w = 1.0 / v
    wx = X * w[:, None]
    xvx = X.T @ wx
    C, logdet_xvx = _gls_inverse(xvx)
    beta = C @ (wx.T @ y)
    r = y - X @ beta
    u = w * r
    rss = float(r @ u)
    logdet_v = float(np.log(v).sum())
    llf = profiled_llf(n, p, logdet_v, logdet_xvx, rss, reml)
    if order == 0:
        return Evaluation(theta, llf, beta, C, rss, logdet_v, logdet_xvx)
    if D.shape[0] == 1 and getattr(spec, "unit_components", False):
        return _finish_tau2(theta, llf, beta, C, rss, logdet_v, logdet_xvx, w, wx, u, reml)
    du = D * u
    wd = D * w
    grad = 0.5 * (du @ u - D @ w)
    info = wd @ wd.T
    uw = du * w
    UU = uw @ du.T
    XU = du @ wx
    if reml:
        wxc = wx @ C
        h = np.einsum("ip,ip->i", wxc, wx)
        CQ = (wd * h) @ D.T
        # C B_j = C X'W D_j W X  (q, p, p)
        CB = np.matmul((wxc.T * D[:, None, :]), wx)
        grad += 0.5 * np.trace(CB, axis1=1, axis2=2)
        info = 0.5 * (info - 2.0 * CQ + np.einsum("jpr,krp->jk", CB, CB))
    else:
        info = 0.5 * info
    info = 0.5 * (info + info.T)
    obs = -info + UU - XU @ C @ XU.T
    obs = 0.5 * (obs + obs.T)
    return Evaluation(theta, llf, beta, C, rss, logdet_v, logdet_xvx, grad, info, obs)


def _finish_tau2(theta, llf, beta, C, rss, logdet_v, logdet_xvx, w, wx, u, reml):
    """Derivatives for ``V = diag(k) + tau^2 I`` (one unit component), in scalars."""
    w2 = w * w
    uu = float(u @ u)
    if reml:
        G = wx.T @ wx                      # X'W^2X = B
        CB = C @ G
        h = np.einsum("ip,ip->i", wx @ C, wx)
        grad = 0.5 * (uu - float(w.sum()) + float(np.trace(CB)))
        info = 0.5 * (float(w2.sum()) - 2.0 * float(w @ h) + float(np.sum(CB * CB.T)))
    else:
        grad = 0.5 * (uu - float(w.sum()))
        info = 0.5 * float(w2.sum())
    xwu = wx.T @ u                         # X'W u = X'V^-1 V_j u with V_j = I
    obs = -info + float(u @ (w * u)) - float(xwu @ C @ xwu)
    return Evaluation(theta, llf, beta, C, rss, logdet_v, logdet_xvx, np.array([grad]),
                      np.array([[info]]), np.array([[obs]]))
