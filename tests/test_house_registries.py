"""The registries of issue 13's house: covariance structures register themselves by SAS
name, df methods are objects registered by name, summaries are built in summary/."""
import numpy as np
import pytest

import metamodels as mm
from metamodels.core.structures import (STRUCTURES, UN, VC, ID, CS, AR1, TOEP, Structure,
                                        get_structure, psd_structure, register_structure)
from metamodels.core.structures import registry
from metamodels.core.structures.base import Linear
from metamodels.inference import ddf as ddfmod


@pytest.fixture
def scratch_structure():
    """A structure defined and registered in one place (removed again afterwards)."""
    @register_structure("SCRATCH", aliases=("SCR",))
    class SCRATCH(Linear):
        name = "SCRATCH"
        stationary = True

        def _names(self):
            return ("Residual",)

        def _basis(self):
            return 2.0 * np.eye(self.dim)[None]

        def start(self, variance=1.0):
            return np.array([1.0])

    yield SCRATCH
    STRUCTURES.pop("SCRATCH")
    registry._ALIASES.pop("SCR")
    registry._SPELLINGS.pop("SCRATCH")


def test_a_new_structure_is_one_registration(scratch_structure):
    s = get_structure("scr", 3)
    assert isinstance(s, scratch_structure)
    np.testing.assert_allclose(s.matrix([1.5]), 3.0 * np.eye(3))
    assert "SCRATCH" in registry.structure_names()
    with pytest.raises(ValueError, match="SCRATCH"):
        get_structure("nonsense", 2)
    # no Gibbs update and no PSD variant unless the structure says so
    assert not s.supports_gibbs("residual")
    with pytest.raises(ValueError, match="no positive semi-definite"):
        psd_structure(s)


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        @register_structure("UN")
        class Other(UN):
            pass


def test_structures_answer_what_the_sampler_and_checks_ask():
    assert UN.supports_gibbs("residual") and UN.supports_gibbs("random", 2)
    assert not UN.supports_gibbs("random", 1)
    assert ID.supports_gibbs("random", 1) and VC.supports_gibbs("random", 3)
    assert CS.supports_gibbs("residual") and not CS.supports_gibbs("random", 2)
    assert not AR1.supports_gibbs("residual")
    assert TOEP.closed_under_constant and TOEP.stationary and not VC.has_covariance
    # PSD variants share their base's identification traits, not its Gibbs update
    p = psd_structure(get_structure("UN", 2))
    assert p.closed_under_constant and p.has_covariance and p.conjugate is None
    assert type(psd_structure(get_structure("AR1", 3))) is registry.psd_variant("AR1")


def test_metamixed_struct_names_come_from_the_registry():
    from metamodels.multivariate.model import RE_STRUCTURES
    assert RE_STRUCTURES == {"ID": "ID", "DIAG": "VC", "CS": "CS", "HCS": "CSH",
                             "AR1": "AR1", "HAR": "ARH1", "UN": "UN", "CAR": "CAR"}


# ------------------------------------------------------------------ df methods
@pytest.fixture(scope="module")
def sleep_fit(sleepstudy):
    return mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleepstudy).fit()


@pytest.fixture
def half_residual():
    """A df method written as one class: half the residual df."""
    @ddfmod.register_ddf
    class HalfResidual(ddfmod.DdfMethod):
        name = "half-residual"
        aliases = ("half",)

        def t_df(self, L):
            return np.full(np.atleast_2d(L).shape[0], self.inputs.df_resid / 2.0)

    yield HalfResidual
    ddfmod._METHODS.pop("half-residual")
    ddfmod._ALIASES.pop("half")


def test_a_new_ddf_method_is_one_class(sleep_fit, half_residual):
    df = (sleep_fit.nobs - 2) / 2.0
    assert np.all(sleep_fit.df_fixed("half") == df)
    assert float(np.squeeze(sleep_fit.t_test("Days = 0", ddf="half").df_denom)) == df
    assert float(sleep_fit.f_test("Days = 0", ddf="half").df_denom) == df
    assert sleep_fit.anova(ddf="half-residual")["den_df"].iloc[0] == df
    assert sleep_fit.coef_table(ddf="half")["df"].iloc[0] == df
    assert "half-residual" in str(sleep_fit.summary(ddf="half"))


def test_ddf_methods_read_frozen_inputs(sleep_fit):
    inp = sleep_fit.inference_inputs
    with pytest.raises(Exception):
        inp.beta = None
    m = sleep_fit.ddf_method("kr")
    assert isinstance(m, ddfmod.KenwardRoger) and m.adjusts_cov
    assert m is sleep_fit.ddf_method("kenward-roger")          # built once per results
    np.testing.assert_allclose(m.cov(), sleep_fit.kenward_roger_parts()[0])
    assert ddfmod.ddf_methods()[:7] == ddfmod.DDF_METHODS


# --------------------------------------------------------------------- summary
def test_coefficient_tables_come_from_summary(sleep_fit, bcg):
    from metamodels.summary import coef_table_of
    res = mm.MetaRandom.from_formula("yi ~ ablat", bcg, vi="vi").fit()
    assert res.coef_table().equals(coef_table_of(res))
    tab = sleep_fit.coef_table(ddf="satterthwaite")
    assert list(tab.columns) == ["Coef.", "Std.Err.", "df", "t", "P>|t|", "[0.025", "0.975]"]
    assert res.heterogeneity_summary().startswith("Residual heterogeneity")
    assert res.prediction_summary(pooled=True).startswith("Pooled effect (random effects)")
    assert res.prediction_summary().startswith("Predicted effects of the studies")
