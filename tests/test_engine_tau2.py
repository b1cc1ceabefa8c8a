"""The global (RE)ML search of tau^2 (core/tau2.py), shared by the batch kernels and the
single fits, against a dense grid search of the log-likelihood (issue 12 point 6)."""
import os
import warnings

import numpy as np
import pytest

from metamodels.batch import meta_analyze
from metamodels.batch.kernels import _loglik, _pieces, prepare_block
from metamodels.core import tau2 as T
from metamodels.core.scalar import DiagonalTau2


def _simulate(m, k=10, seed=0):
    """k studies per row, standard errors log-uniform over three decades (tiny and large
    sampling variances side by side, where the likelihood is often multimodal), a
    third of the rows homogeneous, 5% of the studies missing."""
    rng = np.random.default_rng(seed)
    se = np.exp(rng.uniform(np.log(1e-3), 0.0, (m, k)))
    tau = rng.choice([0.0, 0.01, 0.05, 0.2, 0.6], m)
    beta = rng.normal(0, 0.1, m)[:, None] + rng.normal(size=(m, k)) * np.sqrt(
        se ** 2 + tau[:, None] ** 2)
    beta[rng.random((m, k)) < 0.05] = np.nan
    return beta, se


def _grid_best(Y, V, reml, U, points=600):
    """Highest log-likelihood over 0 and a dense grid on (0, U] per column: log-spaced
    over 12 decades below U plus an even grid on [0, U]."""
    best = _loglik(Y, V, np.zeros(Y.shape[1]), reml)
    fr = np.concatenate([np.geomspace(1e-12, 1.0, points), np.linspace(0, 1, points)[1:]])
    for f in fr:
        np.maximum(best, _loglik(Y, V, f * U, reml), out=best)
    return best


def _check_rows(beta, se, reml, chunk=100_000, points=600, count_rows=None):
    method = "REML" if reml else "ML"
    out = meta_analyze(beta, se, method, as_frame=False)
    assert out["converged"][out["k"] >= 2].all()
    n_multi = 0
    for i0 in range(0, beta.shape[0], chunk):
        Y, V, _, n = prepare_block(beta[i0:i0 + chunk], se[i0:i0 + chunk])
        ok = n >= 2
        Y, V, n = Y[:, ok], V[:, ok], n[ok]
        t = out["tau2"][i0:i0 + chunk][ok]
        llf = _loglik(Y, V, t, reml)
        from metamodels.batch.kernels import _search_bound
        U = _search_bound(Y, V, n, reml)
        # the bound: the score is negative above U (checked at U and 10 U)
        for f in (1.0, 10.0):
            g = _pieces(Y, V, f * U, reml).g
            assert np.all(g[U > 0] < 0)
        best = _grid_best(Y, V, reml, np.maximum(U, 1e-12), points)
        gap = llf - best
        assert gap.min() >= -1e-9, (gap.min(), np.argmin(gap))
        if count_rows is None or i0 < count_rows:
            n_multi += _count_multimodal(Y, V, reml, U)
    return n_multi


def _count_multimodal(Y, V, reml, U, points=300):
    """Rows whose score changes sign from + to - more than once on a grid (or is <= 0 at
    0 and changes sign later): several local maxima."""
    prev = _pieces(Y, V, np.zeros(Y.shape[1]), reml).g
    maxima = (prev <= 0).astype(int)
    for f in np.geomspace(1e-9, 1.0, points):
        g = _pieces(Y, V, f * U, reml).g
        maxima += (prev > 0) & (g <= 0)
        prev = g
    return int(np.sum(maxima >= 2))


@pytest.mark.parametrize("reml", [True, False])
def test_batch_global_maximum_20000_rows(reml):
    beta, se = _simulate(20_000, seed=1 if reml else 2)
    n_multi = _check_rows(beta, se, reml, points=250)
    assert n_multi >= 50                # the test data do have multimodal likelihoods


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("METAMODELS_SLOW") != "1",
                    reason="a million rows against a dense grid (about a minute per method): "
                           "run with METAMODELS_SLOW=1")
@pytest.mark.parametrize("reml", [True, False])
def test_batch_global_maximum_million_rows(reml):
    """Every one of 10^6 rows (k = 10) reaches the dense grid's best log-likelihood."""
    beta, se = _simulate(1_000_000, seed=3 if reml else 4)
    n_multi = _check_rows(beta, se, reml, points=150, count_rows=100_000)
    assert n_multi >= 250


