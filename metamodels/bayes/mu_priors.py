"""Priors of the mean structure of :class:`~metamodels.bayes.BayesMeta` (``mu``, or the
coefficients ``b`` of a meta-regression): :class:`Flat` (or ``None``), :class:`Normal`
and :class:`MultivariateNormal`.  Imported by :mod:`metamodels.bayes.priors`, the
place users take every prior from."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["Flat", "Normal", "MultivariateNormal", "coefficient_prior"]


def _positive(value, name, allow_inf=False):
    value = float(value)
    if not (value > 0 and (allow_inf or np.isfinite(value))):
        raise ValueError(f"{name} must be a positive{'' if allow_inf else ' finite'} number, "
                         f"got {value!r}")
    return value



class Flat:
    """Improper uniform prior on ``mu`` (or on every meta-regression coefficient).

    ``p(b) = 1``; the default of :class:`~metamodels.bayes.BayesMeta` (``mu_prior=None``
    is the same).  With a flat prior the posterior needs more studies than coefficients,
    and the marginal likelihood and Bayes factors for ``mu`` are undefined.

    Examples
    --------
    >>> from metamodels.bayes import priors
    >>> priors.Flat(), priors.Flat.proper
    (Flat(), False)
    """

    proper = False

    def __repr__(self):
        return "Flat()"


class Normal:
    """Normal prior ``N(loc, scale^2)`` on ``mu``; independent normals on coefficients.

    Parameters
    ----------
    loc, scale : float or array_like
        Mean and standard deviation (defaults 0 and 1); scalars are broadcast to every
        coefficient of a meta-regression, arrays must have one entry per coefficient.

    Raises
    ------
    ValueError
        If ``loc`` is not finite or ``scale`` is not positive and finite.

    See Also
    --------
    MultivariateNormal : correlated normal prior on the coefficients.

    Examples
    --------
    >>> from metamodels.bayes import priors
    >>> prior = priors.Normal(0, 4)
    >>> prior
    Normal(loc=0, scale=4)
    >>> mean, cov = prior.mean_cov(2)      # two coefficients: independent N(0, 16)
    >>> mean.tolist(), cov.tolist()
    ([0.0, 0.0], [[16.0, 0.0], [0.0, 16.0]])
    """

    proper = True

    def __init__(self, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0) -> None:
        self.loc = np.asarray(loc, dtype=float)
        self.scale = np.asarray(scale, dtype=float)
        if not (np.all(np.isfinite(self.loc)) and np.all(np.isfinite(self.scale))
                and np.all(self.scale > 0)):
            raise ValueError("Normal prior needs finite loc and positive finite scale, got "
                             f"loc={loc!r}, scale={scale!r}")

    def mean_cov(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """Prior mean and covariance for ``p`` coefficients.

        Parameters
        ----------
        p : int
            Number of coefficients of the model.

        Returns
        -------
        mean : ndarray, shape (p,)
            ``loc`` broadcast to ``p`` entries.
        cov : ndarray, shape (p, p)
            ``diag(scale^2)``.

        Raises
        ------
        ValueError
            If ``loc`` or ``scale`` cannot be broadcast to ``p`` entries.
        """
        try:
            loc = np.broadcast_to(self.loc, (p,)).astype(float)
            scale = np.broadcast_to(self.scale, (p,)).astype(float)
        except ValueError:
            raise ValueError(f"the Normal prior has {self.loc.size} location(s) and "
                             f"{self.scale.size} scale(s) but the model has {p} "
                             "coefficients") from None
        return loc, np.diag(scale ** 2)

    def __repr__(self):
        fmt = lambda a: f"{float(a):g}" if a.size == 1 else np.array2string(a, precision=4)  # noqa: E731
        return f"Normal(loc={fmt(self.loc)}, scale={fmt(self.scale)})"


class MultivariateNormal:
    """Multivariate normal prior ``N(mean, cov)`` on the meta-regression coefficients.

    Parameters
    ----------
    mean : array_like, shape (p,)
        Prior mean, one entry per coefficient (in the model's column order).
    cov : array_like, shape (p, p)
        Prior covariance, symmetric positive definite.

    Raises
    ------
    ValueError
        If ``cov`` is not a symmetric positive definite ``(p, p)`` matrix or ``mean`` is
        not finite.

    Examples
    --------
    >>> from metamodels.bayes import priors
    >>> prior = priors.MultivariateNormal([0, 0], [[1, 0.5], [0.5, 1]])
    >>> prior.mean_cov(2)[1].tolist()
    [[1.0, 0.5], [0.5, 1.0]]
    """

    proper = True

    def __init__(self, mean: ArrayLike, cov: ArrayLike) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=float))
        self.cov = np.atleast_2d(np.asarray(cov, dtype=float))
        p = self.mean.size
        if self.cov.shape != (p, p) or not np.allclose(self.cov, self.cov.T):
            raise ValueError(f"cov must be a symmetric ({p}, {p}) matrix")
        if not np.all(np.isfinite(self.mean)) or np.any(np.linalg.eigvalsh(self.cov) <= 0):
            raise ValueError("MultivariateNormal prior needs a finite mean and a positive "
                             "definite covariance")

    def mean_cov(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """Prior mean and covariance (copies), checked against ``p`` coefficients.

        Parameters
        ----------
        p : int
            Number of coefficients of the model.

        Returns
        -------
        mean : ndarray, shape (p,)
        cov : ndarray, shape (p, p)

        Raises
        ------
        ValueError
            If the prior does not have ``p`` entries.
        """
        if self.mean.size != p:
            raise ValueError(f"the MultivariateNormal prior has {self.mean.size} entries but "
                             f"the model has {p} coefficients")
        return self.mean.copy(), self.cov.copy()

    def __repr__(self):
        return f"MultivariateNormal(mean={np.array2string(self.mean, precision=4)}, cov=...)"


def coefficient_prior(prior, p):
    """``(b0, P0, logdet P0)`` of a normal prior, or ``None`` for a flat prior."""
    if prior is None or isinstance(prior, Flat):
        return None
    if not isinstance(prior, (Normal, MultivariateNormal)):
        raise TypeError("mu_prior must be None, priors.Flat(), priors.Normal(...) or "
                        f"priors.MultivariateNormal(...), got {prior!r}")
    b0, cov = prior.mean_cov(p)
    P0 = np.linalg.inv(cov)
    return b0, 0.5 * (P0 + P0.T), float(-np.linalg.slogdet(cov)[1])
