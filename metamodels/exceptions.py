"""Warning and error classes used throughout metamodels.

Every warning that metamodels emits is a subclass of :class:`MetaModelsWarning`, so
users can silence or escalate all of them at once
(``warnings.simplefilter("error", mm.exceptions.MetaModelsWarning)``) or pick a
specific class.

Examples
--------
Escalate every metamodels warning to an error, or catch the errors by class:

>>> import warnings
>>> import metamodels as mm
>>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
...                      ci="cpos", di="cneg")
>>> dat["ablat2"] = 2 * dat["ablat"]
>>> try:
...     mm.MetaRandom.from_formula("yi ~ ablat + ablat2", dat, vi="vi")
... except mm.exceptions.SpecificationError as exc:
...     print(exc)
singular design: the moderators are collinear (rank 2 < 3 columns)
>>> with warnings.catch_warnings():
...     warnings.simplefilter("error", mm.exceptions.MetaModelsWarning)
...     res = mm.MetaRandom.from_formula("yi ~ 1", dat, vi="vi").fit()
"""
from statsmodels.tools.sm_exceptions import ConvergenceWarning as _SMConvergenceWarning

from ._warning_base import MetaModelsWarning


class ConvergenceWarning(MetaModelsWarning, _SMConvergenceWarning):
    """The optimiser stopped before meeting its convergence criterion."""


class BoundaryWarning(MetaModelsWarning):
    """A variance parameter was estimated on the boundary of its space (e.g. tau^2 = 0)."""


class IdentificationWarning(MetaModelsWarning):
    """A model component is not identified by the data: it was fixed (for example the
    variance of a random term whose grouping factor has a single level, set to 0), or the
    model was fitted as SAS fits it although some covariance parameters are not separately
    identified (more random effects than observations; lme4 stops)."""


class MissingDataWarning(MetaModelsWarning):
    """Rows with missing values were dropped."""


class DegenerateFitWarning(MetaModelsWarning):
    """The fit reached a degenerate solution that its numbers do not reveal, e.g. a
    residual variance collapsed to ~0 relative to the data (an outcome constant within
    groups, a perfect fit): standard errors, tests and the likelihood are unreliable."""


class DesignScaleWarning(MetaModelsWarning):
    """Predictors (design columns) on very different scales (ratio above ~1e8)."""


class SpecificationError(ValueError):
    """The model cannot be built from the given inputs (a clear message says why).

    A subclass of :class:`ValueError`, so ``except ValueError`` catches it too.
    """


class NotIdentifiedError(SpecificationError):
    """The model's parameters are not identified by the data (e.g. a grouping factor with
    one level, one observation per group, no residual degrees of freedom): refused, as
    lme4 refuses, rather than answered with an arbitrary value."""


class DegenerateFitError(ValueError):
    """The model has no finite estimate for these data (e.g. a GLMM of counts with no
    events in any study): refused rather than answered with an arbitrary value."""