@pytest.mark.parametrize("reml", [True, False])
def test_single_fits_equal_the_batch_on_multimodal_rows(reml):
    """The single-fit kernel (any p) runs the same search: on multimodal rows it returns
    the batch's estimate; with a moderator it is checked against a dense grid too."""
    beta, se = _simulate(3000, k=6, seed=5)
    Y, V, _, n = prepare_block(beta, se)
    idx = np.flatnonzero(n >= 3)
    U = T.score_upper_bound(np.ones(1), 1.0, np.ones(1), np.ones(1))   # smoke: finite
    assert np.isfinite(U).all()
    rows = idx[:: max(1, idx.size // 120)]
    out = meta_analyze(beta[rows], se[rows], "REML" if reml else "ML")
    rng = np.random.default_rng(6)
    for j, i in enumerate(rows):
        ok = np.isfinite(beta[i])
        y, v = beta[i, ok], se[i, ok] ** 2
        prob = DiagonalTau2(y, v, np.ones((y.size, 1)))
        t, conv, _ = prob.maximize(reml)
        assert conv
        tb = out["tau2"].iloc[j]
        assert prob.loglik(t, reml) >= prob.loglik(tb, reml) - 1e-10
        assert t == pytest.approx(tb, rel=1e-6, abs=1e-12)
        # with a moderator (p = 2): against a dense grid
        if y.size >= 4:
            X = np.column_stack([np.ones(y.size), rng.normal(size=y.size)])
            prob = DiagonalTau2(y, v, X)
            t, conv, _ = prob.maximize(reml)
            U = prob.search_bound(reml)
            grid = np.concatenate([[0.0], np.geomspace(1e-12 * U, U, 400)])
            best = max(prob.loglik(x, reml) for x in grid)
            assert conv and prob.loglik(t, reml) >= best - 1e-9


def test_score_upper_bound_is_valid_for_random_designs():
    """Beyond U the score is negative (module notes of core/tau2.py), for any p."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        k = int(rng.integers(3, 30))
        p = int(rng.integers(1, min(4, k - 1) + 1))
        X = np.column_stack([np.ones(k), rng.normal(size=(k, p - 1))])
        v = np.exp(rng.uniform(-8, 2, k))
        y = X @ rng.normal(size=p) + rng.normal(size=k) * np.sqrt(v + rng.choice([0, 1, 100]))
        prob = DiagonalTau2(y, v, X)
        for reml in (True, False):
            U = prob.search_bound(reml)
            ts = U * np.array([1.0, 1.5, 4.0, 100.0])
            assert np.all(prob.pieces(ts, reml).g < 0)


def test_monotone_pieces_bound_the_score_on_cells():
    """score_bounds and concave_on are valid: on random cells the score lies between the
    bounds and, where concavity is certified, the observed information is positive."""
    beta, se = _simulate(400, k=8, seed=8)
    Y, V, _, n = prepare_block(beta, se)
    Y, V = Y[:, n >= 2], V[:, n >= 2]
    rng = np.random.default_rng(9)
    for reml in (True, False):
        a = np.exp(rng.uniform(-14, 0, Y.shape[1]))
        b = a * np.exp(rng.uniform(0, 3, Y.shape[1]))
        Pa, Pb = _pieces(Y, V, a, reml), _pieces(Y, V, b, reml)
        lo, hi = T.score_bounds(a, b, Pa, Pb)
        conc = T.concave_on(Pa, Pb)
        for f in np.linspace(0, 1, 41):
            t = a + f * (b - a)
            P = _pieces(Y, V, t, reml)
            scale = 1e-9 * (np.abs(P.F) + np.abs(P.G))
            assert np.all(2 * P.g >= lo - scale) and np.all(2 * P.g <= hi + scale)
            assert np.all(P.H[conc] - P.K[conc] > -scale[conc])


def test_rows_with_two_interior_maxima_single_and_batch_agree():
    """Rows whose restricted likelihood has two interior local maxima (the situation of
    issue 12, where the old kernels could stop on the lower one): the batch and the
    single fit (MetaRandom) both return the global one (at least the best of a dense
    grid)."""
    import metamodels as mm
    from metamodels.batch.kernels import _search_bound

    beta, se = _simulate(20_000, seed=1)
    Y, V, _, n = prepare_block(beta, se)
    U = _search_bound(Y, V, n, True)
    out = meta_analyze(beta, se, "REML", as_frame=False)
    found = 0
    frac = np.concatenate([[0.0], np.geomspace(1e-10, 1.0, 200)])
    for i in np.flatnonzero(n >= 3):
        ok = np.isfinite(beta[i])
        y, v = beta[i, ok], se[i, ok] ** 2
        grid = frac * U[i]
        Yg, Vg = y[:, None].repeat(grid.size, 1), v[:, None].repeat(grid.size, 1)
        g = _pieces(Yg, Vg, grid, True).g
        if np.sum((g[1:-1] > 0) & (g[2:] <= 0)) < 2:
            continue
        found += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_single = mm.MetaRandom(y, v).fit(method="REML").tau2
        best = _loglik(Yg, Vg, grid, True).max()
        llf = _loglik(y[:, None], v[:, None], np.array([out["tau2"][i]]), True)[0]
        assert llf >= best - 1e-9
        assert t_single == pytest.approx(out["tau2"][i], rel=1e-6, abs=1e-12)
        if found >= 20:
            break
    assert found >= 5


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_rows_at_the_floating_point_limits_are_given_up_not_subdivided_forever(method):
    """An effect of 1e300 (or +-1e200) with standard errors of 1: the bounds of the score
    are useless there; the search used to double its cells every round (8 M cells, 2.5 GB,
    MemoryError).  Now the row is reported as not converged, in bounded memory, and the
    ordinary row beside it is unaffected."""
    import tracemalloc

    beta = np.array([[1e300, 2.0, 3.0], [1e200, -1e200, 3.0], [0.1, 0.3, 0.2]])
    se = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.1, 0.1, 0.1]])
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = meta_analyze(beta, se, method, as_frame=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6
    assert list(res["converged"]) == [False, False, True]
    ok = meta_analyze(beta[2:], se[2:], method, as_frame=False)
    assert res["tau2"][2] == ok["tau2"][0] and res["beta"][2] == ok["beta"][0]
    assert T.MAX_CELLS >= 1024
