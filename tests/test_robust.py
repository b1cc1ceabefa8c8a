"""Cluster-robust inference (res.robust) against clubSandwich and metafor's robust().

References: tests/reference/scripts/robust.R -> tests/reference/robust.json.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metamodels as mm
from metamodels.exceptions import MissingDataWarning

REF = json.loads((Path(__file__).parent / "reference" / "robust.json").read_text())
CASES = [k for k in REF if k not in ("versions", "assink2016_data")]
# berkey1998's UN model is converged to rel.tol 1e-10 in R: its estimates agree to ~1e-7
TOL = {"berkey_mv": dict(rtol=2e-5, atol=1e-7), "assink_mv": dict(rtol=1e-6, atol=1e-9)}


def _data(name):
    if name == "assink2016":
        return pd.DataFrame(REF["assink2016_data"])
    if name == "bcg":
        return mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos",
                              di="cneg")
    return mm.datasets.load(name)


def _berkey_V(d):
    return [d.loc[d.trial == t, ["v1i", "v2i"]].to_numpy() for t in d.trial.unique()]


def _vcalc(d, rho):
    """metafor's vcalc(vi, cluster = study, obs = esid, rho = rho): within a study,
    Cov(y_i, y_j) = rho sqrt(v_i v_j)."""
    blocks = []
    for _, g in d.groupby("study", sort=False):
        s = np.sqrt(g.vi.to_numpy())
        V = rho * np.outer(s, s)
        np.fill_diagonal(V, s ** 2)
        blocks.append(V)
    return blocks


def _fit(case):
    d = _data(case["data"])
    if case["model"] == "MetaMixed":
        kw = {"vi": "vi"}
        if case["data"] == "berkey1998":
            kw = {"V": _berkey_V(d)}
        elif case["data"] == "assink2016":
            kw = {"V": _vcalc(d, case["rho"])}
        return mm.MetaMixed.from_formula(case["formula"], d, **kw).fit()
    return getattr(mm, case["model"]).from_formula(case["formula"], d, vi="vi").fit()


@pytest.fixture(scope="module")
def fits():
    return {name: _fit(REF[name]) for name in CASES}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("cov_type", ["CR0", "CR1", "CR2"])
def test_matches_clubsandwich(fits, name, cov_type):
    case, res = REF[name], fits[name]
    tol = TOL.get(name, dict(rtol=1e-6, atol=1e-10))
    np.testing.assert_allclose(res.params, case["beta"], **tol)
    rob = res.robust(case["cluster"], cov_type=cov_type)
    ref = case[cov_type]
    np.testing.assert_allclose(rob.cov_params_robust, ref["vcov"], **tol)
    np.testing.assert_allclose(rob.bse, ref["se"], **tol)
    np.testing.assert_allclose(rob.tvalues, ref["tstat"], **tol)
    np.testing.assert_allclose(rob.df_satterthwaite, ref["df"], **tol)
    np.testing.assert_allclose(rob.pvalues, ref["p"], **tol)
    ci = rob.conf_int()
    np.testing.assert_allclose(ci["lower"], ref["ci_lower"], **tol)
    np.testing.assert_allclose(ci["upper"], ref["ci_upper"], **tol)
    for w in ref["wald"]:
        idx = np.atleast_1d(w["index"]) - 1
        h = rob.wald_test(np.eye(len(rob.params))[idx])
        assert h.df_num == w["df_num"] and h.test == "HTZ"
        np.testing.assert_allclose([h.statistic, h.df_denom, h.pvalue],
                                   [w["Fstat"], w["df_denom"], w["p_val"]],
                                   rtol=max(tol["rtol"], 1e-6) * 10)


@pytest.mark.parametrize("name", [n for n in CASES if "metafor_robust" in REF[n]])
def test_matches_metafor_robust_clubsandwich(fits, name):
    case, res = REF[name], fits[name]
    tol = TOL.get(name, dict(rtol=1e-6, atol=1e-10))
    rob = res.robust(case["cluster"])
    ref = case["metafor_robust"]
    np.testing.assert_allclose(rob.bse, ref["se"], **tol)
    np.testing.assert_allclose(rob.df, ref["df"], **tol)
    np.testing.assert_allclose(rob.pvalues, ref["p"], **tol)
    np.testing.assert_allclose(rob.conf_int().to_numpy(),
                               np.column_stack([ref["ci_lower"], ref["ci_upper"]]), **tol)


@pytest.mark.parametrize("name", CASES)
def test_matches_metafor_robust_adjust(fits, name):
    """metafor's own robust(adjust=TRUE): CR0 times m / (m - p), t with m - p df."""
    case, res = REF[name], fits[name]
    tol = TOL.get(name, dict(rtol=1e-6, atol=1e-10))
    rob = res.robust(case["cluster"], cov_type="CR1p", ddf="residual")
    ref = case["metafor_robust_default"]
    np.testing.assert_allclose(rob.bse, ref["se"], **tol)
    np.testing.assert_allclose(rob.df, ref["df"])
    np.testing.assert_allclose(rob.pvalues, ref["p"], **tol)


