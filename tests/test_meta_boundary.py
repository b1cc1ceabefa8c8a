"""Boundary and non-identified multivariate / multilevel meta-analyses (issue 12).

References: tests/reference/scripts/meta_boundary.R (metafor::rma.mv, best of three tightly
converged optimisers, checked to end on rho = +-1).
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metamodels as mm
from metamodels.core.likelihood import evaluate
from metamodels.core.optimize import maximize
from metamodels.core.structures import (PSDANTE1, PSDAR1, PSDARH1, PSDCS, PSDCSH, PSDUN,
                                        PSDUNR, get_structure, params_from, params_to,
                                        psd_structure)
from metamodels.core.structures.psd import CholeskyUN
from metamodels.exceptions import BoundaryWarning, IdentificationWarning, SpecificationError
from metamodels.mixed.covariance import RandomPart
from metamodels.multivariate import BivariateMeta, MetaMixed, within_corr_sensitivity
from metamodels.multivariate.covariance import KnownPlusRandomCovariance

REF = json.loads((Path(__file__).parent / "reference" / "meta_boundary.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}


def _kalaian_v(df, r=0.66):
    """metafor's ``vcalc(vi, cluster=study, type=outcome, rho=0.66)`` by hand."""
    same = df.study.to_numpy()[:, None] == df.study.to_numpy()[None, :]
    sd = np.sqrt(df.vi.to_numpy())
    V = np.where(same, r * np.outer(sd, sd), 0.0)
    np.fill_diagonal(V, df.vi.to_numpy())
    return V


def _berkey_blocks(df, r):
    out = []
    for t in df.trial.unique():
        sd = np.sqrt(df.vi[df.trial == t].to_numpy())
        S = r * np.outer(sd, sd)
        np.fill_diagonal(S, sd ** 2)
        out.append(S)
    return out


def _boundary_messages(record):
    return [str(w.message) for w in record if issubclass(w.category, BoundaryWarning)]


# ------------------------------------------------------------------- kalaian
def test_kalaian_dataset_and_v_match_the_reference():
    df = mm.datasets.load("kalaian1996")
    ref = pd.DataFrame(REF["data"]["kalaian1996"])
    pd.testing.assert_series_equal(df.yi, ref.yi)
    assert list(df.study) == list(ref.study) and list(df.outcome) == list(ref.outcome)
    np.testing.assert_allclose(_kalaian_v(df), np.array(REF["data"]["kalaian1996_V"]),
                               rtol=1e-14, atol=0)


@pytest.mark.parametrize("method", ["ML", "REML"])
def test_kalaian_boundary_matches_rma_mv(method):
    df = mm.datasets.load("kalaian1996")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = MetaMixed.from_formula("yi ~ 0 + outcome + (0 + outcome | study)", df,
                                     V=_kalaian_v(df)).fit(method=method)
    r = CASES[f"kalaian_UN_{method}"]["result"]
    assert res.converged
    assert res.rho == -1.0 and r["rho"] == pytest.approx(-1.0, abs=1e-12)
    np.testing.assert_allclose(res.params.values, list(r["coef"].values()), rtol=1e-4)
    np.testing.assert_allclose(res.bse.values, r["se"], rtol=1e-4)
    np.testing.assert_allclose(res.tau2.values, r["tau2"], rtol=1e-4)
    assert res.llf_metafor == pytest.approx(r["logLik"], abs=1e-4)
    assert res.llf_metafor >= r["logLik"] - 1e-9
    msgs = _boundary_messages(rec)
    assert len(msgs) == 1 and "Corr(outcome[verbal],outcome[math]) = -1" in msgs[0]
    assert res.on_boundary == ["study Corr(outcome[verbal],outcome[math])"]
    text = " ".join(str(res.summary()).split())
    assert "On the boundary (G singular): study Corr(outcome[verbal],outcome[math])" in text
    G = res.cov_re["study"].values
    assert np.linalg.eigvalsh(G).min() >= -1e-15 * np.abs(G).max()


