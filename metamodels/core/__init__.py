"""Block-diagonal Gaussian likelihood engine.

``y ~ N(X b, V(theta))`` with ``V`` block diagonal over independent units.  Nothing in
this sub-package knows about meta-analysis, panels or SAS: model classes translate
their question into a :class:`~metamodels.core.blockcov.BlockCovariance`.
"""
