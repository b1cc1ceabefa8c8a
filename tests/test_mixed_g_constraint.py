"""MixedModel.fit(g_constraint=...): SAS semantics (default) and lme4's PSD constraint.

Reference: tests/reference/scripts/mixed_g_psd.R (lme4, bobyqa rhoend 1e-12; singular fit
with correlation +1 where the unconstrained SAS estimate of G is not PSD).
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metamodels import MixedModel
from metamodels.exceptions import BoundaryWarning

REF = json.loads((Path(__file__).parent / "reference" / "mixed_g_psd.json").read_text())
DATA = pd.DataFrame(REF["data"])


def _fit(case, g_constraint):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = MixedModel.from_formula("y ~ x + (x | g)", DATA).fit(
            reml=case["method"] == "REML", g_constraint=g_constraint)
    return res, [str(w.message) for w in rec if issubclass(w.category, BoundaryWarning)]


@pytest.mark.parametrize("case", REF["cases"], ids=[c["method"] for c in REF["cases"]])
def test_psd_constraint_matches_lme4(case):
    res, msgs = _fit(case, "psd")
    assert res.llf == pytest.approx(case["logLik"], abs=1e-7)
    np.testing.assert_allclose(res.params.values, case["fixef"], rtol=1e-6)
    np.testing.assert_allclose(res.bse.values, case["se"], rtol=1e-5)
    th = res.theta.to_numpy()     # reported in SAS's parameterisation
    np.testing.assert_allclose(th, [case["var_intercept"], case["cov"], case["var_slope"],
                                    case["residual"]], rtol=1e-5)
    G = res.cov_re_dict["g"].to_numpy()
    assert G[1, 0] / np.sqrt(G[0, 0] * G[1, 1]) == pytest.approx(case["corr"], abs=1e-9)
    assert len(msgs) == 1 and "Corr(x,(Intercept))" in msgs[0]


@pytest.mark.parametrize("case", REF["cases"], ids=[c["method"] for c in REF["cases"]])
def test_sas_semantics_warn_when_g_is_not_positive_definite(case):
    sas, msgs = _fit(case, "sas")
    psd, _ = _fit(case, "psd")
    G = sas.cov_re_dict["g"].to_numpy()
    assert np.linalg.eigvalsh(G).min() < 0          # SAS's estimate leaves the PSD cone
    assert any("not positive definite" in m for m in msgs)
    assert sas.llf >= psd.llf - 1e-9                # over a larger parameter space
    np.testing.assert_allclose(sas.params.values, psd.params.values, rtol=1e-8)  # balanced


def test_g_constraint_validation():
    mod = MixedModel.from_formula("y ~ x + (x | g)", DATA)
    with pytest.raises(ValueError, match="g_constraint"):
        mod.fit(g_constraint="lme4")
    toep = MixedModel.from_formula("y ~ x + (x | g)", DATA, re_struct="TOEP")
    with pytest.raises(ValueError, match="no positive semi-definite parameterisation"):
        toep.fit(g_constraint="psd")


def test_psd_constraint_is_inactive_at_an_interior_optimum():
    from metamodels import datasets
    sleep = datasets.load("sleepstudy")
    mod = MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleep)
    a, b = mod.fit(), mod.fit(g_constraint="psd")
    assert b.llf == pytest.approx(a.llf, abs=1e-8)
    np.testing.assert_allclose(b.theta.values, a.theta.values, rtol=1e-5)
