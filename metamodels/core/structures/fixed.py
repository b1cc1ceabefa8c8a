"""A structure with some parameters held at given values (metafor's ``rho=``, ``tau2=``, ...).

:class:`FixedParams` wraps a structure ``base`` with parameters ``theta_base`` and exposes
only the free ones: ``Sigma(theta_free) = base(theta_base)`` where ``theta_base`` holds the
given values at the fixed positions and ``theta_free`` elsewhere.  The derivatives are the
base's rows (and rows/columns) of the free parameters.  The fixed parameters are not
parameters of the model any more: the engine neither estimates nor counts them (information
criteria count the free ones, as metafor does), and ``fixed_values`` reports them.
"""
from __future__ import annotations

import numpy as np

from .base import Structure

__all__ = ["FixedParams"]


class FixedParams(Structure):
    """``base`` with the parameters ``fixed`` (position -> value) held constant.

    Parameters
    ----------
    base : Structure
        The structure (a PSD-by-construction one for MetaMixed).
    fixed : dict int -> float
        Values of the fixed parameters, by position in ``base.param_names``; each within
        the base's bounds.

    Raises
    ------
    ValueError
        For a position out of range or a value outside the parameter's range.
    """

    def __init__(self, base, fixed):
        self.base = base
        fixed = {int(k): float(v) for k, v in dict(fixed).items()}
        for k, v in fixed.items():
            if not 0 <= k < base.n_params:
                raise ValueError(f"{base!r} has no parameter number {k}")
            lo, hi = base.lower[k], base.upper[k]
            if not (np.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"{base.param_names[k]} cannot be fixed to {v}: its range "
                                 f"is [{lo:g}, {hi:g}]")
        self.fixed = fixed
        self._free = np.array([k not in fixed for k in range(base.n_params)])
        self._values = np.array([fixed.get(k, 0.0) for k in range(base.n_params)])
        self.name = base.name
        self.dim = base.dim
        self.is_linear = base.is_linear
        self.param_names = tuple(np.asarray(base.param_names, dtype=object)[self._free])
        self.lower = base.lower[self._free]
        self.upper = base.upper[self._free]
        for trait in ("psd", "closed_under_constant", "stationary", "has_covariance", "scale"):
            if hasattr(base, trait):
                setattr(self, trait, getattr(base, trait))

    # ------------------------------------------------------------- parameters
    def full(self, theta):
        """The base's parameters: the fixed values with ``theta`` at the free positions."""
        t = self._values.copy()
        t[self._free] = self._check(theta)
        return t

    @property
    def fixed_names(self):
        return tuple(self.base.param_names[k] for k in sorted(self.fixed))

    def select(self, names, free=True):
        """The entries of ``names`` (one per base parameter) of the free (or the fixed)
        parameters."""
        return [nm for nm, f in zip(names, self._free) if bool(f) == free]

    def fixed_items(self, names):
        """``(name, value)`` of the fixed parameters, ``names`` one per base parameter."""
        return [(names[k], self.fixed[k]) for k in sorted(self.fixed)]

    # -------------------------------------------------------------- the matrix
    def matrix(self, theta):
        return self.base.matrix(self.full(theta))

    def derivatives(self, theta):
        return self.base.derivatives(self.full(theta))[self._free]

    def second_derivatives(self, theta):
        d2 = self.base.second_derivatives(self.full(theta))
        return d2[np.ix_(self._free, self._free)]

    def start(self, variance=1.0):
        t = np.asarray(self.base.start(variance), dtype=float)[self._free]
        return np.clip(t, self.lower, self.upper)

    # ----------------------------------------------- scales (PSD search on SDs)
    def with_base(self, base):
        """The same fixed values on ``base`` (a rescaled variant of ``self.base``): values
        of the leading variances become standard deviations on the ``"sd"`` scale."""
        values = self.base.rescale(self._values, base.scale) \
            if getattr(base, "scale", None) != getattr(self.base, "scale", None) else self._values
        return FixedParams(base, {k: values[k] for k in self.fixed})

    def __repr__(self):
        fixed = ", ".join(f"{self.base.param_names[k]}={v:g}" for k, v in self.fixed.items())
        return f"FixedParams({self.base!r}, {fixed})"
