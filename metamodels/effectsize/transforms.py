"""Back-transformations of effect sizes (metafor's ``transf.*`` functions).

Each function maps values on the analysis scale back to the natural scale, elementwise,
(``pft`` and ``irft`` are the forward transformations, as in metafor) and can be passed wherever metamodels accepts ``transf=`` / ``transform=`` (predictions,
forest plots, :func:`~metamodels.effectsize.summarize_effect_sizes`).  Those needing a
sample size or person-time take it as a second argument; bind it with
``functools.partial`` (or use the ``*_hm`` versions, which take the harmonic mean of the
study sizes, as is customary for a pooled estimate).

========================  ===============================================================
function                  inverse of
========================  ===============================================================
``exp``                   log ratios (OR, RR, IRR, ROM) and logs (PLN, IRLN, MNLN)
``ilogit``                logit (PLO): ``1/(1 + exp(-y))``
``ztor``                  Fisher's z (ZCOR): ``tanh(y)``
``iarcsin``               arcsine of a square root (PAS): ``sin(y)^2``
``ipft(y, n)``            Freeman-Tukey double arcsine (PFT), Miller (1978)
``ipft_hm(y, ni)``        the same at the harmonic mean of the study sizes ``ni``
``isqrt``                 square root (IRS): ``y^2``
``iirft(y, t)``           Freeman-Tukey transform of a rate (IRFT)
``iirft_hm(y, ti)``       the same at the harmonic mean of the person-times ``ti``
========================  ===============================================================
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["exp", "ilogit", "ztor", "iarcsin", "pft", "ipft", "ipft_hm", "isqrt", "irft",
           "iirft", "iirft_hm"]


def exp(y: ArrayLike) -> np.ndarray:
    """Exponential ``exp(y)``: log ratios and logs back to ratios and values.

    Parameters
    ----------
    y : array_like
        Values on the analysis scale.

    Returns
    -------
    numpy.ndarray
        The back-transformed values (same shape).

    Examples
    --------
    >>> import numpy as np
    >>> from metamodels.effectsize import transforms
    >>> transforms.exp([0.0, np.log(2)])
    array([1., 2.])
    """
    return np.exp(np.asarray(y, dtype=float))


def ilogit(y: ArrayLike) -> np.ndarray:
    """Inverse logit ``1 / (1 + exp(-y))``: log odds back to proportions.

    Parameters
    ----------
    y : array_like
        Values on the analysis scale.

    Returns
    -------
    numpy.ndarray
        The back-transformed values (same shape).

    Examples
    --------
    >>> from metamodels.effectsize import transforms
    >>> transforms.ilogit([0.0, 2.0]).round(4)
    array([0.5   , 0.8808])
    """
    y = np.asarray(y, dtype=float)
    return 0.5 * (1.0 + np.tanh(0.5 * y))


def ztor(y: ArrayLike) -> np.ndarray:
    """Fisher's z back to a correlation: ``tanh(y)``.

    Parameters
    ----------
    y : array_like
        Values on the analysis scale.

    Returns
    -------
    numpy.ndarray
        The back-transformed values (same shape).

    Examples
    --------
    >>> from metamodels.effectsize import transforms
    >>> transforms.ztor([0.0, 0.5]).round(4)
    array([0.    , 0.4621])
    """
    return np.tanh(np.asarray(y, dtype=float))


def iarcsin(y: ArrayLike) -> np.ndarray:
    """Inverse arcsine-square-root transform: ``sin(y)^2`` for ``y`` in ``[0, pi/2]``
    (values outside are clipped).

    Parameters
    ----------
    y : array_like
        Values on the analysis scale.

    Returns
    -------
    numpy.ndarray
        The back-transformed values (same shape).

    Examples
    --------
    >>> import numpy as np
    >>> from metamodels.effectsize import transforms
    >>> transforms.iarcsin([0.0, np.pi / 4]).round(4)
    array([0. , 0.5])
    """
    y = np.clip(np.asarray(y, dtype=float), 0.0, np.pi / 2)
    return np.sin(y) ** 2


def pft(p: ArrayLike, n: ArrayLike) -> np.ndarray:
    """The Freeman-Tukey double arcsine of the proportion ``p`` with ``x = p n`` events.

    ``(asin(sqrt(x / (n + 1))) + asin(sqrt((x + 1) / (n + 1)))) / 2`` (metafor's
    ``transf.pft``).

    Parameters
    ----------
    p : array_like
        Proportions.
    n : array_like
        Sample sizes (broadcast against ``p``).

    Returns
    -------
    numpy.ndarray
        The transformed values.

    Examples
    --------
    >>> from metamodels.effectsize import transforms
    >>> print(round(float(transforms.pft(0.2, 50)), 4))
    0.4709
    """
    p, n = np.asarray(p, dtype=float), np.asarray(n, dtype=float)
    x = p * n
    return 0.5 * (np.arcsin(np.sqrt(x / (n + 1.0))) + np.arcsin(np.sqrt((x + 1.0) / (n + 1.0))))


def ipft(y: ArrayLike, n: ArrayLike) -> np.ndarray:
    """Inverse Freeman-Tukey double arcsine (Miller 1978; metafor's ``transf.ipft``).

    With ``s = sin(2y)``:
    ``p = (1 - sign(cos 2y) sqrt(1 - (s + (s - 1/s)/n)^2)) / 2``; values of ``y`` below
    the transform of ``p = 0`` (above that of ``p = 1``) give 0 (1).

    Parameters
    ----------
    y : array_like
        Freeman-Tukey transformed proportions.
    n : array_like
        Sample sizes (broadcast against ``y``).

    Returns
    -------
    numpy.ndarray
        Proportions in ``[0, 1]`` (NaN where ``y`` is NaN).

    Examples
    --------
    >>> from metamodels.effectsize import transforms
    >>> y = transforms.pft(0.2, 50)
    >>> print(round(float(transforms.ipft(y, 50)), 4))
    0.2
    """
    y = np.asarray(y, dtype=float)
    n = np.broadcast_to(np.asarray(n, dtype=float), y.shape)
    t = 2.0 * y
    s = np.sin(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = 1.0 - (s + (s - 1.0 / s) / n) ** 2
        p = 0.5 * (1.0 - np.sign(np.cos(t)) * np.sqrt(np.maximum(inner, 0.0)))
    p = np.where(y <= pft(0.0, n), 0.0, p)
    p = np.where(y >= pft(1.0, n), 1.0, p)
    return np.where(np.isnan(y), np.nan, p)


def _harmonic_mean(values, name):
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0 or np.any(v <= 0):
        raise ValueError(f"{name} must contain positive values")
    return 1.0 / np.mean(1.0 / v)


def ipft_hm(y: ArrayLike, ni: ArrayLike) -> np.ndarray:
    """:func:`ipft` at the harmonic mean of the study sizes ``ni`` (metafor's
    ``transf.ipft.hm``), for pooled estimates.

    Parameters
    ----------
    y : array_like
        Freeman-Tukey transformed proportions.
    ni : array_like
        Study sizes (positive; non-finite values are ignored).

    Returns
    -------
    numpy.ndarray
        Proportions.

    Raises
    ------
    ValueError
        ``ni`` without positive values.

    Examples
    --------
    >>> from metamodels.effectsize import transforms
    >>> transforms.ipft_hm([0.4709], [40, 60]).round(4)
    array([0.1998])
    """
    return ipft(y, _harmonic_mean(ni, "ni"))


def isqrt(y: ArrayLike) -> np.ndarray:
    """Inverse square root: ``y^2`` for ``y >= 0`` (negative values give 0).

    Parameters
    ----------
    y : array_like
        Values on the analysis scale.

    Returns
    -------
    numpy.ndarray
        The back-transformed values (same shape).

    Examples
    --------
    >>> from metamodels.effectsize import transforms
    >>> transforms.isqrt([-1.0, 0.5])
    array([0.  , 0.25])
    """
    y = np.asarray(y, dtype=float)
    return np.where(y < 0, 0.0, y * y)


def irft(rate: ArrayLike, t: ArrayLike) -> np.ndarray:
    """Freeman-Tukey transform of an incidence rate ``x/t`` observed over person-time ``t``.

    ``(sqrt(x/t) + sqrt((x + 1)/t)) / 2`` (the ``IRFT`` measure; metafor's
    ``transf.irft``).

    Parameters
    ----------
    rate : array_like
        Incidence rates ``x / t``.
    t : array_like
        Person-times (broadcast against ``rate``).

    Returns
    -------
    numpy.ndarray
        The transformed values.

    Examples
    --------
    >>> from metamodels.effectsize import transforms
    >>> print(round(float(transforms.irft(0.1, 100)), 4))
    0.3239
    """
    rate, t = np.asarray(rate, dtype=float), np.asarray(t, dtype=float)
    x = rate * t
    return 0.5 * (np.sqrt(x / t) + np.sqrt((x + 1.0) / t))


def iirft(y: ArrayLike, t: ArrayLike) -> np.ndarray:
    """Inverse Freeman-Tukey transform of an incidence rate (metafor's ``transf.iirft``).

    With ``u = 2 y sqrt(t) = sqrt(x) + sqrt(x + 1)``: ``sqrt(x) = (u - 1/u)/2`` and the
    rate is ``x/t``; ``u <= 1`` (below the transform of zero events) gives 0.

    Parameters
    ----------
    y : array_like
        Freeman-Tukey transformed rates.
    t : array_like
        Person-times.

    Returns
    -------
    numpy.ndarray
        Incidence rates.

    Examples
    --------
    >>> from metamodels.effectsize import transforms
    >>> y = transforms.irft(0.1, 100)
    >>> print(round(float(transforms.iirft(y, 100)), 4))
    0.1
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float)
    u = 2.0 * y * np.sqrt(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = 0.5 * (u - 1.0 / u)
    return np.where(u <= 1.0, 0.0, root * root / t)


def iirft_hm(y: ArrayLike, ti: ArrayLike) -> np.ndarray:
    """:func:`iirft` at the harmonic mean of the person-times ``ti``, for pooled
    estimates.

    Parameters
    ----------
    y : array_like
        Freeman-Tukey transformed rates.
    ti : array_like
        Person-times of the studies (positive; non-finite values are ignored).

    Returns
    -------
    numpy.ndarray
        Incidence rates.

    Raises
    ------
    ValueError
        ``ti`` without positive values.

    Examples
    --------
    >>> from metamodels.effectsize import transforms
    >>> transforms.iirft_hm([0.3239], [80, 120]).round(4)
    array([0.0998])
    """
    return iirft(y, _harmonic_mean(ti, "ti"))
