"""Henmi-Copas interval against metafor 3.8's hc() (``meta_hc.json``, made by
``scripts/meta_hc.R`` with tol 1e-13) and against the published lee2004 example."""
import json
from pathlib import Path

import numpy as np
import pytest

import metamodels as mm
from metamodels.exceptions import SpecificationError

REF = json.loads((Path(__file__).parent / "reference" / "meta_hc.json").read_text())


@pytest.mark.parametrize("case", REF["cases"], ids=lambda c: c["name"])
def test_against_metafor(case):
    res = mm.MetaRandom(np.asarray(case["yi"]), np.asarray(case["vi"])).fit(method="DL")
    hc = res.henmi_copas(alpha=1 - case["level"] / 100)
    assert hc.estimate == pytest.approx(case["beta"], rel=1e-12)
    assert hc.se == pytest.approx(case["se"], rel=1e-12)
    assert hc.tau2 == pytest.approx(case["tau2"], rel=1e-12)
    assert hc.ci_lower == pytest.approx(case["ci_lower"], rel=1e-9)
    assert hc.ci_upper == pytest.approx(case["ci_upper"], rel=1e-9)
    # the estimator's own fit does not matter: only the data are used
    other = mm.MetaRandom(np.asarray(case["yi"]), np.asarray(case["vi"])).fit(method="REML")
    assert mm.henmi_copas(other, alpha=1 - case["level"] / 100).ci_upper == pytest.approx(
        hc.ci_upper, rel=1e-12)


def test_published_lee2004():
    # Henmi & Copas (2010), p. 2978: -0.5145 [-0.9994, -0.0295]
    case = REF["cases"][0]
    hc = mm.MetaFixed(np.asarray(case["yi"]), np.asarray(case["vi"])).fit().henmi_copas()
    np.testing.assert_allclose([hc.estimate, hc.ci_lower, hc.ci_upper],
                               [-0.5145, -0.9994, -0.0295], atol=5e-5)
    assert "Henmi-Copas" in str(hc)


def test_requires_intercept_only():
    es = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos",
                        di="cneg")
    res = mm.MetaRandom.from_formula("yi ~ ablat", data=es, vi="vi").fit()
    with pytest.raises(SpecificationError, match="intercept-only"):
        res.henmi_copas()
