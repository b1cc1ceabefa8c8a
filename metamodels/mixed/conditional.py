"""Residuals scaled by the marginal covariance, and predictions of a subject's unobserved
responses from its observed ones (SAS PROC MIXED / mmrm / nlme conventions).

With ``r = y - X b`` and ``V = Z G Z' + R`` (block diagonal over the independent units):

* **Pearson residuals** ``r_i / sqrt(V_ii)`` (nlme ``residuals(type = "pearson")`` of
  ``gls``; SAS's marginal ``ResidualPearson``; mmrm's ``"pearson"``);
* **normalized residuals** ``L_b^{-1} r_b`` with ``V_b = L_b L_b'`` the Cholesky factor of
  each unit's block, rows in the unit's order (subject, then visit or position): nlme's
  ``residuals(type = "normalized")`` of ``gls`` and mmrm's ``"normalized"``; independent
  standard normal under the model.
* **Conditional prediction** of the unobserved rows ``m`` of a unit from its observed rows
  ``o`` (mmrm's ``predict(conditional = TRUE)``):

  .. math::

      \\hat y_m = X_m b + V_{mo} V_{oo}^{-1} (y_o - X_o b), \\qquad
      A = V_{mm} - V_{mo} V_{oo}^{-1} V_{om},

  with the standard error of the conditional mean from the uncertainty in ``b`` only
  (``theta`` taken as known, as SAS and mmrm's confidence intervals do):
  ``Var = L Cov(b) L'`` with ``L = X_m - V_{mo} V_{oo}^{-1} X_o``; a prediction interval
  adds ``diag A``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._compat import cache_readonly
from ..base.prediction import PredictionResults

__all__ = ["ConditionalResultsMixin", "block_residuals"]


def block_residuals(spec: Any, theta: np.ndarray, r: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Pearson and normalized residuals of ``r`` under ``V(theta)`` of ``spec``.

    Parameters
    ----------
    spec : BlockCovariance
        The model's covariance (:class:`~metamodels.core.blockcov.BlockCovariance`).
    theta : numpy.ndarray
        Covariance parameters.
    r : numpy.ndarray
        Marginal residuals ``y - X b``, ``(n,)``.

    Returns
    -------
    pearson, normalized : (n,) arrays in the row order of ``r``
    """
    n = r.shape[0]
    pearson = np.empty(n)
    normalized = np.empty(n)
    for rows, v in zip(spec.layout.groups, spec.build(theta)):
        v = np.asarray(v)
        if v.ndim == 1:                  # a diagonal group: one row per block
            v = v[:, None, None]
        rb = r[rows]
        pearson[rows] = rb / np.sqrt(np.einsum("bii->bi", v))
        L = np.linalg.cholesky(v)
        normalized[rows] = np.linalg.solve(L, rb[..., None])[..., 0]
    return pearson, normalized


def _codes(frame):
    """Integer codes of the rows of a DataFrame (one or several columns)."""
    if frame.shape[1] == 1:
        return pd.factorize(frame.iloc[:, 0], sort=True)[0].astype(np.int64)
    return pd.factorize(pd.MultiIndex.from_frame(frame.astype(str)), sort=True)[0] \
        .astype(np.int64)


def _map_labels(values, labels, what):
    """Codes of ``values`` among the fitted ``labels``; unknown values are an error."""
    idx = pd.Index(list(labels)).get_indexer(pd.Index(values))
    if np.any(idx < 0):
        bad = pd.unique(np.asarray(values, dtype=object)[idx < 0])[:5]
        raise ValueError(f"{what} value(s) {list(bad)} were not seen in the fit")
    return idx.astype(np.int64)


def _columns(spec):
    return [c for c in spec.split(":") if c]


