"""Array kernels of the panel estimators: transformations, OLS, Swamy-Arora, cluster sandwich.

Every estimator is least squares on transformed data ``(y_t, X_t)``; the kernels return a
:class:`PanelFit` holding the transformed regression, its residuals and the numbers the
results class derives everything else from.  Entities and periods are integer codes
``0..N-1`` and ``0..T-1``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Optional, Tuple

import numpy as np

from ..exceptions import BoundaryWarning, SpecificationError
from ..mixed import MixedModel

__all__ = ["PanelFit", "group_means", "demean", "ols", "fit_within", "fit_twoway",
           "fit_time", "fit_between", "fit_pooled", "fit_first_difference", "fit_random_swar",
           "fit_random_likelihood", "fit_random_time", "cluster_cov", "swar_components"]

_TOL = 1e-9   # relative norm below which a transformed column counts as identically zero


@dataclass(frozen=True)
class PanelFit:
    """One fitted panel estimator (least squares on transformed data).

    ``design`` / ``yt`` are the transformed regressors and response, ``rows`` the positions of
    the original observations the transformed rows belong to (for first differences the
    later of the two rows; for the between estimator the first row of each entity) and
    ``entity`` / ``time`` the cluster codes of the transformed rows.
    """

    effects: str
    params: np.ndarray
    names: Tuple[str, ...]
    cov: np.ndarray               # classical covariance of ``params``
    design: np.ndarray
    yt: np.ndarray
    resid: np.ndarray
    df_resid: float
    entity: np.ndarray
    time: np.ndarray
    rows: np.ndarray
    slope_cols: np.ndarray        # columns of the full exog that carry slope coefficients
    slope_pos: np.ndarray         # their positions in ``params``
    sigma2: float                 # resid'resid / df_resid
    sigma2_idiosyncratic: float = np.nan
    sigma2_entity: float = np.nan
    theta: Optional[np.ndarray] = None    # per entity (per period for random time effects)
    sigma2_time: float = np.nan           # period variance component (random time effects)
    re_method: Optional[str] = None
    mixed: object = None          # MixedResults of re_method "ml" / "reml"
    extra: dict = field(default_factory=dict)


# ------------------------------------------------------------------ transformations
def group_means(A, codes, n_groups):
    """Per-group column means of ``A`` (n, k) -> (n_groups, k)."""
    A = np.asarray(A, dtype=float)
    one_d = A.ndim == 1
    A2 = A[:, None] if one_d else A
    counts = np.bincount(codes, minlength=n_groups).astype(float)
    S = np.empty((n_groups, A2.shape[1]))
    for j in range(A2.shape[1]):
        S[:, j] = np.bincount(codes, weights=A2[:, j], minlength=n_groups)
    M = S / counts[:, None]
    return M[:, 0] if one_d else M


def demean(A, codes, n_groups):
    """``A`` minus its group means (the within transformation)."""
    return np.asarray(A, dtype=float) - group_means(A, codes, n_groups)[codes]


def _twoway_projector(entity, n_entities, time, n_periods):
    """Entity-demeaned period dummies ``D`` and a function sweeping both effects out.

    By Frisch-Waugh-Lovell, regressing on entity and period dummies equals entity-demeaning
    and then removing the projection on the entity-demeaned period dummies; this is exact
    for unbalanced panels too.  Returns ``(sweep, rank)`` with ``rank`` the number of
    identified period effects beyond the entity effects (``T - 1`` for connected panels).
    """
    D = np.zeros((entity.shape[0], n_periods))
    D[np.arange(entity.shape[0]), time] = 1.0
    Dw = demean(D, entity, n_entities)
    U, s, _ = np.linalg.svd(Dw, full_matrices=False)
    rank = int(np.sum(s > s[0] * 1e-10)) if s.size and s[0] > 0 else 0
    Q = U[:, :rank]

    def sweep(A):
        Aw = demean(A, entity, n_entities)
        return Aw - Q @ (Q.T @ Aw)

    return sweep, rank


# --------------------------------------------------------------------- regression
def ols(X, y):
    """Least squares via QR: ``(b, resid, (X'X)^{-1})``."""
    q, r = np.linalg.qr(X)
    b = np.linalg.solve(r, q.T @ y)
    rinv = np.linalg.solve(r, np.eye(r.shape[0]))
    return b, y - X @ b, rinv @ rinv.T


def _check_rank(X, names, what):
    """Raise a SpecificationError naming the first column that is collinear with earlier ones."""
    if X.shape[1] == 0:
        return
    if np.linalg.matrix_rank(X) == X.shape[1]:
        return
    for j in range(1, X.shape[1] + 1):
        if np.linalg.matrix_rank(X[:, :j]) < j:
            raise SpecificationError(
                f"singular design for the {what} estimator: {names[j - 1]!r} is collinear with "
                f"the preceding regressors {list(names[:j - 1])}")
    raise SpecificationError(f"singular design for the {what} estimator")  # pragma: no cover


def _independent_columns(X):
    """Indices of a maximal set of linearly independent columns, earlier columns first."""
    keep = []
    for j in range(X.shape[1]):
        if np.linalg.matrix_rank(X[:, keep + [j]]) == len(keep) + 1:
            keep.append(j)
    return keep


def _vanishing(Xt, X):
    """Columns of the transformed ``Xt`` that are (numerically) identically zero."""
    nt = np.sqrt(np.sum(Xt ** 2, axis=0))
    n0 = np.sqrt(np.sum(X ** 2, axis=0))
    return nt <= _TOL * np.maximum(n0, 1e-300)


def _slope_cols(k, const_idx):
    return np.array([j for j in range(k) if j != const_idx], dtype=np.int64)


def _finish(effects, X_t, y_t, names, entity, time, rows, slope_cols, slope_pos, df_resid,
            **kw):
    if df_resid <= 0:
        raise SpecificationError(f"too few observations for the {effects} estimator: "
                                 f"{df_resid:g} residual degrees of freedom")
    b, e, xtx_inv = ols(X_t, y_t)
    sigma2 = float(e @ e) / df_resid
    return PanelFit(effects=effects, params=b, names=tuple(names), cov=sigma2 * xtx_inv,
                    design=X_t, yt=y_t, resid=e, df_resid=float(df_resid), entity=entity,
                    time=time, rows=rows, slope_cols=slope_cols, slope_pos=slope_pos,
                    sigma2=sigma2, **kw)


# ---------------------------------------------------------------------- estimators
def fit_within(y, X, names, const_idx, entity, n_entities, time):
    """Within (entity fixed effects) estimator; slopes only."""
    cols = _slope_cols(X.shape[1], const_idx)
    Xw = demean(X[:, cols], entity, n_entities)
    bad = _vanishing(Xw, X[:, cols])
    if bad.any():
        lab = [names[c] for c in cols[bad]]
        raise SpecificationError(
            f"regressor(s) {lab} do not vary within entities (time-invariant); their effect is "
            "absorbed by the entity fixed effects. Remove them, or use effects='random' or "
            "'between'")
    if cols.size == 0:
        raise SpecificationError("the fixed-effects model needs at least one regressor "
                                 "besides the intercept")
    _check_rank(Xw, [names[c] for c in cols], "within")
    yw = demean(y, entity, n_entities)
    n = y.shape[0]
    fit = _finish("fixed", Xw, yw, [names[c] for c in cols], entity, time, np.arange(n), cols,
                  np.arange(cols.size), n - n_entities - cols.size)
    return replace(fit, sigma2_idiosyncratic=fit.sigma2)


def fit_twoway(y, X, names, const_idx, entity, n_entities, time, n_periods):
    """Two-way (entity and period fixed effects) within estimator."""
    cols = _slope_cols(X.shape[1], const_idx)
    if cols.size == 0:
        raise SpecificationError("the fixed-effects model needs at least one regressor "
                                 "besides the intercept")
    sweep, rank_t = _twoway_projector(entity, n_entities, time, n_periods)
    Xc = X[:, cols]
    Xw1 = demean(Xc, entity, n_entities)
    bad_e = _vanishing(Xw1, Xc)
    Xw = sweep(Xc)
    bad_t = _vanishing(Xw, Xc) & ~bad_e
    msgs = []
    if bad_e.any():
        msgs.append(f"{[names[c] for c in cols[bad_e]]} do not vary within entities "
                    "(time-invariant; absorbed by the entity effects)")
    if bad_t.any():
        msgs.append(f"{[names[c] for c in cols[bad_t]]} vary only over time, identically for "
                    "every entity (absorbed by the period effects)")
    if msgs:
        raise SpecificationError("two-way fixed effects: regressor(s) " + "; ".join(msgs))
    _check_rank(Xw, [names[c] for c in cols], "two-way within")
    n = y.shape[0]
    df = n - n_entities - rank_t - cols.size
    fit = _finish("twoway", Xw, sweep(y[:, None])[:, 0], [names[c] for c in cols], entity, time,
                  np.arange(n), cols, np.arange(cols.size), df)
    return replace(fit, sigma2_idiosyncratic=fit.sigma2, extra={"n_time_effects": rank_t})


def fit_time(y, X, names, const_idx, entity, n_entities, time, n_periods):
    """Within estimator of period (time) fixed effects: ``y_it - ybar_t`` on
    ``x_it - xbar_t`` (plm's ``model="within", effect="time"``), ``df = n - T - K``."""
    cols = _slope_cols(X.shape[1], const_idx)
    Xc = X[:, cols]
    bad = _vanishing(demean(Xc, time, n_periods), Xc)
    if bad.any():
        raise SpecificationError(
            f"regressor(s) {[names[c] for c in cols[bad]]} do not vary within periods (the "
            "same value for every entity at a time); their effect is absorbed by the time "
            "fixed effects. Remove them, or use effects='random-time' or 'pooled'")
    fit = fit_within(y, X, names, const_idx, time, n_periods, entity)
    return replace(fit, effects="time", entity=entity, time=time)


def fit_between(y, X, names, const_idx, entity, n_entities, time):
    """Between estimator: OLS of entity means (one unweighted row per entity)."""
    Xb = group_means(X, entity, n_entities)
    yb = group_means(y, entity, n_entities)
    cols = _slope_cols(X.shape[1], const_idx)
    if const_idx is not None and cols.size:
        flat = np.ptp(Xb[:, cols], axis=0) <= _TOL * np.maximum(np.abs(Xb[:, cols]).max(0), 1e-300)
        if flat.any():
            raise SpecificationError(
                f"regressor(s) {[names[c] for c in cols[flat]]} have the same mean in every "
                "entity and are not identified by the between estimator")
    _check_rank(Xb, names, "between")
    first = np.zeros(n_entities, dtype=np.int64)
    first[entity[::-1]] = np.arange(y.shape[0])[::-1]
    ent = np.arange(n_entities)
    return _finish("between", Xb, yb, names, ent, np.zeros(n_entities, np.int64), first, cols,
                   cols, n_entities - X.shape[1])


def fit_pooled(y, X, names, const_idx, entity, n_entities, time):
    """Pooled OLS."""
    _check_rank(X, names, "pooled")
    cols = _slope_cols(X.shape[1], const_idx)
    n = y.shape[0]
    return _finish("pooled", X, y, names, entity, time, np.arange(n), cols, cols,
                   n - X.shape[1])


def fit_first_difference(y, X, names, const_idx, entity, n_entities, time, order):
    """First differences of consecutive observations of each entity (sorted by time).

    As plm, an intercept in the model becomes a constant in the differenced equation (a
    linear trend in levels), and differences are taken between consecutive *available*
    periods of an entity (a gap is differenced across).
    """
    cols = _slope_cols(X.shape[1], const_idx)
    e_s = entity[order]
    later = order[1:][e_s[1:] == e_s[:-1]]
    earlier = order[:-1][e_s[1:] == e_s[:-1]]
    dX = X[later][:, cols] - X[earlier][:, cols]
    bad = _vanishing(dX, X[:, cols]) if cols.size else np.zeros(0, bool)
    if bad.any():
        raise SpecificationError(
            f"regressor(s) {[names[c] for c in cols[bad]]} have zero first differences "
            "(time-invariant); their effect is not identified by the first-difference estimator")
    dy = y[later] - y[earlier]
    if const_idx is not None:
        D = np.column_stack([np.ones(later.size), dX])
        dnames = [names[const_idx]] + [names[c] for c in cols]
        pos = np.arange(1, cols.size + 1)
    else:
        D, dnames, pos = dX, [names[c] for c in cols], np.arange(cols.size)
    if D.shape[1] == 0:
        raise SpecificationError("the first-difference model has no regressors")
    _check_rank(D, dnames, "first-difference")
    return _finish("first-difference", D, dy, dnames, entity[later], time[later], later, cols,
                   pos, later.size - D.shape[1])


# ------------------------------------------------------------------ random effects
def swar_components(y, X, const_idx, entity, n_entities):
    """Swamy-Arora variance components as plm's ``ercomp(method="swar")``.

    ``sigma2_e = RSS_W / (n - N - K_W)`` from the within regression (regressors without
    within variation dropped), and from the ``T_i``-weighted between regression of the
    entity means (``p`` columns, residual sum of squares ``q_B = sum_i T_i (ybar_i -
    xbar_i'b_B)^2``): ``sigma2_u = (q_B - (N - p) sigma2_e) / (n - tr[(sum T_i xbar xbar')^{-1}
    sum T_i^2 xbar xbar'])``, which is ``RSS_B/(N-p) - sigma2_e/T`` for balanced panels.
    Returns ``(sigma2_e, sigma2_u, truncated)``; negative ``sigma2_u`` is set to 0.
    """
    n, p = X.shape
    N = n_entities
    cols = _slope_cols(p, const_idx)
    Xw = demean(X[:, cols], entity, N)
    Xw = Xw[:, ~_vanishing(Xw, X[:, cols])] if cols.size else Xw
    yw = demean(y, entity, N)
    df_w = n - N - Xw.shape[1]
    if df_w <= 0:
        raise SpecificationError("Swamy-Arora needs more observations than entities plus "
                                 f"regressors (n={n}, N={N}, K={Xw.shape[1]})")
    rss_w = float(yw @ yw) if Xw.shape[1] == 0 else float(np.sum(ols(Xw, yw)[1] ** 2))
    s2e = rss_w / df_w
    Ti = np.bincount(entity, minlength=N).astype(float)
    Xb = group_means(X, entity, N)
    Xb = Xb[:, _independent_columns(Xb * np.sqrt(Ti)[:, None])]   # plm drops aliased columns
    p = Xb.shape[1]
    yb = group_means(y, entity, N)
    A = (Xb * Ti[:, None]).T @ Xb
    B = (Xb * (Ti ** 2)[:, None]).T @ Xb
    bB = np.linalg.solve(A, (Xb * Ti[:, None]).T @ yb)
    qB = float(np.sum(Ti * (yb - Xb @ bB) ** 2))
    if N - p <= 0:
        raise SpecificationError(f"Swamy-Arora needs more entities than between-regression "
                                 f"coefficients (N={N}, p={p}); use method='REML'")
    m_eta = n - float(np.trace(np.linalg.solve(A, B)))
    s2u = (qB - (N - p) * s2e) / m_eta
    return s2e, max(s2u, 0.0), s2u < 0


def _theta(s2e, s2u, Ti):
    return 1.0 - np.sqrt(s2e / (Ti * s2u + s2e))


def _quasi_demean(A, theta_i, entity, n_entities):
    A = np.asarray(A, dtype=float)
    M = group_means(A, entity, n_entities)[entity]
    th = theta_i[entity]
    return A - (th[:, None] * M if A.ndim == 2 else th * M)


def fit_random_swar(y, X, names, const_idx, entity, n_entities, time, what="entity"):
    """Random effects by feasible GLS with Swamy-Arora components (plm's default);
    ``entity`` are the codes of the random effects' groups (periods for random time
    effects, ``what="time"``)."""
    _check_rank(X, names, "random-effects")
    s2e, s2u, truncated = swar_components(y, X, const_idx, entity, n_entities)
    if truncated:
        warnings.warn(f"Swamy-Arora estimate of sigma2_{what} is negative and was set to 0 "
                      "(theta = 0): the random-effects fit equals pooled OLS",
                      BoundaryWarning, stacklevel=4)
    Ti = np.bincount(entity, minlength=n_entities).astype(float)
    theta = _theta(s2e, s2u, Ti)
    Xs = _quasi_demean(X, theta, entity, n_entities)
    ys = _quasi_demean(y, theta, entity, n_entities)
    cols = _slope_cols(X.shape[1], const_idx)
    n = y.shape[0]
    return _finish("random", Xs, ys, names, entity, time, np.arange(n), cols, cols,
                   n - X.shape[1], sigma2_idiosyncratic=s2e, sigma2_entity=s2u, theta=theta,
                   re_method="swar")


def fit_random_likelihood(y, X, names, const_idx, entity, n_entities, time, reml):
    """Random intercept model fitted by (RE)ML with :class:`metamodels.MixedModel`.

    The GLS estimate equals OLS on data quasi-demeaned with the (RE)ML ``theta_i``; the
    covariance of the coefficients is the mixed model's ``(X'V^{-1}X)^{-1}``.
    """
    _check_rank(X, names, "random-effects")
    res = MixedModel(y, X, groups=entity).fit(method="REML" if reml else "ML")
    s2e = float(res.scale)
    cre = res.cov_re
    s2u = float(np.asarray(cre)[0, 0])
    Ti = np.bincount(entity, minlength=n_entities).astype(float)
    theta = _theta(s2e, s2u, Ti)
    Xs = _quasi_demean(X, theta, entity, n_entities)
    ys = _quasi_demean(y, theta, entity, n_entities)
    b = np.asarray(res.params, dtype=float)
    e = ys - Xs @ b
    n = y.shape[0]
    cols = _slope_cols(X.shape[1], const_idx)
    return PanelFit(effects="random", params=b, names=tuple(names),
                    cov=np.asarray(res.cov_params(), dtype=float), design=Xs, yt=ys, resid=e,
                    df_resid=float(n - X.shape[1]), entity=entity, time=time, rows=np.arange(n),
                    slope_cols=cols, slope_pos=cols, sigma2=float(e @ e) / (n - X.shape[1]),
                    sigma2_idiosyncratic=s2e, sigma2_entity=s2u, theta=theta,
                    re_method="reml" if reml else "ml", mixed=res)


def fit_random_time(y, X, names, const_idx, entity, n_entities, time, n_periods,
                    method="swar"):
    """Random period (time) effects ``y_it = a + x_it'b + l_t + e_it``: the random-effects
    estimators with the roles of entities and periods exchanged (plm's
    ``model="random", effect="time"``): Swamy-Arora components from the period-demeaned
    and the period-mean regressions, or (RE)ML of ``y ~ x + (1 | period)``; ``theta_t``
    quasi-demeans by period means.  ``sigma2_time`` holds the period variance."""
    if method == "swar":
        fit = fit_random_swar(y, X, names, const_idx, time, n_periods, entity, what="time")
    else:
        fit = fit_random_likelihood(y, X, names, const_idx, time, n_periods, entity,
                                    reml=method == "reml")
    return replace(fit, effects="random-time", entity=entity, time=time,
                   sigma2_time=fit.sigma2_entity, sigma2_entity=np.nan)


# --------------------------------------------------------------- cluster sandwich
CORRECTIONS = ("HC1", "HC0", "sss")


def cluster_cov(design, resid, clusters, correction="HC1"):
    """Cluster-robust (Arellano) covariance ``c (X'X)^{-1} [sum_g X_g'e_g e_g'X_g] (X'X)^{-1}``.

    ``X`` and ``e`` are the transformed regressors and residuals of the estimator.  With
    ``n`` transformed observations, ``k`` columns and ``G`` clusters the factor ``c`` is
    1 (``"HC0"``), ``n / (n - k)`` (``"HC1"``, plm's ``vcovHC(type="HC1")``) or
    ``G/(G - 1) (n - 1)/(n - k)`` (``"sss"``, plm's Stata-like small-sample correction).
    """
    n, k = design.shape
    codes = np.unique(clusters, return_inverse=True)[1]
    G = int(codes.max()) + 1
    S = np.zeros((G, k))
    for j in range(k):
        S[:, j] = np.bincount(codes, weights=design[:, j] * resid, minlength=G)
    meat = S.T @ S
    q, r = np.linalg.qr(design)
    rinv = np.linalg.solve(r, np.eye(k))
    bread = rinv @ rinv.T
    if correction == "HC0":
        c = 1.0
    elif correction == "HC1":
        c = n / (n - k)
    else:
        if G < 2:
            raise ValueError("cluster-robust covariance needs at least 2 clusters")
        c = G / (G - 1) * (n - 1) / (n - k)
    return c * bread @ meat @ bread, G
