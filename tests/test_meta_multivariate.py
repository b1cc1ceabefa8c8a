"""MetaMixed and BivariateMeta against metafor::rma.mv, plus closed forms and properties."""
import json
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse, stats

import metamodels as mm
from metamodels.multivariate import BivariateMeta, MetaMixed, within_corr_sensitivity

REF = Path(__file__).parent / "reference"
TIGHT = json.loads((REF / "meta_multivariate.json").read_text())
SHARED_K = json.loads((REF / "multilevel_konstantopoulos2011.json").read_text())
SHARED_B = json.loads((REF / "bivariate_berkey1998.json").read_text())


def _berkey_blocks(df):
    return [df.loc[df.trial == t, ["v1i", "v2i"]].to_numpy() for t in df.trial.unique()]


def _fit(case, df):
    kw = dict(V=_berkey_blocks(df)) if case["dataset"] == "berkey1998" else dict(vi="vi")
    return MetaMixed.from_formula(case["formula"], df, struct=case.get("struct") or "UN",
                                  **kw).fit(method=case["method"])


CASES = [c for c in TIGHT["cases"] if c["method"] != "FE"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_against_rma_mv(case):
    r = case["result"]
    df = pd.DataFrame(TIGHT["data"][case["dataset"]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = _fit(case, df)
    # metafor's optimisers: BFGS with reltol 1e-15 (exact to ~1e-7); nlminb defaults for
    # UN, which stop ~1e-5 short (our log-likelihood is higher there)
    tol = 2e-5 if case.get("struct") == "UN" else 1e-6
    assert res.llf_metafor == pytest.approx(r["logLik"], rel=1e-8)
    assert res.llf_metafor >= r["logLik"] - 1e-10
    np.testing.assert_allclose(res.params.values, list(r["coef"].values()), rtol=tol)
    np.testing.assert_allclose(res.bse.values, r["se"], rtol=tol)
    X = res.model.exog
    shift = np.linalg.slogdet(X.T @ X)[1] if res.reml else 0.0
    assert res.aic - shift == pytest.approx(r["AIC"], rel=1e-7)
    assert res.bic - shift == pytest.approx(r["BIC"], rel=1e-7)
    assert res.q == pytest.approx(r["QE"], rel=1e-10)
    if res.qm_test is not None:
        assert res.qm == pytest.approx(r["QM"], rel=1e-4)
    if r.get("sigma2") is not None:
        np.testing.assert_allclose(res.sigma2.values, np.atleast_1d(r["sigma2"]), rtol=tol)
    if r.get("tau2") is not None:
        tau2 = np.atleast_1d(r["tau2"])
        np.testing.assert_allclose(res.tau2.values, np.broadcast_to(tau2, (2,)), rtol=tol)
        assert res.rho == pytest.approx(r["rho"], rel=tol, abs=1e-12)
    if "I2" in r:
        np.testing.assert_allclose(res.i2.values[:-1], r["I2"], rtol=1e-6)
        assert res.i2["total"] == pytest.approx(r["I2_total"], rel=1e-6)


@pytest.mark.parametrize("case", SHARED_K["cases"], ids=[c["name"] for c in SHARED_K["cases"]])
def test_shared_konstantopoulos(case):
    r = case["result"]
    df = pd.DataFrame(SHARED_K["data"])
    res = MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", df, vi="vi").fit(
        method=case["method"])
    assert res.params.iloc[0] == pytest.approx(r["coef"], rel=1e-5)
    assert res.bse.iloc[0] == pytest.approx(r["se"], rel=1e-5)
    np.testing.assert_allclose(res.sigma2.values, r["sigma2"], rtol=1e-5)
    assert res.llf_metafor == pytest.approx(r["logLik"], rel=1e-5)


@pytest.mark.parametrize("case", SHARED_B["cases"], ids=[c["name"] for c in SHARED_B["cases"]])
def test_shared_berkey(case):
    r = case["result"]
    df = pd.DataFrame(SHARED_B["data"])
    res = MetaMixed.from_formula(case["formula"] + " + (0 + outcome | trial)", df,
                                 V=_berkey_blocks(df)).fit(method=case["method"])
    np.testing.assert_allclose(res.params.values, list(r["coef"].values()), rtol=1e-5)
    np.testing.assert_allclose(res.bse.values, r["se"], rtol=1e-5)
    assert res.rho == pytest.approx(r["rho"], rel=1e-5)
    assert res.llf_metafor == pytest.approx(r["logLik"], rel=1e-5)
    # metafor's default nlminb stop leaves the UN tau^2 up to ~1e-5 away from the optimum;
    # our log-likelihood is at least as high
    assert res.llf_metafor >= r["logLik"] - 1e-10
    np.testing.assert_allclose(res.tau2.values, r["tau2"], rtol=2e-5)
    if "QE" in r:
        assert res.q == pytest.approx(r["QE"], rel=1e-10)
    if "QM" in r:
        assert res.qm == pytest.approx(r["QM"], rel=1e-5)


# ----------------------------------------------------------------- BivariateMeta
@pytest.fixture(scope="module")
def berkey_wide():
    df = pd.DataFrame(TIGHT["data"]["berkey1998"])
    y = df.pivot(index="trial", columns="outcome", values="yi")[["AL", "PD"]]
    S = np.array([df.loc[df.trial == t].set_index("outcome").loc[["AL", "PD"], ["v2i", "v1i"]]
                  .to_numpy() for t in y.index])
    # v1i/v2i give the rows of each trial's V in (PD, AL) row order; reorder to (AL, PD)
    S = np.array([[[s[0, 0], s[1, 0]], [s[1, 0], s[1, 1]]] for s in S])
    return y.to_numpy(), S


def test_bivariate_equals_rma_mv(berkey_wide):
    y, S = berkey_wide
    ref = {c["name"]: c["result"] for c in TIGHT["cases"]}
    for method in ("REML", "ML"):
        res = BivariateMeta(y, S, names=("AL", "PD")).fit(method=method)
        r = ref[f"berkey_UN_{method}"]
        np.testing.assert_allclose(res.params, list(r["coef"].values()), rtol=2e-5)
        np.testing.assert_allclose(res.tau2, r["tau2"], rtol=2e-5)
        assert res.rho_between == pytest.approx(r["rho"], rel=2e-5)
        assert res.cov_between.loc["AL", "PD"] == pytest.approx(
            r["rho"] * np.sqrt(np.prod(r["tau2"])), rel=5e-5)
    fixed = BivariateMeta(y, S, names=("AL", "PD")).fit(method="fixed")
    r = ref["berkey_fixed"]
    np.testing.assert_allclose(fixed.params, list(r["coef"].values()), rtol=1e-10)
    np.testing.assert_allclose(fixed.bse, r["se"], rtol=1e-10)
    assert fixed.llf == pytest.approx(r["logLik"], rel=1e-10)
    assert np.all(fixed.tau2 == 0)


def test_bivariate_keeps_studies_with_one_outcome(berkey_wide):
    y, S = berkey_wide
    y = y.copy()
    y[2, 1] = np.nan
    res = BivariateMeta(y, S).fit()
    assert res.nobs == 2 * len(y) - 1
    # the same model in long format without that row
    df = pd.DataFrame(TIGHT["data"]["berkey1998"])
    df = df[~((df.trial == 3) & (df.outcome == "PD"))]
    blocks = []
    for t in df.trial.unique():
        sub = df[df.trial == t]
        full = pd.DataFrame(TIGHT["data"]["berkey1998"]).query("trial == @t")
        keep = [list(full.outcome).index(o) for o in sub.outcome]
        blocks.append(full[["v1i", "v2i"]].to_numpy()[np.ix_(keep, keep)])
    long = MetaMixed.from_formula("yi ~ 0 + outcome + (0 + outcome | trial)", df, V=blocks).fit()
    assert res.llf == pytest.approx(long.llf, rel=1e-9)
    np.testing.assert_allclose(res.params, long.params.values, rtol=1e-7)


def test_mm_reduces_to_dersimonian_laird(berkey_wide):
    y, S = berkey_wide
    S0 = S.copy()
    S0[:, 0, 1] = S0[:, 1, 0] = 0.0
    res = BivariateMeta(y, S0).fit(method="MM")
    for j in range(2):
        dl = mm.MetaRandom(y[:, j], S0[:, j, j]).fit(method="DL")
        assert res.tau2[j] == pytest.approx(dl.tau2, rel=1e-10)
    mmfit = BivariateMeta(y, S).fit(method="MM")
    assert np.all(np.linalg.eigvalsh(mmfit.cov_between.values) >= -1e-12)
    assert np.isnan(mmfit.llf)


def test_within_correlation_sensitivity_and_region():
    rng = np.random.default_rng(4)
    k = 15
    var = rng.uniform(0.01, 0.05, (k, 2))
    y = rng.normal([0.3, -0.2], 0.15, (k, 2)) + rng.normal(0, np.sqrt(var))
    with pytest.warns(mm.exceptions.BoundaryWarning, match="within_corr = -0.5"):
        tab = within_corr_sensitivity(y, var, corrs=[-0.5, 0.0, 0.5])
    assert list(tab.index) == [-0.5, 0.0, 0.5]
    assert tab["boundary"].tolist() == [True, False, False]
    assert (tab["rho_between"].abs() <= 1).all()
    one = BivariateMeta(y, var, within_corr=0.5).fit()
    assert tab.loc[0.5, "b1"] == pytest.approx(one.params.iloc[0])
    assert tab.loc[0.5, "rho_between"] == pytest.approx(one.rho_between, nan_ok=True)
    pts = one.confidence_region(alpha=0.05, n_points=50)
    d = pts - np.asarray(one.params)
    C = np.asarray(one.cov_params())
    maha = np.einsum("ij,jk,ik->i", d, np.linalg.inv(C), d)
    np.testing.assert_allclose(maha, stats.chi2.ppf(0.95, 2), rtol=1e-10)
    with pytest.raises(ValueError, match="within_corr"):
        BivariateMeta(y, var)
    with pytest.raises(ValueError, match="\\(-1, 1\\)"):
        BivariateMeta(y, var, within_corr=1.2)


def test_equal_variance_closed_form_and_maximum():
    rng = np.random.default_rng(9)
    k = 12
    nt = rng.integers(10, 60, (k, 2))
    nc = rng.integers(10, 60, (k, 2))
    w = 1 / nt + 1 / nc
    D = np.array([0.5, -0.3]) + rng.normal(0, 1, (k, 2)) * np.sqrt(w * [2.0, 3.0])
    D[3, 1] = np.nan
    res = BivariateMeta.from_group_sizes(D[:, 0], D[:, 1], nt[:, 0], nc[:, 0], nt[:, 1],
                                         nc[:, 1]).fit()
    for j in range(2):
        ok = np.isfinite(D[:, j])
        iw = 1 / w[ok, j]
        mu = np.sum(D[ok, j] * iw) / iw.sum()
        s2 = np.sum((D[ok, j] - mu) ** 2 * iw) / ok.sum()
        assert res.params.iloc[j] == pytest.approx(mu, rel=1e-12)
        assert res.unit_variance.iloc[j] == pytest.approx(s2, rel=1e-12)
        assert res.bse.iloc[j] == pytest.approx(np.sqrt(s2 / iw.sum()), rel=1e-12)
        np.testing.assert_allclose(res.conf_int(0.05).iloc[j],
                                   mu + np.array([-1, 1]) * 1.959963984540054 * np.sqrt(s2 / iw.sum()))
    assert np.allclose(res.weights.sum(axis=0), 1.0)
    model = res.model
    mu, s2 = res.params.to_numpy(), res.unit_variance.to_numpy()
    for dmu, ds in ((1e-4, 0), (-1e-4, 0), (0, 1e-3), (0, -1e-3)):
        assert model.loglike(mu + dmu, s2 * (1 + ds)) < res.llf
    assert "unit variance" in str(res.summary())


# --------------------------------------------------------------- V handling
def test_forms_of_v_give_the_same_fit():
    df = pd.DataFrame(TIGHT["data"]["konstantopoulos2011"])
    f = "yi ~ 1 + (1 | district/school)"
    a = MetaMixed.from_formula(f, df, vi="vi").fit()
    b = MetaMixed.from_formula(f, df, V=np.diag(df.vi)).fit()
    c = MetaMixed.from_formula(f, df, V=sparse.diags(df.vi.to_numpy())).fit()
    d = MetaMixed.from_formula(f, df, V=[np.array([[v]]) for v in df.vi]).fit()
    for other in (b, c, d):
        assert other.llf == pytest.approx(a.llf, rel=1e-12)


def test_large_block_diagonal_v_is_not_densified():
    rng = np.random.default_rng(1)
    studies, m = 2000, 5
    n = studies * m
    study = np.repeat(np.arange(studies), m)
    blocks = []
    for _ in range(studies):
        A = rng.uniform(0.01, 0.05, m)
        C = 0.5 * np.sqrt(np.outer(A, A))
        np.fill_diagonal(C, A)
        blocks.append(C)
    V = sparse.block_diag(blocks, format="csr")
    y = 0.2 + rng.normal(0, 0.2, studies)[study] + rng.normal(0, 0.1, n)
    df = pd.DataFrame(dict(y=y, study=study))
    tracemalloc.start()
    res = MetaMixed.from_formula("y ~ 1 + (1 | study)", df, V=V).fit()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert res.converged and res.nobs == n
    assert peak < 0.25 * n * n * 8     # a dense n x n V alone would take 800 MB


def test_bad_input():
    df = pd.DataFrame(TIGHT["data"]["konstantopoulos2011"])
    f = "yi ~ 1 + (1 | district/school)"
    with pytest.raises(ValueError, match="exactly one of vi"):
        MetaMixed.from_formula(f, df)
    with pytest.raises(ValueError, match="exactly one of vi"):
        MetaMixed.from_formula(f, df, vi="vi", V=np.diag(df.vi))
    A = np.diag(df.vi.to_numpy())
    A[0, 1] = 0.01
    with pytest.raises(ValueError, match="not symmetric"):
        MetaMixed.from_formula(f, df, V=A)
    with pytest.raises(ValueError, match="strictly positive"):
        MetaMixed.from_formula(f, df.assign(vi=-df.vi), vi="vi")
    # no random term is a fixed-effects GLS fit now (as rma.mv without random=), checked
    # against metafor in test_metamixed_options.py
    assert len(MetaMixed.from_formula("yi ~ 1", df, vi="vi").fit().theta) == 0
    with pytest.raises(ValueError, match="unknown cov_struct"):
        MetaMixed.from_formula("yi ~ 1 + (1 + year | district)", df, vi="vi", cov_struct="XX")
    with pytest.raises(ValueError, match="V has shape"):
        MetaMixed.from_formula(f, df, V=np.eye(3))
    with pytest.raises(ValueError, match="unknown method"):
        MetaMixed.from_formula(f, df, vi="vi").fit(method="DL")


def test_lr_test_and_summary():
    df = pd.DataFrame(TIGHT["data"]["konstantopoulos2011"])
    full = MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", df, vi="vi").fit()
    reduced = MetaMixed.from_formula("yi ~ 1 + (1 | district)", df, vi="vi").fit()
    lr = full.compare_lr_test(reduced)
    assert lr.df == 1 and lr.statistic == pytest.approx(2 * (full.llf - reduced.llf))
    text = str(full.summary())
    assert "MetaMixed" in text and "district:school" in text


def test_ar1_g_structure_with_two_outcomes_equals_cs():
    df = pd.DataFrame(TIGHT["data"]["berkey1998"])
    f = "yi ~ 0 + outcome + (0 + outcome | trial)"
    cs = MetaMixed.from_formula(f, df, V=_berkey_blocks(df), struct="CS").fit()
    ar = MetaMixed.from_formula(f, df, V=_berkey_blocks(df), struct="AR1").fit()
    assert ar.llf == pytest.approx(cs.llf, rel=1e-8)
    np.testing.assert_allclose(ar.cov_re["trial"].values, cs.cov_re["trial"].values, rtol=1e-5)
