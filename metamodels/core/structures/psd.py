"""Covariance structures that are positive semi-definite by construction.

Every structure here spans the same matrices as a SAS structure of :mod:`.` (its ``base``)
but is parameterised so that the box bounds of ``theta`` describe exactly the positive
semi-definite (PSD) matrices of that family: variances ``>= 0`` and correlation
parameters in a closed interval.  The boundary of the box is the boundary of the PSD set
(a variance at 0, a correlation at +-1, ...), so a fit that ends on a bound ends on a
singular ``Sigma`` and names the parameter responsible.  These are the ``G`` structures of
:class:`~metamodels.MetaMixed` (metafor's ``rma.mv`` bounds its correlations likewise) and
the optimisation space of ``MixedModel.fit(g_constraint="psd")`` (lme4's constraint).

=========  =====================================================  =====================
name       ``Sigma``                                              bounds
=========  =====================================================  =====================
UN         ``S C(z) S``, ``C`` from canonical partial corr. ``z``  ``v >= 0, |z| <= 1``
UNR        as UN (base: SAS UNR, variances and correlations)      ``v >= 0, |z| <= 1``
CS         ``v [(1 - rho) I + rho J]``                            ``-1/(d-1) <= rho <= 1``
CSH        ``S [(1 - rho) I + rho J] S``                          ``-1/(d-1) <= rho <= 1``
AR1        ``v rho^|i-j|``                                        ``|rho| <= 1``
ARH1       ``S rho^|i-j| S``                                      ``|rho| <= 1``
ANTE1      ``s_i s_j prod_{k=i}^{j-1} rho_k``                     ``|rho_k| <= 1``
=========  =====================================================  =====================

with ``S = diag(sqrt(v_1), ..., sqrt(v_d))`` and ``J`` the matrix of ones.

Canonical partial correlations (Lewandowski, Kurowicka and Joe 2009, J. Multivariate
Anal. 100: 1989-2001; the C-vine of Joe 2006): ``z_ij`` (``j < i``) is the partial
correlation of variables ``i`` and ``j`` given ``1, ..., j-1``.  The Cholesky factor of the
correlation matrix is

.. math::

    L_{ij} = z_{ij} \\prod_{k<j} \\sqrt{1 - z_{ik}^2} \\;(j < i), \\qquad
    L_{ii} = \\prod_{k<i} \\sqrt{1 - z_{ik}^2},

so every row of ``L`` has unit length and ``C = L L'`` is a correlation matrix for every
``z`` in ``[-1, 1]``; conversely every correlation matrix has such a ``z``.  The first column
holds plain correlations (``C_i1 = z_i1``); for two outcomes ``z_21`` is the correlation.
``d sqrt(1 - z^2) / dz`` is infinite at ``|z| = 1``: the derivatives evaluate it at
``max(sqrt(1 - z^2), 1e-8)`` (exact inside the box, finite on it; for ``d = 2`` the
correlation enters linearly and no floor is needed).
"""
from __future__ import annotations

import numpy as np

from .autoregressive import AR1, ANTE1, ARH1
from .base import (Heterogeneous, Structure, _START_CORR, _lags, _power_lags,
                   _start_variance)
from .compound import CS, CSH
from .registry import psd_names, psd_variant, register_psd_variant
from .unstructured import UN, UNR

__all__ = ["PSDUN", "PSDUNR", "PSDCS", "PSDCSH", "PSDAR1", "PSDARH1", "PSDANTE1",
           "CholeskyUN", "psd_structure", "search_structure", "linear_structure", "params_to",
           "params_from",
           "cpc_from_correlation"]

_C_FLOOR = 1e-8


