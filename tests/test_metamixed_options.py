"""MetaMixed options of metafor's rma.mv: fixed rho/phi/tau2/gamma2/sigma2, the HAR and CAR
structures and fixed-effects GLS with a known V (no random term), against metafor 3.8.1
(tests/reference/scripts/meta_mv_options.R)."""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metamodels as mm
from metamodels.core.structures import AR1, CAR, FixedParams, get_structure, psd_structure
from metamodels.exceptions import SpecificationError
from metamodels.multivariate import MetaMixed

REF = json.loads((Path(__file__).parent / "reference" / "meta_mv_options.json").read_text())
CASES = [c for c in REF["cases"] if c["method"] != "FE"]


def _data(name):
    return pd.DataFrame(REF["data"][name])


def _known(case, df):
    if case["dataset"] == "berkey1998":
        return dict(V=[df.loc[df.trial == t, ["v1i", "v2i"]].to_numpy()
                       for t in df.trial.unique()])
    if case["dataset"] == "ishak2007":
        return dict(V=np.array(REF["data"]["ishak2007_V"]))
    return dict(vi="vi")


def _fixed(case):
    out = {}
    for k, v in (case.get("fix") or {}).items():
        out[k] = [None if x in (None, {}) else x for x in v] if isinstance(v, list) else v
    return out


