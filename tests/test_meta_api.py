"""MetaFixed / MetaRandom: API conventions, bad input, warnings, statsmodels integration."""
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.iolib.summary2 import summary_col

import metamodels as mm
from metamodels.exceptions import (BoundaryWarning, ConvergenceWarning, MissingDataWarning,
                                   SpecificationError)


def test_numpy_in_numpy_out_and_pandas_labels(bcg):
    res = mm.MetaRandom(bcg["yi"].values, bcg["vi"].values).fit()
    assert isinstance(res.params, np.ndarray)
    assert res.model.exog_names == ["Intercept"]
    res2 = mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi="vi").fit()
    assert isinstance(res2.params, pd.Series)
    assert list(res2.params.index) == ["Intercept", "ablat"]
    assert list(res2.conf_int().columns) == [0, 1]
    assert list(res2.cov_params().index) == ["Intercept", "ablat"]
    assert list(res2.bse.index) == ["Intercept", "ablat"]
    res3 = mm.MetaRandom(bcg["yi"], bcg["vi"]).fit()
    assert isinstance(res3.params, pd.Series) and res3.params.index[0] == "Intercept"


def test_vi_as_array_in_formula(bcg):
    a = mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi=bcg["vi"].values).fit()
    b = mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi="vi").fit()
    np.testing.assert_allclose(a.params, b.params)


def test_fit_does_not_mutate_model_and_returns_new_results(bcg):
    m = mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi="vi")
    before = set(vars(m))
    r1 = m.fit(method="REML")
    r2 = m.fit(method="DL")
    assert set(vars(m)) == before
    assert r1 is not r2 and r1.tau2 != r2.tau2


def test_statsmodels_tests_work(bcg):
    res = mm.MetaRandom.from_formula("yi ~ ablat + year", data=bcg, vi="vi").fit()
    tt = res.t_test("ablat = 0")
    assert float(np.squeeze(tt.tvalue)) == pytest.approx(res.tvalues["ablat"], rel=1e-12)
    assert float(np.squeeze(tt.pvalue)) == pytest.approx(res.pvalues["ablat"], rel=1e-12)
    wt = res.wald_test("ablat = 0, year = 0", scalar=True)
    assert float(wt.statistic) == pytest.approx(res.qm, rel=1e-10)
    ft = res.f_test("ablat = 0, year = 0")
    assert float(np.squeeze(ft.fvalue)) == pytest.approx(res.qm / 2, rel=1e-10)
    # knha: t distribution with k - p df
    kn = mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi="vi").fit(test="knha")
    assert kn.use_t and kn.df_resid == 11
    assert float(np.squeeze(kn.t_test("ablat = 0").pvalue)) == pytest.approx(kn.pvalues["ablat"])


def test_summary_and_summary_col(bcg):
    fe = mm.MetaFixed.from_formula("yi ~ ablat", data=bcg, vi="vi").fit()
    re = mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi="vi").fit()
    text = str(re.summary())
    for token in ("MetaRandom", "Restricted maximum likelihood", "tau^2", "I^2", "ablat", "QM"):
        assert token in text
    assert "Fixed-effects" in str(fe.summary())
    table = summary_col([fe, re], model_names=["FE", "RE"], stars=True)
    assert "ablat" in str(table)


def test_unknown_method_and_test(bcg):
    m = mm.MetaRandom(bcg["yi"], bcg["vi"])
    with pytest.raises(ValueError, match="unknown method 'XX'.*DL, HE"):
        m.fit(method="XX")
    with pytest.raises(ValueError, match="unknown test"):
        m.fit(test="wald")
    assert m.fit(method="reml").method == "REML"
    with pytest.raises(ValueError, match="unknown test"):
        mm.MetaFixed(bcg["yi"], bcg["vi"]).fit(test="wald")
    assert m.fit(method="hsk").method == "HSk"


@pytest.mark.parametrize("vi, msg", [
    ([0.1, -0.2, 0.3, 0.1], "strictly positive"),
    ([0.1, 0.0, 0.3, 0.1], "strictly positive"),
    ([0.1, np.inf, 0.3, 0.1], "non-finite"),
    ([0.1, 0.2, 0.3], "lengths must match"),
])
def test_bad_variances(vi, msg):
    with pytest.raises(ValueError, match=msg):
        mm.MetaRandom([0.1, 0.2, 0.3, 0.4], vi)


def test_too_few_studies_and_singular_design():
    with pytest.raises(ValueError, match="too few studies"):
        mm.MetaRandom([0.1], [0.1])
    with pytest.raises(ValueError, match="too few studies"):
        mm.MetaFixed([0.1, 0.2], [0.1, 0.1], exog=np.column_stack([np.ones(2), [1.0, 2.0]]))
    X = np.column_stack([np.ones(4), [1.0, 2, 3, 4], [2.0, 4, 6, 8]])
    with pytest.raises(SpecificationError, match="singular design"):
        mm.MetaRandom([0.1, 0.2, 0.3, 0.4], [0.1] * 4, exog=X)
    with pytest.raises(ValueError, match="exog has 3 rows"):
        mm.MetaRandom([0.1, 0.2, 0.3, 0.4], [0.1] * 4, exog=np.ones((3, 1)))


