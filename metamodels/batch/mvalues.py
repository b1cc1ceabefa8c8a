"""Han and Eskin's m-values: the posterior probability that each study has an effect.

Notes
-----
Han and Eskin (2012, PLoS Genetics 8:e1002555).  A configuration ``c`` in
``{0, 1}^k`` says which studies have an effect.  Studies with ``c_i = 0`` have
``b_i ~ N(0, s_i^2)``; the studies with ``c_i = 1`` share one effect ``beta`` with
``b_i ~ N(beta, s_i^2)`` and prior ``beta ~ N(0, sigma^2)`` (``prior_sd``, default
0.2 as METASOFT).  The Bayes factor of ``c`` against "no effect anywhere" depends on
the fixed-effect summary of its studies only (``W = sum_{c_i=1} 1/s_i^2``,
``T = sum_{c_i=1} b_i/s_i^2``)::

    log BF(c) = -1/2 log(1 + sigma^2 W) + 1/2 sigma^2 T^2 / (1 + sigma^2 W).

The number of studies with an effect has a beta-binomial prior: the proportion
``p ~ Beta(a, b)`` (``prior_a = prior_b = 1`` by default, as METASOFT) and, given
``p``, each study independently, so ``P(c) = B(|c| + a, k - |c| + b) / B(a, b)``.
The m-value of study ``i`` is ``sum_{c: c_i = 1} P(c) BF(c) / sum_c P(c) BF(c)``,
summed exactly over all ``2^k`` configurations (k <= :data:`MVALUE_MAX_K`).  Han and
Eskin read ``m > 0.9`` as "the effect is present" and ``m < 0.1`` as "absent".
A missing study is left out of its variant's configurations (NaN m-value).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
from scipy import special

from .subsets import check_k, missing_patterns, study_arrays, subset_matrix, valid_mask

__all__ = ["mvalues", "MVALUE_MAX_K"]

#: Exact sum over 2^k configurations: up to 2^16 = 65536 per variant.
MVALUE_MAX_K = 16
_CELLS = 1 << 22


if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import ArrayLike


def mvalues(beta: ArrayLike, se: ArrayLike, *, prior_sd: float = 0.2, prior_a: float = 1.0,
            prior_b: float = 1.0, as_frame: bool = True, index: ArrayLike | None = None,
            columns: Sequence[str] | None = None) -> pd.DataFrame | np.ndarray:
    """m-values of every study of every variant (Han and Eskin 2012).

    Parameters
    ----------
    beta, se : array_like, shape (m, k)
        Effects and standard errors; NaN marks a missing study.
    prior_sd : float
        Prior standard deviation of the shared effect (METASOFT's default 0.2).
    prior_a, prior_b : float
        Beta prior of the proportion of studies with an effect (default 1, 1).
    as_frame : bool
        DataFrame with columns ``m_1 .. m_k`` (or ``m_<column>`` when ``beta`` is a
        DataFrame or ``columns`` is given) or an ``(m, k)`` array.
    index : array_like, optional
        Row labels of the frame (default: those of ``beta`` if it is a DataFrame).
    columns : list of str, optional
        Study names for the column labels (default: the columns of ``beta`` if it is
        a DataFrame, else ``1..k``).

    Returns
    -------
    DataFrame or ndarray
        Posterior probabilities that each study has an effect (NaN: missing study).

    Raises
    ------
    ValueError
        Non-positive prior parameters, or too many studies for the enumeration.

    Notes
    -----
    See :mod:`metamodels.batch.mvalues` for the model (METASOFT's m-values).

    Examples
    --------
    >>> import numpy as np
    >>> from metamodels.batch import mvalues
    >>> beta = np.array([[0.30, 0.25, 0.02], [0.10, 0.12, 0.09]])
    >>> se = np.full((2, 3), 0.05)
    >>> print(mvalues(beta, se).round(3))
         m_1    m_2    m_3
    0  1.000  1.000  0.001
    1  0.926  0.958  0.901
    """
    if columns is None and hasattr(beta, "columns"):
        columns = list(beta.columns)
    if index is None and hasattr(beta, "index") and hasattr(beta, "columns"):
        index = beta.index
    beta, se = study_arrays(beta, se)
    if not prior_sd > 0 or not prior_a > 0 or not prior_b > 0:
        raise ValueError("prior_sd, prior_a and prior_b must be positive")
    m, k = beta.shape
    valid = valid_mask(beta, se)
    out = np.full((m, k), np.nan)
    s2 = float(prior_sd) ** 2
    for cols, rows in missing_patterns(valid):
        kk = cols.size
        check_k(kk, MVALUE_MAX_K, "m-values")
        M = subset_matrix(kk)
        size = M.sum(axis=1)
        logprior = (special.betaln(size + prior_a, kk - size + prior_b)
                    - special.betaln(prior_a, prior_b))
        logprior0 = special.betaln(prior_a, kk + prior_b) - special.betaln(prior_a, prior_b)
        step = max(1, _CELLS // M.shape[0])
        for r0 in range(0, rows.size, step):
            r = rows[r0:r0 + step]
            w = 1.0 / se[np.ix_(r, cols)] ** 2
            t = beta[np.ix_(r, cols)] * w
            SW = w @ M.T
            ST = t @ M.T
            d = 1.0 + s2 * SW
            lp = logprior - 0.5 * np.log(d) + 0.5 * s2 * ST * ST / d
            top = np.maximum(lp.max(axis=1), logprior0)
            post = np.exp(lp - top[:, None])
            total = post.sum(axis=1) + np.exp(logprior0 - top)
            out[np.ix_(r, cols)] = (post @ M) / total[:, None]
    if not as_frame:
        return out
    import pandas as pd

    names = [f"m_{c}" for c in columns] if columns is not None else \
        [f"m_{j + 1}" for j in range(k)]
    return pd.DataFrame(out, columns=names, index=index)
