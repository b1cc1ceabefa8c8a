"""Method-of-moments (ANOVA) variance components of the one-way random-effects model."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["OneWayVarianceComponents", "oneway_variance_components"]


@dataclass(frozen=True)
class OneWayVarianceComponents:
    """ANOVA estimates for ``y_ij = mu + a_i + e_ij`` (:func:`oneway_variance_components`).

    Attributes
    ----------
    sigma2_between : float
        ``sigma_a^2 = (MSA - MSE) / n0``; may be negative (not truncated).
    sigma2_within : float
        ``sigma^2 = MSE``.
    msa, mse : float
        Between- and within-group mean squares.
    n0 : float
        Effective group size ``(N - sum n_i^2 / N) / (a - 1)``.
    df_between, df_within : int
        ``a - 1`` and ``N - a``.
    icc : float
        Intraclass correlation ``sigma_a^2 / (sigma_a^2 + sigma^2)``, ``sigma_a^2``
        truncated at 0.
    """

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


def oneway_variance_components(y: ArrayLike, groups: ArrayLike) -> OneWayVarianceComponents:
    r"""ANOVA (method-of-moments) variance components of a one-way random-effects model.

    The model is ``y_ij = mu + a_i + e_ij`` with ``a_i ~ N(0, sigma_a^2)`` and
    ``e_ij ~ N(0, sigma^2)``; the estimates equate the between- and within-group mean
    squares to their expectations (SAS PROC VARCOMP ``METHOD=TYPE1``, PROC MIXED
    ``METHOD=TYPE1``).  The between-group estimate is not truncated at 0.

    Parameters
    ----------
    y : array_like
        Responses, shape ``(N,)``; finite.
    groups : array_like
        Group labels, shape ``(N,)``; no missing values.

    Returns
    -------
    OneWayVarianceComponents
        ``sigma2_between``, ``sigma2_within``, the mean squares ``msa`` and ``mse`` with
        their df, ``n0`` and the intraclass correlation ``icc`` (truncated at 0).

    Raises
    ------
    ValueError
        Lengths differ, missing values, fewer than 2 groups or ``N`` not above the
        number of groups.

    See Also
    --------
    metamodels.MixedModel : REML / ML estimates of the same model.

    Notes
    -----
    With ``a`` groups of sizes ``n_i`` and ``N = sum n_i``:

    .. math::

        MSA = \frac{\sum_i n_i (\bar y_i - \bar y)^2}{a - 1}, \qquad
        MSE = \frac{\sum_{ij} (y_{ij} - \bar y_i)^2}{N - a}, \qquad
        n_0 = \frac{N - \sum_i n_i^2 / N}{a - 1},

    ``sigma_a^2 = (MSA - MSE) / n0`` and ``sigma^2 = MSE``.  For balanced data
    ``n0 = n`` and these equal the REML estimates whenever ``MSA >= MSE``.

    References
    ----------
    .. [1] Searle SR, Casella G, McCulloch CE (1992). Variance Components. Wiley,
       chapters 3-4.

    Examples
    --------
    >>> import metamodels as mm
    >>> sleep = mm.datasets.load("sleepstudy")
    >>> vc = mm.oneway_variance_components(sleep["Reaction"], sleep["Subject"])
    >>> print(round(vc.sigma2_between, 1), round(vc.sigma2_within, 1), vc.df_between)
    1278.3 1958.9 17
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
