"""Messages that do not mislead (issue 12 point 7): every model class refuses bad input
with a SpecificationError naming the argument or column and the rows
(metamodels/formula/checks.py is the one place for these rules)."""
import warnings

import numpy as np
import pandas as pd
import pytest

import metamodels as mm
from metamodels.bayes import priors
from metamodels.exceptions import DesignScaleWarning, MissingDataWarning, SpecificationError
from metamodels.formula.checks import column_scales, design_rank


@pytest.fixture(scope="module")
def es():
    d = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos",
                       di="cneg")
    d.index = d.index + 100          # row labels differ from positions
    d["trial"] = np.arange(len(d))
    return d


@pytest.fixture(scope="module")
def sleep():
    return mm.datasets.load("sleepstudy")


HALF = priors.HalfNormal(0.5)


# ------------------------------------------------------- statsmodels' (y, X) habit
@pytest.mark.parametrize("make", [
    lambda y, X: mm.MetaRandom(y, X),
    lambda y, X: mm.MetaFixed(y, X),
    lambda y, X: mm.MetaFixed(y, pd.DataFrame(X, columns=["const", "ablat"])),
    lambda y, X: mm.BayesMeta(y, X, tau_prior=HALF),
])
def test_exog_passed_as_vi_says_what_happened(es, make):
    X = np.column_stack([np.ones(len(es)), es["ablat"]])
    with pytest.raises(SpecificationError, match=r"second argument .* is vi.*not exog.*exog=X"):
        make(es["yi"], X)


# ------------------------------------------------------------ infinite values
def _with(df, col, row, value):
    out = df.copy()
    out[col] = out[col].astype(object if isinstance(value, str) else float)
    out.loc[row, col] = value
    return out


@pytest.mark.parametrize("make", [
    lambda d: mm.MetaRandom.from_formula("yi ~ 1", d, vi="vi"),
    lambda d: mm.MetaRandom(d["yi"], d["vi"], missing="drop"),
    lambda d: mm.MetaMixed.from_formula("yi ~ 1 + (1 | trial)", d, vi="vi"),
    lambda d: mm.BayesMeta(d["yi"], d["vi"], tau_prior=HALF, missing="drop"),
])
def test_infinite_outcome_is_not_called_missing(es, make):
    d = _with(es, "yi", 103, np.inf)
    with pytest.raises(SpecificationError, match=r"infinite.*row\(s\) \[103\].*not missing"):
        make(d)


@pytest.mark.parametrize("make", [
    lambda d: mm.MetaRandom.from_formula("yi ~ 1", d, vi="vi"),
    lambda d: mm.MetaFixed(d["yi"], d["vi"], missing="drop"),
    lambda d: mm.MetaMixed.from_formula("yi ~ 1 + (1 | trial)", d, vi="vi"),
    lambda d: mm.MetaMixed(d["yi"], np.ones((len(d), 1)), [], vi=d["vi"]),
    lambda d: mm.LocationScaleMeta.from_formula("yi ~ 1", d, vi="vi"),
    lambda d: mm.BayesMeta(d["yi"], d["vi"], tau_prior=HALF, missing="drop"),
])
def test_infinite_sampling_variance_is_an_error_not_a_drop(es, make):
    d = _with(es, "vi", 105, np.inf)
    with pytest.raises(SpecificationError, match=r"non-finite \(infinite\).*\[105\]"):
        make(d)


def test_missing_sampling_variance_is_still_dropped(es):
    d = _with(es, "vi", 105, np.nan)
    with pytest.warns(MissingDataWarning, match="1 row"):
        m = mm.MetaRandom.from_formula("yi ~ 1", d, vi="vi")
    assert m.nobs == len(es) - 1


def test_infinite_outcome_in_mixed_and_panel_models(sleep):
    d = sleep.copy()
    d.loc[7, "Reaction"] = -np.inf
    with pytest.raises(SpecificationError, match=r"\(infinite\) outcome values in row\(s\) \[7\]"):
        mm.MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", d)
    with pytest.raises(SpecificationError, match=r"\(infinite\) outcome values in row\(s\) \[7\]"):
        mm.PanelModel.from_formula("Reaction ~ Days", d, entity="Subject")
    with pytest.raises(SpecificationError, match=r"\(infinite\) outcome values.*\[7\]"):
        mm.PanelModel(d["Reaction"], np.column_stack([np.ones(len(d)), d["Days"]]),
                      entity=d["Subject"], missing="drop")


# ------------------------------------------------------------------ text cells
@pytest.mark.parametrize("make", [
    lambda d: mm.MetaRandom.from_formula("yi ~ 1", d, vi="vi"),
    lambda d: mm.MetaMixed.from_formula("yi ~ 1 + (1 | trial)", d, vi="vi"),
    lambda d: mm.LocationScaleMeta.from_formula("yi ~ 1", d, vi="vi"),
    lambda d: mm.MetaRandom(d["yi"], d["vi"]),
])
def test_text_in_vi_names_the_column_and_row(es, make):
    d = _with(es, "vi", 104, "0.1O")
    with pytest.raises(SpecificationError, match=r"vi.*must be numeric: row\(s\) \[104\].*0\.1O"):
        make(d)


