"""Results of MetaMixed fits."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import LikelihoodModelResults, LikelihoodResultsWrapper

from .._compat import cache_readonly
from ..summary import make_summary
from ..core.likelihood import evaluate
from ..base.results import (EngineResultsMixin, MetaDiagnosticsMixin, MetaResidualsMixin,
                            ResultsConventions, block_diagonal)
from ..inference import WaldTestResult

__all__ = ["MetaMixedResults"]


class MetaMixedResults(MetaDiagnosticsMixin, MetaResidualsMixin, ResultsConventions,
                       EngineResultsMixin, LikelihoodModelResults):
    """Results of :class:`~metamodels.MetaMixed`.

    Variance components: ``sigma2`` (one per scalar random term, metafor's ``sigma2``),
    ``tau2`` and ``rho`` (variances and correlations of vector terms), ``cov_re`` (G per
    term), ``theta`` (all parameters, labelled: variances, then correlations, for UN the
    canonical partial correlations, which are the correlations for two outcomes),
    ``on_boundary`` (the parameters on a bound).  ``llf`` uses the SAS/lme4 REML convention;
    ``llf_metafor`` adds metafor's ``1/2 log|X'X|``.  Information criteria count the
    coefficients plus the covariance parameters (``n - p`` observations under REML), as
    metafor does.
    """

    def __init__(self, model, outcome, method, test):
        self._set_engine_fit(model, outcome, method)
        self.test = test
        ev = self._ev
        super().__init__(model, ev.beta, normalized_cov_params=ev.cov_beta, scale=1.0,
                         use_t=test == "t", cov_type="nonrobust")

    # ------------------------------------------------------ variance components
    @cache_readonly
    def theta(self):
        return pd.Series(self._ev.theta, index=list(self.model.spec.param_names))

    @cache_readonly
    def cov_theta(self):
        J = self._ev.obs_info if self._ev.obs_info is not None else self._ev.info
        names = list(self.model.spec.param_names)
        try:
            inv = np.linalg.inv(J)
        except np.linalg.LinAlgError:
            inv = np.linalg.pinv(J)
        return pd.DataFrame(inv, index=names, columns=names)

    @cache_readonly
    def cov_re(self):
        """G of each random term, labelled, keyed by term (in the model's term order; terms
        fixed to 0 as not identified, ``model.fixed_terms``, give zero matrices)."""
        spec = self.model.spec
        est = {p.name: G for p, G in zip(spec.random, spec.G_matrices(self._ev.theta))}
        out = {}
        for p in self.model.random:
            q = len(p.column_names)
            G = est.get(p.name, np.zeros((q, q)))
            out[p.name] = pd.DataFrame(G, index=list(p.column_names),
                                       columns=list(p.column_names))
        return out

    @cache_readonly
    def on_boundary(self):
        """Names of the covariance parameters estimated on a bound of their range (a
        variance at 0, a correlation at -1 or +1 or at -1/(m-1) for CS/HCS)."""
        o, spec = self._outcome, self.model.spec
        hit = (o.at_lower & np.isfinite(spec.lower)) | (o.at_upper & np.isfinite(spec.upper))
        return [spec.param_names[i] for i in np.flatnonzero(hit)]

    @cache_readonly
    def sigma2(self):
        """Variance components of the scalar random terms (metafor's ``sigma2``)."""
        return pd.Series({k: float(G.iloc[0, 0]) for k, G in self.cov_re.items() if G.shape[0] == 1})

    @cache_readonly
    def tau2(self):
        """Variances of the vector random term (a Series; a dict of them for several)."""
        out = {k: pd.Series(np.diag(G.values), index=G.index) for k, G in self.cov_re.items()
               if G.shape[0] > 1}
        return next(iter(out.values())) if len(out) == 1 else out

    @cache_readonly
    def rho(self):
        """Correlations of the vector random term (scalar for 2 x 2, matrix otherwise)."""
        out = {}
        for k, G in self.cov_re.items():
            if G.shape[0] > 1:
                sd = np.sqrt(np.clip(np.diag(G.values), 1e-300, None))
                R = G.values / np.outer(sd, sd)
                out[k] = float(R[1, 0]) if G.shape[0] == 2 else pd.DataFrame(
                    R, index=G.index, columns=G.columns)
        return next(iter(out.values())) if len(out) == 1 else out

    # ------------------------------------------------------------ heterogeneity
    @cache_readonly
    def _fixed_view(self):
        """Evaluation with the random effects switched off (V = S)."""
        m = self.model
        return evaluate(np.zeros(0), m.endog, m.exog, m.known_spec, reml=False)

    @cache_readonly
    def q(self):
        """Test statistic for residual heterogeneity ``(y - Xb_S)' S^{-1} (y - Xb_S)``."""
        return self._fixed_view.rss

    @property
    def q_df(self):
        return int(self.nobs - self.model.k_params)

    @cache_readonly
    def q_pvalue(self):
        return float(stats.chi2.sf(self.q, self.q_df))

    @cache_readonly
    def _trace_p(self):
        m = self.model
        spec = m.known_spec
        Svs = spec.build(np.zeros(0))
        C = self._fixed_view.cov_beta
        tr, XS2X = 0.0, np.zeros((m.k_params, m.k_params))
        for rows, S in zip(spec.layout.groups, Svs):
            Si = np.linalg.inv(S)
            SiX = Si @ m.exog[rows]
            tr += float(np.trace(Si, axis1=1, axis2=2).sum())
            XS2X += np.einsum("bip,biq->pq", SiX, SiX)
        return tr - float(np.sum(C * XS2X))

    @cache_readonly
    def i2(self):
        """Multilevel I^2 per scalar variance component and in total, as fractions:
        ``sigma2_l / (sum sigma2 + (k - p)/tr(P))`` with ``P`` from the known ``S``
        (Cheung 2014; metafor's recommended definition)."""
        s2 = self.sigma2
        typical = (self.nobs - self.model.k_params) / self._trace_p
        total = float(s2.sum()) + typical
        out = s2 / total
        out["total"] = float(s2.sum()) / total
        return out

    # ------------------------------------------------------------------ tests
    @cache_readonly
    def qm_test(self):
        """Omnibus Wald test of the coefficients other than the intercept."""
        m = self.model
        idx = np.arange(m.k_params)
        if m.k_constant and m.k_params > 1:
            idx = np.setdiff1d(idx, np.atleast_1d(m.data.const_idx))
        elif m.k_constant:
            return None
        b = np.asarray(self.params)[idx]
        vb = np.asarray(self.cov_params())[np.ix_(idx, idx)]
        stat = float(b @ np.linalg.solve(vb, b))
        if self.use_t:
            f = stat / idx.size
            return WaldTestResult(f, idx.size, self.df_resid,
                                  float(stats.f.sf(f, idx.size, self.df_resid)), "F")
        return WaldTestResult(stat, idx.size, None, float(stats.chi2.sf(stat, idx.size)), "chi2")

    @property
    def qm(self):
        return np.nan if self.qm_test is None else self.qm_test.statistic

    @cache_readonly
    def n_params_total(self):
        return self.model.k_params + self.model.spec.n_params

    # ------------------------------------------------- prediction / residuals
    def _new_obs_variance(self, exog, X0):
        """Random-effects variance of a new effect (metafor's prediction interval adds the
        variance components, not a sampling variance)."""
        return self._random_effects_variance(exog, X0.shape[0])

    def _submodel(self, keep):
        """The model of the rows ``keep`` (boolean mask), levels renumbered."""
        m = self.model
        random = [dataclasses.replace(p, Z=p.Z[keep],
                                      groups=np.unique(p.groups[keep], return_inverse=True)[1]
                                      .reshape(-1)) for p in m.random]
        return type(m)(m.endog[keep], m.exog[keep], random, V=m.known.subset(keep))

    def _refit_without(self, i):
        """The model refitted without row ``i`` (an index or an array of row indices;
        variance components re-estimated from the full fit's values), or None if the
        reduced model cannot be fitted."""
        keep = np.ones(int(self.model.nobs), dtype=bool)
        keep[i] = False
        try:
            sub = self._submodel(keep)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return sub.fit(method=self.method, test=self.test, start=self._ev.theta)
        except (ValueError, np.linalg.LinAlgError):
            return None

    @cache_readonly
    def _rstudent(self):
        m = self.model
        n = int(m.nobs)
        out = np.full((n, 3), np.nan)
        for i in range(n):
            res = self._refit_without(i)
            if res is None:
                continue
            theta = np.asarray(res.theta)
            x = m.exog[i]
            e = m.endog[i] - x @ np.asarray(res.params)
            M_ii = block_diagonal(m.spec, theta)[i]
            se = np.sqrt(M_ii + x @ np.asarray(res.cov_params()) @ x)
            out[i] = e, se, e / se
        return out

    @property
    def resid_studentized(self):
        """Externally studentised residuals (metafor's ``rstudent.rma.mv``, one row deleted
        at a time)."""
        return self._label(self._rstudent[:, 2], "resid_studentized")

    def rstudent(self):
        """metafor's ``rstudent`` for ``rma.mv``: each row deleted in turn and the variance
        components re-estimated; ``resid = y_i - x_i'b_(-i)``,
        ``se = sqrt(M_ii(theta_(-i)) + x_i' Var(b_(-i)) x_i)`` with ``M`` the marginal
        covariance of the full data at the reduced fit's variance components.  NaN for rows
        whose deletion leaves an unfittable model.  Costs one fit per row."""
        r = self._rstudent
        return pd.DataFrame({"resid": r[:, 0], "se": r[:, 1], "z": r[:, 2]},
                            index=self._fitted_index)

    def summary(self, alpha=0.05):
        """Variance components, heterogeneity and the coefficient table."""
        info = {"Model:": "MetaMixed", "Method:": self.method,
                "No. effect sizes:": str(int(self.nobs)),
                "No. units (blocks):": str(self.model.spec.layout.n_blocks),
                "Converged:": "Yes" if self.converged else "No",
                ("Res. log-likelihood:" if self.reml else "Log-likelihood:"): "%.4f" % self.llf,
                "AIC:": "%.4f" % self.aic, "BIC:": "%.4f" % self.bic,
                f"Q (df={self.q_df}):": "%.4f" % self.q, "Prob(Q):": "%.4g" % self.q_pvalue}
        texts = []
        if self.on_boundary:
            texts.append("On the boundary (G singular): " + ", ".join(self.on_boundary))
        if self.model.fixed_terms:
            texts.append("Fixed to 0 (single-level factor, not identified): "
                         + ", ".join(self.model.fixed_terms))
        if self.model.fixed_params:
            texts.append("Fixed (not estimated): " + ", ".join(
                f"{k} = {v:g}" for k, v in self.model.fixed_params.items()))
        if self.qm_test is not None:
            texts.append(f"Test of moderators (QM): {self.qm_test}")
        tables = [self.coef_table(alpha)]
        if len(self.theta):
            tables.append((pd.DataFrame({"estimate": self.theta}), "%.6f"))
        return make_summary("MetaMixed Results", info, tables, texts)


class MetaMixedResultsWrapper(LikelihoodResultsWrapper):
    pass


wrap.populate_wrapper(MetaMixedResultsWrapper, MetaMixedResults)
