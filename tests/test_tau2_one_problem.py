"""The one-problem path of the global tau^2 search (core/tau2.py ``_one_problem``) returns
exactly what the general rounds return for the same problem."""
import numpy as np
import pytest

import metamodels.core.tau2 as T
from metamodels.core.scalar import SINGLE_GRID, SINGLE_RATIO, DiagonalTau2


def _search(prob, reml, monkeypatch=None):
    U = (prob.search_bound(reml),)
    q, trp, _, _ = prob.moments(0.0)
    centre = (float(T.dl(q, prob.k - prob.p, trp)),)

    def pieces(rows, t):
        return prob.pieces(t, reml)

    def loglik(rows, t):
        return np.array([prob.loglik(x, reml) for x in t.tolist()])

    def point(t):
        g, info, obs, F, G = prob._score_terms(t, reml)
        return g, F, G, obs + info, info

    return T.global_maximum(pieces, loglik, U, grid=SINGLE_GRID, ratio=SINGLE_RATIO,
                            centre=centre, point=point)


@pytest.mark.parametrize("reml", [True, False])
def test_one_problem_path_equals_the_general_rounds(reml, monkeypatch):
    rng = np.random.default_rng(21)
    problems = []
    for it in range(120):
        k = int(rng.integers(3, 40))
        p = int(rng.integers(1, 3))
        X = np.column_stack([np.ones(k)] + [rng.normal(size=k) for _ in range(p - 1)])
        v = rng.uniform(0.001, 1.0, k) ** rng.uniform(1.0, 3.0)
        y = X @ rng.normal(size=p) + rng.normal(size=k) * rng.uniform(0.05, 2.0)
        problems.append(DiagonalTau2(y, v, X))
    fast = [_search(prob, reml) for prob in problems]
    monkeypatch.setattr(T, "_one_problem", lambda *a: (None, None, None))
    general = [_search(prob, reml) for prob in problems]
    for (t1, _, ok1), (t2, _, ok2) in zip(fast, general):
        assert bool(ok1[0]) == bool(ok2[0])
        assert t1[0] == t2[0]