def _fit(case):
    df = _data(case["dataset"])
    struct = case.get("struct") or "UN"
    if isinstance(struct, list):
        struct = {"trial": struct[0], "period": struct[1]}
    mod = MetaMixed.from_formula(case["formula"], df, struct=struct, **_known(case, df),
                                 **_fixed(case))
    return mod.fit(method=case["method"])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_against_rma_mv(case):
    r = case["result"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", mm.exceptions.BoundaryWarning)   # phi: gamma2 = 0
        res = _fit(case)
    assert res.llf_metafor == pytest.approx(r["logLik"], rel=1e-10, abs=1e-9)
    np.testing.assert_allclose(res.params.values, list(r["coef"].values()), rtol=1e-7)
    np.testing.assert_allclose(res.bse.values, r["se"], rtol=1e-6)
    # only the free parameters count, as in metafor
    assert res.model.k_params + res.model.spec.n_params == r["parms"]
    X = res.model.exog
    shift = np.linalg.slogdet(X.T @ X)[1] if res.reml else 0.0
    assert res.aic - shift == pytest.approx(r["AIC"], rel=1e-9)
    assert res.bic - shift == pytest.approx(r["BIC"], rel=1e-9)
    # Q from the known V alone, also when a variance is fixed at a non-zero value
    assert res.q == pytest.approx(r["QE"], rel=1e-10)
    if r["sigma2"] is not None:
        np.testing.assert_allclose(res.sigma2.values, np.atleast_1d(r["sigma2"]), rtol=1e-6,
                                   atol=1e-10)
    terms = [k for k, G in res.cov_re.items() if G.shape[0] > 1]
    for term, var, cor in zip(terms, ("tau2", "gamma2"), ("rho", "phi")):
        G = res.cov_re[term].values
        tau2 = np.broadcast_to(np.atleast_1d(r[var]), (G.shape[0],))
        np.testing.assert_allclose(np.diag(G), tau2, rtol=1e-6, atol=1e-9)
        if r[cor] is not None and case.get("struct") in ("HAR", "CAR", "HCS", "UN", None) \
                and np.all(tau2 > 0):
            C = G / np.sqrt(np.outer(np.diag(G), np.diag(G)))
            if case.get("struct") == "CAR":
                s = res.model.random[0].structure
                t = getattr(s, "base", s).times
                expect = r[cor] ** np.abs(t[:, None] - t[None, :])
            elif case.get("struct") == "HAR":
                lag = np.abs(np.subtract.outer(np.arange(4), np.arange(4)))
                expect = r[cor] ** lag
            else:
                expect = np.where(np.eye(G.shape[0]) == 1, 1.0, r[cor])
            np.testing.assert_allclose(C, expect, rtol=1e-6, atol=1e-9)


def test_fixed_values_are_reported_not_estimated():
    case = next(c for c in CASES if c["name"] == "berkey_UN_rho_REML")
    res = _fit(case)
    name = "trial Corr(outcome[PD],outcome[AL])"
    assert res.model.fixed_params == {name: 0.5}
    assert name not in res.theta.index and len(res.theta) == 2
    assert res.cov_theta.shape == (2, 2)
    assert res.rho == pytest.approx(0.5, abs=1e-15)
    text = " ".join(str(res.summary()).split())
    assert "Fixed (not estimated): " + name + " = 0.5" in text
    # loglike at the estimate is the fitted log-likelihood (free parameters only)
    assert res.model.loglike(res.theta.values) == pytest.approx(res.llf, rel=1e-12)


def test_fixed_rho_of_a_three_outcome_un_and_bad_values():
    rng = np.random.default_rng(3)
    k = 25
    df = pd.DataFrame({"study": np.repeat(np.arange(k), 3),
                       "outcome": np.tile(["a", "b", "c"], k),
                       "vi": rng.uniform(0.02, 0.08, 3 * k)})
    u = rng.multivariate_normal([0, 0, 0], 0.05 * (0.5 * np.eye(3) + 0.5), k)
    df["yi"] = u.reshape(-1) + rng.normal(0, np.sqrt(df.vi))
    f = "yi ~ 0 + outcome + (0 + outcome | study)"
    rho = [0.2, 0.4, 0.6]                   # metafor's order: (b,a), (c,a), (c,b)
    res = MetaMixed.from_formula(f, df, vi="vi", struct="UN", rho=rho).fit()
    C = res.rho.values
    np.testing.assert_allclose([C[1, 0], C[2, 0], C[2, 1]], rho, atol=1e-12)
    assert res.model.spec.n_params == 3
    # free fit has a higher log-likelihood
    free = MetaMixed.from_formula(f, df, vi="vi", struct="UN").fit()
    assert free.llf >= res.llf - 1e-9
    with pytest.raises(SpecificationError, match="all correlations or none"):
        MetaMixed.from_formula(f, df, vi="vi", struct="UN", rho=[0.2, None, 0.6])
    with pytest.raises(SpecificationError, match="positive semi-definite"):
        MetaMixed.from_formula(f, df, vi="vi", struct="UN", rho=[0.9, -0.9, 0.9])
    with pytest.raises(SpecificationError, match="range"):
        MetaMixed.from_formula(f, df, vi="vi", struct="CS", rho=1.5)
    with pytest.raises(SpecificationError, match="no correlation"):
        MetaMixed.from_formula(f, df, vi="vi", struct="DIAG", rho=0.5)
    with pytest.raises(SpecificationError, match="needs 3 value"):
        MetaMixed.from_formula(f, df, vi="vi", struct="DIAG", tau2=[0.1, 0.2])
    with pytest.raises(SpecificationError, match="vector random term number 2"):
        MetaMixed.from_formula(f, df, vi="vi", phi=0.5)
    with pytest.raises(SpecificationError, match="no scalar random term"):
        MetaMixed.from_formula(f, df, vi="vi", sigma2=0.1)


def test_fixed_structure_derivatives_are_the_base_rows():
    base = psd_structure(get_structure("CSH", 3))
    s = FixedParams(base, {1: 0.3, 3: 0.25})
    theta = np.array([0.7, 1.1])
    full = np.array([0.7, 0.3, 1.1, 0.25])
    np.testing.assert_allclose(s.matrix(theta), base.matrix(full))
    np.testing.assert_allclose(s.derivatives(theta), base.derivatives(full)[[0, 2]])
    np.testing.assert_allclose(s.second_derivatives(theta),
                               base.second_derivatives(full)[np.ix_([0, 2], [0, 2])])
    assert s.param_names == ("Var(1)", "Var(3)")


@pytest.mark.parametrize("times", [[0.0, 1.0, 2.0, 3.0], [3.0, 6.0, 12.0, 24.0],
                                   [0.0, 0.25, 1.7, 2.0]])
def test_car_derivatives_match_finite_differences(times):
    s = CAR(len(times), times)
    theta = np.array([1.3, 0.8])
    h = 1e-6
    fd1 = np.stack([(s.matrix(theta + e) - s.matrix(theta - e)) / (2 * h)
                    for e in np.eye(2) * h])
    np.testing.assert_allclose(s.derivatives(theta), fd1, rtol=1e-6, atol=1e-9)
    fd2 = np.stack([(s.derivatives(theta + e) - s.derivatives(theta - e)) / (2 * h)
                    for e in np.eye(2) * h])
    np.testing.assert_allclose(s.second_derivatives(theta), fd2, rtol=1e-5, atol=1e-7)
    t = np.asarray(times)
    np.testing.assert_allclose(s.matrix(theta), 1.3 * 0.8 ** np.abs(t[:, None] - t[None, :]))
    # evenly spaced unit times: AR(1)
    if times == [0.0, 1.0, 2.0, 3.0]:
        np.testing.assert_allclose(s.matrix(theta), AR1(4).matrix(theta))
    with pytest.raises(ValueError, match="distinct"):
        CAR(2, [1.0, 1.0])


def test_car_term_needs_one_time_variable():
    df = _data("ishak2007")
    V = np.array(REF["data"]["ishak2007_V"])
    with pytest.raises(SpecificationError, match="one numeric time variable"):
        MetaMixed.from_formula("yi ~ 1 + (0 + C(time) | study)", df, V=V, struct="CAR")
    # an intercept column next to the time is dropped: same model
    a = MetaMixed.from_formula("yi ~ 1 + (months | study)", df, V=V, struct="CAR").fit()
    b = MetaMixed.from_formula("yi ~ 1 + (0 + months | study)", df, V=V, struct="CAR").fit()
    assert a.llf == pytest.approx(b.llf, rel=1e-12)


def test_fixed_effects_gls_with_known_v():
    r = next(c for c in REF["cases"] if c["name"] == "ishak_fixed")["result"]
    df = _data("ishak2007")
    res = MetaMixed.from_formula("yi ~ 0 + C(time)", df,
                                 V=np.array(REF["data"]["ishak2007_V"])).fit()
    assert res.method == "ML" and len(res.theta) == 0
    assert res.llf_metafor == pytest.approx(r["logLik"], rel=1e-12)
    np.testing.assert_allclose(res.params.values, list(r["coef"].values()), rtol=1e-10)
    np.testing.assert_allclose(res.bse.values, r["se"], rtol=1e-10)
    assert res.aic == pytest.approx(r["AIC"], rel=1e-12)
    assert res.bic == pytest.approx(r["BIC"], rel=1e-12)
    assert res.q == pytest.approx(r["QE"], rel=1e-12)
    assert res.qm == pytest.approx(r["QM"], rel=1e-10)
    # with independent sampling errors it is MetaFixed
    konst = _data("konstantopoulos2011")
    a = MetaMixed.from_formula("yi ~ year", konst, vi="vi").fit()
    b = mm.MetaFixed.from_formula("yi ~ year", konst, vi="vi").fit()
    np.testing.assert_allclose(a.params.values, b.params.values, rtol=1e-8)   # year not
    np.testing.assert_allclose(a.bse.values, b.bse.values, rtol=1e-8)         # centred


def test_metafor_ar_spelling_and_car_with_even_unit_times_is_ar1():
    df = _data("ishak2007")
    V = np.array(REF["data"]["ishak2007_V"])
    f = "yi ~ 0 + C(time) + (0 + C(time) | study)"
    a = MetaMixed.from_formula(f, df, V=V, struct="AR").fit()
    b = MetaMixed.from_formula(f, df, V=V, struct="AR1").fit()
    c = MetaMixed.from_formula("yi ~ 0 + C(time) + (0 + time | study)", df, V=V,
                               struct="CAR").fit()
    assert a.llf == b.llf
    assert b.theta.iloc[1] > 0          # rho >= 0, so CAR over times 1..4 is the same model
    assert c.llf == pytest.approx(b.llf, rel=1e-10)
    np.testing.assert_allclose(c.theta.values, b.theta.values, rtol=1e-6)
