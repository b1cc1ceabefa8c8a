"""Meta-analytic structural equation modelling helpers: the sampling covariance of
correlation coefficients within studies (metafor's ``rcalc``) and regression from a pooled
correlation or covariance matrix (metafor's ``matreg``).

Two-stage MASEM (Becker 1992; Cheung 2015): stage 1 pools the correlation matrices of the
studies with a multivariate meta-analysis (:class:`~metamodels.MetaMixed` with the
``V`` from :func:`correlation_covariance`); stage 2 fits a regression among the variables
from the pooled matrix with :func:`regression_from_matrix`, whose standard errors
propagate the stage-1 uncertainty by the delta method.

Sampling covariance of two correlations ``r_st`` and ``r_uv`` of one sample of size ``n``
(Olkin and Finn 1990; Steiger 1980):

.. math::

    (n-1)\\,\\mathrm{Cov}(r_{st}, r_{uv}) = \\tfrac12 \\rho_{st}\\rho_{uv}
    (\\rho_{su}^2 + \\rho_{sv}^2 + \\rho_{tu}^2 + \\rho_{tv}^2)
    + \\rho_{su}\\rho_{tv} + \\rho_{sv}\\rho_{tu}
    - (\\rho_{st}\\rho_{su}\\rho_{sv} + \\rho_{ts}\\rho_{tu}\\rho_{tv}
       + \\rho_{us}\\rho_{ut}\\rho_{uv} + \\rho_{vs}\\rho_{vt}\\rho_{vu}),

with the sample correlations in place of the ``rho`` (so ``Var(r) = (1 - r^2)^2/(n - 1)``);
for Fisher's ``z`` the covariance is divided by ``(1 - r_st^2)(1 - r_uv^2)`` and uses
``n - 3`` in place of ``n - 1`` (so ``Var(z) = 1/(n - 3)``).

Regression of variable ``y`` on ``x`` from a correlation matrix ``R``:
``b = R_xx^{-1} r_xy`` and ``R^2 = r_xy' b``.  With the covariance ``V`` of the
correlations below the diagonal of ``R`` (column by column), ``Var(b) = J V J'`` with
``J = db/dr``, ``db = R_xx^{-1}(dr_xy - dR_xx b)``, and z tests with the omnibus
``QM = b' Var(b)^{-1} b ~ chi2(p)``.  With a sample size ``n`` instead, the usual
regression standard errors ``sqrt(diag(R_xx^{-1}) (1 - R^2) / (n - p - 1))`` and t tests
on ``n - p - 1`` df; with ``cov=True`` the matrix is a covariance matrix (raw
coefficients) and optional ``means`` add the intercept.

References
----------
Becker BJ (1992). Using results from replicated studies to estimate linear models. J Educ
Stat 17, 341-362.
Cheung MWL (2015). Meta-analysis: a structural equation modeling approach. Wiley.
Olkin I, Finn JD (1990). Testing correlated correlations. Psychol Bull 108, 155-164.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import linalg, stats

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["correlation_covariance", "regression_from_matrix", "MatrixRegressionResult"]


def _olkin_finn(R, n):
    """Covariance matrix of the below-diagonal elements of the correlation matrix ``R``
    (column by column) for a sample of size ``n``."""
    q = R.shape[0]
    pairs = [(i, j) for j in range(q) for i in range(j + 1, q)]
    m = len(pairs)
    out = np.empty((m, m))
    for a, (s, t) in enumerate(pairs):
        for b, (u, v) in enumerate(pairs[a:], start=a):
            c = (0.5 * R[s, t] * R[u, v] * (R[s, u] ** 2 + R[s, v] ** 2 + R[t, u] ** 2
                                           + R[t, v] ** 2)
                 + R[s, u] * R[t, v] + R[s, v] * R[t, u]
                 - (R[s, t] * R[s, u] * R[s, v] + R[t, s] * R[t, u] * R[t, v]
                    + R[u, s] * R[u, t] * R[u, v] + R[v, s] * R[v, t] * R[v, u]))
            out[a, b] = out[b, a] = c / (n - 1.0)
    return out, pairs


def correlation_covariance(data: pd.DataFrame, ri: str = "ri", var1: str = "var1",
                           var2: str = "var2", study: str = "study", ni: str = "ni",
                           rtoz: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """Within-study sampling covariances of correlation coefficients (metafor's ``rcalc``).

    Parameters
    ----------
    data : pandas.DataFrame
        Long format: one row per correlation, with the two variable names, the study and
        its sample size (the smallest value is used if it varies within a study).
    ri, var1, var2, study, ni : str
        Column names: the correlation, the two variables it relates, the study and the
        sample size (defaults ``"ri"``, ``"var1"``, ``"var2"``, ``"study"``, ``"ni"``).
    rtoz : bool, default False
        Return Fisher's ``z = atanh(r)`` and its covariances.

    Returns
    -------
    frame : pandas.DataFrame
        ``study``, ``var1``, ``var2``, ``pair`` (``"var1.var2"``), ``yi`` (r or z), ``ni``,
        in the order of ``data``.
    V : numpy.ndarray
        Block-diagonal covariance of ``yi`` (rows of ``frame``; zero between studies).

    Notes
    -----
    Missing correlations (NaN) give NaN ``yi`` and NaN rows and columns of ``V``; a
    covariance that needs a correlation the study does not report is NaN too (as
    metafor).  Drop those rows before the stage-1 fit.

    Raises
    ------
    ValueError
        A missing column, a correlation outside (-1, 1), a variable correlated with
        itself, or a pair given twice in a study.

    See Also
    --------
    regression_from_matrix : Stage 2 of two-stage MASEM.
    metamodels.MetaMixed : Stage 1, pooling the correlations with this ``V``.

    References
    ----------
    .. [1] Olkin I, Finn JD (1990). Testing correlated correlations. Psychological
       Bulletin 108, 155-164.

    Examples
    --------
    >>> import metamodels as mm
    >>> craft = mm.datasets.load("craft2003")
    >>> frame, V = mm.correlation_covariance(craft)
    >>> print(frame.shape[0] == V.shape[0] == len(craft))
    True
    """
    for col in (ri, var1, var2, study, ni):
        if col not in data.columns:
            raise ValueError(f"column {col!r} is not in data")
    d = data.reset_index(drop=True)
    r = pd.to_numeric(d[ri], errors="coerce").to_numpy(dtype=float)
    if np.any(np.abs(r[~np.isnan(r)]) >= 1) or np.any(np.isinf(r)):
        raise ValueError("correlations must lie strictly between -1 and 1 (NaN = missing)")
    a_names, b_names = d[var1].astype(str).to_numpy(), d[var2].astype(str).to_numpy()
    if np.any(a_names == b_names):
        raise ValueError("var1 and var2 are the same variable in some rows")
    V = np.zeros((len(d), len(d)))
    for _, idx in d.groupby(study, sort=False).indices.items():
        idx = np.asarray(idx)
        names = sorted(set(a_names[idx]) | set(b_names[idx]))
        pos = {v: i for i, v in enumerate(names)}
        R = np.full((len(names), len(names)), np.nan)
        np.fill_diagonal(R, 1.0)
        seen = set()
        for k in idx:
            i, j = pos[a_names[k]], pos[b_names[k]]
            if (min(i, j), max(i, j)) in seen:
                raise ValueError(f"study {d[study].iloc[k]!r} gives the correlation of "
                                 f"{a_names[k]} and {b_names[k]} twice")
            seen.add((min(i, j), max(i, j)))
            R[i, j] = R[j, i] = r[k]
        n = float(pd.to_numeric(d[ni].iloc[idx]).min())
        cov, pairs = _olkin_finn(R, n)
        where = {frozenset((names[i], names[j])): p for p, (i, j) in enumerate(pairs)}
        rows = [where[frozenset((a_names[k], b_names[k]))] for k in idx]
        # a covariance needing a correlation the study does not report is NaN (as the
        # rows of missing correlations): drop those rows before fitting
        V[np.ix_(idx, idx)] = cov[np.ix_(rows, rows)]
    y = r
    if rtoz:
        # delta method, with n - 3 in place of n - 1 so that Var(z) = 1/(n - 3)
        y = np.arctanh(r)
        nn = pd.to_numeric(d[ni]).to_numpy(dtype=float)
        nmin = d.assign(_n=nn).groupby(study, sort=False)["_n"].transform("min").to_numpy()
        f = np.sqrt((nmin - 1.0) / (nmin - 3.0)) / (1.0 - r * r)
        f = np.where(np.isnan(r), 1.0, f)     # their rows are NaN already; keep zeros elsewhere
        V = V * f[:, None] * f[None, :]
    frame = pd.DataFrame({"study": d[study], "var1": d[var1], "var2": d[var2],
                          "pair": [f"{x}.{z}" for x, z in zip(a_names, b_names)],
                          "yi": y, "ni": d[ni]})
    return frame, V


@dataclass(frozen=True)
class MatrixRegressionResult:
    """Regression from a correlation or covariance matrix.

    Returned by :func:`regression_from_matrix` (metafor's ``matreg`` object).

    Parameters
    ----------
    params, bse, tvalues, pvalues : pandas.Series
        Coefficients, standard errors, z or t statistics and two-sided p-values,
        indexed by predictor (``"intercept"`` first when means were given).
    conf_int : pandas.DataFrame
        Columns ``lower``, ``upper``.
    cov_params : pandas.DataFrame
        Covariance of the coefficients.
    rsquared : float
        ``R^2`` of the regression.
    df : float or None
        Residual df of the t tests (``n - p - 1`` or ``df_resid``); None for z tests.
    qm : float
        Omnibus Wald statistic of the slopes (z tests only; NaN otherwise).
    qm_df : int
        Its df (the number of predictors).
    qm_pvalue : float
        Its p-value (NaN for t tests).

    Examples
    --------
    >>> import numpy as np
    >>> import metamodels as mm
    >>> R = np.array([[1.0, 0.3, 0.5], [0.3, 1.0, 0.4], [0.5, 0.4, 1.0]])
    >>> fit = mm.regression_from_matrix(R, y=2, x=[0, 1], n=100)
    >>> print(fit.summary_frame()[["estimate", "se", "pvalue"]].round(4))
        estimate      se  pvalue
    x1    0.4176  0.0879  0.0000
    x2    0.2747  0.0879  0.0023
    """

    params: pd.Series
    bse: pd.Series
    tvalues: pd.Series
    pvalues: pd.Series
    conf_int: pd.DataFrame
    cov_params: pd.DataFrame
    rsquared: float
    df: float
    qm: float
    qm_df: int
    qm_pvalue: float

    def summary_frame(self) -> pd.DataFrame:
        """Coefficient table.

        Returns
        -------
        pandas.DataFrame
            Columns estimate, se, statistic, pvalue, ci_lower, ci_upper, indexed by
            predictor.
        """
        return pd.DataFrame({"estimate": self.params, "se": self.bse, "statistic": self.tvalues,
                             "pvalue": self.pvalues, "ci_lower": self.conf_int["lower"],
                             "ci_upper": self.conf_int["upper"]})

    def __str__(self):
        text = self.summary_frame().to_string(float_format=lambda v: f"{v:.4f}")
        text += f"\nR^2 = {self.rsquared:.4f}"
        if np.isfinite(self.qm):
            text += f"; QM({self.qm_df}) = {self.qm:.4f}, p = {self.qm_pvalue:.4g}"
        return text


def _index(names, which, what):
    out = []
    for w in np.atleast_1d(which).tolist():
        if isinstance(w, str):
            if names is None or w not in names:
                raise ValueError(f"{what} {w!r} is not a variable of R")
            out.append(list(names).index(w))
        else:
            out.append(int(w))
    return out


def regression_from_matrix(R: ArrayLike | pd.DataFrame, y: int | str,
                           x: Sequence[int | str] | int | str, V: ArrayLike | None = None,
                           n: float | None = None, cov: bool = False,
                           means: ArrayLike | None = None, alpha: float = 0.05,
                           names: Sequence[str] | None = None,
                           df_resid: float | None = None) -> MatrixRegressionResult:
    """Regression of one variable on others from a (pooled) correlation or covariance
    matrix (metafor's ``matreg``; module notes).

    Parameters
    ----------
    R : (q, q) array or DataFrame
        Correlation matrix (or covariance matrix with ``cov=True``).
    y : int or str
        The outcome (0-based position, or a name when ``R`` is a DataFrame or ``names``
        is given).
    x : sequence of int or str
        The predictors.
    V : (q(q-1)/2, q(q-1)/2) array, optional
        Covariance of the below-diagonal elements of ``R`` (column by column), e.g. the
        ``cov_params()`` of a stage-1 MetaMixed fit; gives delta-method SEs and z tests.
    n : int, optional
        Sample size instead of ``V``: the usual regression SEs and t tests.
    cov : bool
        ``R`` is a covariance matrix (needs ``n``; unstandardised coefficients).
    means : array_like, optional
        Means of the q variables (with ``cov=True``): adds the intercept.
    alpha : float, default 0.05
        ``1 - alpha`` confidence intervals.
    names : sequence of str, optional
        Variable names (default: the DataFrame's columns, else ``x1 .. xq``).
    df_resid : float, optional
        Residual df of the ``n`` version (default ``n - p - 1``, the regression with an
        intercept that standardised or centred variables imply; metafor 3.8 uses
        ``n - p`` for a correlation matrix, which ``df_resid=n - p`` reproduces).

    Returns
    -------
    MatrixRegressionResult

    Raises
    ------
    ValueError
        ``R`` not symmetric, unknown or repeated variables, both or neither of ``V``
        and ``n``, ``cov=True`` without ``n``, a ``V`` of the wrong size, or a
        predictors' block of ``R`` that is not positive definite.

    See Also
    --------
    correlation_covariance : Stage 0, the covariances of the correlations.

    References
    ----------
    .. [1] Becker BJ (1992). Using results from replicated studies to estimate linear
       models. Journal of Educational Statistics 17, 341-362.
    .. [2] Cheung MWL (2015). Meta-analysis: a structural equation modeling approach.
       Wiley.

    Examples
    --------
    >>> import numpy as np
    >>> import metamodels as mm
    >>> R = np.array([[1.0, 0.3, 0.5], [0.3, 1.0, 0.4], [0.5, 0.4, 1.0]])
    >>> fit = mm.regression_from_matrix(R, y=2, x=[0, 1], n=100,
    ...                                 names=["a", "b", "outcome"])
    >>> print(fit.params.round(4))
    a    0.4176
    b    0.2747
    dtype: float64
    >>> print(round(fit.rsquared, 4))
    0.3187
    """
    if isinstance(R, pd.DataFrame):
        names = list(R.columns) if names is None else list(names)
        R = R.to_numpy(dtype=float)
    R = np.asarray(R, dtype=float)
    q = R.shape[0]
    if R.ndim != 2 or R.shape[1] != q or not np.allclose(R, R.T, atol=1e-12):
        raise ValueError("R must be a symmetric square matrix")
    names = [f"x{i + 1}" for i in range(q)] if names is None else list(names)
    iy = _index(names, y, "outcome")[0]
    ix = _index(names, x, "predictor")
    if iy in ix or len(set(ix)) != len(ix) or not all(0 <= i < q for i in ix + [iy]):
        raise ValueError("x must list distinct predictors other than y, within R")
    if (V is None) == (n is None):
        raise ValueError("give exactly one of V (covariance of the correlations) and n")
    if cov and n is None:
        raise ValueError("cov=True needs the sample size n")
    if means is not None and not cov:
        raise ValueError("means are used with cov=True only")
    p = len(ix)
    A = R[np.ix_(ix, ix)]
    c = R[ix, iy]
    try:
        chol = linalg.cho_factor(A)
    except linalg.LinAlgError:
        raise ValueError("the predictors' block of R is not positive definite") from None
    b = linalg.cho_solve(chol, c)
    Ainv = linalg.cho_solve(chol, np.eye(p))
    labels = [str(names[i]) for i in ix]
    if V is not None:
        V = np.asarray(V, dtype=float)
        pairs = [(i, j) for j in range(q) for i in range(j + 1, q)]
        if V.shape != (len(pairs), len(pairs)):
            raise ValueError(f"V must be {len(pairs)} x {len(pairs)} (the correlations below "
                             f"the diagonal of a {q} x {q} matrix), got {V.shape}")
        J = np.zeros((p, len(pairs)))
        pos = {v: k for k, v in enumerate(ix)}
        for m, (i, j) in enumerate(pairs):
            dc = np.zeros(p)
            dA = np.zeros((p, p))
            for s, t in ((i, j), (j, i)):
                if s in pos and t == iy:
                    dc[pos[s]] = 1.0
                if s in pos and t in pos:
                    dA[pos[s], pos[t]] = 1.0
            J[:, m] = Ainv @ (dc - dA @ b)
        vb = J @ V @ J.T
        r2 = float(c @ b)
        df = None
    else:
        n = float(n)
        if n <= p + 1:
            raise ValueError(f"n = {n:g} is too small for {p} predictors")
        df = n - p - 1 if df_resid is None else float(df_resid)
        if not df > 0:
            raise ValueError(f"df_resid must be positive, got {df_resid!r}")
        if cov:
            sigma2 = (R[iy, iy] - c @ b) * (n - 1) / df
            vb = sigma2 * Ainv / (n - 1)
            r2 = float(c @ b / R[iy, iy])
        else:
            r2 = float(c @ b)
            vb = Ainv * (1.0 - r2) / df
    vb = 0.5 * (vb + vb.T)
    if means is not None:
        means = np.asarray(means, dtype=float)
        if means.shape != (q,):
            raise ValueError(f"means must have {q} values")
        mx = means[ix]
        b0 = means[iy] - mx @ b
        # Var(b0) = sigma^2/n + mx' Var(b) mx (independent mean and slopes)
        v0 = sigma2 / n + mx @ vb @ mx
        c0 = -vb @ mx
        vb = np.block([[np.array([[v0]]), c0[None, :]], [c0[:, None], vb]])
        b = np.concatenate([[b0], b])
        labels = ["intercept"] + labels
    se = np.sqrt(np.diag(vb))
    stat = b / se
    if df is None:
        pv = 2 * stats.norm.sf(np.abs(stat))
        crit = stats.norm.ppf(1 - alpha / 2)
        slopes = slice(0, p)
        qm = float(b[slopes] @ np.linalg.solve(vb[slopes, slopes], b[slopes]))
        qm_p = float(stats.chi2.sf(qm, p))
    else:
        pv = 2 * stats.t.sf(np.abs(stat), df)
        crit = stats.t.ppf(1 - alpha / 2, df)
        qm, qm_p = np.nan, np.nan
    idx = pd.Index(labels)
    ser = lambda v: pd.Series(v, index=idx)  # noqa: E731
    return MatrixRegressionResult(
        ser(b), ser(se), ser(stat), ser(pv),
        pd.DataFrame({"lower": b - crit * se, "upper": b + crit * se}, index=idx),
        pd.DataFrame(vb, index=idx, columns=idx), r2, df, qm, p, qm_p)
