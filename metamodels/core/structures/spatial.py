"""Spatial structures SP(EXP), SP(GAU), SP(POW), SP(SPH) (SAS ``TYPE=SP(...)(c-list)``).

The covariance of two observations of one subject depends on the Euclidean distance
``d_ij = ||c_i - c_j||`` between their coordinate rows (one or more coordinates):

=========  =====================================================  ===============
name       ``Sigma[i, j] / sigma^2`` (``d = d_ij``)               ``rho``
=========  =====================================================  ===============
SP(EXP)    ``exp(-d / rho)``                                      range ``> 0``
SP(GAU)    ``exp(-d^2 / rho^2)``                                  range ``> 0``
SP(POW)    ``rho^d``                                              ``[0, 1)``
SP(SPH)    ``1 - 1.5 (d/rho) + 0.5 (d/rho)^3`` if ``d <= rho``    range ``> 0``
=========  =====================================================  ===============

(SAS's parameterisations; nlme's ``corExp``, ``corGaus`` and ``corSpher`` with
``range = rho`` and ``nugget = FALSE`` give the same matrices, and ``SP(POW)`` is
``SP(EXP)`` with ``rho = exp(-1 / range)``, the continuous-time AR(1) of
``corCAR1``.)  With ``local=True`` (SAS's ``LOCAL`` option) a nugget ``sigma_1^2 I`` is
added: ``theta = (sigma^2, rho, sigma_1^2)`` named ``("Variance", "SP(EXP)",
"Residual")`` as SAS lists them; without it ``theta = (sigma^2, rho)`` named
``("Residual", "SP(EXP)")``.

Positions
---------
A structure of dimension ``dim`` holds the coordinates of ``dim`` positions (``coords``,
``(dim, k)``; by default ``0, 1, ..., dim - 1`` on a line, where ``SP(POW)`` is AR(1) with
``rho >= 0``).  :class:`~metamodels.MixedModel` gives each distinct coordinate row of the
data one position (two rows of one subject at the same place take two positions at
distance 0, so the nugget stays on the diagonal).  The engine gathers sub-matrices over
the positions of a subject with :meth:`Spatial.gather` and friends, which compute the
kernel on those pairs only: the ``dim x dim`` matrix is never formed when there are many
positions (continuous times, unique locations).
"""
from __future__ import annotations

import numpy as np

from .base import Structure, _start_variance
from .registry import register_structure

__all__ = ["Spatial", "SPEXP", "SPGAU", "SPPOW", "SPSPH", "spatial_kernel",
           "nearest_neighbour_distances"]

_POW_UPPER = 1.0 - 1e-10
_POW_FLOOR = 1e-12          # derivatives of rho^d are evaluated at max(rho, floor)
_HALF_AT = 0.5              # starting correlation at the median distance


# ----------------------------------------------------------------------- kernels
def _exp(d, rho):
    f = np.exp(-d / rho)
    return f, f * d / rho ** 2, f * (d * d / rho ** 4 - 2.0 * d / rho ** 3)


def _gau(d, rho):
    a = d * d
    f = np.exp(-a / rho ** 2)
    return f, f * 2.0 * a / rho ** 3, f * (4.0 * a * a / rho ** 6 - 6.0 * a / rho ** 4)


def _sph(d, rho):
    t = d / rho
    inside = t <= 1.0
    f = np.where(inside, 1.0 - 1.5 * t + 0.5 * t ** 3, 0.0)
    f1 = np.where(inside, 1.5 * t * (1.0 - t * t) / rho, 0.0)
    f2 = np.where(inside, 3.0 * t * (2.0 * t * t - 1.0) / rho ** 2, 0.0)
    return f, f1, f2


def _pow(d, rho):
    f = np.power(rho, d)
    r = max(rho, _POW_FLOOR)
    f1 = np.where(d > 0, d * np.power(r, d - 1.0), 0.0)
    f2 = np.where(d > 0, d * (d - 1.0) * np.power(r, d - 2.0), 0.0)
    return f, f1, f2


_KERNELS = {"EXP": _exp, "GAU": _gau, "SPH": _sph, "POW": _pow}


def spatial_kernel(kind, d, rho):
    """Correlation ``f(d; rho)`` of a spatial structure and its first and second
    derivatives in ``rho``, element-wise over the distances ``d``.

    Parameters
    ----------
    kind : {"EXP", "GAU", "POW", "SPH"}
    d : array of non-negative distances
    rho : float
        Range (EXP, GAU, SPH; ``>= 0``) or correlation at unit distance (POW; ``[0, 1)``).

    Returns
    -------
    f, df/drho, d2f/drho2 : arrays shaped like ``d``

    Notes
    -----
    At ``rho = 0`` the range kernels are the limit ``f = 1[d = 0]`` with zero
    derivatives.
    """
    d = np.asarray(d, dtype=float)
    rho = float(rho)
    if kind != "POW" and rho <= 0.0:
        f = (d == 0).astype(float)
        return f, np.zeros_like(d), np.zeros_like(d)
    return _KERNELS[kind](d, rho)


