"""Trim-and-fill (Duval and Tweedie 2000a, 2000b; metafor's ``trimfill``)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..exceptions import ConvergenceWarning
from ._meta_input import meta_input, refit

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from ..univariate.results import MetaResults
    from ._meta_input import MetaInput

__all__ = ["TrimFillResult", "trim_and_fill", "estimate_k0"]

ESTIMATORS = ("L0", "R0", "Q0")


@dataclass(frozen=True)
class TrimFillResult:
    """Trim-and-fill analysis (returned by :func:`trim_and_fill`).

    Frozen; ``print(result)`` shows k0 and the original and filled estimates.

    Parameters
    ----------
    k0 : int
        Estimated number of missing studies.
    se_k0 : float
        Standard error of the k0 estimator (Duval and Tweedie 2000a).
    pvalue_k0 : float
        For R0 only: P(R0 >= k0) under no missing studies, ``0.5 ** (k0 + 1)``;
        NaN for L0 and Q0.
    side : {"left", "right"}
        Side of the funnel on which studies were judged missing and filled.
    estimator : {"L0", "R0", "Q0"}
        The estimator of k0.
    filled : MetaResults
        The model refitted (same estimator and test) to the observed plus the filled
        studies; ``filled.model.filled`` flags the filled rows, which
        ``filled.plot_funnel()`` draws as open circles.
    original : MetaResults
        The results the analysis started from.
    n_iter : int
        Iterations of the trimming algorithm.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> tf = mm.trim_and_fill(res)
    >>> print(tf.k0, tf.estimator, int(tf.filled.nobs))
    1 L0 14
    >>> print(tf.filled.model.filled.sum())
    1
    """

    k0: int
    se_k0: float
    pvalue_k0: float
    side: str
    estimator: str
    filled: object
    original: object
    n_iter: int

    @property
    def params(self) -> np.ndarray | pd.Series:
        """Estimate of the filled data (``filled.params``)."""
        return self.filled.params

    def __str__(self):
        f = self.filled
        est = float(np.asarray(f.params)[0])
        se = float(np.asarray(f.bse)[0])
        lo, hi = np.asarray(f.conf_int())[0]
        orig = float(np.asarray(self.original.params)[0])
        out = ["Trim-and-fill analysis (Duval and Tweedie 2000)",
               f"  estimator: {self.estimator}, side: {self.side}",
               f"  estimated missing studies: k0 = {self.k0} (SE = {self.se_k0:.4f})"]
        if np.isfinite(self.pvalue_k0):
            out.append(f"  test of k0 = 0 (R0): p = {self.pvalue_k0:.4g}")
        out += [f"  original estimate: {orig:.4f}",
                f"  filled estimate:   {est:.4f} (SE {se:.4f}, 95% CI {lo:.4f} to {hi:.4f}), "
                f"tau^2 = {float(f.tau2):.4f}, k = {int(f.nobs)}"]
        return "\n".join(out)

    def summary(self) -> str:
        """The printed form of the analysis.

        Returns
        -------
        str
        """
        return str(self)

    def plot_funnel(self, **kwargs: Any) -> Figure:
        """Funnel plot of the filled data (filled studies as open circles), as metafor's
        ``funnel(trimfill(...))``.

        Parameters
        ----------
        **kwargs
            Options of :func:`metamodels.plots.funnel_plot` (``ax``, ``yaxis``,
            ``contours``, ...).

        Returns
        -------
        matplotlib.figure.Figure
        """
        return self.filled.plot_funnel(**kwargs)


def estimate_k0(centered: np.ndarray, estimator: str) -> tuple[float, float]:
    """One step of the k0 estimators on effects centred at the current estimate.

    Parameters
    ----------
    centered : (k,) array
        ``y_i - b`` on the side where studies are *present* (the missing side is
        negative).
    estimator : {"L0", "R0", "Q0"}
        The estimator.

    Returns
    -------
    k0 : float
        The estimate, unrounded.
    se_k0 : float
        Its standard error.
    """
    k = centered.shape[0]
    ranks = np.empty(k)
    ranks[np.argsort(np.abs(centered), kind="stable")] = np.arange(1, k + 1)
    signed = np.sign(centered) * ranks
    if estimator == "R0":
        neg = signed[signed < 0]
        k0 = (k - (np.max(-neg) if neg.size else 0.0)) - 1.0
        return float(k0), float(np.sqrt(2.0 * max(0.0, k0) + 2.0))
    sr = float(np.sum(signed[signed > 0]))
    if estimator == "L0":
        k0 = (4.0 * sr - k * (k + 1)) / (2.0 * k - 1.0)
    else:
        k0 = k - 0.5 - np.sqrt(max(0.0, 2.0 * k ** 2 - 4.0 * sr + 0.25))
    var_sr = (k * (k + 1) * (2 * k + 1) + 10 * k0 ** 3 + 27 * k0 ** 2 + 17 * k0
              - 18 * k * k0 ** 2 - 18 * k * k0 + 6 * k ** 2 * k0) / 24.0
    if estimator == "L0":
        se = 4.0 * np.sqrt(var_sr) / (2.0 * k - 1.0) if var_sr >= 0 else np.nan
    else:
        den = (k - 0.5) ** 2 - k0 * (2.0 * k - k0 - 1.0)
        se = 2.0 * np.sqrt(var_sr) / np.sqrt(den) if var_sr >= 0 and den > 0 else np.nan
    return float(k0), float(se)


def _auto_side(inp):
    """metafor's rule: the sign of the slope of the standard error in the
    meta-regression (same estimator) picks the side: a positive slope (small studies
    with larger effects) means studies are missing on the left."""
    X = np.column_stack([np.ones(inp.k), np.sqrt(inp.v)])
    slope = float(np.asarray(refit(inp, inp.y, inp.v, X, weights=inp.weights).params)[1])
    return "right" if slope < 0 else "left"


def trim_and_fill(results: MetaResults | MetaInput,
                  side: Literal["left", "right"] | None = None,
                  estimator: Literal["L0", "R0", "Q0"] = "L0",
                  maxiter: int = 100) -> TrimFillResult:
    """Trim-and-fill method of Duval and Tweedie (2000; metafor's ``trimfill``).

    Estimates how many studies are missing from one side of the funnel plot, imputes
    their mirror images and refits the model: a sensitivity analysis of the pooled
    effect to publication bias.

    Parameters
    ----------
    results : MetaResults
        :class:`~metamodels.MetaFixed` or :class:`~metamodels.MetaRandom` results of
        an intercept-only model; the refits use its tau^2 estimator and test.
    side : {"left", "right"}, optional
        Side of the funnel where studies are missing; chosen from the sign of the
        standard-error slope of Egger's regression (same estimator) when omitted.
    estimator : {"L0", "R0", "Q0"}, default "L0"
        Estimator of the number of missing studies k0 (case-insensitive).
    maxiter : int, default 100
        Iteration limit of the trimming algorithm.

    Returns
    -------
    TrimFillResult
        ``k0``, ``se_k0``, ``filled`` (the refitted results, with ``plot_funnel()``)
        and ``original``.

    Raises
    ------
    metamodels.exceptions.SpecificationError
        The model has moderators.
    ValueError
        Unknown ``estimator`` or ``side``.

    Warns
    -----
    metamodels.exceptions.ConvergenceWarning
        k0 did not settle in ``maxiter`` iterations.

    See Also
    --------
    egger_test, selection_model

    Notes
    -----
    With studies sorted so that the missing side is on the left (effects negated for
    ``side="right"``), iterate: fit the model (same tau^2 estimator) to the ``k - k0``
    studies with the smallest effects, centre all ``k`` effects at its estimate ``b``,
    rank the absolute centred effects, and with ``S_r`` the sum of the positive signed
    ranks and ``gamma`` the length of the rightmost run of positive ranks estimate

    * ``L0 = (4 S_r - k(k+1)) / (2k - 1)``,
    * ``R0 = gamma - 1``,
    * ``Q0 = k - 1/2 - sqrt(2k^2 - 4 S_r + 1/4)``,

    rounded and truncated at 0, until k0 no longer changes.  The ``k0`` most extreme
    studies are then mirrored about the last ``b`` (``2b - y_i``, same ``v_i``) and the
    model is refitted to all ``k + k0`` studies.  Standard errors of k0 are those of
    Duval and Tweedie (2000a), as reported by metafor.

    References
    ----------
    .. [1] Duval, S., & Tweedie, R. (2000a). Trim and fill: A simple funnel-plot-based
       method of testing and adjusting for publication bias in meta-analysis.
       *Biometrics*, 56(2), 455-463.
    .. [2] Duval, S., & Tweedie, R. (2000b). A nonparametric "trim and fill" method of
       accounting for publication bias in meta-analysis. *Journal of the American
       Statistical Association*, 95(449), 89-98.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> print(mm.trim_and_fill(res))
    Trim-and-fill analysis (Duval and Tweedie 2000)
      estimator: L0, side: right
      estimated missing studies: k0 = 1 (SE = 2.4528)
      original estimate: -0.7145
      filled estimate:   -0.6571 (SE 0.1785, 95% CI -1.0070 to -0.3072), tau^2 = 0.3313, k = 14
    """
    inp = meta_input(results)
    inp.require_intercept_only("trim-and-fill")
    estimator = str(estimator).upper()
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; valid values are L0, R0, Q0")
    if side is None:
        side = _auto_side(inp)
    side = str(side).lower()
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left', 'right' or None, got {side!r}")
    sign = -1.0 if side == "right" else 1.0
    ys = sign * inp.y
    order = np.argsort(ys, kind="stable")
    ys, vs = ys[order], inp.v[order]
    # user weights go with their studies; a filled study has the weight of the study
    # it mirrors (as metafor)
    ws = None if inp.weights is None else inp.weights[order]
    k = inp.k
    k0, k0_prev, it, se_k0, b = 0, -1, 0, np.nan, np.nan
    while k0 != k0_prev and it < maxiter:
        k0_prev = k0
        it += 1
        fit = refit(inp, ys[: k - k0], vs[: k - k0],
                    weights=None if ws is None else ws[: k - k0])
        b = float(np.asarray(fit.params)[0])
        k0_raw, se_k0 = estimate_k0(ys - b, estimator)
        k0 = int(max(0, np.round(k0_raw)))
        k0 = min(k0, k - 2)
    if k0 != k0_prev:
        warnings.warn(f"trim-and-fill did not converge in {maxiter} iterations",
                      ConvergenceWarning, stacklevel=2)
    se_k0 = max(0.0, se_k0) if np.isfinite(se_k0) else np.nan
    pk0 = 0.5 ** (k0 + 1) if estimator == "R0" else np.nan
    if k0 > 0:
        yfill = sign * (2.0 * b - ys[k - k0:])
        vfill = vs[k - k0:]
    else:
        yfill = vfill = np.empty(0)
    y_all = np.r_[inp.y, yfill]
    v_all = np.r_[inp.v, vfill]
    mask = np.r_[np.zeros(k, bool), np.ones(k0, bool)]
    w_all = None if ws is None else np.r_[inp.weights, ws[k - k0:] if k0 else []]
    filled = refit(inp, y_all, v_all, weights=w_all, filled=mask)
    return TrimFillResult(k0, float(se_k0), float(pk0), side, estimator, filled, results, it)
