"""Method-of-moments (ANOVA) variance components of the one-way random-effects model."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["OneWayVarianceComponents", "oneway_variance_components"]


@dataclass(frozen=True)
class OneWayVarianceComponents:
    """ANOVA estimates for ``y_ij = mu + a_i + e_ij``."""

    sigma2_between: float     # sigma_a^2 (may be negative: the moment estimate is not truncated)
    sigma2_within: float      # sigma^2 = MSE
    msa: float
    mse: float
    n0: float                 # effective group size
    df_between: int
    df_within: int
    icc: float                # sigma_a^2 / (sigma_a^2 + sigma^2), truncated at 0

    def __str__(self):
        return (f"One-way ANOVA variance components: between = {self.sigma2_between:.6g}, "
                f"within = {self.sigma2_within:.6g} (MSA {self.msa:.6g} on {self.df_between} df, "
                f"MSE {self.mse:.6g} on {self.df_within} df, n0 = {self.n0:.6g})")


def oneway_variance_components(y, groups):
    """ANOVA (method-of-moments) variance components of a one-way random-effects model.

    Parameters
    ----------
    y : array_like (N,)
    groups : array_like (N,)

    Returns
    -------
    OneWayVarianceComponents

    Notes
    -----
    With ``a`` groups of sizes ``n_i`` and ``N = sum n_i``:
    ``MSA = sum n_i (ybar_i - ybar)^2 / (a - 1)``, ``MSE = sum (y_ij - ybar_i)^2 / (N - a)``,
    ``n0 = (N - sum n_i^2 / N) / (a - 1)`` and ``sigma_a^2 = (MSA - MSE) / n0``,
    ``sigma^2 = MSE``.  For balanced data ``n0 = n`` and these equal the REML estimates
    whenever ``MSA >= MSE`` (Searle, Casella and McCulloch 1992, ch. 3-4).
    """
    y = np.asarray(y, dtype=float)
    g = pd.Series(np.asarray(groups))
    if y.shape[0] != g.shape[0]:
        raise ValueError(f"y has {y.shape[0]} values but groups has {g.shape[0]}")
    if not np.all(np.isfinite(y)) or g.isna().any():
        raise ValueError("y and groups must not contain missing values")
    codes, _ = pd.factorize(g)
    a = int(codes.max()) + 1
    N = y.shape[0]
    if a < 2 or N - a < 1:
        raise ValueError(f"need at least 2 groups and N > groups (got {a} groups, N = {N})")
    n_i = np.bincount(codes)
    means = np.bincount(codes, weights=y) / n_i
    ybar = y.mean()
    ssa = float(np.sum(n_i * (means - ybar) ** 2))
    sse = float(np.sum((y - means[codes]) ** 2))
    msa, mse = ssa / (a - 1), sse / (N - a)
    n0 = (N - float(np.sum(n_i ** 2)) / N) / (a - 1)
    sa = (msa - mse) / n0
    return OneWayVarianceComponents(sa, mse, msa, mse, n0, a - 1, N - a,
                                    max(0.0, sa) / (max(0.0, sa) + mse))
