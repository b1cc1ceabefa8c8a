"""Covariance specifications ``V(theta)`` for the block-diagonal Gaussian engine.

A specification knows its :class:`~metamodels.core.blocks.BlockLayout`, the number,
names and bounds of its parameters, and returns for each block group the stacked
covariance matrices and their first derivatives in ``theta``.

Per group the arrays have shape

* ``(n_blocks,)`` and ``(q, n_blocks)`` for size-1 blocks (diagonal case), or
* ``(n_blocks, m, m)`` and ``(q, n_blocks, m, m)`` for blocks of size ``m > 1``.
"""
from __future__ import annotations

import numpy as np

from .blocks import BlockLayout

__all__ = ["CovarianceSpec", "LinearCovariance"]


class CovarianceSpec:
    """Base class: a parametric block-diagonal covariance ``V(theta)``.

    Subclasses implement :meth:`build` and :meth:`jacobian`.  ``is_linear`` says
    that ``V`` is linear in theta (second derivatives vanish), which lets the engine
    return the observed information.
    """

    is_linear = False

    layout: BlockLayout
    param_names: tuple
    lower: np.ndarray
    upper: np.ndarray

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    def build(self, theta):  # pragma: no cover - abstract
        raise NotImplementedError

    def jacobian(self, theta):  # pragma: no cover - abstract
        raise NotImplementedError


class LinearCovariance(CovarianceSpec):
    """``V(theta) = K + sum_j theta_j D_j``: a known part plus linear components.

    Variance-component models (meta-analysis with known sampling variances,
    multilevel random intercepts, unstructured ``G`` written element-wise) are all
    of this form, and their derivatives do not depend on ``theta``.

    Parameters
    ----------
    layout : BlockLayout
    known : list of ndarray
        Per group ``K`` (``(nb,)`` for diagonal groups, ``(nb, m, m)`` otherwise);
        ``None`` entries mean zero.
    components : list of ndarray
        Per group the stacked ``D_j``: ``(q, nb)`` or ``(q, nb, m, m)``.
    param_names : sequence of str
    lower, upper : array_like, optional
        Box bounds of ``theta`` (default ``[0, inf)``, i.e. variances).
    """

    is_linear = True
    unit_components = False   # True for diag(known) + theta * I (one component of ones)

    def __init__(self, layout, known, components, param_names, lower=None, upper=None):
        self.layout = layout
        self.known = list(known)
        self.components = [np.asarray(c, dtype=float) for c in components]
        self.param_names = tuple(param_names)
        q = len(self.param_names)
        self.lower = np.zeros(q) if lower is None else np.asarray(lower, dtype=float)
        self.upper = np.full(q, np.inf) if upper is None else np.asarray(upper, dtype=float)

    @classmethod
    def diagonal(cls, known, components, param_names, lower=None, upper=None):
        """Independent observations: ``V = diag(known + components' theta)``.

        Parameters
        ----------
        known : (n,) array
        components : (q, n) array
        """
        known = np.asarray(known, dtype=float)
        layout = BlockLayout.diagonal(known.shape[0])
        comps = np.atleast_2d(np.asarray(components, dtype=float))
        spec = cls(layout, [known], [comps], param_names, lower, upper)
        spec.unit_components = bool(comps.shape[0] == 1 and np.all(comps == 1.0))
        return spec

    def build(self, theta):
        theta = np.asarray(theta, dtype=float)
        out = []
        for k, d in zip(self.known, self.components):
            v = np.tensordot(theta, d, axes=(0, 0))
            out.append(v if k is None else v + k)
        return out

    def jacobian(self, theta):
        return self.components
