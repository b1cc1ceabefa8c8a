"""Fail-safe N (file-drawer analysis; metafor's ``fsn``)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..exceptions import MissingDataWarning
from ._meta_input import check_alpha, meta_input

__all__ = ["FailSafeNResult", "fail_safe_n"]

METHODS = ("rosenthal", "orwin", "rosenberg")


@dataclass(frozen=True)
class FailSafeNResult:
    """Fail-safe N.

    Attributes
    ----------
    n : int
        Number of unpublished null studies that would overturn the conclusion.
    method : {"rosenthal", "orwin", "rosenberg"}
    pvalue : float
        p-value of the observed combined test (Rosenthal: one-sided Stouffer;
        Rosenberg: two-sided fixed-effects z); NaN for Orwin.
    estimate : float
        Average effect (Orwin: unweighted or weighted mean; Rosenberg: fixed-effects
        estimate); NaN for Rosenthal.
    target : float
        Orwin's target effect; NaN otherwise.
    alpha : float
    k : int
    """

    n: int
    method: str
    pvalue: float
    estimate: float
    target: float
    alpha: float
    k: int

    def __str__(self):
        name = {"rosenthal": "Rosenthal", "orwin": "Orwin", "rosenberg": "Rosenberg"}[self.method]
        out = [f"Fail-safe N calculation using the {name} approach",
               f"  fail-safe N: {self.n} (k = {self.k})"]
        if self.method == "orwin":
            out.append(f"  average effect: {self.estimate:.4f}, target: {self.target:.4f}")
        else:
            if self.method == "rosenberg":
                out.append(f"  average effect: {self.estimate:.4f}")
            out.append(f"  observed significance: p = {self.pvalue:.4g}, target alpha: "
                       f"{self.alpha:g}")
        return "\n".join(out)

    def summary(self):
        return str(self)


def _as_arrays(yi, vi):
    if vi is None:
        inp = meta_input(yi)
        return inp.y, inp.v
    y = np.asarray(yi, dtype=float).reshape(-1)
    v = np.asarray(vi, dtype=float).reshape(-1)
    if y.shape != v.shape:
        raise ValueError(f"yi has {y.shape[0]} values but vi has {v.shape[0]}")
    bad = ~(np.isfinite(y) & np.isfinite(v))
    if np.any(np.isinf(y) | np.isinf(v)):
        raise ValueError("yi or vi contain infinite values")
    if bad.any():
        warnings.warn(f"{int(bad.sum())} study(ies) with missing yi or vi were dropped",
                      MissingDataWarning, stacklevel=3)
        y, v = y[~bad], v[~bad]
    if y.shape[0] < 1:
        raise ValueError("no studies with both yi and vi")
    if np.any(v <= 0):
        raise ValueError("sampling variances vi must be strictly positive")
    return y, v


def fail_safe_n(yi, vi=None, method="rosenthal", alpha=0.05, target=None, weighted=False):
    """Fail-safe N: how many unpublished studies averaging a null result it would take
    to overturn the conclusion (metafor's ``fsn``).

    Parameters
    ----------
    yi : array_like or MetaResults
        Effect sizes, or a fitted univariate meta-analysis (then ``vi`` is omitted).
    vi : array_like, optional
        Sampling variances.  Studies with a missing ``yi`` or ``vi`` are dropped with a
        :class:`~metamodels.exceptions.MissingDataWarning`.
    method : {"rosenthal", "orwin", "rosenberg"}
    alpha : float
        Significance level (one-sided for Rosenthal, two-sided for Rosenberg).
    target : float, optional
        Orwin's target effect size (its sign is taken from the average effect);
        default half the average effect.
    weighted : bool
        Orwin: inverse-variance weighted (fixed-effects) instead of the unweighted mean.

    Returns
    -------
    FailSafeNResult

    Notes
    -----
    * Rosenthal (1979): with ``z_i = y_i / sqrt(v_i)`` and ``z = |sum z_i| / sqrt(k)``
      (Stouffer), ``N = k (z / z_{1-alpha})^2 - k``; p is the one-sided ``1 - Phi(z)``.
    * Orwin (1983): ``N = k (ybar - target) / target``.
    * Rosenberg (2005): the number of studies with effect 0 and the average weight
      ``wbar = mean(1/v_i)`` that makes the fixed-effects z test non-significant:
      ``N = ((sum w_i y_i / z_{1-alpha/2})^2 - sum w_i) / wbar``.

    N is rounded up and truncated at 0, as metafor.
    """
    method = str(method).lower()
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid values are rosenthal, orwin, "
                         "rosenberg")
    alpha = check_alpha(alpha)
    y, v = _as_arrays(yi, vi)
    k = y.shape[0]
    nan = float("nan")
    if method == "rosenthal":
        z = abs(np.sum(y / np.sqrt(v))) / np.sqrt(k)
        n = k * (z / stats.norm.isf(alpha)) ** 2 - k
        return FailSafeNResult(_count(n), method, float(stats.norm.sf(z)), nan, nan, alpha, k)
    w = 1.0 / v
    if method == "orwin":
        est = float(np.sum(w * y) / np.sum(w)) if weighted else float(np.mean(y))
        tgt = est / 2.0 if target is None else float(np.sign(est) * abs(float(target)))
        if tgt == 0.0:
            raise ValueError("Orwin's fail-safe N needs a non-zero target effect (and a "
                             "non-zero average effect)")
        n = k * (est - tgt) / tgt
        return FailSafeNResult(_count(n), method, nan, est, tgt, alpha, k)
    s, sw = float(np.sum(w * y)), float(np.sum(w))
    est = s / sw
    p = float(2.0 * stats.norm.sf(abs(s) / np.sqrt(sw)))
    n = ((s / stats.norm.isf(alpha / 2.0)) ** 2 - sw) / float(np.mean(w))
    return FailSafeNResult(_count(n), method, p, est, nan, alpha, k)


def _count(n):
    return int(np.ceil(max(0.0, float(n)) - 1e-9))