# --------------------------------------------------------------------- structure
def _as_coords(coords, dim):
    if coords is None:
        return np.arange(dim, dtype=float)[:, None]
    c = np.asarray(coords, dtype=float)
    if c.ndim == 1:
        c = c[:, None]
    if c.ndim != 2 or c.shape[0] != dim:
        raise ValueError(f"coords must have one row per position ({dim}), got shape "
                         f"{np.shape(coords)}")
    if not np.all(np.isfinite(c)):
        raise ValueError("coords must be finite")
    return c


def nearest_neighbour_distances(coords):
    """Distance from each coordinate row to its nearest other row (inf for one row)."""
    c = np.asarray(coords, dtype=float)
    if c.shape[0] < 2:
        return np.full(c.shape[0], np.inf)
    from scipy.spatial import cKDTree
    d, _ = cKDTree(c).query(c, k=2)
    return d[:, 1]


def _distances(a, b):
    """Euclidean distances between coordinate rows ``a`` (..., k) and ``b`` (..., k)."""
    diff = a - b
    return np.sqrt(np.einsum("...k,...k->...", diff, diff))


class Spatial(Structure):
    """Base class of the spatial structures (see the module docstring).

    Parameters
    ----------
    dim : int
        Number of positions.
    coords : array_like (dim, k) or (dim,), optional
        Coordinates of the positions (default ``0, 1, ..., dim - 1``).
    local : bool
        Add a nugget ``sigma_1^2 I`` (SAS's ``LOCAL``).
    spacing : float, optional
        Typical distance between neighbouring observations of a subject, for the starting
        value of ``rho`` (:meth:`start`); by default the median distance from each
        position to its nearest other position.
    """

    kind = "?"
    stationary = True
    direct_gather = True

    def __init__(self, dim, coords=None, local=False, spacing=None):
        self.local = bool(local)
        self.coords = _as_coords(coords, int(dim))
        self.coords.setflags(write=False)
        self.spacing = None if spacing is None or not np.isfinite(spacing) or spacing <= 0 \
            else float(spacing)
        super().__init__(dim)
        self._dist = None
        self._gathered = {}

    @property
    def sas_name(self):
        return f"SP({self.kind})"

    @property
    def label(self):
        """SAS spelling with the coordinate count and LOCAL (``"SP(EXP) 2-D LOCAL"``)."""
        k = self.coords.shape[1]
        return f"{self.sas_name} {k}-D" + (" LOCAL" if self.local else "")

    def _names(self):
        if self.local:
            return ("Variance", self.sas_name, "Residual")
        return ("Residual", self.sas_name)

    def _lower(self):
        return np.zeros(self.n_params)

    def _upper(self):
        up = np.full(self.n_params, np.inf)
        if self.kind == "POW":
            up[1] = _POW_UPPER
        return up

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_dist"], state["_gathered"] = None, {}
        return state

    def __repr__(self):
        extra = ", local=True" if self.local else ""
        return f"{type(self).__name__}(dim={self.dim}, k={self.coords.shape[1]}{extra})"

    # ------------------------------------------------------------ distances
    def distances(self):
        """``(dim, dim)`` distances between the positions (formed on request)."""
        if self._dist is None:
            c = self.coords
            self._dist = _distances(c[:, None, :], c[None, :, :])
        return self._dist

    def _pair_distances(self, vi, vj):
        """Distances and the same-position indicator at index arrays ``(vi, vj)``
        (broadcast), cached per pair of index arrays (the engine's blocks are fixed)."""
        key = (id(vi), id(vj))
        hit = self._gathered.get(key)
        if hit is not None and hit[0] is vi and hit[1] is vj:
            return hit[2], hit[3]
        vi_a, vj_a = np.asarray(vi), np.asarray(vj)
        d = _distances(self.coords[vi_a], self.coords[vj_a])
        same = (vi_a == vj_a).astype(float) if self.local else None
        if len(self._gathered) > 64:
            self._gathered.clear()
        self._gathered[key] = (vi, vj, d, same)
        return d, same

    # -------------------------------------------------------------- values
    def _values(self, theta, d, same, order):
        theta = self._check(theta)
        s2, rho = theta[0], theta[1]
        f, f1, f2 = spatial_kernel(self.kind, d, rho)
        q = self.n_params
        if order == 0:
            out = s2 * f
            if self.local:
                out = out + theta[2] * same
            return out
        if order == 1:
            out = np.zeros((q,) + d.shape)
            out[0] = f
            out[1] = s2 * f1
            if self.local:
                out[2] = same
            return out
        out = np.zeros((q, q) + d.shape)
        out[0, 1] = out[1, 0] = f1
        out[1, 1] = s2 * f2
        return out

    def _eye(self):
        return np.eye(self.dim) if self.local else None

    def matrix(self, theta):
        return self._values(theta, self.distances(), self._eye(), 0)

    def derivatives(self, theta):
        return self._values(theta, self.distances(), self._eye(), 1)

    def second_derivatives(self, theta):
        return self._values(theta, self.distances(), self._eye(), 2)

    def diagonal(self, theta):
        theta = self._check(theta)
        return np.full(self.dim, theta[0] + (theta[2] if self.local else 0.0))

    def gather(self, theta, vi, vj):
        d, same = self._pair_distances(vi, vj)
        return self._values(theta, d, same, 0)

    def gather_derivatives(self, theta, vi, vj):
        d, same = self._pair_distances(vi, vj)
        return self._values(theta, d, same, 1)

    def gather_second_derivatives(self, theta, vi, vj):
        d, same = self._pair_distances(vi, vj)
        return self._values(theta, d, same, 2)

    def gather_contracted(self, theta, W, vi, vj):
        return np.tensordot(W, self.gather_second_derivatives(theta, vi, vj),
                            axes=([0, 1], [0, 1]))

    # --------------------------------------------------------------- start
    def _typical_distance(self):
        if self.spacing is not None:
            return self.spacing
        d = nearest_neighbour_distances(self.coords)
        d = d[(d > 0) & np.isfinite(d)]
        return float(np.median(d)) if d.size else 1.0

    def _start_rho(self, m):  # pragma: no cover - abstract
        raise NotImplementedError

    def start(self, variance=1.0):
        """``sigma^2`` (plus the nugget) equal to ``variance``, the nugget a tenth of it,
        and ``rho`` giving correlation 0.5 at the typical distance between neighbouring
        observations (``spacing``; a smooth kernel over many close points is numerically
        singular, a tiny range makes the likelihood flat in ``rho``)."""
        v = _start_variance(variance)
        rho = self._start_rho(self._typical_distance())
        if self.local:
            return np.array([0.9 * v, rho, v - 0.9 * v])
        return np.array([v, rho])


