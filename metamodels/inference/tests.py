"""Outcomes of hypothesis tests as small frozen dataclasses."""
from __future__ import annotations

from dataclasses import dataclass

from scipy import stats

__all__ = ["LRTestResult", "WaldTestResult", "lr_test"]


@dataclass(frozen=True)
class LRTestResult:
    """Likelihood-ratio test of a restricted model against a fuller one.

    Unpacks like statsmodels' ``compare_lr_test`` result:
    ``stat, pvalue, df_diff = res.compare_lr_test(restricted)``; the extra fields carry the
    log-likelihoods of both fits, the estimation method and the comparability rule that
    was checked.
    """

    statistic: float
    df: int
    pvalue: float
    llf_full: float
    llf_restricted: float
    method: str = ""
    check: str = ""

    @property
    def df_diff(self):
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
    """Omnibus Wald (chi-square) or F test of several coefficients."""

    statistic: float
    df_num: int
    df_denom: float | None
    pvalue: float
    distribution: str  # "chi2" or "F"

    def __str__(self):
        if self.distribution == "F":
            return f"F({self.df_num}, {self.df_denom:g}) = {self.statistic:.4f}, p = {self.pvalue:.4g}"
        return f"chi2({self.df_num}) = {self.statistic:.4f}, p = {self.pvalue:.4g}"


def lr_test(llf_full, llf_restricted, df, method="", check="") -> LRTestResult:
    """Likelihood-ratio test ``2 (llf_full - llf_restricted) ~ chi2(df)``."""
    if df <= 0:
        raise ValueError(f"the restricted model must have fewer parameters (df = {df})")
    stat = max(0.0, 2.0 * (llf_full - llf_restricted))
    return LRTestResult(float(stat), int(df), float(stats.chi2.sf(stat, df)),
                        float(llf_full), float(llf_restricted), str(method), str(check))
