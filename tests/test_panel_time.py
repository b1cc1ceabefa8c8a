"""Time-only panel effects: within (effects="time"), random time effects
(effects="random-time", Swamy-Arora and REML) and their Hausman test.

References: tests/reference/scripts/panel_time.R -> panel_time.json (plm
``plm(model="within"/"random", effect="time")``, ``fixef(effect="time")``, ``ercomp``,
``phtest``, ``vcovHC(arellano)``; lme4 ``lmer(inv ~ value + capital + (1 | year))``) on the
balanced and unbalanced Grunfeld panels and a simulated unbalanced panel with sizeable
period effects.
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metamodels.exceptions import BoundaryWarning, SpecificationError
from metamodels.panel import PanelModel, hausman

REF = json.loads((Path(__file__).parent / "reference" / "panel_time.json").read_text())
CASES = ["balanced", "unbalanced", "simulated"]


def _model(key):
    c = REF[key]
    df = pd.DataFrame({k: c[k] for k in ("firm", "year", "inv", "value", "capital")})
    return PanelModel.from_formula("inv ~ value + capital", df, entity="firm", time="year")


def _fit(m, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryWarning)   # Grunfeld: sigma2_time = 0
        return m.fit(**kw)


@pytest.mark.parametrize("key", CASES)
def test_time_within_matches_plm(key):
    ref = REF[key]["within"]
    m = _model(key)
    w = m.fit(effects="time")
    assert w.effects == "time" and list(w.params.index) == ["value", "capital"]
    np.testing.assert_allclose(w.params, ref["coef"], rtol=1e-10)
    np.testing.assert_allclose(w.bse, ref["se"], rtol=1e-10)
    assert w.df_resid == ref["df_resid"] == len(REF[key]["inv"]) - m.n_periods - 2
    np.testing.assert_allclose(w.rsquared, ref["rsquared"], rtol=1e-10)
    np.testing.assert_allclose(w.fixed_effects(), ref["fixef"], rtol=1e-10)
    assert w.fixed_effects().index.name == "year"
    c = m.fit(effects="time", cov_type="cluster")
    np.testing.assert_allclose(c.bse, ref["se_cluster_HC1"], rtol=1e-10)
    assert m.fit(effects="period").effects == "time"


@pytest.mark.parametrize("key", CASES)
def test_random_time_effects_match_plm_and_hausman(key):
    ref = REF[key]
    m = _model(key)
    r = _fit(m, effects="random-time")
    assert r.effects == "random-time" and r.re_method == "swar"
    np.testing.assert_allclose(r.params, ref["random"]["coef"], rtol=1e-10)
    np.testing.assert_allclose(r.bse, ref["random"]["se"], rtol=1e-10)
    np.testing.assert_allclose(r.sigma2_idiosyncratic, ref["random"]["sigma2_idios"],
                               rtol=1e-10)
    np.testing.assert_allclose(r.sigma2_time, ref["random"]["sigma2_time"], rtol=1e-10,
                               atol=1e-12)
    assert np.isnan(r.sigma2_entity)
    np.testing.assert_allclose(np.atleast_1d(r.theta), ref["random"]["theta"], atol=1e-10)
    np.testing.assert_allclose(r.rsquared, ref["random"]["rsquared"], rtol=1e-10)
    h = hausman(r, m.fit(effects="time"))          # either order
    np.testing.assert_allclose(h.statistic, ref["hausman"]["statistic"], rtol=1e-9)
    np.testing.assert_allclose(h.pvalue, ref["hausman"]["pvalue"], rtol=1e-9)
    assert h.df == ref["hausman"]["df"] and h.effect == "time"
    assert "time effects" in str(h)


@pytest.mark.parametrize("key", CASES)
def test_random_time_effects_by_reml_match_lme4(key):
    ref = REF[key]["reml"]
    r = _fit(_model(key), effects="random-time", method="REML")
    np.testing.assert_allclose(r.params, ref["coef"], rtol=1e-6)
    np.testing.assert_allclose(r.bse, ref["se"], rtol=1e-6)
    np.testing.assert_allclose(r.sigma2_time, ref["sigma2_time"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(r.llf, ref["logLik"], rtol=1e-9)


def test_time_effects_summary_theta_and_errors():
    m = _model("simulated")
    r = m.fit(effects="random-time")
    assert r.sigma2_time > 0.1
    assert list(r.theta.index) == sorted(set(REF["simulated"]["year"]))
    assert r.theta.index.name == "year"
    text = str(r.summary())
    assert "Random time effects" in text and "sigma2 time" in text
    # a new observation's prediction interval adds the period variance
    sf = r.get_prediction().summary_frame()
    np.testing.assert_allclose((sf["obs_ci_upper"] - sf["mean"]) ** 2 / 1.959963984540054 ** 2
                               - sf["mean_se"] ** 2,
                               r.sigma2_idiosyncratic + r.sigma2_time, rtol=1e-8)
    with pytest.raises(ValueError, match="'fixed' with 'random'"):
        hausman(m.fit(effects="time"), m.fit(effects="random"))
    with pytest.raises(ValueError, match="random-time"):
        m.fit(effects="time", method="REML")
    df = pd.DataFrame({k: REF["simulated"][k] for k in ("firm", "year", "inv", "value")})
    df["trend"] = df["year"] * 0.5                        # same for every entity at a time
    bad = PanelModel.from_formula("inv ~ value + trend", df, entity="firm", time="year")
    with pytest.raises(SpecificationError, match="do not vary within periods"):
        bad.fit(effects="time")
    with pytest.raises(ValueError, match="fixed_effects"):
        r.fixed_effects()
