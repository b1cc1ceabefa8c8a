"""MixedModel(weights=): SAS's WEIGHT statement, ``R_b = W_b^{-1/2} R W_b^{-1/2}``.

* against nlme (``scripts/mixed_weights.R``: ``gls``/``lme`` with ``varFixed(~ 1/w)``,
  times ``varIdent`` for heterogeneous structures) to 1e-6;
* exact equivalences: ``V = A R A`` (``A = W^{-1/2}``) is the unweighted model of
  ``A^{-1} y`` on ``A^{-1} X`` (random-effects design ``A^{-1} Z``), whose log-likelihood
  differs only by ``log|V| = log|V*| - sum log w``, i.e. ``llf = llf* + 1/2 sum log w``;
  estimates, standard errors and every df method are unchanged;
* validation of the weights.
"""
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metamodels import MixedModel
from metamodels.exceptions import MissingDataWarning

REF = json.loads((Path(__file__).parent / "reference" / "mixed_weights.json").read_text())
FORMULA = "distance ~ age * Sex"
STRUCTS = ["ID", "VC", "CS", "CSH", "AR1", "ARH1", "TOEP", "TOEPH", "UN", "UNR", "ANTE1"]


def _rname(name):
    if name == "Intercept":
        return "(Intercept)"
    return re.sub(r"C?\(?(\w+)\)?\[T\.(\w+)\]", r"\1\2", name)


def _data(name="orthodont"):
    return pd.DataFrame(REF["data"][name])


@pytest.mark.parametrize("case", REF["cases"], ids=[c["name"] for c in REF["cases"]])
def test_against_nlme_varfixed(case):
    r = case["result"]
    df = _data(case["dataset"])
    if case["kind"] == "gls":
        mod = MixedModel.from_formula(FORMULA, df, repeated="age", subject="Subject",
                                      cov_struct=case["cov"], weights="w")
    else:
        mod = MixedModel.from_formula(case["formula"], df, weights="w")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = mod.fit(method="REML" if case["reml"] else "ML")
    assert res.converged
    ours = [_rname(n) for n in res.model.exog_names]
    o = [ours.index(n) for n in r["names"]]
    # coefficients to 1e-6 relative or 1e-5 standard errors (those near zero; the
    # optimisers stop at slightly different points of a flat likelihood)
    np.testing.assert_allclose(res.params.values[o], r["coef"], rtol=1e-6,
                               atol=1e-5 * np.min(r["se"]))
    se = np.asarray(res.bse)[o]
    if case["kind"] == "gls" and not case["reml"]:
        n, p = res.model.nobs, res.model.rank      # nlme's gls ML SEs use N - p
        se = se * np.sqrt(n / (n - p))
    np.testing.assert_allclose(se, r["se"], rtol=1e-6)
    assert res.llf == pytest.approx(r["logLik"], rel=1e-9)
    assert res.llf >= r["logLik"] - 1e-9
    if case["cov"] in ("ID", "AR1"):
        R = np.asarray(res.cov_resid)
        assert R[0, 0] == pytest.approx(r["sigma2"], rel=1e-6)
    if case["kind"] == "lme":
        assert res.cov_re.iloc[0, 0] == pytest.approx(r["subject_var"], rel=1e-6)


def _transformed_pair(struct, seed=1, drop=8):
    """Weighted model on (y, X) and the unweighted model on (sqrt(w) y, sqrt(w) X)."""
    df = _data()
    rng = np.random.default_rng(seed)
    df = df.drop(index=rng.choice(df.index[df.age > 8], drop, replace=False))
    mod = MixedModel.from_formula(FORMULA, df, repeated="age", subject="Subject",
                                  cov_struct=struct, weights="w")
    root = np.sqrt(mod.weights)
    frame = mod.data.frame
    star = MixedModel(mod.endog * root, mod.exog * root[:, None], repeated=frame["age"],
                      subject=frame["Subject"], cov_struct=struct)
    return mod, star


@pytest.mark.parametrize("struct", STRUCTS)
def test_weighted_equals_unweighted_on_rescaled_data(struct):
    mod, star = _transformed_pair(struct)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res, ref = mod.fit(), star.fit()
    shift = 0.5 * np.sum(np.log(mod.weights))
    assert res.llf == pytest.approx(ref.llf + shift, rel=1e-10, abs=1e-8)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(res.bse, ref.bse, rtol=1e-5)
    np.testing.assert_allclose(res.theta.values, ref.theta.values, rtol=1e-5, atol=1e-7)
    for ddf in ("satterthwaite", "kenward-roger"):
        np.testing.assert_allclose(res.df_fixed(ddf), ref.df_fixed(ddf), rtol=1e-4)
    np.testing.assert_allclose(np.diag(res.cov_params_kr), np.diag(ref.cov_params_kr),
                               rtol=1e-4)
    L = np.array([[0, 1, 0, 0], [0, 0, 0, 1.0]])
    for ddf in ("satterthwaite", "kenward-roger"):
        np.testing.assert_allclose(res.f_test_terms(L, ddf), ref.f_test_terms(L, ddf),
                                   rtol=1e-4)


def test_weighted_random_intercept_equals_scaled_random_design():
    # V = Z G Z' + A (s2 I) A  <=>  A^-1 V A^-1 = (A^-1 Z) G (A^-1 Z)' + s2 I
    df = _data()
    mod = MixedModel.from_formula(FORMULA + " + (1 | Subject)", df, weights="w")
    root = np.sqrt(mod.weights)
    star = MixedModel(mod.endog * root, mod.exog * root[:, None], groups=df["Subject"],
                      exog_re=root[:, None])
    res, ref = mod.fit(), star.fit()
    assert res.llf == pytest.approx(ref.llf + 0.5 * np.sum(np.log(mod.weights)), rel=1e-10)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-6)
    np.testing.assert_allclose(res.theta.values, ref.theta.values, rtol=1e-5)
    np.testing.assert_allclose(res.df_fixed("satterthwaite"), ref.df_fixed("satterthwaite"),
                               rtol=1e-4)


