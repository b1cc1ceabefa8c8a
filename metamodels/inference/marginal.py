"""Estimated marginal means (SAS ``LSMEANS``, R's emmeans) and their contrasts.

The reference grid of a formula fit crosses every level of every factor of the fixed
effects with each covariate at its mean over the rows of the fit (or at the values given
in ``at=``; ``at=`` also restricts factor levels).  Its design rows ``X_g`` (built by the
model's own formula, so transformations, codings and interactions are honoured) give the
predictions ``X_g b``; the marginal mean of a level of ``specs`` (within a ``by`` group)
averages the grid rows of that level over the factors not named:

* ``weights="equal"`` (emmeans' default and SAS's LSMEANS): every combination of the other
  factors weighs the same;
* ``weights="proportional"``: each combination in proportion to its frequency in the data
  (all levels of ``specs`` and ``by`` pooled; emmeans' ``"proportional"``, SAS's
  ``OBSMARGINS``);
* ``weights="cells"``: in proportion to the frequency of the cell itself (the mean of the
  fitted values of the level's rows when the model is saturated; emmeans' ``"cells"``).

A mean or contrast is a linear function ``l'b``: its standard error, t statistic and
degrees of freedom come from the fit's df method (``ddf=``: the covariance the method uses,
Kenward-Roger's adjusted one included, and its t df of ``l``); families (all rows, or each
``by`` group) get the multiplicity adjustments of :mod:`.adjust`.

Contrasts (:meth:`MarginalMeans.contrast`) ``method=``: ``"pairwise"`` (``a - b`` for every
pair, in emmeans' order), ``"revpairwise"``, ``"trt.vs.ctrl"`` (each level minus the
reference ``ref``, default the first), ``"consec"`` (each level minus the previous),
``"eff"`` (each level minus the average of all), or a dict ``{label: coefficients}``.

References
----------
Searle SR, Speed FM, Milliken GA (1980) Population marginal means in the linear model,
Am Stat 34: 216-221; Lenth RV (2016) Least-squares means: the R package lsmeans, J Stat
Softw 69; SAS/STAT User's Guide, the LSMEANS statement.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd

from ..exceptions import SpecificationError
from .adjust import adjust_family, check_adjust

__all__ = ["MarginalMeans", "MarginalContrasts", "MarginalTable", "LinearInference",
           "MarginalMeansMixin",
           "reference_grid", "marginal_means", "WEIGHTS", "CONTRASTS"]

WEIGHTS = ("equal", "proportional", "cells")
CONTRASTS = ("pairwise", "revpairwise", "trt.vs.ctrl", "consec", "eff", "poly")
_COLUMNS = ["estimate", "se", "df", "statistic", "pvalue", "ci_lower", "ci_upper"]


@dataclass(frozen=True)
class LinearInference:
    """Estimate, covariance and t df of linear functions ``L b`` of one fit and df method."""

    beta: np.ndarray
    cov: np.ndarray
    t_df: object                 # callable L -> (m,) df
    ddf: str

    def __call__(self, L):
        L = np.atleast_2d(L)
        est = L @ self.beta
        se = np.sqrt(np.einsum("ip,pq,iq->i", L, self.cov, L))
        return est, se, np.asarray(self.t_df(L), dtype=float)


# ------------------------------------------------------------------ grid
def _variables(code, columns):
    return [v for v in dict.fromkeys(re.findall(r"[A-Za-z_][\w\.]*", code)) if v in columns]


def _model_variables(design_info, frame, response):
    """``{variable: levels or None}`` of the fixed effects: factors with their levels (in
    the model's order), covariates with ``None``."""
    cols = [c for c in frame.columns if c != response]
    out = {}
    for f, info in design_info.factor_infos.items():
        vars_ = _variables(f.code, cols)
        if info.type == "categorical":
            if len(vars_) != 1:
                raise SpecificationError(
                    f"marginal means: cannot tell the variable of factor {f.code!r}; use a "
                    "plain column (or C(column)) as a factor")
            levels = list(info.categories)
            known = frame[vars_[0]].dropna().unique()
            if not set(levels) <= set(known.tolist()):
                raise SpecificationError(f"marginal means: the levels of {f.code!r} are not "
                                         f"values of column {vars_[0]!r}")
            out[vars_[0]] = levels
        else:
            for v in vars_:
                out.setdefault(v, None)
    return out


def _as_list(x):
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def reference_grid(design_info, frame, response=None, at=None):
    """The reference grid: ``(grid, X_grid, factors, counts)``.

    ``grid`` holds one row per combination of the factor levels and covariate values
    (the first variable varying fastest, as emmeans), ``X_grid`` its fixed-effects design,
    ``factors`` the names of its factors (variables with levels), and
    ``counts`` the number of data rows in each grid row's factor combination.
    """
    at = dict(at or {})
    variables = _model_variables(design_info, frame, response)
    unknown = sorted(set(at) - set(variables))
    if unknown:
        raise SpecificationError(f"at= names {unknown} that are not variables of the fixed "
                                 f"effects ({', '.join(variables)})")
    values = {}
    for v, levels in variables.items():
        if v in at:
            given = list(np.atleast_1d(np.asarray(at[v], dtype=object)))
            if levels is not None:
                bad = [g for g in given if g not in levels]
                if bad:
                    raise SpecificationError(f"at={{{v!r}: ...}}: {bad} are not levels of "
                                             f"{v!r} ({levels})")
            values[v] = given
        elif levels is not None:
            values[v] = levels
        else:
            x = pd.to_numeric(frame[v], errors="coerce")
            values[v] = [float(np.mean(x))]
    names = list(values)
    combos = list(itertools.product(*[values[v] for v in reversed(names)]))
    grid = pd.DataFrame([c[::-1] for c in combos], columns=names)
    for v in names:
        if variables[v] is None:
            grid[v] = grid[v].astype(float)
        else:
            grid[v] = pd.Series(list(grid[v]), dtype=frame[v].dtype
                                if frame[v].dtype != object else object)
    import patsy
    try:
        X = np.asarray(patsy.build_design_matrices([design_info], grid)[0], dtype=float)
    except Exception as exc:        # patsy's errors name the offending factor
        raise SpecificationError(f"marginal means: cannot build the design of the reference "
                                 f"grid: {exc}") from exc
    factors = [v for v in names if variables[v] is not None]
    counts = np.zeros(len(grid))
    if factors:
        freq = frame.groupby(factors, sort=False, observed=True).size()
        keys = pd.MultiIndex.from_frame(grid[factors]) if len(factors) > 1 else grid[factors[0]]
        counts = freq.reindex(keys).fillna(0).to_numpy(dtype=float)
    else:
        counts[:] = len(frame)
    return grid, X, factors, counts


# ---------------------------------------------------------------- results
def _label(row):
    return " ".join(str(v) for v in row)


@dataclass(frozen=True)
class MarginalTable:
    """Estimates of linear functions ``L b`` with standard errors, df, t statistics,
    (adjusted) p-values and confidence limits.

    Attributes
    ----------
    labels : DataFrame
        What each row is (the ``specs`` and ``by`` levels, or ``contrast`` and ``by``).
    estimate, se, df, statistic, pvalue, ci_lower, ci_upper : ndarray
        ``statistic = estimate / se`` (t), ``pvalue`` two-sided and adjusted within each
        family; limits ``estimate -/+ crit se`` at level ``1 - alpha`` (adjusted).
    L : ndarray
        The linear functions of the fixed effects, one row per estimate.
    ddf, adjust : str
        The df method and the multiplicity adjustment actually used (emmeans replaces
        Tukey by Sidak outside pairwise families).
    alpha : float
    by : tuple of str
        Variables defining the families.
    """

    labels: pd.DataFrame
    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    L: np.ndarray
    ddf: str
    adjust: str
    alpha: float
    by: tuple = ()

    def summary_frame(self) -> pd.DataFrame:
        """The table as a DataFrame (emmeans' ``summary``).

        Returns
        -------
        pandas.DataFrame
            The label columns, then estimate, se, df, statistic, pvalue, ci_lower,
            ci_upper, one row per estimate.
        """
        out = self.labels.reset_index(drop=True).copy()
        for c in _COLUMNS:
            out[c] = getattr(self, c)
        return out

    def __len__(self):
        return len(self.estimate)

    def __repr__(self):
        head = (f"{type(self).__name__}(ddf={self.ddf!r}, adjust={self.adjust!r}, "
                f"confidence level {1 - self.alpha:g})")
        return head + "\n" + self.summary_frame().to_string(index=False)


def _families(labels, by):
    if not by:
        return [np.arange(len(labels))]
    keys = labels[list(by)].astype(str).agg("\x1f".join, axis=1).to_numpy()
    return [np.flatnonzero(keys == k) for k in dict.fromkeys(keys)]


def _infer(source, L, labels, by, alpha, adjust, n_means=None):
    """A :class:`MarginalTable` of ``L b`` (``n_means``: Tukey's k of pairwise families,
    else Tukey falls back to Sidak)."""
    est, se, df = source(L)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se
    p = np.empty(len(est))
    crit = np.empty(len(est))
    used = "sidak" if adjust == "tukey" and n_means is None else adjust
    for rows in _families(labels, by):
        corr = None
        if used == "mvt":
            Lr = np.atleast_2d(L)[rows]
            cov = Lr @ source.cov @ Lr.T
            with np.errstate(divide="ignore", invalid="ignore"):
                corr = cov / np.outer(se[rows], se[rows])
        p[rows], crit[rows] = adjust_family(t[rows], df[rows], alpha, used, n_means, corr)
    return est, se, df, t, p, crit, used


@dataclass(frozen=True, repr=False)
class MarginalContrasts(MarginalTable):
    """Contrasts of marginal means (:meth:`MarginalMeans.contrast`); ``method`` names them.

    Built by :meth:`MarginalMeans.contrast` (emmeans' ``contrast``); users do not create
    it.

    Parameters
    ----------
    labels : pandas.DataFrame
        What each row is (the levels of ``specs`` and ``by``, or ``contrast`` and
        ``by``).
    estimate, se, df, statistic, pvalue, ci_lower, ci_upper : numpy.ndarray
        The columns of :meth:`summary_frame` (see :class:`MarginalTable`).
    L : numpy.ndarray
        The linear functions of the fixed effects, one row per estimate.
    ddf, adjust : str
        The df method and the multiplicity adjustment used.
    alpha : float
        ``1 - alpha`` confidence limits.
    by : tuple of str
        Variables defining the families.
    method : str, default "pairwise"
        The contrast family (``"custom"`` for coefficients given as a dict).

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ alloc", dat, vi="vi").fit()
    >>> diffs = res.marginal_means("alloc").pairs()
    >>> print(diffs.summary_frame()[["contrast", "estimate", "pvalue"]].round(4))
                     contrast  estimate  pvalue
    0      alternate - random    0.4478  0.6604
    1  alternate - systematic   -0.0890  0.9862
    2     random - systematic   -0.5369  0.4352
    """

    method: str = "pairwise"


@dataclass(frozen=True, repr=False)
class MarginalMeans(MarginalTable):
    """Estimated marginal means (:func:`marginal_means`); ``weights`` says how the other
    factors were averaged.  :meth:`contrast` and :meth:`pairs` compare them.

    Built by the results' ``marginal_means`` (SAS ``LSMEANS``, emmeans' ``emmeans``);
    users do not create it.

    Parameters
    ----------
    labels : pandas.DataFrame
        What each row is (the levels of ``specs`` and ``by``, or ``contrast`` and
        ``by``).
    estimate, se, df, statistic, pvalue, ci_lower, ci_upper : numpy.ndarray
        The columns of :meth:`summary_frame` (see :class:`MarginalTable`).
    L : numpy.ndarray
        The linear functions of the fixed effects, one row per estimate.
    ddf, adjust : str
        The df method and the multiplicity adjustment used.
    alpha : float
        ``1 - alpha`` confidence limits.
    by : tuple of str
        Variables defining the families.
    weights : {"equal", "proportional", "cells"}
        How the factors not named were averaged.
    specs : tuple of str
        The variables whose levels have a mean.
    source : LinearInference
        Estimates, covariance and df of the fit (for contrasts).

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ alloc", dat, vi="vi").fit()
    >>> means = res.marginal_means("alloc")
    >>> print(means.summary_frame()[["alloc", "estimate"]].round(4))
            alloc  estimate
    0   alternate   -0.5180
    1      random   -0.9658
    2  systematic   -0.4289
    """

    weights: str = "equal"
    specs: tuple = ()
    source: LinearInference = field(default=None, compare=False)

    def contrast(self, method: str | dict = "pairwise", adjust: str | None = None,
                 ref: Any = 0, alpha: float | None = None) -> MarginalContrasts:
        """Contrasts of the means within each ``by`` group (emmeans' ``contrast``).

        Parameters
        ----------
        method : str or dict
            ``"pairwise"``, ``"revpairwise"``, ``"trt.vs.ctrl"``, ``"consec"``, ``"eff"``,
            ``"poly"`` (orthogonal polynomial contrasts of equally spaced levels, in
            integers, up to degree ``min(6, k - 1)``, as emmeans' ``poly``), or
            ``{label: coefficients}`` (one coefficient per mean of a ``by`` group).
        adjust : str, optional
            none, tukey, sidak, bonferroni, holm, fdr or mvt (single-step multivariate t,
            exact for the family's correlation; ``"dunnett"`` is its name for
            ``trt.vs.ctrl``); default ``"tukey"`` for pairwise families, ``"none"`` for
            ``"poly"``, ``"holm"`` otherwise.  Tukey applies to pairwise families only
            (elsewhere Sidak is used, as emmeans does).
        ref : int or level label
            Reference level of ``"trt.vs.ctrl"`` (default the first).
        alpha : float, optional
            Defaults to the means' ``alpha``.

        Returns
        -------
        MarginalContrasts
            One row per contrast: ``summary_frame()`` with contrast, estimate, se, df,
            statistic, pvalue, ci_lower, ci_upper.

        Raises
        ------
        ValueError
            An unknown ``method`` or ``adjust``, coefficients of the wrong length, or an
            unknown reference level.

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                      ci="cpos", di="cneg")
        >>> res = mm.MetaRandom.from_formula("yi ~ alloc", dat, vi="vi").fit()
        >>> means = res.marginal_means("alloc")
        >>> diffs = means.contrast("trt.vs.ctrl", adjust="dunnett")
        >>> print(diffs.summary_frame()[["contrast", "pvalue"]].round(4))
                         contrast  pvalue
        0      random - alternate  0.5588
        1  systematic - alternate  0.9786
        """
        alpha = self.alpha if alpha is None else alpha
        pairwise = method in ("pairwise", "revpairwise")
        default = "tukey" if pairwise else ("none" if method == "poly" else "holm")
        adjust = check_adjust(default if adjust is None else adjust)
        parts = self.labels[list(self.specs)].astype(str)
        for c in parts.columns:            # numeric levels named: "hour1 - hour2" (emmeans)
            if pd.to_numeric(parts[c], errors="coerce").notna().all():
                parts[c] = c + parts[c]
        spec_labels = parts.agg(" ".join, axis=1)
        rows_L, rows_lab = [], []
        n_means = None
        for rows in _families(self.labels, self.by):
            levels = list(spec_labels.iloc[rows])
            coefs = _contrast_coefficients(method, levels, ref)
            n_means = len(rows)
            for lab, c in coefs.items():
                rows_L.append(np.asarray(c, dtype=float) @ self.L[rows])
                entry = {"contrast": lab}
                entry.update({b: self.labels[b].iloc[rows[0]] for b in self.by})
                rows_lab.append(entry)
        L = np.vstack(rows_L)
        labels = pd.DataFrame(rows_lab)
        est, se, df, t, p, crit, used = _infer(self.source, L, labels, self.by, alpha, adjust,
                                               n_means if pairwise else None)
        return MarginalContrasts(labels, est, se, df, t, p, est - crit * se, est + crit * se,
                                 L, self.ddf, used, alpha, self.by,
                                 method=method if isinstance(method, str) else "custom")

    def pairs(self, adjust: str = "tukey", alpha: float | None = None) -> MarginalContrasts:
        """Pairwise differences ``a - b`` (Tukey-adjusted unless told; emmeans' ``pairs``).

        Parameters
        ----------
        adjust : str, default "tukey"
            Multiplicity adjustment (as :meth:`contrast`).
        alpha : float, optional
            Defaults to the means' ``alpha``.

        Returns
        -------
        MarginalContrasts
            ``contrast(method="pairwise", adjust=adjust, alpha=alpha)``.
        """
        return self.contrast("pairwise", adjust=adjust, alpha=alpha)


def _contrast_coefficients(method, levels, ref):
    k = len(levels)
    if isinstance(method, dict):
        out = {}
        for lab, c in method.items():
            c = np.asarray(c, dtype=float)
            if c.shape != (k,):
                raise ValueError(f"contrast {lab!r} needs {k} coefficients (one per mean), "
                                 f"got shape {c.shape}")
            out[lab] = c
        return out
    e = np.eye(k)
    if method == "pairwise":
        return {f"{levels[i]} - {levels[j]}": e[i] - e[j]
                for i in range(k) for j in range(i + 1, k)}
    if method == "revpairwise":
        return {f"{levels[j]} - {levels[i]}": e[j] - e[i]
                for j in range(1, k) for i in range(j)}
    if method == "trt.vs.ctrl":
        r = ref if isinstance(ref, (int, np.integer)) else (
            levels.index(str(ref)) if str(ref) in levels else None)
        if r is None or not -k <= r < k:
            raise ValueError(f"ref={ref!r} is not a level or position of {levels}")
        r = r % k
        return {f"{levels[i]} - {levels[r]}": e[i] - e[r] for i in range(k) if i != r}
    if method == "consec":
        return {f"{levels[i]} - {levels[i - 1]}": e[i] - e[i - 1] for i in range(1, k)}
    if method == "eff":
        return {f"{levels[i]} effect": e[i] - 1.0 / k for i in range(k)}
    if method == "poly":
        return dict(zip(_POLY_NAMES, _poly_coefficients(k)))
    raise ValueError(f"unknown contrast method {method!r}; valid values are "
                     f"{', '.join(CONTRASTS)} or a dict of coefficients")


_POLY_NAMES = ("linear", "quadratic", "cubic", "quartic", "degree 5", "degree 6")


def _poly_coefficients(k):
    """Orthogonal polynomial contrasts of ``k`` equally spaced levels, degrees 1 to
    ``min(6, k - 1)``, each scaled to the smallest integers (the textbook tables, and
    emmeans' ``poly``), last coefficient positive."""
    if k < 2:
        raise ValueError("polynomial contrasts need at least two levels")
    x = np.arange(1.0, k + 1.0)
    q, _ = np.linalg.qr(np.vander(x - x.mean(), min(6, k - 1) + 1, increasing=True))
    out = []
    for j in range(1, q.shape[1]):
        c = q[:, j] / np.min(np.abs(q[np.abs(q[:, j]) > 1e-8, j]))
        for mult in range(1, 10001):
            if np.allclose(c * mult, np.round(c * mult), atol=1e-6):
                c = np.round(c * mult)
                break
        out.append(c if c[-1] > 0 else -c)
    return out


# --------------------------------------------------------------- main entry
def marginal_means(design_info, frame, source, specs, at=None, by=None, weights="equal",
                   alpha=0.05, adjust="none", response=None):
    """Estimated marginal means of ``specs`` (module docstring) as :class:`MarginalMeans`.

    Parameters
    ----------
    design_info : patsy DesignInfo
        Fixed-effects design of the fit.
    frame : DataFrame
        The rows of the fit (covariate means, cell frequencies).
    source : LinearInference
        Estimates, covariance and t df of ``L b``.
    specs : str or list of str
        Variables whose levels get a mean.
    at : dict, optional
        Covariate values (a scalar or a list) and factor levels of the grid.
    by : str or list of str, optional
        Variables whose levels form separate families.
    weights : {"equal", "proportional", "cells"}
    alpha : float
    adjust : str
        Multiplicity adjustment of the means' p-values and intervals (default none).
    """
    if design_info is None or frame is None:
        raise SpecificationError("marginal means need a model fitted from a formula "
                                 "(from_formula)")
    specs, by = _as_list(specs), _as_list(by)
    if not specs:
        raise ValueError("specs must name at least one variable")
    if weights not in WEIGHTS:
        raise ValueError(f"unknown weights {weights!r}; valid values are {', '.join(WEIGHTS)}")
    adjust = check_adjust(adjust)
    grid, X, factors, counts = reference_grid(design_info, frame, response, at)
    named = specs + by
    unknown = [v for v in named if v not in grid.columns]
    if unknown or len(set(named)) < len(named):
        raise SpecificationError(f"specs/by must be distinct variables of the fixed effects "
                                 f"({', '.join(grid.columns)}); got {named}")
    if weights == "proportional":
        others = [v for v in factors if v not in named]
        w = np.ones(len(grid))
        if others:
            freq = frame.groupby(others, sort=False, observed=True).size()
            idx = pd.MultiIndex.from_frame(grid[others]) if len(others) > 1 else grid[others[0]]
            w = freq.reindex(idx).fillna(0).to_numpy(dtype=float)
    elif weights == "cells":
        w = counts
    else:
        w = np.ones(len(grid))
    keys = grid[by + specs].astype(str).agg("\x1f".join, axis=1).to_numpy()
    # rows ordered by the by-groups, then the first spec varying fastest (emmeans)
    order_cols = by[::-1] + specs[::-1]
    uniq = grid[by + specs].drop_duplicates()
    sort_keys = [pd.Categorical(uniq[c].astype(str), categories=list(dict.fromkeys(
        grid[c].astype(str)))).codes for c in order_cols]
    uniq = uniq.iloc[np.lexsort(sort_keys[::-1])] if sort_keys else uniq
    L_rows = []
    for _, row in uniq.iterrows():
        sel = keys == "\x1f".join(str(row[c]) for c in by + specs)
        ws = w[sel]
        if ws.sum() <= 0:
            raise SpecificationError(
                f"marginal means with weights={weights!r}: no data rows for "
                f"{dict(row)}; use weights='equal'")
        L_rows.append(ws @ X[sel] / ws.sum())
    L = np.vstack(L_rows)
    labels = uniq[specs + by].reset_index(drop=True)
    est, se, df, t, p, crit, used = _infer(source, L, labels, by, alpha, adjust, None)
    return MarginalMeans(labels, est, se, df, t, p, est - crit * se, est + crit * se, L,
                         source.ddf, used, alpha, tuple(by), weights=weights,
                         specs=tuple(specs), source=source)


class MarginalMeansMixin:
    """``marginal_means`` and ``contrast`` for results of formula fits; the results give
    :meth:`_linear_inference` (their estimate, covariance and t df under ``ddf``)."""

    def _linear_inference(self, ddf=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def marginal_means(self, specs: str | Sequence[str], at: dict | None = None,
                       by: str | Sequence[str] | None = None,
                       weights: Literal["equal", "proportional", "cells"] = "equal",
                       ddf: str | None = None, alpha: float = 0.05,
                       adjust: str = "none") -> MarginalMeans:
        """Estimated marginal means (SAS ``LSMEANS``, emmeans' ``emmeans``) of ``specs``.

        The reference grid crosses the levels of every factor with each covariate at its
        mean (or at ``at=`` values); the mean of a level of ``specs`` averages the grid
        over the factors not named (``weights="equal"``, emmeans' and SAS's default;
        ``"proportional"`` to their frequencies in the data; ``"cells"``).  SEs, df and
        t tests follow the ``ddf`` method (the results' default unless given).  See
        :mod:`metamodels.inference.marginal`.  Needs a model fitted from a formula.

        Parameters
        ----------
        specs : str or list of str
            Variables (factors) whose levels get a mean.
        at : dict, optional
            Values of covariates (a scalar or a list) and levels of factors that define
            the reference grid (default: covariates at their means, all factor levels).
        by : str or list of str, optional
            Variables whose levels form separate families (means and adjustments per
            level).
        weights : {"equal", "proportional", "cells"}, default "equal"
            How the factors not named are averaged: equally (emmeans/SAS default), in
            proportion to their marginal frequencies in the data, or by the cell
            frequencies of the data.
        ddf : str, optional
            MixedModel results: denominator df method (``"satterthwaite"``,
            ``"kenward-roger"``, ``"residual"``, ``"containment"``, ``"between-within"``,
            ...; default: the fit's).  Meta-analysis results take the reference
            distribution from ``fit(test=...)`` and refuse ``ddf``.
        alpha : float, default 0.05
            ``1 - alpha`` confidence intervals.
        adjust : str, default "none"
            Multiplicity adjustment of the means' p-values and intervals: none, tukey,
            sidak, bonferroni, holm, fdr or mvt (single-step multivariate t).

        Returns
        -------
        MarginalMeans
            ``summary_frame()`` has estimate, se, df, statistic, pvalue, ci_lower,
            ci_upper; ``contrast(method, adjust=)`` and ``pairs()`` compare the means.

        Raises
        ------
        metamodels.exceptions.SpecificationError
            A model not fitted from a formula, rows dropped for missing values,
            ``specs``/``by`` that are not distinct variables of the fixed effects, or
            empty cells with ``weights="cells"``/``"proportional"``.
        ValueError
            Unknown ``weights``, ``adjust`` or ``ddf``.

        See Also
        --------
        contrast

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                      ci="cpos", di="cneg")
        >>> res = mm.MetaRandom.from_formula("yi ~ alloc", dat, vi="vi").fit()
        >>> means = res.marginal_means("alloc")
        >>> print(means.summary_frame()[["alloc", "estimate", "se"]].round(4))
                alloc  estimate      se
        0   alternate   -0.5180  0.4412
        1      random   -0.9658  0.2672
        2  systematic   -0.4289  0.3449
        """
        m = self.model
        frame = getattr(getattr(m, "data", None), "frame", None)
        if frame is not None and len(frame) != int(m.nobs):
            raise SpecificationError(
                f"marginal means: the data has {len(frame)} rows but the fit used "
                f"{int(m.nobs)} (rows with missing values were dropped); refit on the "
                "complete rows so that covariate means and cell counts are those of the fit")
        return marginal_means(getattr(m, "design_info", None), frame,
                              self._linear_inference(ddf), specs, at=at, by=by,
                              weights=weights, alpha=alpha, adjust=adjust,
                              response=getattr(m, "endog_names", None))

    def contrast(self, specs: str | Sequence[str], method: str | dict = "pairwise",
                 at: dict | None = None, by: str | Sequence[str] | None = None,
                 weights: Literal["equal", "proportional", "cells"] = "equal",
                 ddf: str | None = None, alpha: float = 0.05, adjust: str | None = None,
                 ref: Any = 0) -> MarginalContrasts:
        """Contrasts of the marginal means of ``specs`` (emmeans' ``contrast``, SAS
        ``LSMEANS / DIFF``).

        Shorthand for ``marginal_means(specs, at, by, weights, ddf,
        alpha).contrast(method, adjust, ref)`` (``"pairwise"`` differences with Tukey's
        adjustment unless told).

        Parameters
        ----------
        specs : str or list of str
            Variables whose marginal means are compared.
        method : str or dict, default "pairwise"
            ``"pairwise"``, ``"revpairwise"``, ``"trt.vs.ctrl"``, ``"consec"``,
            ``"eff"``, ``"poly"`` (orthogonal polynomials of equally spaced levels), or
            ``{label: coefficients}`` (one coefficient per mean of a ``by`` group); see
            :meth:`MarginalMeans.contrast`.
        at, by, weights, ddf, alpha
            As in :meth:`marginal_means`.
        adjust : str, optional
            none, tukey, sidak, bonferroni, holm, fdr or mvt (``"dunnett"`` for
            ``trt.vs.ctrl``); default ``"tukey"`` for pairwise families, ``"none"`` for
            ``"poly"``, ``"holm"`` otherwise.
        ref : int or level label, default 0
            Reference level of ``"trt.vs.ctrl"`` (default the first).

        Returns
        -------
        MarginalContrasts
            ``summary_frame()`` with contrast, estimate, se, df, statistic, pvalue,
            ci_lower, ci_upper.

        Raises
        ------
        metamodels.exceptions.SpecificationError, ValueError
            As :meth:`marginal_means`, or an unknown ``method``.

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                      ci="cpos", di="cneg")
        >>> res = mm.MetaRandom.from_formula("yi ~ alloc", dat, vi="vi").fit()
        >>> diffs = res.contrast("alloc", method="trt.vs.ctrl")
        >>> print(diffs.summary_frame()[["contrast", "estimate", "pvalue"]].round(4))
                          contrast  estimate  pvalue
        0      random - alternate   -0.4478  0.7706
        1  systematic - alternate    0.0890  0.8737
        """
        mm_ = self.marginal_means(specs, at=at, by=by, weights=weights, ddf=ddf, alpha=alpha)
        return mm_.contrast(method, adjust=adjust, ref=ref)