class _PSD:
    """Mix-in: positive semi-definite by construction, with a map to the SAS ``base``.

    ``scale="var"`` (default) parameterises the variances, ``scale="sd"`` the standard
    deviations ``s_i = sqrt(v_i) >= 0`` (names ``SD(...)``): the same matrices, but
    ``Sigma`` is then a polynomial in ``s`` and smooth at ``s = 0``, whereas
    ``d sqrt(v) / dv`` is infinite at ``v = 0``.  The fits search on the ``"sd"`` scale and
    report on the ``"var"`` scale (:meth:`rescale` maps between them).
    """

    psd = True
    base = None
    scale = "var"
    #: the conjugate Gibbs updates need element-wise (SAS) parameters
    conjugate = None

    def __init_subclass__(cls, **kwargs):
        """Variants share the identification traits of their SAS ``base``."""
        super().__init_subclass__(**kwargs)
        base = cls.__dict__.get("base")
        if base is not None:
            for trait in ("closed_under_constant", "stationary", "has_covariance"):
                if trait not in cls.__dict__:
                    setattr(cls, trait, getattr(base, trait))

    def __init__(self, dim, scale="var"):
        if scale not in ("var", "sd"):
            raise ValueError(f"scale must be 'var' or 'sd', got {scale!r}")
        self.scale = scale
        super().__init__(dim)
        if scale == "sd":
            self.param_names = tuple(nm.replace("Var", "SD", 1) if i < self._n_scale else nm
                                     for i, nm in enumerate(self.param_names))

    @property
    def _n_scale(self):
        """Number of leading variance (or SD) parameters."""
        return self.dim if isinstance(self, Heterogeneous) else 1

    def with_scale(self, scale):
        """The same structure parameterised on ``scale`` (``"var"`` or ``"sd"``)."""
        return type(self)(self.dim, scale)

    def rescale(self, theta, scale):
        """``theta`` of this structure expressed on ``scale``."""
        t = np.array(self._check(theta), dtype=float)
        k = self._n_scale
        if scale != self.scale:
            t[:k] = np.sqrt(np.clip(t[:k], 0.0, None)) if scale == "sd" else t[:k] ** 2
        return t

    def _variance_theta(self, theta):
        return self.rescale(theta, "var")

    def to_base(self, theta):
        """The parameters of the SAS structure ``base`` giving the same matrix."""
        return self._variance_theta(theta)

    def from_base(self, theta_base):
        """Own parameters from the ``base`` parameters (projected into the box)."""
        t = np.clip(np.asarray(theta_base, dtype=float).reshape(-1), self.lower, self.upper)
        k = self._n_scale
        if self.scale == "sd":
            t[:k] = np.sqrt(np.clip(t[:k], 0.0, None))
        return t

    def base_structure(self):
        return self.base(self.dim)

    def labels(self, columns):
        """Parameter labels using the random-effect column names."""
        if isinstance(self, Heterogeneous):
            head = "SD" if self.scale == "sd" else "Var"
            return [f"{head}({c})" for c in columns] + list(self.param_names[self.dim:])
        return list(self.param_names)


class _PSDHeterogeneous(_PSD):
    """Closed correlation bounds ``[_corr_lower, 1]`` for a heterogeneous structure
    ``S C(r) S``; on the ``"sd"`` scale ``S = diag(s)`` directly."""

    def _corr_lower(self):
        return -1.0

    def _lower(self):
        q = self.n_params - self.dim
        return np.concatenate([np.zeros(self.dim), np.full(q, self._corr_lower())])

    def _upper(self):
        q = self.n_params - self.dim
        return np.concatenate([np.full(self.dim, np.inf), np.ones(q)])

    def start(self, variance=1.0):
        return self.from_base_scale(super().start(variance))

    def from_base_scale(self, theta_var):
        t = np.array(theta_var, dtype=float)
        if self.scale == "sd":
            t[:self.dim] = np.sqrt(np.clip(t[:self.dim], 0.0, None))
        return t

    def matrix(self, theta):
        if self.scale == "var":
            return super().matrix(theta)
        sd, r = self._split(theta)
        sd = np.clip(sd, 0.0, None)
        return np.outer(sd, sd) * self._corr(r)

    def _sd_d(self, sd):
        """``d (s s') / d s_k`` stacked: row and column ``k`` hold ``s``."""
        d = self.dim
        A = np.zeros((d, d, d))
        for k in range(d):
            A[k, k, :] += sd
            A[k, :, k] += sd
        return A

    def derivatives(self, theta):
        if self.scale == "var":
            return super().derivatives(theta)
        sd, r = self._split(theta)
        C = self._corr(r)
        out = np.empty((self.n_params, self.dim, self.dim))
        out[:self.dim] = self._sd_d(sd) * C
        if len(r):
            out[self.dim:] = np.outer(sd, sd) * self._corr_d(r)
        return out

    def second_derivatives(self, theta):
        if self.scale == "var":
            return super().second_derivatives(theta)
        sd, r = self._split(theta)
        d, q = self.dim, len(r)
        C = self._corr(r)
        out = np.zeros((self.n_params, self.n_params, d, d))
        for k in range(d):
            for m in range(d):
                E = np.zeros((d, d))
                E[k, m] += 1.0
                E[m, k] += 1.0
                out[k, m] = E * C
        if q:
            dC = self._corr_d(r)
            A = self._sd_d(sd)
            for k in range(d):
                for a in range(q):
                    out[k, d + a] = out[d + a, k] = A[k] * dC[a]
            out[d:, d:] = np.outer(sd, sd) * self._corr_d2(r)
        return out


