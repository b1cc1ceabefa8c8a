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
import numpy as np

__all__ = ["exp", "ilogit", "ztor", "iarcsin", "pft", "ipft", "ipft_hm", "isqrt", "irft",
           "iirft", "iirft_hm"]


def exp(y):
    """``exp(y)``."""
    return np.exp(np.asarray(y, dtype=float))


def ilogit(y):
    """Inverse logit ``1 / (1 + exp(-y))``."""
    y = np.asarray(y, dtype=float)
    return 0.5 * (1.0 + np.tanh(0.5 * y))


def ztor(y):
    """Fisher's z back to a correlation: ``tanh(y)``."""
    return np.tanh(np.asarray(y, dtype=float))


def iarcsin(y):
    """``sin(y)^2`` for ``y`` in ``[0, pi/2]`` (values outside are clipped)."""
    y = np.clip(np.asarray(y, dtype=float), 0.0, np.pi / 2)
    return np.sin(y) ** 2


def pft(p, n):
    """The Freeman-Tukey double arcsine of the proportion ``p`` with ``x = p n`` events."""
    p, n = np.asarray(p, dtype=float), np.asarray(n, dtype=float)
    x = p * n
    return 0.5 * (np.arcsin(np.sqrt(x / (n + 1.0))) + np.arcsin(np.sqrt((x + 1.0) / (n + 1.0))))


def ipft(y, n):
    """Inverse Freeman-Tukey double arcsine (Miller 1978).

    With ``s = sin(2y)``:
    ``p = (1 - sign(cos 2y) sqrt(1 - (s + (s - 1/s)/n)^2)) / 2``; values of ``y`` below
    the transform of ``p = 0`` (above that of ``p = 1``) give 0 (1).
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


def ipft_hm(y, ni):
    """:func:`ipft` at the harmonic mean of the study sizes ``ni``."""
    return ipft(y, _harmonic_mean(ni, "ni"))


def isqrt(y):
    """``y^2`` for ``y >= 0`` (negative values give 0)."""
    y = np.asarray(y, dtype=float)
    return np.where(y < 0, 0.0, y * y)


def irft(rate, t):
    """Freeman-Tukey transform of an incidence rate ``x/t`` observed over person-time ``t``:
    ``(sqrt(x/t) + sqrt((x + 1)/t)) / 2`` (the ``IRFT`` measure; metafor's
    ``transf.irft``)."""
    rate, t = np.asarray(rate, dtype=float), np.asarray(t, dtype=float)
    x = rate * t
    return 0.5 * (np.sqrt(x / t) + np.sqrt((x + 1.0) / t))


def iirft(y, t):
    """Inverse Freeman-Tukey transform of an incidence rate (metafor's ``transf.iirft``).

    With ``u = 2 y sqrt(t) = sqrt(x) + sqrt(x + 1)``: ``sqrt(x) = (u - 1/u)/2`` and the
    rate is ``x/t``; ``u <= 1`` (below the transform of zero events) gives 0.
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float)
    u = 2.0 * y * np.sqrt(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = 0.5 * (u - 1.0 / u)
    return np.where(u <= 1.0, 0.0, root * root / t)


def iirft_hm(y, ti):
    """:func:`iirft` at the harmonic mean of the person-times ``ti``."""
    return iirft(y, _harmonic_mean(ti, "ti"))
