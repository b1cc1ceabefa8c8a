"""Mantel-Haenszel and Peto fixed-effects meta-analysis against metafor's rma.mh/rma.peto.

References: tests/reference/scripts/mh_peto.R -> tests/reference/mh_peto.json (bcg,
nielweise2007, yusuf1985 table 6 with a missing table and double-zero tables, a toy set
with zero cells, hart1999 and a toy incidence-rate set; zero-cell rules varied).
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metamodels as mm
from metamodels.exceptions import DegenerateFitWarning, MissingDataWarning

REF = json.loads((Path(__file__).parent / "reference" / "mh_peto.json").read_text())
TOL = dict(rtol=1e-8, atol=1e-12)


def _id(case):
    return f"{case['fun']}-{case['dataset']}-{case['args'] or {}}"


def _fit(case):
    data = pd.DataFrame(REF["datasets"][case["dataset"]])
    cols = ["x1i", "t1i", "x2i", "t2i"] if "x1i" in data else ["ai", "bi", "ci", "di"]
    fun = mm.mantel_haenszel if case["fun"] == "mh" else mm.peto
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingDataWarning)
        return fun(data, **{c: c for c in cols}, **(case["args"] or {}))


def _close(got, want):
    if want is None:
        assert got is None or np.isnan(got)
    else:
        np.testing.assert_allclose(got, want, **TOL)


@pytest.mark.parametrize("case", REF["cases"], ids=_id)
def test_matches_metafor(case):
    r = _fit(case)
    ci = r.conf_int()
    for got, key in [(r.params.iloc[0], "beta"), (r.bse.iloc[0], "se"),
                     (r.tvalues.iloc[0], "zval"), (r.pvalues.iloc[0], "pval"),
                     (ci["lower"].iloc[0], "ci_lb"), (ci["upper"].iloc[0], "ci_ub"),
                     (r.q, "QE"), (r.q_pvalue, "QEp"), (100 * r.i2, "I2"), (r.h2, "H2")]:
        _close(got, case[key])
    assert r.k == case["k"] and r.k_yi == case["k_yi"]
    complete = pd.DataFrame(REF["datasets"][case["dataset"]]).notna().all(axis=1).to_numpy()
    np.testing.assert_allclose(r.yi, np.array(case["yi"], dtype=float)[complete], **TOL)
    np.testing.assert_allclose(r.vi, np.array(case["vi"], dtype=float)[complete], **TOL)
    # weights in percent (metafor's weights(); it omits the tables drop00 removed from
    # the pooled computation, which get weight 0 here)
    w, keep = r.weights.to_numpy(), r._tables.pooled_cells()[1]
    assert w.size == complete.sum() and np.all(w[~keep] == 0)
    np.testing.assert_allclose(w if len(case["weights"]) == w.size else w[keep],
                               case["weights"], **TOL)
    if case["fun"] == "mh":
        cmh, ta = r.cmh_test, r.tarone_test
        if case["MH"] is None:
            assert cmh is None
        else:
            _close(cmh.statistic, case["MH"])
            _close(cmh.pvalue, case["MHp"])
            assert cmh.df == 1
        if case["TA"] is None:
            assert ta is None
        else:
            _close(ta.statistic, case["TA"])
            _close(ta.pvalue, case["TAp"])


def test_summary_and_exp_scale():
    bcg = mm.datasets.load("bcg")
    m = mm.mantel_haenszel(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    text = str(m.summary())
    assert "Cochran-Mantel-Haenszel" in text and "Tarone" in text
    frame = m.summary_frame()
    assert frame.loc["log(OR)", "exp_estimate"] == pytest.approx(np.exp(m.params.iloc[0]))
    np.testing.assert_allclose(m.conf_int(exp=True).to_numpy(), np.exp(m.conf_int().to_numpy()))
    assert m.cov_params().iloc[0, 0] == pytest.approx(m.bse.iloc[0] ** 2)
    p = mm.peto(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    assert "Peto" in str(p.summary())
    rd = mm.mantel_haenszel(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg", measure="RD")
    assert "exp_estimate" not in rd.summary_frame()


def test_group_sizes_and_arrays_equivalent():
    bcg = mm.datasets.load("bcg")
    a = mm.mantel_haenszel(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg", measure="RR")
    b = mm.mantel_haenszel(ai=bcg.tpos, n1i=bcg.tpos + bcg.tneg, ci=bcg.cpos.to_numpy(),
                           n2i=(bcg.cpos + bcg.cneg).tolist(), measure="rr")
    pd.testing.assert_series_equal(a.params, b.params)
    assert a.q == pytest.approx(b.q, rel=1e-12)


def test_missing_tables_warn_and_are_dropped():
    data = pd.DataFrame(REF["datasets"]["yusuf1985_6"])
    with pytest.warns(MissingDataWarning, match="missing counts"):
        r = mm.peto(data, ai="ai", bi="bi", ci="ci", di="di")
    assert r.k == len(data) - 1


def test_degenerate_and_bad_input():
    with pytest.warns(DegenerateFitWarning, match="undefined"):
        r = mm.mantel_haenszel(ai=[0, 0], bi=[10, 12], ci=[0, 0], di=[9, 11])
    assert np.isnan(r.params.iloc[0])
    with pytest.raises(ValueError, match="no table left"):
        mm.mantel_haenszel(ai=[0, 0], bi=[10, 12], ci=[0, 0], di=[9, 11], drop00=True)
    with pytest.raises(ValueError, match="measure must be one of"):
        mm.mantel_haenszel(ai=[1], bi=[2], ci=[3], di=[4], measure="SMD")
    with pytest.raises(ValueError, match="x1i"):
        mm.mantel_haenszel(ai=[1], bi=[2], ci=[3], di=[4], x1i=[3])
    with pytest.raises(ValueError, match="one value or two"):
        mm.peto(ai=[1], bi=[2], ci=[3], di=[4], add=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="negative counts"):
        mm.peto(ai=[-1, 2], bi=[2, 3], ci=[3, 4], di=[4, 5])
    with pytest.raises(ValueError, match="to="):
        mm.mantel_haenszel(ai=[1], bi=[2], ci=[3], di=[4], to="sometimes")
    with pytest.raises(ValueError, match="no complete table"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingDataWarning)
            mm.peto(ai=[np.nan], bi=[2], ci=[3], di=[4])
