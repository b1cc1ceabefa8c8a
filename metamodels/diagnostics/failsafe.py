"""Fail-safe N (file-drawer analysis; metafor's ``fsn``)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy import stats

from ..exceptions import MissingDataWarning
from ._meta_input import check_alpha, meta_input

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..univariate.results import MetaResults

__all__ = ["FailSafeNResult", "fail_safe_n"]

METHODS = ("rosenthal", "orwin", "rosenberg")


@dataclass(frozen=True)
class FailSafeNResult:
    """Fail-safe N (returned by :func:`fail_safe_n`).

    Frozen; ``print(result)`` shows it as metafor's ``fsn`` does.

    Parameters
    ----------
    n : int
        Number of unpublished null studies that would overturn the conclusion.
    method : {"rosenthal", "orwin", "rosenberg"}
        The approach.
    pvalue : float
        p-value of the observed combined test (Rosenthal: one-sided Stouffer;
        Rosenberg: two-sided fixed-effects z); NaN for Orwin.
    estimate : float
        Average effect (Orwin: unweighted or weighted mean; Rosenberg: fixed-effects
        estimate); NaN for Rosenthal.
    target : float
        Orwin's target effect; NaN otherwise.
    alpha : float
        Significance level of the target (Rosenthal, Rosenberg).
    k : int
        Number of studies.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> fsn = mm.fail_safe_n(res, method="rosenberg")
    >>> print(fsn.method, fsn.k, fsn.n > 0)
    rosenberg 13 True
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

    def summary(self) -> str:
        """The printed form of the result.

        Returns
        -------
        str
        """
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


def fail_safe_n(yi: ArrayLike | MetaResults, vi: ArrayLike | None = None,
                method: Literal["rosenthal", "orwin", "rosenberg"] = "rosenthal",
                alpha: float = 0.05, target: float | None = None,
                weighted: bool = False) -> FailSafeNResult:
    """Fail-safe N: how many unpublished studies averaging a null result it would take
    to overturn the conclusion (metafor's ``fsn``).

    Parameters
    ----------
    yi : array_like or MetaResults
        Effect sizes, or a fitted univariate meta-analysis (then ``vi`` is omitted).
    vi : array_like, optional
        Sampling variances.  Studies with a missing ``yi`` or ``vi`` are dropped with a
        :class:`~metamodels.exceptions.MissingDataWarning`.
    method : {"rosenthal", "orwin", "rosenberg"}, default "rosenthal"
        The approach (case-insensitive); see the Notes.
    alpha : float, default 0.05
        Significance level (one-sided for Rosenthal, two-sided for Rosenberg).
    target : float, optional
        Orwin's target effect size (its sign is taken from the average effect);
        default half the average effect.
    weighted : bool, default False
        Orwin: inverse-variance weighted (fixed-effects) instead of the unweighted mean.

    Returns
    -------
    FailSafeNResult
        ``n``, with ``pvalue``, ``estimate`` and ``target`` as the method defines them.

    Raises
    ------
    ValueError
        Unknown ``method``; ``alpha`` outside (0, 1); ``yi`` and ``vi`` of different
        lengths, infinite values, ``vi <= 0`` or no complete study; a zero target or
        average effect for Orwin's method.
    TypeError
        ``vi`` omitted and ``yi`` is not a univariate meta-analysis fit.

    Warns
    -----
    metamodels.exceptions.MissingDataWarning
        Studies with a missing ``yi`` or ``vi`` are dropped.

    Notes
    -----
    * Rosenthal (1979): with ``z_i = y_i / sqrt(v_i)`` and ``z = |sum z_i| / sqrt(k)``
      (Stouffer), ``N = k (z / z_{1-alpha})^2 - k``; p is the one-sided ``1 - Phi(z)``.
    * Orwin (1983): ``N = k (ybar - target) / target``.
    * Rosenberg (2005): the number of studies with effect 0 and the average weight
      ``wbar = mean(1/v_i)`` that makes the fixed-effects z test non-significant:
      ``N = ((sum w_i y_i / z_{1-alpha/2})^2 - sum w_i) / wbar``.

    N is rounded up and truncated at 0, as metafor.

    The fail-safe N is a crude sensitivity measure that assumes the missing studies
    average exactly the null (or target) effect; selection models
    (:func:`selection_model`) and trim-and-fill (:func:`trim_and_fill`) model the
    missing studies instead.

    References
    ----------
    .. [1] Rosenthal, R. (1979). The file drawer problem and tolerance for null
       results. *Psychological Bulletin*, 86(3), 638-641.
    .. [2] Orwin, R. G. (1983). A fail-safe N for effect size in meta-analysis.
       *Journal of Educational Statistics*, 8(2), 157-159.
    .. [3] Rosenberg, M. S. (2005). The file-drawer problem revisited: A general
       weighted method for calculating fail-safe numbers in meta-analysis.
       *Evolution*, 59(2), 464-468.

    Examples
    --------
    metafor: ``fsn(yi, vi, data=dat)`` gives 598 for the BCG trials.

    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> print(mm.fail_safe_n(dat["yi"], dat["vi"]).n)
    598
    >>> print(mm.fail_safe_n(dat["yi"], dat["vi"], method="orwin"))
    Fail-safe N calculation using the Orwin approach
      fail-safe N: 13 (k = 13)
      average effect: -0.7407, target: -0.3703
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