def test_cluster_inputs_and_strings(fits):
    res = fits["k11_mv"]
    d = mm.datasets.load("konstantopoulos2011")
    a = res.robust("district")
    b = res.robust(d["district"])
    c = res.robust(d["district"].to_numpy())
    pd.testing.assert_frame_equal(a.cov_params(), b.cov_params())
    pd.testing.assert_frame_equal(a.cov_params(), c.cov_params())
    # string constraints as statsmodels takes them; one constraint: F = t^2, Satterthwaite df
    name = a.param_names[1]
    h = a.wald_test(f"{name} = 0")
    assert h.statistic == pytest.approx(a.tvalues.iloc[1] ** 2, rel=1e-10)
    assert h.df_denom == pytest.approx(a.df_satterthwaite.iloc[1], rel=1e-8)
    assert h.q_statistic == pytest.approx(a.tvalues.iloc[1] ** 2, rel=1e-10)
    frame = a.summary_frame()
    assert list(frame.columns) == ["coef", "se", "t", "df", "pvalue", "ci_lower", "ci_upper"]
    assert "CR2" in str(a.summary())
    with pytest.raises(Exception):       # frozen
        a.cov_type = "CR0"


def test_cr2_single_cluster_rows_equal_fixed_effects():
    """With one study per cluster and no random effects, CR0 is White's HC0 for WLS."""
    d = _data("bcg")
    res = mm.MetaFixed.from_formula("yi ~ ablat", d, vi="vi").fit()
    rob = res.robust(np.arange(len(d)), cov_type="CR0")
    X = np.column_stack([np.ones(len(d)), d.ablat])
    w = 1 / d.vi.to_numpy()
    e = d.yi.to_numpy() - X @ np.asarray(res.params)
    M = np.linalg.inv(X.T @ (w[:, None] * X))
    S = X * (w * e)[:, None]
    meat = S.T @ S
    np.testing.assert_allclose(rob.cov_params(), M @ meat @ M, rtol=1e-10)


def test_bad_input(fits):
    res = fits["k11_mv"]
    d = mm.datasets.load("konstantopoulos2011")
    with pytest.raises(ValueError, match="cov_type"):
        res.robust("district", cov_type="HC3")
    with pytest.raises(ValueError, match="split a block"):
        res.robust(d["school"])                  # schools split the districts' blocks
    with pytest.raises(ValueError, match="one label per fitted row"):
        res.robust(np.arange(3))
    with pytest.raises(ValueError, match="not a column"):
        res.robust("nope")
    with pytest.raises(ValueError, match="at least two clusters"):
        res.robust(np.zeros(len(d)))
    with pytest.raises(ValueError, match="missing"):
        res.robust(d["district"].where(d.index > 2))
    with pytest.raises(ValueError, match="ddf"):
        res.robust("district", ddf="kr")
    rob = res.robust("district")
    with pytest.raises(ValueError, match="columns"):
        rob.wald_test(np.eye(3))
    with pytest.raises(ValueError, match="dependent"):
        rob.wald_test(np.ones((2, 2)))


def test_unsupported_models_refused():
    # MixedModel fits are supported since issue 20 (tests/test_mixed_empirical.py); a
    # panel model is not
    grunfeld = mm.datasets.load("grunfeld")
    from metamodels.panel import PanelModel
    res = PanelModel.from_formula("inv ~ value + capital", data=grunfeld, entity="firm",
                                  time="year").fit()
    with pytest.raises(TypeError, match="MetaFixed, MetaRandom, MetaMixed and MixedModel"):
        res.robust("firm")


def test_cluster_series_aligned_after_dropped_rows():
    d = mm.datasets.load("konstantopoulos2011")
    d.loc[3, "yi"] = np.nan
    with pytest.warns(MissingDataWarning):
        res = mm.MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", d, vi="vi").fit()
    full = res.robust(d["district"])                     # 56 labels, aligned on the index
    kept = res.robust(d["district"].drop(index=3).to_numpy())
    pd.testing.assert_frame_equal(full.cov_params(), kept.cov_params())
