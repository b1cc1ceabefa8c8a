"""The maximiser's face search: an interior local maximum beside a higher boundary one."""
import warnings

import numpy as np
import pandas as pd
import pytest

import metamodels as mm
from metamodels.core import optimize


@pytest.fixture
def bimodal():
    # ML likelihood in (district, school) variances: a local maximum at about
    # (0.499, 0.936), llf -8.02323, and the global one on the face district = 0 at
    # (0, 1.34), llf -8.00630 (dense grid and Nelder-Mead agree).
    d = pd.DataFrame({"y": [-1, 2, -1, -1, 0.5], "vi": [0.1] * 5,
                      "district": [0, 1, 2, 2, 2],
                      "school": ["0.0", "1.0", "2.0", "2.1", "2.2"]})
    return mm.MetaMixed.from_formula("y ~ 1 + (1 | district/school)", data=d, vi="vi")


def _dense_ml(model, s):
    y, X = model.endog, model.exog
    Z1 = np.eye(3)[[0, 1, 2, 2, 2]]
    V = np.diag(np.full(5, 0.1)) + s[0] * Z1 @ Z1.T + s[1] * np.eye(5)
    Vi = np.linalg.inv(V)
    b = np.linalg.solve(X.T @ Vi @ X, X.T @ Vi @ y)
    r = y - X @ b
    return -0.5 * (5 * np.log(2 * np.pi) + np.linalg.slogdet(V)[1] + r @ Vi @ r)


def test_face_search_finds_the_boundary_maximum(bimodal):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bimodal.fit(method="ML")
    grid = max(_dense_ml(bimodal, (a, b)) for a in np.linspace(0, 2, 201)
               for b in np.linspace(0, 3, 301))
    assert res.llf >= grid - 1e-9
    np.testing.assert_allclose(np.asarray(res.theta), [0.0, 1.34], atol=1e-6)
    assert res.llf == pytest.approx(_dense_ml(bimodal, (0.0, 1.34)), abs=1e-10)


def test_without_face_search_the_interior_local_maximum_is_kept(bimodal, monkeypatch):
    monkeypatch.setattr(optimize, "FACE_SEARCH_MAX_NOBS", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bimodal.fit(method="ML")
    assert res.llf == pytest.approx(-8.023234, abs=1e-5)    # the lower, interior one
    assert np.all(np.asarray(res.theta) > 0.4)
