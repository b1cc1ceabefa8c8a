"""The engine's fast paths (Woodbury low-rank, per-pattern R side) against the dense blocks.

Every quantity :func:`~metamodels.core.likelihood.evaluate` returns (llf, beta, C, gradient,
expected and observed information) must equal the dense block path (``fast=False``) to
1e-9 relative, for REML and ML, at several theta values including boundaries.
"""
import warnings

import numpy as np
import pandas as pd
import pytest

from metamodels import MixedModel, datasets
from metamodels.core.likelihood import NotPositiveDefiniteError, evaluate
from metamodels.core.lowrank import LowRankView
from metamodels.core.patterns import PatternView

FIELDS = ("llf", "beta", "cov_beta", "rss", "logdet_v", "logdet_xvx", "grad", "info",
          "obs_info")


def assert_same(a, b, rtol=1e-9):
    for f in FIELDS:
        x, z = np.asarray(getattr(a, f), float), np.asarray(getattr(b, f), float)
        scale = max(np.max(np.abs(x)), 1e-300)
        np.testing.assert_allclose(z, x, rtol=rtol, atol=rtol * scale, err_msg=f)


def compare(model, thetas, kind):
    y, X, spec = model.endog, model.exog, model.spec
    view = spec.lowrank_view(y, X) if kind == "lowrank" else spec.pattern_view(y, X)
    assert isinstance(view, LowRankView if kind == "lowrank" else PatternView)
    for theta in thetas:
        for reml in (True, False):
            dense = evaluate(theta, y, X, spec, reml, 1, fast=False)
            fast = evaluate(theta, y, X, spec, reml, 1, fast=True)
            assert_same(dense, fast)
            lean = evaluate(theta, y, X, spec, reml, 0, fast=True)
            assert lean.grad is None and lean.llf == pytest.approx(dense.llf, rel=1e-10)
    return view


