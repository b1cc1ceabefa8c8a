"""HLM-software degrees of freedom (``ddf="hlm"``, issue 16 point 1): the df of the textbook
two-level models (Raudenbush and Bryk 2002), read from the data, in every test."""
import numpy as np
import pandas as pd
import pytest

import metamodels as mm
from metamodels.datasets import orthodont
from metamodels.exceptions import SpecificationError

K, M = 30, 8
N = K * M


@pytest.fixture(scope="module")
def two_level():
    """K groups of M: level-1 X, level-2 W (constant within group), random slopes of X."""
    rng = np.random.default_rng(16)
    g = np.repeat(np.arange(K), M)
    W = rng.normal(size=K)[g]
    X = rng.normal(size=N)
    y = (1 + X + 0.5 * W + 0.3 * X * W + rng.normal(size=K)[g]
         + 0.5 * rng.normal(size=K)[g] * X + rng.normal(size=N))
    return pd.DataFrame({"y": y, "X": X, "W": W, "g": [f"s{i:02d}" for i in g]})


# textbook models and the df HLM prints (issue 16), coefficient by coefficient
TEXTBOOK = [
    ("null model", "y ~ 1 + (1 | g)", {"Intercept": K - 1}),
    ("intercepts as outcomes", "y ~ W + (1 | g)", {"Intercept": K - 2, "W": K - 2}),
    ("one-way ANCOVA, random effects", "y ~ X + (1 | g)", {"Intercept": K - 1, "X": N - 2}),
    ("random coefficients", "y ~ X + (X | g)", {"Intercept": K - 1, "X": K - 1}),
    ("contextual, fixed slope", "y ~ X + W + (1 | g)",
     {"Intercept": K - 2, "X": N - 3, "W": K - 2}),
    ("contextual, random slope", "y ~ X + W + (X | g)",
     {"Intercept": K - 2, "X": K - 1, "W": K - 2}),
    ("full, cross-level X:W", "y ~ X * W + (X | g)",
     {"Intercept": K - 2, "X": K - 2, "W": K - 2, "X:W": K - 2}),
]


@pytest.mark.parametrize("name,formula,expected", TEXTBOOK, ids=[t[0] for t in TEXTBOOK])
def test_textbook_models(two_level, name, formula, expected):
    res = mm.MixedModel.from_formula(formula, two_level).fit(ddf="hlm")
    assert res.df_fixed().to_dict() == {k: float(v) for k, v in expected.items()}
    tab = res.coef_table(ddf="hlm")
    np.testing.assert_array_equal(tab["df"].to_numpy(), list(expected.values()))
    # t tests, intervals and p-values use the same df
    for j, (coef, df) in enumerate(expected.items()):
        tt = res.t_test(f"{coef} = 0")
        assert float(np.squeeze(tt.df_denom)) == df
        assert float(np.squeeze(tt.pvalue)) == pytest.approx(tab["P>|t|"].iloc[j], rel=1e-12)
    # anova: each term's F test with that term's df
    if len(expected) > 1:
        a = res.anova(type=3)
        for term in a.index:
            assert a.loc[term, "den_df"] == expected[term]


def test_fixed_slope_cross_level_interaction_counts_every_coefficient(two_level):
    # X:W in the model of a non-random slope: N - (all four fixed coefficients)
    res = mm.MixedModel.from_formula("y ~ X * W + (1 | g)", two_level).fit()
    df = res.df_fixed(ddf="hlm")
    assert df["X"] == df["X:W"] == N - 4
    assert df["Intercept"] == df["W"] == K - 2


def test_levels_read_from_the_data_not_the_names(two_level):
    # a level-2 variable built from group means (the "contextual" mean of X) is level 2
    d = two_level.assign(Xbar=two_level.groupby("g")["X"].transform("mean"))
    d["Xc"] = d["X"] - d["Xbar"]
    res = mm.MixedModel.from_formula("y ~ Xc + Xbar + (Xc | g)", d).fit()
    assert res.df_fixed(ddf="hlm").to_dict() == {"Intercept": K - 2, "Xc": K - 1,
                                                  "Xbar": K - 2}


def test_orthodont_factor_level2_and_summary():
    d = orthodont.load()
    res = mm.MixedModel.from_formula("distance ~ age * Sex + (age | Subject)", d).fit()
    df = res.df_fixed(ddf="hlm")
    # 27 children; Sex is level 2 (one column): every coefficient 27 - 1 - 1
    assert (df == 25).all()
    text = str(res.summary(ddf="hlm"))
    assert "hlm" in text and "25.0000" in text
    f = res.f_test("age:Sex[T.Male] = 0", ddf="hlm")
    assert float(np.squeeze(f.df_denom)) == 25
    # a level-1 slope without random effect: 108 - 4
    res2 = mm.MixedModel.from_formula("distance ~ age * Sex + (1 | Subject)", d).fit()
    assert res2.df_fixed(ddf="hlm")["age"] == 104


def test_level1_factor_with_random_slope():
    d = mm.datasets.load("fev_sim")
    res = mm.MixedModel.from_formula("fev ~ C(drug) + hour + (1 + hour | patient)", d).fit()
    df = res.df_fixed(ddf="hlm")
    assert df["hour"] == 24 - 1                # random slope, nothing at level 2
    assert df["C(drug)[T.c]"] == df["C(drug)[T.p]"] == len(d) - 4
    assert df["Intercept"] == 24 - 1


@pytest.mark.filterwarnings("ignore::metamodels.exceptions.BoundaryWarning")
def test_refusals(two_level):
    d = two_level.assign(h=np.tile(np.arange(M), K).astype(str))
    crossed = mm.MixedModel.from_formula("y ~ X + (1 | g) + (1 | h)", d).fit()
    with pytest.raises(SpecificationError, match="two-level"):
        crossed.df_fixed(ddf="hlm")
    rep = mm.MixedModel.from_formula("y ~ X", d, repeated="h", subject="g",
                                     cov_struct="CS").fit()
    with pytest.raises(SpecificationError, match="no random effects"):
        rep.coef_table(ddf="hlm")
    few = mm.MixedModel.from_formula("y ~ W + (1 | g)", two_level.iloc[:3 * M]).fit()
    assert few.df_fixed(ddf="hlm")["W"] == 1
    with pytest.raises(SpecificationError, match="too few groups"):
        mm.MixedModel.from_formula("y ~ W + I(W**2) + (1 | g)",
                                   two_level.iloc[:3 * M]).fit().df_fixed(ddf="hlm")
