"""Shared input handling of the publication-bias diagnostics.

Every diagnostic takes a fitted univariate meta-analysis (:class:`~metamodels.MetaFixed`
or :class:`~metamodels.MetaRandom` results) and needs its data, its estimator and a way
to refit the same kind of model to modified data (added predictor, trimmed or filled
studies).  That rule lives here once.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import BoundaryWarning, SpecificationError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..univariate.results import MetaResults

__all__ = ["MetaInput", "meta_input", "refit", "refit_options", "sample_sizes",
           "check_alpha"]


def refit_options(results: Any) -> tuple[np.ndarray | None, float | None]:
    """What every refit of a MetaFixed/MetaRandom fit must repeat besides its method
    and test: ``(weights, tau2_init)``, the user weights of the coefficient estimator
    (``fit(weights=)``, ``weighted=False``; None for inverse-variance weights: a refit
    to some of the studies keeps theirs) and the Sidik-Jonkman starting value (None
    unless SJ/SJIT was given one)."""
    fit = getattr(results, "_fit", None)
    w = getattr(fit, "weights", None)
    return (None if w is None else np.asarray(w, dtype=float),
            getattr(fit, "tau2_init", None))


class MetaInput:
    """Arrays and estimator of a fitted univariate meta-analysis.

    Parameters
    ----------
    results : MetaResults
        A MetaFixed/MetaRandom fit.

    Raises
    ------
    TypeError
        Anything else.
    """

    def __init__(self, results: MetaResults) -> None:
        model = getattr(results, "model", None)
        if model is None or not hasattr(model, "vi") or not hasattr(results, "tau2") \
                or getattr(model, "exog", None) is None or np.ndim(model.endog) != 1:
            raise TypeError("expected the results of a univariate meta-analysis "
                            "(MetaFixed or MetaRandom .fit()), got "
                            f"{type(results).__name__}")
        self.results = results
        self.model = model
        self.y = np.asarray(model.endog, dtype=float)
        self.v = np.asarray(model.vi, dtype=float)
        self.X = np.asarray(model.exog, dtype=float)
        self.method = results.method
        self.test = results.test
        fit = getattr(results, "_fit", None)
        self.tau2_fixed = bool(getattr(fit, "tau2_fixed", False))
        self.tau2 = float(results.tau2)
        #: :func:`refit_options`: the user weights and the SJ starting value.
        self.weights, self.tau2_init = refit_options(results)

    @property
    def k(self) -> int:
        """Number of studies."""
        return self.y.shape[0]

    @property
    def intercept_only(self) -> bool:
        """Whether the model has only an intercept."""
        return self.X.shape[1] == 1 and np.allclose(self.X[:, 0], 1.0)

    def require_intercept_only(self, what: str) -> None:
        """Raise unless the model is intercept-only.

        Parameters
        ----------
        what : str
            The method, named in the error message.

        Raises
        ------
        metamodels.exceptions.SpecificationError
            The model has moderators.
        """
        if not self.intercept_only:
            raise SpecificationError(f"{what} is defined for models without moderators "
                                     "(intercept-only); fit 'yi ~ 1'")


def meta_input(results: MetaResults | MetaInput) -> MetaInput:
    """:class:`MetaInput` of ``results`` (a clear TypeError for anything else).

    Parameters
    ----------
    results : MetaResults or MetaInput
        A MetaFixed/MetaRandom fit (a MetaInput is returned as it is).

    Returns
    -------
    MetaInput
    """
    return results if isinstance(results, MetaInput) else MetaInput(results)


def refit(inp: MetaInput, y: np.ndarray, v: np.ndarray, X: np.ndarray | None = None,
          method: str | None = None, test: str | None = None,
          weights: np.ndarray | None = None, **model_kwargs: Any) -> MetaResults:
    """Fit the model of ``inp`` (same estimator, test and fixed tau^2, unless ``method``
    or ``test`` say otherwise) to new data.

    A fit with user weights (``inp.weights``) must be refitted with the weights of the
    studies in ``y`` (``weights``, in their order): a refit without them would be
    another estimator.

    Boundary warnings of the refit are silenced: the caller reports what matters.

    Parameters
    ----------
    inp : MetaInput
        The original fit.
    y, v : ndarray
        New effect sizes and sampling variances.
    X : ndarray, optional
        New design (intercept only when omitted).
    method, test : str, optional
        Override the estimator or the test.
    weights : ndarray, optional
        The user weights of the studies in ``y`` (required when ``inp`` has them).
    **model_kwargs
        Passed to the model constructor (e.g. ``filled=``).

    Returns
    -------
    MetaResults
    """
    from ..univariate import MetaFixed, MetaRandom

    X = np.ones((len(y), 1)) if X is None else X
    method = inp.method if method is None else method
    test = inp.test if test is None else test
    if (inp.weights is None) != (weights is None):
        raise ValueError("a refit of a fit with user weights needs the weights of its "
                         "studies (and one without them none)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryWarning)
        if method == "FE":
            return MetaFixed(y, v, X, **model_kwargs).fit(test=test, weights=weights)
        tau2 = inp.tau2 if inp.tau2_fixed else None
        init = inp.tau2_init if method == inp.method and tau2 is None else None
        return MetaRandom(y, v, X, **model_kwargs).fit(method=method, test=test, tau2=tau2,
                                                       weights=weights, tau2_init=init)


def sample_sizes(inp: MetaInput, ni: ArrayLike | str | None) -> np.ndarray:
    """Sample sizes aligned with the studies of the fit: an array of length k, or the
    name of a column of the data frame the model was built from (``from_formula``).
    Without ``ni``, a column named ``"ni"`` of that data frame is used (as metafor uses
    the ``ni`` attribute that ``escalc`` attaches to the effect sizes).

    Parameters
    ----------
    inp : MetaInput
        The fit.
    ni : array_like, str or None
        Sample sizes, a column name, or None for the column ``"ni"``.

    Returns
    -------
    ndarray

    Raises
    ------
    ValueError
        No sample sizes, a missing column, wrong length, or non-positive values.
    """
    frame = getattr(inp.model.data, "frame", None)
    if ni is None and frame is not None and "ni" in frame:
        ni = "ni"
    if ni is None:
        raise ValueError("this predictor needs the sample sizes: pass ni= (an array with "
                         "one value per study, or a column name of the model's data)")
    if isinstance(ni, str):
        if frame is None or ni not in frame:
            raise ValueError(f"ni={ni!r} is not a column of the model's data")
        labels = getattr(inp.model.data, "row_labels", None)
        col = frame[ni]
        arr = np.asarray(col.loc[labels] if labels is not None else col, dtype=float)
    else:
        arr = np.asarray(ni, dtype=float).reshape(-1)
    if arr.shape[0] != inp.k:
        raise ValueError(f"ni has {arr.shape[0]} values but the model has {inp.k} studies")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError("sample sizes ni must be positive and not missing")
    return arr


def check_alpha(alpha: float) -> float:
    """The level ``alpha`` as a float strictly between 0 and 1.

    Parameters
    ----------
    alpha : float
        The level.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``alpha`` outside (0, 1).
    """
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    return alpha
