"""Classical df methods (residual, containment, between-within) and type-1/2/3 ANOVA tables.

* residual: ``n - rank(X)``.
* containment (SAS ``DDFM=CONTAIN``): a fixed effect ``F`` is contained in a random effect
  ``E`` when every variable of ``F`` appears in ``E`` (for a random term ``(x | g)`` the
  effects are ``g`` and ``x*g``); its df is the smallest rank contribution
  ``rank([X Z]) - rank([X Z_{-E}])`` of a containing effect, else ``n - rank([X Z])``.
* between-within (SAS ``DDFM=BETWITHIN``, basic form): effects constant within every
  subject get ``s - rank(X_between)`` (``s`` subjects); the others get
  ``n - rank([X Z_subject])``.

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

import numpy as np
import pandas as pd
from scipy import stats

from ..inference import ddf as ddfmod

__all__ = ["classical_df", "anova_table", "f_test", "chi2_test", "term_contrasts",
           "containment_table", "between_within_table"]


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


def _random_effects(model):
    """SAS-style random effects: (variables, dense design n x levels)."""
    effects = []
    n = int(model.nobs)
    for part in model.spec.random:
        gvars = set(part.name.split(":"))
        n_lev = int(part.groups.max()) + 1
        for c, col in enumerate(part.column_names):
            Z = np.zeros((n, n_lev))
            Z[np.arange(n), part.groups] = part.Z[:, c]
            effects.append((gvars | _column_variables(col), Z))
    return effects


def _rank(M):
    return int(np.linalg.matrix_rank(M)) if M.size else 0


def containment_table(model):
    """``{term: (df, columns)}`` of the containment method."""
    X = model.exog
    effects = _random_effects(model)
    n = int(model.nobs)
    Zall = np.hstack([X] + [Z for _, Z in effects])
    r_all = _rank(Zall)
    contrib = []
    for i in range(len(effects)):
        others = np.hstack([X] + [Z for j, (_, Z) in enumerate(effects) if j != i])
        contrib.append(r_all - _rank(others))
    resid = n - r_all
    out = {}
    for name, cols, vars_ in _fixed_terms(model):
        dfs = [c for (evars, _), c in zip(effects, contrib) if vars_ <= evars and c > 0]
        out[name] = (min(dfs) if dfs else resid, cols)
    return out


def between_within_table(model):
    """``{term: (df, columns)}`` of the between-within method."""
    X = model.exog
    subj = model.residual.subject if model.residual.visit.max() > 0 or not model.spec.random \
        else model.spec.random[0].groups
    n = int(model.nobs)
    s = int(subj.max()) + 1
    df_s = pd.DataFrame(X)
    varies = (df_s.groupby(subj).nunique() > 1).any(axis=0).to_numpy()
    Zs = np.zeros((n, s))
    Zs[np.arange(n), subj] = 1.0
    within = n - _rank(np.hstack([X, Zs]))
    between = s - _rank(X[:, ~varies]) if (~varies).any() else s
    out = {}
    for name, cols, _ in _fixed_terms(model):
        out[name] = (within if varies[cols].any() else between, cols)
    return out


def classical_df(results, L, method):
    """Per-row df of contrasts ``L`` for the residual/containment/between-within methods."""
    model = results.model
    L = np.atleast_2d(L)
    if method == "residual":
        return np.full(L.shape[0], model.nobs - model.rank)
    table = results.ddf_table(method)
    col_df = np.empty(model.k_fe)
    for df, cols in table.values():
        col_df[cols] = df
    # a contrast gets the smallest df among the columns it involves
    return np.array([col_df[np.abs(l) > 1e-12].min() if np.any(np.abs(l) > 1e-12)
                     else model.nobs - model.rank for l in L])


def _term_df(results, name, method):
    return results.ddf_table(method)[name][0]


# ------------------------------------------------------------ type-3 contrasts
def _sum_coded_formula(model):
    di = model.design_info
    pieces = []
    for term in di.terms:
        if not term.factors:
            pieces.append("1")
            continue
        codes = []
        for f in term.factors:
            info = di.factor_infos[f]
            code = f.code
            if info.type == "categorical":
                m = re.fullmatch(r"C\(\s*([\w\.]+)\s*\)", code)
                if m:
                    code = f"C({m.group(1)}, Sum)"
                elif re.fullmatch(r"[\w\.]+", code):
                    code = f"C({code}, Sum)"
                else:
                    raise NotImplementedError(
                        f"type-3 tests need plain categorical factors; cannot re-code {code!r}")
            codes.append(code)
        pieces.append(":".join(codes))
    if "1" not in pieces:
        pieces.insert(0, "0")
    return " + ".join(pieces)


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
    X = model.exog
    out = {}
    prev = []
    for name, cols, _ in _sequential_order(model, _fixed_terms(model)):
        if name != "Intercept":
            out[name] = _sequential_contrast(X, prev, cols)
        prev += cols
    return out


def _contains(outer, inner):
    """SAS's containment of effects (``(class variables, continuous variables)`` pairs):
    ``inner`` is contained in ``outer`` when both involve the same continuous variables
    and ``outer`` has more class variables, among them all of ``inner``'s."""
    return inner[1] == outer[1] and inner[0] < outer[0]


