"""Numeric kernels of the selection models: one-sided/two-sided p-values, the weight
functions and the normalising integrals ``A_i = E[w(p(y_i))]``, ``y_i ~ N(mu_i, s_i^2)``.

Plain functions on arrays; :mod:`.selection` builds the likelihood from them.
"""
from __future__ import annotations

import numpy as np
from scipy import special, stats

__all__ = ["WEIGHT_FUNCTIONS", "n_delta", "null_delta", "delta_bounds", "log_p_pair",
           "log_weight", "step_probabilities", "log_normaliser"]

WEIGHT_FUNCTIONS = ("stepfun", "beta", "halfnorm", "negexp", "logistic", "power")
_LOG2 = np.log(2.0)

# Gauss-Legendre rule used panel-wise on each integration segment
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
_PANELS = 48
_BOUND_SD = 13.0          # mass of N(0,1) beyond 13 sd: 1e-38


def n_delta(kind, n_steps):
    return {"stepfun": n_steps, "beta": 2}.get(kind, 1)


def null_delta(kind, n_steps):
    """delta under no selection."""
    if kind in ("stepfun", "beta"):
        return np.ones(n_delta(kind, n_steps))
    return np.zeros(1)


def delta_bounds(kind):
    """Lower bound of each delta: positive for beta, 0 otherwise."""
    return 1e-8 if kind == "beta" else 0.0


def log_p_pair(z, alternative):
    """log p and log(1 - p) of the test statistic ``z = y/sqrt(v)``."""
    if alternative == "greater":
        return stats.norm.logsf(z), stats.norm.logcdf(z)
    if alternative == "less":
        return stats.norm.logcdf(z), stats.norm.logsf(z)
    a = np.abs(z)
    logp = _LOG2 + stats.norm.logsf(a)
    with np.errstate(divide="ignore"):
        log1mp = np.log(special.erf(a / np.sqrt(2.0)))
    return logp, log1mp


def log_weight(kind, delta, logp, log1mp, threshold=None):
    """log w(p) of the continuous weight functions (w = 1 where p <= threshold)."""
    p = np.exp(logp)
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
    if threshold is not None:
        out = np.where(logp <= np.log(threshold), 0.0, out)
    return out


def _sig_prob(c, mu, s, alternative):
    """P(p <= alpha) for y ~ N(mu, s^2), where c = sqrt(v) * z_crit(alpha)."""
    if alternative == "greater":
        return stats.norm.sf((c - mu) / s)
    if alternative == "less":
        return stats.norm.cdf((c - mu) / s)
    return stats.norm.sf((c - mu) / s) + stats.norm.cdf((-c - mu) / s)


def critical_values(sei, alpha, alternative):
    """``c`` with ``p(y) <= alpha`` iff y >= c (greater), y <= c (less), |y| >= c (two-sided)."""
    alpha = np.asarray(alpha, dtype=float)
    if alternative == "greater":
        return sei * stats.norm.isf(alpha)
    if alternative == "less":
        return sei * stats.norm.ppf(alpha)
    return sei * stats.norm.isf(alpha / 2.0)


def step_probabilities(mu, s, sei, steps, alternative):
    """(k, c) probabilities of the p-value intervals (0, a_1], ..., (a_{c-1}, a_c = 1]."""
    cum = np.empty((mu.shape[0], len(steps)))
    for j, a in enumerate(steps):
        if a >= 1.0:
            cum[:, j] = 1.0
        else:
            cum[:, j] = _sig_prob(critical_values(sei, a, alternative), mu, s, alternative)
    return np.diff(np.column_stack([np.zeros(mu.shape[0]), cum]), axis=1)


def _segments(kind, delta, mu, s, sei, alternative, threshold):
    """Integration segments in x = (y - mu)/s, (k, n_seg + 1) breakpoints, and the
    probability mass handled in closed form (p <= threshold, where w = 1)."""
    k = mu.shape[0]
    lo = np.full(k, -_BOUND_SD)
    hi = np.full(k, _BOUND_SD)
    if kind == "beta":                    # tails of p^(d1-1) (1-p)^(d2-1) phi can be wide
        r = s ** 2 / sei ** 2
        for j, side in ((0, 1.0), (1, -1.0)):
            d = delta[j]
            if d < 1.0:
                q = 1.0 + (d - 1.0) * r
                sd = 1.0 / np.sqrt(np.maximum(q, 1e-12))
                shift = np.abs((d - 1.0) * mu * s / sei ** 2) * sd ** 2
                if side > 0:
                    hi = np.maximum(hi, _BOUND_SD * sd + shift)
                else:
                    lo = np.minimum(lo, -_BOUND_SD * sd - shift)
        hi, lo = np.minimum(hi, 1e4), np.maximum(lo, -1e4)
    mid = [-mu / s] if alternative == "two-sided" else []   # kink of the two-sided p
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
    pts = [lo] + [np.clip(m, lo, np.maximum(lo, hi)) for m in mid] + [np.maximum(lo, hi)]
    return np.column_stack(pts), closed


def log_normaliser(kind, delta, mu, s, sei, alternative, threshold=None):
    """log A_i = log E[w(p(y))], y ~ N(mu_i, s_i^2), by panel-wise Gauss-Legendre
    quadrature in the standardised variable (closed form for the part with w = 1)."""
    brk, closed = _segments(kind, delta, mu, s, sei, alternative, threshold)
    total = closed.copy()
    u = (np.arange(_PANELS)[:, None] + (_GL_X[None, :] + 1.0) / 2.0).ravel() / _PANELS
    wq = np.tile(_GL_W / 2.0, _PANELS) / _PANELS
    for j in range(brk.shape[1] - 1):
        a, b = brk[:, j], brk[:, j + 1]
        width = b - a
        x = a[:, None] + width[:, None] * u[None, :]
        y = mu[:, None] + s[:, None] * x
        logp, log1mp = log_p_pair(y / sei[:, None], alternative)
        lw = log_weight(kind, delta, logp, log1mp)
        f = np.exp(lw + stats.norm.logpdf(x))
        total = total + width * (f @ wq)
    with np.errstate(divide="ignore"):
        return np.log(total)
