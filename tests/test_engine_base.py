"""The engine model base: ``loglike(theta)``, the shared fit sequence and the one
``from_formula`` row-dropping rule, on every engine-fitted model class."""
import warnings

import numpy as np
import pandas as pd
import pytest

import metamodels as mm
from metamodels import LocationScaleMeta, MetaMixed, MixedModel
from metamodels.base.engine import engine_fit
from metamodels.core.blockcov import BlockCovariance
from metamodels.datasets import bangertdrowns2004, konstantopoulos2011, sleepstudy
from metamodels.exceptions import ConvergenceWarning, MissingDataWarning


def _models():
    sleep = sleepstudy.load()
    k11 = konstantopoulos2011.load()
    bd = bangertdrowns2004.load().dropna(subset=["yi", "vi", "meta"])
    return {
        "mixed": MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleep),
        "metamixed": MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", k11, vi="vi"),
        "locscale": LocationScaleMeta.from_formula("yi ~ 1", bd, vi="vi",
                                                   scale_formula="~ meta"),
    }


@pytest.mark.parametrize("name", ["mixed", "metamixed", "locscale"])
@pytest.mark.parametrize("method", ["REML", "ML"])
def test_loglike_at_the_estimate_is_the_fitted_llf(name, method):
    model = _models()[name]
    res = model.fit(method=method)
    theta = np.asarray(res.theta if name != "locscale" else
                       res.params[model.k_location:], dtype=float)
    assert model.loglike(theta, method=method) == pytest.approx(res.llf, abs=1e-8)
    # away from the estimate the profiled likelihood is lower
    assert model.loglike(theta * 1.3 + 0.01, method=method) < res.llf


def test_loglike_names_the_parameters_it_needs():
    model = _models()["metamixed"]
    with pytest.raises(ValueError, match="district"):
        model.loglike([0.1])
    with pytest.raises(ValueError, match="method"):
        model.loglike([0.1, 0.1], method="OLS")


def test_engine_fit_warns_once_when_not_converged():
    """A search strategy that stops early: one ConvergenceWarning with its message; a
    start of the wrong length names the parameters."""
    from dataclasses import replace

    from metamodels.core.optimize import maximize

    def stops_early(y, X, spec, start, reml, tol, maxiter, restarts):
        return replace(maximize(y, X, spec, start, reml), converged=False,
                       message="iteration limit")

    model = _models()["metamixed"]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = engine_fit(model.endog, model.exog, model.spec, [0.5, 0.5], method="ML",
                         search=stops_early)
    conv = [str(w.message) for w in rec if issubclass(w.category, ConvergenceWarning)]
    assert conv == ["ML estimation did not converge (iteration limit)"]
    assert not out.converged
    with pytest.raises(ValueError, match="start needs 2 values"):
        engine_fit(model.endog, model.exog, model.spec, [0.5])


@pytest.mark.parametrize("name", ["mixed", "metamixed", "panel", "locscale"])
def test_one_missing_data_rule_for_every_formula_model(name):
    """A missing response and a missing grouping value: both rows dropped, one warning
    naming the total; ``missing="raise"`` refuses."""
    import metamodels as mm
    if name == "mixed":
        df = sleepstudy.load()
        df.loc[3, "Reaction"] = np.nan
        df.loc[7, "Subject"] = None
        build = lambda m: MixedModel.from_formula("Reaction ~ Days + (1 | Subject)", df,
                                                 missing=m)
    elif name == "metamixed":
        df = konstantopoulos2011.load()
        df.loc[3, "yi"] = np.nan
        df.loc[7, "school"] = np.nan
        build = lambda m: MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", df,
                                                vi="vi", missing=m)
    elif name == "panel":
        df = sleepstudy.load()
        df.loc[3, "Reaction"] = np.nan
        df.loc[7, "Subject"] = None
        build = lambda m: mm.PanelModel.from_formula("Reaction ~ Days", df, entity="Subject",
                                                    missing=m)
    else:
        df = bangertdrowns2004.load().dropna(subset=["yi", "vi", "meta"]).reset_index(drop=True)
        df.loc[3, "yi"] = np.nan
        df.loc[7, "meta"] = np.nan
        build = lambda m: LocationScaleMeta.from_formula("yi ~ 1", df, vi="vi",
                                                         scale_formula="~ meta", missing=m)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        model = build("drop")
    drops = [str(w.message) for w in rec if issubclass(w.category, MissingDataWarning)]
    assert drops == ["2 row(s) with missing values were dropped"]
    assert model.nobs == len(df) - 2
    with pytest.raises(ValueError, match="missing"):
        build("raise")


def test_block_covariance_takes_known_random_and_residual_parts():
    """S + Z G Z' + R at once: V equals the three parts added densely."""
    from metamodels.core.known import KnownCovariance
    from metamodels.core.random import RandomPart, ResidualPart
    from metamodels.core.structures import get_structure
    rng = np.random.default_rng(4)
    n = 12
    groups = np.repeat(np.arange(4), 3)
    Z = np.column_stack([np.ones(n), rng.normal(size=n)])
    known = KnownCovariance.from_input(n, vi=rng.uniform(0.1, 0.5, n))
    part = RandomPart("g", Z, groups, get_structure("UN", 2), ("(Intercept)", "x"))
    res = ResidualPart(get_structure("ID", 1), np.zeros(n, dtype=np.int64), np.arange(n),
                       np.zeros(n, dtype=np.int64), 1)
    spec = BlockCovariance(known, [part], res)
    theta = np.array([0.4, 0.1, 0.3, 0.2])
    G = spec.G_matrices(theta)[0]
    dense = np.diag(known.diagonal()) + 0.2 * np.eye(n)
    same = groups[:, None] == groups[None, :]
    dense += same * (Z @ G @ Z.T)
    built = np.zeros((n, n))
    for rows, V in zip(spec.layout.groups, spec.build(theta)):
        for b in range(rows.shape[0]):
            built[np.ix_(rows[b], rows[b])] = V[b]
    np.testing.assert_allclose(built, dense, atol=1e-14)
    assert spec.param_names[-1] == "Var" or len(spec.param_names) == 4
    assert spec.lowrank_view(np.zeros(n), np.ones((n, 1))) is None   # known part: dense
    with pytest.raises(ValueError, match="known part S or a residual part"):
        BlockCovariance(random=[part])


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_univariate_loglike_at_the_estimate_is_llf(method):
    bcg = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos",
                         di="cneg")
    model = mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi="vi")
    res = model.fit(method=method)
    assert model.loglike([res.tau2], method=method) == pytest.approx(res.llf, abs=1e-10)
    assert model.loglike([res.tau2 + 0.05], method=method) < res.llf
    fe = mm.MetaFixed.from_formula("yi ~ ablat", data=bcg, vi="vi")
    assert fe.loglike(0.0, method="ML") == pytest.approx(fe.fit().llf, abs=1e-10)
    with pytest.raises(ValueError, match="non-negative"):
        model.loglike([-1.0])
