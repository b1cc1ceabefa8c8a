"""Former home of :class:`~metamodels.core.known.KnownCovariance` (kept as an alias for one
release; import it from :mod:`metamodels.core.known`)."""
from ..core.known import KnownCovariance

__all__ = ["KnownCovariance"]
