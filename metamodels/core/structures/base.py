"""Base classes and helpers of the covariance structures."""
from __future__ import annotations

import numpy as np

__all__ = ["Structure", "Linear", "Heterogeneous"]

_RHO_BOUND = 1.0 - 1e-10
_START_CORR = 0.1


def _lags(dim):
    idx = np.arange(dim)
    return np.abs(idx[:, None] - idx[None, :])


def _power_lags(rho, lags):
    """``rho^L``, ``d/drho`` and ``d2/drho2`` element-wise for an integer lag matrix ``L``."""
    rho = float(rho)
    value = np.power(rho, lags).astype(float)
    d1 = np.where(lags >= 1, lags * np.power(rho, np.maximum(lags - 1, 0)), 0.0)
    d2 = np.where(lags >= 2, lags * (lags - 1) * np.power(rho, np.maximum(lags - 2, 0)), 0.0)
    return value, d1.astype(float), d2.astype(float)


def _start_variance(variance):
    try:
        v = float(variance)
    except (TypeError, ValueError):
        return 1.0
    return v if np.isfinite(v) and v > 0 else 1.0


class Structure:
    """Base class of a parametric ``dim x dim`` covariance matrix ``Sigma(theta)``.

    Parameters
    ----------
    dim : int
        Dimension of ``Sigma`` (number of repeated visits or random effects), ``>= 1``.

    Attributes
    ----------
    name : str
        Structure name (``"UN"``, ``"CS"``, ...).
    dim : int
    n_params : int
    param_names : tuple of str
        SAS-style parameter names, in the order of ``theta``.
    lower, upper : ndarray
        Box bounds of ``theta`` for the optimiser.  Variances are ``>= 0``; correlations lie in
        ``[-1 + 1e-10, 1 - 1e-10]``; covariances are unbounded (positive definiteness is
        checked by the likelihood engine, not by the bounds).
    is_linear : bool
        ``Sigma`` is linear in ``theta``: ``Sigma(theta) = sum_j theta_j dSigma/dtheta_j`` and
        the second derivatives vanish.
    """

    name = "?"
    is_linear = False

    # -- capabilities, asked of the structure instead of lists of names elsewhere --------
    #: How the Gibbs sampler (:mod:`metamodels.bayes.gibbs`) updates this structure by a
    #: conjugate draw, or None when it cannot: ``"scalar"`` (one variance, ``s2 I``),
    #: ``"diagonal"`` (independent variances), ``"compound"`` (``c J + s2 I``, drawn as a
    #: hidden random intercept) or ``"unstructured"`` (inverse-Wishart on the whole matrix).
    #: The parameters must be the matrix elements themselves (SAS parameterisation).
    conjugate = None
    #: ``Sigma + tau J`` stays in the family (a random intercept is then not identified
    #: next to this residual structure).
    closed_under_constant = False
    #: Stationary: one long series of a single subject identifies it.
    stationary = False
    #: The structure has covariance (off-diagonal) parameters.
    has_covariance = True
    #: metafor's ``rma.mv(struct=)`` spelling when MetaMixed offers this structure.
    metafor = None
    #: The engine gathers sub-matrices with :meth:`gather` and friends instead of indexing
    #: the full ``dim x dim`` matrices (structures over many positions: spatial).
    direct_gather = False

    @classmethod
    def supports_gibbs(cls, role="residual", dim=None):
        """Whether the Gibbs sampler has a conjugate update for this structure.

        Parameters
        ----------
        role : {"residual", "random"}
            The R-side residual structure or the ``G`` of a random term.
        dim : int, optional
            Dimension of ``G`` (``role="random"``): the unstructured update needs
            ``dim > 1``; the diagonal ones one variance per effect.
        """
        if role == "residual":
            return cls.conjugate is not None
        if cls.conjugate == "unstructured":
            return dim is None or dim > 1
        return cls.conjugate in ("scalar", "diagonal")

    def __init__(self, dim):
        dim = int(dim)
        if dim < 1:
            raise ValueError(f"{self.name}: dim must be >= 1, got {dim}")
        self.dim = dim
        self.param_names = tuple(self._names())
        self.lower = np.asarray(self._lower(), dtype=float)
        self.upper = np.asarray(self._upper(), dtype=float)

    # -- to be provided by subclasses ------------------------------------------------------
    def _names(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _lower(self):
        return np.zeros(self.n_params)

    def _upper(self):
        return np.full(self.n_params, np.inf)

    def matrix(self, theta):  # pragma: no cover - abstract
        """``Sigma(theta)``, a symmetric ``(dim, dim)`` array."""
        raise NotImplementedError

    def derivatives(self, theta):  # pragma: no cover - abstract
        """``dSigma/dtheta_j`` stacked as a ``(n_params, dim, dim)`` array."""
        raise NotImplementedError

    def second_derivatives(self, theta):
        """``d2Sigma/dtheta_j dtheta_k`` as a ``(n_params, n_params, dim, dim)`` array."""
        self._check(theta)
        return np.zeros((self.n_params, self.n_params, self.dim, self.dim))

    def start(self, variance=1.0):  # pragma: no cover - abstract
        """Starting ``theta`` (positive definite ``Sigma``) given a residual-variance guess.

        Variances start at ``variance`` (1 if it is not a positive finite number),
        correlations at 0.1 and covariances at ``0.1 * variance``.
        """
        raise NotImplementedError

    # -- common ----------------------------------------------------------------------------
    @property
    def n_params(self):
        return len(self.param_names)

    def diagonal(self, theta):
        """The variances ``diag Sigma(theta)`` (dim,)."""
        return np.diag(self.matrix(theta)).copy()

    # The engine gathers the sub-matrices of a block's subjects at index arrays
    # ``(vi, vj)`` (broadcast to (nb, m, m)) through these three methods; structures whose
    # full matrix is large (the spatial ones, one position per distinct coordinate) compute
    # the gathered entries directly.
    def gather(self, theta, vi, vj):
        """``Sigma(theta)[vi, vj]``."""
        return self.matrix(theta)[vi, vj]

    def gather_derivatives(self, theta, vi, vj):
        """``dSigma/dtheta[:, vi, vj]``."""
        return self.derivatives(theta)[:, vi, vj]

    def gather_second_derivatives(self, theta, vi, vj):
        """``d2Sigma/dtheta2[:, :, vi, vj]``."""
        return self.second_derivatives(theta)[:, :, vi, vj]

    def gather_contracted(self, theta, W, vi, vj):
        """``sum_jk W_jk d2Sigma/dtheta_j dtheta_k`` at ``(vi, vj)``."""
        d2 = self.second_derivatives(theta)
        return np.tensordot(W, d2, axes=([0, 1], [0, 1]))[vi, vj]

    def correlation(self, theta):
        """Correlation matrix of ``Sigma(theta)`` (rows/columns of zero variance give 0
        off the diagonal and 1 on it)."""
        s = self.matrix(theta)
        sd = np.sqrt(np.clip(np.diag(s), 0.0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            c = s / np.outer(sd, sd)
        c[~np.isfinite(c)] = 0.0
        np.fill_diagonal(c, 1.0)
        return c

    def _check(self, theta):
        theta = np.asarray(theta, dtype=float).reshape(-1)
        if theta.shape[0] != self.n_params:
            raise ValueError(f"{self.name}({self.dim}) has {self.n_params} parameters "
                             f"{self.param_names}, got theta of length {theta.shape[0]}")
        return theta

    def __repr__(self):
        return f"{type(self).__name__}(dim={self.dim})"


class Linear(Structure):
    """``Sigma = sum_j theta_j D_j`` with constant ``D_j`` (built once)."""

    is_linear = True

    def __init__(self, dim):
        super().__init__(dim)
        self._D = np.asarray(self._basis(), dtype=float)
        self._D.setflags(write=False)

    def _basis(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def matrix(self, theta):
        theta = self._check(theta)
        return np.tensordot(theta, self._D, axes=1)

    def derivatives(self, theta):
        self._check(theta)
        return self._D.copy()


class Heterogeneous(Structure):
    """``Sigma = S C(r) S`` with ``S = diag(sqrt(v))``: ``theta = (v_1, ..., v_d, r)``.

    Subclasses define the correlation matrix ``C(r)`` (unit diagonal) through
    :meth:`_corr_names`, :meth:`_corr`, :meth:`_corr_d` and :meth:`_corr_d2`.  Correlation
    parameters are bounded to ``(-1, 1)``.
    """

    def _corr_names(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _corr(self, r):  # pragma: no cover - abstract
        raise NotImplementedError

    def _corr_d(self, r):  # pragma: no cover - abstract
        raise NotImplementedError

    def _corr_d2(self, r):
        q = len(r)
        return np.zeros((q, q, self.dim, self.dim))

    def _names(self):
        return tuple(f"Var({i + 1})" for i in range(self.dim)) + tuple(self._corr_names())

    def _lower(self):
        q = self.n_params - self.dim
        return np.concatenate([np.zeros(self.dim), np.full(q, -_RHO_BOUND)])

    def _upper(self):
        q = self.n_params - self.dim
        return np.concatenate([np.full(self.dim, np.inf), np.full(q, _RHO_BOUND)])

    def start(self, variance=1.0):
        q = self.n_params - self.dim
        return np.concatenate([np.full(self.dim, _start_variance(variance)),
                               np.full(q, _START_CORR)])

    def _split(self, theta):
        theta = self._check(theta)
        return theta[:self.dim], theta[self.dim:]

    def _sd_floored(self, v):
        floor = 1e-12 * max(float(np.max(v)), 0.0) + 1e-200
        return np.sqrt(np.maximum(v, floor))

    def matrix(self, theta):
        v, r = self._split(theta)
        s = np.sqrt(np.clip(v, 0.0, None))
        return np.outer(s, s) * self._corr(r)

    def _var_d(self, s):
        """``dP/dv_k`` for ``P = s s'``: ``(e_k u' + u e_k') / 2`` with ``u = s / s_k``."""
        d = self.dim
        A = np.zeros((d, d, d))
        for k in range(d):
            u = s / s[k]
            A[k, k, :] += 0.5 * u
            A[k, :, k] += 0.5 * u
        return A

    def derivatives(self, theta):
        v, r = self._split(theta)
        s = self._sd_floored(v)
        C = self._corr(r)
        out = np.empty((self.n_params, self.dim, self.dim))
        out[:self.dim] = self._var_d(s) * C
        if len(r):
            s_true = np.sqrt(np.clip(v, 0.0, None))
            out[self.dim:] = np.outer(s_true, s_true) * self._corr_d(r)
        return out

    def second_derivatives(self, theta):
        v, r = self._split(theta)
        d, q = self.dim, len(r)
        s = self._sd_floored(v)
        C = self._corr(r)
        out = np.zeros((self.n_params, self.n_params, d, d))
        # variance x variance
        for k in range(d):
            B = np.zeros((d, d))
            w = 0.25 * (s / s[k]) / (s[k] * s[k])
            B[k, :] -= w
            B[:, k] -= w
            B[k, k] = 0.0
            out[k, k] = B * C
            for m in range(k):
                E = np.zeros((d, d))
                E[k, m] = E[m, k] = 0.25 / (s[k] * s[m])
                out[k, m] = out[m, k] = E * C
        if q:
            dC = self._corr_d(r)
            A = self._var_d(s)
            for k in range(d):
                for m in range(q):
                    out[k, d + m] = out[d + m, k] = A[k] * dC[m]
            s_true = np.sqrt(np.clip(v, 0.0, None))
            out[d:, d:] = np.outer(s_true, s_true) * self._corr_d2(r)
        return out