# ---------------------------------------------------------------------------- data
def _unbalanced(seed=0, n_groups=40):
    """Groups of sizes 1..30, two covariates, a nested and a crossed factor."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 31, n_groups)
    sizes[:3] = [1, 2, 30]
    g = np.repeat(np.arange(n_groups), sizes)
    n = g.size
    df = pd.DataFrame({
        "g": g,
        "sub": [f"{a}-{b}" for a, b in zip(g, rng.integers(0, 4, n))],   # nested in g
        "cr": rng.integers(0, 7, n),                                        # crossed with g
        "x": rng.normal(size=n),
        "x2": rng.uniform(-1, 1, n),
        "f": rng.integers(0, 3, n),
    })
    u = rng.normal(size=(n_groups, 3)) * [1.0, 0.5, 0.3]
    df["y"] = (2.0 + 0.5 * df.x - 0.3 * df.x2 + u[g, 0] + u[g, 1] * df.x + u[g, 2] * df.x2
               + rng.normal(size=7)[df.cr] * 0.4 + rng.normal(size=n))
    return df


@pytest.fixture(scope="module")
def unbalanced():
    return _unbalanced()


def _thetas(spec, extra=()):
    th = spec.start(1.0)
    out = [th, th * np.linspace(0.6, 1.4, th.size)]
    return out + [np.asarray(e, float) for e in extra]


# ------------------------------------------------------------------ path A: low rank
@pytest.mark.parametrize("formula", [
    "y ~ x + (1 | g)",
    "y ~ x + (x | g)",
    "y ~ x + x2 + (x + x2 | g)",                 # 3 correlated columns
    "y ~ x + (1 | g) + (1 | sub)",               # nested
    "y ~ x + (x | g) + (1 | sub)",
])
def test_lowrank_equals_dense(unbalanced, formula):
    m = MixedModel.from_formula(formula, unbalanced)
    compare(m, _thetas(m.spec), "lowrank")


@pytest.mark.parametrize("formula", [
    "y ~ x + C(f) + (1 | g) + (1 | cr)",         # crossed: a single block
    "y ~ x + (x | g) + (1 | cr)",
])
def test_lowrank_crossed_equals_dense(formula):
    df = _unbalanced(seed=1, n_groups=12)
    m = MixedModel.from_formula(formula, df)
    view = compare(m, _thetas(m.spec), "lowrank")
    assert len(view.stacks) == 1 and view.stacks[0].S.shape[0] == 1


def test_lowrank_boundary_and_indefinite_g(unbalanced):
    m = MixedModel.from_formula("y ~ x + x2 + (x + x2 | g)", unbalanced)
    # G parameters: Var1, Cov21, Var2, Cov31, Cov32, Var3; then the residual variance
    zero_var = [0.8, 0.0, 0.0, 0.1, 0.0, 0.2, 1.1]        # a zero variance (singular G)
    all_zero = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.9]        # G = 0
    indefinite = [0.3, 0.32, 0.3, 0.0, 0.0, 0.1, 5.0]     # |cov| > sd sd, V still PD
    y, X, spec = m.endog, m.exog, m.spec
    assert np.linalg.eigvalsh(spec.G_matrices(indefinite)[0]).min() < 0
    compare(m, [zero_var, all_zero, indefinite], "lowrank")
    bad = [-5.0, 0.0, 0.2, 0.0, 0.0, 0.2, 1.0]              # V not positive definite
    for fast in (False, True):
        with pytest.raises(NotPositiveDefiniteError):
            evaluate(bad, y, X, spec, True, 1, fast=fast)


@pytest.mark.parametrize("re_struct", ["CSH", "UNR", "VC"])
def test_lowrank_other_g_structures(unbalanced, re_struct):
    """Nonlinear G structures add the second-order terms to the observed information."""
    m = MixedModel.from_formula("y ~ x + x2 + (x + x2 | g)", unbalanced, re_struct=re_struct)
    compare(m, _thetas(m.spec), "lowrank")


def test_lowrank_many_compositions_are_padded():
    """Nested levels 1..30 per block: compositions are padded to a ladder of sizes."""
    rng = np.random.default_rng(5)
    rows = []
    for school in range(60):
        for cls in range(1 + school % 30):
            for _ in range(rng.integers(1, 4)):
                rows.append((school, f"{school}-{cls}", rng.normal()))
    df = pd.DataFrame(rows, columns=["school", "cls", "x"])
    df["y"] = df.x + rng.normal(size=60)[df.school] + rng.normal(size=len(df))
    m = MixedModel.from_formula("y ~ x + (x | school) + (1 | cls)", df)
    view = compare(m, _thetas(m.spec), "lowrank")
    # 30 distinct compositions (1 school, 1..30 classes) share 13 padded stacks
    assert 1 < len(view.stacks) <= 13
    assert sum(st.S.shape[0] for st in view.stacks) == 60


def test_lowrank_not_offered_with_r_side_structure(unbalanced):
    df = unbalanced.assign(visit=unbalanced.groupby("g").cumcount())
    m = MixedModel.from_formula("y ~ x + (1 | g)", df, repeated="visit", subject="g",
                                cov_struct="AR1")
    assert m.spec.lowrank_view(m.endog, m.exog) is None
    assert m.spec.pattern_view(m.endog, m.exog) is None


# --------------------------------------------------------------- path B: patterns
def _repeated(seed=2, n_subj=80, n_visits=5, frac=0.8):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n_visits, n_visits))
    R = A @ A.T / n_visits + np.eye(n_visits)
    L = np.linalg.cholesky(R)
    rows = []
    for s in range(n_subj):
        e = L @ rng.normal(size=n_visits)
        for v in range(n_visits):
            rows.append((s, v, s % 2, (s // 2) % 2, rng.integers(0, 2),
                         1 + 0.2 * v + 0.5 * (s % 2) + e[v]))
    df = pd.DataFrame(rows, columns=["subj", "visit", "trt", "arm", "mixed", "y"])
    return df.sample(frac=frac, random_state=seed).sort_index()


@pytest.fixture(scope="module")
def repeated():
    return _repeated()


@pytest.mark.parametrize("cov_struct", ["UN", "CS", "AR1", "CSH", "TOEPH", "VC", "ID"])
@pytest.mark.parametrize("cov_group", [None, "arm", "mixed"])
def test_patterns_equal_dense(repeated, cov_struct, cov_group):
    """Missing visits, one or two cov_group levels (``mixed`` varies within subjects);
    UN has more parameters than fixed effects (tensor branch), AR1/CS fewer."""
    m = MixedModel.from_formula("y ~ C(visit) * trt", repeated, repeated="visit",
                                subject="subj", cov_struct=cov_struct, cov_group=cov_group)
    view = compare(m, _thetas(m.spec), "pattern")
    assert view.npat < view.Xt.shape[0]
    assert view.n_classes == (2 if cov_group == "arm" else 1)


def test_patterns_boundary_values(repeated):
    m = MixedModel.from_formula("y ~ C(visit) * trt", repeated, repeated="visit",
                                subject="subj", cov_struct="CSH")
    th = m.spec.start(1.0) * np.linspace(0.5, 1.5, 6)
    th[-1] = 0.0                      # correlation on zero (no R-side variance may be 0:
    th2 = th.copy()                   # V would be singular)
    th2[-1] = -0.24                   # close to the CS bound -1/(m-1)
    compare(m, [th, th2], "pattern")


def test_patterns_independent_rows(repeated):
    m = MixedModel.from_formula("y ~ C(visit) * trt", repeated, cov_group="arm")
    compare(m, [[1.0, 2.0], [0.5, 1.5]], "pattern")


def test_patterns_not_positive_definite(repeated):
    m = MixedModel.from_formula("y ~ C(visit) * trt", repeated, repeated="visit",
                                subject="subj", cov_struct="CS")
    for fast in (False, True):
        with pytest.raises(NotPositiveDefiniteError):
            evaluate([-2.0, 1.0], m.endog, m.exog, m.spec, True, 1, fast=fast)


# ------------------------------------------------------------------- full fits
def _fit_both(make, reml=True):
    fast = make().fit(method="REML" if reml else "ML")
    slow_model = make()
    slow_model.spec.use_fast_paths = False
    slow = slow_model.fit(method="REML" if reml else "ML")
    return fast, slow


@pytest.mark.parametrize("reml", [True, False])
def test_sleepstudy_fit_same_with_and_without_fast_path(reml):
    sleep = datasets.load("sleepstudy")
    fast, slow = _fit_both(lambda: MixedModel.from_formula(
        "Reaction ~ Days + (Days | Subject)", sleep), reml)
    spec = fast.model.spec
    assert spec.lowrank_view(fast.model.endog, fast.model.exog) is not None
    assert fast.llf == pytest.approx(slow.llf, rel=1e-10)
    np.testing.assert_allclose(fast.params, slow.params, rtol=1e-7)
    np.testing.assert_allclose(fast.bse, slow.bse, rtol=1e-7)
    np.testing.assert_allclose(fast._fit.theta, slow._fit.theta, rtol=1e-6)
    np.testing.assert_allclose(fast._fit.obs_info, slow._fit.obs_info, rtol=1e-6)


def test_repeated_un_fit_same_with_and_without_fast_path(repeated):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast, slow = _fit_both(lambda: MixedModel.from_formula(
            "y ~ C(visit) * trt", repeated, repeated="visit", subject="subj",
            cov_struct="UN", cov_group="arm"))
    assert fast.llf == pytest.approx(slow.llf, rel=1e-10)
    np.testing.assert_allclose(fast.params, slow.params, rtol=1e-7)
    np.testing.assert_allclose(fast._fit.theta, slow._fit.theta, rtol=1e-6, atol=1e-8)


def test_views_are_cached_and_rebuilt_for_new_data(unbalanced):
    m = MixedModel.from_formula("y ~ x + (x | g)", unbalanced)
    y, X = m.endog, m.exog
    v1 = m.spec.lowrank_view(y, X)
    assert m.spec.lowrank_view(y, X) is v1
    y2 = y + 1.0
    v2 = m.spec.lowrank_view(y2, X)
    assert v2 is not v1
    e_fast = evaluate(m.spec.start(1.0), y2, X, m.spec, True, 1, fast=True)
    e_dense = evaluate(m.spec.start(1.0), y2, X, m.spec, True, 1, fast=False)
    assert_same(e_dense, e_fast)


def test_lowrank_spanning_blocks_fall_back_when_ill_conditioned():
    """``(1 | s) + (0 + C(visit) | s)``: Z spans every block (5 columns, <= 4 rows), so V stays
    positive definite as the residual variance goes to 0 and Woodbury would lose accuracy;
    the view declines those evaluations and a forced fit equals the dense fit."""
    rng = np.random.default_rng(11)
    rows = []
    for s in range(40):
        for v in range(4):
            if rng.uniform() < 0.85:
                rows.append((s, v, s % 2, rng.normal() + 0.3 * v + rng.normal(scale=0.1)))
    df = pd.DataFrame(rows, columns=["subj", "visit", "trt", "y"])
    make = lambda: MixedModel.from_formula(  # noqa: E731
        "y ~ C(visit) + trt + (1 | subj) + (0 + C(visit) | subj)", df)
    m = make()
    y, X, spec = m.endog, m.exog, m.spec
    view = spec.lowrank_view(y, X)
    theta = spec.start(1.0)
    assert view.evaluate(theta, True, 1) is not None
    theta_small = theta.copy()
    theta_small[-1] = 1e-7
    assert view.evaluate(theta_small, True, 1) is None
    assert_same(evaluate(theta_small, y, X, spec, True, 1, fast=False),
                evaluate(theta_small, y, X, spec, True, 1, fast=True))
    view.preferred = True                # force the low-rank path inside the fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = m.fit(method="ML")
        dense_model = make()
        dense_model.spec.use_fast_paths = False
        dense = dense_model.fit(method="ML")
    assert fast.llf == pytest.approx(dense.llf, rel=1e-9, abs=1e-8)


# ------------------------------------------------ intercept-only FE / DL single fits
@pytest.mark.parametrize("method", ["FE", "DL"])
@pytest.mark.parametrize("test", ["z", "knha"])
@pytest.mark.parametrize("tau", [0.0, 0.3])
def test_intercept_only_closed_form_equals_general(method, test, tau):
    """The closed-form FE/DL fit of the intercept-only model gives the numbers of the
    general cross-product path (effects around 1000 keep the centring honest)."""
    from metamodels.univariate.fitting import fit_general, fit_intercept_only, fit_univariate

    rng = np.random.default_rng(5)
    k = 40
    v = rng.uniform(0.01, 0.5, k)
    y = 1000.0 + rng.normal(0, np.sqrt(v + tau ** 2))
    X = np.ones((k, 1))
    fast, gen = fit_intercept_only(y, v, method, test), fit_general(y, v, X, method, test)
    disp = fit_univariate(y, v, X, method, test)                  # dispatches here
    assert disp.params[0] == fast.params[0] and disp.llf == fast.llf
    for name in ("params", "cov_params", "tau2", "tau2_se", "llf", "knha_factor"):
        np.testing.assert_allclose(getattr(fast, name), getattr(gen, name), rtol=1e-11,
                                   atol=1e-13, err_msg=name)
    assert (fast.converged, fast.n_iter, fast.tau2_fixed) == (True, 0, False)


def test_intercept_only_dispatch_and_plain_construction():
    """MetaRandom(y, vi) on float arrays takes the direct data path and the closed-form
    DL fit; the results equal those of the general path and of pandas input."""
    import pandas as pd

    import metamodels as mm
    from metamodels.univariate import fitting

    rng = np.random.default_rng(6)
    v = rng.uniform(0.01, 0.2, 30)
    y = rng.normal(0.2, np.sqrt(v + 0.05))
    res = mm.MetaRandom(y, v).fit(method="DL")
    ref = mm.MetaRandom(pd.Series(y), pd.Series(v)).fit(method="DL")
    np.testing.assert_allclose(res.params, np.asarray(ref.params), rtol=1e-13)
    np.testing.assert_allclose([res.tau2, res.llf, np.asarray(res.bse)[0], res.q, res.i2],
                               [ref.tau2, ref.llf, np.asarray(ref.bse)[0], ref.q, ref.i2],
                               rtol=1e-12)
    assert res.model.exog_names == ["Intercept"] and res.model.k_constant == 1
    gen = fitting.fit_general(y, v, np.ones((30, 1)), "DL", "z")
    np.testing.assert_allclose(res.params, gen.params, rtol=1e-13)
    assert "DerSimonian-Laird" in str(res.summary())
    # an explicit one-column design that is not all ones goes the general way
    X = np.full((30, 1), 2.0)
    r2 = mm.MetaRandom(y, v, X).fit(method="DL")
    np.testing.assert_allclose(2 * np.asarray(r2.params)[0], np.asarray(res.params)[0],
                               rtol=1e-12)


@pytest.mark.parametrize("test", ["z", "t", "knha"])
def test_meta_pvalues_equal_statsmodels_definition(test):
    """MetaResults.pvalues (scipy.special directly) equal statsmodels' generic
    LikelihoodModelResults.pvalues (scipy.stats) for every reference distribution."""
    from statsmodels.base.model import LikelihoodModelResults

    import metamodels as mm

    rng = np.random.default_rng(8)
    v = rng.uniform(0.01, 0.2, 25)
    X = np.column_stack([np.ones(25), rng.normal(size=25)])
    y = X @ [0.1, 0.05] + rng.normal(0, np.sqrt(v + 0.02))
    res = mm.MetaRandom(y, v, X).fit(method="REML", test=test)
    prop = LikelihoodModelResults.__dict__["pvalues"]       # a cached property
    fn = getattr(prop, "func", None) or getattr(prop, "fget")  # (functools / pandas cache)
    generic = fn(res._results)
    np.testing.assert_allclose(np.asarray(res.pvalues), generic, rtol=1e-14, atol=0)
