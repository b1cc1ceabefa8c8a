"""Plot of the joint confidence region of two coefficients (bivariate meta-analysis)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


__all__ = ["confidence_region_plot"]


def confidence_region_plot(results: Any,
                           alpha: float | Sequence[float] = 0.05,
                           which: tuple[int | str, int | str] = (0, 1),
                           ax: Axes | None = None, refline: float | None = 0.0,
                           n_points: int = 200, marginal: bool = True) -> Figure:
    r"""Joint Wald confidence region(s) of two coefficients with the point estimate.

    Drawn by ``res.plot_confidence_region()`` (mvmeta / car's ``confidenceEllipse`` in
    R).

    Parameters
    ----------
    results : BivariateResults or EqualVarianceResults
        Results with the confidence-region interface of
        :mod:`metamodels.multivariate.region` (``confidence_region(alpha, n_points,
        which)``), ``conf_int(alpha)`` and ``model.exog_names``.
    alpha : float or sequence of float
        One ellipse per level ``1 - alpha`` (``gid="region"``, labelled in a legend).
    which : pair of int or str
        The two coefficients (x axis, y axis), by position or name.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new 5.2 x 4.8 inch figure when omitted.
    refline : float or None
        Dashed reference lines at this value on both axes (``gid="refline"``).
    n_points : int
        Points on each ellipse.
    marginal : bool
        Draw the marginal ``1 - alpha`` confidence intervals (of the first level) as a
        cross through the estimate (``gid="marginal_ci"``): the ellipse is wider than the
        cross because it covers both coefficients jointly.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``which`` does not name two different coefficients, ``alpha`` is not in
        ``(0, 1)`` or the covariance of the two coefficients is not positive definite.

    Notes
    -----
    The region is
    :math:`\{b : (b - \hat b)' \widehat{\mathrm{Cov}}(\hat b)^{-1} (b - \hat b) \le
    \chi^2_{2, 1-\alpha}\}` for the two selected coefficients.

    Examples
    --------
    >>> import numpy as np, metamodels as mm
    >>> from metamodels.plots import confidence_region_plot
    >>> b = mm.datasets.load("berkey1998")
    >>> pd_, al = b[b.outcome == "PD"], b[b.outcome == "AL"]
    >>> y = np.column_stack([al.yi, pd_.yi])
    >>> S = np.stack([[[a, c], [c, p]] for a, c, p in zip(al.v2i, pd_.v2i, pd_.v1i)])
    >>> fit = mm.BivariateMeta(y, S, names=("AL", "PD")).fit()
    >>> fig = confidence_region_plot(fit, alpha=[0.05, 0.5])
    >>> [line.get_gid() for line in fig.axes[0].lines][:2]
    ['region', 'region']
    """
    levels = [float(a) for a in np.atleast_1d(alpha)]
    if ax is None:
        import matplotlib.pyplot as plt   # only to create a new figure
        fig, ax = plt.subplots(figsize=(5.2, 4.8))
    b, _, names = results._region_inputs(which)
    styles = ["-", "--", ":", "-."]
    for k, a in enumerate(levels):
        pts = results.confidence_region(alpha=a, n_points=n_points, which=which)
        ax.plot(pts[:, 0], pts[:, 1], color="black", lw=1.2, ls=styles[k % len(styles)],
                gid="region", label=f"{100 * (1 - a):g}% joint region")
    if marginal:
        ci = np.asarray(results.conf_int(levels[0]), dtype=float)
        idx = [list(results.model.exog_names).index(n) for n in names]
        (xl, xh), (yl, yh) = ci[idx[0]], ci[idx[1]]
        ax.plot([xl, xh], [b[1], b[1]], color="0.45", lw=1.0, gid="marginal_ci")
        ax.plot([b[0], b[0]], [yl, yh], color="0.45", lw=1.0, gid="marginal_ci")
    ax.scatter([b[0]], [b[1]], color="black", s=25, zorder=3, gid="estimate")
    if refline is not None:
        ax.axvline(float(refline), color="0.6", ls=":", lw=0.9, gid="refline")
        ax.axhline(float(refline), color="0.6", ls=":", lw=0.9, gid="refline")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.legend(fontsize=8, frameon=False)
    ax.figure.tight_layout()
    return ax.figure
