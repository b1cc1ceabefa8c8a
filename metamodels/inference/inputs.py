"""The frozen inputs of the denominator-df methods of Wald tests of fixed effects.

A results object builds one :class:`InferenceInputs` (once, lazily) from its fit; every df
method of :mod:`metamodels.inference.ddf` reads only these, never a results object's
private state.  Expensive pieces (the covariance of theta, the derivatives of
``cov_beta`` in theta) are computed on first use and kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .ddf_kernels import pinv_psd

__all__ = ["InferenceInputs", "FixedTerm", "RandomEffect"]


@dataclass(frozen=True, eq=False)
class FixedTerm:
    """One fixed-effects term: its name, design columns and the variables it involves."""

    name: str
    columns: tuple
    variables: frozenset


@dataclass(frozen=True, eq=False)
class RandomEffect:
    """One SAS-style random effect (one column of a random term): the variables it involves
    (grouping factors and the column's own variables), the level of each row and the
    row's ``Z`` entry.  Its dense design is ``Z[i, groups[i]] = z[i]``."""

    variables: frozenset
    groups: np.ndarray
    z: np.ndarray

    def dense(self, n):
        """The ``(n, levels)`` design matrix of the effect."""
        n_lev = int(self.groups.max()) + 1
        Z = np.zeros((n, n_lev))
        Z[np.arange(n), self.groups] = self.z
        return Z


@dataclass(frozen=True, eq=False)
class InferenceInputs:
    """What the df methods of fixed-effect tests need, fixed at the estimate.

    Attributes
    ----------
    beta : (p,) ndarray
        GLS estimate of the fixed effects.
    cov_beta : (p, p) ndarray
        ``C = (X'V^{-1}X)^{-1}``.
    X : (n, p) ndarray
        Fixed-effects design.
    theta : (q,) ndarray
        Covariance parameters at the estimate.
    obs_info, exp_info : (q, q) ndarray or None
        Observed and expected information of theta (REML or ML).
    nobs : int
    rank : int
        Rank of ``X``.
    spec : object
        The core covariance specification (``layout``, ``build``, ``jacobian`` ...): the
        source of the derivatives of ``cov_beta`` in theta (:attr:`sensitivities`).
    terms : tuple of FixedTerm
        Fixed-effects terms (containment, between-within, per-term F tests).
    random_effects : tuple of RandomEffect
        SAS-style random effects (containment).
    subject : ndarray or None
        Subject (independent unit) code per row (between-within).
    """

    beta: np.ndarray
    cov_beta: np.ndarray
    X: np.ndarray
    theta: np.ndarray
    obs_info: object
    exp_info: object
    nobs: int
    rank: int
    spec: object = None
    terms: tuple = ()
    random_effects: tuple = ()
    subject: object = None

    @property
    def df_resid(self):
        """``n - rank(X)``."""
        return self.nobs - self.rank

    @property
    def k_fe(self):
        return self.X.shape[1]

    @cached_property
    def cov_theta(self):
        """Asymptotic covariance of theta: the inverse observed information (the expected
        one when the observed is not available)."""
        J = self.obs_info if self.obs_info is not None else self.exp_info
        return pinv_psd(J)

    @cached_property
    def expected_cov_theta(self):
        """Inverse expected information (pbkrtest's Kenward-Roger ``W``)."""
        return pinv_psd(self.exp_info)

    @cached_property
    def sensitivities(self):
        """``B_j`` and the ``W``-contractions of ``Q`` and ``R``: the derivatives of
        ``cov_beta`` in theta (:class:`~metamodels.core.sensitivity.Sensitivities`)."""
        from ..core.sensitivity import sensitivities
        return sensitivities(self.theta, self.X, self.spec)
