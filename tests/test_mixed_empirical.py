"""Empirical (sandwich) covariance of MixedModel's fixed effects (issue 20, point 5):
SAS EMPIRICAL (CR0), mmrm's jackknife and bias-reduced variants and clubSandwich's CR2,
against clubSandwich (tests/reference/scripts/mixed_empirical.R: nlme gls with an
unstructured covariance, lme with a random intercept), a leave-one-subject-out brute force
and the unbiasedness identity of the bias-reduced forms."""
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import metamodels as mm
from metamodels.inference.ddf import fstat_ddf
from metamodels.inference.sandwich import satterthwaite_df, working_blocks

REF = json.loads((Path(__file__).parent / "reference" / "mixed_empirical.json").read_text())
DATA = pd.DataFrame(REF["data"])
FORMULA = "fev1 ~ basefev1 + C(drug) * C(hourf)"
KINDS = {"un": dict(formula=FORMULA, repeated="hourf", subject="unit", cov_struct="UN"),
         "random_intercept": dict(formula=FORMULA + " + (1 | unit)")}
COV_TYPES = {"CR0": "empirical", "CR2": "CR2", "CR3": "empirical-jackknife"}


def _fit(kind, **kw):
    spec = dict(KINDS[kind])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return mm.MixedModel.from_formula(spec.pop("formula"), DATA, **spec).fit(**kw)


@pytest.fixture(scope="module", params=sorted(KINDS))
def fitted(request):
    res = _fit(request.param)
    ref = REF[request.param]
    names = res.model.exog_names
    order = []
    for n in ref["coef_names"]:
        py = n.replace("(Intercept)", "Intercept")
        py = re.sub(r"drug(\w)", r"C(drug)[T.\1]", py)
        order.append(names.index(re.sub(r"hourf(h\d)", r"C(hourf)[T.\1]", py)))
    np.testing.assert_allclose(res.params.to_numpy()[order], ref["beta"], rtol=1e-5)
    assert res.llf == pytest.approx(ref["logLik"], rel=1e-9)
    return res, ref, order


@pytest.mark.parametrize("key", sorted(COV_TYPES))
def test_covariance_and_df_equal_clubsandwich(fitted, key):
    res, ref, order = fitted
    r = res.get_robustcov_results(COV_TYPES[key])
    assert r.cov_type == COV_TYPES[key]
    C = r.cov_params().to_numpy()[np.ix_(order, order)]
    np.testing.assert_allclose(C, np.array(ref[key]["cov"]), rtol=2e-6,
                               atol=2e-6 * np.abs(C).max())
    np.testing.assert_allclose(r.df_fixed().to_numpy()[order], ref[key]["df"], rtol=2e-6)
    np.testing.assert_allclose(r.bse.to_numpy(), np.sqrt(np.diag(r.cov_params())),
                               rtol=1e-12)


def _gls(X, y, blocks, rows):
    A = sum(X[r].T @ np.linalg.solve(P, X[r]) for r, P in zip(rows, blocks))
    b = sum(X[r].T @ np.linalg.solve(P, y[r]) for r, P in zip(rows, blocks))
    return np.linalg.solve(A, b)


def test_jackknife_is_leave_one_subject_out(fitted):
    """CR3 = sum_j (b_(-j) - b)(b_(-j) - b)' with b_(-j) refitted without subject j at the
    same covariance parameters (no (m-1)/m factor, as mmrm)."""
    res, _, _ = fitted
    m = res.model
    rows, Phi = working_blocks(m.spec, res._fit.theta, m.block_ids)
    b = _gls(m.exog, m.endog, Phi, rows)
    np.testing.assert_allclose(b, res.params.to_numpy(), rtol=1e-8)
    S = np.zeros((b.size, b.size))
    for j in range(len(rows)):
        keep = [k for k in range(len(rows)) if k != j]
        d = _gls(m.exog, m.endog, [Phi[k] for k in keep], [rows[k] for k in keep]) - b
        S += np.outer(d, d)
    C = res.get_robustcov_results("empirical-jackknife").cov_params().to_numpy()
    np.testing.assert_allclose(C, S, rtol=1e-8, atol=1e-10 * np.abs(S).max())