class ConditionalResultsMixin:
    """Pearson / normalized residuals and conditional predictions of MixedResults (see
    :mod:`metamodels.mixed.conditional`)."""

    # ----------------------------------------------------------------- residuals
    @cache_readonly
    def resid_marginal(self) -> np.ndarray:
        """Marginal residuals ``y - X b`` (``resid`` are the conditional ``y - Xb - Zu``)."""
        m = self.model
        return m.endog - m.exog @ np.asarray(self._fit.beta)

    @cache_readonly
    def _scaled_residuals(self):
        return block_residuals(self.model.spec, self._fit.theta, self.resid_marginal)

    @property
    def resid_pearson(self) -> np.ndarray:
        """Marginal Pearson residuals ``(y_i - x_i'b) / sqrt(V_ii)`` (nlme ``gls``
        ``type="pearson"``, mmrm ``"pearson"``, SAS's marginal ``ResidualPearson``)."""
        return self._scaled_residuals[0]

    @property
    def resid_normalized(self) -> np.ndarray:
        """Normalized residuals ``L_b^{-1} (y_b - X_b b)`` with ``V_b = L_b L_b'`` per
        independent unit, rows in the unit's subject/visit order (nlme ``gls``
        ``type="normalized"``, mmrm ``"normalized"``).  Independent N(0, 1) under the
        model."""
        return self._scaled_residuals[1]

    # ------------------------------------------------------ conditional prediction
    def _new_data_covariance(self, frame):
        """The model's covariance specification on the rows of ``frame`` (same theta
        layout), built from the columns the model was built from."""
        from ..core.blockcov import BlockCovariance
        from ..core.random import RandomPart
        m = self.model
        spec_in = m.residual_columns
        n = len(frame)

        def col(name):
            if name is None:
                return None
            cols = _columns(name) if isinstance(name, str) else list(name)
            missing = [c for c in cols if c not in frame.columns]
            if missing:
                raise ValueError(f"new data lack the column(s) {missing}")
            return frame[cols] if len(cols) > 1 else frame[cols[0]].to_numpy()

        subject = col(spec_in["subject"])
        repeated = col(spec_in["repeated"])
        cov_group = col(spec_in["cov_group"])
        coords = None if spec_in["coords"] is None else \
            frame[spec_in["coords"]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
        res = m._residual_part(n, repeated, subject, m.cov_struct, cov_group, coords,
                               m.local)
        fitted = m.residual
        changes = {}
        if fitted.structure.direct_gather:          # spatial: positions of the new rows
            structure = res.structure
        else:
            structure = fitted.structure
            if repeated is not None:
                values = pd.MultiIndex.from_frame(repeated.astype(str)) \
                    if isinstance(repeated, pd.DataFrame) else np.asarray(repeated)
                visit = _map_labels(values, m.visit_labels, "repeated")
            else:
                visit = res.visit
                if visit.max() >= structure.dim:
                    raise ValueError("a subject of the new data has more rows than the "
                                     "residual structure's dimension")
            changes["visit"] = visit
        changes["structure"] = structure
        if cov_group is not None:
            labels = fitted.group_labels
            values = np.asarray(cov_group).astype(str) if not isinstance(cov_group,
                                                                         pd.DataFrame) \
                else pd.MultiIndex.from_frame(cov_group.astype(str)).map(str)
            changes["cov_group"] = _map_labels(values, labels, "cov_group")
            changes["n_cov_groups"] = fitted.n_cov_groups
            changes["group_labels"] = labels
        if m.weights is not None:
            w = spec_in.get("weights")
            if not isinstance(w, str):
                raise ValueError("conditional predictions of a weighted model need the "
                                 "weights as a column name (weights='w' in from_formula)")
            changes["weights"] = np.asarray(col(w), dtype=float)
        from dataclasses import replace
        res = replace(res, **changes)
        random = []
        terms = self._random_terms() or []
        designs = self._random_designs(frame) if m.spec.random else []
        if m.spec.random and (designs is None or len(terms) != len(m.spec.random)):
            raise ValueError("the random-effects design of the new rows cannot be built; "
                             "pass the random-effects and grouping columns")
        for part, term, (Z0, _) in zip(m.spec.random, terms, designs):
            groups = _codes(frame[list(term.factors)].astype(str))
            random.append(RandomPart(part.name, np.asarray(Z0, dtype=float), groups,
                                     part.structure, part.column_names))
        return BlockCovariance(random=random, residual=res)

    def get_prediction_conditional(self, data: pd.DataFrame,
                                   alpha: float | None = None) -> PredictionResults:
        """Predict the unobserved responses of ``data`` from its observed ones.

        Parameters
        ----------
        data : DataFrame
            Rows in the model's long format: the formula's variables, the subject,
            repeated (or coordinate), group and random-effects columns.  Rows whose
            response is missing (or all rows, when the response column is absent) are
            predicted from the observed rows of the same independent unit (subject); the
            fitted data with missing visits appended is the usual input (mmrm's
            ``predict(fit, newdata, conditional = TRUE)``).
        alpha : float, optional
            Ignored: intervals take ``alpha`` in ``summary_frame(alpha)``.

        Returns
        -------
        PredictionResults
            ``summary_frame()`` has mean, mean_se, mean_ci_lower/upper (the conditional
            mean and its uncertainty from ``b``, with the df of the results' ddf method
            for the contrast ``X_m - V_mo V_oo^-1 X_o``), obs_ci_lower/upper (adding the
            conditional variance ``diag A``) and ``observed``.  Observed rows are
            returned as they are (mean = response, standard errors 0), as mmrm does.

        Raises
        ------
        ValueError
            A model not built by :meth:`MixedModel.from_formula`, new data lacking a
            needed column, or ``repeated``/``cov_group`` values not seen in the fit.

        Notes
        -----
        See :mod:`metamodels.mixed.conditional` for the formulas.  ``theta`` is taken as
        known; mmrm's simulated prediction intervals (``interval = "prediction"``) also
        propagate the uncertainty in ``theta`` and are wider.

        Examples
        --------
        Predict the age-14 distance of a subject from its first three visits (an
        unstructured residual covariance):

        >>> import metamodels as mm
        >>> orth = mm.datasets.load("orthodont")
        >>> res = mm.MixedModel.from_formula("distance ~ age + Sex", orth, repeated="age",
        ...                                  subject="Subject", cov_struct="UN").fit()
        >>> new = orth[orth.Subject == "M01"].copy()
        >>> new.loc[new.age == 14, "distance"] = float("nan")
        >>> frame = res.get_prediction_conditional(new).summary_frame()
        >>> print(frame["observed"].tolist())
        [True, True, True, False]
        >>> print(round(frame["mean"].iloc[3], 2))
        28.72
        """
        m = self.model
        if getattr(m, "residual_columns", None) is None or m.formula is None:
            raise ValueError("conditional predictions need a model built by from_formula "
                             "(the subject, repeated and grouping columns of new data)")
        frame = pd.DataFrame(data)
        X0, index = self._design_rows(frame, True)
        name = m.endog_names
        if name in frame.columns:
            y = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        else:
            y = np.full(len(frame), np.nan)
        spec = self._new_data_covariance(frame)
        theta = np.asarray(self._fit.theta, dtype=float)
        b = self._mean_params
        n, p = X0.shape
        mean = np.where(np.isnan(y), X0 @ b, y)
        cond_var = np.zeros(n)
        Lrows = np.zeros((n, p))
        for rows, v in zip(spec.layout.groups, spec.build(theta)):
            v = np.asarray(v)
            if v.ndim == 1:
                v = v[:, None, None]
            for blk, idx in enumerate(rows):
                miss = np.isnan(y[idx])
                if not miss.any():
                    continue
                mi, oi = idx[miss], idx[~miss]
                V = v[blk]
                Vmm = V[np.ix_(miss, miss)]
                Xm = X0[mi]
                if oi.size:
                    Vmo = V[np.ix_(miss, ~miss)]
                    K = np.linalg.solve(V[np.ix_(~miss, ~miss)], Vmo.T).T
                    mean[mi] = Xm @ b + K @ (y[oi] - X0[oi] @ b)
                    Lm = Xm - K @ X0[oi]
                    A = Vmm - K @ Vmo.T
                else:
                    Lm, A = Xm, Vmm
                Lrows[mi] = Lm
                cond_var[mi] = np.diag(A)
        # the covariance and df of x'b predictions (the default ddf method; aliased
        # columns of accept_singular fits on SAS's g2 solution)
        C = self._mean_cov
        var_mean = np.einsum("ij,jk,ik->i", Lrows, C, Lrows)
        todo = np.isnan(y)
        df = np.full(n, np.inf)
        if todo.any():
            df[todo] = self._coef_df(Lrows[todo], self.default_ddf)
        return PredictionResults(mean, var_mean, cond_var, df, index,
                                 extra_columns={"observed": ~todo})

    def predict_conditional(self, data: pd.DataFrame) -> pd.Series | np.ndarray:
        """Predicted responses of the unobserved rows of ``data`` given its observed rows.

        The conditional means of :meth:`get_prediction_conditional` (mmrm's
        ``predict(fit, newdata, conditional = TRUE)``); observed rows are returned as
        they are.

        Parameters
        ----------
        data : pandas.DataFrame
            Rows in the model's long format (see :meth:`get_prediction_conditional`).

        Returns
        -------
        pandas.Series or numpy.ndarray
            Named ``"predicted"`` and indexed like ``data`` when the rows have labels.
        """
        pred = self.get_prediction_conditional(data)
        index = pred.row_labels
        mean = pred.predicted_mean
        return pd.Series(mean, index=index, name="predicted") if index is not None else mean
