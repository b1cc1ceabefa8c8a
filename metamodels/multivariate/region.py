"""Joint Wald confidence regions of two coefficients (an ellipse) for the bivariate
results (BivariateMeta, the equal-variance model).

For coefficients ``b = (b_i, b_j)`` with covariance ``C`` the ``1 - alpha`` region is
``{m : (m - b)' C^{-1} (m - b) <= chi2_2(1 - alpha)}``; its boundary is
``b + sqrt(chi2_2(1 - alpha)) L u`` for unit vectors ``u`` (``L L' = C``).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["wald_ellipse", "ConfidenceRegionMixin"]


def wald_ellipse(b, C, alpha=0.05, n_points=200):
    """Boundary points (n_points, 2) of the joint ``1 - alpha`` Wald region of ``b``
    (2,) with covariance ``C`` (2, 2)."""
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

    def confidence_region(self, alpha=0.05, n_points=200, which=(0, 1)):
        """Boundary of the joint Wald confidence ellipse of two coefficients.

        Returns an (n_points, 2) array ``b + sqrt(chi2_2(1-alpha)) L u`` for unit
        vectors ``u`` (``L L'`` the 2 x 2 covariance of the chosen coefficients, given by
        position or name in ``which``); see :mod:`metamodels.multivariate.region`.
        """
        b, C, _ = self._region_inputs(which)
        return wald_ellipse(b, C, alpha, n_points)

    def plot_confidence_region(self, alpha=0.05, which=(0, 1), ax=None, **kwargs):
        """Plot the joint confidence ellipse(s) of two coefficients with the estimate;
        see :func:`metamodels.plots.confidence_region_plot`."""
        from ..plots import confidence_region_plot
        return confidence_region_plot(self, alpha=alpha, which=which, ax=ax, **kwargs)
