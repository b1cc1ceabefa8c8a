"""correlation_covariance (rcalc) and regression_from_matrix (matreg) against metafor 3.8
(``masem.json``, made by ``scripts/masem.R`` on dat.craft2003)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metamodels as mm

REF = json.loads((Path(__file__).parent / "reference" / "masem.json").read_text())
DATA = pd.DataFrame(REF["data"])
R = np.asarray(REF["R"])
VB = np.asarray(REF["rma_mv"]["vcov"])


def test_rcalc():
    frame, V = mm.correlation_covariance(DATA)
    ref = REF["rcalc"]
    # metafor reorders rows within studies; match by (study, pair)
    key = list(zip(frame["study"].astype(str), frame["pair"]))
    order = [key.index(k) for k in zip(ref["study"], ref["labels"])]
    nan = lambda m: np.array([[np.nan if v is None else v for v in row] for row in m], float)  # noqa: E731
    np.testing.assert_allclose(frame["yi"].to_numpy()[order], np.asarray(ref["yi"], float),
                               rtol=1e-14)
    np.testing.assert_allclose(V[np.ix_(order, order)], nan(ref["V"]), rtol=1e-12, atol=1e-16)
    fz, Vz = mm.correlation_covariance(DATA, rtoz=True)
    np.testing.assert_allclose(fz["yi"].to_numpy()[order], np.asarray(ref["yi_z"], float),
                               rtol=1e-13)
    np.testing.assert_allclose(Vz[np.ix_(order, order)], nan(ref["V_z"]), rtol=1e-12,
                               atol=1e-16)


def test_rcalc_variance_is_olkin_finn_and_psd():
    frame, V = mm.correlation_covariance(DATA)
    keep = frame["yi"].notna().to_numpy()
    V = V[np.ix_(keep, keep)]
    n = frame["ni"].to_numpy()[keep]
    r = frame["yi"].to_numpy()[keep]
    np.testing.assert_allclose(np.diag(V), (1 - r ** 2) ** 2 / (n - 1), rtol=1e-14)
    # complete studies: a proper covariance matrix; study 17 reports only the correlations
    # with perf, so their covariances (needing the others) are NaN, as in metafor
    complete = ~frame["study"].isin([6, 17]).to_numpy()[keep]
    block = V[np.ix_(complete, complete)]
    assert np.all(np.isfinite(block)) and np.linalg.eigvalsh(block).min() > 0
    s17 = (frame["study"] == 17).to_numpy()[keep]
    assert np.isnan(V[np.ix_(s17, s17)][0, 1])


def _check(res, ref, rtol=1e-10):
    b = np.asarray([np.nan if v is None else v for v in ref["beta"]])
    keep = np.isfinite(b)
    np.testing.assert_allclose(res.params, b[keep], rtol=rtol)
    for mine, theirs in ((res.bse, "se"), (res.tvalues, "stat"), (res.pvalues, "pval"),
                         (res.conf_int["lower"], "ci_lower"), (res.conf_int["upper"], "ci_upper")):
        np.testing.assert_allclose(mine, np.asarray(ref[theirs], dtype=float)[keep], rtol=rtol)
    assert res.rsquared == pytest.approx(ref["R2"], rel=1e-12)
    if isinstance(ref["QM"], float):
        assert res.qm == pytest.approx(ref["QM"], rel=1e-10)
        assert res.qm_pvalue == pytest.approx(ref["QMp"], rel=1e-8)


def test_matreg_with_V():
    res = mm.regression_from_matrix(R, 0, [1, 2, 3], V=VB)
    _check(res, REF["matreg_V"])
    np.testing.assert_allclose(res.cov_params, REF["matreg_V"]["vb"], rtol=1e-10)
    _check(mm.regression_from_matrix(R, 3, [0, 2], V=VB), REF["matreg_2"])


def test_matreg_with_n_and_covariance():
    # metafor 3.8 uses n - p residual df for a correlation matrix (n - p - 1 by default here)
    _check(mm.regression_from_matrix(R, 0, [1, 2, 3], n=300, df_resid=297), REF["matreg_n"])
    default = mm.regression_from_matrix(R, 0, [1, 2, 3], n=300)
    assert default.df == 296
    np.testing.assert_allclose(default.bse, np.asarray(REF["matreg_n"]["se"]) * np.sqrt(297 / 296),
                               rtol=1e-12)
    S = np.asarray(REF["S"])
    _check(mm.regression_from_matrix(S, 0, [1, 2, 3], n=300, cov=True), REF["matreg_cov"])
    _check(mm.regression_from_matrix(S, 0, [1, 2, 3], n=300, cov=True, means=[10, 1, 2, 3]),
           REF["matreg_cov_means"])


def test_matreg_delta_method_against_finite_differences():
    # J = db/dr by central differences of b(R) at the below-diagonal elements
    pairs = [(i, j) for j in range(4) for i in range(j + 1, 4)]

    def b_of(r):
        M = np.eye(4)
        for v, (i, j) in zip(r, pairs):
            M[i, j] = M[j, i] = v
        return np.linalg.solve(M[1:, 1:], M[1:, 0])

    r0 = np.array([R[i, j] for i, j in pairs])
    J = np.column_stack([(b_of(r0 + h) - b_of(r0 - h)) / 2e-6
                         for h in np.eye(len(r0)) * 1e-6])
    res = mm.regression_from_matrix(R, 0, [1, 2, 3], V=VB)
    np.testing.assert_allclose(res.cov_params, J @ VB @ J.T, rtol=1e-7)


def test_names_and_errors():
    df = pd.DataFrame(R, columns=list("abcd"), index=list("abcd"))
    res = mm.regression_from_matrix(df, "a", ["b", "c", "d"], V=VB)
    assert list(res.params.index) == ["b", "c", "d"]
    assert "R^2" in str(res)
    with pytest.raises(ValueError, match="exactly one"):
        mm.regression_from_matrix(R, 0, [1, 2], V=VB, n=100)
    with pytest.raises(ValueError, match="distinct"):
        mm.regression_from_matrix(R, 0, [0, 2], n=100)
    with pytest.raises(ValueError, match="must be 6 x 6"):
        mm.regression_from_matrix(R, 0, [1, 2], V=np.eye(3))
    bad = DATA.copy()
    bad.loc[0, "ri"] = 1.2
    with pytest.raises(ValueError, match="strictly between -1 and 1"):
        mm.correlation_covariance(bad)
