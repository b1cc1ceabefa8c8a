"""Property-based tests: off the happy path, every public call either raises a clear
metamodels error or returns a finite answer at least as good as a dense brute-force
optimiser.

Inputs are random small meta-analyses, multilevel meta-analyses and mixed models with
variances spanning 1e-8..1e8, scaled predictors, ties, missing values, empty and one-row
inputs.  "A clear metamodels error" means: an exception raised by metamodels' own code (the
innermost traceback frame lies in the ``metamodels`` package; never numpy, scipy or pandas
raising from deep inside) of a documented kind, with a non-empty message.  A finite answer
must have finite coefficients, standard errors and log-likelihood, and a log-likelihood not
below the dense brute-force maximum minus 1e-6.
"""
from __future__ import annotations

import math
import os
import traceback
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize

import metamodels as mm

PKG_DIR = os.path.dirname(mm.__file__)
SETTINGS = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# ---------------------------------------------------------------------------- helpers
def _raised_by_metamodels(exc):
    """True when the innermost frame of ``exc``'s traceback is metamodels' own code."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and os.path.abspath(frames[-1].filename).startswith(PKG_DIR)


def _call(fn):
    """Run ``fn``; return ``(result, None)`` or ``(None, exc)`` for an acceptable error.

    Any other exception (raised inside numpy/scipy/pandas, or an unexpected type, or an
    empty message) fails the test.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(), None
        except (ValueError, TypeError, ArithmeticError) as exc:  # noqa: PERF203
            assert _raised_by_metamodels(exc), (
                "an exception escaped from a dependency:\n"
                + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
            assert str(exc).strip(), f"{type(exc).__name__} without a message"
            return None, exc


def _assert_finite(res):
    for name in ("params", "bse"):
        values = np.asarray(getattr(res, name), dtype=float)
        assert np.all(np.isfinite(values)), f"{name} not finite: {values}"
    assert math.isfinite(res.llf), f"llf not finite: {res.llf}"


def _dense_llf(y, X, V, reml):
    """Profiled Gaussian (restricted) log-likelihood, SAS/lme4 REML convention."""
    n, p = X.shape
    try:
        L = np.linalg.cholesky(V)
    except np.linalg.LinAlgError:
        return -np.inf
    Li = np.linalg.inv(L)
    Vi = Li.T @ Li
    XtVX = X.T @ Vi @ X
    sign, logdet_x = np.linalg.slogdet(XtVX)
    if sign <= 0:
        return -np.inf
    b = np.linalg.solve(XtVX, X.T @ Vi @ y)
    r = y - X @ b
    logdet_v = 2.0 * np.log(np.diag(L)).sum()
    quad = r @ Vi @ r
    if reml:
        return -0.5 * ((n - p) * np.log(2 * np.pi) + logdet_v + logdet_x + quad)
    return -0.5 * (n * np.log(2 * np.pi) + logdet_v + quad)


def _brute_force_max(llf, n_par, scale):
    """Maximise ``llf(variances)`` over non-negative variances by brute force: a dense
    log-grid (including exact zeros) followed by Nelder-Mead polishing from the best points.
    Returns the best value and its argument."""
    grid_1d = np.concatenate([[0.0], scale * np.logspace(-14, 8, 89)])
    if n_par == 1:
        cands = [(llf(np.array([g])), np.array([g])) for g in grid_1d]
    else:
        coarse = grid_1d[::4]
        cands = [(llf(np.array([a, b])), np.array([a, b])) for a in coarse for b in coarse]
    cands.sort(key=lambda t: -t[0])
    best, arg = cands[0]
    for _, x0 in cands[:3]:
        def neg(z):
            return -llf(np.exp(z))
        z0 = np.log(np.maximum(x0, scale * 1e-14))
        out = optimize.minimize(neg, z0, method="Nelder-Mead",
                                options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
        if np.isfinite(out.fun) and -out.fun > best:
            best, arg = -out.fun, np.exp(out.x)
    return best, arg


def _assert_at_least(llf, best, V_best):
    """``llf >= best - 1e-6``, allowing for the rounding error of evaluating a Gaussian
    log-likelihood in double precision, about ``n * cond(V) * eps`` (a variance ratio of
    1e10 within one V leaves no more than ~5 correct digits in any implementation)."""
    n = V_best.shape[0]
    rounding = 10.0 * n * np.linalg.cond(V_best) * np.finfo(float).eps
    tol = 1e-6 * max(1.0, abs(best)) + rounding
    assert llf >= best - tol, (llf, best, tol)


# ----------------------------------------------------------------- strategies
variances = st.floats(min_value=-8, max_value=8).map(lambda e: 10.0 ** e)


@st.composite
def meta_data(draw, min_k=0, max_k=10):
    k = draw(st.integers(min_value=min_k, max_value=max_k))
    vscale = draw(variances)
    spread = draw(st.floats(min_value=0, max_value=3))
    vi = [vscale * 10.0 ** draw(st.floats(min_value=-spread, max_value=spread)) for _ in range(k)]
    yscale = draw(variances) ** 0.5
    y = [yscale * draw(st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0])) +
         yscale * draw(st.floats(min_value=-3, max_value=3)) for _ in range(k)]
    if draw(st.booleans()):           # ties
        y = [round(v / yscale, 0) * yscale for v in y]
    xscale = 10.0 ** draw(st.integers(min_value=-6, max_value=6))
    x = [xscale * draw(st.floats(min_value=-2, max_value=2)) for _ in range(k)]
    n_missing = draw(st.integers(min_value=0, max_value=min(2, k)))
    y = np.array(y, dtype=float)
    for i in range(n_missing):
        y[i] = np.nan
    return pd.DataFrame({"y": y, "vi": np.array(vi, dtype=float), "x": np.array(x, float)})


