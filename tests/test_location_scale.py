"""LocationScaleMeta against metafor::rma(scale=), plus structural checks."""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import metamodels as mm
from metamodels.exceptions import MissingDataWarning
from metamodels.locscale import LocationScaleMeta

REF = Path(__file__).parent / "reference"
TIGHT = json.loads((REF / "location_scale.json").read_text())
SHARED = json.loads((REF / "location_scale_bangertdrowns2004.json").read_text())
DATA = pd.DataFrame(TIGHT["data"])


def _fit(case, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingDataWarning)   # two studies lack 'meta'
        return LocationScaleMeta.from_formula(case["formula"], data, vi="vi",
                                              scale_formula=case["scale_formula"]).fit(
            method=case["method"])


@pytest.mark.parametrize("case", TIGHT["cases"], ids=[c["name"] for c in TIGHT["cases"]])
def test_against_metafor(case):
    r = case["result"]
    res = _fit(case, DATA)
    assert res.converged
    np.testing.assert_allclose(res.params_location.values, r["beta"], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(res.bse)[:2], r["se_beta"], rtol=1e-5)
    # metafor's alpha models log(tau^2): a = alpha / 2
    np.testing.assert_allclose(2 * res.params_scale.values, np.atleast_1d(r["alpha"]), rtol=1e-5)
    np.testing.assert_allclose(2 * np.asarray(res.bse)[2:], np.atleast_1d(r["se_alpha"]), rtol=1e-4)
    assert res.llf_metafor == pytest.approx(r["logLik"], rel=1e-8)
    assert res.llf_metafor >= r["logLik"] - 1e-9
    X = res.model.exog
    shift = np.linalg.slogdet(X.T @ X)[1] if res.reml else 0.0
    assert res.aic - shift == pytest.approx(r["AIC"], rel=1e-7)
    if "pred_tau2" in r:
        new = pd.DataFrame({"meta": [0, 1], "lni": [3.5, 5.0]})
        pred = res.get_prediction(new)
        np.testing.assert_allclose(pred["tau"] ** 2, r["pred_tau2"], rtol=1e-5)
        np.testing.assert_allclose(pred["tau_ci_lower"] ** 2, r["pred_tau2_lower"], rtol=1e-4)
        np.testing.assert_allclose(pred["tau_ci_upper"] ** 2, r["pred_tau2_upper"], rtol=1e-4)


@pytest.mark.parametrize("case", SHARED["cases"], ids=[c["name"] for c in SHARED["cases"]])
def test_shared_reference(case):
    r = case["result"]
    res = _fit(case, pd.DataFrame(SHARED["data"]))
    np.testing.assert_allclose(res.params_location.values, r["beta"], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(res.bse)[:2], r["se_beta"], rtol=1e-5)
    np.testing.assert_allclose(2 * res.params_scale.values, r["alpha"], rtol=1e-5)
    np.testing.assert_allclose(2 * np.asarray(res.bse)[2:], r["se_alpha"], rtol=1e-5)
    assert res.llf_metafor == pytest.approx(r["logLik"], rel=1e-5)


def test_constant_scale_equals_random_effects_model():
    dat = DATA.dropna(subset=["meta"])
    ls = LocationScaleMeta.from_formula("yi ~ meta", dat, vi="vi").fit(method="REML")
    re = mm.MetaRandom.from_formula("yi ~ meta", dat, vi="vi").fit(method="REML")
    assert ls.tau[0] ** 2 == pytest.approx(re.tau2, rel=1e-8)
    assert ls.llf == pytest.approx(re.llf, rel=1e-10)
    np.testing.assert_allclose(ls.params_location.values, re.params.values, rtol=1e-7)


def test_group_random_effect_equals_three_level_model():
    """With constant scales, tau = SD of (1 | group:obs) and omega = SD of (1 | group)."""
    df = mm.datasets.load("konstantopoulos2011")
    ls = LocationScaleMeta.from_formula("yi ~ 1", df, vi="vi", groups="district").fit()
    ml = mm.MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", df, vi="vi").fit()
    assert ls.llf == pytest.approx(ml.llf, rel=1e-9)
    assert ls.omega[0] ** 2 == pytest.approx(ml.sigma2["district"], rel=1e-6)
    assert ls.tau[0] ** 2 == pytest.approx(ml.sigma2["district:school"], rel=1e-6)
    # the constant group scale is labelled as the formula's would be (was "group_scale:w0")
    assert ls.param_names[-1] == "group_scale:Intercept"
    # a group-level scale model: log(omega) depends on a district-level variable
    df = df.assign(recent=(df.year > 1985).astype(float))
    g = LocationScaleMeta.from_formula("yi ~ 1", df, vi="vi", groups="district",
                                       group_scale_formula="~ recent").fit()
    assert g.params_group_scale.shape == (2,) and g.converged
    assert g.compare_lr_test(ls).df == 1
    with pytest.raises(ValueError, match="constant within each group"):
        LocationScaleMeta.from_formula("yi ~ 1", df, vi="vi", groups="district",
                                       group_scale_formula="~ school")


