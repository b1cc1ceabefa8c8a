"""The blocked fixed-effect path of the batch engine (issue 19, point 3): the study sums
block by block, the per-row columns per task, shared output allocations -- the same bits
as a plain row-by-row computation with the studies summed in order, whatever the blocks,
tasks and threads."""
import numpy as np
import pytest
from scipy import special

from metamodels.batch import meta_analyze
from metamodels.batch import numpy_engine
from metamodels.batch.kernels import chi2_sf


def _awkward_inputs(seed, m=3000, k=6):
    """Complete rows, missing studies, k = 1 and all-missing rows, and every kind of
    unusable or extreme standard error, scattered over the blocks."""
    rng = np.random.default_rng(seed)
    beta = rng.normal(0.0, 0.1, (m, k))
    se = rng.uniform(0.01, 0.2, (m, k))
    miss = rng.random((m, k)) < 0.05
    beta[miss] = np.nan
    se[miss] = np.nan
    beta[100:110, 1:] = np.nan                  # k = 1
    se[100:110, 1:] = np.nan
    beta[200:205] = np.nan                      # k = 0
    se[200:205] = np.nan
    rows = rng.choice(np.arange(300, m), 60, replace=False)
    cols = rng.integers(0, k, 60)
    se[rows[:8], cols[:8]] = np.inf
    se[rows[8:16], cols[8:16]] = 0.0
    se[rows[16:24], cols[16:24]] = -0.05
    se[rows[24:32], cols[24:32]] = 1e200        # se^2 overflows: weight 0, still counted
    se[rows[32:40], cols[32:40]] = 1e-3 * rng.uniform(1, 2, 8)
    beta[rows[40:48], cols[40:48]] = np.inf
    beta[rows[48:56], cols[48:56]] = np.nan     # beta missing, se present
    se[rows[56:], cols[56:]] = 1e-60            # large but finite weights
    se[2000:2400] = rng.uniform(0.01, 0.2, (400, k))   # complete blocks among them
    beta[2000:2400] = rng.normal(0.0, 0.1, (400, k))
    return beta, se


def _reference(beta, se):
    """Row by row with the studies summed in order (the engine's order):
    ``w = 1/se^2`` (0 for a missing study), ``b = sum w y / sum w``,
    ``se = 1/sqrt(sum w)``, ``Q = sum (y - b)^2 w``."""
    m, k = beta.shape
    with np.errstate(all="ignore"):
        miss = ~np.isfinite(beta) | ~(se > 0) | (se == np.inf)
        y = np.where(miss, 0.0, beta)
        w = np.where(miss, 0.0, 1.0 / (se * se))
        sw, swy = np.zeros(m), np.zeros(m)
        for j in range(k):
            sw = sw + w[:, j]
            swy = swy + w[:, j] * y[:, j]
        b = swy / sw
        q = np.zeros(m)
        for j in range(k):
            d = y[:, j] - b
            q = q + (d * d) * w[:, j]
        n = k - miss.sum(axis=1)
        q[n == 1] = 0.0
        q[n == 0] = np.nan
        s = 1.0 / np.sqrt(sw)
        s[n == 0] = np.nan
    return {"k": n, "beta": b, "se": s, "q": q}


@pytest.mark.parametrize("seed", [1, 2])
def test_fixed_effect_equals_plain_rowwise_sums_bitwise(seed):
    beta, se = _awkward_inputs(seed)
    got = meta_analyze(beta, se, "FE", as_frame=False, block_rows=256)
    ref = _reference(beta, se)
    for name, col in ref.items():
        assert got[name].tobytes() == col.tobytes(), name
    # the per-row columns follow from those by their formulas
    with np.errstate(all="ignore"):
        z = ref["beta"] / ref["se"]
    assert got["z"].tobytes() == z.tobytes()
    lp = (np.log(2.0) + special.log_ndtr(-np.abs(z))) / np.log(10.0)
    assert got["log10p"].tobytes() == lp.tobytes()
    assert got["pvalue"].tobytes() == (10.0 ** lp).tobytes()
    n = ref["k"]
    assert np.array_equal(got["q_df"], np.maximum(n - 1, 0))
    ok = n >= 2
    assert np.all(np.isnan(got["q_pvalue"][~ok])) and np.all(np.isnan(got["i2"][~ok]))
    np.testing.assert_allclose(got["q_pvalue"][ok], special.chdtrc(n[ok] - 1.0, ref["q"][ok]),
                               rtol=1e-12, atol=1e-300)
    i2 = np.maximum(0.0, (ref["q"][ok] - (n[ok] - 1.0)) / ref["q"][ok])
    assert got["i2"][ok].tobytes() == i2.tobytes()


