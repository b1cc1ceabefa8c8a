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

The iteration keeps a bracket of the score's sign change, takes the Newton step when the
observed information is positive and the step stays inside the bracket, else a Fisher
step, else bisection.  This is the engine's kernel for univariate meta-analysis; callers
re-check boundary solutions with :func:`metamodels.core.optimize.maximize` (whose restarts
guard against a local maximum at ``t = 0``).
"""
from __future__ import annotations

import numpy as np

__all__ = ["tau2_newton", "tau2_boundary_recheck"]

#: grid t_j = T 4^-j, j = 0..GRID, searched for an interior maximum when the ascent
#: ends at 0 (as the batch kernels do)
GRID = 10


def _score(t, y, v, X, reml, M=None):
    """Score, expected and observed information at ``t`` (see the module docstring).

    Everything comes from the weighted cross-products ``S_k = M'W^kM`` (k = 1, 2, 3) of
    ``M = [X | y]``: with ``r = y - Xb``, ``u'u = r'W^2r``, ``X'Wu = X'W^2 r``,
    ``sum w h = tr(C X'W^3X)`` and ``u'Wu = r'W^3r``.
    """
    if M is None:
        M = np.column_stack([X, y])
    p = M.shape[1] - 1
    w = 1.0 / (v + t)
    W1 = M * w[:, None]
    S1 = M.T @ W1
    S2 = W1.T @ W1
    S3 = W1.T @ (W1 * w[:, None])
    C = np.linalg.inv(S1[:p, :p])
    b = C @ S1[:p, p]
    G, G3 = S2[:p, :p], S3[:p, :p]
    Gb = G @ b
    uu = S2[p, p] - 2.0 * (b @ S2[:p, p]) + b @ Gb
    sw = w.sum()
    g = 0.5 * (uu - sw)
    if reml:
        CG = C @ G
        g += 0.5 * np.trace(CG)
        info = 0.5 * (w @ w - 2.0 * np.sum(C * G3) + np.sum(CG * CG.T))
    else:
        info = 0.5 * (w @ w)
    xwu = S2[:p, p] - Gb
    rw3r = S3[p, p] - 2.0 * (b @ S3[:p, p]) + b @ (G3 @ b)
    obs = -info + rw3r - xwu @ C @ xwu
    return float(g), float(info), float(obs)


def tau2_newton(y, v, X, reml=True, start=0.0, tol=1e-10, maxiter=100):
    """Maximise the profiled (RE)ML likelihood of ``V = diag(v + t)`` over ``t >= 0``.

    Returns
    -------
    t, info, converged, n_iter
        The estimate, the expected information (at the last evaluated point, within
        ~1e-5 relative of the estimate), whether the iteration converged (the final
        Newton step is below ``1e-5 (t + se)``, leaving an error of order
        ``1e-10 (t + se)``) and the number of score evaluations after the start.
    """
    t = max(0.0, float(start))
    M = np.column_stack([X, y])
    lo, hi = 0.0, np.inf              # bracket: score > 0 below t_lo side, < 0 above hi
    g, info, obs = _score(t, y, v, X, reml, M)
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
            g0, i0, o0 = _score(0.0, y, v, X, reml, M)
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
        new = max(new, 0.0)
        t = new
        g, info, obs = _score(t, y, v, X, reml, M)
        if t == 0.0 and g <= 0.0:
            return 0.0, info, True, it
        # Newton converges quadratically: once the next step is below 1e-5 (t + se) its
        # own error is ~1e-10 (t + se), so it is taken without another evaluation.
        if obs > 0:
            nxt = g / obs
            scale = t + 1.0 / np.sqrt(info)
            if abs(nxt) <= max(1e-5, tol) * scale and t + nxt >= 0:
                return t + nxt, info, True, it
    return t, info, False, maxiter


def _loglik(t, y, v, X, reml):
    from .covariance import LinearCovariance
    from .likelihood import evaluate
    spec = LinearCovariance.diagonal(v, np.ones((1, v.shape[0])), ("t",))
    return evaluate([t], y, X, spec, reml=reml).llf


def tau2_boundary_recheck(y, v, X, reml=True, tol=1e-10, maxiter=100):
    """Search for an interior maximum better than the boundary solution ``t = 0``.

    The score is evaluated on ``t_j = T 4^{-j}`` (``j = 0..GRID``, ``T = var(y) + max v``,
    above which it is negative); the largest grid point with a positive score starts a
    bracketed Newton ascent, and its maximum replaces 0 if its log-likelihood is higher.

    Returns
    -------
    t, info, converged, n_iter  (``t = 0`` when no better interior maximum exists)
    """
    T = float(np.var(y) + v.max())
    M = np.column_stack([X, y])
    found = None
    for j in range(GRID + 1):
        t = T * 4.0 ** -j
        if _score(t, y, v, X, reml, M)[0] > 0:
            found = t
            break
    if found is None:
        return 0.0, _score(0.0, y, v, X, reml, M)[1], True, GRID + 1
    t, info, ok, it = tau2_newton(y, v, X, reml=reml, start=found, tol=tol, maxiter=maxiter)
    if t > 0 and _loglik(t, y, v, X, reml) > _loglik(0.0, y, v, X, reml) + 1e-10:
        return t, info, ok, it
    return 0.0, _score(0.0, y, v, X, reml, M)[1], True, it
