"""Continuous-time AR(1) over given times: metafor's ``struct="CAR"`` (SAS's ``SP(POW)``
matrix, with metafor's closed range of ``rho``)."""
from __future__ import annotations

import numpy as np

from .base import _START_CORR, Structure, _start_variance
from .registry import register_structure
from .spatial import spatial_kernel

__all__ = ["CAR"]


@register_structure("CAR")
class CAR(Structure):
    """Continuous-time AR(1) (metafor ``struct="CAR"``; nlme ``corCAR1``; the matrix of SAS
    ``TYPE=SP(POW)(t)``).

    ``Sigma[i, j] = v * rho^|t_i - t_j|`` for positions (times) ``t_1 < ... < t_d``: the
    AR(1) correlation for unevenly spaced time points.  With ``t = 0, 1, ..., d - 1`` it is
    :class:`~metamodels.core.structures.AR1` restricted to ``rho >= 0``.

    Parameters
    ----------
    dim : int
    times : array_like (dim,), optional
        Distinct positions; ``0, 1, ..., dim - 1`` by default.

    Notes
    -----
    Parameters ``("Var", "CAR")``: ``v >= 0`` and ``0 <= rho <= 1`` (metafor's range; for
    non-integer distances ``rho^d`` needs ``rho >= 0``).  ``Sigma`` is positive
    semi-definite on the whole box (``exp(-|t_i - t_j| / l)`` is a covariance function on
    the line), so the structure is its own PSD variant.  The kernel and its derivatives in
    ``rho`` (``d rho^(d-1)``, ``d(d-1) rho^(d-2)``, evaluated at ``max(rho, 1e-12)``) are
    those of SAS's ``SP(POW)``
    (:func:`~metamodels.core.structures.spatial.spatial_kernel`); the structure differs
    from :class:`~metamodels.core.structures.SPPOW` by metafor's closed range of ``rho``
    (``SPPOW`` stops at ``1 - 1e-10``), its parameter names and being a ``G`` structure
    for MetaMixed.
    """

    name = "CAR"
    metafor = "CAR"
    psd = True
    stationary = True

    def __init__(self, dim, times=None):
        dim = int(dim)
        t = np.arange(dim, dtype=float) if times is None else np.asarray(times, dtype=float)
        if t.shape != (dim,) or not np.all(np.isfinite(t)) or np.unique(t).size != dim:
            raise ValueError(f"CAR needs {dim} distinct finite positions, got {times!r}")
        self.times = t
        self._D = np.abs(t[:, None] - t[None, :])
        super().__init__(dim)

    def _names(self):
        return ("Var", "CAR")

    def _lower(self):
        return np.array([0.0, 0.0])

    def _upper(self):
        return np.array([np.inf, 1.0])

    def _R(self, rho):
        """``rho^D``, ``d/drho`` and ``d2/drho2`` (the SP(POW) kernel)."""
        return spatial_kernel("POW", self._D, rho)

    def matrix(self, theta):
        v, rho = self._check(theta)
        return max(v, 0.0) * self._R(rho)[0]

    def derivatives(self, theta):
        v, rho = self._check(theta)
        R, d1, _ = self._R(rho)
        return np.stack([R, v * d1])

    def second_derivatives(self, theta):
        v, rho = self._check(theta)
        _, d1, d2 = self._R(rho)
        out = np.zeros((2, 2, self.dim, self.dim))
        out[0, 1] = out[1, 0] = d1
        out[1, 1] = v * d2
        return out

    def start(self, variance=1.0):
        return np.array([_start_variance(variance), 1.0 - _START_CORR])

    def labels(self, columns):
        return list(self.param_names)

    def __repr__(self):
        return f"CAR(dim={self.dim}, times={self.times.tolist()})"
