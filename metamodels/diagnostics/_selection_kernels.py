"""Numeric kernels of the selection models: one-sided/two-sided p-values, the weight
functions and the normalising integrals ``A_i = E[w(p(y_i))]``, ``y_i ~ N(mu_i, s_i^2)``.

Plain functions on arrays; :mod:`.selection` builds the likelihood from them.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from scipy import special, stats

__all__ = ["WEIGHT_FUNCTIONS", "n_delta", "null_delta", "delta_bounds", "default_pval_min",
           "log_p_pair", "censor",
           "log_weight", "step_probabilities", "log_normaliser"]

WEIGHT_FUNCTIONS = ("stepfun", "beta", "halfnorm", "negexp", "logistic", "power")
_LOG2 = np.log(2.0)
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)

# Gauss-Legendre rules used panel-wise on each integration segment
_FINE = (16, 12)          # panels x nodes per segment: ~1e-12
_COARSE = (8, 10)         # ~1e-9, for the first optimisation phase
_P_BREAK = 1e-5
_BOUND_SD = 13.0          # mass of N(0,1) beyond 13 sd: 1e-38


def n_delta(kind: str, n_steps: int) -> int:
    """Number of selection parameters (stepfun: one per interval, the first fixed at 1).

    Parameters
    ----------
    kind : str
        The weight function (one of :data:`WEIGHT_FUNCTIONS`).
    n_steps : int
        Number of p-value intervals (stepfun).

    Returns
    -------
    int
    """
    return {"stepfun": n_steps, "beta": 2}.get(kind, 1)


def null_delta(kind: str, n_steps: int) -> np.ndarray:
    """delta under no selection.

    Parameters
    ----------
    kind : str
        The weight function (one of :data:`WEIGHT_FUNCTIONS`).
    n_steps : int
        Number of p-value intervals (stepfun).

    Returns
    -------
    ndarray
    """
    if kind in ("stepfun", "beta"):
        return np.ones(n_delta(kind, n_steps))
    return np.zeros(1)


def delta_bounds(kind: str) -> tuple[float, float]:
    """Bounds of each delta (metafor's defaults): [1e-5, 100] for beta, [0, 100]
    otherwise.

    Parameters
    ----------
    kind : str
        The weight function (one of :data:`WEIGHT_FUNCTIONS`).

    Returns
    -------
    tuple of float
        ``(lower, upper)``.
    """
    return (1e-5 if kind == "beta" else 0.0), 100.0


def default_pval_min(kind: str) -> float:
    """Censoring of p-values near 0 and 1 where w is unbounded (beta) or 0 (power).

    Parameters
    ----------
    kind : str
        The weight function (one of :data:`WEIGHT_FUNCTIONS`).

    Returns
    -------
    float
    """
    return 1e-5 if kind in ("beta", "power") else 0.0


def log_p_pair(z: np.ndarray, alternative: str) -> tuple[np.ndarray, np.ndarray]:
    """log p and log(1 - p) of the test statistic ``z = y/sqrt(v)``.

    Parameters
    ----------
    z : ndarray
        Test statistics.
    alternative : {"greater", "less", "two-sided"}
        Sidedness of the p-values.

    Returns
    -------
    logp, log1mp : ndarray
    """
    if alternative == "greater":
        return special.log_ndtr(-z), special.log_ndtr(z)
    if alternative == "less":
        return special.log_ndtr(z), special.log_ndtr(-z)
    a = np.abs(z)
    logp = _LOG2 + special.log_ndtr(-a)
    with np.errstate(divide="ignore"):
        log1mp = np.log(special.erf(a / np.sqrt(2.0)))
    return logp, log1mp


def _shift(logp, log1mp, threshold):
    """Above a threshold alpha the weight function is evaluated at p - alpha (metafor),
    so that w is continuous at alpha."""
    ps = np.maximum(np.exp(logp) - threshold, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(ps), np.log1p(-ps)


def log_weight(kind: str, delta: np.ndarray, logp: np.ndarray, log1mp: np.ndarray,
               threshold: float | None = None) -> np.ndarray:
    """log w(p) of the continuous weight functions; with a threshold alpha, w = 1 for
    p <= alpha and w(p - alpha) above it.

    Parameters
    ----------
    kind : str
        The weight function (one of :data:`WEIGHT_FUNCTIONS`).
    delta : ndarray
        Selection parameters.
    logp, log1mp : ndarray
        ``log p`` and ``log(1 - p)`` of the studies.
    threshold : float, optional
        The threshold ``alpha``.

    Returns
    -------
    ndarray
    """
    below = None
    if threshold is not None:
        below = logp <= np.log(threshold)
        logp, log1mp = _shift(logp, log1mp, threshold)
    p = np.exp(logp)
    with np.errstate(invalid="ignore"):
        if kind == "beta":
            out = (delta[0] - 1.0) * logp + (delta[1] - 1.0) * log1mp
        elif kind == "halfnorm":
            out = -delta[0] * p ** 2
        elif kind == "negexp":
            out = -delta[0] * p
        elif kind == "logistic":
            out = _LOG2 - delta[0] * p - np.log1p(np.exp(-delta[0] * p))
        elif kind == "power":
            out = delta[0] * log1mp
        else:  # pragma: no cover - validated by the caller
            raise ValueError(kind)
    if below is not None:
        out = np.where(below, 0.0, out)
    return out


def weight_z(kind, delta, z, alternative, pval_min, threshold=None):
    """w(p(z)) of the continuous weight functions where p > threshold (if any),
    computing only the p-value terms the function needs."""
    if kind in ("beta", "power"):
        logp, log1mp = censor(*log_p_pair(z, alternative), pval_min)
        if threshold is not None:
            logp, log1mp = _shift(logp, log1mp, threshold)
        return np.exp(log_weight(kind, delta, logp, log1mp))
    if alternative == "greater":
        p = special.ndtr(-z)
    elif alternative == "less":
        p = special.ndtr(z)
    else:
        p = 2.0 * special.ndtr(-np.abs(z))
    if pval_min > 0:
        p = np.clip(p, pval_min, 1.0 - pval_min)
    if threshold is not None:
        p = np.maximum(p - threshold, 0.0)
    d = delta[0]
    if kind == "halfnorm":
        return np.exp(-d * p * p)
    e = np.exp(-d * p)
    if kind == "negexp":
        return e
    return 2.0 * e / (1.0 + e)


def _sig_prob(c, mu, s, alternative):
    """P(p <= alpha) for y ~ N(mu, s^2), where c = sqrt(v) * z_crit(alpha)."""
    if alternative == "greater":
        return special.ndtr((mu - c) / s)
    if alternative == "less":
        return special.ndtr((c - mu) / s)
    return special.ndtr((mu - c) / s) + special.ndtr((-c - mu) / s)


def critical_values(sei, alpha, alternative):
    """``c`` with ``p(y) <= alpha`` iff y >= c (greater), y <= c (less), |y| >= c (two-sided)."""
    alpha = np.asarray(alpha, dtype=float)
    if alternative == "greater":
        return sei * stats.norm.isf(alpha)
    if alternative == "less":
        return sei * stats.norm.ppf(alpha)
    return sei * stats.norm.isf(alpha / 2.0)


def step_probabilities(mu: np.ndarray, s: np.ndarray, sei: np.ndarray,
                       steps: Sequence[float], alternative: str) -> np.ndarray:
    """(k, c) probabilities of the p-value intervals (0, a_1], ..., (a_{c-1}, a_c = 1].

    Parameters
    ----------
    mu, s : ndarray
        Means and standard deviations of the effects (k,).
    sei : ndarray
        Standard errors ``sqrt(v_i)`` that define the p-values (k,).
    steps : sequence of float
        The cut points ``a_1 < ... < a_c = 1``.
    alternative : {"greater", "less", "two-sided"}
        Sidedness of the p-values.

    Returns
    -------
    ndarray
        (k, c).
    """
    cum = np.empty((mu.shape[0], len(steps)))
    for j, a in enumerate(steps):
        if a >= 1.0:
            cum[:, j] = 1.0
        else:
            cum[:, j] = _sig_prob(critical_values(sei, a, alternative), mu, s, alternative)
    return np.diff(np.column_stack([np.zeros(mu.shape[0]), cum]), axis=1)


def _y_breaks(sei, alternative, pval_min):
    """Points (on the y scale) where the integrand has a kink or changes scale:
    p = pval_min and p = 1 - pval_min (censoring; 1e-5 without censoring) and, for
    two-sided p-values, y = 0."""
    out = []
    if alternative == "two-sided":
        out.append(np.zeros_like(sei))
    # w(p(y)) changes only where p moves away from 0 and 1: breaking there keeps the
    # panels in step with the scale sqrt(v_i) of that change, however large tau^2 is
    pb = pval_min if pval_min > 0 else _P_BREAK
    for a in (pb, 1.0 - pb):
        c = critical_values(sei, a, alternative)
        out += [c, -c] if alternative == "two-sided" else [c]
    return out


def _segments(mu, s, sei, alternative, threshold, pval_min):
    """Integration segments in x = (y - mu)/s, (k, n_seg + 1) sorted breakpoints, and
    the probability mass handled in closed form (p <= threshold, where w = 1)."""
    k = mu.shape[0]
    lo = np.full(k, -_BOUND_SD)
    hi = np.full(k, _BOUND_SD)
    closed = np.zeros(k)
    if threshold is not None:
        c = critical_values(sei, threshold, alternative)
        closed = _sig_prob(c, mu, s, alternative)
        if alternative == "greater":
            hi = np.minimum(hi, (c - mu) / s)
        elif alternative == "less":
            lo = np.maximum(lo, (c - mu) / s)
        else:
            lo = np.maximum(lo, (-c - mu) / s)
            hi = np.minimum(hi, (c - mu) / s)
    hi = np.maximum(lo, hi)
    inner = [np.clip((yb - mu) / s, lo, hi) for yb in _y_breaks(sei, alternative, pval_min)]
    return np.sort(np.column_stack([lo] + inner + [hi]), axis=1), closed


def censor(logp: np.ndarray, log1mp: np.ndarray, pval_min: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """p-values censored to [pval_min, 1 - pval_min] (metafor's ``pval.min``).

    Parameters
    ----------
    logp, log1mp : ndarray
        ``log p`` and ``log(1 - p)`` of the studies.
    pval_min : float
        The censoring bound (no censoring when <= 0).

    Returns
    -------
    logp, log1mp : ndarray
    """
    if pval_min <= 0:
        return logp, log1mp
    lo, hi = np.log(pval_min), np.log1p(-pval_min)
    small = logp < lo
    large = log1mp < lo
    logp = np.where(small, lo, np.where(large, hi, logp))
    log1mp = np.where(small, hi, np.where(large, lo, log1mp))
    return logp, log1mp


@functools.lru_cache(maxsize=4)
def _rule(panels, nodes):
    """Composite Gauss-Legendre rule on [0, 1]: ``panels`` panels of ``nodes`` nodes."""
    gx, gw = np.polynomial.legendre.leggauss(nodes)
    u = (np.arange(panels)[:, None] + (gx[None, :] + 1.0) / 2.0).ravel() / panels
    return u, np.tile(gw / 2.0, panels) / panels


def log_normaliser(kind: str, delta: np.ndarray, mu: np.ndarray, s: np.ndarray,
                   sei: np.ndarray, alternative: str, threshold: float | None = None,
                   pval_min: float = 0.0, coarse: bool = False) -> np.ndarray:
    """log A_i = log E[w(p(y))], y ~ N(mu_i, s_i^2), by panel-wise Gauss-Legendre
    quadrature in the standardised variable (closed form for the part with w = 1).
    ``coarse=True``: a cheaper rule (accurate to ~1e-9) for the first optimisation phase.

    Parameters
    ----------
    kind : str
        The weight function (one of :data:`WEIGHT_FUNCTIONS`).
    delta : ndarray
        Selection parameters.
    mu, s : ndarray
        Means and standard deviations of the effects (k,).
    sei : ndarray
        Standard errors that define the p-values (k,).
    alternative : {"greater", "less", "two-sided"}
        Sidedness of the p-values.
    threshold : float, optional
        The threshold ``alpha`` (w = 1 below it).
    pval_min : float, default 0.0
        Censoring bound of the p-values.
    coarse : bool, default False
        Use the cheaper quadrature rule.

    Returns
    -------
    ndarray
        ``log A_i`` (k,).
    """
    brk, closed = _segments(mu, s, sei, alternative, threshold, pval_min)
    total = closed.copy()
    u, wq = _rule(*(_COARSE if coarse else _FINE))
    for j in range(brk.shape[1] - 1):
        a, b = brk[:, j], brk[:, j + 1]
        width = b - a
        x = a[:, None] + width[:, None] * u[None, :]
        y = mu[:, None] + s[:, None] * x
        f = weight_z(kind, delta, y / sei[:, None], alternative, pval_min, threshold) \
            * np.exp(-0.5 * x * x - _LOG_SQRT_2PI)
        total = total + width * (f @ wq)
    with np.errstate(divide="ignore"):
        return np.log(total)
