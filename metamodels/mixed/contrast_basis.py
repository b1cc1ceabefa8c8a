"""The row basis of the hypothesis matrix of each ANOVA term, as SAS or lmerTest builds it.

An F test of a term tests ``L b = 0`` for a ``q``-dimensional space of contrasts; the Wald
F and the Kenward-Roger F do not depend on which ``q`` rows span that space, but the
multi-df Satterthwaite df of Fai and Cornelius (1996) do: they decompose ``L C L'`` into
eigen-contrasts, whose individual t df are combined.  SAS and lmerTest use the same
construction with a different reference level:

* SAS (PROC MIXED/GLM, ``E3`` option): the estimable functions of an effect are written
  with one free parameter ``L_j`` per non-aliased column of the effect in SAS's
  less-than-full-rank parameterisation, where the **last** level of every CLASS variable
  is aliased.  The coefficient of that column is ``L_j`` itself, so the rows SAS tests
  (each ``L_j = 1``, the others 0) restricted to the effect's own non-aliased columns
  form the identity matrix.
* lmerTest (``get_contrasts_type3``, ``extract_contrasts_type3``): the same construction
  on the design with R's treatment contrasts (``contr.treatment``), whose reference is the
  **first** level.  For types 1 and 2 lmerTest takes the rows of the forward Doolittle
  reduction of ``X'X`` in the model's own coding (each column of the term after the
  columns before it; :func:`doolittle_rows`), and the identity on the term's columns for
  type-2 terms that no other term contains.
* ``basis="sas"`` uses SAS's rule (identity on the term's own non-aliased columns) for the
  type-1 and type-2 hypotheses too; checked against SAS listings only for type 3.

Notes
-----
Let ``X_ref = X T`` be the design of the same formula with treatment coding (reference
the last level for SAS, the first level for lmerTest); ``b = T b_ref``.  For a hypothesis
``L`` (``q`` rows spanning the term's hypothesis space) write ``L T`` in the reference
coordinates and let ``K`` be its columns of the term.  The basis with identity on the
term's own columns is ``K^{-1} L`` (it tests the same hypothesis: ``K`` is invertible when
the hypothesis has as many dimensions as the term has columns, i.e. without empty cells).
When a term cannot be re-coded (a non-standard factor coding) or ``K`` is singular, the
rows are left as they are, with a :class:`~metamodels.exceptions.MetaModelsWarning`.

References
----------
Fai AH, Cornelius PL (1996) J Stat Comput Simul 54: 363-378.  Goodnight JH (1978) Tests of
hypotheses in fixed effects linear models, SAS Technical Report R-101.  SAS/STAT User's
Guide, "The Four Types of Estimable Functions".  Kuznetsova A, Brockhoff PB, Christensen RHB
(2017) lmerTest, J Stat Softw 82(13).
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..exceptions import MetaModelsWarning

if TYPE_CHECKING:
    from statsmodels.base.model import LikelihoodModel

__all__ = ["BASES", "check_basis", "recoded_formula", "reference_design", "in_basis"]

#: accepted ``basis=`` values of ``anova``: SAS's (last level as reference) and lmerTest's
#: (first level as reference)
BASES = ("sas", "lmertest")

_PLAIN = re.compile(r"^C\(\s*([A-Za-z_][\w\.]*)\s*(?:,.*)?\)$")


def check_basis(basis: str) -> str:
    """The canonical name of an ANOVA row basis.

    Parameters
    ----------
    basis : str
        ``"sas"`` or ``"lmertest"`` (case, ``-`` and ``_`` ignored).

    Returns
    -------
    str
        ``"sas"`` or ``"lmertest"``.

    Raises
    ------
    ValueError
        Any other value.
    """
    key = str(basis).lower().replace("-", "").replace("_", "")
    if key not in BASES:
        raise ValueError(f"basis must be one of {BASES}, got {basis!r}")
    return key


def _level_ref(levels, which):
    """A patsy ``Treatment(reference=...)`` argument selecting the first/last level."""
    idx = 0 if which == "first" else len(levels) - 1
    if -1 not in levels and 0 not in levels:
        return str(idx - len(levels) if which == "last" else idx)
    lev = levels[idx]
    lev = lev.item() if hasattr(lev, "item") else lev
    return repr(lev)


def recoded_formula(design_info: Any, coding: Callable[[list], str]) -> str:
    """The right-hand side of ``design_info`` with every categorical factor re-coded.

    ``coding(levels)`` returns the patsy contrast to use (e.g. ``"Sum"`` or
    ``"Treatment(reference=-1)"``); a factor whose code is not ``C(name, ...)`` or a plain
    column name raises NotImplementedError.  Terms keep their order, so that the re-coded
    design's term slices pair with the original terms.

    Parameters
    ----------
    design_info : patsy.DesignInfo
        The fixed-effects design of a formula model.
    coding : callable
        ``coding(levels) -> str``, the patsy contrast of a factor with these levels.

    Returns
    -------
    str
        A patsy right-hand side (``"0 + ..."`` when the design has no intercept).

    Raises
    ------
    NotImplementedError
        A categorical factor that is not ``C(name, ...)`` or a plain column name.
    """
    pieces = []
    for term in design_info.terms:
        if not term.factors:
            pieces.append("1")
            continue
        codes = []
        for f in term.factors:
            info = design_info.factor_infos[f]
            code = f.code
            if info.type == "categorical":
                m = _PLAIN.fullmatch(code)
                name = m.group(1) if m else (code if re.fullmatch(r"[\w\.]+", code) else None)
                if name is None or (m and "levels" in code):
                    raise NotImplementedError(
                        f"cannot re-code the categorical factor {code!r}")
                code = f"C({name}, {coding(list(info.categories))})"
            codes.append(code)
        pieces.append(":".join(codes))
    if "1" not in pieces:
        pieces.insert(0, "0")
    return " + ".join(pieces)


def reference_design(model: LikelihoodModel, which: Literal["first", "last"]
                     ) -> tuple[np.ndarray, np.ndarray, list[slice]] | None:
    """``(X_ref, T, term_slices)`` of the model re-coded with treatment contrasts whose
    reference is the ``which`` ("first" or "last") level: ``X_ref = X T``.  None when the
    re-coding is not possible or does not span the model's column space.

    Parameters
    ----------
    model : MixedModel
        Built by :meth:`MixedModel.from_formula`.
    which : {"first", "last"}
        Reference level of every factor (lmerTest's or SAS's).

    Returns
    -------
    tuple or None
        ``(X_ref, T, term_slices)``: the re-coded design, the map ``T`` with
        ``X_ref = X T`` and the column slice of each term in ``X_ref``.
    """
    import patsy
    di = model.design_info
    if di is None:
        return None
    try:
        rhs = recoded_formula(di, lambda lv: f"Treatment(reference={_level_ref(lv, which)})")
        Xr = patsy.dmatrix(rhs, model.data.frame, return_type="dataframe")
    except (NotImplementedError, patsy.PatsyError):
        return None
    X, Xr_a = model.exog, Xr.to_numpy()
    if Xr_a.shape != X.shape:
        return None
    T, *_ = np.linalg.lstsq(X, Xr_a, rcond=None)
    if not np.allclose(X @ T, Xr_a, atol=1e-8 * max(1.0, np.abs(Xr_a).max())):
        return None
    slices = [sl for _, sl in Xr.design_info.term_slices.items()]
    return Xr_a, T, slices


def doolittle_rows(L, X):
    """lmerTest's type-1/2 rows of a hypothesis ``L = G^{-1} X_F'M X`` (identity on the
    term's columns, ``G = X_F'M X_F``): the normalised rows of the forward Doolittle
    reduction of ``X'X``, which are ``L_G' L`` with ``G = L_G D L_G'`` (``L_G`` unit lower
    triangular) -- each column of the term tested after the columns before it.  ``G`` is
    recovered from ``L`` as ``(L (X'X)^{-1} L')^{-1}``."""
    G = np.linalg.inv(L @ np.linalg.solve(X.T @ X, L.T))
    C = np.linalg.cholesky((G + G.T) / 2)            # G = C C', L_G = C diag(1/c_ii)
    return (C / np.diag(C)).T @ L


def in_basis(contrasts: dict[str, np.ndarray], model: LikelihoodModel, basis: str,
             type: Literal[1, 2, 3],  # noqa: A002
             marginal: Collection[str] = (), X: np.ndarray | None = None
             ) -> dict[str, np.ndarray]:
    """``{term: L}`` re-expressed in the row basis of ``basis`` (see the module Notes).

    ``contrasts`` are the term hypotheses of :func:`metamodels.mixed.inference.
    term_contrasts` (in the order of the model's terms, intercept left out).  Under
    ``basis="lmertest"`` types 1 and 2 use lmerTest's rows in the model's own coding: the
    forward Doolittle rows (:func:`doolittle_rows`), except for the type-2 hypotheses of
    terms no other term contains (``marginal``), which are the identity on the term's
    columns.  ``X`` is the design the hypotheses refer to (the estimable columns of a
    design with aliased columns; the model's design by default).

    Parameters
    ----------
    contrasts : dict
        ``{term: L}`` in the model's coding.
    model : MixedModel
        The model the hypotheses belong to.
    basis : {"sas", "lmertest"}
        Target row basis.
    type : {1, 2, 3}
        Hypothesis type.
    marginal : collection of str, optional
        Terms no other term contains (type 2, lmerTest basis).
    X : numpy.ndarray, optional
        The design the hypotheses refer to.

    Returns
    -------
    dict
        ``{term: L}`` in the new basis (a term whose basis is unavailable keeps its
        rows; a :class:`~metamodels.exceptions.MetaModelsWarning` says so when the basis
        cannot be built at all).
    """
    basis = check_basis(basis)
    X = model.exog if X is None else X
    if basis == "lmertest" and type in (1, 2):
        return {name: L if (L.shape[0] == 1 or name in marginal)
                else doolittle_rows(L, X) for name, L in contrasts.items()}
    if all(L.shape[0] == 1 for L in contrasts.values()) or model.design_info is None:
        return contrasts                    # one-row hypotheses: nothing to choose
    aliased = X.shape[1] < model.exog.shape[1]
    ref = None if aliased else reference_design(model, "last" if basis == "sas" else "first")
    if ref is None:
        why = ("the design has aliased columns" if aliased
               else "it needs plain categorical factors")
        warnings.warn(f"anova: the {basis!r} row basis is not available ({why}); the "
                      "hypotheses are tested in the model's own coding (the multi-df "
                      "Satterthwaite df may differ from SAS/lmerTest)",
                      MetaModelsWarning, stacklevel=4)
        return contrasts
    _, T, slices = ref
    term_slice = {t.name(): sl for t, sl in zip(model.design_info.terms, slices)}
    out = {}
    for name, L in contrasts.items():
        sl = term_slice.get(name)
        if sl is None or L.shape[0] == 1:
            out[name] = L
            continue
        K = (L @ T)[:, sl]
        if K.shape[0] != K.shape[1] or np.linalg.matrix_rank(K) < K.shape[0]:
            out[name] = L               # empty cells: the hypothesis has fewer dimensions
            continue
        out[name] = np.linalg.solve(K, L)
    return out
