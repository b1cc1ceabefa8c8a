"""Begg and Mazumdar's rank correlation test for funnel-plot asymmetry (metafor's
``ranktest``), with Kendall's tau and its exact or tie-corrected null distribution."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from ._meta_input import meta_input

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..univariate.results import MetaResults
    from ._meta_input import MetaInput

__all__ = ["RankCorrelationResult", "rank_correlation_test", "kendall_tau_test"]

_EXACT_MAX_N = 1000     # beyond: the normal approximation (exact is O(n^3))


@dataclass(frozen=True)
class RankCorrelationResult:
    """Begg and Mazumdar's test (returned by :func:`rank_correlation_test`).

    Parameters
    ----------
    statistic : float
        Kendall's tau (tau-b) between standardised effects and variances.
    pvalue : float
        Two-sided p-value.
    exact : bool
        Whether the p-value is exact (permutation distribution) or the normal
        approximation with the tie-corrected variance.
    k : int
        Number of studies.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> test = mm.rank_correlation_test(res)
    >>> print(round(test.statistic, 4), round(test.pvalue, 4), test.exact)
    0.0256 0.9524 True
    """

    statistic: float
    pvalue: float
    exact: bool
    k: int

    def __str__(self):
        how = "exact" if self.exact else "normal approximation"
        return ("Rank correlation test for funnel plot asymmetry (Begg and Mazumdar 1994)\n"
                f"  Kendall's tau = {self.statistic:.4f}, p = {self.pvalue:.4g} ({how}, "
                f"k = {self.k})")

    def summary(self) -> str:
        """The printed form of the test.

        Returns
        -------
        str
        """
        return str(self)


def _pair_counts(x, y):
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    iu = np.triu_indices(x.shape[0], 1)
    s = float(np.sum((dx * dy)[iu]))
    return s, dx[iu], dy[iu]


def _tie_groups(x):
    _, counts = np.unique(x, return_counts=True)
    return counts[counts > 1].astype(float)


def _inversion_cdf(n):
    """Cumulative distribution of the number of concordant pairs among n untied
    observations under independence (Mahonian numbers / n!)."""
    m = n * (n - 1) // 2
    dist = np.zeros(m + 1)
    dist[0] = 1.0
    top = 0
    for j in range(2, n + 1):              # insert the j-th element: 0..j-1 new inversions
        new = np.zeros(m + 1)
        c = np.cumsum(dist[: top + 1])
        top += j - 1
        idx = np.arange(top + 1)
        hi = np.minimum(idx, top - (j - 1))
        lo = idx - (j - 1)
        vals = c[np.minimum(hi, c.shape[0] - 1)]
        sub = np.where(lo > 0, c[np.clip(lo - 1, 0, c.shape[0] - 1)], 0.0)
        new[: top + 1] = (vals - sub) / j
        dist = new
    return np.cumsum(dist)


def kendall_tau_test(x: ArrayLike, y: ArrayLike, exact: bool | None = None
                     ) -> tuple[float, float, bool]:
    """Kendall's tau-b and its two-sided p-value, following R's ``cor.test``.

    ``exact=None`` uses the exact permutation distribution when there are no ties (as
    metafor's ``ranktest``, which asks ``cor.test`` for the exact p-value whenever it
    can; up to n = 1000), the normal approximation with the tie-corrected variance of
    the statistic (Kendall 1970) otherwise.

    Parameters
    ----------
    x, y : array_like
        The two samples (n,).
    exact : bool, optional
        Exact p-value (ignored when there are ties); default as described above.

    Returns
    -------
    tau : float
        Kendall's tau-b.
    pvalue : float
        Two-sided p-value.
    exact : bool
        Whether the p-value is exact.

    Raises
    ------
    ValueError
        Fewer than 3 observations, or a constant variable.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    n = x.shape[0]
    if n < 3:
        raise ValueError(f"Kendall's tau test needs at least 3 observations, got {n}")
    s, dx, dy = _pair_counts(x, y)
    n0 = n * (n - 1) / 2.0
    tx, ty = _tie_groups(x), _tie_groups(y)
    n1 = float(np.sum(tx * (tx - 1)) / 2.0)
    n2 = float(np.sum(ty * (ty - 1)) / 2.0)
    if n1 >= n0 or n2 >= n0:
        raise ValueError("Kendall's tau is undefined: one variable is constant")
    tau = s / np.sqrt((n0 - n1) * (n0 - n2))
    ties = n1 > 0 or n2 > 0
    if exact is None:
        exact = n <= _EXACT_MAX_N and not ties
    if exact and ties:
        exact = False
    if exact:
        cdf = _inversion_cdf(n)
        q = int(round((tau + 1) * n * (n - 1) / 4.0))   # concordant pairs
        if q > n * (n - 1) / 4.0:
            p = 1.0 - cdf[q - 1]
        else:
            p = cdf[q]
        return float(tau), float(min(1.0, 2.0 * p)), True
    v0 = n * (n - 1) * (2 * n + 5)
    vt = np.sum(tx * (tx - 1) * (2 * tx + 5))
    vu = np.sum(ty * (ty - 1) * (2 * ty + 5))
    v1 = np.sum(tx * (tx - 1)) * np.sum(ty * (ty - 1))
    v2 = np.sum(tx * (tx - 1) * (tx - 2)) * np.sum(ty * (ty - 1) * (ty - 2))
    var_s = (v0 - vt - vu) / 18.0 + v1 / (2.0 * n * (n - 1)) + v2 / (9.0 * n * (n - 1) * (n - 2))
    z = s / np.sqrt(var_s)
    return float(tau), float(2.0 * stats.norm.sf(abs(z))), False