@register_structure("SPEXP", aliases=("SP(EXP)",))
class SPEXP(Spatial):
    """Exponential spatial covariance (SAS ``TYPE=SP(EXP)(c-list)``; nlme ``corExp``).

    ``Sigma[i, j] = sigma^2 exp(-d_ij / rho)`` (see :mod:`.spatial`).
    """

    name = "SPEXP"
    kind = "EXP"

    def _start_rho(self, m):
        return m / np.log(1.0 / _HALF_AT)


@register_structure("SPGAU", aliases=("SP(GAU)",))
class SPGAU(Spatial):
    """Gaussian spatial covariance (SAS ``TYPE=SP(GAU)(c-list)``; nlme ``corGaus``).

    ``Sigma[i, j] = sigma^2 exp(-d_ij^2 / rho^2)`` (see :mod:`.spatial`).
    """

    name = "SPGAU"
    kind = "GAU"

    def _start_rho(self, m):
        return m / np.sqrt(np.log(1.0 / _HALF_AT))


@register_structure("SPPOW", aliases=("SP(POW)",))
class SPPOW(Spatial):
    """Power spatial covariance (SAS ``TYPE=SP(POW)(c-list)``; nlme ``corCAR1`` in one
    dimension).

    ``Sigma[i, j] = sigma^2 rho^d_ij`` with ``0 <= rho < 1`` (see :mod:`.spatial`); for
    unequally spaced times, the continuous-time AR(1).
    """

    name = "SPPOW"
    kind = "POW"

    def _start_rho(self, m):
        return float(min(_HALF_AT ** (1.0 / m), 0.99))


@register_structure("SPSPH", aliases=("SP(SPH)",))
class SPSPH(Spatial):
    """Spherical spatial covariance (SAS ``TYPE=SP(SPH)(c-list)``; nlme ``corSpher``).

    ``Sigma[i, j] = sigma^2 [1 - 1.5 d/rho + 0.5 (d/rho)^3]`` for ``d <= rho``, else 0
    (see :mod:`.spatial`).
    """

    name = "SPSPH"
    kind = "SPH"

    def _start_rho(self, m):
        # 1 - 1.5 t + 0.5 t^3 = 0.5 at t = 0.3472963553...
        return m / 0.3472963553338607
