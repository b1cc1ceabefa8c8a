"""Warning and error classes used throughout metamodels.

Every warning that metamodels emits is a subclass of :class:`MetaModelsWarning`, so
users can silence or escalate all of them at once
(``warnings.simplefilter("error", mm.exceptions.MetaModelsWarning)``) or pick a
specific class.
"""
from statsmodels.tools.sm_exceptions import ConvergenceWarning as _SMConvergenceWarning


class MetaModelsWarning(UserWarning):
    """Base class of all metamodels warnings."""


class ConvergenceWarning(MetaModelsWarning, _SMConvergenceWarning):
    """The optimiser stopped before meeting its convergence criterion."""


class BoundaryWarning(MetaModelsWarning):
    """A variance parameter was estimated on the boundary of its space (e.g. tau^2 = 0)."""


class IdentificationWarning(MetaModelsWarning):
    """A model component is not identified by the data and was fixed (for example the
    variance of a random term whose grouping factor has a single level, set to 0)."""


class MissingDataWarning(MetaModelsWarning):
    """Rows with missing values were dropped."""


class SpecificationError(ValueError):
    """The model cannot be built from the given inputs (a clear message says why)."""