@pytest.mark.parametrize("struct", ["ID", "AR1", "ANTE1", "UN"])
def test_fast_and_dense_paths_agree_with_weights(struct):
    mod, _ = _transformed_pair(struct, seed=3)
    res = mod.fit()
    dense, _ = _transformed_pair(struct, seed=3)
    dense.spec.use_fast_paths = False
    ref = dense.fit()
    assert res.llf == pytest.approx(ref.llf, rel=1e-10)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-7)
    np.testing.assert_allclose(res.df_fixed("kenward-roger"), ref.df_fixed("kenward-roger"),
                               rtol=1e-6)


@pytest.mark.parametrize("formula", ["(1 | Subject)", "(age | Subject)"])
def test_fast_and_dense_paths_agree_with_weights_and_random_effects(formula):
    df = _data()
    mod = MixedModel.from_formula(f"{FORMULA} + {formula}", df, weights="w")
    assert mod.spec.lowrank_view(mod.endog, mod.exog) is not None
    dense = MixedModel.from_formula(f"{FORMULA} + {formula}", df, weights="w")
    dense.spec.use_fast_paths = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res, ref = mod.fit(), dense.fit()
    assert res.llf == pytest.approx(ref.llf, rel=1e-10)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-7)
    np.testing.assert_allclose(res.theta, ref.theta, rtol=1e-6)


def test_constant_weights_rescale_the_residual_covariance():
    df = _data()
    base = MixedModel.from_formula(FORMULA, df, repeated="age", subject="Subject",
                                   cov_struct="ARH1").fit()
    c = 4.0
    res = MixedModel.from_formula(FORMULA, df, repeated="age", subject="Subject",
                                  cov_struct="ARH1", weights=np.full(len(df), c)).fit()
    np.testing.assert_allclose(res.params, base.params, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(res.cov_resid) / c, np.asarray(base.cov_resid),
                               rtol=1e-5)
    # the same V = R / c at the optimum: the same likelihood
    assert res.llf == pytest.approx(base.llf, rel=1e-10)


def test_weights_change_the_fit():
    df = _data()
    kw = dict(repeated="age", subject="Subject", cov_struct="ANTE1")
    a = MixedModel.from_formula(FORMULA, df, **kw).fit()
    b = MixedModel.from_formula(FORMULA, df, weights="w", **kw).fit()
    assert abs(a.llf - b.llf) > 1.0
    with pytest.raises(ValueError, match="different weights"):
        b.compare_lr_test(a)
    c = MixedModel.from_formula(FORMULA, df, weights="w", repeated="age", subject="Subject",
                                cov_struct="AR1").fit()
    lr = b.compare_lr_test(c)                  # same weights: ANTE1(4) vs AR1, 7 - 2 params
    assert lr.df == 5
    assert lr.statistic == pytest.approx(2 * (b.llf - c.llf))


def test_weights_validation():
    df = _data()
    y, X = df["distance"].to_numpy(), np.column_stack([np.ones(len(df)), df["age"]])
    for bad, msg in ((np.ones(len(df) - 1), "one value per observation"),
                     (np.r_[np.nan, np.ones(len(df) - 1)], "non-finite"),
                     (np.r_[-1.0, np.ones(len(df) - 1)], "positive"),
                     (np.r_[0.0, np.ones(len(df) - 1)], "positive"),
                     (np.ones((len(df), 2)), "1-D"),
                     (["a"] * len(df), "numeric")):
        with pytest.raises(ValueError, match=msg):
            MixedModel(y, X, weights=bad)
    with pytest.raises(ValueError, match="not found"):
        MixedModel.from_formula(FORMULA, df, weights="nope")
    with pytest.raises(ValueError, match="one value per row"):
        MixedModel.from_formula(FORMULA, df, weights=np.ones(3))
    mod = MixedModel(y, X, weights=df["w"])
    with pytest.raises(NotImplementedError, match="weights"):
        mod.fit_bayes(draws=10, burn=0)


def test_from_formula_leaves_out_missing_and_nonpositive_weights_as_sas():
    df = _data()
    w = df["w"].to_numpy().copy()
    w[[0, 5]] = 0.0
    w[9] = -2.0
    w[17] = np.nan
    kw = dict(repeated="age", subject="Subject", cov_struct="AR1")
    with pytest.warns(MissingDataWarning, match="4 row"):
        mod = MixedModel.from_formula(FORMULA, df.assign(w=w), weights="w", **kw)
    assert mod.nobs == len(df) - 4
    keep = np.isfinite(w) & (w > 0)
    ref = MixedModel.from_formula(FORMULA, df.loc[keep], weights=w[keep], **kw)
    r1, r2 = mod.fit(), ref.fit()
    assert r1.llf == pytest.approx(r2.llf, rel=1e-12)
    assert "__metamodels_weights__" not in mod.data.frame.columns
    with pytest.raises(ValueError, match="not positive"):
        MixedModel.from_formula(FORMULA, df.assign(w=w), weights="w", missing="raise", **kw)
    # subset= applies to an array of weights aligned with data
    sub = df["Sex"] == "Male"
    m2 = MixedModel.from_formula(FORMULA.replace(" * Sex", ""), df, weights=df["w"].to_numpy(),
                                 subset=sub, **kw)
    np.testing.assert_array_equal(m2.weights, df.loc[sub, "w"].to_numpy())
