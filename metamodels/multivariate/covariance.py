"""V(theta) = known sampling covariance + random effects, for multilevel/multivariate meta-analysis.

.. math::

    V_b = S_b + \\sum_t 1[g_t(i) = g_t(j)]\\, z_{t,i}' G_t(\\theta_t) z_{t,j}

with ``S`` known (never densified beyond its blocks) and ``G_t`` from a covariance
structure.  There is no estimated residual: the level-1 variance is known.  The
covariance is the engine's one block covariance,
:class:`~metamodels.core.blockcov.BlockCovariance` with a known part and no residual part;
the name below is kept for one release.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.blockcov import BlockCovariance

if TYPE_CHECKING:
    from ..core.known import KnownCovariance
    from ..core.random import RandomPart

__all__ = ["KnownPlusRandomCovariance"]


class KnownPlusRandomCovariance(BlockCovariance):
    """``V = S + sum_t Z_t (I (x) G_t) Z_t'``:
    :class:`~metamodels.core.blockcov.BlockCovariance` with a known part and no residual
    part (former constructor signature, kept for one release).

    Parameters
    ----------
    known : KnownCovariance
    random : list of RandomPart (see :mod:`metamodels.core.random`)
    """

    def __init__(self, known: KnownCovariance, random: list[RandomPart]) -> None:
        super().__init__(known=known, random=random)
