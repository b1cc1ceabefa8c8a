"""Outcomes of hypothesis tests as small frozen dataclasses."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from scipy import stats

__all__ = ["LRTestResult", "WaldTestResult", "lr_test"]


@dataclass(frozen=True)
class LRTestResult:
    """Likelihood-ratio test of a restricted model against a fuller one.

    Unpacks like statsmodels' ``compare_lr_test`` result:
    ``stat, pvalue, df_diff = res.compare_lr_test(restricted)``; the extra fields carry the
    log-likelihoods of both fits, the estimation method and the comparability rule that
    was checked.

    Parameters
    ----------
    statistic : float
        ``2 (llf_full - llf_restricted)``, at least 0.
    df : int
        Difference in the number of parameters.
    pvalue : float
        Upper-tail chi-square(``df``) probability of ``statistic``.
    llf_full, llf_restricted : float
        Log-likelihoods of the two fits.
    method : str, default ""
        Estimation method of the fits (``"REML"``, ``"ML"``).
    check : str, default ""
        The comparability rule that was checked.

    See Also
    --------
    lr_test

    Examples
    --------
    >>> from metamodels.inference import lr_test
    >>> result = lr_test(-7.69, -12.67, 1, method="ML")
    >>> print(result)
    Likelihood-ratio test: chi2(1) = 9.9600, p = 0.0016 (llf full -7.6900, restricted -12.6700)
    >>> stat, pvalue, df = result
    >>> result.df_diff
    1
    """

    statistic: float
    df: int
    pvalue: float
    llf_full: float
    llf_restricted: float
    method: str = ""
    check: str = ""

    @property
    def df_diff(self) -> int:
        """Difference in the number of parameters (statsmodels' name)."""
        return self.df

    def _as_tuple(self):
        return (self.statistic, self.pvalue, self.df)

    def __iter__(self):
        return iter(self._as_tuple())

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return self._as_tuple()[i]

    def __str__(self):
        return (f"Likelihood-ratio test: chi2({self.df}) = {self.statistic:.4f}, "
                f"p = {self.pvalue:.4g} (llf full {self.llf_full:.4f}, "
                f"restricted {self.llf_restricted:.4f})")


@dataclass(frozen=True)
class WaldTestResult:
    """Omnibus Wald (chi-square) or F test of several coefficients.

    Parameters
    ----------
    statistic : float
        Chi-square or F statistic.
    df_num : int
        Numerator degrees of freedom (number of constraints).
    df_denom : float or None
        Denominator degrees of freedom of an F test (None for chi-square).
    pvalue : float
        Upper-tail probability of ``statistic``.
    distribution : {"chi2", "F"}
        Reference distribution.
    """

    statistic: float
    df_num: int
    df_denom: float | None
    pvalue: float
    distribution: str  # "chi2" or "F"

    def __str__(self):
        if self.distribution == "F":
            return f"F({self.df_num}, {self.df_denom:g}) = {self.statistic:.4f}, p = {self.pvalue:.4g}"
        return f"chi2({self.df_num}) = {self.statistic:.4f}, p = {self.pvalue:.4g}"


def lr_test(llf_full: float, llf_restricted: float, df: int, method: str = "",
            check: str = "") -> LRTestResult:
    """Likelihood-ratio test ``2 (llf_full - llf_restricted) ~ chi2(df)``.

    The statistic is truncated at 0 (a restricted fit may end slightly above the full
    one numerically).  Results' ``compare_lr_test`` calls it after checking that the
    fits are comparable.

    Parameters
    ----------
    llf_full : float
        Log-likelihood of the fuller model.
    llf_restricted : float
        Log-likelihood of the restricted (nested) model.
    df : int
        Difference in the number of parameters (positive).
    method : str, default ""
        Estimation method, recorded in the result.
    check : str, default ""
        The comparability rule that was checked, recorded in the result.

    Returns
    -------
    LRTestResult
        Unpacks as ``(statistic, pvalue, df)``.

    Raises
    ------
    ValueError
        ``df <= 0``.

    Examples
    --------
    >>> from metamodels.inference import lr_test
    >>> stat, pvalue, df = lr_test(-7.69, -12.67, 1)
    >>> print(round(stat, 2), round(pvalue, 4), df)
    9.96 0.0016 1
    """
    if df <= 0:
        raise ValueError(f"the restricted model must have fewer parameters (df = {df})")
    stat = max(0.0, 2.0 * (llf_full - llf_restricted))
    return LRTestResult(float(stat), int(df), float(stats.chi2.sf(stat, df)),
                        float(llf_full), float(llf_restricted), str(method), str(check))