class _SingleVariance(_PSD):
    """``Sigma = v R(rho)`` with one variance ``v`` (``s^2`` on the ``"sd"`` scale) and one
    correlation parameter; subclasses give ``R``, ``dR/drho``, ``d2R/drho2``."""

    def _R(self, rho):  # pragma: no cover - abstract
        raise NotImplementedError

    def _v(self, a):
        """``v`` and its first two derivatives in the scale parameter ``a``."""
        if self.scale == "var":
            return a, 1.0, 0.0
        return a * a, 2.0 * a, 2.0

    def matrix(self, theta):
        a, rho = self._check(theta)
        return self._v(max(a, 0.0))[0] * self._R(rho)[0]

    def derivatives(self, theta):
        a, rho = self._check(theta)
        v, dv, _ = self._v(a)
        R, dR, _ = self._R(rho)
        return np.stack([dv * R, v * dR])

    def second_derivatives(self, theta):
        a, rho = self._check(theta)
        v, dv, d2v = self._v(a)
        R, dR, d2R = self._R(rho)
        out = np.empty((2, 2, self.dim, self.dim))
        out[0, 0] = d2v * R
        out[0, 1] = out[1, 0] = dv * dR
        out[1, 1] = v * d2R
        return out

    def start(self, variance=1.0):
        v = _start_variance(variance)
        return np.array([v if self.scale == "var" else np.sqrt(v), _START_CORR])


# ----------------------------------------------------------------------- UN, UNR
def _cpc_pairs(d):
    return [(i, j) for i in range(d) for j in range(i)]


def _cpc_factor(z, d, order):
    """Cholesky factor ``L`` of the CPC correlation matrix and (``order >= 1``) its
    derivatives ``dL`` (q, d, d), (``order >= 2``) ``d2L`` (q, q, d, d)."""
    pairs = _cpc_pairs(d)
    q = len(pairs)
    Z = np.zeros((d, d))
    for k, (i, j) in enumerate(pairs):
        Z[i, j] = z[k]
    c = np.sqrt(np.clip(1.0 - Z * Z, 0.0, None))
    cf = np.maximum(c, _C_FLOOR)
    dc = -Z / cf                      # d c / d z
    d2c = -1.0 / cf ** 3              # d2 c / d z2

    def lead(i, j):                   # z_ij for j < i, 1 on the diagonal
        return Z[i, j] if j < i else 1.0

    def prod(i, j, skip=()):          # prod_{k < j, k not in skip} c_ik
        p = 1.0
        for k in range(j):
            if k not in skip:
                p *= c[i, k]
        return p

    L = np.zeros((d, d))
    for i in range(d):
        for j in range(i + 1):
            L[i, j] = lead(i, j) * prod(i, j)
    if order < 1:
        return L, None, None
    dL = np.zeros((q, d, d))
    for a, (i, m) in enumerate(pairs):
        dL[a, i, m] = prod(i, m)
        for j in range(m + 1, i + 1):
            dL[a, i, j] = lead(i, j) * dc[i, m] * prod(i, j, (m,))
    if order < 2:
        return L, dL, None
    d2L = np.zeros((q, q, d, d))
    for a, (i, m) in enumerate(pairs):
        for b, (i2, n) in enumerate(pairs):
            if i2 != i:
                continue
            if m == n:
                for j in range(m + 1, i + 1):
                    d2L[a, b, i, j] = lead(i, j) * d2c[i, m] * prod(i, j, (m,))
            else:
                lo, hi = min(m, n), max(m, n)
                d2L[a, b, i, hi] = dc[i, lo] * prod(i, hi, (lo,))
                for j in range(hi + 1, i + 1):
                    d2L[a, b, i, j] = lead(i, j) * dc[i, lo] * dc[i, hi] * prod(i, j, (lo, hi))
    return L, dL, d2L