def test_missing_values_policy(bcg):
    y = bcg["yi"].values.copy()
    v = bcg["vi"].values.copy()
    y[2] = np.nan
    v[5] = np.nan
    with pytest.raises(ValueError, match="missing"):
        mm.MetaRandom(y, v)
    with pytest.raises(Exception, match="(?i)nan|missing"):
        mm.MetaRandom(y, v, missing="raise")
    with pytest.warns(MissingDataWarning, match="2 row"):
        m = mm.MetaRandom(y, v, missing="drop")
    assert m.nobs == 11
    keep = np.isfinite(y) & np.isfinite(v)
    ref = mm.MetaRandom(y[keep], v[keep]).fit()
    np.testing.assert_allclose(m.fit().params, ref.params)
    d = bcg.copy()
    d.loc[3, "ablat"] = np.nan
    d.loc[7, "vi"] = np.nan
    with pytest.warns(MissingDataWarning, match="2 row"):
        mf = mm.MetaRandom.from_formula("yi ~ ablat", data=d, vi="vi")
    assert mf.nobs == 11
    with pytest.raises(ValueError, match="missing"):
        mm.MetaRandom.from_formula("yi ~ ablat", data=d, vi="vi", missing="raise")
    with pytest.raises(ValueError, match="not a column"):
        mm.MetaRandom.from_formula("yi ~ ablat", data=d, vi="variance")


def test_boundary_warning_and_convergence_warning():
    y = np.array([0.1, 0.11, 0.09, 0.1, 0.105])
    v = np.full(5, 0.2)
    with pytest.warns(BoundaryWarning, match="boundary 0"):
        res = mm.MetaRandom(y, v).fit(method="REML")
    assert res.tau2 == 0.0
    rng = np.random.default_rng(0)
    y = rng.normal(0, 1, 30)
    v = rng.uniform(0.01, 0.1, 30)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        mm.MetaRandom(y, v).fit(method="EB", maxiter=2)


def test_fixed_tau2_and_information_criteria(bcg):
    m = mm.MetaRandom(bcg["yi"], bcg["vi"])
    res = m.fit(method="ML", tau2=0.2)
    assert res.tau2 == 0.2 and res.n_params_total == 1
    free = m.fit(method="ML")
    assert free.n_params_total == 2 and free.llf > res.llf
    with pytest.raises(ValueError, match="non-negative"):
        m.fit(tau2=-1.0)


def test_compare_lr_test(bcg):
    full = mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi="vi").fit(method="ML")
    null = mm.MetaRandom.from_formula("yi ~ 1", data=bcg, vi="vi").fit(method="ML")
    lr = full.compare_lr_test(null)
    assert lr.df == 1
    assert lr.statistic == pytest.approx(2 * (full.llf - null.llf))
    assert 0 < lr.pvalue < 0.05
    assert "chi2(1)" in str(lr)
    fe = mm.MetaFixed.from_formula("yi ~ ablat", data=bcg, vi="vi").fit()
    het = full.compare_lr_test(fe)            # test of tau^2 = 0 (boundary: conservative)
    assert het.df == 1 and het.statistic > 0
    reml_full = mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi="vi").fit()
    reml_null = mm.MetaRandom.from_formula("yi ~ 1", data=bcg, vi="vi").fit()
    with pytest.raises(ValueError, match="REML log-likelihoods of models with different fixed"):
        reml_full.compare_lr_test(reml_null)
    with pytest.raises(ValueError, match="REML fit with an ML fit"):
        reml_full.compare_lr_test(null)
    with pytest.raises(ValueError, match="likelihood fits"):
        mm.MetaRandom(bcg["yi"], bcg["vi"]).fit(method="DL").compare_lr_test(
            mm.MetaFixed(bcg["yi"], bcg["vi"]).fit())


def test_prediction_with_new_data(bcg):
    res = mm.MetaRandom.from_formula("yi ~ ablat + C(alloc)", data=bcg, vi="vi").fit()
    new = pd.DataFrame({"ablat": [20.0, 40.0], "alloc": ["random", "systematic"]})
    frame = res.get_prediction(new).summary_frame(alpha=0.1)
    X0 = np.array([[1, 1, 0, 20.0], [1, 0, 1, 40.0]])
    np.testing.assert_allclose(frame["mean"], X0 @ res.params.values)
    se = np.sqrt(np.einsum("ij,jk,ik->i", X0, res.cov_params().values, X0))
    np.testing.assert_allclose(frame["mean_se"], se)
    np.testing.assert_allclose(frame["obs_ci_upper"] - frame["mean"],
                               1.6448536269514722 * np.sqrt(se ** 2 + res.tau2))
    fitted = res.get_prediction().summary_frame()
    assert len(fitted) == 13
    with pytest.raises(ValueError, match="needs 4 columns"):
        res.get_prediction(np.ones((1, 7)))


def test_conf_int_tau2_options(bcg):
    res = mm.MetaRandom(bcg["yi"], bcg["vi"]).fit()
    lo, hi = res.conf_int_tau2()
    assert lo < res.tau2 < hi
    plo, phi = res.conf_int_tau2(method="profile")
    assert plo < res.tau2 < phi
    with pytest.raises(ValueError, match="unknown method"):
        res.conf_int_tau2(method="bootstrap")
    wlo, whi = res.conf_int_tau2(method="wald")
    assert wlo < res.tau2 < whi


def test_no_unexpected_warnings_on_clean_fit(bcg):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in ("DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM"):
            mm.MetaRandom.from_formula("yi ~ ablat", data=bcg, vi="vi").fit(method=method)
