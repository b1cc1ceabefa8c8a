"""lme4-style random-effects terms: parsing, design matrices, MixedLM keywords, blocks."""
import time

import numpy as np
import pandas as pd
import pytest

from metamodels.formula.terms import (RandomTermDesign, RandomTermSpec, build_random_design,
                                      connected_blocks, split_formula, terms_from_mixedlm)

S = RandomTermSpec


@pytest.fixture
def df():
    return pd.DataFrame({
        "y": [1.0, 2.0, 0.5, 1.5, 3.0, 2.5, 1.0, 0.0],
        "x": [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0],
        "f": list("abcabcab"),
        "g": list("qpqpqpqp"),
        "a": [1, 1, 1, 2, 2, 2, 3, 3],
        "b": list("uvuvuvuu"),
    })


# ----------------------------------------------------------------- parsing
def test_full_example():
    fixed, terms = split_formula(
        "y ~ x + C(drug) + (1 | g) + (x | g) + (1 + x || g) + (0 + x | g) + (1 | a/b)"
        " + (1 | a:b) + (1 | a) + (1 | b)")
    assert fixed == "y ~ x + C(drug)"
    assert [(t.expr, t.group, t.correlated) for t in terms] == [
        ("1", "g", True), ("1 + x", "g", True),
        ("1", "g", True), ("0 + x", "g", True),          # || expanded
        ("0 + x", "g", True),
        ("1", "a", True), ("1", "a:b", True),            # a/b expanded
        ("1", "a:b", True), ("1", "a", True), ("1", "b", True)]
    assert [t.label for t in terms] == ["g", "g.1", "g.2", "g.3", "g.4", "a", "a:b",
                                        "a:b.1", "a.1", "b"]
    assert all(not t.vc for t in terms)


@pytest.mark.parametrize("lhs, expr", [
    ("1", "1"), ("x", "1 + x"), ("1 + x", "1 + x"), ("1+x", "1 + x"), ("0 + x", "0 + x"),
    ("-1 + x", "0 + x"), ("x - 1", "0 + x"), ("x * z", "1 + x + z + x:z"),
    ("log(x)", "1 + log(x)"), ("np.log( x ) + C(f)", "1 + np.log(x) + C(f)"),
    ("0 + C(f)", "0 + C(f)"), ("I(x**2)", "1 + I(x ** 2)"),
])
def test_term_expressions(lhs, expr):
    fixed, (term,) = split_formula(f"y ~ x + ({lhs} | g)")
    assert fixed == "y ~ x"
    assert term.expr == expr and term.group == "g" and term.correlated


@pytest.mark.parametrize("formula, fixed", [
    ("y ~ (1 | g)", "y ~ 1"),
    ("y ~ 0 + (1 | g)", "y ~ 0"),
    ("y ~ -1 + (1 | g)", "y ~ -1"),
    ("y ~ (1 | g) - 1", "y ~ -1"),
    ("y ~ (1|g)+x+(x|h)+z", "y ~ x + z"),
    ("y ~ x*z + (1 | g)", "y ~ x*z"),
    ("y ~ I(a | b) + ((1 | g))", "y ~ I(a | b)"),
    ('y ~ C(f, levels=["(a", "b|"]) + (1 | g)', 'y ~ C(f, levels=["(a", "b|"])'),
    ("~ x + (1 | g)", "~ x"),
    ("x + (1 | g)", "x"),
    ("np.log(y) ~ (x + z) + (1 | g)", "np.log(y) ~ (x + z)"),
])
def test_fixed_part(formula, fixed):
    got, terms = split_formula(formula)
    assert got == fixed
    assert terms[0] == S("1", "g")


def test_nested_parentheses_in_term():
    _, (t,) = split_formula("y ~ (log(x) + I((x - 1) ** 2) | g)")
    assert t.expr == "1 + log(x) + I((x - 1) ** 2)"


def test_nested_expansion():
    _, terms = split_formula("y ~ (1 | a/b/c)")
    assert [t.group for t in terms] == ["a", "a:b", "a:b:c"]
    _, terms = split_formula("y ~ (x | a:b/c)")
    assert [(t.expr, t.group) for t in terms] == [("1 + x", "a:b"), ("1 + x", "a:b:c")]
    assert split_formula("y ~ (1 | a/b)")[1] == split_formula("y ~ (1 | a) + (1 | a:b)")[1]


