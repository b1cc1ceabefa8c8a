"""Random effects of a MixedModel fit: EBLUPs, their conditional covariance, the
conditional fitted values and residuals, and their plots (a mixin of
:class:`~metamodels.mixed.results.MixedResults`)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._compat import cache_readonly
from ..core.blocks import solve_blocks
from .levels import level_index, level_labels

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["RandomEffectsMixin"]


class RandomEffectsMixin:
    """EBLUPs ``u = G Z' V^{-1}(y - X b)`` per random term and what is built on them
    (needs ``model`` and ``_fit`` of a fitted MixedModel)."""

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
    def random_effects(self) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """EBLUPs ``G Z' V^{-1}(y - Xb)`` per level (a DataFrame, or a dict per term).

        Rows are labelled by the levels of the grouping factor (formula models; nested
        levels joined by ":", as lme4's row names), columns by the term's design
        columns; array input gives levels 0, 1, ....
        """
        m = self.model
        frames = {}
        for t, part in enumerate(m.spec.random):
            U = self._blups[part.name]
            frames[part.name] = pd.DataFrame(U, columns=list(part.column_names),
                                             index=level_index(m, t, U.shape[0]))
        return next(iter(frames.values())) if len(frames) == 1 else frames

    @cache_readonly
    def random_effects_cov(self) -> np.ndarray | dict[str, np.ndarray]:
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

    def random_effects_frame(self) -> pd.DataFrame:
        """EBLUPs with their conditional standard deviations in long form.

        lme4's ``as.data.frame(ranef(fit, condVar = TRUE))``; the input of
        :func:`metamodels.plots.caterpillar_plot`.

        Returns
        -------
        pandas.DataFrame
            One row per (term, level, design column): ``term``, ``level`` (the grouping
            values for formula models, nested levels joined by ":"; 0, 1, ... for array
            input), ``column``, ``estimate`` (the EBLUP) and ``se`` (square root of the
            diagonal of :attr:`random_effects_cov`).

        Examples
        --------
        >>> import metamodels as mm
        >>> sleep = mm.datasets.load("sleepstudy")
        >>> res = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)",
        ...                                  sleep).fit()
        >>> print(res.random_effects_frame().head(2).round(2))
              term level       column  estimate     se
        0  Subject   308  (Intercept)      2.26  12.07
        1  Subject   309  (Intercept)    -40.40  12.07
        """
        covs = self.random_effects_cov
        spec = self.model.spec
        if len(spec.random) == 1:
            covs = {spec.random[0].name: covs}
        pieces = []
        for t, part in enumerate(spec.random):
            U = self._blups[part.name]
            labels = level_labels(self.model, t, U.shape[0])
            sd = np.sqrt(np.clip(np.diagonal(covs[part.name], axis1=1, axis2=2), 0, None))
            for j, col in enumerate(part.column_names):
                pieces.append(pd.DataFrame({"term": part.name, "level": labels,
                                            "column": col, "estimate": U[:, j],
                                            "se": sd[:, j]}))
        return pd.concat(pieces, ignore_index=True)

    def plot_caterpillar(self, alpha: float = 0.05, **kwargs: Any) -> Figure:
        """Caterpillar plot of the EBLUPs with their conditional intervals.

        lme4's ``dotplot(ranef(fit, condVar = TRUE))``: one panel per random term and
        design column, levels sorted by their estimates.

        Parameters
        ----------
        alpha : float, default 0.05
            Intervals ``estimate +/- z_{1-alpha/2} se`` from the conditional variances.
        **kwargs
            Further keywords of :func:`metamodels.plots.caterpillar_plot` (``sort``,
            ``ax``, ``figsize``, ``refline``, ``max_labels``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots import caterpillar_plot
        return caterpillar_plot(self, alpha=alpha, **kwargs)

    def plot_diagnostics(self, **kwargs: Any) -> Figure:
        """Residuals vs fitted, normal QQ and scale-location panels.

        The residuals are the conditional Pearson residuals
        (:attr:`resid_pearson_conditional`) against the conditional fitted values, as
        lme4's ``plot(fit)`` and SAS's ``PLOTS=RESIDUALPANEL``.

        Parameters
        ----------
        **kwargs
            Keywords of :func:`metamodels.plots.diagnostics_plot` (``which``,
            ``smooth``, ``figsize``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots import diagnostics_plot
        return diagnostics_plot(self, **kwargs)

    @cache_readonly
    def resid_pearson_conditional(self) -> np.ndarray:
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
    def fittedvalues(self) -> np.ndarray:
        """Conditional fitted values ``X b + Z u``."""
        m = self.model
        f = m.exog @ np.asarray(self._fit.beta)
        for part in m.spec.random:
            f = f + np.einsum("ij,ij->i", part.Z, self._blups[part.name][part.groups])
        return f

    @cache_readonly
    def resid(self) -> np.ndarray:
        """Conditional residuals ``y - X b - Z u``."""
        return self.model.endog - self.fittedvalues