def rank_correlation_test(results: MetaResults | MetaInput,
                          exact: bool | None = None) -> RankCorrelationResult:
    r"""Begg and Mazumdar's (1994) rank correlation test for funnel-plot asymmetry
    (metafor's ``ranktest``).

    Parameters
    ----------
    results : MetaResults
        :class:`~metamodels.MetaFixed` or :class:`~metamodels.MetaRandom` results of
        an intercept-only model (only the data are used).
    exact : bool, optional
        Exact p-value from the permutation distribution of Kendall's statistic;
        default: exact whenever there are no ties (as metafor; k <= 1000), otherwise
        the normal approximation with tie-corrected variance.

    Returns
    -------
    RankCorrelationResult
        ``statistic`` (Kendall's tau), ``pvalue`` and ``exact``.

    Raises
    ------
    metamodels.exceptions.SpecificationError
        The model has moderators.
    ValueError
        Fewer than 3 studies, or all standardised effects (or variances) equal.

    See Also
    --------
    egger_test : the regression test for funnel-plot asymmetry.

    Notes
    -----
    With the fixed-effects estimate :math:`b = \sum_i (y_i/v_i) / \sum_i (1/v_i)` and
    its variance :math:`v_b = 1/\sum_i (1/v_i)`, the standardised effects are

    .. math::

        y^*_i = \frac{y_i - b}{\sqrt{v_i - v_b}};

    the statistic is Kendall's tau between :math:`y^*_i` and :math:`v_i`.  Ties use
    tau-b and the tie-corrected variance of the normal approximation (Kendall 1970).

    References
    ----------
    .. [1] Begg, C. B., & Mazumdar, M. (1994). Operating characteristics of a rank
       correlation test for publication bias. *Biometrics*, 50(4), 1088-1101.
    .. [2] Kendall, M. G. (1970). *Rank Correlation Methods* (4th ed.). Griffin.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> print(mm.rank_correlation_test(res))
    Rank correlation test for funnel plot asymmetry (Begg and Mazumdar 1994)
      Kendall's tau = 0.0256, p = 0.9524 (exact, k = 13)
    """
    inp = meta_input(results)
    inp.require_intercept_only("the rank correlation test")
    y, v = inp.y, inp.v
    w = 1.0 / v
    vb = 1.0 / np.sum(w)
    b = float(np.sum(w * y) * vb)
    ystar = (y - b) / np.sqrt(v - vb)
    tau, p, was_exact = kendall_tau_test(ystar, v, exact=exact)
    return RankCorrelationResult(tau, p, was_exact, inp.k)
