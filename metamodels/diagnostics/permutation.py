"""Permutation tests of meta-analytic models (metafor's ``permutest.rma.uni``).

Models without moderators: the signs of the effect sizes are permuted (Follmann and
Proschan 1999); with moderators: the rows of the design matrix are permuted relative
to the effect sizes and their variances (Higgins and Thompson 2004).  Every permuted
data set is refitted with the method and test of the original fit (tau^2
re-estimated).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import factorial, prod
from typing import TYPE_CHECKING, Literal
import warnings

import numpy as np
import pandas as pd

from ..univariate.fitting import fit_univariate

if TYPE_CHECKING:
    from ..univariate.results import MetaResults

__all__ = ["PermutationTestResult", "permutation_test"]

#: tolerance of the ">= observed" comparisons (metafor's comptol)
COMPTOL = np.finfo(float).eps ** 0.5
#: largest exact test carried out
MAX_EXACT = 2_000_000


@dataclass(frozen=True)
class PermutationTestResult:
    """Outcome of :func:`permutation_test`.

    Parameters
    ----------
    params, statistic : Series
        Coefficients and their z (or t) statistics in the original fit.
    pvalues : Series
        Permutation p-values of the coefficients (two-sided: the share of permutations
        with ``|stat| >= |observed|``).
    qm_statistic, qm_pvalue : float
        Omnibus test of the moderators (of the intercept in a model without moderators)
        and its permutation p-value.
    n_permutations : int
        Permutations evaluated (the identity included).
    exact : bool
        Whether all (distinct) permutations were evaluated.
    perm_statistics : ndarray
        The coefficients' statistics of every permutation, (n_permutations, p).
    perm_qm : ndarray
        The omnibus statistic of every permutation, (n_permutations,).

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> perm = mm.diagnostics.permutation_test(res, exact=False, n_permutations=100,
    ...                                        seed=2)
    >>> print(perm.summary_frame().round(3))
                coef  statistic  pvalue_permutation
    Intercept -0.715     -3.974                0.01
    """

    params: pd.Series
    statistic: pd.Series
    pvalues: pd.Series
    qm_statistic: float
    qm_pvalue: float
    n_permutations: int
    exact: bool
    perm_statistics: np.ndarray
    perm_qm: np.ndarray

    def summary_frame(self) -> pd.DataFrame:
        """Coefficient table with the permutation p-values.

        Returns
        -------
        DataFrame
            Columns ``coef``, ``statistic`` and ``pvalue_permutation``, one row per
            coefficient.
        """
        return pd.DataFrame({"coef": self.params, "statistic": self.statistic,
                             "pvalue_permutation": self.pvalues})

    def __repr__(self):
        kind = "exact" if self.exact else "approximate"
        return (f"PermutationTestResult({kind}, {self.n_permutations} permutations, "
                f"QM = {self.qm_statistic:.4f}, p = {self.qm_pvalue:.4g})\n"
                f"{self.summary_frame()}")


def _stats(fit, idx):
    b = fit.params
    cov = fit.cov_params
    z = b / np.sqrt(np.diag(cov))
    bb = b[idx]
    qm = float(bb @ np.linalg.solve(cov[np.ix_(idx, idx)], bb))
    return z, qm


def _n_row_permutations(X):
    _, counts = np.unique(X, axis=0, return_counts=True)
    n = factorial(X.shape[0]) // prod(factorial(int(c)) for c in counts)
    return n


def _next_permutation(a):
    """Next lexicographic permutation of the int array ``a`` in place (multisets give
    each distinct permutation once); False after the last."""
    i = a.size - 2
    while i >= 0 and a[i] >= a[i + 1]:
        i -= 1
    if i < 0:
        return False
    j = a.size - 1
    while a[j] <= a[i]:
        j -= 1
    a[i], a[j] = a[j], a[i]
    a[i + 1:] = a[i + 1:][::-1].copy()
    return True


def _sign_patterns(k):
    for code in range(2 ** k):
        bits = (code >> np.arange(k)) & 1
        yield np.where(bits == 1, -1.0, 1.0)


#: Estimators whose intercept-only fits the batch kernels compute
#: (:func:`metamodels.batch.meta_analyze`): the sign-flip refits are done all at once.
BATCH_METHODS = ("FE", "DL", "HE", "REML", "ML", "PM")


#: Sign patterns fitted per batch call (memory: a few times ``BATCH_ROWS x k`` doubles).
BATCH_ROWS = 65536


def _sign_pattern_rows(k, c0, c1):
    """Patterns ``c0 <= code < c1`` of :func:`_sign_patterns` as rows of an array."""
    bits = (np.arange(c0, c1)[:, None] >> np.arange(k)) & 1
    return np.where(bits == 1, -1.0, 1.0)


def _batch_sign_flips(S, y, v, method, refit):
    """``(z, QM)`` of the intercept-only fits of every sign pattern (rows of ``S``)
    by the batch kernels (one call instead of a fit per pattern; the same estimates
    to about 1e-11); a pattern they leave without a finite, converged estimate is
    refitted on its own (``refit``)."""
    from ..batch import meta_analyze

    out = meta_analyze(S * y, np.broadcast_to(np.sqrt(v), S.shape), method, as_frame=False)
    z = np.array(out["z" if method == "FE" else "z_re"], dtype=float)
    ok = np.isfinite(z)
    if method in ("REML", "ML", "PM"):
        ok &= np.asarray(out["converged"], dtype=bool)
    for i in np.flatnonzero(~ok):
        z[i] = refit(S[i] * y, np.ones((y.size, 1)))[0][0]
    return z[:, None], z * z


def permutation_test(results: MetaResults, n_permutations: int = 1000,
                     exact: Literal["auto"] | bool = "auto",
                     seed: int | np.random.Generator | None = None
                     ) -> PermutationTestResult:
    r"""Permutation test of the coefficients and of the omnibus moderator test
    (metafor's ``permutest.rma.uni``).

    Tests that do not rely on the normal (or t) reference distribution of the Wald
    statistics, which can be inaccurate with few studies or heterogeneous effects.

    Parameters
    ----------
    results : MetaResults
        A :class:`~metamodels.MetaFixed` or :class:`~metamodels.MetaRandom` fit; each
        permuted data set is refitted with its method and test (tau^2 re-estimated,
        or kept when it was fixed).
    n_permutations : int, default 1000
        Random permutations (the first is the original data, so no p-value is 0).
    exact : {"auto", True, False}
        ``True``: evaluate every distinct permutation (``2^k`` sign patterns, or the
        ``k! / prod(m_j!)`` distinct orders of the design rows, ``m_j`` the multiplicities
        of repeated rows); ``"auto"``: exact when that number is at most
        ``n_permutations`` (metafor's rule); ``False``: random permutations.
    seed : int or numpy Generator, optional
        Seed of the random permutations.

    Returns
    -------
    PermutationTestResult
        ``pvalues`` per coefficient, ``qm_pvalue``, ``exact`` and ``summary_frame()``.

    Raises
    ------
    TypeError
        ``results`` is not a MetaFixed/MetaRandom fit.
    ValueError
        ``n_permutations < 2``; invalid ``exact``; an exact test with more than
        2,000,000 permutations.

    Notes
    -----
    Without moderators the signs of the effects are flipped (Follmann and Proschan
    1999): under :math:`H_0: \mu = 0` the distribution of each :math:`y_i` is
    symmetric about 0.  With moderators the rows of the design matrix are permuted
    relative to :math:`(y_i, v_i)` (Higgins and Thompson 2004).  The p-value of a
    coefficient is the share of permutations whose statistic is at least as large in
    absolute value as the observed one,
    :math:`p = \#\{|z^{(b)}| \ge |z^{obs}|\} / B`; likewise for ``QM``.

    References
    ----------
    .. [1] Follmann, D. A., & Proschan, M. A. (1999). Valid inference in random
       effects meta-analysis. *Biometrics*, 55(3), 732-737.
    .. [2] Higgins, J. P. T., & Thompson, S. G. (2004). Controlling the risk of
       spurious findings from meta-regression. *Statistics in Medicine*, 23(11),
       1663-1682.
    .. [3] Viechtbauer, W., Lopez-Lopez, J. A., Sanchez-Meca, J., & Marin-Martinez, F.
       (2015). A comparison of procedures to test for moderators in mixed-effects
       meta-regression models. *Psychological Methods*, 20(3), 360-374.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ ablat", data=dat, vi="vi").fit()
    >>> perm = mm.diagnostics.permutation_test(res, n_permutations=200, seed=1)
    >>> print(perm.exact, perm.n_permutations, round(perm.qm_pvalue, 3))
    False 200 0.01
    """
    if not hasattr(results, "_fit") or not hasattr(results.model, "vi"):
        raise TypeError("permutation_test needs a MetaFixed/MetaRandom result")
    n_permutations = int(n_permutations)
    if n_permutations < 2:
        raise ValueError("n_permutations must be at least 2")
    if exact not in ("auto", True, False):
        raise ValueError(f"exact must be 'auto', True or False, got {exact!r}")
    m = results.model
    y, v, X = (np.asarray(a, dtype=float) for a in (m.endog, m.vi, m.exog))
    k, p = X.shape
    fit0 = results._fit
    tau2 = fit0.tau2 if fit0.tau2_fixed else None
    idx = np.asarray(results._moderator_index)
    if idx.size == 0:
        idx = np.arange(p)
    int_only = p == 1 and bool(m.k_constant)
    n_exact = 2 ** k if int_only else _n_row_permutations(X)
    do_exact = exact is True or (exact == "auto" and n_exact <= n_permutations)
    if do_exact and n_exact > MAX_EXACT:
        raise ValueError(f"an exact test needs {n_exact} permutations (more than "
                         f"{MAX_EXACT}); use exact=False")
    rng = np.random.default_rng(seed)
    # user weights stay with their studies (the effects are permuted or sign-flipped,
    # the weights not), as metafor's permutest
    weights = fit0.weights

    def refit(yy, XX):
        try:
            return _stats(fit_univariate(yy, v, XX, fit0.method, fit0.test, tau2=tau2,
                                         weights=weights, tau2_init=fit0.tau2_init), idx)
        except np.linalg.LinAlgError:
            return np.full(p, np.nan), np.nan

    z_obs, qm_obs = _stats(fit0, idx)
    zs, qms = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if int_only:
            signs = (_sign_patterns(k) if do_exact else
                     (np.ones(k) if i == 0 else rng.choice([-1.0, 1.0], size=k)
                      for i in range(n_permutations)))
            if fit0.method in BATCH_METHODS and fit0.test == "z" and tau2 is None \
                    and weights is None:
                chunks = (_sign_pattern_rows(k, c0, min(c0 + BATCH_ROWS, 2 ** k))
                          for c0 in range(0, 2 ** k, BATCH_ROWS)) if do_exact \
                    else [np.array(list(signs))]
                parts = [_batch_sign_flips(S, y, v, fit0.method, refit) for S in chunks]
                zs = list(np.concatenate([z for z, _ in parts]))
                qms = list(np.concatenate([q for _, q in parts]))
            else:
                for s in signs:
                    z, qm = refit(s * y, X)
                    zs.append(z)
                    qms.append(qm)
        else:
            if do_exact:
                _, codes = np.unique(X, axis=0, return_inverse=True)
                codes = codes.reshape(-1)
                rows_of = {c: np.flatnonzero(codes == c) for c in np.unique(codes)}
                perm = np.sort(codes)
                while True:
                    # assign the design rows of each type in the order of perm
                    pos = {c: 0 for c in rows_of}
                    order = np.empty(k, dtype=int)
                    for i, c in enumerate(perm):
                        order[i] = rows_of[c][pos[c]]
                        pos[c] += 1
                    z, qm = refit(y, X[order])
                    zs.append(z)
                    qms.append(qm)
                    if not _next_permutation(perm):
                        break
            else:
                for i in range(n_permutations):
                    order = np.arange(k) if i == 0 else rng.permutation(k)
                    z, qm = refit(y, X[order])
                    zs.append(z)
                    qms.append(qm)
    zs, qms = np.array(zs), np.array(qms)
    with np.errstate(invalid="ignore"):
        pv = np.nanmean(np.abs(zs) >= np.abs(z_obs)[None, :] - COMPTOL, axis=0)
        qm_p = float(np.nanmean(qms >= qm_obs - COMPTOL))
    names = list(m.exog_names)
    return PermutationTestResult(pd.Series(fit0.params, index=names),
                                 pd.Series(z_obs, index=names),
                                 pd.Series(np.minimum(pv, 1.0), index=names),
                                 float(qm_obs), qm_p, int(zs.shape[0]), bool(do_exact), zs, qms)