def cpc_from_correlation(C):
    """Canonical partial correlations ``z`` (lower triangle row by row) of a correlation
    matrix ``C``; singular ``C`` is handled through a pivot-free Cholesky that stops at
    zero pivots (the remaining partial correlations are then set to 0)."""
    C = np.asarray(C, dtype=float)
    d = C.shape[0]
    L = np.zeros((d, d))
    for i in range(d):
        for j in range(i + 1):
            s = C[i, j] - L[i, :j] @ L[j, :j]
            if i == j:
                L[i, i] = np.sqrt(max(s, 0.0))
            else:
                L[i, j] = s / L[j, j] if L[j, j] > 1e-12 else 0.0
    out = []
    for i, j in _cpc_pairs(d):
        rest = 1.0 - float(L[i, :j] @ L[i, :j])
        out.append(L[i, j] / np.sqrt(rest) if rest > 1e-24 else 0.0)
    return np.clip(np.array(out), -1.0, 1.0)


def _project_psd(S):
    S = 0.5 * (S + S.T)
    val, vec = np.linalg.eigh(S)
    return (vec * np.clip(val, 0.0, None)) @ vec.T


@register_psd_variant
class PSDUN(_PSDHeterogeneous, Heterogeneous):
    """Unstructured, PSD by construction: variances ``v_i >= 0`` and canonical partial
    correlations ``z_ij`` in ``[-1, 1]`` (see the module docstring).

    Parameters: ``Var(1) .. Var(d)``, then ``Corr(i,1)`` (plain correlations with the first
    variable) and ``Corr(i,j|1..j-1)`` (partial correlations) row by row.  Base: SAS ``UN``
    (the lower triangle of ``Sigma``).
    """

    name = "UN"
    base = UN

    def _corr_names(self):
        return tuple(f"Corr({i + 1},{j + 1})" if j == 0 else
                     f"Corr({i + 1},{j + 1}|{','.join(str(k + 1) for k in range(j))})"
                     for i, j in _cpc_pairs(self.dim))

    def labels(self, columns):
        cols = list(columns)
        out = [f"Var({c})" for c in cols]
        for i, j in _cpc_pairs(self.dim):
            given = "" if j == 0 else "|" + ",".join(cols[:j])
            out.append(f"Corr({cols[i]},{cols[j]}{given})")
        return out

    def _corr(self, r):
        L, _, _ = _cpc_factor(r, self.dim, 0)
        C = L @ L.T
        np.fill_diagonal(C, 1.0)
        return C

    def _corr_d(self, r):
        L, dL, _ = _cpc_factor(r, self.dim, 1)
        out = dL @ L.T
        out = out + np.swapaxes(out, 1, 2)
        idx = np.arange(self.dim)
        out[:, idx, idx] = 0.0
        return out

    def _corr_d2(self, r):
        L, dL, d2L = _cpc_factor(r, self.dim, 2)
        A = d2L @ L.T
        B = np.einsum("aik,bjk->abij", dL, dL)
        out = A + np.swapaxes(A, 2, 3) + B + np.swapaxes(B, 2, 3)
        idx = np.arange(self.dim)
        out[:, :, idx, idx] = 0.0
        return out

    def theta_from_matrix(self, sigma):
        """Parameters of the PSD matrix nearest to ``sigma`` (eigenvalues clipped at 0)."""
        S = _project_psd(np.asarray(sigma, dtype=float))
        v = np.clip(np.diag(S), 0.0, None)
        sd = np.sqrt(v)
        with np.errstate(divide="ignore", invalid="ignore"):
            C = S / np.outer(sd, sd)
        C[~np.isfinite(C)] = 0.0
        np.fill_diagonal(C, 1.0)
        head = sd if self.scale == "sd" else v
        return np.concatenate([head, cpc_from_correlation(np.clip(C, -1.0, 1.0))])

    def to_base(self, theta):
        return self.base(self.dim).theta_from_matrix(self.matrix(theta))

    def from_base(self, theta_base):
        return self.theta_from_matrix(self.base(self.dim).matrix(theta_base))

    def start(self, variance=1.0):
        # z = 0.1 in the first column, 0 elsewhere: correlations 0.1 with variable 1
        theta = super().start(variance)
        for k, (i, j) in enumerate(_cpc_pairs(self.dim)):
            theta[self.dim + k] = _START_CORR if j == 0 else 0.0
        return theta