def test_text_in_the_response_names_the_column_and_row(es, sleep):
    with pytest.raises(SpecificationError, match=r"'yi' must be numeric: row\(s\) \[102\]"):
        mm.MetaRandom.from_formula("yi ~ 1", _with(es, "yi", 102, "n/a?"), vi="vi")
    with pytest.raises(SpecificationError, match=r"'Reaction' must be numeric.*\[4\]"):
        mm.MixedModel.from_formula("Reaction ~ Days + (1 | Subject)",
                                   _with(sleep, "Reaction", 4, "x"))


def test_text_in_array_exog_names_the_column():
    X = np.array([[1, 0.5], [1, "a"], [1, 2.0], [1, 3.0]], dtype=object)
    with pytest.raises(SpecificationError, match=r"exog column 1 must be numeric: row\(s\) \[1\]"):
        mm.MetaRandom([0.1, 0.2, 0.3, 0.4], [0.1] * 4, exog=X)


# ----------------------------------------------------------------- no rows
@pytest.mark.parametrize("make", [
    lambda d, s: mm.MetaFixed.from_formula("yi ~ 1", d, vi="vi"),
    lambda d, s: mm.MetaRandom.from_formula("yi ~ ablat", d, vi="vi"),
    lambda d, s: mm.MetaMixed.from_formula("yi ~ 1 + (1 | trial)", d, vi="vi"),
    lambda d, s: mm.LocationScaleMeta.from_formula("yi ~ 1", d, vi="vi"),
    lambda d, s: mm.MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", s),
    lambda d, s: mm.PanelModel.from_formula("Reaction ~ Days", s, entity="Subject"),
    lambda d, s: mm.MetaRandom(d["yi"].to_numpy(), d["vi"].to_numpy()),
    lambda d, s: mm.BayesMeta(d["yi"].to_numpy(), d["vi"].to_numpy(), tau_prior=HALF),
    lambda d, s: mm.MixedModel(s["Reaction"].to_numpy(), np.ones((0, 1)),
                               groups=s["Subject"].to_numpy()),
])
def test_empty_data_says_no_observations(es, sleep, make):
    with pytest.raises(SpecificationError, match="no observations"):
        make(es.iloc[:0], sleep.iloc[:0])


def test_everything_dropped_says_no_observations(es):
    d = es.assign(yi=np.nan)
    with pytest.raises(SpecificationError, match="no observations.*after dropping"):
        mm.MetaRandom.from_formula("yi ~ 1", d, vi="vi")


# ------------------------------------------------------- scale-free rank checks
def test_rank_is_scale_free():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(50), rng.normal(size=50) * 1e12, rng.normal(size=50) * 1e-9])
    assert design_rank(X) == 3
    assert design_rank(np.column_stack([X, 2 * X[:, 1]])) == 3
    d = column_scales(X)
    assert np.all(np.log2(d) == np.round(np.log2(d)))          # powers of two: exact


def test_mixed_model_predictor_times_1e12_fits_with_a_scale_warning(sleep):
    """Was: called rank deficient.  lme4 fits it with a rescaling warning."""
    base = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleep).fit()
    big = sleep.assign(DaysBig=sleep["Days"] * 1e12)
    with pytest.warns(DesignScaleWarning, match="'DaysBig'"):
        res = mm.MixedModel.from_formula("Reaction ~ DaysBig + (Days | Subject)", big).fit()
    np.testing.assert_allclose(res.params.to_numpy() * [1, 1e12], base.params, rtol=1e-8)
    np.testing.assert_allclose(res.bse.to_numpy() * [1, 1e12], base.bse, rtol=1e-7)
    np.testing.assert_allclose(res.theta, base.theta, rtol=1e-7)
    # REML: -1/2 log|X'V^-1X| changes by -log(1e12) when a column is multiplied by 1e12
    assert res.llf == pytest.approx(base.llf - np.log(1e12), rel=1e-10)
    assert float(res.df_fixed().iloc[1]) == pytest.approx(float(base.df_fixed().iloc[1]),
                                                          rel=1e-6)


def test_meta_regression_predictor_times_1e12_fits_with_a_scale_warning(es):
    base = mm.MetaRandom.from_formula("yi ~ ablat", es, vi="vi").fit()
    with pytest.warns(DesignScaleWarning):
        res = mm.MetaRandom.from_formula("yi ~ ablat", es.assign(ablat=es["ablat"] * 1e12),
                                         vi="vi").fit()
    np.testing.assert_allclose(res.params.to_numpy() * [1, 1e12], base.params, rtol=1e-8)
    assert res.tau2 == pytest.approx(base.tau2, rel=1e-8)


def test_ordinary_designs_do_not_warn(es, sleep):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DesignScaleWarning)
        mm.MetaRandom.from_formula("yi ~ ablat + year", es, vi="vi").fit()
        mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleep).fit()


def test_sampling_variances_outside_the_double_range_are_refused():
    import numpy as np
    import pytest
    import metamodels as mm
    from metamodels.exceptions import SpecificationError
    with pytest.raises(SpecificationError, match="outside"):
        mm.MetaRandom(np.array([0.1, 0.5, 0.3]), np.array([1e-300, 0.02, 0.05]))
    with pytest.raises(SpecificationError, match="outside"):
        mm.MetaFixed(np.array([0.1, 0.5, 0.3]), np.array([1e150, 0.02, 0.05]))
