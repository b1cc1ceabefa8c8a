"""One home for the tau^2 algorithms of ``y ~ N(Xb, diag(v + t))``, ``t >= 0``.

Plain functions on arrays, shared by the single fits (:mod:`metamodels.core.scalar`,
:mod:`metamodels.univariate.estimators`) and the vectorised GWAS kernels
(:mod:`metamodels.batch.kernels`): the moment estimators (DerSimonian-Laird,
Hunter-Schmidt, Hedges and their standard errors), the Paule-Mandel / empirical-Bayes
steps, the safeguarded Newton step of (RE)ML and :func:`global_maximum`, the search that
returns the *global* maximiser of the (restricted) likelihood.  A caller supplies the
data-specific part -- the values :class:`Pieces` at given ``(problem, t)`` pairs and the
log-likelihood -- and gets the same steps whatever ``p`` or the number of problems.

Notation: ``w = 1/(v + t)``, ``W = diag(w)``, ``P = W - WX(X'WX)^{-1}X'W`` and, with
``dV/dt = I``, ``dP/dt = -P^2``.  The profiled log-likelihoods are
``l_ML = -1/2 [log|V| + y'Py]`` and ``l_REML = l_ML - 1/2 log|X'WX|`` (constants
omitted); their score is

.. math::

    g(t) = \\tfrac12\\,[F(t) - G(t)], \\qquad F = y'P^2y,\\quad
    G = \\operatorname{tr} P \\ (\\mathrm{REML}) \\text{ or } \\operatorname{tr} W
    \\ (\\mathrm{ML}),

and the observed information is ``J = -g' = H - K`` with ``H = y'P^3y`` and
``K = tr(P^2)/2`` (REML) or ``tr(W^2)/2`` (ML), the expected information.

Notes
-----
**Monotone pieces.**  Because ``dP/dt = -P^2`` with ``P`` positive semi-definite,
``d/dt y'P^n y = -n y'P^{n+1}y <= 0`` and ``d/dt tr P^n = -n tr P^{n+1} <= 0`` (the same
for ``W``).  So ``F``, ``G``, ``H``, ``K`` are positive, decreasing and convex in ``t``
(``F' = -2H``, ``G' = -2K``).  On a cell ``[a, b]`` this brackets the score by
quantities known at the two ends only: ``F`` lies above its tangents and below its
chord, likewise ``G``, so

.. math::

    2g(t) \\ge \\max(F(a) - 2H(a)(t-a),\\, F(b) - 2H(b)(t-b)) - \\mathrm{chord}_G(t),

    2g(t) \\le \\mathrm{chord}_F(t) - \\max(G(a) - 2K(a)(t-a),\\, G(b) - 2K(b)(t-b)),

piecewise-linear bounds whose extremes lie at ``a``, ``b`` or the crossing of the two
tangents (:func:`score_bounds`, error ``O((b-a)^2)``); and ``J(t) >= H(b) - K(a)``
(:func:`concave_on`): where that is positive the log-likelihood is strictly concave on
the cell and has at most one stationary point there.

**Upper bound of the search** (:func:`score_upper_bound`).  Let ``e`` be the ordinary
least-squares residuals, ``RSS = e'e``, ``m = k - p`` (REML) or ``k`` (ML),
``v_min``, ``v_max`` the extreme variances and ``Delta = v_max - v_min``.  For
``t > 0``: ``F = sum w_i^2 r_i^2 <= max(w) sum w_i r_i^2 = y'Py / (v_min + t)`` and
``y'Py = min_b sum w_i (y_i - x_i'b)^2 <= sum w_i e_i^2 <= RSS / (v_min + t)``, so
``F <= RSS / (v_min + t)^2``.  ``G >= m min(w) = m / (v_max + t)``: for ML
``tr W = sum w``; for REML ``tr P = tr((I - H)W)`` with ``I - H`` a projection of rank
``k - p`` (``H`` the hat matrix of ``W^{1/2}X``), which is at least the sum of the
``k - p`` smallest ``w_i``.  Hence ``g(t) < 0`` whenever
``m s^2 > RSS (s + Delta)`` with ``s = v_min + t``, that is for every
``t > U = s* - v_min``, ``s* = [RSS + sqrt(RSS^2 + 4 m RSS Delta)] / (2m)``: the
log-likelihood decreases beyond ``U`` and its global maximum over ``t >= 0`` lies in
``[0, U]``.

**The guarantee of** :func:`global_maximum`.  ``[0, U]`` is covered by cells, starting
from a geometric grid, until every cell is resolved: the score has one sign on it
(:func:`score_bounds`; no stationary point), or the likelihood is concave on it
(:func:`concave_on`; at most one, located by bracketed Newton steps when the score
changes sign), or it is so narrow that the log-likelihood varies by less than
``LLF_TOL`` over it.  Unresolved cells are split.  Every local maximum (and ``t = 0``
when ``g(0) <= 0``) is then a candidate and the highest log-likelihood wins.  Up to
rounding in the evaluated quantities (about ``1e-13`` relative), the result is the
global maximiser -- not merely a local one -- or the row is reported as not converged
(more than ``max_rounds`` rounds of splitting, which no test case reached).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

__all__ = [
    "Pieces", "score_upper_bound", "score_bounds", "concave_on", "global_maximum",
    "newton_bracketed", "scaled_step", "q_equation_root", "dl", "hs", "moment_se", "he", "GRID", "RATIO", "LLF_TOL",
]

#: Initial grid of :func:`global_maximum`: ``0`` and ``U RATIO^-j``, ``j = 0..GRID-1``.
GRID = 3
RATIO = 256.0
#: Extra initial points around a guess of the maximiser (``centre`` of
#: :func:`global_maximum`).
CENTRE_FACTORS = np.array([0.5, 0.8, 0.93, 1.0, 1.07, 1.25, 2.0])
#: A cell over which the log-likelihood varies by less than this is resolved.
LLF_TOL = 1e-11
#: Cells of one problem beyond which :func:`global_maximum` gives it up (not converged):
#: a well-posed problem is settled with a few dozen; values near the floating-point
#: limits (an effect of 1e300 with a standard error of 1) make the bounds useless and
#: the cells would otherwise double every round.
MAX_CELLS = 4096


class Pieces(NamedTuple):
    """Score ingredients at a set of points (arrays of one shape; see the module notes).

    ``g = (F - G)/2`` is the score, ``J = H - K`` the observed and ``K`` the expected
    information."""

    g: np.ndarray
    F: np.ndarray
    G: np.ndarray
    H: np.ndarray
    K: np.ndarray

    def take(self, idx):
        return Pieces(*(x[idx] for x in self))


def concat_pieces(parts):
    return Pieces(*(np.concatenate([p[i] for p in parts]) for i in range(5)))


# ------------------------------------------------------------------ moment estimators
def dl(q, df, trp):
    """DerSimonian-Laird ``max(0, (Q - df) / tr P_0)`` (``df = k - p``, ``Q`` and
    ``tr P_0`` at ``t = 0``)."""
    if type(trp) is float and trp > 0.0:                 # one fit: no errstate needed
        return max(0.0, (q - df) / trp)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.maximum(0.0, (q - df) / trp)


def hs(q, k, sw):
    """Hunter-Schmidt ``max(0, (Q - k) / sum w)``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.maximum(0.0, (q - k) / sw)