@pytest.mark.parametrize("method", ["FE", "DL", "FE,DL,HE"])
def test_blocks_tasks_and_threads_give_identical_bits(method, monkeypatch):
    """Block size, blocks per task (complete and incomplete blocks mixed in one task)
    and the number of threads change the speed only."""
    beta, se = _awkward_inputs(3, m=2500, k=5)
    ref = meta_analyze(beta, se, method, as_frame=False, n_threads=1, block_rows=1)
    for block_rows in (7, 64, 1000, 8192):
        for tasks in (1, 3):
            monkeypatch.setattr(numpy_engine, "TASK_BLOCKS", tasks)
            for threads in (1, 2, 3):
                got = meta_analyze(beta, se, method, as_frame=False, n_threads=threads,
                                   block_rows=block_rows)
                assert list(got) == list(ref)
                for name, col in ref.items():
                    assert got[name].tobytes() == col.tobytes(), (name, block_rows, tasks,
                                                                  threads)


def test_output_columns_share_one_allocation_per_dtype():
    cols = [("a", np.float64), ("n", np.int64), ("b", np.float64), ("ok", np.bool_)]
    out = numpy_engine.allocate_columns(cols, 5)
    assert list(out) == ["a", "n", "b", "ok"]
    assert all(out[c].shape == (5,) and out[c].flags.c_contiguous for c in out)
    assert out["a"].base is out["b"].base
    assert out["n"].dtype == np.int64 and not out["n"].any()
    assert out["ok"].dtype == np.bool_ and out["ok"].all()
    out["a"][:] = 1.0
    out["b"][:] = 2.0                           # distinct rows of the shared array
    assert np.all(out["a"] == 1.0) and np.all(out["b"] == 2.0)
    # a frame built from them keeps the values, and an all-FE result has 10 columns
    res = meta_analyze(np.ones((4, 3)), np.ones((4, 3)), "FE")
    assert res.shape == (4, 10) and np.all(res["beta"] == 1.0) and np.all(res["k"] == 3)


def test_chi2_one_df_is_erfc_and_odd_series_matches_general_path():
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.chisquare(2, 2000) * rng.uniform(0, 30, 2000),
                        [0.0, 1e-300, 999.0]])
    assert chi2_sf(x, 1.0).tobytes() == np.minimum(special.erfc(np.sqrt(0.5 * x)),
                                                   1.0).tobytes()
    for df in (1, 3, 9, 63):
        mixed = np.full(x.size, float(df))
        mixed[0] = 2.0                          # forces the masked mixed-df series
        assert chi2_sf(x, float(df))[1:].tobytes() == chi2_sf(x, mixed)[1:].tobytes()
        np.testing.assert_allclose(chi2_sf(x, float(df)), special.chdtrc(df, x),
                                   rtol=1e-11, atol=1e-300)


def test_chi2_rows_sorted_by_df_equal_the_mixed_series():
    """Long vectors with several df take one series per df (rows sorted by df); short
    ones the masked mixed-df series: the same bits, any df from 1 to 64 (and NaN
    outside)."""
    rng = np.random.default_rng(8)
    m = 5000
    x = rng.chisquare(3, m) * rng.uniform(0, 40, m)
    x[:4] = [0.0, 1e-300, 999.0, np.nan]
    for top in (3, 11, 65):
        df = rng.integers(0, top, m).astype(float)
        df[10:20] = 2.5                                   # not an integer: chdtrc
        x[20:25] = 2000.0                                 # beyond the series: chdtrc
        long = chi2_sf(x, df)
        short = np.concatenate([chi2_sf(x[i:i + 500], df[i:i + 500])
                                for i in range(0, m, 500)])
        assert long.tobytes() == short.tobytes()
        ok = df >= 1
        np.testing.assert_allclose(long[ok], special.chdtrc(df[ok], x[ok]), rtol=1e-10,
                                   atol=1e-300)
        assert np.all(np.isnan(long[~ok]))


def test_spans_cover_the_rows_without_one_row_pieces():
    for n in (0, 1, 2, 5, 8, 9, 16, 17, 100):
        for step in (2, 4, 8):
            pieces = numpy_engine.spans(n, step)
            assert [i for a, b in pieces for i in range(a, b)] == list(range(n))
            assert all(b - a >= 2 for a, b in pieces) or n == 1
            assert all(b - a <= step + 1 for a, b in pieces)


def test_default_threads_follow_the_usable_cpus(monkeypatch):
    import os
    if hasattr(os, "sched_getaffinity"):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
        assert numpy_engine.usable_cpus() == 1
        assert numpy_engine._n_threads(None, 100) == 1
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
        assert numpy_engine._n_threads(None, 100) == 8
        assert numpy_engine._n_threads(None, 3) == 3
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert numpy_engine.usable_cpus() == (os.cpu_count() or 1)
    assert numpy_engine._n_threads(2, 100) == 2
