"""Crossed and partially crossed random effects on the Z-space engine path
(:mod:`metamodels.core.zspace`): lme4 / lmerTest references made with tight convergence
(tests/reference/scripts/mixed_crossed.R), and the Z-space path against the block path."""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metamodels as mm

REF = json.loads((Path(__file__).parent / "reference" / "mixed_crossed.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}
DATA = {"crossed_intercepts": "crossed", "crossed_intercepts_ml": "crossed",
        "crossed_slopes": "crossed", "partially_crossed": "partial",
        "penicillin": "penicillin", "singular_intercepts": "singular",
        "singular_slopes": "singular_slopes"}


def _fit(name, path="zspace", **kwargs):
    case = CASES[name]
    data = pd.DataFrame(REF["data"][DATA[name]])
    model = mm.MixedModel.from_formula(case["formula"], data, path=path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(method="REML" if case["reml"] else "ML", **kwargs)


R_NAMES = {"(Intercept)": "Intercept", "condb": "cond[T.b]"}


def _order(case, res):
    """Positions of lme4's coefficients among ours."""
    names = list(res.params.index)
    return [names.index(R_NAMES.get(n, n)) for n in np.atleast_1d(case["coef_names"])]


@pytest.fixture(scope="module", params=sorted(CASES))
def fitted(request):
    return CASES[request.param], _fit(request.param)


def test_fixed_effects_and_criterion_equal_lme4(fitted):
    case, res = fitted
    assert res.model.spec.zspace_active()
    assert -2 * res.llf == pytest.approx(case["deviance"], rel=1e-8)
    o = _order(case, res)
    np.testing.assert_allclose(res.params.to_numpy()[o], np.atleast_1d(case["beta"]),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(res.bse)[o], np.atleast_1d(case["se"]), rtol=1e-5)
    np.testing.assert_allclose(res.cov_params().to_numpy()[np.ix_(o, o)],
                               np.array(case["vcov"]).reshape(len(o), len(o)),
                               rtol=1e-5, atol=1e-9)


def test_variance_components_equal_lme4(fitted):
    case, res = fitted
    vc = case["varcomp"]
    for grp, v1, v2, val in zip(vc["grp"], vc["var1"], vc["var2"], vc["vcov"]):
        if grp == "Residual":
            assert res.scale == pytest.approx(val, rel=1e-5)
            continue
        G = res.cov_re_dict[grp]
        got = G.loc[v1, v2 or v1]
        assert got == pytest.approx(val, rel=1e-5, abs=1e-7)


def test_satterthwaite_df_and_anova_equal_lmertest(fitted):
    case, res = fitted
    np.testing.assert_allclose(res.df_fixed().to_numpy()[_order(case, res)],
                               np.atleast_1d(case["df"]), rtol=1e-4)
    if np.size(case["beta"]) > 1:
        tab = res.anova(type=3)
        ref = {k: np.atleast_1d(v) for k, v in case["anova"].items()}
        for term, num, den, F in zip(ref["terms"], ref["NumDF"], ref["DenDF"], ref["F"]):
            row = tab.loc[{"cond": "cond"}.get(term, term)]
            assert row["num_df"] == num
            assert row["den_df"] == pytest.approx(den, rel=1e-4)
            assert row["F"] == pytest.approx(F, rel=1e-5)


def test_blups_and_conditional_variances_equal_lme4(fitted):
    case, res = fitted
    re_ = res.random_effects
    cov = res.random_effects_cov
    for ref in case["ranef"]:
        frame = re_[ref["group"]] if isinstance(re_, dict) else re_
        cv = cov[ref["group"]] if isinstance(cov, dict) else cov
        order = np.argsort(np.argsort(ref["levels"]))          # our codes: sorted labels
        vals = np.array(ref["values"], dtype=float).reshape(len(ref["levels"]), -1)
        np.testing.assert_allclose(frame.to_numpy()[order], vals, rtol=1e-5, atol=1e-6)
        k = vals.shape[1]
        ref_cv = np.array(ref["condvar"], dtype=float).reshape(-1, k, k)
        np.testing.assert_allclose(cv[order], ref_cv, rtol=1e-5, atol=1e-8)


def test_information_criteria_lme4_style(fitted):
    case, res = fitted
    ic = res.information_criteria("lme4")
    assert ic["aic"] == pytest.approx(case["AIC"], rel=1e-8)
    assert ic["bic"] == pytest.approx(case["BIC"], rel=1e-8)


@pytest.mark.parametrize("name", ["crossed_intercepts", "crossed_slopes", "partially_crossed"])
def test_zspace_path_equals_block_path(name):
    z = _fit(name, "zspace")
    b = _fit(name, "blocks", g_constraint="psd")
    assert not b.model.spec.zspace_active()
    assert z.llf == pytest.approx(b.llf, rel=1e-10)
    np.testing.assert_allclose(z.params, b.params, rtol=1e-6)
    np.testing.assert_allclose(z.theta, b.theta, rtol=1e-5)
    np.testing.assert_allclose(z.df_fixed(), b.df_fixed(), rtol=1e-4)
    np.testing.assert_allclose(z.cov_theta, b.cov_theta, rtol=1e-3, atol=1e-8)
    for name_t in z.model.spec.random:
        np.testing.assert_allclose(z._blups[name_t.name], b._blups[name_t.name],
                                   rtol=1e-5, atol=1e-7)
    # the engine's log-likelihood at a given theta is the same on both paths
    th = b.theta.to_numpy()
    assert z.model.loglike(th) == pytest.approx(b.model.loglike(th), rel=1e-12)
    np.testing.assert_allclose(z.predict(conditional=True), b.predict(conditional=True),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(z.random_effects_cov if not isinstance(z.random_effects_cov, dict)
                               else np.concatenate([c.reshape(-1) for c in
                                                    z.random_effects_cov.values()]),
                               b.random_effects_cov if not isinstance(b.random_effects_cov, dict)
                               else np.concatenate([c.reshape(-1) for c in
                                                    b.random_effects_cov.values()]),
                               rtol=1e-5, atol=1e-9)


def test_kenward_roger_is_refused_on_the_zspace_path():
    res = _fit("crossed_intercepts")
    for ddf in ("kenward-roger", "kenward-roger-expected"):
        with pytest.raises(NotImplementedError, match="Z-space"):
            res.df_fixed(ddf=ddf)
    assert np.all(res.df_fixed(ddf="residual") > 0)


def test_lr_test_and_new_data_prediction_on_zspace_path():
    full = _fit("crossed_intercepts_ml")
    data = pd.DataFrame(REF["data"]["crossed"])
    small = mm.MixedModel.from_formula("y ~ x + cond + (1 | subj)", data).fit(method="ML")
    lr = full.compare_lr_test(small)
    assert lr[0] == pytest.approx(2 * (full.llf - small.llf))
    new = data.iloc[:5].copy()
    new.loc[new.index[0], "subj"] = "unseen"
    pred = full.get_prediction(new, conditional=True).summary_frame()
    assert np.all(np.isfinite(pred["mean"])) and np.all(np.isfinite(pred["obs_ci_lower"]))
    # an unseen subject contributes 0: its prediction is x'b plus the item's BLUP
    first = full.predict(new.iloc[:1])
    item = full.random_effects["item"].to_numpy()[
        sorted(data["item"].unique()).index(new["item"].iloc[0]), 0]
    assert pred["mean"].iloc[0] == pytest.approx(float(np.asarray(first)[0]) + item)


def test_auto_path_chooses_zspace_for_crossed_and_blocks_for_nested():
    rng = np.random.default_rng(0)
    n = 3000
    crossed = pd.DataFrame({"y": rng.normal(size=n), "s": rng.integers(0, 300, n),
                            "i": rng.integers(0, 150, n)})
    m = mm.MixedModel.from_formula("y ~ 1 + (1 | s) + (1 | i)", crossed)
    assert m.spec.zspace_active()
    nested = crossed.assign(i=crossed["s"] * 10 + rng.integers(0, 3, n))
    m2 = mm.MixedModel.from_formula("y ~ 1 + (1 | s) + (1 | i)", nested)
    assert not m2.spec.zspace_active()
    with pytest.raises(NotImplementedError, match="path='zspace'"):
        mm.MixedModel.from_formula("y ~ 1 + (1 + x | s) + (1 | i)",
                                   crossed.assign(x=rng.normal(size=n)), path="zspace",
                                   re_struct="VC").spec.zspace_active()
    with pytest.raises(ValueError, match="path"):
        mm.MixedModel.from_formula("y ~ 1 + (1 | s)", crossed, path="sparse")


def test_weighted_zspace_fit_equals_block_path():
    data = pd.DataFrame(REF["data"]["crossed"])
    w = 0.5 + np.arange(len(data)) % 4 / 2.0
    fits = {}
    for path in ("zspace", "blocks"):
        model = mm.MixedModel.from_formula("y ~ x + cond + (x | subj) + (1 | item)", data,
                                           weights=w, path=path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits[path] = model.fit(g_constraint="psd")
    z, b = fits["zspace"], fits["blocks"]
    assert z.llf == pytest.approx(b.llf, rel=1e-10)
    np.testing.assert_allclose(z.params, b.params, rtol=1e-6)
    np.testing.assert_allclose(z.theta, b.theta, rtol=1e-5)
    np.testing.assert_allclose(z.df_fixed(), b.df_fixed(), rtol=1e-4)
    np.testing.assert_allclose(z.random_effects["item"], b.random_effects["item"],
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(z.random_effects_cov["item"], b.random_effects_cov["item"],
                               rtol=1e-5, atol=1e-9)


def test_zspace_with_slopes_on_the_dense_part_equals_block_path():
    """Three terms, the 2-column one among the densely factorised (smaller) terms."""
    data = pd.DataFrame(REF["data"]["crossed"]).assign(
        batch=lambda f: (np.arange(len(f)) % 5).astype(str))
    fits = {}
    for path in ("zspace", "blocks"):
        model = mm.MixedModel.from_formula("y ~ x + (1 | subj) + (x | batch) + (1 | item)",
                                           data, path=path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits[path] = model.fit(g_constraint="psd")
    z, b = fits["zspace"], fits["blocks"]
    design = z.model.spec.zspace_design()                 # subj eliminated, batch dense
    assert design.ks[design.e] == 1 and max(design.ks) == 2
    assert z.llf == pytest.approx(b.llf, rel=1e-10)
    np.testing.assert_allclose(z.theta, b.theta, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(z.params, b.params, rtol=1e-6)
    np.testing.assert_allclose(z.random_effects_cov["batch"], b.random_effects_cov["batch"],
                               rtol=1e-5, atol=1e-9)
