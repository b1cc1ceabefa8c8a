"""Identifiability checks of a linear mixed model, before and after fitting.

A model whose variance parameters the data cannot separate is refused with a
:class:`~metamodels.exceptions.NotIdentifiedError` that names the term and the reason,
as lme4 refuses such models (``lmerControl(check.nlev.gtr.1, check.nobs.vs.nlev,
check.nobs.vs.nRE)`` all default to ``"stop"``), instead of returning an arbitrary value:

* no residual degrees of freedom: ``n <= rank(X)``; a constant outcome;
* a grouping factor with a single level: its variance is confounded with the intercept
  (lme4: "grouping factors must have > 1 sampled level");
* a grouping factor with as many levels as observations (one observation per level):
  only the sum of its variance and the residual variance is identified (lme4: "number of
  levels of each grouping factor must be < number of observations"); this covers an
  R-side ``repeated=`` structure with one visit per subject plus a random intercept on
  the same subject;
* more random effects than observations in one term, ``n <= levels * q`` (lme4:
  check.nobs.vs.nRE) gives a :class:`~metamodels.exceptions.IdentificationWarning`
  instead: the likelihood and the fixed effects remain identified and SAS fits such
  models (its asthma example's model 5, a random UN hour effect plus a residual
  variance, is one), so the fit proceeds as SAS's does, with the warning;
* a random intercept on the residual subjects together with an R-side structure that is
  closed under adding a constant (CS, UN, UNR, TOEP): the intercept variance is absorbed
  by the common within-subject covariance;
* an R-side structure with a per-visit or unstructured part (everything but ID, AR1 and
  TOEP) and a single subject: no replication of the within-subject covariance;
* an R-side structure with covariances (not ID/VC/DIAG) and one observation per subject:
  the covariances are never observed.

After the fit, a residual variance below ``1e-10`` times the outcome's variance (an
outcome constant within groups, an exact fit) gives a
:class:`~metamodels.exceptions.DegenerateFitWarning`.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from ..exceptions import DegenerateFitWarning, IdentificationWarning, NotIdentifiedError

if TYPE_CHECKING:
    from statsmodels.base.model import LikelihoodModel
    from numpy.typing import ArrayLike


__all__ = ["check_identified", "check_residual_scale", "COLLAPSE_RATIO"]

#: residual variance / variance of the outcome below which the fit is called degenerate
COLLAPSE_RATIO = 1e-10

# what a residual structure allows is asked of it (Structure.closed_under_constant,
# .stationary, .has_covariance), not kept as lists of names here


def _term_label(part):
    cols = ["1" if c in ("(Intercept)", "Intercept") else str(c) for c in part.column_names]
    return f"({' + '.join(cols)} | {part.name})"


def _n_levels(codes):
    """Number of distinct non-negative integer codes (O(n), no sort)."""
    return int(np.count_nonzero(np.bincount(codes))) if codes.size else 0


def _same_partition(a, b):
    """True when the integer codes ``a`` and ``b`` group the rows identically."""
    na, nb = _n_levels(a), _n_levels(b)
    if na != nb:
        return False
    pairs = np.unique(a.astype(np.int64) * (int(b.max()) + 1) + b).size
    return pairs == na


def check_identified(model: LikelihoodModel, stacklevel: int = 4) -> None:
    """Raise :class:`NotIdentifiedError` when ``model``'s parameters are not identified
    (a :class:`IdentificationWarning` for more random effects than observations).

    Parameters
    ----------
    model : MixedModel
        The model to check (the rules are listed in the module docstring).
    stacklevel : int, default 4
        Of the warning, counted from this function.

    Raises
    ------
    NotIdentifiedError
        Naming the term and the reason.
    """
    n = int(model.nobs)
    if n <= model.rank:
        raise NotIdentifiedError(
            f"{n} observation(s) for {model.rank} fixed-effects coefficient(s): no residual "
            "degrees of freedom, so no variance parameter is identified (lme4 refuses "
            "this too); use fewer fixed effects or more data")
    y = model.endog
    if np.ptp(y) == 0:
        raise NotIdentifiedError(
            f"the outcome is constant (every value is {y[0]:g}): there is no variance to "
            "model, so no variance parameter is identified")
    res = model.residual
    for part in model.random:
        nlev = _n_levels(part.groups)
        q = part.Z.shape[1]
        label = _term_label(part)
        if nlev < 2:
            raise NotIdentifiedError(
                f"the grouping factor {part.name!r} of the random term {label} has a single "
                "level: its variance is confounded with the fixed effects and is not "
                "identified (lme4: 'grouping factors must have > 1 sampled level'); drop the "
                "term")
        if nlev >= n:
            raise NotIdentifiedError(
                f"the grouping factor {part.name!r} of the random term {label} has {nlev} "
                f"levels for {n} observations (one observation per level): its variance and "
                "the residual variance are not separately identified, only their sum (lme4: "
                "'number of levels of each grouping factor must be < number of "
                "observations'); drop the term")
        if n <= nlev * q:
            warnings.warn(
                f"number of observations ({n}) <= number of random effects ({nlev * q}) of "
                f"the term {label}: its covariance parameters and the residual variance are "
                "not separately identified (lme4 stops here: check.nobs.vs.nRE); the "
                "likelihood and the fixed effects are, so the model is fitted as SAS fits it, "
                "but do not interpret those variance parameters one by one",
                IdentificationWarning, stacklevel=stacklevel)
        intercept_only = q == 1 and np.ptp(part.Z) == 0 and part.Z[0, 0] != 0
        if (intercept_only and res.structure.closed_under_constant
                and _same_partition(part.groups, res.subject)):
            raise NotIdentifiedError(
                f"the random intercept {label} and the R-side {res.structure.name} structure "
                "act on the same subjects: a random intercept adds a constant to every entry "
                f"of R, which {res.structure.name} already contains, so the two are not "
                "separately identified; drop the random term or use an R-side structure "
                "without a common covariance (e.g. AR1)")
    n_subj = _n_levels(res.subject)
    if n_subj == n and res.structure.has_covariance:
        raise NotIdentifiedError(
            f"the R-side {res.structure.name} structure has one observation per subject: "
            "its within-subject covariances are never observed and not identified; check "
            "subject= (or use cov_struct='VC' for per-visit variances)")
    if n_subj == 1 and n > 1 and not res.structure.stationary:
        raise NotIdentifiedError(
            f"the R-side {res.structure.name} structure has a single subject: its "
            "within-subject (co)variances are not replicated and not identified; give "
            "subject= a factor with several levels")


def collapsed_residual(model, theta):
    """``(label, variance, outcome variance)`` of the first residual variance of the fit
    below ``COLLAPSE_RATIO`` times the variance of the outcome, or None."""
    scale = float(np.var(model.endog))
    res = model.residual
    for label, t in zip(res.group_labels, model.spec.split(theta)[1]):
        v = float(np.min(res.structure.diagonal(t)))
        if v < COLLAPSE_RATIO * scale:
            return (label if res.n_cov_groups > 1 else None), v, scale
    return None


def check_residual_scale(model: LikelihoodModel, theta: ArrayLike, stacklevel: int = 3) -> None:
    """Warn with :class:`DegenerateFitWarning` when a residual variance of the fit is
    below ``COLLAPSE_RATIO`` times the variance of the outcome.

    Parameters
    ----------
    model : MixedModel
        The fitted model.
    theta : array_like
        The estimated covariance parameters.
    stacklevel : int, default 3
        Of the warning, counted from this function.
    """
    found = collapsed_residual(model, theta)
    if found is None:
        return
    label, v, scale = found
    where = f" of cov_group {label!r}" if label is not None else ""
    warnings.warn(
        f"the residual variance{where} collapsed to {v:.3g} ({v / scale:.1e} of the "
        f"outcome's variance {scale:.4g}): the outcome is (nearly) constant within "
        "groups or fitted exactly, so the residual variance is not estimable and the "
        "standard errors, tests and likelihood of this fit are unreliable (the "
        "optimiser's convergence is not reported separately)",
        DegenerateFitWarning, stacklevel=stacklevel)
