"""V(theta) of a linear mixed model: random effects (G side) plus residual (R side).

The covariance itself is the engine's one block covariance,
:class:`~metamodels.core.blockcov.BlockCovariance` (``V = Z G Z' + R`` here, with no known
part); the random and residual parts and their kernels live in
:mod:`metamodels.core.random`.  The names below are kept for one release so that old
imports keep working.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.blockcov import BlockCovariance
from ..core.random import (RandomPart, ResidualPart, g_parameter_names,  # noqa: F401
                           masked_zd2z, masked_zdz, masked_zgz, random_block_arrays,
                           random_parameter_layout, search_parts)

if TYPE_CHECKING:
    import numpy as np

__all__ = ["RandomPart", "ResidualPart", "MixedCovariance", "g_parameter_names",
           "random_parameter_layout", "search_parts"]


class MixedCovariance(BlockCovariance):
    """``V = sum_t Z_t G_t Z_t' + R``: :class:`~metamodels.core.blockcov.BlockCovariance`
    with a residual part and no known part (former constructor signature, kept for one
    release).

    Parameters
    ----------
    random : list of RandomPart
    residual : ResidualPart
    block_ids : (n,) int array
        Independent units (connected components of the groupings and subjects).
    """

    def __init__(self, random: list[RandomPart], residual: ResidualPart,
                 block_ids: np.ndarray) -> None:
        super().__init__(random=random, residual=residual, block_ids=block_ids)