@register_psd_variant
class PSDUNR(PSDUN):
    """As :class:`PSDUN`, mapped to SAS ``UNR`` (variances and correlations)."""

    name = "UNR"
    base = UNR

    def to_base(self, theta):
        t = self._variance_theta(theta)
        C = self._corr(t[self.dim:])
        return np.concatenate([t[:self.dim], [C[i, j] for i, j in _cpc_pairs(self.dim)]])

    def from_base(self, theta_base):
        t = np.asarray(theta_base, dtype=float).reshape(-1)
        return self.theta_from_matrix(UNR(self.dim).matrix(t))


# ----------------------------------------------------------------------- CS, CSH
def _cs_lower(d):
    return -1.0 / (d - 1) if d > 1 else -1.0


@register_psd_variant
class PSDCS(_SingleVariance, Structure):
    """Compound symmetry with a variance and a correlation (metafor's ``struct="CS"``):
    ``Sigma = v [(1 - rho) I + rho J]``, ``v >= 0``, ``-1/(d-1) <= rho <= 1``, the range
    in which ``Sigma`` is PSD.  Parameters ``("Var", "Corr")``; base: SAS ``CS``
    (``c = v rho``, ``s2 = v (1 - rho)``).
    """

    name = "CS"
    base = CS

    def _names(self):
        return ("Var", "Corr")

    def _lower(self):
        return np.array([0.0, _cs_lower(self.dim)])

    def _upper(self):
        return np.array([np.inf, 1.0])

    def _R(self, rho):
        d = self.dim
        off = np.ones((d, d)) - np.eye(d)
        return np.eye(d) + rho * off, off, np.zeros((d, d))

    def to_base(self, theta):
        v, rho = self._variance_theta(theta)
        return np.array([v * rho, v * (1.0 - rho)])

    def from_base(self, theta_base):
        c, s2 = np.asarray(theta_base, dtype=float).reshape(-1)
        v = max(c + s2, 0.0)
        rho = c / v if v > 0 else 0.0
        t = np.clip(np.array([v, rho]), self.lower, self.upper)
        if self.scale == "sd":
            t[0] = np.sqrt(t[0])
        return t


@register_psd_variant
class PSDCSH(_PSDHeterogeneous, CSH):
    """Heterogeneous compound symmetry (metafor's ``"HCS"``) with
    ``-1/(d-1) <= rho <= 1``; base: SAS ``CSH``."""

    base = CSH

    def _corr_names(self):
        return ("Corr",)

    def _corr_lower(self):
        return _cs_lower(self.dim)


# ------------------------------------------------------------ autoregressive
@register_psd_variant
class PSDAR1(_SingleVariance, Structure):
    """AR(1) ``Sigma = v rho^|i-j|`` with the closed range ``|rho| <= 1``; parameters
    ``("Var", "AR(1)")``; base: SAS ``AR(1)`` (whose parameters are ``(s2, rho)``)."""

    name = "AR1"
    base = AR1

    def __init__(self, dim, scale="var"):
        self._L = _lags(int(dim))
        super().__init__(dim, scale)

    def _names(self):
        return ("Var", "AR(1)")

    def _lower(self):
        return np.array([0.0, -1.0])

    def _upper(self):
        return np.array([np.inf, 1.0])

    def _R(self, rho):
        return _power_lags(rho, self._L)


