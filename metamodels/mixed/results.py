"""Results of MixedModel fits (statsmodels LikelihoodModelResults)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import LikelihoodModelResults, LikelihoodResultsWrapper
from statsmodels.stats.contrast import ContrastResults

from .._compat import cache_readonly
from ..base.results import ResultsConventions
from ..core.blocks import solve_blocks
from ..inference import ddf as ddfmod
from ..inference import empirical as emp
from ..inference.constraints import linear_constraints
from ..inference.marginal import LinearInference, MarginalMeansMixin
from ..summary import make_summary
from ..summary.tables import t_table
from . import inference as minf
from .conditional import ConditionalResultsMixin
from .aliasing import alias_map, estimable_rows, expand, expand_cov

__all__ = ["MixedResults"]

DDF_METHODS = ddfmod.DDF_METHODS
KR_FLAVOURS = ddfmod.KR_FLAVOURS
_check_ddf = ddfmod.check_ddf


class MixedResults(ConditionalResultsMixin, MarginalMeansMixin, ResultsConventions,
                   LikelihoodModelResults):
    """Results of :class:`~metamodels.MixedModel`.

    ``params`` are the fixed effects (``fe_params``); covariance parameters are in
    ``theta`` (labelled), ``cov_re`` (G per random term), ``cov_resid`` (R of a complete
    subject) and ``scale`` (residual variance for independent residuals).  Tests of fixed
    effects take ``ddf=`` in {"satterthwaite", "kenward-roger", "kenward-roger-linear",
    "kenward-roger-expected", "residual", "containment", "between-within", "hlm"}.  One results
    object uses one ddf method for every test and interval (``t_test``, ``f_test``,
    ``wald_test``, ``conf_int``, ``pvalues``, ``bse``, ``summary``, ``anova``):
    ``default_ddf``, chosen by ``fit(ddf=...)`` (Satterthwaite unless told, as lmerTest);
    each method also takes ``ddf=`` for one call.  With a Kenward-Roger default, standard
    errors are that flavour's adjusted ones.  Kenward-Roger: ``"kenward-roger"`` is SAS's
    ``DDFM=KR`` (``W`` the inverse observed information, second-derivative term
    included); ``"kenward-roger-linear"`` drops the second-derivative term (mmrm's
    "Kenward-Roger-Linear"); ``"kenward-roger-expected"`` uses the inverse expected
    information, as pbkrtest (R) does.

    ``fit(cov_type=...)`` (``"empirical"``, ``"empirical-jackknife"``,
    ``"empirical-bias-reduced"``, ``"CR2"``; :mod:`metamodels.inference.empirical`)
    replaces the model-based covariance of the fixed effects by a sandwich over the
    independent units in all of these; ``get_robustcov_results(cov_type)`` gives the same
    fit with another one.  With ``MixedModel(..., accept_singular=True)`` the aliased
    coefficients are NaN ("not estimable", :mod:`metamodels.mixed.aliasing`).

    Information criteria follow SAS PROC MIXED: with ``d`` covariance parameters (REML) or
    covariance parameters plus ``rank(X)`` (ML), ``AIC = -2l + 2d``,
    ``AICC = -2l + 2dn*/(n* - d - 1)`` (``n* = n - rank(X)`` under REML, ``n`` under ML) and
    ``BIC = -2l + d log(s)`` with ``s`` the number of independent units (SAS "subjects").
    ``information_criteria("lme4")`` gives lme4's (fixed + covariance parameters, ``log n``).
    """

    default_ddf = "satterthwaite"

    def __init__(self, model, fit, ddf="satterthwaite", cov_type="nonrobust"):
        self._fit = fit
        self.default_ddf = _check_ddf(ddf)
        cov_type = emp.check_cov_type(cov_type)
        emp.check_compatible(ddfmod.ddf_class(self.default_ddf), cov_type)
        self.reml = fit.reml
        self.method = "REML" if fit.reml else "ML"
        self.converged = fit.converged
        self.n_iter = fit.n_iter
        self.nobs = model.nobs
        self.df_resid = model.df_resid
        self.df_model = model.df_model
        s2 = self._residual_variance(model, fit.theta)
        self.scale = s2 if np.isfinite(s2) else 1.0
        params, cov = np.asarray(fit.beta, dtype=float), fit.cov_beta
        if model.aliased.any():          # accept_singular: aliased coefficients not estimable
            keep = ~model.aliased
            params = expand(params[keep], model.aliased)
            cov = expand_cov(cov[np.ix_(keep, keep)], model.aliased)
        super().__init__(model, params, normalized_cov_params=cov / self.scale,
                         scale=self.scale, use_t=True, cov_type="nonrobust")
        #: "nonrobust" (model-based) or an empirical covariance of
        #: :mod:`metamodels.inference.empirical`, used by every test and interval
        self.cov_type = cov_type

    @staticmethod
    def _residual_variance(model, theta):
        res = model.residual
        if res.structure.name == "ID" and res.n_cov_groups == 1:
            return float(model.spec.R_matrices(theta)[0][0, 0])
        return np.nan

    # --------------------------------------------------------------- basics
    @cache_readonly
    def llf(self):
        """(Restricted) log-likelihood; ``-2 llf`` is SAS's "-2 (Res) Log Likelihood"."""
        return self._fit.llf

    @property
    def fe_params(self):
        return self.params

    @cache_readonly
    def theta(self):
        """Covariance parameters, labelled (G-side then R-side)."""
        return pd.Series(self._fit.theta, index=list(self.model.spec.param_names))

    @cache_readonly
    def cov_theta(self):
        """Asymptotic covariance of ``theta``: inverse observed information."""
        names = list(self.model.spec.param_names)
        return pd.DataFrame(self.inference_inputs.cov_theta, index=names, columns=names)

    @cache_readonly
    def theta_se(self):
        return pd.Series(np.sqrt(np.clip(np.diag(self.cov_theta), 0, None)), index=self.theta.index)

    def covariance_parameters(self):
        """SAS-style "Covariance Parameter Estimates": estimate, SE, Z, Pr > Z."""
        z = self.theta / self.theta_se
        return pd.DataFrame({"estimate": self.theta, "std_err": self.theta_se, "z": z,
                             "pvalue": stats.norm.sf(z)})

    @cache_readonly
    def cov_re_dict(self):
        spec = self.model.spec
        return {p.name: pd.DataFrame(G, index=list(p.column_names), columns=list(p.column_names))
                for p, G in zip(spec.random, spec.G_matrices(self._fit.theta))}

    @property
    def cov_re(self):
        """G of the random-effects term (a dict of them when there are several)."""
        d = self.cov_re_dict
        return next(iter(d.values())) if len(d) == 1 else d

    @cache_readonly
    def cov_resid(self):
        """R of a subject observed at every repeated level (a dict over ``cov_group``)."""
        Rs = self.model.spec.R_matrices(self._fit.theta)
        res = self.model.residual
        frames = [pd.DataFrame(R) for R in Rs]
        if res.n_cov_groups == 1:
            return frames[0]
        return dict(zip(res.group_labels, frames))

    # --------------------------------------------------- conditional quantities
    @cache_readonly
    def _vinv_resid(self):
        m = self.model
        r = m.endog - m.exog @ np.asarray(self._fit.beta)
        return solve_blocks(m.spec, self._fit.theta, r)

    @cache_readonly
    def _blups(self):
        m = self.model
        u = self._vinv_resid
        out = {}
        for part, G in zip(m.spec.random, m.spec.G_matrices(self._fit.theta)):
            n_lev = int(part.groups.max()) + 1
            S = np.zeros((n_lev, part.Z.shape[1]))
            np.add.at(S, part.groups, part.Z * u[:, None])
            out[part.name] = S @ G
        return out

    @cache_readonly
    def _blup_arrays(self):
        """BLUPs per random term (the hook of conditional predictions)."""
        return [self._blups[part.name] for part in self.model.spec.random]

    @cache_readonly
    def random_effects(self):
        """EBLUPs ``G Z' V^{-1}(y - Xb)`` per level (a DataFrame, or a dict per term)."""
        m = self.model
        frames = {}
        for part in m.spec.random:
            frames[part.name] = pd.DataFrame(self._blups[part.name],
                                             columns=list(part.column_names))
        return next(iter(frames.values())) if len(frames) == 1 else frames

    @cache_readonly
    def random_effects_cov(self):
        """Conditional covariance of each level's EBLUPs, ``Var(u_l | y) = G - G Z_l'
        V^{-1} Z_l G`` at the estimates (lme4's ``ranef(condVar = TRUE)``; the
        uncertainty of ``b`` is not added): a (levels, q, q) array per term (a dict of
        them when there are several terms).

        Notes
        -----
        ``Z_l`` holds the rows of term ``t``'s design that belong to level ``l`` (zero
        elsewhere); ``V`` is block diagonal, so ``Z_l' V^{-1} Z_l`` sums
        ``z_i' (V_b^{-1})_{ij} z_j`` over the pairs of rows of level ``l`` in each
        block.  Equivalently ``(G^{-1} + Z_l' R^{-1} Z_l)^{-1}`` for a single term with
        independent residuals, lme4's ``sigma^2 Lambda (L L')^{-1} Lambda'``.  On the
        Z-space path (crossed designs) it is computed that way
        (:meth:`_random_effects_cov_zspace`).
        """
        m = self.model
        spec = m.spec
        if spec.zspace_active():     # crossed designs: never form the big blocks of V
            return self._random_effects_cov_zspace()
        theta = self._fit.theta
        Gs = spec.G_matrices(theta)
        acc = [np.zeros((int(p.groups.max()) + 1, p.Z.shape[1], p.Z.shape[1]))
               for p in spec.random]
        for rows, V in zip(spec.layout.groups, spec.build(theta)):
            Vi = np.linalg.inv(V)
            for t, part in enumerate(spec.random):
                Z, g = part.Z[rows], part.groups[rows]
                W = Vi * (g[:, :, None] == g[:, None, :])
                C = np.einsum("bik,bij,bjl->bikl", Z, W, Z)
                q = Z.shape[-1]
                np.add.at(acc[t], g.reshape(-1), C.reshape(-1, q, q))
        out = {part.name: G - G @ A @ G for part, G, A in zip(spec.random, Gs, acc)}
        return next(iter(out.values())) if len(out) == 1 else out

    def _random_effects_cov_zspace(self):
        """:attr:`random_effects_cov` of a fit on the Z-space path, computed as ``s Lambda (Lambda'Z'Z Lambda + I)^{-1}_{ll} Lambda'``
        (:mod:`metamodels.core.zspace`), for models with independent residuals
        (weights allowed) and unstructured ``G``; other models raise NotImplementedError.
        """
        from ..core.zspace import relative_factors, zspace_conditional_cov
        spec = self.model.spec
        if not spec.zspace_eligible():
            raise NotImplementedError("random_effects_cov needs independent residuals "
                                      "(R = sigma^2 I or sigma^2 W^-1) and unstructured G")
        design = spec.zspace_design()
        lams, s = relative_factors(design, self._fit.theta, spec._r_slices[0].start)
        covs = zspace_conditional_cov(design, lams, s)
        out = {p.name: c for p, c in zip(spec.random, covs)}
        return next(iter(out.values())) if len(out) == 1 else out

    def _level_labels(self):
        """Level labels of each random term (formula models: the grouping values, nested
        levels joined by ":"; array input: 0, 1, ..)."""
        parts = self.model.spec.random
        levels = getattr(self.model, "random_levels", None)
        if levels is not None and len(levels) == len(parts) and all(
                len(lev) == int(p.groups.max()) + 1 for lev, p in zip(levels, parts)):
            return [[":".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in lev]
                    for lev in levels]
        return [[str(i) for i in range(int(p.groups.max()) + 1)] for p in parts]

    def random_effects_frame(self):
        """EBLUPs with their conditional standard deviations in long form (lme4's
        ``as.data.frame(ranef(fit, condVar = TRUE))``): columns term, level, column,
        estimate, se -- the input of :func:`metamodels.plots.caterpillar_plot`."""
        covs = self.random_effects_cov
        spec = self.model.spec
        if len(spec.random) == 1:
            covs = {spec.random[0].name: covs}
        pieces = []
        for part, labels in zip(spec.random, self._level_labels()):
            U = self._blups[part.name]
            sd = np.sqrt(np.clip(np.diagonal(covs[part.name], axis1=1, axis2=2), 0, None))
            for j, col in enumerate(part.column_names):
                pieces.append(pd.DataFrame({"term": part.name, "level": labels,
                                            "column": col, "estimate": U[:, j],
                                            "se": sd[:, j]}))
        return pd.concat(pieces, ignore_index=True)

    def plot_caterpillar(self, alpha=0.05, **kwargs):
        """Caterpillar plot of the EBLUPs with ``1 - alpha`` intervals from their
        conditional variances (lme4's ``dotplot(ranef(fit, condVar = TRUE))``); see
        :func:`metamodels.plots.caterpillar_plot`."""
        from ..plots import caterpillar_plot
        return caterpillar_plot(self, alpha=alpha, **kwargs)

    def plot_diagnostics(self, **kwargs):
        """Residuals vs fitted, normal QQ and scale-location panels of the conditional
        Pearson residuals (``resid_pearson_conditional``); see
        :func:`metamodels.plots.diagnostics_plot`."""
        from ..plots import diagnostics_plot
        return diagnostics_plot(self, **kwargs)

    @cache_readonly
    def resid_pearson_conditional(self):
        """Conditional Pearson residuals scaled by the residual SD,
        ``(y - X b - Z u) sqrt(w) / sqrt(R_ii)`` (lme4's
        ``residuals(type = "pearson", scaled = TRUE)``; ``w`` the observation weights, if
        any)."""
        res = self.model.residual
        Rs = self.model.spec.R_matrices(self._fit.theta)
        diag = np.array([np.diag(R) for R in Rs])[res.cov_group, res.visit]
        w = 1.0 if res.weights is None else np.asarray(res.weights, dtype=float)
        return np.asarray(self.resid, dtype=float) * np.sqrt(w / diag)

    @cache_readonly
    def fittedvalues(self):
        """Conditional fitted values ``X b + Z u``."""
        m = self.model
        f = m.exog @ np.asarray(self._fit.beta)
        for part in m.spec.random:
            f = f + np.einsum("ij,ij->i", part.Z, self._blups[part.name][part.groups])
        return f

    @cache_readonly
    def resid(self):
        """Conditional residuals ``y - X b - Z u``."""
        return self.model.endog - self.fittedvalues

    # ------------------------------------------------------- information crit.
    @cache_readonly
    def n_cov_params(self):
        return self.model.spec.n_params

    def information_criteria(self, style="sas", subjects="fitted"):
        """AIC, AICC, BIC as SAS PROC MIXED (``"sas"``) or lme4 (``"lme4"``) define them.

        ``subjects`` is the count in SAS's BIC ``-2l + d log(s)``: ``"fitted"`` (default,
        as mmrm) the independent units with at least one observation in the fit;
        ``"data"`` the subjects of the data set the formula read (after ``subset``),
        including those whose responses are all missing, which SAS counts in its
        "Dimensions" table and BIC (fev_data: 200 rather than 197).  ``"data"`` needs a
        model built by :meth:`MixedModel.from_formula`; see :attr:`MixedModel.n_subjects_data`.
        """
        if subjects not in ("fitted", "data"):
            raise ValueError(f"subjects must be 'fitted' or 'data', got {subjects!r}")
        m = self.model
        ll2 = -2.0 * self.llf
        n = m.nobs
        if style == "lme4":
            d = self.n_cov_params + m.rank
            return {"aic": ll2 + 2 * d, "bic": ll2 + d * np.log(n), "aicc": np.nan}
        if style != "sas":
            raise ValueError(f"unknown style {style!r}; valid values are 'sas', 'lme4'")
        d = self.n_cov_params + (0 if self.reml else m.rank)
        nstar = n - m.rank if self.reml else n
        s = m.n_blocks
        if subjects == "data":
            s = getattr(m, "n_subjects_data", None)
            if s is None:
                raise ValueError("subjects='data' needs a model built by "
                                 "MixedModel.from_formula (the data set's subjects)")
        return {"aic": ll2 + 2 * d, "aicc": ll2 + 2 * d * nstar / (nstar - d - 1),
                "bic": ll2 + d * np.log(s)}

    @property
    def aic(self):
        return self.information_criteria()["aic"]

    @property
    def aicc(self):
        return self.information_criteria()["aicc"]

    @property
    def bic(self):
        return self.information_criteria()["bic"]

    # -------------------------------------------------------- df machinery
    @cache_readonly
    def inference_inputs(self):
        """The frozen inputs of the df methods
        (:class:`~metamodels.inference.inputs.InferenceInputs`)."""
        return minf.build_inputs(self.model, self._fit)

    @cache_readonly
    def _ddf_objects(self):
        return {}

    def ddf_method(self, ddf=None):
        """The df method ``ddf`` (``default_ddf`` unless given) on this fit: a
        :class:`~metamodels.inference.ddf.DdfMethod` giving the covariance, t and F df
        every test and interval of these results use."""
        key = _check_ddf(ddf or self.default_ddf)
        if key not in self._ddf_objects:
            method = ddfmod.get_ddf(key, self.inference_inputs)
            if self.cov_type != "nonrobust":
                method = emp.EmpiricalDdf(method, self._sandwich, self.cov_type)
            self._ddf_objects[key] = method
        return self._ddf_objects[key]

    @cache_readonly
    def _sandwich(self):
        m = self.model
        inp = self.inference_inputs
        return emp.empirical_pieces(inp.X, m.endog, inp.beta, m.spec, self._fit.theta,
                                    m.block_ids, self.cov_type)

    @cache_readonly
    def cov_params_model_based(self):
        """The model-based covariance ``(X'V^{-1}X)^{-1}`` of the fixed effects, whatever
        ``cov_type`` is (DataFrame)."""
        names = self.model.exog_names
        return pd.DataFrame(self.normalized_cov_params * self.scale, index=names,
                            columns=names)

    def get_robustcov_results(self, cov_type="empirical"):
        """The same fit with another covariance of the fixed effects (statsmodels'
        name): ``"nonrobust"`` (model-based), ``"empirical"`` (SAS ``EMPIRICAL``, CR0),
        ``"empirical-jackknife"``, ``"empirical-bias-reduced"`` (mmrm) or ``"CR2"``
        (clubSandwich); see :mod:`metamodels.inference.empirical`."""
        return MixedResultsWrapper(MixedResults(self.model, self._fit, ddf=self.default_ddf,
                                                cov_type=cov_type))

    @property
    def _sens(self):
        return self.inference_inputs.sensitivities

    def kenward_roger_parts(self, flavour="kenward-roger"):
        """``(Phi_A, W)`` of a Kenward-Roger flavour: the adjusted covariance of the fixed
        effects and the covariance of theta it uses (see :data:`KR_FLAVOURS`)."""
        flavour = _check_ddf(flavour)
        if flavour not in KR_FLAVOURS:
            raise ValueError(f"{flavour!r} is not a Kenward-Roger method "
                             f"({', '.join(KR_FLAVOURS)})")
        method = self.ddf_method(flavour)
        return method.cov(), method.W

    @cache_readonly
    def cov_params_kr(self):
        """Kenward-Roger adjusted covariance of the fixed effects as SAS's ``DDFM=KR``
        (other flavours: :meth:`kenward_roger_parts`)."""
        return self.kenward_roger_parts("kenward-roger")[0]

    def _linear_inference(self, ddf=None):
        """Estimate, covariance and t df of ``L b`` under ``ddf`` (marginal means)."""
        method = self.ddf_method(ddf)
        return LinearInference(np.asarray(self._fit.beta, dtype=float), method.cov(),
                               method.t_df, method.name)

    # --------------------------------------------- aliased columns (accept_singular)
    @cache_readonly
    def _alias_map(self):
        m = self.model
        return alias_map(m.exog, m.aliased)

    def _estimable(self, L, require=True):
        """Rows of ``L`` on the estimable columns (all columns unless ``accept_singular``
        kept aliased ones) and whether each is estimable; ``require``: raise on a
        non-estimable row."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        aliased = self.model.aliased
        if not aliased.any():
            return L, np.ones(L.shape[0], dtype=bool)
        Le, ok = estimable_rows(L, self._alias_map, aliased)
        if require and not ok.all():
            raise ValueError(f"row(s) {list(np.flatnonzero(~ok))} of the contrast are not "
                             "estimable: the design has aliased columns "
                             f"({', '.join(self.model.aliased_names)}) and the contrast is "
                             "not in the row space of X")
        return Le, ok

    @property
    def _mean_params(self):
        # predictions: SAS's g2 solution (aliased coefficients 0)
        return np.asarray(self._fit.beta, dtype=float)

    @property
    def _mean_cov(self):
        return np.nan_to_num(np.asarray(self.cov_params(), dtype=float), nan=0.0)

    def _coef_df(self, L, ddf):
        """df of the rows of ``L`` (per coefficient, predictions): with aliased columns
        on SAS's g2 solution (aliased coefficients fixed at 0), as SAS's "Solution for
        Fixed Effects", lme4 and mmrm report them; rows with only aliased entries NaN."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        aliased = self.model.aliased
        if not aliased.any():
            return self.ddf_method(ddf).t_df(L)
        Le = L[:, ~aliased]
        df = np.full(L.shape[0], np.nan)
        ok = np.abs(Le).max(axis=1) > 0
        if ok.any():
            df[ok] = self.ddf_method(ddf).t_df(Le[ok])
        return df

    def df_fixed(self, ddf=None):
        """Denominator df of each fixed-effect coefficient."""
        return pd.Series(self._coef_df(np.eye(self.model.k_fe), ddf),
                         index=self.model.exog_names)

    def ddf_table(self, method):
        """``{term: (df, columns)}`` for the containment or between-within method."""
        return self.ddf_method(method).term_table

    def _cov_for(self, ddf):
        return self.ddf_method(ddf).cov()

    def cov_params(self, r_matrix=None, column=None, scale=None, cov_p=None, other=None):
        """Covariance of the fixed effects: the adjusted covariance when the results'
        ``default_ddf`` is a Kenward-Roger flavour, else ``(X'V^{-1}X)^{-1}``."""
        if cov_p is None and scale is None and self.ddf_method().adjusts_cov:
            cov_p = self.ddf_method().cov()
            if self.model.aliased.any():
                cov_p = expand_cov(cov_p, self.model.aliased)
        return super().cov_params(r_matrix=r_matrix, column=column, scale=scale, cov_p=cov_p,
                                  other=other)

    def coef_table(self, alpha=0.05, ddf=None):
        """Estimates, SEs, df, t values, p-values and confidence limits per coefficient
        (the covariance and df of the ``ddf`` method; :func:`metamodels.summary.tables.t_table`)."""
        method = self.ddf_method(ddf)
        inp = self.inference_inputs
        names = list(self.model.exog_names)
        est = [n for n, a in zip(names, self.model.aliased) if not a]
        tab = t_table(inp.beta, method.cov(), method.t_df(np.eye(inp.k_fe)), est, alpha)
        return tab if len(est) == len(names) else tab.reindex(names)

    @cache_readonly
    def pvalues(self):
        """Two-sided p-values of the coefficients with ``default_ddf``."""
        return self.coef_table()["P>|t|"].to_numpy()

    def conf_int(self, alpha=0.05, cols=None, ddf=None):
        """Confidence intervals of the fixed effects with ``ddf`` degrees of freedom
        (``default_ddf`` unless given)."""
        tab = self.coef_table(alpha, ddf)
        out = tab.iloc[:, -2:].to_numpy()
        return out if cols is None else out[cols]

    def _constraints(self, r_matrix, q_matrix=None, overrides=None):
        given = sorted(k for k, v in (overrides or {}).items() if v is not None)
        if given:
            raise ValueError(f"{', '.join(given)} not supported: MixedModel tests take their "
                             "covariance and df from the ddf method (ddf=, or fit(ddf=))")
        return linear_constraints(r_matrix, self.model.exog_names, q_matrix)

    def t_test(self, r_matrix, ddf=None, q_matrix=None, cov_p=None, use_t=None):
        """t tests of linear contrasts ``L b = q``, each row with its own ``ddf`` df.

        ``r_matrix`` takes statsmodels' forms (``"Days = 0"``, ``"a = b, c = 0"``, a matrix,
        or ``(L, q)``); the Kenward-Roger test uses the adjusted covariance.
        """
        ddf = ddf or self.default_ddf
        L, q0 = self._constraints(r_matrix, q_matrix, {"cov_p": cov_p, "use_t": use_t})
        L = self._estimable(L)[0]
        C = self._cov_for(ddf)
        est = L @ self.inference_inputs.beta
        sd = np.sqrt(np.einsum("ip,pq,iq->i", L, C, L))
        df = self.ddf_method(ddf).t_df(L)
        return ContrastResults(effect=est - q0, t=(est - q0) / sd, sd=sd, df_denom=df)

    def f_test(self, r_matrix, ddf=None, q_matrix=None, cov_p=None, invcov=None):
        """F test of the joint hypothesis ``L b = q`` with ``ddf`` denominator df.

        Satterthwaite: lmerTest's ``contestMD`` (eigen-contrasts of ``L C L'``, each with
        its t-df, combined by ``2E/(E - q)``); Kenward-Roger: the scaled F and df of
        pbkrtest; residual, containment, between-within: the Wald F with their df.
        Redundant rows of ``L`` are dropped (``df_num`` is the rank).
        """
        return self.wald_test(r_matrix, use_f=True, ddf=ddf, q_matrix=q_matrix, cov_p=cov_p,
                              invcov=invcov)

    def wald_test(self, r_matrix, use_f=True, ddf=None, q_matrix=None, scalar=True, cov_p=None,
                  invcov=None, df_constraints=None):
        """Wald test of ``L b = q``: the F form of :meth:`f_test` (``use_f=True``, with
        ``ddf`` denominator df), or the chi2 form ``q F`` with the covariance of the
        ``ddf`` method (``use_f=False``; Kenward-Roger's adjusted covariance for KR)."""
        ddf = _check_ddf(ddf or self.default_ddf)
        L, q0 = self._constraints(r_matrix, q_matrix, {"cov_p": cov_p, "invcov": invcov,
                                                       "df_constraints": df_constraints})
        L = self._estimable(L)[0]
        method = self.ddf_method(ddf)
        if use_f or use_f is None:
            F, q, den, _ = method.f_test(L, rhs=q0)
            return ContrastResults(F=F, df_num=q, df_denom=den)
        stat, q, _ = method.chi2_test(L, rhs=q0)
        return ContrastResults(chi2=stat, df_denom=q, statistic=stat, distribution="chi2",
                               distargs=(q,))

    def anova(self, type=3, ddf=None, basis="sas"):  # noqa: A002 - statsmodels/R vocabulary
        """F tests of fixed-effect terms with ``ddf`` denominator df.

        Parameters
        ----------
        type : {1, 2, 3}
            1: sequential (each term after the terms before it; SAS Type I, lmerTest
            type 1); 2: each term after all terms that do not contain it (SAS Type II,
            lmerTest type 2); 3: marginal hypotheses with sum-to-zero coded factors (SAS
            Type III, lmerTest type 3).
        ddf : str, optional
            satterthwaite, kenward-roger (-linear, -expected), residual, containment,
            between-within or hlm.
        basis : {"sas", "lmertest"}
            The rows of each term's hypothesis matrix (:mod:`metamodels.mixed.contrast_basis`):
            SAS's (one row per non-aliased column of the term when the **last** level of
            every factor is the reference; default) or lmerTest's (the **first** level;
            types 1 and 2 in the model's own coding).  F, numerator df and Kenward-Roger
            df do not depend on it; the multi-df Satterthwaite df (Fai and Cornelius) do.

        Returns a DataFrame with columns num_df, den_df, F, pvalue indexed by term.
        """
        return minf.anova_table(self, type, _check_ddf(ddf or self.default_ddf), basis)

    def f_test_terms(self, L, ddf=None):
        """F test of ``L b = 0`` with the chosen ddf method: (F, num_df, den_df, pvalue)."""
        return tuple(self.ddf_method(ddf).f_test(np.atleast_2d(L)))

    def wald_test_terms(self, *args, **kwargs):
        """Not offered: use :meth:`anova` (type-1/2/3 F tests per term with the results'
        ddf), which replaces statsmodels' residual-df ``wald_test_terms``."""
        raise NotImplementedError("use anova(type=..., ddf=...) for per-term tests of a "
                                  "MixedModel fit")

    # ------------------------------------------------- prediction (base hooks)
    def _prediction_df(self, X0):
        """Denominator df of ``x_0'b`` by the default ddf method."""
        return self._coef_df(np.atleast_2d(X0), self.default_ddf)

    def _new_obs_variance(self, exog, X0):
        """``z_0' G z_0`` plus the residual variance of a new observation (for new rows
        the R-side diagonal must be the same at every repeated level; otherwise NaN with
        a warning)."""
        n = X0.shape[0]
        extra = self._random_effects_variance(exog, n)
        res = self.model.residual
        diags = [res.structure.diagonal(t) for t in self.model.spec.split(self._fit.theta)[1]]
        if exog is None:
            diag = np.array(diags)
            return extra + diag[res.cov_group, res.visit]
        d = np.concatenate(diags)
        if np.ptp(d) > 1e-12 * max(1.0, abs(d).max()):
            import warnings
            from ..exceptions import MetaModelsWarning
            warnings.warn("residual variances differ by repeated level or group: the "
                          "prediction interval of new rows is undefined (obs_ci_* are NaN)",
                          MetaModelsWarning, stacklevel=3)
            return np.full(n, np.nan)
        return extra + d[0]

    # --------------------------------------------------------------- summary
    def summary(self, alpha=0.05, ddf=None):
        """Model information, fit statistics, covariance parameters and fixed effects."""
        ddf = _check_ddf(ddf or self.default_ddf)
        m = self.model
        ic = self.information_criteria()
        info = {"Model:": "MixedModel", "Method:": self.method,
                "No. observations:": str(int(m.nobs)), "No. units (blocks):": str(m.n_blocks),
                "R-side structure:": getattr(m.residual.structure, "label",
                                             m.residual.structure.name),
                "Converged:": "Yes" if self.converged else "No",
                ("-2 Res Log Likelihood:" if self.reml else "-2 Log Likelihood:"):
                    "%.4f" % (-2 * self.llf),
                "AIC:": "%.4f" % ic["aic"], "AICC:": "%.4f" % ic["aicc"],
                "BIC:": "%.4f" % ic["bic"], "DDF method:": ddf}
        if self.cov_type != "nonrobust":
            info["Cov. of fixed effects:"] = self.cov_type
        if m.aliased.any():
            info["Not estimable (aliased):"] = ", ".join(m.aliased_names)
        cp = self.covariance_parameters()[["estimate", "std_err", "z"]]
        cp.columns = ["Cov. param.", "Std.Err.", "z"]
        return make_summary("MixedModel Results", info, [self.coef_table(alpha, ddf), cp])


class MixedResultsWrapper(LikelihoodResultsWrapper):
    _attrs = {"fe_params": "columns"}
    _wrap_attrs = wrap.union_dicts(LikelihoodResultsWrapper._wrap_attrs, _attrs)


wrap.populate_wrapper(MixedResultsWrapper, MixedResults)
