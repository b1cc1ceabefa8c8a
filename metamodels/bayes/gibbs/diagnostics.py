"""MCMC summaries: HPD intervals, effective sample size and split R-hat.

All functions take draws as ``(chains, draws)`` arrays (or ``(chains, draws, k)`` for
several quantities at once, returning one value per quantity).

* :func:`hpd_interval` -- the shortest interval containing ``ceil((1 - alpha) S)`` of the
  ``S`` pooled draws.
* :func:`ess` -- multi-chain effective sample size of Vehtari, Gelman, Simpson, Carpenter
  and Buerkner (2021, Bayesian Analysis 16, 667-718), eq. (10)-(11) without rank
  normalisation ("bulk" of the mean): chains are split in halves, autocorrelations
  ``rho_t = 1 - (W - mean_m acov_m(t)) / var+`` combine the within-chain autocovariances
  (FFT) with the between-chain variance, and the sum is truncated by Geyer's initial
  monotone sequence on the paired sums ``rho_2k + rho_2k+1``.
* :func:`rhat` -- rank-normalised split R-hat of the same paper: the maximum of the
  R-hat of the rank-normalised split chains and of their folded version
  ``|x - median|``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import special, stats

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["hpd_interval", "ess", "rhat", "autocorrelation"]


def _as_3d(x):
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    squeeze = x.ndim == 2
    if squeeze:
        x = x[..., None]
    return x, squeeze


def hpd_interval(x: ArrayLike, alpha: float = 0.05) -> np.ndarray:
    """Highest posterior density interval(s) from draws.

    The shortest interval between two draws that contains ``ceil((1 - alpha) S)`` of
    the ``S`` pooled draws (Chen and Shao 1999), as SAS's HPD intervals.

    Parameters
    ----------
    x : array_like (S,), (chains, S) or (chains, S, k)
        Draws (chains are pooled).
    alpha : float
        ``1 - alpha`` intervals (default 0.05).

    Returns
    -------
    ndarray (2,) or (k, 2)
        Lower and upper limits of the shortest interval containing at least
        ``1 - alpha`` of the draws.

    Raises
    ------
    ValueError
        Unless ``0 < alpha < 1``.

    References
    ----------
    Chen M-H, Shao Q-M (1999). Monte Carlo estimation of Bayesian credible and HPD
    intervals. Journal of Computational and Graphical Statistics 8(1), 69-92.

    Examples
    --------
    >>> import numpy as np
    >>> from metamodels.bayes.gibbs import hpd_interval
    >>> hpd_interval(np.arange(100.0), alpha=0.1)
    array([ 0., 89.])
    """
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    x3, squeeze = _as_3d(x)
    flat = np.sort(x3.reshape(-1, x3.shape[-1]), axis=0)
    n = flat.shape[0]
    m = min(n, int(np.ceil((1.0 - alpha) * n)))
    width = flat[m - 1:] - flat[:n - m + 1]
    i = np.argmin(width, axis=0)
    cols = np.arange(flat.shape[1])
    out = np.column_stack([flat[i, cols], flat[i + m - 1, cols]])
    return out[0] if squeeze else out


def autocorrelation(x: ArrayLike) -> np.ndarray:
    """Autocorrelation of each chain (last axis = lag), ``(chains, S)`` -> ``(chains, S)``.

    Parameters
    ----------
    x : array_like (..., S)
        Draws; the last axis is the iteration.

    Returns
    -------
    ndarray (..., S)
        Autocorrelations at lags ``0 .. S - 1`` (biased estimator, by FFT).
    """
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    c = x - x.mean(axis=-1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(c, size, axis=-1)
    ac = np.fft.irfft(f * np.conj(f), size, axis=-1)[..., :n]
    with np.errstate(invalid="ignore", divide="ignore"):
        return ac / ac[..., :1]


def _split(x3):
    """Split each chain in two halves (dropping the middle draw of odd lengths)."""
    m, n, k = x3.shape
    h = n // 2
    if h < 2:
        return x3
    return np.concatenate([x3[:, :h], x3[:, n - h:]], axis=0)


def _ess_one(x):
    """ESS of one quantity from (chains, S) draws (already split)."""
    m, n = x.shape
    if n < 4 or not np.all(np.isfinite(x)):
        return np.nan
    acov = autocorrelation(x) * x.var(axis=1, keepdims=True)     # biased autocovariance
    chain_mean = x.mean(axis=1)
    W = np.mean(x.var(axis=1, ddof=1))
    if not W > 0:
        return np.nan
    var_plus = W * (n - 1) / n + (chain_mean.var(ddof=1) if m > 1 else 0.0)
    rho = 1.0 - (W - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    # Geyer's initial positive and monotone sequence on P_k = rho_2k + rho_2k+1
    npair = n // 2
    P = rho[0:2 * npair:2] + rho[1:2 * npair:2]
    pos = np.flatnonzero(P <= 0)
    kmax = pos[0] if pos.size else npair
    P = np.minimum.accumulate(P[:kmax]) if kmax else P[:1]
    tau = -1.0 + 2.0 * np.sum(P)
    tau = max(tau, 1.0 / np.log10(m * n))
    return m * n / tau


def ess(x: ArrayLike) -> float | np.ndarray:
    r"""Effective sample size (pooled over chains) of each quantity.

    The split-chain ESS of Vehtari et al. (2021) without rank normalisation (the
    "bulk" ESS of the mean), as ``posterior::ess_basic`` in R.

    Parameters
    ----------
    x : array_like (chains, S) or (chains, S, k)
        Draws; a 1-d array is one chain.

    Returns
    -------
    float or ndarray (k,)
        ``nan`` for fewer than 4 draws per half-chain, non-finite or constant draws.

    Notes
    -----
    With ``M`` split chains of ``N`` draws,

    .. math::

        \hat\rho_t = 1 - \frac{W - \frac{1}{M}\sum_m \hat\gamma_{m,t}}{\widehat{\mathrm{var}}^+},
        \qquad
        \mathrm{ESS} = \frac{M N}{-1 + 2 \sum_{k} \hat P_k},

    with ``W`` the mean within-chain variance, ``var+`` the pooled variance estimate and
    ``P_k = rho_2k + rho_2k+1`` truncated by Geyer's initial monotone sequence.

    References
    ----------
    Vehtari A, Gelman A, Simpson D, Carpenter B, Buerkner P-C (2021).
    Rank-normalization, folding, and localization: an improved R-hat for assessing
    convergence of MCMC. Bayesian Analysis 16(2), 667-718.

    Examples
    --------
    >>> import numpy as np
    >>> from metamodels.bayes.gibbs import ess
    >>> x = np.random.default_rng(0).standard_normal((2, 1000))   # independent draws
    >>> bool(1500 < ess(x) < 2500)
    True
    """
    x3, squeeze = _as_3d(x)
    xs = _split(x3)
    out = np.array([_ess_one(xs[..., j]) for j in range(xs.shape[-1])])
    return float(out[0]) if squeeze else out


def _rhat_basic(x):
    m, n = x.shape
    if n < 2 or m < 2:
        return np.nan
    chain_mean = x.mean(axis=1)
    W = np.mean(x.var(axis=1, ddof=1))
    B = n * chain_mean.var(ddof=1)
    if not W > 0:
        return np.nan
    return float(np.sqrt(((n - 1) / n * W + B / n) / W))


def _rank_normal(x):
    r = stats.rankdata(x.ravel(), method="average").reshape(x.shape)
    return special.ndtri((r - 0.375) / (x.size + 0.25))


def rhat(x: ArrayLike) -> float | np.ndarray:
    """Rank-normalised split R-hat (Vehtari et al. 2021) of each quantity.

    The maximum of the split R-hat of the rank-normalised draws (bulk) and of the
    rank-normalised ``|x - median|`` (tail), as ``posterior::rhat`` in R.

    Parameters
    ----------
    x : array_like (chains, S) or (chains, S, k)
        Draws; a 1-d array is one chain.

    Returns
    -------
    float or ndarray (k,)
        ``nan`` for constant or non-finite draws; values above 1.01 signal
        non-convergence.

    References
    ----------
    Vehtari A, Gelman A, Simpson D, Carpenter B, Buerkner P-C (2021).
    Rank-normalization, folding, and localization: an improved R-hat for assessing
    convergence of MCMC. Bayesian Analysis 16(2), 667-718.

    Examples
    --------
    >>> import numpy as np
    >>> from metamodels.bayes.gibbs import rhat
    >>> x = np.random.default_rng(0).standard_normal((4, 500))
    >>> bool(rhat(x) < 1.01), bool(rhat(x + np.arange(4)[:, None]) > 1.1)
    (True, True)
    """
    x3, squeeze = _as_3d(x)
    xs = _split(x3)
    out = np.empty(xs.shape[-1])
    for j in range(xs.shape[-1]):
        v = xs[..., j]
        if not np.all(np.isfinite(v)) or np.ptp(v) == 0:
            out[j] = np.nan
            continue
        bulk = _rhat_basic(_rank_normal(v))
        tail = _rhat_basic(_rank_normal(np.abs(v - np.median(v))))
        out[j] = max(bulk, tail)
    return float(out[0]) if squeeze else out