def _type2_contrasts(model):
    """Type-2 hypotheses: each term after every term that does not contain it (SAS Type II
    / lmerTest type 2, with SAS's containment: a factor ``A`` is not contained in a
    covariate-by-factor interaction ``x:A``, the covariate ``x`` is).  Without a formula
    every column is a term and none contains another."""
    X = model.exog
    terms = _fixed_terms(model)
    di = model.design_info
    if di is None:
        effects = [(frozenset([name]), frozenset()) for name, _, _ in terms]
    else:
        effects = []
        for term in di.term_slices:
            kinds = [(f, di.factor_infos[f].type == "categorical") for f in term.factors]
            effects.append((frozenset(f for f, cat in kinds if cat),
                            frozenset(f for f, cat in kinds if not cat)))
    out = {}
    for i, (name, cols, _) in enumerate(terms):
        if name == "Intercept":
            continue
        prev = [c for j, (_, cj, _) in enumerate(terms)
                if j != i and not _contains(effects[j], effects[i]) for c in cj]
        out[name] = _sequential_contrast(X, prev, cols)
    return out


def term_contrasts(model, type=3):  # noqa: A002
    """Contrast matrices ``{term: L}`` of the type-1 (sequential), type-2 or type-3
    hypotheses."""
    if type == 1:
        return _sequential_contrasts(model)
    if type == 2:
        return _type2_contrasts(model)
    if type != 3:
        raise ValueError(f"type must be 1 (sequential), 2 or 3, got {type!r}")
    terms = _fixed_terms(model)
    X = model.exog
    has_interactions = model.design_info is not None and any(
        len(t.factors) > 1 for t in model.design_info.terms)
    if model.design_info is None or not has_interactions:
        out = {}
        for name, cols, _ in terms:
            if name == "Intercept":
                continue
            L = np.zeros((len(cols), X.shape[1]))
            L[np.arange(len(cols)), cols] = 1.0
            out[name] = L
        return out
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


# ------------------------------------------------------------------ F tests
def f_test(results, L, method, term=None, rhs=None):
    """(F, num_df, den_df, pvalue) of ``L b = rhs`` with the ddf ``method``.

    A rank-deficient ``L`` is tested on its row space (``num_df = rank``), as lmerTest.
    The Kenward-Roger F is the scaled F of Kenward and Roger; the others are the Wald F
    ``(Lb - rhs)'(L C L')^+ (Lb - rhs) / q``.
    """
    fit = results._fit
    b = np.asarray(fit.beta)
    if method == "satterthwaite":
        r = ddfmod.satterthwaite_f(L, b, fit.cov_beta, results._sens.B,
                                   np.asarray(results.cov_theta), rhs)
        return r.statistic, r.df_num, r.df_denom, r.pvalue
    if method.startswith("kenward-roger"):
        C_adj, W = results.kenward_roger_parts(method)
        r = ddfmod.kenward_roger_f(L, b, fit.cov_beta, C_adj, results._sens.B, W, rhs)
        return r.statistic, r.df_num, r.df_denom, r.pvalue
    ec = ddfmod.eigen_contrast(L, b, fit.cov_beta, rhs)
    F, q = ec.wald_f, ec.q
    if method == "residual":
        den = results.model.nobs - results.model.rank
    elif term is not None:
        den = _term_df(results, term, method)
    else:
        den = float(classical_df(results, L, method).min())
    return F, q, float(den), float(stats.f.sf(F, q, den))


def chi2_test(results, L, method, rhs=None):
    """(chi2, df, pvalue) of ``L b = rhs``: the Wald statistic ``q F`` with the covariance
    of the ddf ``method`` (Kenward-Roger's adjusted covariance, else ``C``), referred to
    chi2(q) (no denominator df)."""
    fit = results._fit
    b = np.asarray(fit.beta)
    if method.startswith("kenward-roger"):
        C_adj, W = results.kenward_roger_parts(method)
        r = ddfmod.kenward_roger_f(L, b, fit.cov_beta, C_adj, results._sens.B, W, rhs)
        stat, q = r.wald_f * r.df_num, r.df_num
    else:
        ec = ddfmod.eigen_contrast(L, b, fit.cov_beta, rhs)
        stat, q = ec.wald_f * ec.q, ec.q
    return stat, q, float(stats.chi2.sf(stat, q))


def anova_table(results, type, method):  # noqa: A002
    """Type-1, -2 or -3 ANOVA table: num_df, den_df, F, pvalue per fixed-effects term."""
    rows = {}
    for name, L in term_contrasts(results.model, type).items():
        F, q, den, p = f_test(results, L, method, term=name)
        rows[name] = {"num_df": q, "den_df": den, "F": F, "pvalue": p}
    return pd.DataFrame(rows).T[["num_df", "den_df", "F", "pvalue"]].astype(
        {"num_df": int, "den_df": float, "F": float, "pvalue": float})
