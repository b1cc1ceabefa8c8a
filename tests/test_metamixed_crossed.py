"""MetaMixed with crossed random effects on the Z-space path (known sampling covariance,
issue 18): metafor rma.mv(sparse=TRUE) references (tests/reference/metamixed_crossed.json,
made by tests/reference/scripts/metamixed_crossed.R), the Z-space path against the dense
block path, and the engine's choice of path."""
from __future__ import annotations

import json
import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest

from metamodels import MetaMixed

REF = json.loads((pathlib.Path(__file__).parent / "reference" / "metamixed_crossed.json")
                 .read_text())
FORMULA = "yi ~ x + (1 | study) + (1 | lab)"


def _frame(case):
    return pd.DataFrame(REF[case]["data"])


def _block_v(d, rho):
    """Sampling covariance with correlation ``rho`` between the estimates of a study."""
    vi = d["vi"].to_numpy()
    same = d["study"].to_numpy()[:, None] == d["study"].to_numpy()[None, :]
    V = rho * np.sqrt(np.outer(vi, vi)) * same
    V[np.diag_indices_from(V)] = vi
    return V


def _fit(case, method, path="zspace"):
    d = _frame(case)
    if case == "correlated":
        m = MetaMixed.from_formula(FORMULA, d, V=_block_v(d, REF[case]["rho"]), path=path)
    else:
        m = MetaMixed.from_formula(FORMULA, d, vi="vi", path=path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.fit(method=method)


@pytest.fixture(scope="module")
def fits():
    return {(c, me): _fit(c, me) for c in ("simulated", "correlated")
            for me in ("REML", "ML")}


@pytest.mark.parametrize("case", ["simulated", "correlated"])
@pytest.mark.parametrize("method", ["REML", "ML"])
def test_crossed_matches_metafor(fits, case, method):
    res, ref = fits[case, method], REF[case][method]
    assert res.model.spec.zspace_active()
    assert res._outcome.method == "zspace-cobyqa"
    np.testing.assert_allclose(res.params, ref["beta"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(res.bse, ref["se"], rtol=1e-5)
    np.testing.assert_allclose(res.sigma2[["study", "lab"]], ref["sigma2"], rtol=1e-5,
                               atol=1e-8)
    assert res.llf_metafor == pytest.approx(ref["logLik"], abs=1e-6)
    # aic/bic use the SAS/lme4 REML log-likelihood, metafor's adds 1/2 log|X'X|
    X = res.model.exog
    shift = np.linalg.slogdet(X.T @ X)[1] if res.reml else 0.0
    assert res.aic - shift == pytest.approx(ref["AIC"], abs=1e-5)
    assert res.bic - shift == pytest.approx(ref["BIC"], abs=1e-5)
    assert res.q == pytest.approx(ref["QE"], rel=1e-10)
    assert res.qm == pytest.approx(ref["QM"], rel=1e-5)


def test_crossed_ranef_and_predict_match_metafor(fits):
    res, ref = fits["simulated", "REML"], REF["simulated"]["REML"]
    re = res.random_effects
    for term in ("study", "lab"):
        got = re[term].loc[ref["ranef"][term]["level"]]
        np.testing.assert_allclose(got["pred"], ref["ranef"][term]["pred"], rtol=1e-5,
                                   atol=1e-7)
        np.testing.assert_allclose(got["se"], ref["ranef"][term]["se"], rtol=1e-5)
    p = ref["predict"]
    pr = res.get_prediction(np.array([[1.0, p["x"]]])).summary_frame()
    assert pr["mean"].iloc[0] == pytest.approx(p["pred"], rel=1e-6)
    assert pr["mean_se"].iloc[0] == pytest.approx(p["se"], rel=1e-5)
    assert pr["obs_ci_lower"].iloc[0] == pytest.approx(p["pi_lb"], rel=1e-5)
    assert pr["obs_ci_upper"].iloc[0] == pytest.approx(p["pi_ub"], rel=1e-5)


def _mccurdy(path):
    a = REF["mccurdy2020"]
    d = pd.DataFrame({k: a["data"][k] for k in ("article", "experiment", "sample", "id",
                                                 "pairing", "yi", "vi", "generate")})
    return MetaMixed.from_formula("yi ~ generate + (1 | article/experiment/sample/id) "
                                  "+ (1 | pairing)", d, vi="vi", path=path)


@pytest.mark.parametrize("method", ["REML", "ML",
                                    pytest.param("REML-zspace", marks=pytest.mark.slow)])
def test_mccurdy2020_partially_crossed_matches_metafor(method):
    """metadat's dat.mccurdy2020 example: article/experiment/sample/id nested and
    stimulus pairings crossing the samples of an article (partially crossed within
    articles: 126 independent units of at most 240 random-effect columns, so "auto"
    keeps the block path; the Z-space path, forced, factorises the 1,700 columns of the
    other terms densely: about 150 s, marked slow)."""
    zspace = method.endswith("zspace")
    method = method.split("-")[0]
    m = _mccurdy("zspace" if zspace else "auto")
    assert m.spec.zspace_active() == zspace
    a = REF["mccurdy2020"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = m.fit(method=method)
    ref = a[method]
    np.testing.assert_allclose(res.params, ref["beta"], rtol=1e-6)
    np.testing.assert_allclose(res.bse, ref["se"], rtol=1e-5)
    np.testing.assert_allclose(res.sigma2.to_numpy(), ref["sigma2"], rtol=1e-4, atol=1e-8)
    assert res.llf_metafor == pytest.approx(ref["logLik"], abs=1e-5)


# ----------------------------------------------------------- Z space == blocks
def _small():
    rng = np.random.default_rng(3)
    rows = [(s, lab) for s in range(40) for lab in rng.choice(12, 3, replace=False)]
    d = pd.DataFrame(rows, columns=["study", "lab"]).astype(str)
    n = len(d)
    d["x"] = rng.normal(size=n)
    d["vi"] = rng.uniform(0.02, 0.2, n)
    d["yi"] = (0.3 + 0.2 * d["x"] + rng.normal(0, 0.2, 40)[d["study"].astype(int)]
               + rng.normal(0, 0.15, 12)[d["lab"].astype(int)] + rng.normal(0, np.sqrt(d["vi"])))
    return d


@pytest.mark.parametrize("correlated", [False, True])
def test_zspace_equals_block_path(correlated):
    d = _small()
    kw = {"V": _block_v(d, 0.5)} if correlated else {"vi": "vi"}
    out = {}
    for path in ("blocks", "zspace"):
        m = MetaMixed.from_formula(FORMULA, d, path=path, **kw)
        assert m.spec.zspace_active() == (path == "zspace")
        out[path] = m.fit()
    a, b = out["blocks"], out["zspace"]
    assert b.llf == pytest.approx(a.llf, abs=1e-8)
    np.testing.assert_allclose(b.params, a.params, rtol=1e-7)
    np.testing.assert_allclose(b.bse, a.bse, rtol=1e-6)
    np.testing.assert_allclose(b.theta, a.theta, rtol=1e-6)
    np.testing.assert_allclose(b.cov_theta, a.cov_theta, rtol=1e-4)
    for term in ("study", "lab"):
        np.testing.assert_allclose(b.random_effects[term], a.random_effects[term],
                                   rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b.blup(), a.blup(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b.rstandard(), a.rstandard(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b.resid_pearson, a.resid_pearson, rtol=1e-6)
    np.testing.assert_allclose(b.i2, a.i2, rtol=1e-6)
    assert b.q == pytest.approx(a.q) and b.qm == pytest.approx(a.qm, rel=1e-6)
    # the engine evaluators agree at the same theta (likelihood and V^-1 products)
    th = np.asarray(a.theta) * 1.3
    assert b.model.loglike(th) == pytest.approx(a.model.loglike(th), rel=1e-11)
    from metamodels.base.results import block_solve
    v = np.arange(len(d), dtype=float)
    np.testing.assert_allclose(block_solve(b.model.spec, th, v),
                               block_solve(a.model.spec, th, v), rtol=1e-9)
    from metamodels.plots.forest_more import _marginal_weights
    np.testing.assert_allclose(_marginal_weights(b), _marginal_weights(a), rtol=1e-6)


def _crossed_frame(n_study, n_lab, per, seed=0):
    rng = np.random.default_rng(seed)
    rows = [(s, lab) for s in range(n_study) for lab in rng.choice(n_lab, per, replace=False)]
    d = pd.DataFrame(rows, columns=["study", "lab"])
    d["x"] = rng.normal(size=len(d))
    d["vi"] = rng.uniform(0.02, 0.2, len(d))
    d["yi"] = rng.normal(size=len(d))
    d["esid"] = np.arange(len(d))
    return d


def test_auto_path_rule():
    crossed = _crossed_frame(500, 30, 2)
    m = MetaMixed.from_formula(FORMULA, crossed, vi="vi")
    assert m.path == "auto" and m.spec.zspace_active()
    assert not MetaMixed.from_formula(FORMULA, crossed, vi="vi",
                                      path="blocks").spec.zspace_active()
    nested = MetaMixed.from_formula("yi ~ x + (1 | study/esid)", crossed, vi="vi")
    assert not nested.spec.zspace_active()
    small = MetaMixed.from_formula(FORMULA, _small(), vi="vi")
    assert not small.spec.zspace_active()          # one unit of 52 columns: blocks


def test_zspace_path_limits_are_clear():
    d = _small()
    with pytest.raises(ValueError, match="path must be"):
        MetaMixed.from_formula(FORMULA, d, vi="vi", path="sparse")
    fixed = MetaMixed.from_formula(FORMULA, d, vi="vi", path="zspace", sigma2=[None, 0.01])
    with pytest.raises(NotImplementedError, match="path='zspace'"):
        fixed.fit()
    d["out"] = np.where(np.arange(len(d)) % 2 == 0, "a", "b")
    cs = MetaMixed.from_formula("yi ~ 0 + out + (0 + out | study) + (1 | lab)", d, vi="vi",
                                struct="CS", path="zspace")
    with pytest.raises(NotImplementedError, match="unstructured"):
        cs.fit()
    res = MetaMixed.from_formula(FORMULA, d, vi="vi", path="zspace").fit()
    with pytest.raises(NotImplementedError, match="one block"):
        res.robust("study")