@register_psd_variant
class PSDARH1(_PSDHeterogeneous, ARH1):
    """ARH(1) with ``|rho| <= 1``; base: SAS ``ARH(1)``."""

    base = ARH1


@register_psd_variant
class PSDANTE1(_PSDHeterogeneous, ANTE1):
    """ANTE(1) with ``|rho_k| <= 1``; base: SAS ``ANTE(1)``."""

    base = ANTE1


def psd_structure(structure):
    """The PSD-by-construction variant of a SAS structure (ID and VC/DIAG are returned
    as they are; they are PSD under their bounds already).

    Raises
    ------
    ValueError
        For structures without a box-bounded PSD parameterisation (TOEP, TOEPH).
    """
    if getattr(structure, "psd", False) or not structure.has_covariance:
        return structure          # ID, VC/DIAG: PSD under their bounds already
    cls = psd_variant(structure.name)
    if cls is None:
        raise ValueError(f"no positive semi-definite parameterisation of the {structure.name} "
                         f"structure is available; use one of {', '.join(psd_names())}, "
                         f"VC or ID")
    return cls(structure.dim)


class CholeskyUN(Structure):
    """``Sigma = L L'`` with ``L`` lower triangular, ``L_ii >= 0`` (lme4's parameterisation):
    where fits search for an unstructured ``G`` of dimension 3 or more.

    ``Sigma`` is a quadratic polynomial in ``theta`` (the lower triangle of ``L`` row by
    row), so its derivatives are smooth everywhere, also where ``Sigma`` is singular
    (``L_ii = 0``), unlike the canonical partial correlations near ``|z| = 1``.  The
    optimum is reported as :class:`PSDUN` parameters (:meth:`to_psdun`): variances
    ``sum_k L_ik^2`` and partial correlations ``z_ij = L_ij / ||(L_ij, ..., L_ii)||``,
    exactly +-1 where the rest of the row is exactly 0 (the row's later partial
    correlations are then undefined and reported as 0).
    """

    name = "CHOL"
    is_linear = False

    def _pairs(self):
        return [(i, j) for i in range(self.dim) for j in range(i + 1)]

    def _names(self):
        return tuple(f"L({i + 1},{j + 1})" for i, j in self._pairs())

    def _lower(self):
        return np.array([0.0 if i == j else -np.inf for i, j in self._pairs()])

    def _L(self, theta):
        L = np.zeros((self.dim, self.dim))
        for k, (i, j) in enumerate(self._pairs()):
            L[i, j] = theta[k]
        return L

    def _E(self):
        E = np.zeros((self.n_params, self.dim, self.dim))
        for k, (i, j) in enumerate(self._pairs()):
            E[k, i, j] = 1.0
        return E

    def matrix(self, theta):
        L = self._L(self._check(theta))
        return L @ L.T

    def derivatives(self, theta):
        L = self._L(self._check(theta))
        A = self._E() @ L.T
        return A + np.swapaxes(A, 1, 2)

    def second_derivatives(self, theta):
        self._check(theta)
        E = self._E()
        B = np.einsum("aik,bjk->abij", E, E)
        return B + np.swapaxes(B, 2, 3)

    def start(self, variance=1.0):
        return self.from_psdun(PSDUN(self.dim).start(variance))

    def from_psdun(self, theta):
        """``L = diag(sqrt(v)) L_C(z)`` from :class:`PSDUN` (variance-scale) parameters."""
        t = np.asarray(theta, dtype=float)
        d = self.dim
        Lc, _, _ = _cpc_factor(t[d:], d, 0)
        L = np.sqrt(np.clip(t[:d], 0.0, None))[:, None] * Lc
        return np.array([L[i, j] for i, j in self._pairs()])

    def to_psdun(self, theta):
        """:class:`PSDUN` (variance-scale) parameters of ``L L'``."""
        L = self._L(self._check(theta))
        d = self.dim
        v = np.sum(L * L, axis=1)
        z = []
        for i in range(d):
            done = False          # the row is spanned by the earlier ones: the later
            for j in range(i):    # partial correlations are undefined, reported as 0
                tail = float(np.sqrt(np.sum(L[i, j:] ** 2)))
                zij = 0.0 if done or tail == 0 else float(np.clip(L[i, j] / tail, -1.0, 1.0))
                done = done or tail == 0 or abs(zij) == 1.0
                z.append(zij)
        return np.concatenate([v, z])


