"""Tests of fixed effects with an empirical (sandwich) covariance: one df method wrapped.

``MixedModel.fit(cov_type=...)`` replaces ``C = (X'V^{-1}X)^{-1}`` in every test and
interval by a cluster-robust covariance over the model's independent units (SAS's
subjects; :mod:`metamodels.inference.sandwich` has the kernels):

==========================  ==========  ========================================================
``cov_type``                kernel      as
==========================  ==========  ========================================================
``"nonrobust"``             --          model-based ``C`` (default; alias ``"model-based"``)
``"empirical"``             CR0         SAS ``EMPIRICAL``, mmrm ``vcov = "Empirical"``
``"empirical-jackknife"``   CR3         mmrm ``"Empirical-Jackknife"`` (clubSandwich CR3)
``"empirical-bias-reduced"``  BR        mmrm ``"Empirical-Bias-Reduced"``
``"CR2"``                   CR2         clubSandwich ``vcovCR(type = "CR2")`` (another square
                                        root than mmrm's; equal when each subject's working
                                        covariance is a multiple of the identity)
==========================  ==========  ========================================================

:class:`EmpiricalDdf` wraps the chosen df method: the covariance is the sandwich; the F
statistic is the Wald F with it; the df are the method's own for ``residual``,
``containment`` and ``between-within`` (SAS's choices with ``EMPIRICAL``), and for
``satterthwaite`` the Bell and McCaffrey (2002) working-model df of each contrast (mmrm's
Satterthwaite df for empirical covariances, clubSandwich's ``coef_test``), combined over
the eigen-contrasts of ``L V^{CR} L'`` by Fai and Cornelius' ``2E/(E - q)`` as mmrm does.
Kenward-Roger adjusts the model-based covariance and is refused with an empirical one (as
SAS and mmrm do).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from .ddf import DdfMethod, FTest, KenwardRoger, Satterthwaite
from .ddf_kernels import eigen_contrast, fstat_ddf
from .sandwich import cluster_robust_pieces, satterthwaite_df, working_blocks

__all__ = ["EMPIRICAL_COV_TYPES", "check_cov_type", "check_compatible", "EmpiricalDdf",
           "empirical_pieces"]

#: canonical ``cov_type`` names -> kernel of :func:`~.sandwich.cluster_robust_pieces`
EMPIRICAL_COV_TYPES = {"empirical": "CR0", "empirical-jackknife": "CR3",
                       "empirical-bias-reduced": "BR", "CR2": "CR2"}
_ALIASES = {"nonrobust": "nonrobust", "model-based": "nonrobust", "modelbased": "nonrobust",
            "asymptotic": "nonrobust", "empirical": "empirical", "cr0": "empirical",
            "sandwich": "empirical", "empirical-jackknife": "empirical-jackknife",
            "jackknife": "empirical-jackknife", "cr3": "empirical-jackknife",
            "empirical-bias-reduced": "empirical-bias-reduced",
            "bias-reduced": "empirical-bias-reduced", "br": "empirical-bias-reduced",
            "cr2": "CR2"}


def check_cov_type(cov_type):
    """Canonical ``cov_type`` (``"nonrobust"`` or a key of :data:`EMPIRICAL_COV_TYPES`)."""
    key = _ALIASES.get(str(cov_type).lower().replace("_", "-"))
    if key is None:
        raise ValueError(f"unknown cov_type {cov_type!r}; valid values are 'nonrobust' "
                         f"(model-based), {', '.join(map(repr, EMPIRICAL_COV_TYPES))}")
    return key


def check_compatible(ddf_cls, cov_type):
    """Refuse a Kenward-Roger df method with an empirical covariance."""
    if cov_type != "nonrobust" and issubclass(ddf_cls, KenwardRoger):
        raise ValueError(f"ddf={ddf_cls.name!r} adjusts the model-based covariance and "
                         f"cannot be combined with cov_type={cov_type!r} (SAS refuses "
                         "DDFM=KR with EMPIRICAL, as mmrm does); use satterthwaite, "
                         "between-within, containment or residual")


def empirical_pieces(X, y, beta, spec, theta, clusters, cov_type):
    """Sandwich pieces (:func:`~.sandwich.cluster_robust_pieces`) of a fit whose working
    covariance is ``spec`` at ``theta``, clustered by ``clusters`` (codes ``0..m-1``)."""
    rows, Phi = working_blocks(spec, theta, clusters)
    if len(rows) < 2:
        raise ValueError("an empirical covariance needs at least two independent units "
                         "(subjects)")
    return cluster_robust_pieces(X, y - X @ beta, Phi, rows, EMPIRICAL_COV_TYPES[cov_type])


class EmpiricalDdf(DdfMethod):
    """The df method ``base`` with the empirical covariance of ``pieces``.

    Parameters
    ----------
    base : DdfMethod
        The df method (not Kenward-Roger).
    pieces : dict
        :func:`empirical_pieces` of the fit.
    cov_type : str
    """

    adjusts_cov = True

    def __init__(self, base, pieces, cov_type):
        check_compatible(type(base), cov_type)
        super().__init__(base.inputs)
        self.base, self.pieces, self.cov_type = base, pieces, cov_type
        self.name = base.name

    def cov(self):
        return self.pieces["cov"]

    @property
    def _bell_mccaffrey(self):
        return isinstance(self.base, Satterthwaite)

    def t_df(self, L):
        L = np.atleast_2d(L)
        if self._bell_mccaffrey:
            return satterthwaite_df(self.pieces, L)
        return self.base.t_df(L)

    def _f_den(self, L, term=None):
        return self.base._f_den(L, term)

    def f_test(self, L, rhs=None, term=None):
        """Wald F of ``L b = rhs`` with the empirical covariance; Satterthwaite df combined
        over its eigen-contrasts, else the wrapped method's df."""
        L = np.atleast_2d(L)
        ec = eigen_contrast(L, self.inputs.beta, self.cov(), rhs)
        F, q = ec.wald_f, ec.q
        den = (fstat_ddf(satterthwaite_df(self.pieces, ec.rows)) if self._bell_mccaffrey
               else float(self._f_den(L, term)))
        return FTest(F, q, float(den), float(stats.f.sf(F, q, den)))

    def chi2_test(self, L, rhs=None):
        ec = eigen_contrast(np.atleast_2d(L), self.inputs.beta, self.cov(), rhs)
        stat, q = ec.wald_f * ec.q, ec.q
        return stat, q, float(stats.chi2.sf(stat, q))

    def __repr__(self):
        return f"EmpiricalDdf({self.base!r}, cov_type={self.cov_type!r})"
