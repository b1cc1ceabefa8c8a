"""Spatial R-side structures SP(EXP), SP(GAU), SP(POW), SP(SPH) of MixedModel (issue 20,
point 6): likelihoods and estimates against nlme (``tests/reference/mixed_spatial.json``,
script ``tests/reference/scripts/mixed_spatial.R``), SP(POW) against SP(EXP)
reparameterised and against AR(1), and Satterthwaite / Kenward-Roger (all flavours)
against the dense brute-force reference of ``test_mixed_sas``."""
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metamodels import MixedModel
from metamodels.core.likelihood import evaluate
from metamodels.core.structures import SPEXP, get_structure
from metamodels.exceptions import SpecificationError

from test_mixed_sas import FLAVOURS, Dense

REF = json.loads((Path(__file__).parent / "reference" / "mixed_spatial.json").read_text())
DATA = {k: pd.DataFrame(v) for k, v in REF["data"].items()}
DATA["wheat2"] = DATA["wheat2"].rename(columns={"yield": "yld"})   # patsy keyword
FORMULAS = {
    "ovary": "follicles ~ np.sin(2 * np.pi * Time) + np.cos(2 * np.pi * Time)",
    "wheat2": "yld ~ C(variety) - 1",
    "bodyweight": "weight ~ Time * C(Diet)",
}
SPATIAL = [c for c in REF["cases"] if c["cov_struct"].startswith("SP")]


def _case_model(case):
    formula = FORMULAS[case["data"]] + (" + (1 | Rat)" if case["kind"] == "lme" else "")
    return MixedModel.from_formula(formula, DATA[case["data"]], subject=case["subject"],
                                   cov_struct=case["cov_struct"], coords=case["coords"],
                                   local=case["local"])


def _r_name(name):
    """R's coefficient name of a patsy column name."""
    name = "(Intercept)" if name == "Intercept" else name.replace("np.", "")
    return re.sub(r"C\((\w+)\)\[(?:T\.)?([^\]]+)\]", r"\1\2", name)


def _r_theta(case):
    """nlme's estimates as SAS parameters (random-intercept variance first)."""
    res = case["result"]
    s2, cor = res["sigma2"], res["cor"]
    rho = cor.get("range", cor.get("Phi"))
    if case["local"]:
        n = cor["nugget"]
        theta = [s2 * (1 - n), rho, s2 * n]
    else:
        theta = [s2, rho]
    return np.array(([res["re_var"]] if case["kind"] == "lme" else []) + theta)


@pytest.mark.parametrize("case", SPATIAL, ids=[c["name"] for c in SPATIAL])
def test_likelihood_at_nlme_estimates(case):
    mod = _case_model(case)
    ev = evaluate(_r_theta(case), mod.endog, mod.exog, mod.spec, case["reml"], order=1)
    assert ev.llf == pytest.approx(case["result"]["logLik"], abs=1e-8)
    names = ["Variance", case["cov_struct"], "Residual"] if case["local"] \
        else ["Residual", case["cov_struct"]]
    assert list(mod.spec.param_names[-len(names):]) == names


# fits of the 2-D Wheat2 data are slow (56 fixed effects, blocks of 56 and 224 rows): one
# is fitted; the others are checked through their likelihood at nlme's estimates
FITTED = [c for c in SPATIAL if c["name"] not in ("wheat_sph_local_REML",
                                                  "wheat_gau_block_REML")]


