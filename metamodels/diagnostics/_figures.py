"""Small matplotlib helpers shared by the diagnostic plots."""
from __future__ import annotations

import numpy as np


def _figure(nrows=1, ncols=1, figsize=None):
    import matplotlib.pyplot as plt  # only to create a new figure
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
    return fig, axes


def _index_panel(ax, values, flags, title, ref=()):
    x = np.arange(1, values.size + 1)
    ax.plot(x, values, color="0.4", lw=0.8, zorder=1)
    ok = ~flags
    ax.scatter(x[ok], values[ok], s=18, color="black", zorder=2)
    ax.scatter(x[flags], values[flags], s=24, color="red", zorder=3)
    for r in ref:
        ax.axhline(r, ls=":", color="0.5", lw=0.8)
    ax.set_title(title, fontsize=9)
    ax.set_xlim(0.5, values.size + 0.5)
    ax.tick_params(labelsize=8)
