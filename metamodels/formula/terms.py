"""lme4-style random-effects terms on top of patsy.

Supported grammar
-----------------
A mixed-model formula is a patsy formula whose right-hand side may contain, as
separate ``+`` summands at the top level, random-effects *bar terms*::

    formula   := [lhs] "~" summand (("+" | "-") summand)*
    summand   := <patsy term> | bar_term
    bar_term  := "(" expr "|" grouping ")"        correlated effects
               | "(" expr "||" grouping ")"       uncorrelated effects
    expr      := a patsy right-hand side: "1", "x", "1 + x", "0 + x", "C(f)", ...
    grouping  := nested ("/" nested)*             a/b/c  ==  a + a:b + a:b:c
    nested    := factor (":" factor)*             interaction of factors
    factor    := column name | C(name) | factor(name) | Q("name")

Semantics follow lme4:

* ``(x | g)`` includes an intercept (as in patsy and R); ``(0 + x | g)`` and
  ``(-1 + x | g)`` do not.  ``expr`` is stored canonically: ``"1"``,
  ``"1 + x"``, ``"0 + x"``.
* ``(1 | a/b)`` expands to ``(1 | a) + (1 | a:b)`` (lme4 names the inner term
  ``b:a``; here the grouping is written outer-first, ``a:b``).
* ``(1 + x || g)`` expands, like lme4's ``expandDoubleVerts``, into one term per
  formula term of ``expr``: ``(1 | g) + (0 + x | g)``.  Each expanded term has
  ``correlated=True``; a term whose expression produces several columns (e.g.
  ``C(f)``) keeps them correlated among themselves, exactly as in lme4.  With
  ``split_formula(..., expand_double_bar=False)`` a ``||`` term is kept whole
  with ``correlated=False`` (meaning: diagonal covariance over all its columns).
* Terms sharing a grouping get lme4-style unique labels: ``g``, ``g.1``, ...

Not supported: bar terms inside products or functions (``x:(1 | g)``),
subtracting a bar term, ``+`` or ``*`` inside the grouping, lme4 extensions
such as ``(1 | g) + diag(...)`` or ``offset`` inside bar terms.

statsmodels ``MixedLM`` keywords (``groups``, ``re_formula``, ``vc_formula``)
are translated by :func:`terms_from_mixedlm`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import patsy
from patsy import INTERCEPT, ModelDesc

from ..core.blocks import connected_blocks  # noqa: F401  (re-exported: formula API)

__all__ = ["RandomTermSpec", "RandomTermDesign", "split_formula", "build_random_design",
           "terms_from_mixedlm", "connected_blocks"]

_NAME = r"[A-Za-z_][\w.]*"
_FACTOR_WRAPPERS = [re.compile(rf"^(?:C|factor|as\.factor)\(\s*({_NAME})\s*\)$"),
                    re.compile(r"""^Q\(\s*(['"])(.+)\1\s*\)$""")]
_C_NAME = re.compile(rf"^C\(\s*({_NAME})\s*\)$")
_BARE_NAME = re.compile(rf"^{_NAME}$")


# --------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class RandomTermSpec:
    """One random-effects term ``(expr | group)``.

    Parameters
    ----------
    expr : str
        Patsy right-hand side of the term's design columns (``"1"``, ``"1 + x"``,
        ``"0 + x"``).
    group : str
        Grouping expression: a column name or an interaction ``"a:b"``.
    correlated : bool
        True: one unstructured covariance over the term's columns.  False: the
        columns are independent, each with its own variance (an unexpanded
        ``||`` term).
    label : str
        Name used for the term's parameters; defaults to ``group``.
    vc : bool
        statsmodels variance component: the columns are independent random
        effects that share ONE variance (see :func:`terms_from_mixedlm`).
    """

    expr: str
    group: str
    correlated: bool = True
    label: str = ""
    vc: bool = False

    def __post_init__(self):
        if not self.label:
            object.__setattr__(self, "label", self.group)

    @property
    def factors(self) -> tuple:
        """Column names whose interaction forms the grouping factor."""
        return tuple(_group_factor(f) for f in _split_top(self.group, ":"))

    def __str__(self):
        if self.vc:
            return f"vc[{self.label}]({self.expr} | {self.group})"
        return f"({self.expr} {'|' if self.correlated else '||'} {self.group})"


@dataclass(frozen=True, eq=False)
class RandomTermDesign:
    """Evaluated random-effects term.

    Attributes
    ----------
    spec : RandomTermSpec
    Z : ndarray, shape (n, q)
        The term's columns (float).
    column_names : list of str
        lme4 names: ``"(Intercept)"`` for the intercept, otherwise patsy's.
    groups : ndarray of int, shape (n,)
        Level code ``0 .. n_levels - 1`` of each row.
    levels : list
        Level labels in code order (scalars, or tuples for interactions).
    n_levels : int
    design_info : patsy.DesignInfo
        For building ``Z`` on new data.
    """

    spec: RandomTermSpec
    Z: np.ndarray
    column_names: list
    groups: np.ndarray
    levels: list
    n_levels: int
    design_info: object = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """The term's label (``spec.label``)."""
        return self.spec.label

    @property
    def n_columns(self) -> int:
        """Number of design columns ``q``."""
        return self.Z.shape[1]

    def match_levels(self, data: pd.DataFrame | Mapping) -> np.ndarray:
        """Codes of this term's levels in ``data``; -1 for levels not seen in fitting.

        Parameters
        ----------
        data : DataFrame or dict of columns
            New data holding the grouping columns.

        Returns
        -------
        ndarray of int, shape (n,)
        """
        cols = _group_columns(self.spec, _as_frame(data))
        lookup = {lev: i for i, lev in enumerate(self.levels)}
        keys = zip(*[c.tolist() for c in cols]) if len(cols) > 1 else cols[0].tolist()
        return np.fromiter((lookup.get(k, -1) for k in keys), dtype=np.intp,
                           count=len(cols[0]))


# ------------------------------------------------------------------- scanning
def _scan(s):
    """Yield ``(index, char, depth)`` for characters outside string literals."""
    depth, quote = 0, None
    for i, ch in enumerate(s):
        if quote:
            if ch == quote and s[i - 1] != "\\":
                quote = None
            continue
        if ch in "'\"":
            quote = ch
            continue
        if ch == "(":
            depth += 1
            yield i, ch, depth - 1
            continue
        if ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced parentheses in {s!r}: unexpected ')' at "
                                 f"position {i}")
        yield i, ch, depth
    if quote:
        raise ValueError(f"unterminated string literal in {s!r}")
    if depth:
        raise ValueError(f"unbalanced parentheses in {s!r}: {depth} '(' not closed")


def _split_sum(s, seps="+-"):
    """Split at top-level characters in ``seps``: ``[(preceding sep, part)]``."""
    out, start, op = [], 0, seps[0]
    for i, ch, d in _scan(s):
        if ch in seps and d == 0:
            out.append((op, s[start:i].strip()))
            op, start = ch, i + 1
    out.append((op, s[start:].strip()))
    return out


def _split_top(s, sep):
    """Split ``s`` at the single-character separator ``sep`` at depth 0."""
    return [part for _, part in _split_sum(s, sep)]


def _unwrap(s):
    """The inside of ``s`` if it is one parenthesised group ``( ... )``, else None."""
    s = s.strip()
    if not s.startswith("("):
        return None
    for i, ch, d in _scan(s):
        if ch == ")" and d == 0:
            return s[1:-1] if i == len(s) - 1 else None
    return None


def _find_bar(inner):
    """``(position, '|' or '||')`` of the single top-level bar of ``inner``, or None."""
    bars = [i for i, ch, d in _scan(inner) if ch == "|" and d == 0]
    if not bars:
        return None
    if len(bars) == 2 and bars[1] == bars[0] + 1:
        return bars[0], "||"
    if len(bars) > 1:
        raise ValueError(f"random-effects term ({inner}) has more than one '|'")
    return bars[0], "|"


def _has_bare_bar(s):
    """Whether ``s`` contains a non-function parenthesised group with a bar inside."""
    for i, ch, _ in _scan(s):
        if ch != "(":
            continue
        before = s[:i].rstrip()
        if before and (before[-1].isalnum() or before[-1] in "_."):
            continue                         # function call such as I(a | b)
        inner = None
        for j, c, d in _scan(s[i:]):
            if c == ")" and d == 0:
                inner = s[i + 1:i + j]
                break
        if inner is not None and any(c == "|" and d == 0 for _, c, d in _scan(inner)):
            return True
    return False


# -------------------------------------------------------------------- parsing
def _canonical_expr(expr, context):
    """Canonical patsy right-hand side and its term names, e.g. ``("1 + x", ...)``."""
    try:
        desc = ModelDesc.from_formula(expr)
    except patsy.PatsyError as exc:
        raise ValueError(f"cannot parse {expr!r} in {context}: {exc}") from exc
    if desc.lhs_termlist:
        raise ValueError(f"{context}: {expr!r} must not contain '~'")
    intercept = INTERCEPT in desc.rhs_termlist
    names = [t.name() for t in desc.rhs_termlist if t != INTERCEPT]
    if not intercept and not names:
        return "", intercept, names
    return " + ".join(["1" if intercept else "0"] + names), intercept, names


def _group_factor(f):
    f = f.strip()
    for pat in _FACTOR_WRAPPERS:
        m = pat.match(f)
        if m:
            return m.group(m.lastindex)
    return f


def _parse_group(text, context):
    """Expanded grouping strings of ``a/b:c/d`` -> ``["a", "a:b:c", "a:b:c:d"]``."""
    if not text.strip():
        raise ValueError(f"empty grouping in random-effects term {context}")
    for i, ch, d in _scan(text):
        if d == 0 and ch in "+*-|~":
            raise ValueError(f"unsupported operator {ch!r} in the grouping of {context}; "
                             "write separate terms, e.g. (1 | a) + (1 | b)")
    groups, so_far = [], []
    for part in _split_top(text, "/"):
        factors = [_group_factor(f) for f in _split_top(part, ":")]
        if not all(factors):
            raise ValueError(f"empty grouping factor in random-effects term {context}")
        so_far = so_far + factors
        groups.append(":".join(so_far))
    return groups


def _unique_labels(specs):
    """Relabel like R's ``make.unique`` (lme4): ``g, g, h`` -> ``g, g.1, h``."""
    seen, counts, out = {s.label for s in specs}, {}, []
    for spec in specs:
        lab = spec.label
        if lab in counts:
            while f"{lab}.{counts[lab] + 1}" in seen:
                counts[lab] += 1
            counts[lab] += 1
            lab = f"{lab}.{counts[lab]}"
            seen.add(lab)
        else:
            counts[lab] = 0
        out.append(replace(spec, label=lab))
    return out


def _bar_terms(inner, expand_double_bar):
    context = f"({inner.strip()})"
    pos, bar = _find_bar(inner)
    left, right = inner[:pos].strip(), inner[pos + len(bar):].strip()
    if not left:
        raise ValueError(f"random-effects term {context} has nothing on the left of "
                         f"'{bar}'; use (1 {bar} g) for a random intercept")
    groups = _parse_group(right, context)
    expr, intercept, names = _canonical_expr(left, f"random-effects term {context}")
    if not expr:
        raise ValueError(f"random-effects term {context} has no columns (no intercept "
                         "and no variables)")
    if bar == "||" and expand_double_bar:
        exprs = (["1"] if intercept else []) + [f"0 + {n}" for n in names]
        return [RandomTermSpec(e, g) for e in exprs for g in groups]
    return [RandomTermSpec(expr, g, correlated=(bar == "|")) for g in groups]


def split_formula(formula: str,
                  expand_double_bar: bool = True) -> tuple[str, list[RandomTermSpec]]:
    """Separate the random-effects bar terms from a mixed-model formula.

    Parameters
    ----------
    formula : str
        lme4 syntax, e.g. ``"y ~ x + (1 + x | g) + (1 | a/b)"`` (see the module
        docstring for the grammar).  A formula without ``~`` is a right-hand side.
    expand_double_bar : bool
        Expand ``(1 + x || g)`` into ``(1 | g) + (0 + x | g)`` (lme4).  If False,
        keep it as one term with ``correlated=False``.

    Returns
    -------
    fixed_formula : str
        The formula without the bar terms (right-hand side ``"1"`` if nothing else
        remains; ``0``/``-1`` are kept).
    terms : list of RandomTermSpec
        In formula order, nesting and ``||`` expanded, with unique labels.

    Raises
    ------
    TypeError
        If ``formula`` is not a string.
    ValueError
        Unbalanced parentheses, empty grouping, nothing left of the bar, bar terms
        that are not separate summands, an unparsable term expression.

    Examples
    --------
    >>> from metamodels.formula.terms import split_formula
    >>> fixed, terms = split_formula("y ~ x + (1 + x || g) + (1 | a/b)")
    >>> fixed
    'y ~ x'
    >>> [str(t) for t in terms]
    ['(1 | g)', '(0 + x | g)', '(1 | a)', '(1 | a:b)']
    """
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string, got {type(formula).__name__}")
    list(_scan(formula))                         # balance check on the whole formula
    sides = _split_top(formula, "~")
    if len(sides) > 2:
        raise ValueError(f"formula {formula!r} has more than one top-level '~'")
    lhs, rhs = (None, sides[0]) if len(sides) == 1 else sides
    fixed, terms = [], []
    for op, summand in _split_sum(rhs):
        inner = _unwrap(summand)
        while inner is not None and _find_bar(inner) is None and _unwrap(inner) is not None:
            inner = _unwrap(inner)
        if inner is not None and _find_bar(inner) is not None:
            if op == "-":
                raise ValueError(f"cannot subtract the random-effects term {summand!r}")
            terms.extend(_bar_terms(inner, expand_double_bar))
            continue
        if _has_bare_bar(summand):
            raise ValueError(f"random-effects terms must be separate '+' summands of the "
                             f"formula; found one inside {summand!r}")
        fixed.append((op, summand))
    # drop empty summands left by e.g. a leading "-1" or a trailing "+"
    text = " ".join(f"{op} {s}" for op, s in fixed if s or op == "-").strip()
    text = text[1:].strip() if text.startswith("+") else text
    text = re.sub(r"^-\s+", "-", text)
    if not text:
        text = "1"
    if lhs is None:
        fixed_formula = text
    else:
        fixed_formula = f"{lhs} ~ {text}" if lhs else f"~ {text}"
    return fixed_formula, _unique_labels(terms)


# --------------------------------------------------------------- evaluation
def _as_frame(data):
    return data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)


def _group_columns(spec, data):
    cols = []
    for name in spec.factors:
        if name not in data.columns:
            raise ValueError(f"grouping variable {name!r} of random-effects term {spec} "
                             "is not a column of data")
        col = data[name]
        n_bad = int(pd.isna(col).sum())
        if n_bad:
            raise ValueError(f"grouping variable {name!r} of random-effects term {spec} "
                             f"has {n_bad} missing values; drop incomplete rows first")
        cols.append(col)
    return cols


def _group_codes(cols):
    """Dense integer codes and level labels of the interaction of ``cols``."""
    codes, uniques = pd.factorize(cols[0], sort=True)
    levels = pd.Index(uniques).tolist()
    if len(cols) == 1:
        return codes.astype(np.intp), levels
    level_tuples = [(lev,) for lev in levels]
    for col in cols[1:]:
        c2, u2 = pd.factorize(col, sort=True)
        u2 = pd.Index(u2).tolist()
        combined = codes.astype(np.int64) * len(u2) + c2
        uniq, codes = np.unique(combined, return_inverse=True)
        level_tuples = [level_tuples[k // len(u2)] + (u2[k % len(u2)],) for k in uniq]
    return codes.reshape(-1).astype(np.intp), level_tuples


def build_random_design(terms: Sequence[RandomTermSpec], data: pd.DataFrame | Mapping,
                        eval_env: int = 0) -> list[RandomTermDesign]:
    """Evaluate random-effects terms on ``data``.

    Parameters
    ----------
    terms : list of RandomTermSpec
        The terms (e.g. from :func:`split_formula`).
    data : DataFrame
        Already restricted to complete rows.
    eval_env : int
        Frames above the caller in which patsy looks up functions.

    Returns
    -------
    list of RandomTermDesign

    Raises
    ------
    ValueError
        A grouping or term variable is not in ``data`` or has missing values.
    """
    data = _as_frame(data)
    env = patsy.EvalEnvironment.capture(eval_env + 1)
    n = len(data)
    out = []
    for spec in terms:
        groups, levels = _group_codes(_group_columns(spec, data))
        try:
            Zdf = patsy.dmatrix(spec.expr, data, eval_env=env, NA_action="raise",
                                return_type="dataframe")
        except patsy.PatsyError as exc:
            msg = str(exc).splitlines()[0]
            if "missing" in msg.lower():
                msg = "missing values in the term's variables; drop incomplete rows first"
            raise ValueError(f"cannot build random-effects term {spec}: {msg}") from exc
        Z = Zdf.to_numpy(dtype=float)
        if Z.shape[0] != n:                  # constant-only designs on exotic inputs
            Z = np.broadcast_to(Z[:1], (n, Z.shape[1])).copy()
        if not np.all(np.isfinite(Z)):
            raise ValueError(f"random-effects term {spec} has non-finite values")
        names = ["(Intercept)" if c == "Intercept" else c for c in Zdf.columns]
        out.append(RandomTermDesign(spec, Z, names, groups, levels, len(levels),
                                    Zdf.design_info))
    return out


# ---------------------------------------------------------- statsmodels MixedLM
def _vc_to_spec(name, formula, groups, data, allow_vc):
    """Translate one ``vc_formula`` entry (see :func:`terms_from_mixedlm`)."""
    context = f"vc_formula[{name!r}]"
    expr, intercept, names = _canonical_expr(formula, context)
    if not expr:
        raise ValueError(f"{context} = {formula!r} has no columns")
    desc = ModelDesc.from_formula(formula)
    terms = [t for t in desc.rhs_termlist if t != INTERCEPT]
    if intercept and not terms:
        return RandomTermSpec("1", groups, label=name)
    if not intercept and len(terms) == 1:
        cats, nums = [], []
        for factor in terms[0].factors:
            code = factor.name().strip()
            m = _C_NAME.match(code)
            if m:
                cats.append(m.group(1))
            elif (data is not None and _BARE_NAME.match(code) and code in data.columns
                  and not pd.api.types.is_numeric_dtype(data[code])):
                cats.append(code)            # patsy treats it as categorical too
            else:
                nums.append(code)
        e = "1" if not nums else "0 + " + ":".join(nums)
        return RandomTermSpec(e, ":".join([groups] + cats), label=name)
    if allow_vc:
        return RandomTermSpec(expr, groups, correlated=False, label=name, vc=True)
    raise NotImplementedError(
        f"{context} = {formula!r} cannot be written as an lme4 term: supported are "
        "'0 + C(var)' (== (1 | g:var)), '0 + x' (== (0 + x | g)) and '0 + C(var):x' "
        "(== (0 + x | g:var)); pass allow_vc=True to get a variance-component term "
        "(columns independent with one shared variance)")


def terms_from_mixedlm(groups: str, re_formula: str | None = None,
                       vc_formula: Mapping[str, str] | None = None, *,
                       data: pd.DataFrame | None = None,
                       allow_vc: bool = False) -> list[RandomTermSpec]:
    """Random-effects terms equivalent to statsmodels ``MixedLM.from_formula`` keywords.

    Parameters
    ----------
    groups : str
        Name of the grouping column.
    re_formula : str, optional
        Random effects within ``groups`` with an unstructured covariance, e.g.
        ``"1 + x"`` -> ``(1 + x | groups)``.  Default: a random intercept
        ``(1 | groups)`` if ``vc_formula`` is None, otherwise none (as MixedLM).
    vc_formula : dict of str -> str, optional
        Variance components nested in ``groups`` (sorted by name, as MixedLM).
        Translations: ``"0 + C(c)"`` -> ``(1 | groups:c)``, ``"0 + x"`` ->
        ``(0 + x | groups)``, ``"0 + C(c):x"`` -> ``(0 + x | groups:c)``.  Factors
        not written ``C(name)`` are taken as numeric unless ``data`` shows a
        non-numeric column of that name.
    data : DataFrame, optional
        Only used to recognise categorical columns in ``vc_formula``.
    allow_vc : bool
        For other ``vc_formula`` entries (several terms, an intercept) return a
        ``RandomTermSpec`` with ``vc=True``: the columns of its design are
        independent random effects within each group sharing one variance.

    Returns
    -------
    list of RandomTermSpec

    Raises
    ------
    TypeError
        If ``groups`` is not a column name.
    NotImplementedError
        A ``vc_formula`` entry without lme4 equivalent and ``allow_vc=False``.

    Examples
    --------
    >>> from metamodels.formula.terms import terms_from_mixedlm
    >>> [str(t) for t in terms_from_mixedlm("g", re_formula="1 + x",
    ...                                      vc_formula={"c": "0 + C(c)"})]
    ['(1 + x | g)', '(1 | g:c)']
    """
    if not isinstance(groups, str):
        raise TypeError("groups must be the name of a column of data; add an array of "
                        "group labels to the data frame first")
    if data is not None:
        data = _as_frame(data)
    specs = []
    if re_formula is None and vc_formula is None:
        re_formula = "1"
    if re_formula is not None:
        expr, _, _ = _canonical_expr(re_formula, "re_formula")
        if expr:
            specs.append(RandomTermSpec(expr, groups, label=groups))
    for name in sorted(vc_formula or {}):
        specs.append(_vc_to_spec(name, vc_formula[name], groups, data, allow_vc))
    return _unique_labels(specs)