@pytest.mark.parametrize("cov_type", ["empirical-bias-reduced", "CR2"])
def test_bias_reduced_forms_unbiased_under_working_model(fitted, cov_type):
    """A_j (Phi_j - X_j M X_j') A_j' = Phi_j: replacing e_j e_j' by its expectation under
    the working model gives back the model-based covariance M exactly."""
    res, _, _ = fitted
    r = res.get_robustcov_results(cov_type)
    pc = r._sandwich
    M = pc["M"]
    S = sum(E @ (P - X @ M @ X.T) @ E.T for E, P, X in zip(pc["E"], pc["Phi"], pc["X"]))
    np.testing.assert_allclose(S, M, rtol=1e-9, atol=1e-12 * np.abs(M).max())
    np.testing.assert_allclose(M, res.cov_params_model_based.to_numpy(), rtol=1e-7)


def test_mmrm_and_clubsandwich_bias_reduction():
    """mmrm's square root and clubSandwich's give the same covariance when each subject's
    working covariance is a multiple of the identity, and different ones otherwise."""
    ident = mm.MixedModel.from_formula(FORMULA, DATA, subject="unit").fit()
    a = ident.get_robustcov_results("empirical-bias-reduced").cov_params().to_numpy()
    b = ident.get_robustcov_results("CR2").cov_params().to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-10)
    un = _fit("un")
    a = un.get_robustcov_results("empirical-bias-reduced").cov_params().to_numpy()
    b = un.get_robustcov_results("CR2").cov_params().to_numpy()
    assert not np.allclose(a, b, rtol=1e-6)


def test_every_test_and_interval_uses_the_empirical_covariance():
    res = _fit("un", cov_type="empirical")
    C = res.cov_params().to_numpy()
    assert not np.allclose(C, res.cov_params_model_based.to_numpy())
    tab = res.coef_table()
    np.testing.assert_allclose(tab["Std.Err."], np.sqrt(np.diag(C)), rtol=1e-12)
    pc = res._sandwich
    df = satterthwaite_df(pc, np.eye(C.shape[0]))
    np.testing.assert_allclose(tab["df"], df, rtol=1e-12)
    np.testing.assert_allclose(res.pvalues, 2 * stats.t.sf(np.abs(tab["t"]), df), rtol=1e-10)
    ci = np.asarray(res.conf_int())
    np.testing.assert_allclose(ci[:, 1] - res.params, stats.t.ppf(0.975, df) * np.sqrt(
        np.diag(C)), rtol=1e-10)
    # a 3-row F test: Wald F with C, Fai-Cornelius over Bell-McCaffrey df of its
    # eigen-contrasts
    L = np.zeros((3, C.shape[0]))
    L[[0, 1, 2], [3, 4, 5]] = 1.0
    ft = res.f_test(L)
    b = res.params.to_numpy()
    assert float(ft.fvalue) == pytest.approx(
        (L @ b) @ np.linalg.solve(L @ C @ L.T, L @ b) / 3, rel=1e-10)
    d, P = np.linalg.eigh(L @ C @ L.T)
    assert float(ft.df_denom) == pytest.approx(fstat_ddf(satterthwaite_df(pc, P.T @ L)),
                                               rel=1e-10)
    tt = res.t_test(L[:1])
    assert float(tt.sd[0]) == pytest.approx(np.sqrt(C[3, 3]), rel=1e-12)
    # term-table methods keep their df, with the empirical covariance
    bw = res.anova(3, ddf="between-within")
    base = _fit("un").anova(3, ddf="between-within")
    np.testing.assert_allclose(bw["den_df"], base["den_df"])
    assert not np.allclose(bw["F"], base["F"])
    assert res.anova(3, ddf="residual")["den_df"].eq(res.df_resid).all()
    assert "empirical" in str(res.summary())


def test_robust_method_of_results_agrees():
    res = _fit("random_intercept")
    rob = res.robust("unit", cov_type="CR2")
    np.testing.assert_allclose(rob.cov_params().to_numpy(),
                               res.get_robustcov_results("CR2").cov_params().to_numpy(),
                               rtol=1e-12)


def test_kenward_roger_with_empirical_is_refused():
    with pytest.raises(ValueError, match="cannot be combined with cov_type='empirical'"):
        _fit("random_intercept", cov_type="empirical", ddf="kenward-roger")
    res = _fit("random_intercept", cov_type="sandwich")
    assert res.cov_type == "empirical"
    with pytest.raises(ValueError, match="DDFM=KR with EMPIRICAL"):
        res.anova(ddf="kr")
    with pytest.raises(ValueError, match="unknown cov_type"):
        _fit("random_intercept", cov_type="HC3")