def test_grouping_wrappers():
    _, terms = split_formula('y ~ (1 | C(g)) + (1 | factor(h)/Q("my col"))')
    assert [t.group for t in terms] == ["g", "h", "h:my col"]
    assert terms[2].factors == ("h", "my col")


def test_double_bar_expansion():
    _, terms = split_formula("y ~ (1 + x || g)")
    assert terms == [S("1", "g", label="g"), S("0 + x", "g", label="g.1")]
    _, terms = split_formula("y ~ (x + z || g)")          # implicit intercept, as lme4
    assert [t.expr for t in terms] == ["1", "0 + x", "0 + z"]
    _, terms = split_formula("y ~ (0 + x + z || g)")
    assert [t.expr for t in terms] == ["0 + x", "0 + z"]
    _, terms = split_formula("y ~ (1 + C(f) || g)")       # factor stays one term (lme4)
    assert [t.expr for t in terms] == ["1", "0 + C(f)"]
    _, terms = split_formula("y ~ (1 + x || a/b)")
    assert [(t.expr, t.group) for t in terms] == [("1", "a"), ("1", "a:b"),
                                                  ("0 + x", "a"), ("0 + x", "a:b")]


def test_double_bar_unexpanded():
    _, terms = split_formula("y ~ (1 + x || g)", expand_double_bar=False)
    assert terms == [S("1 + x", "g", correlated=False)]
    assert str(terms[0]) == "(1 + x || g)"


def test_str_and_label_default():
    t = S("1 + x", "a:b")
    assert t.label == "a:b" and str(t) == "(1 + x | a:b)" and t.factors == ("a", "b")


@pytest.mark.parametrize("formula, match", [
    ("y ~ x + (1 | g", "unbalanced parentheses"),
    ("y ~ x) + (1 | g)", "unbalanced parentheses"),
    ("y ~ (1 | )", "empty grouping"),
    ("y ~ (1 || )", "empty grouping"),
    ("y ~ (1 | a/)", "empty grouping factor"),
    ("y ~ (1 | a:)", "empty grouping factor"),
    ("y ~ ( | g)", "nothing on the left"),
    ("y ~ (|| g)", "nothing on the left"),
    ("y ~ (0 | g)", "no columns"),
    ("y ~ x:(1 | g)", "separate"),
    ("y ~ (x + (1 | g))", "separate"),
    ("y ~ x - (1 | g)", "subtract"),
    ("y ~ (1 | a + b)", "unsupported operator"),
    ("y ~ (1 | a | b)", "more than one"),
    ("y ~ x ~ z", "more than one"),
    ("y ~ (x ~ z | g)", "cannot parse|must not"),
    ('y ~ C(f, levels=["a]) + (1|g)', "unterminated"),
])
def test_errors(formula, match):
    with pytest.raises(ValueError, match=match):
        split_formula(formula)


def test_not_a_string():
    with pytest.raises(TypeError):
        split_formula(None)


# ---------------------------------------------------------------- designs
def test_design_columns(df):
    _, terms = split_formula("y ~ (1 + x | g) + (0 + C(f) | a) + (C(f) | g) + (1 | a:b)")
    d1, d2, d3, d4 = build_random_design(terms, df)
    assert isinstance(d1, RandomTermDesign)
    n = len(df)
    assert d1.column_names == ["(Intercept)", "x"]
    np.testing.assert_array_equal(d1.Z, np.column_stack([np.ones(n), df.x]))
    assert d1.Z.dtype == float and d1.n_columns == 2
    np.testing.assert_array_equal(d1.groups, (df.g == "q").astype(int))
    assert d1.levels == ["p", "q"] and d1.n_levels == 2

    assert d2.column_names == ["C(f)[a]", "C(f)[b]", "C(f)[c]"]
    np.testing.assert_array_equal(d2.Z, np.column_stack([df.f == v for v in "abc"]))
    np.testing.assert_array_equal(d2.groups, df.a - 1)
    assert d2.levels == [1, 2, 3]

    assert d3.column_names == ["(Intercept)", "C(f)[T.b]", "C(f)[T.c]"]
    np.testing.assert_array_equal(
        d3.Z, np.column_stack([np.ones(n), df.f == "b", df.f == "c"]))

    assert d4.column_names == ["(Intercept)"]
    np.testing.assert_array_equal(d4.Z, np.ones((n, 1)))