# ------------------------------------------------------------------ univariate
@SETTINGS
@given(d=meta_data(), method=st.sampled_from(["REML", "ML", "DL", "PM", "HE", "SJ", "EB"]),
       with_x=st.booleans())
def test_meta_random_is_an_error_or_at_least_the_brute_force_optimum(d, method, with_x):
    formula = "y ~ x" if with_x else "y ~ 1"
    res, exc = _call(lambda: mm.MetaRandom.from_formula(formula, data=d, vi="vi",
                                                       missing="drop").fit(method=method))
    if exc is not None:
        return
    _assert_finite(res)
    assert res.tau2 >= 0
    if method in ("REML", "ML"):
        y, X, vi = res.model.endog, res.model.exog, res.model.vi
        reml = method == "REML"

        def llf(t):
            return _dense_llf(y, X, np.diag(vi + t[0]), reml)
        best, arg = _brute_force_max(llf, 1, float(np.max(vi)))
        _assert_at_least(res.llf, best, np.diag(vi + arg[0]))


@SETTINGS
@given(d=meta_data(min_k=0, max_k=4))
def test_meta_fixed_tiny_inputs(d):
    res, exc = _call(lambda: mm.MetaFixed.from_formula("y ~ 1", data=d, vi="vi",
                                                      missing="drop").fit())
    if exc is None:
        _assert_finite(res)


@SETTINGS
@given(d=meta_data(min_k=0, max_k=8))
def test_meta_random_array_input(d):
    y, vi = d["y"].to_numpy(), d["vi"].to_numpy()
    res, exc = _call(lambda: mm.MetaRandom(y, vi, missing="drop").fit())
    if exc is None:
        _assert_finite(res)


# ----------------------------------------------------------------- multilevel
@st.composite
def multilevel_data(draw):
    n_outer = draw(st.integers(min_value=1, max_value=4))
    rows = []
    for a in range(n_outer):
        for b in range(draw(st.integers(min_value=1, max_value=3))):
            rows.append((a, f"{a}.{b}"))
    d = meta_data(min_k=len(rows), max_k=len(rows))
    frame = draw(d)
    frame["district"] = [r[0] for r in rows]
    frame["school"] = [r[1] for r in rows]
    return frame


