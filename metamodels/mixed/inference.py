"""MixedModel's inference inputs (terms, SAS-style random effects, subjects) and type-1/2/3
ANOVA tables.

The df methods themselves (residual, containment, between-within, Satterthwaite,
Kenward-Roger) are objects of :mod:`metamodels.inference.ddf`; :func:`build_inputs` gives
them the frozen :class:`~metamodels.inference.inputs.InferenceInputs` of a MixedModel fit.

Type-1 hypotheses test each term after the terms before it; type-2 hypotheses each term
after all terms that do not contain it, in SAS's sense (same continuous variables, more
class variables including all of the term's; so ``x`` is contained in ``x:A`` but ``A``
is not), as lmerTest does (both ``L = (X_F'MX_F)^{-1} X_F'MX``, ``M`` the
projection orthogonal to the adjusted-for columns).  Type-3 hypotheses are built by re-coding categorical factors with sum-to-zero contrasts:
if ``X_sum = X T`` spans the same space, the type-3 test of term ``F`` is
``E_F T^{-1} b = 0`` (rows ``E_F`` select ``F``'s columns of ``X_sum``), which is the SAS /
lmerTest type-3 hypothesis for full-rank designs.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from ..inference.inputs import FixedTerm, InferenceInputs, RandomEffect
from .contrast_basis import in_basis, recoded_formula

if TYPE_CHECKING:
    from statsmodels.base.model import LikelihoodModelResults
    from statsmodels.base.model import LikelihoodModel

__all__ = ["build_inputs", "anova_table", "term_contrasts", "fixed_terms",
           "random_effects", "between_within_subject"]


# ----------------------------------------------------------------- variables
def _factor_variable(code):
    m = re.match(r"^C\(\s*([A-Za-z_][\w\.]*)", code)
    if m:
        return m.group(1)
    return re.sub(r"[^\w\.]", "", code) if re.fullmatch(r"[\w\.]+", code) else code


def _fixed_terms(model):
    """List of (name, column indices, variables) for each fixed-effects term."""
    di = model.design_info
    if di is None:
        # array input: every column is a term; statsmodels' constant column ("const") is
        # the intercept, which ANOVA tables leave out as R and SAS do
        const = getattr(model.data, "const_idx", None)
        return [("Intercept" if j == const else nm, [j], set() if j == const else {nm})
                for j, nm in enumerate(model.exog_names)]
    out = []
    for term, sl in di.term_slices.items():
        cols = list(range(sl.start, sl.stop))
        vars_ = {_factor_variable(f.code) for f in term.factors}
        out.append((term.name(), cols, vars_))
    return out


def _column_variables(colname):
    if colname in ("(Intercept)", "Intercept"):
        return set()
    parts = colname.split(":")
    return {_factor_variable(p.split("[")[0]) for p in parts}


def random_effects(model: LikelihoodModel) -> tuple[RandomEffect, ...]:
    """SAS-style random effects of the model (one per random-term column).

    Parameters
    ----------
    model : MixedModel

    Returns
    -------
    tuple of RandomEffect
        Variables (grouping factors and the column's variables), groups and design
        column of each effect (the containment method's input).
    """
    effects = []
    for part in model.spec.random:
        gvars = set(part.name.split(":"))
        groups = np.asarray(part.groups)
        for c, col in enumerate(part.column_names):
            effects.append(RandomEffect(frozenset(gvars | _column_variables(col)), groups,
                                        part.Z[:, c]))
    return tuple(effects)


def _estimable_terms(model):
    """:func:`_fixed_terms` on the estimable columns (``accept_singular``: aliased columns
    left out and the others renumbered; a term may be left without columns)."""
    terms = _fixed_terms(model)
    aliased = getattr(model, "aliased", None)
    if aliased is None or not aliased.any():
        return terms
    new = np.cumsum(~aliased) - 1
    out = []
    for name, cols, vars_ in terms:
        out.append((name, [int(new[c]) for c in cols if not aliased[c]], vars_))
    return out


def estimable_exog(model):
    """The model's design on its estimable columns."""
    aliased = getattr(model, "aliased", None)
    return model.exog if aliased is None or not aliased.any() else model.exog[:, ~aliased]


def fixed_terms(model: LikelihoodModel) -> tuple[FixedTerm, ...]:
    """The fixed-effects terms of the model as :class:`FixedTerm` (on the estimable
    columns).

    Parameters
    ----------
    model : MixedModel

    Returns
    -------
    tuple of FixedTerm
        Name, column positions and variables of each term.
    """
    return tuple(FixedTerm(name, tuple(cols), frozenset(vars_))
                 for name, cols, vars_ in _estimable_terms(model))


def between_within_subject(model: LikelihoodModel) -> np.ndarray:
    """Subject code per row for the between-within method: the R-side subject when there
    are repeated measures (or no random term), else the first random term's groups.

    Parameters
    ----------
    model : MixedModel

    Returns
    -------
    numpy.ndarray
        Integer ``(n,)`` subject codes.
    """
    if model.residual.visit.max() > 0 or not model.spec.random:
        return model.residual.subject
    return model.spec.random[0].groups


def build_inputs(model: LikelihoodModel, fit: Any) -> InferenceInputs:
    """The frozen :class:`InferenceInputs` of a MixedModel fit.

    Parameters
    ----------
    model : MixedModel
    fit : MixedFit
        The numbers of the fit (:class:`metamodels.mixed.fitting.MixedFit`).

    Returns
    -------
    InferenceInputs
        Estimates, covariances, information, design (estimable columns), terms,
        random effects and subjects: everything the ddf methods use.
    """
    keep = ~model.aliased
    beta, cov = np.asarray(fit.beta), fit.cov_beta
    if not keep.all():
        beta, cov = beta[keep], cov[np.ix_(keep, keep)]
    return InferenceInputs(
        beta=beta, cov_beta=cov, X=estimable_exog(model),
        theta=np.asarray(fit.theta), obs_info=fit.obs_info, exp_info=fit.exp_info,
        nobs=model.nobs, rank=model.rank, spec=model.spec, terms=fixed_terms(model),
        random_effects=random_effects(model), subject=between_within_subject(model))


# ------------------------------------------------------------ type-3 contrasts
def _sum_coded_formula(model):
    return recoded_formula(model.design_info, lambda levels: "Sum")


def _sequential_contrast(X, prev, cols):
    """Contrast of the columns ``cols`` after the columns ``prev``:
    ``L = (X_F' M X_F)^{-1} X_F' M X`` with ``M`` the projection orthogonal to
    ``X[:, prev]``."""
    XF = X[:, cols]
    if prev:
        Xp = X[:, prev]
        A = XF.T - (XF.T @ Xp) @ np.linalg.pinv(Xp)        # X_F' M
    else:
        A = XF.T
    return np.linalg.solve(A @ XF, A @ X)


def _sequential_order(model, terms):
    """Terms in R's sequential order: by degree (number of variables), then as written
    in the formula (patsy itself puts terms without numeric variables first)."""
    di = model.design_info
    written = {t: i for i, t in enumerate(getattr(model, "written_terms", ()))}
    if di is None or not written:
        return terms
    keys = list(di.term_slices)
    order = sorted(range(len(terms)),
                   key=lambda i: (len(keys[i].factors), written.get(keys[i], i)))
    return [terms[i] for i in order]


def _sequential_contrasts(model):
    """Type-1 (sequential) hypotheses: each term after the terms before it, in R's term
    order (lmerTest type 1; SAS Type I follows the MODEL statement as written, which is
    the same when the formula lists main effects before interactions)."""
    X = estimable_exog(model)
    out = {}
    prev = []
    for name, cols, _ in _sequential_order(model, _estimable_terms(model)):
        if name != "Intercept" and cols:
            out[name] = _sequential_contrast(X, prev, cols)
        prev += cols
    return out


def _contains(outer, inner):
    """SAS's containment of effects (``(class variables, continuous variables)`` pairs):
    ``inner`` is contained in ``outer`` when both involve the same continuous variables
    and ``outer`` has more class variables, among them all of ``inner``'s."""
    return inner[1] == outer[1] and inner[0] < outer[0]


def _effects(model, terms):
    """``(class variables, continuous variables)`` of each term (:func:`_contains`)."""
    di = model.design_info
    if di is None:
        return [(frozenset([name]), frozenset()) for name, _, _ in terms]
    effects = []
    for term in di.term_slices:
        kinds = [(f, di.factor_infos[f].type == "categorical") for f in term.factors]
        effects.append((frozenset(f for f, cat in kinds if cat),
                        frozenset(f for f, cat in kinds if not cat)))
    return effects


def uncontained_terms(model):
    """Names of the terms no other term contains (lmerTest's "marginal" terms)."""
    terms = _fixed_terms(model)
    effects = _effects(model, terms)
    return {name for i, (name, _, _) in enumerate(terms)
            if not any(j != i and _contains(effects[j], effects[i])
                       for j in range(len(terms)))}


def _type2_contrasts(model):
    """Type-2 hypotheses: each term after every term that does not contain it (SAS Type II
    / lmerTest type 2, with SAS's containment: a factor ``A`` is not contained in a
    covariate-by-factor interaction ``x:A``, the covariate ``x`` is).  Without a formula
    every column is a term and none contains another."""
    X = estimable_exog(model)
    terms = _estimable_terms(model)
    effects = _effects(model, terms)
    out = {}
    for i, (name, cols, _) in enumerate(terms):
        if name == "Intercept" or not cols:
            continue
        prev = [c for j, (_, cj, _) in enumerate(terms)
                if j != i and not _contains(effects[j], effects[i]) for c in cj]
        out[name] = _sequential_contrast(X, prev, cols)
    return out


def term_contrasts(model: LikelihoodModel, type: Literal[1, 2, 3] = 3,  # noqa: A002
                   basis: str | None = None) -> dict[str, np.ndarray]:
    """Contrast matrices ``{term: L}`` of the type-1 (sequential), type-2 or type-3
    hypotheses; with ``basis`` ("sas" or "lmertest") their rows are re-expressed in that
    basis (:mod:`metamodels.mixed.contrast_basis`).

    Parameters
    ----------
    model : MixedModel
        Built by :meth:`MixedModel.from_formula` (its terms).
    type : {1, 2, 3}, default 3
        Hypothesis type (see the module docstring).
    basis : {"sas", "lmertest"}, optional
        Row basis; the model's own coding when None.

    Returns
    -------
    dict
        ``{term name: L}``, ``L`` with one column per estimable fixed effect.
    """
    out = _term_hypotheses(model, type)
    if basis is None:
        return out
    return in_basis(out, model, basis, type,
                    uncontained_terms(model) if type == 2 else set(), estimable_exog(model))


def _term_hypotheses(model, type):  # noqa: A002
    if type == 1:
        return _sequential_contrasts(model)
    if type == 2:
        return _type2_contrasts(model)
    if type != 3:
        raise ValueError(f"type must be 1 (sequential), 2 or 3, got {type!r}")
    terms = _estimable_terms(model)
    X = estimable_exog(model)
    has_interactions = model.design_info is not None and any(
        len(t.factors) > 1 for t in model.design_info.terms)
    if model.design_info is None or not has_interactions:
        out = {}
        for name, cols, _ in terms:
            if name == "Intercept" or not cols:
                continue
            L = np.zeros((len(cols), X.shape[1]))
            L[np.arange(len(cols)), cols] = 1.0
            out[name] = L
        return out
    if X.shape[1] < model.exog.shape[1]:
        raise NotImplementedError("type-3 hypotheses of a design with aliased columns "
                                  f"({', '.join(model.aliased_names)}) and interactions "
                                  "are not available; use type=1 or type=2, or contrasts "
                                  "of estimable functions with f_test")
    import patsy
    Xs = patsy.dmatrix(_sum_coded_formula(model), model.data.frame, return_type="dataframe")
    T, *_ = np.linalg.lstsq(X, Xs.to_numpy(), rcond=None)
    if not np.allclose(X @ T, Xs.to_numpy(), atol=1e-8 * max(1.0, np.abs(Xs.to_numpy()).max())):
        raise NotImplementedError("type-3 contrasts: the sum-coded design does not span the "
                                  "same space (empty cells?)")
    Tinv = np.linalg.inv(T)
    out = {}
    # the sum-coded formula lists the original terms in the same order
    for orig, (term, sl) in zip(model.design_info.terms, Xs.design_info.term_slices.items()):
        if not term.factors:
            continue
        E = np.zeros((sl.stop - sl.start, Xs.shape[1]))
        E[np.arange(sl.stop - sl.start), np.arange(sl.start, sl.stop)] = 1.0
        out[orig.name()] = E @ Tinv
    return out


# ---------------------------------------------------------------- ANOVA
def anova_table(results: LikelihoodModelResults, type: Literal[1, 2, 3],  # noqa: A002
                method: str, basis: str = "sas") -> pd.DataFrame:
    """Type-1, -2 or -3 ANOVA table: num_df, den_df, F, pvalue per fixed-effects term
    (hypothesis rows in the ``basis`` of :mod:`metamodels.mixed.contrast_basis`).

    Parameters
    ----------
    results : MixedResults
        The fit.
    type : {1, 2, 3}
        Hypothesis type.
    method : str
        Ddf method.
    basis : {"sas", "lmertest"}, default "sas"
        Row basis of the hypotheses.

    Returns
    -------
    pandas.DataFrame
        Indexed by term; columns num_df, den_df, F, pvalue.
    """
    rows = {}
    ddf = results.ddf_method(method)
    for name, L in term_contrasts(results.model, type, basis).items():
        F, q, den, p = ddf.f_test(L, term=name)
        rows[name] = {"num_df": q, "den_df": den, "F": F, "pvalue": p}
    return pd.DataFrame(rows).T[["num_df", "den_df", "F", "pvalue"]].astype(
        {"num_df": int, "den_df": float, "F": float, "pvalue": float})
