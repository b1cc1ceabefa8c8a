"""Plot of the joint confidence region of two coefficients (bivariate meta-analysis)."""
from __future__ import annotations

import numpy as np

__all__ = ["confidence_region_plot"]


def confidence_region_plot(results, alpha=0.05, which=(0, 1), ax=None, refline=0.0,
                           n_points=200, marginal=True):
    """Joint Wald confidence region(s) of two coefficients with the point estimate.

    Parameters
    ----------
    results : BivariateResults or EqualVarianceResults
        Anything with ``confidence_region(alpha, n_points, which)``, ``params`` and
        ``conf_int(alpha)``.
    alpha : float or sequence of float
        One ellipse per level ``1 - alpha`` (``gid="region"``, labelled in a legend).
    which : pair of int or str
        The two coefficients (x axis, y axis).
    refline : float or None
        Dashed reference lines at this value on both axes (``gid="refline"``).
    marginal : bool
        Draw the marginal ``1 - alpha`` confidence intervals (of the first level) as a
        cross through the estimate (``gid="marginal_ci"``): the ellipse is wider than the
        cross because it covers both coefficients jointly.

    Returns
    -------
    matplotlib.figure.Figure
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