# -------------------------------------------------------------------- berkey
@pytest.mark.parametrize("method", ["ML", "REML"])
def test_berkey_negative_within_correlation_boundary(method):
    df = mm.datasets.load("berkey1998")
    r = CASES[f"berkey_r-0.5_UN_{method}"]["result"]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = MetaMixed.from_formula("yi ~ 0 + outcome + (0 + outcome | trial)", df,
                                     V=_berkey_blocks(df, -0.5)).fit(method=method)
    assert res.rho == 1.0
    np.testing.assert_allclose(res.params.values, list(r["coef"].values()), rtol=1e-4)
    np.testing.assert_allclose(res.bse.values, r["se"], rtol=1e-4)
    np.testing.assert_allclose(res.tau2.values, r["tau2"], rtol=1e-4)
    assert res.llf_metafor == pytest.approx(r["logLik"], abs=1e-4)
    assert any("= 1 " in m for m in _boundary_messages(rec))

    # the same model in wide format (outcomes AL, PD as in metafor's coefficient order)
    y = df.pivot(index="trial", columns="outcome", values="yi")[["AL", "PD"]].to_numpy()
    v = df.pivot(index="trial", columns="outcome", values="vi")[["AL", "PD"]].to_numpy()
    with pytest.warns(BoundaryWarning, match=r"Corr\(PD,AL\) = 1"):
        biv = BivariateMeta(y, v, within_corr=-0.5, names=("AL", "PD")).fit(method=method)
    assert biv.rho_between == 1.0 and biv.on_boundary == ["study Corr(PD,AL)"]
    np.testing.assert_allclose(biv.params, list(r["coef"].values()), rtol=1e-4)
    np.testing.assert_allclose(biv.tau2, r["tau2"], rtol=1e-4)
    np.testing.assert_allclose(np.linalg.eigvalsh(biv.cov_between.values).min(), 0.0,
                               atol=1e-12)


def test_within_corr_sensitivity_flags_boundary_fits():
    df = mm.datasets.load("berkey1998")
    y = df.pivot(index="trial", columns="outcome", values="yi")[["AL", "PD"]].to_numpy()
    v = df.pivot(index="trial", columns="outcome", values="vi")[["AL", "PD"]].to_numpy()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        tab = within_corr_sensitivity(y, v, corrs=[-0.5, 0.0, 0.5])
    msgs = _boundary_messages(rec)
    assert len(msgs) == 1 and "-0.5" in msgs[0]
    assert tab["boundary"].tolist() == [True, False, False]
    assert tab.loc[-0.5, "rho_between"] == 1.0
    assert (tab["rho_between"].abs() <= 1).all()
    r = CASES["berkey_r-0.5_UN_REML"]["result"]
    assert tab.loc[-0.5, "b1"] == pytest.approx(r["coef"]["outcomeAL"], rel=1e-4)


def test_bivariate_mm_estimate_is_psd():
    df = mm.datasets.load("berkey1998")
    y = df.pivot(index="trial", columns="outcome", values="yi")[["AL", "PD"]].to_numpy()
    v = df.pivot(index="trial", columns="outcome", values="vi")[["AL", "PD"]].to_numpy()
    res = BivariateMeta(y, v, within_corr=-0.5).fit(method="MM")
    assert np.linalg.eigvalsh(res.cov_between.values).min() >= -1e-14
    assert -1.0 <= res.rho_between <= 1.0


# --------------------------------------------------- PSD-by-construction structures
PSD_CLASSES = [PSDUN, PSDUNR, PSDCS, PSDCSH, PSDAR1, PSDARH1, PSDANTE1]


