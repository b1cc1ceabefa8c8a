"""Pearson / normalized residuals against nlme::gls and conditional predictions of
unobserved visits (mmrm's ``predict(conditional = TRUE)``) against dense algebra (issue 20,
point 7)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from metamodels import MixedModel

REF = json.loads((Path(__file__).parent / "reference" / "mixed_spatial.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}
ORTH = pd.DataFrame(REF["data"]["orthodont_missing"])
OVARY = pd.DataFrame(REF["data"]["ovary"])
SEX = "distance ~ age * C(Sex, levels=['Male', 'Female'])"


def _orth_fit(struct):
    return MixedModel.from_formula(SEX, ORTH, subject="Subject", repeated="visit",
                                   cov_struct=struct).fit()


@pytest.mark.parametrize("name,struct,tol", [("orth_UN_REML", "UN", 5e-5),
                                             ("orth_AR1_REML", "AR1", 1e-7)])
def test_residuals_equal_nlme(name, struct, tol):
    res = CASES[name]["result"]
    fit = _orth_fit(struct)
    assert fit.llf == pytest.approx(res["logLik"], abs=1e-7)
    np.testing.assert_allclose(fit.resid_marginal, res["resid_response"], atol=tol)
    np.testing.assert_allclose(fit.resid_pearson, res["resid_pearson"], atol=tol)
    np.testing.assert_allclose(fit.resid_normalized, res["resid_normalized"], atol=tol)


def test_residuals_of_a_spatial_fit_equal_nlme():
    res = CASES["ovary_pow_REML"]["result"]
    fit = MixedModel.from_formula(
        "follicles ~ np.sin(2 * np.pi * Time) + np.cos(2 * np.pi * Time)", OVARY,
        subject="Mare", cov_struct="SP(POW)", coords="Time").fit()
    np.testing.assert_allclose(fit.resid_pearson, res["resid_pearson"], atol=1e-5)
    np.testing.assert_allclose(fit.resid_normalized, res["resid_normalized"], atol=1e-5)


def _dense_blocks(fit):
    """Per independent unit: its data rows (fitted order) and V from brute force."""
    m = fit.model
    V = np.zeros((len(m.endog),) * 2)
    for rows, v in zip(m.spec.layout.groups, m.spec.build(fit._fit.theta)):
        for b in range(rows.shape[0]):
            V[np.ix_(rows[b], rows[b])] = v[b]
    return V


def test_residuals_with_a_random_effect_and_weights():
    """Definitions checked densely: Pearson r / sqrt(diag V), normalized L^-1 r per unit
    (V = Z G Z' + W^-1/2 R W^-1/2), independent of the unit's row order in the data."""
    rng = np.random.default_rng(2)
    df = ORTH.assign(w=rng.uniform(0.5, 2.0, len(ORTH))).sample(frac=1.0, random_state=3)
    fit = MixedModel.from_formula(SEX + " + (1 | Subject)", df, subject="Subject",
                                  repeated="visit", cov_struct="AR1", weights="w").fit()
    r = fit.resid_marginal
    V = _dense_blocks(fit)
    np.testing.assert_allclose(fit.resid_pearson, r / np.sqrt(np.diag(V)), rtol=1e-12)
    z = fit.resid_normalized
    visit = df["visit"].to_numpy()
    for s in df["Subject"].unique():
        idx = np.flatnonzero(df["Subject"].to_numpy() == s)
        idx = idx[np.argsort(visit[idx])]            # the unit's order: by visit
        L = np.linalg.cholesky(V[np.ix_(idx, idx)])
        np.testing.assert_allclose(z[idx], np.linalg.solve(L, r[idx]), rtol=1e-10,
                                   atol=1e-12)
    # conditional residuals are unchanged: y - Xb - Zu
    assert not np.allclose(fit.resid, r)


# ------------------------------------------------------------ conditional prediction
def _complete_grid(df):
    """The fitted data with its missing visits appended (response NaN)."""
    grid = pd.DataFrame([(s, v) for s in df["Subject"].unique() for v in (1, 2, 3, 4)],
                        columns=["Subject", "visit"])
    out = grid.merge(df, on=["Subject", "visit"], how="left")
    out["age"] = 8 + 2 * (out["visit"] - 1)
    out["Sex"] = out.groupby("Subject")["Sex"].transform(lambda s: s.dropna().iloc[0])
    return out


def _brute_force(fit, data, Sigma_of):
    """Conditional mean, mean variance and conditional variance of the NaN rows, from
    the dense covariance ``Sigma_of(unit rows)``."""
    X = np.asarray(fit.model.exog)  # noqa: F841 - design built below from the formula
    import patsy
    X0 = np.asarray(patsy.dmatrix(fit.model.design_info, data))
    b = np.asarray(fit.params)
    C = np.asarray(fit.cov_params())
    y = data["distance"].to_numpy() if "distance" in data else data.iloc[:, 0].to_numpy()
    mean, vmean, vcond = X0 @ b, np.zeros(len(data)), np.zeros(len(data))
    mean = np.where(np.isnan(y), mean, y)
    for s in data["Subject"].unique():
        idx = np.flatnonzero(data["Subject"].to_numpy() == s)
        S = Sigma_of(data.iloc[idx])
        mi = np.isnan(y[idx])
        if not mi.any():
            continue
        o, mm = idx[~mi], idx[mi]
        Smo = S[np.ix_(mi, ~mi)]
        Soo_inv = np.linalg.inv(S[np.ix_(~mi, ~mi)])
        mean[mm] = X0[mm] @ b + Smo @ Soo_inv @ (y[o] - X0[o] @ b)
        L = X0[mm] - Smo @ Soo_inv @ X0[o]
        vmean[mm] = np.diag(L @ C @ L.T)
        vcond[mm] = np.diag(S[np.ix_(mi, mi)] - Smo @ Soo_inv @ Smo.T)
    return mean, vmean, vcond


def test_conditional_prediction_un_equals_dense_algebra():
    fit = _orth_fit("UN")
    data = _complete_grid(ORTH)
    R = fit.cov_resid.to_numpy()
    labels = list(fit.model.visit_labels)
    Sigma = lambda rows: R[np.ix_(*(2 * [[labels.index(v) for v in rows["visit"]]]))]  # noqa: E731
    mean, vmean, vcond = _brute_force(fit, data, Sigma)
    sf = fit.get_prediction_conditional(data).summary_frame(alpha=0.1)
    miss = data["distance"].isna().to_numpy()
    assert miss.sum() == 14 and np.array_equal(~sf["observed"].to_numpy(), miss)
    np.testing.assert_allclose(sf["mean"], mean, rtol=1e-10)
    np.testing.assert_allclose(sf["mean_se"], np.sqrt(vmean), rtol=1e-8, atol=1e-12)
    # observed rows come back as they are
    np.testing.assert_array_equal(sf["mean"][~miss], data["distance"][~miss])
    assert np.all(sf["mean_se"][~miss] == 0)
    # intervals: t quantile with the Satterthwaite df of the contrast X_m - K X_o
    pred = fit.get_prediction_conditional(data)
    df = pred.df[miss]
    assert np.all(np.isfinite(df)) and np.all(df > 0)
    q = stats.t.ppf(0.95, df)
    np.testing.assert_allclose(sf["obs_ci_upper"][miss],
                               mean[miss] + q * np.sqrt(vmean[miss] + vcond[miss]),
                               rtol=1e-9)
    np.testing.assert_allclose(sf["mean_ci_lower"][miss],
                               mean[miss] - q * np.sqrt(vmean[miss]), rtol=1e-9)
    np.testing.assert_allclose(fit.predict_conditional(data), sf["mean"], rtol=0)


def test_conditional_prediction_random_intercept_ar1():
    """V = s_u^2 J + R(AR1): the dense conditional mean; with a random intercept only,
    the conditional mean of a missing visit is x'b + the subject's BLUP."""
    data = _complete_grid(ORTH)
    fit = MixedModel.from_formula(SEX + " + (1 | Subject)", ORTH, subject="Subject",
                                  repeated="visit", cov_struct="AR1").fit()
    th = fit.theta
    s2u, s2, rho = th.iloc[0], th["Residual"], th["AR(1)"]

    def Sigma(rows):
        v = rows["visit"].to_numpy()
        return s2u + s2 * rho ** np.abs(np.subtract.outer(v, v))

    mean, vmean, vcond = _brute_force(fit, data, Sigma)
    sf = fit.get_prediction_conditional(data).summary_frame()
    np.testing.assert_allclose(sf["mean"], mean, rtol=1e-10)
    np.testing.assert_allclose(sf["mean_se"], np.sqrt(vmean), rtol=1e-8, atol=1e-12)
    ri = MixedModel.from_formula(SEX + " + (1 | Subject)", ORTH).fit()
    miss = data["distance"].isna().to_numpy()
    sf = ri.get_prediction_conditional(data).summary_frame()
    blup = ri.predict(data[miss], conditional=True)
    np.testing.assert_allclose(sf["mean"][miss], blup, rtol=1e-10)


def test_conditional_prediction_spatial_and_new_subject():
    fit = MixedModel.from_formula(
        "follicles ~ np.sin(2 * np.pi * Time) + np.cos(2 * np.pi * Time)", OVARY,
        subject="Mare", cov_struct="SP(EXP)", coords="Time").fit()
    s2, rho = fit.theta["Residual"], fit.theta["SP(EXP)"]
    mare = OVARY[OVARY["Mare"] == "3"].copy()
    new = pd.DataFrame({"Mare": "3", "Time": [0.123456, 0.5, 1.05], "follicles": np.nan})
    new_subject = pd.DataFrame({"Mare": "new", "Time": [0.1, 0.2], "follicles": np.nan})
    data = pd.concat([mare, new, new_subject], ignore_index=True)
    sf = fit.get_prediction_conditional(data).summary_frame()
    X = np.column_stack([np.ones(len(data)), np.sin(2 * np.pi * data["Time"]),
                         np.cos(2 * np.pi * data["Time"])])
    b = np.asarray(fit.params)
    y = data["follicles"].to_numpy()
    o = np.flatnonzero(~np.isnan(y))
    m = np.arange(len(mare), len(mare) + 3)
    t = data["Time"].to_numpy()
    S = s2 * np.exp(-np.abs(np.subtract.outer(t, t)) / rho)
    K = S[np.ix_(m, o)] @ np.linalg.inv(S[np.ix_(o, o)])
    np.testing.assert_allclose(sf["mean"].to_numpy()[m], X[m] @ b + K @ (y[o] - X[o] @ b),
                               rtol=1e-9)
    A = S[np.ix_(m, m)] - K @ S[np.ix_(o, m)]
    L = X[m] - K @ X[o]
    C = np.asarray(fit.cov_params())
    np.testing.assert_allclose(sf["mean_se"].to_numpy()[m], np.sqrt(np.diag(L @ C @ L.T)),
                               rtol=1e-8)
    pred = fit.get_prediction_conditional(data)
    np.testing.assert_allclose(pred.var_extra[m], np.diag(A), rtol=1e-8)
    # a new subject with no observation: the marginal prediction
    n = [len(data) - 2, len(data) - 1]
    np.testing.assert_allclose(sf["mean"].to_numpy()[n], X[n] @ b, rtol=1e-12)
    np.testing.assert_allclose(pred.var_extra[n], s2, rtol=1e-12)


def test_conditional_prediction_errors():
    fit = _orth_fit("UN")
    data = _complete_grid(ORTH)
    with pytest.raises(ValueError, match="not seen in the fit"):
        fit.get_prediction_conditional(data.assign(visit=data["visit"] + 10))
    with pytest.raises(ValueError, match="lack the column"):
        fit.get_prediction_conditional(data.drop(columns="Subject"))
    arr = MixedModel(ORTH["distance"], np.ones((len(ORTH), 1)), subject=ORTH["Subject"],
                     repeated=ORTH["visit"], cov_struct="CS").fit()
    with pytest.raises(ValueError, match="from_formula"):
        arr.get_prediction_conditional(data)
