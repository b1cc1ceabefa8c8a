"""Effect sizes R2 and ZR2 (coefficients of determination; metafor 4.0 measures, absent
from metafor 3.8, so no R reference): checked against statsmodels OLS (R^2 from the F
statistic) and against the Monte Carlo sampling distribution of R^2 in regressions with
multivariate normal data (the formulas' assumption)."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

import metamodels as mm


def _sample_r2(n, m, rho2, reps, seed):
    """R^2 of ``reps`` regressions of y on m predictors, n cases each, population R^2
    ``rho2`` (sample covariance matrices drawn from the Wishart distribution)."""
    rng = np.random.default_rng(seed)
    b = np.full(m, np.sqrt(rho2 / m))
    S = np.eye(m + 1)
    S[0, 1:] = S[1:, 0] = b
    W = stats.wishart.rvs(df=n - 1, scale=S, size=reps, random_state=rng)
    c, Sxx = W[:, 1:, 0], W[:, 1:, 1:]
    return np.einsum("ri,ri->r", c, np.linalg.solve(Sxx, c[..., None])[..., 0]) / W[:, 0, 0]


@pytest.mark.parametrize("n, m, rho2", [(100, 3, 0.3), (400, 3, 0.3), (1000, 5, 0.5),
                                        (200, 2, 0.6)])
def test_variances_match_the_sampling_distribution(n, m, rho2):
    r2 = _sample_r2(n, m, rho2, 20000, seed=n + m)
    frame = mm.effect_size("R2", r2i=[rho2], ni=[n], mi=[m])
    ls = frame["vi"].iloc[0]
    ls2 = mm.effect_size("R2", r2i=[rho2], ni=[n], mi=[m], vtype="LS2")["vi"].iloc[0]
    emp = r2.var(ddof=1)
    # Monte Carlo SE of the variance ratio is about 1.5%; the approximations err by O(1/n)
    tol = 0.04 + 6.0 / n
    assert abs(ls / emp - 1) < tol
    assert abs(ls2 / emp - 1) < tol
    z = mm.effect_size("ZR2", r2i=r2[:5], ni=n, mi=m)
    np.testing.assert_allclose(z["yi"], np.arctanh(np.sqrt(r2[:5])))
    np.testing.assert_allclose(z["vi"], 1.0 / n)
    # variance stabilised: Var(atanh(R)) n ~ 1 whatever rho2
    assert abs(np.var(np.arctanh(np.sqrt(r2)), ddof=1) * n - 1) < 0.04


def test_formulas_and_variance_types():
    r2, n, m = np.array([0.3, 0.5, 0.1]), np.array([100.0, 50.0, 30.0]), np.array([3, 2, 4])
    es = mm.effect_size("R2", r2i=r2, ni=n, mi=m)
    np.testing.assert_allclose(es["yi"], r2)
    np.testing.assert_allclose(es["vi"], 4 * r2 * (1 - r2) ** 2 / n)
    full = (n - m - 1) ** 2 / ((n ** 2 - 1) * (n + 3))
    es2 = mm.effect_size("R2", r2i=r2, ni=n, mi=m, vtype="LS2")
    np.testing.assert_allclose(es2["vi"], 4 * r2 * (1 - r2) ** 2 * full)
    bar = np.sum(n * r2) / n.sum()
    av = mm.effect_size("R2", r2i=r2, ni=n, mi=m, vtype="AV")
    np.testing.assert_allclose(av["vi"], 4 * bar * (1 - bar) ** 2 / n)
    av2 = mm.effect_size("R2", r2i=r2, ni=n, mi=m, vtype="AV2")
    np.testing.assert_allclose(av2["vi"], 4 * bar * (1 - bar) ** 2 * full)
    assert av.attrs["measure"] == "R2" and av.attrs["vtype"] == "AV"


def test_r2_from_f_statistic_equals_ols():
    rng = np.random.default_rng(3)
    rows = []
    for n, m in [(40, 2), (75, 4), (120, 3)]:
        X = rng.standard_normal((n, m))
        y = X @ rng.uniform(0.2, 0.6, m) + rng.standard_normal(n)
        fit = sm.OLS(y, sm.add_constant(X)).fit()
        rows.append({"f": fit.fvalue, "r2": fit.rsquared, "n": n, "m": m})
    d = pd.DataFrame(rows)
    from_f = mm.effect_size("R2", d, fi="f", ni="n", mi="m")
    np.testing.assert_allclose(from_f["yi"], d["r2"], rtol=1e-10)
    direct = mm.effect_size("ZR2", d, r2i="r2", ni="n", mi="m")
    np.testing.assert_allclose(mm.effect_size("ZR2", d, fi="f", ni="n", mi="m")["yi"],
                               direct["yi"], rtol=1e-10)


def test_pooled_r2_by_random_effects():
    d = pd.DataFrame({"r2": [0.21, 0.35, 0.28, 0.40, 0.25], "n": [80, 150, 60, 200, 120],
                      "m": [3, 3, 4, 3, 5]})
    es = mm.effect_size("ZR2", d, r2i="r2", ni="n", mi="m")
    res = mm.MetaRandom.from_formula("yi ~ 1", data=es, vi="vi").fit()
    pooled = np.tanh(float(np.asarray(res.params)[0])) ** 2
    assert d["r2"].min() < pooled < d["r2"].max()


def test_bad_input():
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        mm.effect_size("R2", r2i=[1.2], ni=[50], mi=[2])
    with pytest.raises(ValueError, match="residual df"):
        mm.effect_size("R2", r2i=[0.2], ni=[3], mi=[2])
    with pytest.raises(ValueError, match="mi must be positive"):
        mm.effect_size("ZR2", r2i=[0.2], ni=[30], mi=[0])
    with pytest.raises(ValueError, match="not both"):
        mm.effect_size("R2", r2i=[0.2], fi=[3.0], ni=[30], mi=[2])
    with pytest.raises(ValueError, match="negative F"):
        mm.effect_size("R2", fi=[-1.0], ni=[30], mi=[2])
    with pytest.raises(ValueError, match="vtype"):
        mm.effect_size("ZR2", r2i=[0.2], ni=[30], mi=[2], vtype="AV")
    with pytest.raises(ValueError, match="requires"):
        mm.effect_size("R2", ni=[30], mi=[2])
    es = mm.effect_size("R2", r2i=[0.2, np.nan], ni=[30, 40], mi=[2, 2])
    assert np.isnan(es["yi"].iloc[1]) and np.isnan(es["vi"].iloc[1])