@pytest.mark.parametrize("cls", PSD_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dim", [2, 3, 4])
def test_psd_structures_are_psd_on_their_box(cls, dim):
    s = cls(dim)
    rng = np.random.default_rng(dim)
    lo = np.where(np.isfinite(s.lower), s.lower, 0.0)
    hi = np.where(np.isfinite(s.upper), s.upper, 3.0)
    corners = []
    for _ in range(300):
        theta = rng.uniform(lo, hi)
        # push some coordinates onto the bounds
        pick = rng.random(s.n_params) < 0.3
        theta[pick] = np.where(rng.random(pick.sum()) < 0.5, lo[pick], hi[pick])
        corners.append(np.linalg.eigvalsh(s.matrix(theta)).min()
                       / max(1.0, np.abs(s.matrix(theta)).max()))
    assert min(corners) >= -1e-12


@pytest.mark.parametrize("cls", PSD_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dim", [2, 3])
def test_psd_structure_derivatives_match_finite_differences(cls, dim):
    s = cls(dim)
    rng = np.random.default_rng(10 + dim)
    n_corr = int(np.sum(np.isfinite(s.upper)))
    theta = np.concatenate([rng.uniform(0.5, 2.0, s.n_params - n_corr),
                            rng.uniform(-0.4, 0.8, n_corr)])
    D, D2 = s.derivatives(theta), s.second_derivatives(theta)
    h = 1e-6
    for k in range(s.n_params):
        e = np.zeros(s.n_params)
        e[k] = h
        np.testing.assert_allclose((s.matrix(theta + e) - s.matrix(theta - e)) / (2 * h), D[k],
                                   atol=1e-8)
        np.testing.assert_allclose((s.derivatives(theta + e) - s.derivatives(theta - e))
                                   / (2 * h), D2[k], atol=1e-7)


@pytest.mark.parametrize("name", ["UN", "UNR", "CS", "CSH", "AR1", "ARH1", "ANTE1"])
def test_psd_variant_maps_back_to_the_sas_parameters(name):
    base = get_structure(name, 3)
    s = psd_structure(base)
    theta = s.start(1.7) + 0.05
    np.testing.assert_allclose(base.matrix(s.to_base(theta)), s.matrix(theta), atol=1e-14)
    np.testing.assert_allclose(s.from_base(s.to_base(theta)), theta, atol=1e-12)


def test_psd_structure_refuses_toeplitz():
    with pytest.raises(ValueError, match="no positive semi-definite parameterisation"):
        psd_structure(get_structure("TOEP", 3))
    assert psd_structure(get_structure("VC", 3)).name == "VC"


def test_cs_correlation_bounded_to_its_feasible_range():
    assert PSDCS(3).lower[1] == -0.5 and PSDCSH(4).lower[-1] == pytest.approx(-1 / 3)
    # three outcomes per study whose true effects are strongly anti-correlated: SAS-style
    # CS would go below -1/(m-1); the PSD fit stops on the bound and says so
    rng = np.random.default_rng(3)
    k, m = 40, 3
    u = rng.multivariate_normal(np.zeros(m), 0.3 * (1.5 * np.eye(m) - 0.5 * np.ones((m, m))), k)
    v = np.full(k * m, 0.01)
    y = (u + rng.normal(0, 0.1, (k, m))).ravel()
    df = pd.DataFrame(dict(y=y, v=v, study=np.repeat(np.arange(k), m),
                           outcome=np.tile(["a", "b", "c"], k)))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = MetaMixed.from_formula("y ~ 0 + outcome + (0 + outcome | study)", df, vi="v",
                                     cov_struct="CS").fit()
    G = res.cov_re["study"].values
    assert np.linalg.eigvalsh(G).min() >= -1e-12 * np.abs(G).max()
    assert res.on_boundary == ["study Corr"] and res.theta["study Corr"] == -0.5
    assert "study Corr = -0.5" in _boundary_messages(rec)[0]
    # the optimum on the bound: the likelihood falls moving inside
    inside = res.theta.to_numpy().copy()
    inside[1] += 1e-4
    ev = evaluate(inside, res.model.endog, res.model.exog, res.model.spec, reml=True)
    assert ev.llf < res.llf
    hcs = MetaMixed.from_formula("y ~ 0 + outcome + (0 + outcome | study)", df, vi="v",
                                 cov_struct="HCS")
    with pytest.warns(BoundaryWarning, match="study Corr = -0.5"):
        assert hcs.fit().theta["study Corr"] == -0.5


def test_three_outcome_un_interior_optimum_equals_unconstrained():
    """Where the unconstrained (SAS) UN optimum is PD, the PSD parameterisation finds
    the same maximum."""
    rng = np.random.default_rng(11)
    k, m = 30, 3
    C = np.array([[1, 0.5, 0.2], [0.5, 1, 0.3], [0.2, 0.3, 1]]) * 0.2
    y = (rng.multivariate_normal([0.1, 0.2, 0.3], C, k) + rng.normal(0, 0.15, (k, m))).ravel()
    df = pd.DataFrame(dict(y=y, v=np.full(k * m, 0.0225), study=np.repeat(np.arange(k), m),
                           outcome=np.tile(["a", "b", "c"], k)))
    res = MetaMixed.from_formula("y ~ 0 + outcome + (0 + outcome | study)", df, vi="v").fit()
    part = res.model.random[0]
    raw = KnownPlusRandomCovariance(res.model.known,
                                    [RandomPart(part.name, part.Z, part.groups,
                                                get_structure("UN", 3), part.column_names)])
    out = maximize(res.model.endog, res.model.exog, raw, raw.start(0.1))
    G_raw = raw.G_matrices(out.theta)[0]
    assert np.linalg.eigvalsh(G_raw).min() > 0
    assert res.llf == pytest.approx(out.evaluation.llf, abs=1e-8)
    np.testing.assert_allclose(res.cov_re["study"].values, G_raw, rtol=1e-5, atol=1e-8)
    assert not res.on_boundary
    # the PSD search (Cholesky factor for 3 x 3) finds the same maximum as the linear
    # shortcut that fit() takes when the unconstrained optimum is positive definite
    search, to_spec, _ = res.model.spec.search_variant("psd")
    assert isinstance(search.random[0].structure, CholeskyUN)
    o = maximize(res.model.endog, res.model.exog, search, search.start(0.1))
    assert o.evaluation.llf == pytest.approx(res.llf, abs=1e-8)
    np.testing.assert_allclose(to_spec(o.theta), res.theta.values, rtol=1e-5, atol=1e-8)


def test_three_outcome_un_on_the_boundary_is_the_constrained_maximum():
    """Rank-one between-study covariance of three outcomes: the fit ends on the boundary
    (correlations +-1), names it, and no independent search over PSD matrices does better."""
    from scipy import optimize
    rng = np.random.default_rng(5)
    k, m = 25, 3
    f = rng.normal(0, 0.4, k)
    u = np.column_stack([f, -0.8 * f, 0.5 * f])
    y = (u + rng.normal(0, 0.15, (k, m))).ravel()
    df = pd.DataFrame(dict(y=y, v=np.full(k * m, 0.0225), study=np.repeat(np.arange(k), m),
                           outcome=np.tile(["a", "b", "c"], k)))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = MetaMixed.from_formula("y ~ 0 + outcome + (0 + outcome | study)", df,
                                     vi="v").fit()
    assert res.converged
    assert res.on_boundary == ["study Corr(outcome[b],outcome[a])",
                               "study Corr(outcome[c],outcome[a])"]
    assert "Corr(outcome[b],outcome[a]) = -1" in _boundary_messages(rec)[0]
    np.testing.assert_allclose(np.abs(res.rho.values), 1.0, atol=1e-12)
    # independent check: multi-start L-BFGS-B over the Cholesky factor
    search = CholeskyUN(3)
    part = res.model.random[0]
    spec = KnownPlusRandomCovariance(res.model.known, [RandomPart(
        part.name, part.Z, part.groups, search, part.column_names)])
    bounds = [(0, None) if lo == 0 else (None, None) for lo in search.lower]

    def nll(t):
        e = evaluate(t, res.model.endog, res.model.exog, spec, reml=True, order=1)
        return -e.llf, -e.grad

    best = -np.inf
    for _ in range(4):
        x0 = rng.normal(0, 0.3, 6)
        x0[[0, 2, 5]] = np.abs(x0[[0, 2, 5]])
        o = optimize.minimize(nll, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                              options=dict(ftol=1e-15, gtol=1e-10, maxiter=5000))
        best = max(best, -o.fun)
    assert res.llf >= best - 1e-7
    # SAS's element-wise UN goes outside the PSD cone to a higher likelihood here
    raw = KnownPlusRandomCovariance(res.model.known, [RandomPart(
        part.name, part.Z, part.groups, get_structure("UN", 3), part.column_names)])
    un = maximize(res.model.endog, res.model.exog, raw, raw.start(0.1))
    assert np.linalg.eigvalsh(raw.G_matrices(un.theta)[0]).min() < 0


def test_cholesky_search_structure():
    c = CholeskyUN(3)
    rng = np.random.default_rng(2)
    theta = rng.normal(size=6)
    theta[[0, 2, 5]] = np.abs(theta[[0, 2, 5]])
    D, D2 = c.derivatives(theta), c.second_derivatives(theta)
    h = 1e-6
    for k in range(6):
        e = np.zeros(6)
        e[k] = h
        np.testing.assert_allclose((c.matrix(theta + e) - c.matrix(theta - e)) / (2 * h), D[k],
                                   atol=1e-8)
        np.testing.assert_allclose((c.derivatives(theta + e) - c.derivatives(theta - e))
                                   / (2 * h), D2[k], atol=1e-8)
    for target in (PSDUN(3), PSDUN(3, "sd"), PSDUNR(3), get_structure("UN", 3),
                   get_structure("UNR", 3)):
        t = params_to(c, target, theta)
        np.testing.assert_allclose(target.matrix(t), c.matrix(theta), atol=1e-14)
        np.testing.assert_allclose(params_from(c, target, t), theta, atol=1e-12)
    # a row spanned by the earlier ones: partial correlation exactly +-1, later ones 0
    L = theta.copy()
    L[[4, 5]] = 0.0
    z = c.to_psdun(L)[3:]
    assert abs(z[1]) == 1.0 and z[2] == 0.0


def test_metamixed_maps_hand_built_sas_structures():
    df = mm.datasets.load("berkey1998")
    f = MetaMixed.from_formula("yi ~ 0 + outcome + (0 + outcome | trial)", df,
                               V=_berkey_blocks(df, 0.0))
    part = f.random[0]
    mod = MetaMixed(f.endog, f.exog, [RandomPart(part.name, part.Z, part.groups,
                                                 get_structure("UN", 2), part.column_names)],
                    V=_berkey_blocks(df, 0.0))
    assert isinstance(mod.spec.random[0].structure, PSDUN)
    assert mod.fit().llf == pytest.approx(f.fit().llf, rel=1e-10)


# ------------------------------------------------------------ non-identified terms
@pytest.mark.parametrize("method", ["REML", "ML"])
def test_single_level_factor_fixed_to_zero_equals_meta_random(method):
    case = CASES[f"konst_one_district_{method}"]
    df = pd.DataFrame(REF["data"]["konst_one_district"])
    assert df.district.nunique() == 1 and "fixed to 0" in case["warning"]
    with pytest.warns(IdentificationWarning, match="'district'"):
        mod = MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", df, vi="vi")
    res = mod.fit(method=method)
    uni = mm.MetaRandom(df.yi.to_numpy(), df.vi.to_numpy()).fit(method=method)
    assert mod.fixed_terms == ("district",)
    assert res.sigma2["district"] == 0.0
    assert res.sigma2["district:school"] == pytest.approx(uni.tau2, rel=1e-8)
    assert res.params.iloc[0] == pytest.approx(float(np.asarray(uni.params)[0]), rel=1e-8)
    assert res.bse.iloc[0] == pytest.approx(float(np.asarray(uni.bse)[0]), rel=1e-8)
    assert res.llf == pytest.approx(uni.llf, rel=1e-8)
    # and metafor's numbers (sigma2 = (0, tau2), equal to rma())
    r = case["result"]
    assert r["sigma2"][0] == 0
    assert res.sigma2["district:school"] == pytest.approx(r["sigma2"][1], rel=1e-6)
    assert res.params.iloc[0] == pytest.approx(r["coef"], rel=1e-6)
    assert res.llf_metafor == pytest.approx(r["logLik"], abs=1e-8)
    # the fixed term does not count as a parameter
    assert res.n_params_total == 2
    text = " ".join(str(res.summary()).split())
    assert "Fixed to 0 (single-level factor, not identified): district" in text


def test_single_level_only_term_refused():
    df = pd.DataFrame(REF["data"]["konst_one_district"])
    with pytest.warns(IdentificationWarning):
        with pytest.raises(SpecificationError, match="MetaFixed"):
            MetaMixed.from_formula("yi ~ 1 + (1 | district)", df, vi="vi")


def test_identical_groupings_refused():
    df = pd.DataFrame(REF["data"]["konstantopoulos2011"])
    # metafor fits this silently and splits the variance equally
    assert np.allclose(*CASES["konst_duplicate_terms"]["result"]["sigma2"], rtol=1e-6)
    with pytest.raises(SpecificationError, match="not separately identified"):
        MetaMixed.from_formula("yi ~ 1 + (1 | study) + (1 | study2)", df, vi="vi")
    with pytest.raises(SpecificationError, match="'study:school'.*not separately"):
        MetaMixed.from_formula("yi ~ 1 + (1 | study/school)", df, vi="vi")


def test_one_estimate_per_level_is_identified():
    """Unlike lme4, a term with one row per level is identified next to the known
    sampling variances: (1 | study) with one effect per study is MetaRandom."""
    df = pd.DataFrame(REF["data"]["konstantopoulos2011"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = MetaMixed.from_formula("yi ~ 1 + (1 | study)", df, vi="vi").fit()
    uni = mm.MetaRandom(df.yi.to_numpy(), df.vi.to_numpy()).fit(method="REML")
    assert res.sigma2.iloc[0] == pytest.approx(uni.tau2, rel=1e-8)
    assert res.llf == pytest.approx(uni.llf, rel=1e-8)
    assert res.sigma2.iloc[0] == pytest.approx(CASES["konst_duplicate_terms"]["result"]
                                               ["sigma2"][0] * 2, rel=1e-5)