def he(rss, trpv, df):
    """Hedges ``max(0, (r'r - tr(P V)) / (k - p))`` with ordinary least-squares residuals
    ``r`` and ``P = I - X(X'X)^{-1}X'``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.maximum(0.0, (rss - trpv) / df)


def moment_se(tau2, df, trp, trpp, denom):
    """Standard error of a moment estimator ``(Q - c)/denom`` (Viechtbauer 2005):
    ``sqrt(2 df + 4 tau2 tr P_0 + 2 tau2^2 tr P_0^2) / denom``."""
    return np.sqrt(2.0 * df + 4.0 * tau2 * trp + 2.0 * tau2 ** 2 * trpp) / denom


def q_equation_root(qfun, target, tol=1e-12, maxiter=200):
    """The root of ``Q(t) = target`` over ``t >= 0`` for each problem (Paule-Mandel with
    ``target = k - p``; Q-profile limits with a chi-square quantile); ``0`` where
    ``Q(0) <= target``.

    ``Q(t) = y'P(t)y`` is convex and decreasing (the partial minimum over ``b`` of the
    jointly convex ``sum (y_i - x_i'b)^2 / (v_i + t)``) with ``Q'(t) = -y'P^2y``, so
    Newton steps ``t + (Q - target) / y'P^2y`` from ``t = 0`` increase monotonically to
    the root without overshooting; against rounding a bracket is kept and a step leaving
    it is replaced by bisection.  A problem stops when its step is below ``tol t``.

    Parameters
    ----------
    qfun : callable ``(rows, t) -> (Q, F)``
        ``Q = y'Py`` and ``F = y'P^2y`` of problems ``rows`` at ``t``.
    target : (n,) array

    Returns
    -------
    t, converged : (n,) arrays
    """
    target = np.asarray(target, dtype=float)
    n = target.size
    out = np.zeros(n)
    conv = np.ones(n, dtype=bool)
    active = np.arange(n)
    t = np.zeros(n)
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    ta = target
    with np.errstate(invalid="ignore", divide="ignore"):
        for it in range(maxiter):
            if active.size == 0:
                break
            q, slope = qfun(active, t)
            f = q - ta
            lo = np.where(f > 0, np.maximum(lo, t), lo)
            hi = np.where(f < 0, np.minimum(hi, t), hi)
            new = t + f / slope
            new = np.where((new > lo) & (new < hi), new, 0.5 * (lo + hi))
            done = (np.abs(new - t) <= tol * t) | (f == 0) | ~np.isfinite(new)
            if it == 0:
                done |= ~(f > 0)                           # Q(0) <= target: t = 0
            value = np.where((f == 0) | ~np.isfinite(new) | (t == 0), t, new)
            out[active[done]] = value[done]
            keep = ~done
            active, t, lo, hi, ta = active[keep], new[keep], lo[keep], hi[keep], ta[keep]
    if active.size:
        out[active] = t
        conv[active] = False
    return out, conv


# ------------------------------------------------------------------ search bounds
def score_upper_bound(rss, m, vmin, vmax):
    """``U`` beyond which the (RE)ML score is negative (module notes; a 1% margin).

    Parameters
    ----------
    rss : array
        Ordinary least-squares residual sum of squares ``e'e``.
    m : array
        ``k - p`` (REML) or ``k`` (ML).
    vmin, vmax : arrays
        Smallest and largest sampling variance.
    """
    delta = vmax - vmin
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (rss + np.sqrt(rss * rss + 4.0 * m * rss * delta)) / (2.0 * m)
    return np.maximum(1.01 * (s - vmin), 0.0)


def _tangent_crossing(Xa, Xb, Sa, Sb, Ya, Yb, ta, tb, h):
    """Where the tangents of a convex piece ``X`` at the cell ends (slopes ``-2 Sa``,
    ``-2 Sb``) cross: whether that point lies inside ``(ta, tb)``, the tangent value
    there and the chord of the other piece ``Y`` there."""
    dS = 2.0 * (Sa - Sb)
    tk = np.where(dS > 0, (Xa - Xb + 2.0 * Sa * ta - 2.0 * Sb * tb) / dS, ta)
    inside = (tk > ta) & (tk < tb)
    xk = Xa - 2.0 * Sa * (tk - ta)
    yk = Ya + (Yb - Ya) * (tk - ta) / h
    return inside, xk, yk


def score_bounds(ta, tb, Pa, Pb):
    """Lower and upper bounds of ``2g`` over each cell ``[ta, tb]`` (module notes)."""
    h = tb - ta
    # (callers silence floating-point warnings: global_maximum does)
    # F above its tangents, G below its chord: the lower bound is convex piecewise
    # linear, smallest at an end or where the F tangents cross
    lo = np.minimum(Pa.F - Pa.G, Pb.F - Pb.G)
    inside, fk, gk = _tangent_crossing(Pa.F, Pb.F, Pa.H, Pb.H, Pa.G, Pb.G, ta, tb, h)
    lo = np.where(inside, np.minimum(lo, fk - gk), lo)
    # F below its chord, G above its tangents: concave, largest at an end or where
    # the G tangents cross
    hi = np.maximum(Pa.F - Pa.G, Pb.F - Pb.G)
    inside, gk, fk = _tangent_crossing(Pa.G, Pb.G, Pa.K, Pb.K, Pa.F, Pb.F, ta, tb, h)
    hi = np.where(inside, np.maximum(hi, fk - gk), hi)
    return lo, hi


def concave_on(Pa, Pb):
    """Whether ``J = H - K >= H(b) - K(a) > 0`` on each cell: the log-likelihood is then
    strictly concave there (at most one stationary point)."""
    return Pb.H - Pa.K > 0


# ------------------------------------------------------------------ Newton steps
def scaled_step(P):
    """The step ``g / (J - 2g/a)`` with ``a = G / (2K)`` (``sum w / sum w^2`` for ML, a
    weighted mean of ``v_i + t``): Newton's step on ``g(t) (a + t - t_n)^2``, which has
    the root of ``g`` but is linear in ``t`` when all ``v_i`` are equal (``g`` is then
    ``(s - v - t)/(v + t)^2`` up to constants), so the steps do not undershoot as plain
    Newton steps on the convex score do; near the root both coincide.  Where the
    denominator is not positive: the plain Newton step ``g/J`` (``NaN`` if ``J <= 0``)."""
    J = P.H - P.K
    den = J - 4.0 * P.g * P.K / P.G
    return np.where(den > 0, P.g / den, np.where(J > 0, P.g / J, np.nan))


def _scaled_step_one(g, G, H, K):
    """:func:`scaled_step` at one point, in floats."""
    J = H - K
    den = J - 4.0 * g * K / G if G > 0 else math.nan
    if den > 0:
        return g / den
    return g / J if J > 0 else math.nan


def newton_bracketed(pieces, rows, lo, hi, Plo, Phi, tol=1e-10, maxiter=100):
    """The root of the score in cells ``[lo, hi]`` where it changes sign (``g(lo) > 0
    >= g(hi)``) and the likelihood is concave (:func:`concave_on`): Newton steps
    ``t + g/J`` kept inside the shrinking bracket, else bisection; stops when a step is
    below ``tol (t + se)``, ``se = K^{-1/2}``.

    Returns
    -------
    t, converged : arrays
    """
    n = rows.size
    if n == 1:                  # one cell: the same rules on Python floats (less overhead)
        def point(t):
            return tuple(float(x[0]) for x in pieces(rows, np.array([t])))
        t, ok = _newton_one(point, float(lo[0]), float(hi[0]),
                            tuple(float(x[0]) for x in Plo),
                            tuple(float(x[0]) for x in Phi), tol, maxiter)
        return np.array([t]), np.array([ok])
    out = np.empty(n)
    conv = np.ones(n, dtype=bool)
    lo, hi = lo.astype(float), hi.astype(float)
    # start from the end with the smaller |g| / J (the better Newton start)
    sa, sb = scaled_step(Plo), scaled_step(Phi)
    na, nb = lo + sa, hi + sb
    oka = (na > lo) & (na < hi)
    okb = (nb > lo) & (nb < hi)
    t = np.where(oka & (~okb | (np.abs(sa) <= np.abs(sb))), na,
                 np.where(okb, nb, np.where(lo > 0, np.sqrt(lo * hi), 0.5 * (lo + hi))))
    active = np.arange(n)
    prev = hi - lo
    for _ in range(maxiter):
        if active.size == 0:
            break
        P = pieces(rows[active], t)
        g, J = P.g, P.H - P.K
        lo = np.where(g > 0, t, lo)
        hi = np.where(g <= 0, t, hi)
        step = scaled_step(P)
        se = 1.0 / np.sqrt(P.K)
        new = t + step
        bis = ~((new > lo) & (new < hi) & (np.abs(step) <= 0.5 * prev))
        new = np.where(bis, 0.5 * (lo + hi), new)
        move = np.abs(new - t)
        # Newton converges quadratically: once a step inside the bracket is below
        # 1e-5 (t + se) the next one would be ~1e-10 (t + se), so it is taken as final
        exact = (g == 0) | ((np.abs(step) <= max(tol, 1e-5) * (t + se)) & (J > 0) & ~bis)
        narrow = ~exact & (hi - lo <= tol * (t + se))
        done = exact | narrow
        if done.any():
            val = np.where(g == 0, t, np.clip(t + step, lo, hi))
            val = np.where(narrow, 0.5 * (lo + hi), val)
            out[active[done]] = val[done]
            keep = ~done
            active, t, lo, hi, prev = active[keep], new[keep], lo[keep], hi[keep], move[keep]
        else:
            t, prev = new, move
    if active.size:
        out[active] = t
        conv[active] = False
    return out, conv


def _newton_one(point, lo, hi, Plo, Phi, tol, maxiter):
    """:func:`newton_bracketed` for one cell, step for step, in floats: ``point(t)``
    gives the pieces ``(g, F, G, H, K)`` at ``t`` as floats, ``Plo`` and ``Phi`` those at
    the ends.  Returns ``(t, converged)``."""
    sa, sb = _scaled_step_one(Plo[0], *Plo[2:]), _scaled_step_one(Phi[0], *Phi[2:])
    na, nb = lo + sa, hi + sb
    oka, okb = lo < na < hi, lo < nb < hi
    if oka and (not okb or abs(sa) <= abs(sb)):
        t = na
    elif okb:
        t = nb
    else:
        t = math.sqrt(lo * hi) if lo > 0 else 0.5 * (lo + hi)
    prev = hi - lo
    for _ in range(maxiter):
        g, _, G, H, K = point(t)
        J = H - K
        if g > 0:
            lo = t
        else:
            hi = t
        step = _scaled_step_one(g, G, H, K)
        se = 1.0 / math.sqrt(K) if K > 0 else math.inf
        new = t + step
        bis = not (lo < new < hi and abs(step) <= 0.5 * prev)
        if bis:
            new = 0.5 * (lo + hi)
        if g == 0:
            return t, True
        if abs(step) <= max(tol, 1e-5) * (t + se) and J > 0 and not bis:
            return min(max(t + step, lo), hi), True
        if hi - lo <= tol * (t + se):
            return 0.5 * (lo + hi), True
        prev, t = abs(new - t), new
    return t, False


# ------------------------------------------------------------------ global maximum
def classify_cells(ta, tb, Pa, Pb):
    """One round's verdict on the cells ``[ta, tb]`` of :func:`global_maximum` (module
    notes): boolean arrays

    * ``root``: the score changes sign on a cell where the likelihood is concave -- one
      local maximum inside, to be located by :func:`newton_bracketed`;
    * ``tiny``: unresolved but so narrow that the log-likelihood varies by less than
      ``LLF_TOL`` over it (a sign change there is a candidate at its middle);
    * ``change``: ``g(ta) > 0 >= g(tb)``;
    * ``split``: to be split (neither of one sign, nor concave without a sign change,
      nor ``root`` or ``tiny``).
    """
    lo2, hi2 = score_bounds(ta, tb, Pa, Pb)
    definite = (lo2 > 0) | (hi2 < 0)
    concave = concave_on(Pa, Pb)
    change = (Pa.g > 0) & (Pb.g <= 0)
    root = concave & change & ~definite
    # neither of one sign nor concave (concave without a sign change: no maximum inside)
    open_ = ~(definite | concave)
    if not open_.any():
        return root, open_, change, open_
    flat = 0.5 * (tb - ta) * np.maximum(np.abs(lo2), np.abs(hi2)) <= LLF_TOL
    return root, open_ & flat, change, open_ & ~flat


def global_maximum(pieces, loglik, U, tol=1e-10, maxiter=100, max_rounds=80,
                   grid=GRID, ratio=RATIO, centre=None, point=None):
    """Global maximiser of the (RE)ML log-likelihood over ``t in [0, U]`` for each of
    ``n`` problems (see the module notes for the guarantee).

    Parameters
    ----------
    pieces : callable ``(rows, t) -> Pieces``
        The score ingredients of problems ``rows`` at points ``t`` (1-d arrays of one
        length; ``rows=None``: all ``n`` problems).
    loglik : callable ``(rows, t) -> array``
        The log-likelihoods there.
    U : (n,) array
        Upper bounds of the search (:func:`score_upper_bound`).
    tol, maxiter : controls of the Newton steps (:func:`newton_bracketed`).
    max_rounds : int
        Rounds of cell splitting before a problem is reported as not converged.
    grid, ratio : the initial grid ``0, U ratio^-(grid-1), ..., U``.
    centre : (n,) array, optional
        A guess of the maximiser (e.g. a moment estimate): the initial grid also gets
        the points ``centre * CENTRE_FACTORS`` inside ``(0, U)``, so that the cells
        around a nearby maximum are narrow from the start (fewer rounds).
    point : callable ``t -> (g, F, G, H, K)``, optional
        For one problem (``n = 1``): its pieces at one ``t`` as Python floats, which
        the Newton steps then use (a leaner kernel than ``pieces``; the same values).

    Returns
    -------
    t, llf, converged : (n,) arrays
        ``llf`` is computed only where several local maxima were compared (NaN
        elsewhere).
    """
    with np.errstate(all="ignore"):
        return _global_maximum(pieces, loglik, U, tol, maxiter, max_rounds, grid, ratio,
                               centre, point)


_CENTRE_LIST = CENTRE_FACTORS.tolist()


@lru_cache(maxsize=16)
def _grid_factors(grid, ratio):
    """``ratio^-(grid-1), ..., 1`` as floats (the initial grid over ``U``)."""
    return tuple((ratio ** -np.arange(grid - 1, -1, -1.0)).tolist())


def _one_problem(pieces, point, U, tol, maxiter, grid, ratio, centre):
    """:func:`global_maximum` for one problem whose first round settles it: the initial
    cells resolved (:func:`classify_cells`) with a single candidate, ``t = 0`` or the
    root of one cell (located by :func:`_newton_one`).  Returns ``(result, t, P)``:
    ``result`` is ``None`` when the general rounds must take over, which they do from
    the same first evaluation ``P`` at the points ``t``.  The same points, rules and
    result as the general path, with less overhead."""
    u = float(U[0])
    if not math.isfinite(u):
        return None, None, None
    pts = {0.0}
    pts.update([u * f for f in _grid_factors(grid, ratio)])
    if centre is not None:
        c = float(np.asarray(centre).ravel()[0])
        pts.update(x for x in [c * f for f in _CENTRE_LIST] if 0.0 < x < u)
    t = np.array(sorted(pts))
    P = pieces(np.zeros(t.size, dtype=np.intp), t)
    root, tiny, _, split = classify_cells(t[:-1], t[1:], P.take(slice(0, -1)),
                                          P.take(slice(1, None)))
    if split.any() or tiny.any():
        return None, t, P
    r = np.flatnonzero(root)
    at_zero = bool(P.g[0] <= 0)
    if r.size + at_zero != 1:
        return None, t, P
    if at_zero:
        return (np.zeros(1), np.full(1, np.nan), np.ones(1, dtype=bool)), t, P
    i = int(r[0])
    if point is None:
        def point(x):
            return tuple(float(a[0]) for a in pieces(np.zeros(1, dtype=np.intp),
                                                     np.array([x])))
    est, ok = _newton_one(point, float(t[i]), float(t[i + 1]),
                          tuple([float(x[i]) for x in P]),
                          tuple([float(x[i + 1]) for x in P]), tol, maxiter)
    return (np.array([est]), np.full(1, np.nan), np.array([ok])), t, P


def _global_maximum(pieces, loglik, U, tol, maxiter, max_rounds, grid, ratio, centre,
                    point=None):
    U = np.asarray(U, dtype=float)
    n = U.size
    first = None
    if n == 1:
        out, *first = _one_problem(pieces, point, U, tol, maxiter, grid, ratio, centre)
        if out is not None:
            return out
    pts = np.concatenate([np.zeros((n, 1)),
                          U[:, None] * ratio ** -np.arange(grid - 1, -1, -1.0)[None, :]],
                         axis=1)                                       # (n, grid + 1)
    if centre is not None:
        extra = np.asarray(centre, dtype=float)[:, None] * CENTRE_FACTORS[None, :]
        extra = np.where((extra > 0) & (extra < U[:, None]), extra, 0.0)
        pts = np.sort(np.concatenate([pts, extra], axis=1), axis=1)
        grid = pts.shape[1] - 1
    conv = np.ones(n, dtype=bool)
    if n == 1:                                   # one problem: its distinct points
        t, P = first
        if t is None:
            t = np.unique(pts)
            P = pieces(np.zeros(t.size, dtype=np.intp), t)
        g0 = P.g[:1]
        crow = np.zeros(t.size - 1, dtype=np.intp)
        ta, tb = t[:-1], t[1:]
        Pa, Pb = P.take(slice(0, -1)), P.take(slice(1, None))
    else:
        rows = np.repeat(np.arange(n), grid + 1)
        if n <= 64:                              # few problems: the grid in one call
            P = pieces(rows, pts.ravel())
            g0 = P.g[::grid + 1]
        else:    # many: point by point for all problems at once (no gathering of data)
            cols = [pieces(None, pts[:, j]) for j in range(grid + 1)]
            P = Pieces(*(np.stack([c[i] for c in cols], axis=1).ravel() for i in range(5)))
            g0 = cols[0].g
        # cells between consecutive grid points (rows with U = 0 have none)
        sel = np.ones(rows.size, dtype=bool)
        sel[grid::grid + 1] = False
        ia = np.flatnonzero(sel)
        ib = ia + 1
        keep = pts.ravel()[ib] > pts.ravel()[ia]
        ia, ib = ia[keep], ib[keep]
        crow, ta, tb = rows[ia], pts.ravel()[ia], pts.ravel()[ib]
        Pa, Pb = P.take(ia), P.take(ib)
    # candidates: t = 0 where it is a (boundary) local maximum
    cand_rows = [np.flatnonzero(g0 <= 0)]
    cand_t = [np.zeros(cand_rows[0].size)]
    for _ in range(max_rounds):
        if crow.size == 0:
            break
        root, tiny, change, split = classify_cells(ta, tb, Pa, Pb)
        if root.any():
            r = np.flatnonzero(root)
            t, ok = newton_bracketed(pieces, crow[r], ta[r], tb[r], Pa.take(r), Pb.take(r),
                                     tol=tol, maxiter=maxiter)
            cand_rows.append(crow[r])
            cand_t.append(t)
            conv[crow[r][~ok]] = False
        if tiny.any():                     # any maximum inside is within LLF_TOL of an end
            r = np.flatnonzero(tiny & change)
            cand_rows.append(crow[r])
            cand_t.append(0.5 * (ta[r] + tb[r]))
        split = np.flatnonzero(split)
        if split.size == 0:
            crow = crow[:0]
            break
        if split.size > MAX_CELLS:
            over = np.bincount(crow[split], minlength=n) > MAX_CELLS
            if over.any():                 # given up: their cells' ends are candidates
                gone = split[over[crow[split]]]
                conv[crow[gone]] = False
                cand_rows.append(crow[gone])
                cand_t.append(np.where(Pa.g[gone] > 0, tb[gone], ta[gone]))
                split = split[~over[crow[split]]]
                if split.size == 0:
                    crow = crow[:0]
                    break
        a, b = ta[split], tb[split]
        mid = np.where(a > 0, np.sqrt(a * b), 0.125 * b)
        mid = np.where((mid > a) & (mid < b), mid, 0.5 * (a + b))
        sr = crow[split]
        Pm = pieces(sr, mid)
        Pa_s, Pb_s = Pa.take(split), Pb.take(split)
        crow = np.concatenate([sr, sr])
        ta = np.concatenate([a, mid])
        tb = np.concatenate([mid, b])
        Pa = concat_pieces([Pa_s, Pm])
        Pb = concat_pieces([Pm, Pb_s])
    if crow.size:
        conv[np.unique(crow)] = False
        # unresolved cells: their ends and any sign change are candidates
        cand_rows.append(crow)
        cand_t.append(np.where(Pa.g > 0, tb, ta))
    cr = np.concatenate(cand_rows)
    ct = np.concatenate(cand_t)
    if n == 1 and cr.size == 1:                  # one problem, one local maximum
        return ct, np.full(1, np.nan), conv
    # log-likelihoods decide between several candidates of a problem (only)
    llf = np.zeros(cr.size)
    cnt = np.bincount(cr, minlength=n)
    multi = np.flatnonzero(cnt[cr] > 1)
    if multi.size:
        llf[multi] = loglik(cr[multi], ct[multi])
    # best per row: sort by (row, -llf, t) and take the first of each row
    order = np.lexsort((ct, -llf, cr))
    cr, ct, llf = cr[order], ct[order], llf[order]
    first = np.r_[True, cr[1:] != cr[:-1]]
    t_best = np.zeros(n)
    l_best = np.full(n, np.nan)
    t_best[cr[first]] = ct[first]
    l_best[cr[first]] = np.where(cnt[cr[first]] > 1, llf[first], np.nan)
    conv &= cnt > 0
    return t_best, l_best, conv