def search_structure(structure):
    """Where a fit searches: for an unstructured matrix of dimension >= 3 the Cholesky
    factor (:class:`CholeskyUN`), otherwise the PSD variant on the ``"sd"`` scale (smooth
    at zero variances); ID and VC are returned as they are."""
    from .fixed import FixedParams
    if isinstance(structure, FixedParams):
        # fixed values are given in the base's own parameters: no Cholesky search for UN
        base = psd_structure(structure.base)
        found = search_structure(base)
        if isinstance(found, CholeskyUN):
            found = base.with_scale("sd")
        return structure if found is base else structure.with_base(found)
    s = psd_structure(structure)
    if isinstance(s, PSDUN) and s.dim >= 3:
        return CholeskyUN(s.dim)
    return s.with_scale("sd") if isinstance(s, _PSD) else s


def linear_structure(structure):
    """The element-wise (linear) SAS structure a PSD structure is a variant of, where there
    is one (``UN``, ``CS``): an unconstrained fit over it is cheaper, and its optimum is the
    PSD-constrained one whenever it is positive definite.  Others are returned as they are."""
    if isinstance(structure, _PSD):
        base = structure.base_structure()
        if base.is_linear:
            return base
    return structure


def params_to(search, target, theta):
    """Parameters of ``target`` giving the same matrix as ``search`` at ``theta``: the two
    are one PSD structure on two scales, a PSD structure and its SAS ``base``, or
    :class:`CholeskyUN` and an unstructured target (PSD or SAS)."""
    if search is target:
        return np.asarray(theta, dtype=float)
    fixed = _fixed_pair(search, target)
    if fixed:
        return params_to(search.base, target.base, search.full(theta))[target._free]
    if isinstance(search, CholeskyUN):
        t = search.to_psdun(theta)
        return _from_psdun_var(t, target)
    if isinstance(search, _PSD) and isinstance(target, _PSD):
        return search.rescale(theta, target.scale)
    if isinstance(search, _PSD):
        return search.to_base(theta)
    return target.from_base(theta)


def params_from(search, target, theta_target):
    """Inverse of :func:`params_to`: ``search`` parameters from ``target`` parameters."""
    if search is target:
        return np.asarray(theta_target, dtype=float)
    if _fixed_pair(search, target):
        return params_from(search.base, target.base, target.full(theta_target))[search._free]
    if isinstance(search, CholeskyUN):
        if isinstance(target, _PSD):
            return search.from_psdun(target.rescale(theta_target, "var"))
        return search.from_psdun(PSDUN(search.dim).theta_from_matrix(target.matrix(theta_target)))
    if isinstance(search, _PSD) and isinstance(target, _PSD):
        return target.rescale(theta_target, search.scale)
    if isinstance(search, _PSD):
        return search.from_base(theta_target)
    return target.to_base(theta_target)


def _fixed_pair(search, target):
    """Both structures hold parameters fixed (:class:`~.fixed.FixedParams`) at the same
    positions: the maps go through their bases."""
    from .fixed import FixedParams
    if isinstance(search, FixedParams) and isinstance(target, FixedParams):
        if set(search.fixed) != set(target.fixed):
            raise ValueError("the two structures fix different parameters")
        return True
    return False


def _from_psdun_var(t, target):
    """``target`` parameters from :class:`PSDUN` variance-scale parameters ``t``."""
    d = target.dim
    if isinstance(target, _PSD):          # PSDUN or PSDUNR: same parameters
        return PSDUN(d).rescale(t, target.scale) if target.scale == "sd" else t
    psd = PSDUN(d)
    if isinstance(target, UNR):
        return PSDUNR(d).to_base(t)
    return target.theta_from_matrix(psd.matrix(t))