def test_results_api_and_check():
    case = [c for c in TIGHT["cases"] if c["name"] == "bd_lni_REML"][0]
    res = _fit(case, DATA)
    assert list(res.params.index) == ["Intercept", "meta", "scale:Intercept", "scale:lni"]
    np.testing.assert_allclose(res.sd_ratios, np.exp(res.params_scale))
    assert res.tau.shape == (46,)
    text = str(res.summary())
    assert "SD ratio" in text and "scale:lni" in text
    chk = res.check()
    assert chk.loc["optimizer converged", "ok"] and chk.loc["Hessian positive definite", "ok"]
    assert not chk.loc["rows dropped", "ok"] and chk.loc["rows dropped", "detail"] == "2"
    const = LocationScaleMeta.from_formula("yi ~ meta", DATA.dropna(subset=["meta"]), vi="vi",
                                           scale_formula="~ 1").fit()
    lr = res.compare_lr_test(const)
    assert lr.df == 1 and lr.statistic >= 0
    ml = _fit(dict(case, method="ML"), DATA)
    with pytest.raises(ValueError, match="different methods"):
        ml.compare_lr_test(const)


def test_sparse_block_v_scales_without_densifying():
    rng = np.random.default_rng(0)
    studies, m = 5000, 4
    n = studies * m
    blocks = []
    for _ in range(studies):
        v = rng.uniform(0.01, 0.05, m)
        C = 0.3 * np.sqrt(np.outer(v, v))
        np.fill_diagonal(C, v)
        blocks.append(C)
    x = rng.integers(0, 2, n).astype(float)
    tau = np.exp(-1.5 + 0.5 * x)
    y = 0.2 + rng.normal(0, tau) + rng.multivariate_normal(np.zeros(m), blocks[0], studies).ravel()
    df = pd.DataFrame(dict(y=y, x=x))
    res = LocationScaleMeta.from_formula("y ~ x", df, V=sparse.block_diag(blocks, format="csr"),
                                         scale_formula="~ x").fit(method="ML")
    assert res.converged and res.nobs == n
    assert abs(res.params_scale["scale:x"] - 0.5) < 0.15


def test_bad_input():
    with pytest.raises(ValueError, match="exactly one of vi"):
        LocationScaleMeta.from_formula("yi ~ meta", DATA, scale_formula="~ lni")
    with pytest.raises(ValueError, match="missing"):
        LocationScaleMeta.from_formula("yi ~ meta", DATA, vi="vi", missing="raise")
    with pytest.raises(ValueError, match="needs groups"):
        LocationScaleMeta(DATA.yi[:5], np.ones((5, 1)), np.ones((5, 1)), vi=DATA.vi[:5],
                          exog_group_scale=np.ones((5, 1)))
    with pytest.raises(ValueError, match="unknown method"):
        LocationScaleMeta.from_formula("yi ~ 1", DATA, vi="vi").fit(method="DL")


def test_weights_multiply_likelihood_contributions():
    """Integer weights equal duplicated studies exactly (weights are not variances)."""
    dat = DATA.dropna(subset=["meta"]).reset_index(drop=True)
    w = np.ones(len(dat))
    w[[0, 5, 9]] = [2, 3, 2]
    dup = dat.loc[np.repeat(np.arange(len(dat)), w.astype(int))].reset_index(drop=True)
    for method in ("ML", "REML"):
        a = LocationScaleMeta.from_formula("yi ~ meta", dat, vi="vi", scale_formula="~ lni",
                                           weights=w).fit(method=method)
        b = LocationScaleMeta.from_formula("yi ~ meta", dup, vi="vi",
                                           scale_formula="~ lni").fit(method=method)
        assert a.llf == pytest.approx(b.llf, rel=1e-10)
        np.testing.assert_allclose(a.params.values, b.params.values, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(a.bse.values, b.bse.values, rtol=1e-6)
    # halving the variances is a different model
    half = LocationScaleMeta.from_formula("yi ~ meta", dat.assign(vi=dat.vi / 2), vi="vi",
                                          scale_formula="~ lni").fit(method="ML")
    assert half.llf != pytest.approx(a.llf, rel=1e-3)
    with pytest.raises(ValueError, match="positive"):
        LocationScaleMeta.from_formula("yi ~ meta", dat, vi="vi", weights=-w)
    df = mm.datasets.load("konstantopoulos2011")
    with pytest.raises(ValueError, match="constant within"):
        LocationScaleMeta.from_formula("yi ~ 1", df, vi="vi", groups="district",
                                       weights=np.arange(1.0, len(df) + 1))
