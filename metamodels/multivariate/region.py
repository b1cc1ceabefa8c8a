"""Joint Wald confidence regions of two coefficients (an ellipse) for the bivariate
results (BivariateMeta, the equal-variance model).

For coefficients ``b = (b_i, b_j)`` with covariance ``C`` the ``1 - alpha`` region is
``{m : (m - b)' C^{-1} (m - b) <= chi2_2(1 - alpha)}``; its boundary is
``b + sqrt(chi2_2(1 - alpha)) L u`` for unit vectors ``u`` (``L L' = C``).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

__all__ = ["wald_ellipse", "ConfidenceRegionMixin"]


def wald_ellipse(b: ArrayLike, C: ArrayLike, alpha: float = 0.05,
                 n_points: int = 200) -> np.ndarray:
    """Boundary points of the joint ``1 - alpha`` Wald region of two estimates.

    Parameters
    ----------
    b : array_like
        The two estimates, shape ``(2,)``.
    C : array_like
        Their covariance, ``(2, 2)``, positive definite.
    alpha : float, default 0.05
        ``1 - alpha`` region, in ``(0, 1)``.
    n_points : int, default 200
        Number of boundary points (the first and last coincide).

    Returns
    -------
    numpy.ndarray
        ``(n_points, 2)`` points ``b + sqrt(chi2_2(1 - alpha)) L u``.

    Raises
    ------
    ValueError
        ``alpha`` outside ``(0, 1)`` or ``C`` not positive definite.
    """
    if not 0 < float(alpha) < 1:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha!r}")
    b = np.asarray(b, dtype=float).reshape(2)
    C = np.asarray(C, dtype=float).reshape(2, 2)
    try:
        L = np.linalg.cholesky(C)
    except np.linalg.LinAlgError:
        raise ValueError("the covariance of the two coefficients is not positive definite: "
                         "no confidence ellipse") from None
    ang = np.linspace(0.0, 2.0 * np.pi, int(n_points))
    u = np.column_stack([np.cos(ang), np.sin(ang)])
    return b + np.sqrt(stats.chi2.ppf(1 - alpha, 2)) * u @ L.T


class ConfidenceRegionMixin:
    """``confidence_region()`` and ``plot_confidence_region()`` from ``params`` and
    ``cov_params()``."""

    def _region_inputs(self, which):
        names = list(np.asarray(self.model.exog_names))
        idx = [names.index(w) if isinstance(w, str) else int(w) for w in which]
        if len(idx) != 2 or idx[0] == idx[1]:
            raise ValueError(f"which must name two different coefficients, got {which!r}")
        b = np.asarray(self.params, dtype=float)[idx]
        C = np.asarray(self.cov_params(), dtype=float)[np.ix_(idx, idx)]
        return b, C, [names[i] for i in idx]

    def confidence_region(self, alpha: float = 0.05, n_points: int = 200,
                          which: Sequence[int | str] = (0, 1)) -> np.ndarray:
        """Boundary of the joint Wald confidence ellipse of two coefficients.

        The region ``{m : (m - b)' C^{-1} (m - b) <= chi2_2(1 - alpha)}``; see
        :mod:`metamodels.multivariate.region`.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` region.
        n_points : int, default 200
            Number of boundary points.
        which : pair of int or str, default (0, 1)
            The two coefficients, by position or name.

        Returns
        -------
        numpy.ndarray
            ``(n_points, 2)`` points ``b + sqrt(chi2_2(1-alpha)) L u`` for unit vectors
            ``u`` (``L L'`` the 2 x 2 covariance of the chosen coefficients).

        Raises
        ------
        ValueError
            ``which`` does not name two different coefficients, or their covariance is
            not positive definite.

        Examples
        --------
        >>> import numpy as np
        >>> import metamodels as mm
        >>> b = mm.datasets.load("berkey1998")
        >>> al, pd_ = b[b.outcome == "AL"], b[b.outcome == "PD"]
        >>> y = np.column_stack([al.yi, pd_.yi])
        >>> S = np.stack([[[a, c], [c, p]] for a, c, p in zip(al.v2i, pd_.v2i, pd_.v1i)])
        >>> res = mm.BivariateMeta(y, S, names=("AL", "PD")).fit()
        >>> pts = res.confidence_region()
        >>> print(pts.shape, pts[0].round(3))
        (200, 2) [-0.124  0.432]
        """
        b, C, _ = self._region_inputs(which)
        return wald_ellipse(b, C, alpha, n_points)

    def plot_confidence_region(self, alpha: float | Sequence[float] = 0.05,
                               which: Sequence[int | str] = (0, 1), ax: Any = None,
                               **kwargs: Any) -> Figure:
        """Plot the joint confidence ellipse(s) of two coefficients with the estimate.

        Parameters
        ----------
        alpha : float or sequence of float, default 0.05
            ``1 - alpha`` region(s); several values draw nested ellipses.
        which : pair of int or str, default (0, 1)
            The two coefficients, by position or name.
        ax : matplotlib.axes.Axes, optional
            Axes to draw into (a new figure by default).
        **kwargs
            Further keywords of :func:`metamodels.plots.confidence_region_plot`.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots import confidence_region_plot
        return confidence_region_plot(self, alpha=alpha, which=which, ax=ax, **kwargs)
