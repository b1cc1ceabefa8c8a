"""Non-identified MixedModel fits are refused (as lme4's lFormula checks refuse them) and
a collapsed residual variance warns (issue 12 point 2, MixedModel part)."""
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import metamodels as mm
from metamodels.core.likelihood import NotPositiveDefiniteError
from metamodels.exceptions import (DegenerateFitWarning, MetaModelsWarning, NotIdentifiedError,
                                   IdentificationWarning, SpecificationError)

F = "Reaction ~ Days + (1 | Subject)"


def test_not_identified_is_a_specification_error():
    assert issubclass(NotIdentifiedError, SpecificationError)
    assert issubclass(DegenerateFitWarning, MetaModelsWarning)


def test_one_level_grouping_factor_is_refused(sleepstudy):
    """Was: variance 50.35, Days SE 33.8 (OLS 1.24), df 9.8e7.  lme4: 'grouping factors
    must have > 1 sampled level'."""
    d = sleepstudy.copy()
    d["Subject"] = 1
    with pytest.raises(NotIdentifiedError, match=r"'Subject'.*\(1 \| Subject\).*single level"):
        mm.MixedModel.from_formula(F, d)
    with pytest.raises(NotIdentifiedError, match="single level"):
        mm.MixedModel(d["Reaction"], np.column_stack([np.ones(len(d)), d["Days"]]),
                      groups=d["Subject"])
    with pytest.raises(NotIdentifiedError, match=r"\(1 \+ Days \| Subject\)"):
        mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", d)


def test_one_observation_per_group_is_refused(sleepstudy):
    d = sleepstudy.groupby("Subject").sample(1, random_state=1)
    with pytest.raises(NotIdentifiedError, match="18 levels for 18 observations.*only their sum"):
        mm.MixedModel.from_formula(F, d)


def test_repeated_with_one_visit_per_subject_and_random_intercept_is_refused(sleepstudy):
    d = sleepstudy.groupby("Subject").sample(1, random_state=2)
    with pytest.raises(NotIdentifiedError, match="one observation per level"):
        mm.MixedModel.from_formula(F, d, subject="Subject", repeated="Days", cov_struct="VC")


def test_r_side_covariances_with_one_observation_per_subject_are_refused(sleepstudy):
    d = sleepstudy.groupby("Subject").sample(1, random_state=3)
    for struct in ("CS", "UN", "AR1"):
        with pytest.raises(NotIdentifiedError, match=f"{struct} structure has one observation"):
            mm.MixedModel.from_formula("Reaction ~ Days", d, subject="Subject", repeated="Days",
                                       cov_struct=struct)


def test_r_side_structure_on_a_single_subject_is_refused(sleepstudy):
    d = sleepstudy[sleepstudy["Subject"] == sleepstudy["Subject"].iloc[0]]
    with pytest.raises(NotIdentifiedError, match="UN structure has a single subject"):
        mm.MixedModel.from_formula("Reaction ~ Days", d, subject="Subject", repeated="Days",
                                   cov_struct="UN")
    # one long AR(1) series is a valid time-series model
    r = mm.MixedModel.from_formula("Reaction ~ Days", d, subject="Subject", repeated="Days",
                                   cov_struct="AR1")
    assert r.nobs == 10


def test_no_residual_degrees_of_freedom_is_refused(sleepstudy):
    d = sleepstudy.iloc[:4].copy()
    d["g"] = [1, 1, 2, 2]
    with pytest.raises(NotIdentifiedError, match="4 observation.*4 fixed-effects.*no residual"):
        mm.MixedModel.from_formula("Reaction ~ C(Days) + (1 | g)", d)


def test_more_random_effects_than_observations_warns(sleepstudy):
    """lme4 stops (check.nobs.vs.nRE); SAS fits such models (its asthma example's model 5):
    the likelihood and fixed effects are identified, the variance parameters are not."""
    d = sleepstudy.iloc[:20].copy()
    d["g"] = np.repeat(np.arange(10), 2)
    with pytest.warns(IdentificationWarning, match=r"\(20\) <= number of random effects \(20\)"):
        mm.MixedModel.from_formula("Reaction ~ Days + (Days | g)", d)


