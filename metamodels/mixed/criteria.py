"""Information criteria of a MixedModel fit as SAS PROC MIXED and lme4 define them
(a mixin of :class:`~metamodels.mixed.results.MixedResults`)."""
from __future__ import annotations

from typing import Literal

import numpy as np

from .._compat import cache_readonly

__all__ = ["InformationCriteriaMixin"]


class InformationCriteriaMixin:
    """``aic``, ``aicc``, ``bic`` and :meth:`information_criteria` (needs ``model`` and
    ``llf`` of a fitted MixedModel)."""

    @cache_readonly
    def n_cov_params(self) -> int:
        """Number of estimated covariance parameters (the length of :attr:`theta`)."""
        return self.model.spec.n_params

    def information_criteria(self, style: Literal["sas", "lme4"] = "sas",
                             subjects: Literal["fitted", "data"] = "fitted"
                             ) -> dict[str, float]:
        """AIC, AICC and BIC as SAS PROC MIXED (``"sas"``) or lme4 (``"lme4"``) define them.

        Parameters
        ----------
        style : {"sas", "lme4"}, default "sas"
            ``"sas"``: ``d`` = covariance parameters (REML) or covariance parameters
            plus ``rank(X)`` (ML), AICC with ``n* = n - rank(X)`` (REML) or ``n`` (ML), BIC
            with ``log(s)``, ``s`` the subjects (see the class Notes).  ``"lme4"``: ``d``
            = fixed plus covariance parameters for REML and ML alike, BIC with
            ``log(n)``, no AICC (NaN), as lme4's ``AIC()``/``BIC()``.
        subjects : {"fitted", "data"}, default "fitted"
            The count ``s`` in SAS's BIC ``-2l + d log(s)``: ``"fitted"`` (as mmrm) the
            independent units with at least one observation in the fit; ``"data"`` the
            subjects of the data set the formula read (after ``subset``), including
            those whose responses are all missing, which SAS counts in its "Dimensions"
            table and BIC (fev_data: 200 rather than 197).  ``"data"`` needs a model
            built by :meth:`MixedModel.from_formula`.  Not used with ``"lme4"``.

        Returns
        -------
        dict
            ``{"aic": ..., "aicc": ..., "bic": ...}`` (floats).

        Raises
        ------
        ValueError
            An unknown ``style`` or ``subjects``, or ``subjects="data"`` for a model
            built from arrays.

        Examples
        --------
        >>> import metamodels as mm
        >>> sleep = mm.datasets.load("sleepstudy")
        >>> res = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)",
        ...                                  sleep).fit()
        >>> ic = res.information_criteria()              # SAS: 4 covariance parameters
        >>> print(round(float(ic["aic"]), 2), round(float(ic["bic"]), 2))
        1751.63 1755.19
        >>> lme4 = res.information_criteria("lme4")      # lme4: AIC(fit), 6 parameters
        >>> print(round(float(lme4["aic"]), 2))
        1755.63
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
    def aic(self) -> float:
        """Akaike's criterion as SAS PROC MIXED computes it (:meth:`information_criteria`)."""
        return self.information_criteria()["aic"]

    @property
    def aicc(self) -> float:
        """Small-sample corrected AIC as SAS PROC MIXED computes it
        (:meth:`information_criteria`)."""
        return self.information_criteria()["aicc"]

    @property
    def bic(self) -> float:
        """Schwarz's criterion as SAS PROC MIXED computes it, ``log`` of the number of
        independent units (:meth:`information_criteria`)."""
        return self.information_criteria()["bic"]
