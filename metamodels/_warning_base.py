"""The base class of every metamodels warning, in a module that imports nothing, so
that ``metamodels gwas`` starts its reading processes without loading statsmodels;
:mod:`metamodels.exceptions` exports it (and is where it is documented)."""


class MetaModelsWarning(UserWarning):
    """Base class of all metamodels warnings."""

    __module__ = "metamodels.exceptions"