@pytest.mark.parametrize("case", FITTED, ids=[c["name"] for c in FITTED])
def test_fit_equals_nlme(case):
    mod = _case_model(case)
    reml = case["reml"]
    res = case["result"]
    th_r = _r_theta(case)
    start = None
    if case["name"] == "ovary_gau_local_ML":
        # a bimodal likelihood (-786.32 at range 0.249 from the default start): start
        # 20% away from nlme's mode
        start = th_r * np.array([1.2, 0.8, 1.2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = mod.fit(method="REML" if reml else "ML", start=start)
    assert fit.converged
    assert fit.llf == pytest.approx(res["logLik"], abs=1e-7)
    np.testing.assert_allclose(fit.theta.to_numpy(), th_r, rtol=2e-4)
    order = [[_r_name(n) for n in mod.exog_names].index(n) for n in res["names"]]
    np.testing.assert_allclose(np.asarray(fit.params)[order], res["coef"], rtol=1e-5,
                               atol=1e-6)
    # nlme's ML standard errors use the residual variance scaled by n / (n - p)
    scale = 1.0 if reml else np.sqrt(mod.nobs / (mod.nobs - mod.k_fe))
    np.testing.assert_allclose(np.asarray(fit.bse)[order] * scale, res["se"], rtol=2e-4)


def test_whole_field_nlme_fit_is_not_the_maximum():
    """Wheat2 as one spatial field (SP(SPH) with LOCAL, nlme's corSpher example): nlme
    stops at -533.93 (range 27.5, nugget 0.21); metamodels' fit from its default start
    (not repeated here: one 224 x 224 block, slow) reaches a stationary point with a
    higher REML likelihood, -533.74 at range 37.4."""
    case = next(c for c in SPATIAL if c["name"] == "wheat_sph_local_REML")
    mod = _case_model(case)
    ours = np.array([56.35761502421461, 37.3770324270386, 11.711536380951744])
    ev = evaluate(ours, mod.endog, mod.exog, mod.spec, True, order=1)
    assert ev.llf > case["result"]["logLik"] + 0.18
    assert np.abs(ev.grad * ours).max() < 1e-5          # stationary (scale-free)


def test_sp_pow_is_sp_exp_reparameterised():
    df, f = DATA["ovary"], FORMULAS["ovary"]
    fits = {s: MixedModel.from_formula(f, df, subject="Mare", cov_struct=s,
                                       coords="Time").fit()
            for s in ("SP(EXP)", "SP(POW)")}
    e, p = fits["SP(EXP)"], fits["SP(POW)"]
    assert p.llf == pytest.approx(e.llf, abs=1e-8)
    assert p.theta["SP(POW)"] == pytest.approx(np.exp(-1 / e.theta["SP(EXP)"]), rel=1e-5)
    assert p.theta["Residual"] == pytest.approx(e.theta["Residual"], rel=1e-6)
    np.testing.assert_allclose(p.bse, e.bse, rtol=1e-6)
    # Satterthwaite df are invariant to the reparameterisation; KR's second-derivative
    # term is not (it depends on the parameterisation), its linear flavour is
    for ddf in ("satterthwaite", "kenward-roger-expected"):
        np.testing.assert_allclose(p.df_fixed(ddf), e.df_fixed(ddf), rtol=1e-4)
    # the matrices themselves
    t = np.array([0.0, 0.3, 1.7, 2.0])
    ex = SPEXP(4, coords=t).matrix([2.0, 0.8])
    pw = get_structure("SP(POW)", 4)
    pw = type(pw)(4, coords=t)
    np.testing.assert_allclose(pw.matrix([2.0, np.exp(-1 / 0.8)]), ex, rtol=1e-13)


def _ar_data(seed=3, n_sub=40, d=5):
    rng = np.random.default_rng(seed)
    lag = np.abs(np.subtract.outer(np.arange(d), np.arange(d)))
    L = np.linalg.cholesky(1.5 * 0.55 ** lag)
    rows = []
    for s in range(n_sub):
        e = L @ rng.normal(size=d)
        x = rng.normal()
        for v in range(d):
            if v == 0 or rng.uniform() > 0.2:
                rows.append(dict(subj=f"s{s}", visit=v, time=2.5 * v, x=x,
                                 arm=s % 2, y=1 + 0.4 * v + 0.5 * x + e[v]))
    return pd.DataFrame(rows)


def test_sp_pow_on_a_grid_is_ar1():
    df = _ar_data()
    ar = MixedModel.from_formula("y ~ C(visit) + x", df, subject="subj", repeated="visit",
                                 cov_struct="AR1").fit()
    sp = MixedModel.from_formula("y ~ C(visit) + x", df, subject="subj", coords="visit",
                                 cov_struct="SP(POW)").fit()
    assert ar.theta["AR(1)"] > 0
    assert sp.llf == pytest.approx(ar.llf, abs=1e-8)
    np.testing.assert_allclose(sp.theta.to_numpy(), ar.theta.to_numpy(), rtol=1e-5)
    for ddf in ("satterthwaite", "kenward-roger", "kenward-roger-linear",
                "kenward-roger-expected"):
        np.testing.assert_allclose(sp.df_fixed(ddf), ar.df_fixed(ddf), rtol=1e-5)
    # time = 2.5 * visit: rho per unit of time is rho_visit^(1 / 2.5)
    sp_t = MixedModel.from_formula("y ~ C(visit) + x", df, subject="subj", coords="time",
                                   cov_struct="SP(POW)").fit()
    assert sp_t.llf == pytest.approx(ar.llf, abs=1e-8)
    assert sp_t.theta["SP(POW)"] == pytest.approx(ar.theta["AR(1)"] ** 0.4, rel=1e-5)


# ----------------------------------------------------- Satterthwaite / Kenward-Roger
def _spatial_data(seed=7, n_sub=30, shared=False, nugget=0.3):
    """Unequally spaced times and 2-D positions per subject; with ``shared`` some rows of
    a subject share a place (which needs the nugget)."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sub):
        m = rng.integers(3, 7)
        t = np.sort(rng.uniform(0, 6, m))
        xy = rng.uniform(0, 3, size=(m, 2))
        if shared and s % 5 == 0:           # a repeated position within the subject
            t[1], xy[1] = t[0], xy[0]
        D = np.abs(np.subtract.outer(t, t))
        e = np.linalg.cholesky(1.2 * np.exp(-D / 1.5) + nugget * np.eye(m)) @ rng.normal(size=m)
        u = 0.5 * rng.normal()
        arm = "trt" if s % 2 else "pbo"
        for k in range(m):
            rows.append(dict(subj=f"s{s}", t=t[k], cx=xy[k, 0], cy=xy[k, 1], arm=arm,
                             x=rng.normal(), w=rng.uniform(0.5, 2.0),
                             y=1 + 0.5 * (arm == "trt") + 0.3 * t[k] + u + e[k]))
    return pd.DataFrame(rows)


SPATIAL_VARIANTS = {
    "EXP-1d-local": dict(cov_struct="SP(EXP)", coords="t", local=True),
    "POW-1d-group": dict(cov_struct="SP(POW)", coords="t", cov_group="arm", local=True),
    "GAU-2d": dict(cov_struct="SP(GAU)", coords=["cx", "cy"], local=True),
    "SPH-2d-weights": dict(cov_struct="SP(SPH)", coords=["cx", "cy"], weights="w"),
    "EXP-1d-random": dict(cov_struct="SP(EXP)", coords="t", random=True),
}


@pytest.fixture(scope="module", params=list(SPATIAL_VARIANTS))
def spatial_fit(request):
    kw = dict(SPATIAL_VARIANTS[request.param])
    formula = "y ~ C(arm) + t + x"
    if kw.pop("random", False):
        formula += " + (1 | subj)"
    local = kw.get("local", False)
    df = _spatial_data(shared=local, nugget=0.3 if local else 0.02)
    mod = MixedModel.from_formula(formula, df, subject="subj", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = mod.fit()
    assert res.converged
    th = res.theta.to_numpy()
    assert np.all(th > 1e-3 * np.abs(th).max())       # an interior point
    return res, Dense(res)


def test_spatial_information(spatial_fit):
    res, ref = spatial_fit
    f = res._fit
    np.testing.assert_allclose(f.exp_info, ref.I, rtol=1e-5, atol=1e-8 * np.abs(ref.I).max())
    np.testing.assert_allclose(f.obs_info, ref.J, rtol=1e-4, atol=1e-6 * np.abs(ref.J).max())


def test_spatial_sensitivities(spatial_fit):
    res, ref = spatial_fit
    s = res._sens
    np.testing.assert_allclose(s.B, -ref.Pj, rtol=1e-5, atol=1e-8 * np.abs(ref.Pj).max())
    np.testing.assert_allclose(s.Q, ref.Q, rtol=1e-5, atol=1e-8 * np.abs(ref.Q).max())
    np.testing.assert_allclose(s.R, ref.R, rtol=1e-4, atol=1e-6 * np.abs(ref.R).max())


def test_spatial_satterthwaite(spatial_fit):
    res, ref = spatial_fit
    p = res.model.k_fe
    want = [ref.satterthwaite_df(np.eye(p)[i]) for i in range(p)]
    np.testing.assert_allclose(res.df_fixed("satterthwaite"), want, rtol=1e-4)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_spatial_kenward_roger(spatial_fit, flavour):
    res, ref = spatial_fit
    p = res.model.k_fe
    b = np.asarray(res._fit.beta)
    C_adj, W = res.kenward_roger_parts(flavour)
    np.testing.assert_allclose(C_adj, ref.phi_a(flavour), rtol=1e-4,
                               atol=1e-7 * np.abs(C_adj).max())
    tab = res.coef_table(ddf=flavour)
    want = [ref.kr_test(np.eye(p)[i], b, flavour)[1] for i in range(p)]
    np.testing.assert_allclose(tab["df"], want, rtol=1e-4)
    a = res.anova(type=3, ddf=flavour)
    assert np.all(np.isfinite(a.to_numpy(dtype=float))) and np.all(a["den_df"] > 0)


# ----------------------------------------------------------------- API and errors
def test_spatial_api_errors():
    df = _spatial_data()
    f = "y ~ t"
    with pytest.raises(ValueError, match="needs coords"):
        MixedModel.from_formula(f, df, subject="subj", cov_struct="SP(EXP)")
    with pytest.raises(ValueError, match="spatial structures"):
        MixedModel.from_formula(f, df, subject="subj", cov_struct="AR1", coords="t")
    with pytest.raises(ValueError, match="spatial structures"):
        MixedModel.from_formula(f, df, subject="subj", repeated="t", cov_struct="UN",
                                local=True)
    with pytest.raises(ValueError, match="repeated= is not used"):
        MixedModel.from_formula(f, df, subject="subj", repeated="t", cov_struct="SP(EXP)",
                                coords="t")
    with pytest.raises(ValueError, match="columns not found"):
        MixedModel.from_formula(f, df, subject="subj", cov_struct="SP(EXP)", coords="zz")
    with pytest.raises(ValueError, match="coords"):
        MixedModel(df["y"], np.ones((len(df), 1)), subject=df["subj"],
                   cov_struct="SP(EXP)", coords=np.ones(3))
    bad = df["t"].to_numpy().copy()
    bad[0] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        MixedModel(df["y"], np.ones((len(df), 1)), subject=df["subj"],
                   cov_struct="SP(EXP)", coords=bad)
    # two rows of a subject at one place: R is singular without the nugget
    shared = _spatial_data(shared=True)
    with pytest.raises(SpecificationError, match="local=True"):
        MixedModel.from_formula(f, shared, subject="subj", cov_struct="SP(EXP)", coords="t")
    MixedModel.from_formula(f, shared, subject="subj", cov_struct="SP(EXP)", coords="t",
                            local=True)
    # rows with missing coordinates are dropped by from_formula, as SAS does
    df2 = df.assign(t=df["t"].where(df.index != 3))
    with pytest.warns(Warning):
        mod = MixedModel.from_formula(f, df2, subject="subj", cov_struct="SP(EXP)",
                                      coords="t")
    assert mod.nobs == len(df) - 1


def test_one_subject_spatial_field_without_subject():
    """No subject: every row is correlated with every other (SAS SUBJECT=INTERCEPT)."""
    case = next(c for c in SPATIAL if c["name"] == "wheat_sph_local_REML")
    assert case["subject"] is None
    mod = _case_model(case)
    assert mod.n_blocks == 1 and mod.residual.structure.dim == len(DATA["wheat2"])


def test_many_positions_never_form_the_full_matrix():
    """Continuous times: one position per distinct time (here 1,200); fitting and the df
    work on the subjects' blocks only."""
    rng = np.random.default_rng(5)
    n_sub, m = 300, 4
    t = np.sort(rng.uniform(0, 10, (n_sub, m)), axis=1)
    D = np.abs(t[:, :, None] - t[:, None, :])
    L = np.linalg.cholesky(np.exp(-D / 2.0))
    y = 1 + 0.2 * t + np.einsum("bij,bj->bi", L, rng.normal(size=(n_sub, m)))
    df = pd.DataFrame(dict(y=y.ravel(), t=t.ravel(), subj=np.repeat(np.arange(n_sub), m)))
    mod = MixedModel.from_formula("y ~ t", df, subject="subj", cov_struct="SP(EXP)",
                                  coords="t")
    s = mod.residual.structure
    assert s.dim == n_sub * m
    res = mod.fit(ddf="kenward-roger")
    res.summary()
    assert s._dist is None                     # no dim x dim distance matrix was formed
    assert res.theta["SP(EXP)"] == pytest.approx(2.0, rel=0.2)


def test_summary_and_pickle_of_a_spatial_fit():
    import pickle
    df = _spatial_data(shared=True)
    res = MixedModel.from_formula("y ~ t", df, subject="subj", cov_struct="SP(EXP)",
                                  coords=["cx", "cy"], local=True).fit()
    assert "SP(EXP) 2-D LOCAL" in str(res.summary())
    back = pickle.loads(pickle.dumps(res))
    assert back.llf == res.llf
    np.testing.assert_allclose(back.df_fixed("kenward-roger"), res.df_fixed("kenward-roger"),
                               rtol=1e-12)
    np.testing.assert_allclose(back.model.fit().params, res.params, rtol=1e-8)


@pytest.mark.parametrize("struct", [get_structure("ARH1", 5),
                                    SPEXP(5, coords=np.random.default_rng(1).uniform(size=(5, 2)),
                                          local=True),
                                    get_structure("SP(SPH)", 5)])
def test_gathered_entries_equal_the_full_matrices(struct):
    rng = np.random.default_rng(4)
    theta = struct.start(1.3) * rng.uniform(0.8, 1.2, struct.n_params)
    vi = rng.integers(0, 5, size=(3, 4))[:, :, None]
    vj = np.swapaxes(vi, 1, 2)
    W = rng.normal(size=(struct.n_params,) * 2)
    W = W + W.T
    np.testing.assert_allclose(struct.gather(theta, vi, vj), struct.matrix(theta)[vi, vj],
                               rtol=1e-14)
    np.testing.assert_allclose(struct.gather_derivatives(theta, vi, vj),
                               struct.derivatives(theta)[:, vi, vj], rtol=1e-14)
    d2 = struct.second_derivatives(theta)
    np.testing.assert_allclose(struct.gather_second_derivatives(theta, vi, vj),
                               d2[:, :, vi, vj], rtol=1e-14)
    np.testing.assert_allclose(struct.gather_contracted(theta, W, vi, vj),
                               np.tensordot(W, d2, axes=([0, 1], [0, 1]))[vi, vj],
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(struct.diagonal(theta), np.diag(struct.matrix(theta)))