@settings(max_examples=50, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(d=multilevel_data(), method=st.sampled_from(["REML", "ML"]))
def test_meta_mixed_is_an_error_or_at_least_the_brute_force_optimum(d, method):
    res, exc = _call(lambda: mm.MetaMixed.from_formula(
        "y ~ 1 + (1 | district/school)", data=d, vi="vi").fit(method=method))
    if exc is not None:
        return
    _assert_finite(res)
    y, X = res.model.endog, res.model.exog
    kept = d.loc[np.isfinite(d["y"])]
    vi = kept["vi"].to_numpy()
    Z1 = pd.get_dummies(kept["district"]).to_numpy(float)
    Z2 = pd.get_dummies(kept["school"]).to_numpy(float)
    reml = method == "REML"

    def llf(s):
        return _dense_llf(y, X, np.diag(vi) + s[0] * Z1 @ Z1.T + s[1] * Z2 @ Z2.T, reml)
    best, arg = _brute_force_max(llf, 2, float(np.max(vi)))
    _assert_at_least(res.llf, best, np.diag(vi) + arg[0] * Z1 @ Z1.T + arg[1] * Z2 @ Z2.T)


# ---------------------------------------------------------------- mixed models
@st.composite
def mixed_data(draw):
    n_groups = draw(st.integers(min_value=1, max_value=6))
    sizes = [draw(st.integers(min_value=1, max_value=4)) for _ in range(n_groups)]
    g = np.repeat(np.arange(n_groups), sizes)
    n = len(g)
    xscale = 10.0 ** draw(st.integers(min_value=-6, max_value=12))
    x = xscale * np.array([draw(st.floats(min_value=-2, max_value=2)) for _ in range(n)])
    s_u = draw(variances) ** 0.5
    s_e = draw(variances) ** 0.5
    u = s_u * np.array([draw(st.floats(min_value=-2, max_value=2)) for _ in range(n_groups)])
    e = s_e * np.array([draw(st.floats(min_value=-2, max_value=2)) for _ in range(n)])
    y = 1.0 + u[g] + e
    if draw(st.booleans()):
        y = np.round(y / s_e) * s_e
    return pd.DataFrame({"y": y, "x": x, "g": g})


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(d=mixed_data(), reml=st.booleans(), with_x=st.booleans())
def test_mixed_model_is_an_error_or_at_least_the_brute_force_optimum(d, reml, with_x):
    formula = "y ~ x + (1 | g)" if with_x else "y ~ 1 + (1 | g)"
    res, exc = _call(lambda: mm.MixedModel.from_formula(formula, data=d).fit(
        method="REML" if reml else "ML"))
    if exc is not None:
        return
    _assert_finite(res)
    y, X = res.model.endog, res.model.exog
    Z = pd.get_dummies(d["g"]).to_numpy(float)
    n = len(y)

    def llf(s):
        return _dense_llf(y, X, s[0] * Z @ Z.T + s[1] * np.eye(n), reml)
    best, arg = _brute_force_max(llf, 2, float(np.var(y)) + 1e-300)
    _assert_at_least(res.llf, best, arg[0] * Z @ Z.T + arg[1] * np.eye(n))


# ------------------------------------------------------------------ bad input
BAD_INPUTS = [
    pd.DataFrame({"y": [], "vi": []}),
    pd.DataFrame({"y": [0.1], "vi": [0.01]}),
    pd.DataFrame({"y": [0.1, np.inf, 0.3], "vi": [0.01, 0.02, 0.03]}),
    pd.DataFrame({"y": [0.1, 0.2, 0.3], "vi": [0.01, np.inf, 0.03]}),
    pd.DataFrame({"y": [0.1, 0.2, 0.3], "vi": [0.01, -0.02, 0.03]}),
    pd.DataFrame({"y": [0.1, 0.2, 0.3], "vi": ["0.01", "a", "0.03"]}),
    pd.DataFrame({"y": [0.1, 0.2, 0.3], "vi": [0.0, 0.0, 0.0]}),
]


@pytest.mark.parametrize("frame", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
@pytest.mark.parametrize("cls", ["MetaFixed", "MetaRandom", "BayesMeta"])
def test_bad_meta_input_is_a_clear_error_or_finite(frame, cls):
    model_cls = getattr(mm, cls)

    def run():
        return model_cls.from_formula("y ~ 1", data=frame, vi="vi").fit()
    res, exc = _call(run)
    if exc is None and hasattr(res, "llf"):
        _assert_finite(res)
