"""Shared pieces of results fitted on the engine with metafor-style fit statistics."""
from __future__ import annotations

import numpy as np

from .._compat import cache_readonly
from ..inference import information_criteria, lr_test

__all__ = ["EngineMetaResultsMixin"]


class EngineMetaResultsMixin:
    """Log-likelihood, metafor's log-likelihood, information criteria and LR tests.

    Classes using it hold the engine evaluation ``_ev`` and ``reml``, and define
    ``n_params_total`` (coefficients + covariance parameters).  Criteria use
    ``n - p`` observations under REML, as metafor does.
    """

    def _set_engine_fit(self, model, outcome, method):
        """Record the optimiser outcome and the model's counts (called first in
        ``__init__``, before ``LikelihoodModelResults.__init__``)."""
        self._outcome = outcome
        self._ev = outcome.evaluation
        self.method = method
        self.reml = method == "REML"
        self.converged = outcome.converged
        self.n_iter = outcome.n_iter
        self.nobs = model.nobs
        self.df_resid = model.df_resid
        self.df_model = model.df_model

    @cache_readonly
    def llf(self):
        """Maximised (restricted) log-likelihood, SAS/lme4 REML convention."""
        return self._ev.llf

    @cache_readonly
    def llf_metafor(self):
        """Log-likelihood on metafor's scale (REML adds ``1/2 log|X'X|``)."""
        if not self.reml:
            return self.llf
        X = self.model.exog
        return self.llf + 0.5 * np.linalg.slogdet(X.T @ X)[1]

    @cache_readonly
    def _ic(self):
        n = self.nobs - self.model.exog.shape[1] if self.reml else self.nobs
        return information_criteria(self.llf, self.n_params_total, n)

    @property
    def aic(self):
        return self._ic[0]

    @property
    def bic(self):
        return self._ic[1]

    @property
    def aicc(self):
        return self._ic[2]

    def _lr_test_against(self, restricted, cls, what):
        """LR test against a nested ``cls`` result (same method; REML needs equal X)."""
        restricted = getattr(restricted, "_results", restricted)
        if not isinstance(restricted, cls):
            raise TypeError(f"restricted must be a {what} result")
        if self.reml != restricted.reml:
            raise ValueError("cannot compare fits made with different methods (REML vs ML)")
        if self.reml and not (self.model.exog.shape == restricted.model.exog.shape
                              and np.allclose(self.model.exog, restricted.model.exog)):
            raise ValueError("REML log-likelihoods of models with different fixed effects are "
                             "not comparable; refit both with method='ML'")
        return lr_test(self.llf, restricted.llf, self.n_params_total - restricted.n_params_total)
