"""PLN, PAS, PFT, AS, IR, IRS, IRFT, the back-transformations, summarize_effect_sizes and
to_long / to_table against metafor 3.8 (``effect_sizes_arcsine.json``, made by
``scripts/effect_sizes_arcsine.R``)."""
import json
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metamodels as mm

REF = json.loads((Path(__file__).parent / "reference" / "effect_sizes_arcsine.json").read_text())
PROP = pd.DataFrame(REF["prop"])
RATE = pd.DataFrame(REF["rate"])
BCG = pd.DataFrame(REF["bcg"])
TAB0 = pd.DataFrame(REF["tab0"])


def _check(es, ref):
    np.testing.assert_allclose(es["yi"], ref["yi"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(es["vi"], ref["vi"], rtol=1e-12)


@pytest.mark.parametrize("measure", ["PR", "PLN", "PLO", "PAS", "PFT"])
def test_proportion_measures(measure):
    _check(mm.effect_size(measure, PROP, xi="xi", ni="ni"), REF["measures"][measure])


@pytest.mark.parametrize("measure", ["IR", "IRS", "IRFT", "IRLN"])
def test_rate_measures(measure):
    _check(mm.effect_size(measure, RATE, xi="xi", ti="ti"), REF["measures"][measure])


def test_arcsine_risk_difference():
    _check(mm.effect_size("AS", BCG, ai="tpos", bi="tneg", ci="cpos", di="cneg"),
           REF["measures"]["AS_bcg"])
    # zero cells: no adjustment (the point of the arcsine difference)
    _check(mm.effect_size("AS", TAB0, ai="ai", n1i="n1i", ci="ci", n2i="n2i"),
           REF["measures"]["AS_zero"])


def test_back_transformations():
    p = REF["pft"]
    grid = np.asarray(p["grid"])
    np.testing.assert_allclose(mm.transf.ipft(grid, 20), p["ipft_n20"], atol=1e-12)
    np.testing.assert_allclose(mm.transf.ipft_hm(p["estimate"], PROP["ni"]), p["ipft_hm"],
                               rtol=1e-10)
    np.testing.assert_allclose(mm.transf.iarcsin(np.arange(0, 1.51, 0.1)), p["iarcsin"],
                               atol=1e-14)
    # round trips
    for n in (5, 40, 1000):
        x = np.arange(0, n + 1)
        y = mm.effect_size("PFT", xi=x, ni=np.full(x.size, n))["yi"]
        np.testing.assert_allclose(mm.transf.ipft(y, n), x / n, atol=1e-10)
    np.testing.assert_allclose(mm.transf.iirft(np.asarray(p["ftgrid"]), 50), p["iirft_t50"],
                               atol=1e-12)
    np.testing.assert_allclose(mm.transf.irft(np.asarray(p["rates"]), 50), p["irft_t50"],
                               rtol=1e-12)
    t = 37.0
    x = np.arange(0, 50)
    y = mm.effect_size("IRFT", xi=x, ti=np.full(x.size, t))["yi"]
    np.testing.assert_allclose(mm.transf.iirft(y, t), x / t, atol=1e-12)
    np.testing.assert_allclose(mm.transf.irft(x / t, t), y, rtol=1e-12)
    np.testing.assert_allclose(mm.transf.ilogit(np.log(0.25 / 0.75)), 0.25)
    np.testing.assert_allclose(mm.transf.ztor(np.arctanh(0.3)), 0.3)


def test_pooled_freeman_tukey_estimate_back_transformed():
    es = mm.effect_size("PFT", PROP, xi="xi", ni="ni")
    res = mm.MetaRandom.from_formula("yi ~ 1", data=es, vi="vi").fit()
    est = float(res.params.iloc[0])
    assert est == pytest.approx(REF["pft"]["estimate"], rel=1e-8)
    back = partial(mm.transf.ipft_hm, ni=PROP["ni"])
    assert back(est) == pytest.approx(REF["pft"]["ipft_hm"], rel=1e-7)


def test_summarize_effect_sizes():
    s = REF["summary"]
    es = mm.effect_size("RR", BCG, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    out = mm.summarize_effect_sizes(es, alpha=0.10)
    np.testing.assert_allclose(out["sei"], s["sei"], rtol=1e-12)
    np.testing.assert_allclose(out["zi"], s["zi"], rtol=1e-12)
    np.testing.assert_allclose(out["pvalue"], s["pval"], rtol=1e-10)
    np.testing.assert_allclose(out["ci_lower"], s["ci_lower_90"], rtol=1e-12)
    np.testing.assert_allclose(out["ci_upper"], s["ci_upper_90"], rtol=1e-12)
    t = mm.summarize_effect_sizes(es, transf=np.exp)
    np.testing.assert_allclose(t["yi"], s["exp_yi"], rtol=1e-12)
    np.testing.assert_allclose(t["ci_lower"], s["exp_ci_lower"], rtol=1e-12)
    np.testing.assert_allclose(t["ci_upper"], s["exp_ci_upper"], rtol=1e-12)
    assert "vi" not in t and "sei" not in t
    with pytest.raises(ValueError, match="not in data"):
        mm.summarize_effect_sizes(es.drop(columns="vi"))


def test_to_long_and_to_table():
    L = REF["long"]
    long = mm.to_long("RR", BCG.iloc[:3], ai="tpos", bi="tneg", ci="cpos", di="cneg")
    np.testing.assert_array_equal(long["group"], L["table"]["group"])
    np.testing.assert_array_equal(long["out1"], L["table"]["out1"])
    np.testing.assert_array_equal(long["out2"], L["table"]["out2"])
    np.testing.assert_array_equal(long["tpos"], np.repeat(BCG["tpos"].iloc[:3], 2))
    ir = mm.to_long("IRR", x1i=[3, 4], t1i=[10, 20], x2i=[1, 5], t2i=[12, 22])
    np.testing.assert_array_equal(ir["events"], L["rates"]["events"])
    np.testing.assert_array_equal(ir["ptime"], L["rates"]["ptime"])
    md = mm.to_long("MD", m1i=[3, 4], sd1i=[1, 2], n1i=[10, 20], m2i=[1, 5], sd2i=[1, 1],
                    n2i=[12, 22])
    for col in ("mean", "sd", "n"):
        np.testing.assert_array_equal(md[col], L["means"][col])
    pr = mm.to_long("PLO", xi=[3, 4], ni=[10, 20])
    np.testing.assert_array_equal(pr["out2"], L["prop"]["out2"])
    tab = mm.to_table("RR", BCG.iloc[:2], ai="tpos", bi="tneg", ci="cpos", di="cneg")
    np.testing.assert_array_equal(tab[1], [[6, 300], [29, 274]])
    with pytest.raises(ValueError, match="do not apply"):
        mm.to_long("ZCOR", ri=[0.1], ni=[20])
