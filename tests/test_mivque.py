"""MIVQUE(0) (SAS METHOD=MIVQUE0) estimates and starting values (issue 16, point 4)."""
import warnings

import numpy as np
import pandas as pd
import pytest

import metamodels as mm
from metamodels.exceptions import SpecificationError
from metamodels.mixed import mivque0


def _dense_mivque0(y, X, Vs):
    """The MIVQUE(0) equations with dense n x n matrices (Rao 1971)."""
    M = np.eye(len(y)) - X @ np.linalg.solve(X.T @ X, X.T)
    S = np.array([[np.trace(M @ A @ M @ B) for B in Vs] for A in Vs])
    q = np.array([y @ M @ A @ M @ y for A in Vs])
    return np.linalg.solve(S, q)


def test_balanced_one_way_equals_anova():
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(10), 5)
    y = rng.normal(size=10)[g] + rng.normal(size=50)
    est = mivque0(mm.MixedModel(y, np.ones((50, 1)), groups=g))
    aov = mm.oneway_variance_components(y, g)
    np.testing.assert_allclose(est.to_numpy(), [aov.sigma2_between, aov.sigma2_within],
                               rtol=1e-10)


def test_random_slopes_equal_dense_equations():
    d = mm.datasets.load("sleepstudy")
    m = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", d)
    codes = pd.factorize(d["Subject"])[0]
    Z0 = np.eye(codes.max() + 1)[codes]
    Z1 = Z0 * d["Days"].to_numpy()[:, None]
    Vs = [Z0 @ Z0.T, Z0 @ Z1.T + Z1 @ Z0.T, Z1 @ Z1.T, np.eye(len(d))]
    est = mivque0(m)
    assert list(est.index) == list(m.spec.param_names)
    np.testing.assert_allclose(est.to_numpy(), _dense_mivque0(m.endog, m.exog, Vs),
                               rtol=1e-9)


def test_weights_and_unbalanced_groups():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(12), rng.integers(2, 7, size=12))
    n = len(g)
    w = rng.uniform(0.5, 2.0, size=n)
    x = rng.normal(size=n)
    y = 1 + x + rng.normal(size=12)[g] + rng.normal(size=n) / np.sqrt(w)
    X = np.column_stack([np.ones(n), x])
    m = mm.MixedModel(y, X, groups=g, weights=w)
    Z = np.eye(12)[g]
    expect = _dense_mivque0(y, X, [Z @ Z.T, np.diag(1 / w)])
    np.testing.assert_allclose(mivque0(m).to_numpy(), expect, rtol=1e-9)


@pytest.mark.parametrize("formula,kw", [
    ("Reaction ~ Days + (Days | Subject)", {}),
    ("fev ~ baseval + C(drug) + C(hour) + (1 | patient)",
     dict(repeated="hour", subject="patient:drug", cov_struct="CS")),
    ("fev ~ baseval + C(drug) + C(hour) + (1 | patient)",
     dict(repeated="hour", subject="patient:drug", cov_struct="TOEP")),
])
def test_mivque0_start_reaches_the_same_optimum(formula, kw):
    data = mm.datasets.load("sleepstudy" if "Reaction" in formula else "fev_sim")
    m = mm.MixedModel.from_formula(formula, data, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = m.fit()
        b = m.fit(start="mivque0")
    assert b.converged
    assert b.llf == pytest.approx(a.llf, rel=1e-9, abs=1e-8)
    np.testing.assert_allclose(b.theta, a.theta, rtol=1e-5, atol=1e-7)


def test_indefinite_estimate_is_made_a_valid_start():
    from metamodels.mixed.mivque import _positive_definite, mivque0_start
    f = mm.datasets.load("fev_sim")
    m = mm.MixedModel.from_formula("fev ~ baseval + C(drug) + C(hour) + (1 | patient)", f,
                                   repeated="hour", subject="patient:drug", cov_struct="UN")
    fallback = m.spec.start(0.2)
    start = mivque0_start(m, fallback)
    assert _positive_definite(m.spec, start)


def test_refusals():
    f = mm.datasets.load("fev_sim")
    m = mm.MixedModel.from_formula("fev ~ baseval + (1 | patient)", f, repeated="hour",
                                   subject="patient:drug", cov_struct="AR1")
    with pytest.raises(SpecificationError, match="linear"):
        mivque0(m)
    with pytest.raises(SpecificationError, match="linear"):
        m.fit(start="mivque0")
    with pytest.raises(ValueError, match="mivque0"):
        m.fit(start="minque")