def test_interaction_codes(df):
    _, terms = split_formula("y ~ (1 | a/b)")
    da, dab = build_random_design(terms, df)
    assert da.levels == [1, 2, 3]
    assert dab.levels == [(1, "u"), (1, "v"), (2, "u"), (2, "v"), (3, "u")]
    np.testing.assert_array_equal(dab.groups, [0, 1, 0, 3, 2, 3, 4, 4])
    assert dab.n_levels == 5
    for code, lev in zip(dab.groups, zip(df.a, df.b)):
        assert dab.levels[code] == lev
    # match_levels on new data (-1 for unseen)
    new = pd.DataFrame({"a": [3, 2, 9], "b": ["u", "v", "u"]})
    np.testing.assert_array_equal(dab.match_levels(new), [4, 3, -1])
    np.testing.assert_array_equal(da.match_levels(new), [2, 1, -1])


def test_categorical_group_and_levels_sorted():
    data = pd.DataFrame({"g": pd.Categorical(["z", "y", "z"], categories=["z", "y", "w"]),
                         "h": [3.0, 1.0, 2.0]})
    dg, dh = build_random_design([S("1", "g"), S("1", "h")], data)
    assert dg.levels == ["z", "y"] and dg.n_levels == 2     # category order, unused dropped
    np.testing.assert_array_equal(dg.groups, [0, 1, 0])
    assert dh.levels == [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(dh.groups, [2, 0, 1])


def test_design_info_for_new_data(df):
    import patsy
    (d,) = build_random_design([S("0 + C(f)", "g")], df)
    Znew = patsy.dmatrix(d.design_info, pd.DataFrame({"f": ["c", "a"]}))
    np.testing.assert_array_equal(np.asarray(Znew), [[0, 0, 1], [1, 0, 0]])


def test_design_errors(df):
    with pytest.raises(ValueError, match="'nope' .* not a column"):
        build_random_design([S("1", "nope")], df)
    with pytest.raises(ValueError, match="'zz'|zz"):
        build_random_design([S("1 + zz", "g")], df)
    bad = df.copy()
    bad.loc[2, "g"] = None
    with pytest.raises(ValueError, match="'g' .* 1 missing"):
        build_random_design([S("1", "g")], bad)
    bad = df.copy()
    bad.loc[2, "x"] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        build_random_design([S("1 + x", "g")], bad)


# ------------------------------------------------------------- MixedLM keywords
def test_mixedlm_re_formula():
    assert terms_from_mixedlm("g") == [S("1", "g")]
    assert terms_from_mixedlm("g", re_formula="1") == [S("1", "g")]
    assert terms_from_mixedlm("g", re_formula="1 + x") == [S("1 + x", "g")]
    assert terms_from_mixedlm("g", re_formula="x") == [S("1 + x", "g")]
    assert terms_from_mixedlm("g", re_formula="0 + x") == [S("0 + x", "g")]
    with pytest.raises(TypeError):
        terms_from_mixedlm(np.array([1, 2]))


def test_mixedlm_vc_translation():
    vc = {"cls": "0 + C(classroom)", "slope": "0 + x", "cx": "0 + C(c):x", "int": "1"}
    terms = terms_from_mixedlm("school", vc_formula=vc)    # no intercept: as MixedLM
    assert terms == [S("1", "school:classroom", label="cls"), S("0 + x", "school:c", label="cx"),
                     S("1", "school", label="int"), S("0 + x", "school", label="slope")]
    terms = terms_from_mixedlm("school", re_formula="1", vc_formula={"cls": "0 + C(classroom)"})
    assert terms == [S("1", "school"), S("1", "school:classroom", label="cls")]
    data = pd.DataFrame({"classroom": ["a", "b"], "x": [1.0, 2.0]})
    assert terms_from_mixedlm("s", vc_formula={"c": "0 + classroom"}, data=data) == [
        S("1", "s:classroom", label="c")]
    # label clash with the re term -> unique
    terms = terms_from_mixedlm("s", re_formula="1", vc_formula={"s": "0 + C(c)"})
    assert [t.label for t in terms] == ["s", "s.1"]


@pytest.mark.parametrize("formula", ["0 + x + z", "C(c)", "0 + C(a) + C(b)", "1 + x"])
def test_mixedlm_vc_unsupported(formula):
    with pytest.raises(NotImplementedError, match="allow_vc"):
        terms_from_mixedlm("g", vc_formula={"v": formula})
    (t,) = terms_from_mixedlm("g", vc_formula={"v": formula}, allow_vc=True)
    assert t.vc and not t.correlated and t.group == "g" and t.label == "v"


def _expanded(d):
    """Dense n x (n_levels * q) random-effects design of one term."""
    n, q = d.Z.shape
    out = np.zeros((n, d.n_levels * q))
    for j in range(q):
        out[np.arange(n), d.groups * q + j] = d.Z[:, j]
    return out


@pytest.mark.parametrize("vc", ["0 + C(classroom)", "0 + x", "0 + C(classroom):x"])
def test_mixedlm_vc_equivalent_to_statsmodels(vc):
    """Z Z' of the translated term equals statsmodels' variance-component Z Z'."""
    import statsmodels.api as sm
    rng = np.random.default_rng(1)
    n = 40
    data = pd.DataFrame({"school": rng.integers(0, 4, n), "classroom": rng.integers(0, 3, n),
                         "x": rng.normal(size=n), "y": rng.normal(size=n)})
    mod = sm.MixedLM.from_formula("y ~ 1", groups="school", re_formula="0 + x",
                                  vc_formula={"v": vc}, data=data)
    K_sm = np.zeros((n, n))
    for gi, lab in enumerate(mod.group_labels):
        rows = mod.row_indices[lab]
        M = np.asarray(mod.exog_vc.mats[0][gi])
        K_sm[np.ix_(rows, rows)] = M @ M.T
    (t,) = terms_from_mixedlm("school", vc_formula={"v": vc})
    (d,) = build_random_design([t], data)
    Zf = _expanded(d)
    np.testing.assert_allclose(Zf @ Zf.T, K_sm, atol=1e-12)
    # the re_formula term: same column as statsmodels' exog_re
    (r,) = build_random_design(terms_from_mixedlm("school", re_formula="0 + x"), data)
    np.testing.assert_allclose(r.Z, mod.exog_re)


# ---------------------------------------------------------------- blocks
def test_blocks_nested(df):
    _, terms = split_formula("y ~ (1 | a/b)")
    blocks = connected_blocks(build_random_design(terms, df))
    np.testing.assert_array_equal(blocks, df.a - 1)


def test_blocks_crossed():
    a = np.array([0, 0, 1, 1, 2, 2])
    b = np.array([0, 1, 1, 2, 2, 0])
    np.testing.assert_array_equal(connected_blocks([a, b]), np.zeros(6))


def test_blocks_independent_and_order():
    g = np.array([5, 5, 2, 7, 2, 7])                  # non-dense codes are fine
    np.testing.assert_array_equal(connected_blocks([g]), [0, 0, 1, 2, 1, 2])
    # a second factor that links levels 5 and 7 only
    h = np.array([0, 1, 2, 1, 3, 4])
    np.testing.assert_array_equal(connected_blocks([g, h]), [0, 0, 1, 0, 1, 0])
    # residual subject code joins otherwise separate rows
    subj = np.array([0, 1, 2, 3, 0, 5])
    np.testing.assert_array_equal(connected_blocks([g, h, subj]), np.zeros(6))


def test_blocks_no_terms_and_errors():
    np.testing.assert_array_equal(connected_blocks([], n_obs=3), [0, 1, 2])
    with pytest.raises(ValueError, match="n_obs"):
        connected_blocks([])
    with pytest.raises(ValueError, match="non-negative"):
        connected_blocks([np.array([0, -1])])
    with pytest.raises(ValueError, match="one entry per row"):
        connected_blocks([np.array([0, 1]), np.array([0, 1, 2])])
    with pytest.raises(ValueError, match="integer"):
        connected_blocks([np.array([0.5, 1.0])])


def test_blocks_million_rows():
    rng = np.random.default_rng(0)
    n = 1_000_000
    a = rng.integers(0, 20_000, n)
    b = a * 10 + rng.integers(0, 10, n)              # nested in a
    t0 = time.perf_counter()
    blocks = connected_blocks([a, b])
    elapsed = time.perf_counter() - t0
    assert blocks.shape == (n,)
    assert blocks.max() + 1 == len(np.unique(a))
    crossed = connected_blocks([a, rng.integers(0, 500, n)])
    assert crossed.max() == 0
    print(f"connected_blocks on {n} rows: {elapsed:.3f}s")