@pytest.mark.parametrize("struct", ["CS", "UN", "TOEP"])
def test_random_intercept_confounded_with_r_side_structure(sleepstudy, struct):
    with pytest.raises(NotIdentifiedError, match=f"R-side {struct} structure act on the same"):
        mm.MixedModel.from_formula(F, sleepstudy, subject="Subject", repeated="Days",
                                   cov_struct=struct)


def test_identified_combinations_still_fit(sleepstudy):
    with warnings.catch_warnings():
        warnings.simplefilter("error", MetaModelsWarning)
        ar = mm.MixedModel.from_formula(F, sleepstudy, subject="Subject", repeated="Days",
                                        cov_struct="AR1").fit()
        rs = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleepstudy).fit()
    assert np.isfinite(ar.llf) and np.isfinite(rs.llf)


def test_checks_can_be_switched_off_as_in_lme4_control(sleepstudy):
    d = sleepstudy.groupby("Subject").sample(1, random_state=1)
    m = mm.MixedModel.from_formula(F, d, check_identified=False)
    assert m.nobs == 18


def test_outcome_constant_within_groups_warns(sleepstudy):
    """Was: residual variance 4e-14 without a word."""
    d = sleepstudy.copy()
    d["Reaction"] = d.groupby("Subject")["Reaction"].transform("mean")
    with pytest.warns(DegenerateFitWarning, match="residual variance collapsed"):
        mm.MixedModel.from_formula("Reaction ~ 1 + (1 | Subject)", d).fit()


def test_exact_fit_in_one_cov_group_warns_with_its_name(sleepstudy):
    d = sleepstudy.copy()
    d["half"] = np.where(d["Subject"].astype(int) % 2 == 0, "even", "odd")
    even = d["half"] == "even"
    d.loc[even, "Reaction"] = 253.0 + 10.0 * d.loc[even, "Days"]      # fitted exactly
    with pytest.warns(DegenerateFitWarning, match="cov_group 'even'"):
        mm.MixedModel.from_formula(F, d, subject="Subject", cov_group="half").fit()


def test_constant_outcome_is_refused(sleepstudy):
    with pytest.raises(NotIdentifiedError, match="outcome is constant"):
        mm.MixedModel.from_formula(F, sleepstudy.assign(Reaction=5.0))


@pytest.mark.filterwarnings("ignore::metamodels.exceptions.BoundaryWarning")
def test_exact_linear_fit_warns(sleepstudy):
    with pytest.warns(DegenerateFitWarning, match="collapsed"):
        mm.MixedModel.from_formula(F, sleepstudy.assign(Reaction=3 + 2 * sleepstudy["Days"])).fit()


@st.composite
def _small_mixed_data(draw):
    n = draw(st.integers(0, 20))
    g = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    y = draw(st.lists(st.one_of(st.floats(-1e3, 1e3), st.sampled_from([0.0, 1.0])),
                      min_size=n, max_size=n))
    x = np.asarray(draw(st.lists(st.floats(-10, 10), min_size=n, max_size=n)), dtype=float)
    return pd.DataFrame({"y": y, "x": x * 10.0 ** draw(st.integers(-8, 12)), "g": g})


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(_small_mixed_data())
def test_small_random_data_end_in_a_metamodels_error_or_a_finite_fit(df):
    """Empty, one-row, one-level, one-per-group, tied, constant and badly scaled data:
    a metamodels exception with a message, or finite estimates; never a raw numpy error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = mm.MixedModel.from_formula("y ~ x + (1 | g)", df).fit()
        except (SpecificationError, NotPositiveDefiniteError) as exc:
            assert str(exc)
            return
    assert np.all(np.isfinite(res.params)) and np.isfinite(res.llf)
