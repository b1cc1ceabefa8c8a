"""Posterior draws of a Bayesian :class:`~metamodels.MixedModel` and their summaries."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np
import pandas as pd

from ..._compat import cache_readonly
from ...summary import make_summary
from .deviance import MarginalDeviance
from .diagnostics import ess, hpd_interval, rhat

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from statsmodels.iolib.summary2 import Summary

    from ...mixed.model import MixedModel
    from .layout import GibbsLayout
    from .priors import GibbsPriors
    from .sampler import GibbsDraws

__all__ = ["BayesMixedResults", "DIC", "PosteriorContrast", "GibbsSettings",
           "PosteriorIntervalsTable"]


@dataclass(frozen=True)
class GibbsSettings:
    """Sampler settings of a fit (``seed`` is the one actually used); ``res.settings``.

    Parameters
    ----------
    draws : int
        Iterations per chain after burn-in (SAS ``NMC=``).
    burn : int
        Burn-in iterations per chain (SAS ``NBI=``).
    thin : int
        Thinning interval (SAS ``THIN=``).
    chains : int
        Number of chains.
    seed : int
        Seed of the random number generator (drawn and recorded when none was given).
    seconds : float
        Wall-clock sampling time.
    """

    draws: int
    burn: int
    thin: int
    chains: int
    seed: object
    seconds: float


@dataclass(frozen=True)
class DIC:
    r"""Deviance information criterion (Spiegelhalter et al. 2002).

    ``D(b, theta) = -2 log p(y | b, theta)`` is the *marginal* deviance (random effects
    integrated out, as in ``-2 llf`` of an ML fit); ``dbar`` is its posterior mean,
    ``dhat`` its value at the posterior mean of ``(b, theta)``, ``pd = dbar - dhat`` and
    ``dic = dbar + pd``.  ``n_draws`` draws (evenly spaced over all chains) were used.
    SAS PROC BGLIMM's ``DIC`` option reports the same four numbers.

    Parameters
    ----------
    dic : float
        Deviance information criterion ``dbar + pd`` (smaller is better).
    pd : float
        Effective number of parameters ``dbar - dhat``.
    dbar : float
        Posterior mean of the deviance.
    dhat : float
        Deviance at the posterior means.
    n_draws : int
        Number of posterior draws used.

    Notes
    -----
    .. math::

        D(\beta, \theta) = -2 \log p(y \mid \beta, \theta), \quad
        \bar D = E[D \mid y], \quad \hat D = D(E[\beta \mid y], E[\theta \mid y]), \quad
        p_D = \bar D - \hat D, \quad \mathrm{DIC} = \bar D + p_D.

    References
    ----------
    Spiegelhalter DJ, Best NG, Carlin BP, van der Linde A (2002). Bayesian measures of
    model complexity and fit. Journal of the Royal Statistical Society B 64(4),
    583-639.

    Examples
    --------
    >>> import metamodels as mm
    >>> df = mm.datasets.load("sleepstudy")
    >>> model = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", data=df)
    >>> post = model.fit_bayes(draws=500, burn=200, chains=2, seed=1)
    >>> print(post.dic)  # doctest: +ELLIPSIS
    DIC = ... (pD = ..., Dbar = ..., Dhat = ...; 1000 draws)
    >>> bool(post.dic.dic > post.dic.dbar)          # pD > 0
    True
    """

    dic: float
    pd: float
    dbar: float
    dhat: float
    n_draws: int

    def __str__(self):
        return (f"DIC = {self.dic:.3f} (pD = {self.pd:.3f}, Dbar = {self.dbar:.3f}, "
                f"Dhat = {self.dhat:.3f}; {self.n_draws} draws)")


@dataclass(frozen=True, eq=False)
class PosteriorContrast:
    """Posterior of linear contrasts ``L b - c`` of the fixed effects.

    Returned by :meth:`BayesMixedResults.estimate` (SAS ``ESTIMATE`` statement of PROC
    BGLIMM); prints as a table.

    Parameters
    ----------
    names : tuple of str
        One name per contrast.
    mean, sd, hpd_lower, hpd_upper, prob_positive : ndarray (k,)
        Posterior mean, standard deviation, HPD limits and ``P(L b - c > 0 | y)``.
    alpha : float
        The HPD intervals contain ``1 - alpha`` of the draws.
    draws : ndarray (chains, S, k)
        Posterior draws of the contrasts.
    """

    names: tuple
    mean: np.ndarray
    sd: np.ndarray
    hpd_lower: np.ndarray
    hpd_upper: np.ndarray
    prob_positive: np.ndarray
    alpha: float
    draws: np.ndarray

    def summary_frame(self) -> pd.DataFrame:
        """One row per contrast: mean, sd, hpd_lower, hpd_upper, prob_positive.

        Returns
        -------
        DataFrame
            Indexed by the contrast names.
        """
        return pd.DataFrame({"mean": self.mean, "sd": self.sd, "hpd_lower": self.hpd_lower,
                             "hpd_upper": self.hpd_upper, "prob_positive": self.prob_positive},
                            index=list(self.names))

    def __str__(self):
        return (f"Posterior of contrasts ({100 * (1 - self.alpha):g}% HPD)\n"
                + self.summary_frame().to_string(float_format=lambda v: f"{v:.4f}"))

    __repr__ = __str__


class PosteriorIntervalsTable:
    """PROC BGLIMM's "Posterior Summaries and Intervals" table (ODS ``PostSumInt``).

    ``frame`` holds the numbers (:meth:`BayesMixedResults.sas_summary_frame`); ``str()``
    prints SAS's layout: Parameter, N, Mean, Standard Deviation and the HPD interval
    under one spanning header.  Returned by ``BayesMixedResults.summary(style="sas")``.

    Parameters
    ----------
    frame : DataFrame
        Columns ``N``, ``Mean``, ``Standard Deviation``, ``HPD Lower``, ``HPD Upper``,
        one row per parameter.
    alpha : float
        The HPD intervals are ``1 - alpha`` intervals (for the header).
    """

    def __init__(self, frame: pd.DataFrame, alpha: float = 0.05) -> None:
        self.frame = frame
        self.alpha = float(alpha)

    def as_text(self) -> str:
        """The table as text, in SAS's layout.

        Returns
        -------
        str
        """
        f = self.frame
        names = [str(n) for n in f.index]
        wp = max([len("Parameter")] + [len(n) for n in names])
        num = "{:>10.4f}"
        head_hpd = f"{100 * (1 - self.alpha):g}% HPD Interval"
        rows = [f"{n:<{wp}}  {int(r['N']):>7d}  " + num.format(r["Mean"])
                + "   " + num.format(r["Standard Deviation"])
                + "  " + num.format(r["HPD Lower"]) + "  " + num.format(r["HPD Upper"])
                for n, r in zip(names, f.to_dict("records"))]
        width = max(len(r) for r in rows)
        line1 = f"{'':<{wp}}  {'':>7}  {'':>10}   {'Standard':>10}"
        line2 = (f"{'Parameter':<{wp}}  {'N':>7}  {'Mean':>10}   {'Deviation':>10}  "
                 f"{head_hpd:^22}")
        title = "Posterior Summaries and Intervals"
        width = max(width, len(line1), len(title))
        lines = [f"{title:^{width}}", "=" * width, line1, line2, "-" * width] + rows
        return "\n".join([line.rstrip() for line in lines] + ["=" * width])

    def __str__(self):
        return self.as_text()

    def __repr__(self):
        return self.as_text()


class BayesMixedResults:
    """Posterior of a :class:`~metamodels.MixedModel` sampled by
    :func:`~metamodels.bayes.gibbs.fit_bayes`.

    Parameters are the fixed effects ``b`` (``model.exog_names``) and the covariance
    parameters ``theta`` named and ordered like the frequentist ``res.theta`` (G side, then
    R side).  All summaries pool the chains.  The counterpart of SAS PROC BGLIMM's
    output: ``summary(style="sas")`` is its "Posterior Summaries and Intervals" table,
    :attr:`draws` its ``OUTPOST=`` data set, :meth:`estimate` its ``ESTIMATE``
    statement and :attr:`dic` its ``DIC`` option.

    Attributes
    ----------
    model : MixedModel
        The model that was sampled.
    priors : GibbsPriors
        The priors used.
    settings : GibbsSettings
        Draws, burn-in, thinning, chains, seed and sampling time.
    names : list of str
        Parameter names: fixed effects first (model order), then covariance parameters.
    fe_names, theta_names : list of str
        The fixed-effect and covariance-parameter names.

    Parameters
    ----------
    model : MixedModel
        The sampled model.
    layout : GibbsLayout
        The sampler's layout of the model (random terms, residual classes, priors).
    raw : GibbsDraws
        Raw draws of :meth:`GibbsSampler.run`.
    settings : GibbsSettings
        Sampler settings.
    priors : GibbsPriors
        The priors.

    See Also
    --------
    fit_bayes : creates these results (``MixedModel.fit_bayes``).

    Notes
    -----
    The model and the priors are written out in :mod:`metamodels.bayes.gibbs` and
    :func:`fit_bayes`.  HPD intervals are the shortest intervals containing
    ``1 - alpha`` of the pooled draws; ESS and R-hat follow Vehtari et al. (2021).

    References
    ----------
    Vehtari A, Gelman A, Simpson D, Carpenter B, Buerkner P-C (2021).
    Rank-normalization, folding, and localization: an improved R-hat for assessing
    convergence of MCMC. Bayesian Analysis 16(2), 667-718.

    Examples
    --------
    >>> import metamodels as mm
    >>> df = mm.datasets.load("sleepstudy")
    >>> model = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", data=df)
    >>> post = model.fit_bayes(draws=500, burn=200, chains=2, seed=1)
    >>> post.names
    ['Intercept', 'Days', 'Subject Var((Intercept))', 'Subject Cov((Intercept),Days)',
     'Subject Var(Days)', 'Residual']
    >>> bool(abs(post.params["Days"] - 10.47) < 1)        # lme4: 10.47
    True
    >>> bool((post.rhat < 1.05).all())
    True
    >>> post.summary_frame().columns.tolist()
    ['mean', 'sd', 'hpd_lower', 'hpd_upper', 'ess', 'rhat']
    """

    def __init__(self, model: MixedModel, layout: GibbsLayout, raw: GibbsDraws,
                 settings: GibbsSettings, priors: GibbsPriors) -> None:
        self.model = model
        self.priors = priors
        self.settings = settings
        self._layout = layout
        self._raw = raw
        self.fe_names = list(layout.exog_names)
        self.theta_names = list(layout.theta_names)
        self.names = self.fe_names + self.theta_names
        self._x = np.concatenate([raw.beta, raw.theta], axis=2)       # (chains, S, k)
        self._summaries = {}

    # ----------------------------------------------------------------- draws
    @property
    def nchains(self) -> int:
        """Number of chains."""
        return self._x.shape[0]

    @property
    def ndraws(self) -> int:
        """Kept draws per chain."""
        return self._x.shape[1]

    @cache_readonly
    def draws(self) -> pd.DataFrame:
        """All kept draws as a DataFrame (like SAS ``OUTPOST=``): columns ``chain``,
        ``iteration`` (after burn-in) and one per parameter."""
        C, S, k = self._x.shape
        frame = pd.DataFrame(self._x.reshape(C * S, k), columns=self.names)
        frame.insert(0, "iteration", np.tile(self._raw.iteration, C))
        frame.insert(0, "chain", np.repeat(np.arange(C), S))
        return frame

    def chain_array(self, name: str | None = None) -> np.ndarray:
        """Draws as ``(chains, S)`` for one parameter, or ``(chains, S, k)`` for all.

        Parameters
        ----------
        name : str, optional
            A parameter of :attr:`names`; all parameters when omitted.

        Returns
        -------
        ndarray
            ``(chains, S)`` or ``(chains, S, k)`` (columns in :attr:`names` order); a
            view of the stored draws, not a copy.
        """
        if name is None:
            return self._x
        return self._x[..., self.names.index(name)]

    # ------------------------------------------------------------- summaries
    @cache_readonly
    def posterior_mean(self) -> pd.Series:
        """Posterior means of all parameters (pooled chains), indexed by :attr:`names`."""
        return pd.Series(self._x.mean(axis=(0, 1)), index=self.names)

    @cache_readonly
    def posterior_sd(self) -> pd.Series:
        """Posterior standard deviations of all parameters (pooled chains, ``ddof=1``)."""
        flat = self._x.reshape(-1, self._x.shape[-1])
        return pd.Series(flat.std(axis=0, ddof=1), index=self.names)

    @property
    def params(self) -> pd.Series:
        """Posterior means of the fixed effects."""
        return self.posterior_mean[self.fe_names]

    @property
    def bse(self) -> pd.Series:
        """Posterior standard deviations of the fixed effects."""
        return self.posterior_sd[self.fe_names]

    @property
    def theta(self) -> pd.Series:
        """Posterior means of the covariance parameters (``res.theta`` names)."""
        return self.posterior_mean[self.theta_names]

    @cache_readonly
    def ess(self) -> pd.Series:
        """Effective sample size of each parameter (split chains, Geyer's initial
        monotone sequence; Vehtari et al. 2021; R's ``posterior::ess_basic``; see
        :func:`~metamodels.bayes.gibbs.ess`)."""
        return pd.Series(ess(self._x), index=self.names)

    @cache_readonly
    def rhat(self) -> pd.Series:
        """Rank-normalised split R-hat of each parameter (Vehtari et al. 2021; R's
        ``posterior::rhat``; see :func:`~metamodels.bayes.gibbs.rhat`)."""
        return pd.Series(rhat(self._x), index=self.names)

    def hpd(self, alpha: float = 0.05) -> pd.DataFrame:
        """HPD intervals of all parameters (pooled chains).

        Parameters
        ----------
        alpha : float
            Each interval is the shortest containing ``1 - alpha`` of the draws
            (default 0.05).

        Returns
        -------
        DataFrame
            Columns ``lower``, ``upper``, indexed by :attr:`names`.

        Raises
        ------
        ValueError
            Unless ``0 < alpha < 1``.
        """
        return pd.DataFrame(hpd_interval(self._x, alpha), index=self.names,
                            columns=["lower", "upper"])

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Posterior summary table, one row per parameter.

        Fixed effects first in model order, then covariance parameters in ``res.theta``
        order: posterior mean, sd, ``1 - alpha`` HPD limits, effective sample size and
        R-hat.

        Parameters
        ----------
        alpha : float
            ``1 - alpha`` HPD intervals (default 0.05).

        Returns
        -------
        DataFrame
            Columns ``mean``, ``sd``, ``hpd_lower``, ``hpd_upper``, ``ess``, ``rhat``
            (a copy).
        """
        key = float(alpha)
        if key not in self._summaries:
            h = hpd_interval(self._x, alpha)
            self._summaries[key] = pd.DataFrame(
                {"mean": self.posterior_mean, "sd": self.posterior_sd, "hpd_lower": h[:, 0],
                 "hpd_upper": h[:, 1], "ess": self.ess, "rhat": self.rhat},
                index=self.names)
        return self._summaries[key].copy()

    # ------------------------------------------------------------ contrasts
    def _contrast_matrix(self, L):
        from patsy import DesignInfo
        if isinstance(L, str) or (isinstance(L, (list, tuple)) and L
                                  and all(isinstance(x, str) for x in L)):
            items = [L] if isinstance(L, str) else list(L)
            lc = DesignInfo(self.fe_names).linear_constraint(items)
            return lc.coefs, lc.constants[:, 0], tuple(items)
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if L.shape[1] != len(self.fe_names):
            raise ValueError(f"L must have {len(self.fe_names)} columns (one per fixed "
                             f"effect: {self.fe_names})")
        return L, np.zeros(L.shape[0]), tuple(f"L{i + 1}" for i in range(L.shape[0]))

    def estimate(self, L: str | Sequence[str] | ArrayLike, alpha: float = 0.05,
                 names: Sequence[str] | None = None) -> PosteriorContrast:
        """Posterior of linear contrasts of the fixed effects (SAS ``ESTIMATE``).

        Parameters
        ----------
        L : str, list of str, array_like (p,) or (k, p)
            Contrast(s): patsy-style strings such as ``"C(drug)[T.c] - C(drug)[T.p]"``
            (``"... = 1"`` subtracts the constant), or coefficient vectors/rows.
        alpha : float
            The HPD intervals contain ``1 - alpha`` of the posterior.
        names : list of str, optional
            Names of the contrasts (default: the strings, or ``L1``, ``L2``, ...).

        Returns
        -------
        PosteriorContrast
            Posterior mean, sd, HPD interval and ``P(L b - c > 0 | y)`` per contrast,
            with the draws.

        Raises
        ------
        ValueError
            If a coefficient row does not have one entry per fixed effect or ``alpha``
            is not in ``(0, 1)``.

        Examples
        --------
        >>> import metamodels as mm
        >>> df = mm.datasets.load("sleepstudy")
        >>> model = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", data=df)
        >>> post = model.fit_bayes(draws=500, burn=200, chains=2, seed=1)
        >>> con = post.estimate(["Days = 10"])
        >>> con.names, bool(con.prob_positive[0] > 0.5)
        (('Days = 10',), True)
        """
        Lm, c0, default = self._contrast_matrix(L)
        beta = self._raw.beta                                           # (C, S, p)
        draws = beta @ Lm.T - c0
        flat = draws.reshape(-1, draws.shape[-1])
        h = hpd_interval(draws, alpha)
        return PosteriorContrast(tuple(names) if names is not None else default,
                                 flat.mean(axis=0), flat.std(axis=0, ddof=1), h[:, 0], h[:, 1],
                                 (flat > 0).mean(axis=0), float(alpha), draws)

    # ------------------------------------------------------------------ DIC
    def deviance_information(self, max_draws: int | None = 2000) -> DIC:
        """:class:`DIC` from at most ``max_draws`` evenly spaced draws.

        Parameters
        ----------
        max_draws : int or None
            Maximum number of pooled draws at which the marginal deviance is evaluated
            (default 2000); ``None`` uses all.

        Returns
        -------
        DIC
        """
        flat = self._x.reshape(-1, self._x.shape[-1])
        if max_draws is not None and flat.shape[0] > max_draws:
            flat = flat[np.linspace(0, flat.shape[0] - 1, int(max_draws)).astype(int)]
        p = len(self.fe_names)
        dev = MarginalDeviance(self.model)
        d = dev(flat[:, :p], flat[:, p:])
        mean = self.posterior_mean.to_numpy()
        dhat = float(dev(mean[None, :p], mean[None, p:])[0])
        dbar = float(np.mean(d))
        return DIC(dbar + (dbar - dhat), dbar - dhat, dbar, dhat, flat.shape[0])

    @cache_readonly
    def dic(self) -> DIC:
        """:class:`DIC` (marginal deviance; 2,000 draws)."""
        return self.deviance_information()

    # ------------------------------------------------------ random effects
    @cache_readonly
    def random_effects(self) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """Posterior means of the random effects, one DataFrame per term (levels x
        columns; a dict keyed by term for several terms).

        Rows are labelled by the levels of the grouping factor, as
        :attr:`MixedResults.random_effects <metamodels.mixed.results.MixedResults.random_effects>`
        (0, 1, ... for array input), columns by the term's design columns."""
        from ...mixed.levels import level_index

        lay = self._layout
        u = self._raw.u_mean.mean(axis=0)
        names = [p.name for p in self.model.spec.random]
        frames = {}
        for tb in lay.terms:
            if tb.hidden:
                continue
            block = u[tb.offset - lay.p:tb.offset - lay.p + tb.n_levels * tb.q]
            index = (level_index(self.model, names.index(tb.name), tb.n_levels)
                     if tb.name in names else None)
            frames[tb.name] = pd.DataFrame(block.reshape(tb.n_levels, tb.q),
                                           columns=list(tb.column_names), index=index)
        if len(frames) == 1:
            return next(iter(frames.values()))
        return frames

    @cache_readonly
    def cov_re(self) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """Posterior mean of ``G`` per random term (DataFrame; a dict for several)."""
        spec = self.model.spec
        Gs = spec.G_matrices(self.theta.to_numpy())
        d = {p.name: pd.DataFrame(G, index=list(p.column_names), columns=list(p.column_names))
             for p, G in zip(spec.random, Gs)}
        return next(iter(d.values())) if len(d) == 1 else d

    @cache_readonly
    def cov_resid(self) -> pd.DataFrame | dict[object, pd.DataFrame]:
        """Posterior mean of ``R`` of a complete subject (a dict over ``cov_group``)."""
        Rs = [pd.DataFrame(R) for R in self.model.spec.R_matrices(self.theta.to_numpy())]
        res = self.model.residual
        return Rs[0] if res.n_cov_groups == 1 else dict(zip(res.group_labels, Rs))

    # ---------------------------------------------------------------- summary
    def sas_summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """PROC BGLIMM's "Posterior Summaries and Intervals" table as a DataFrame.

        Parameters
        ----------
        alpha : float
            ``1 - alpha`` HPD intervals (default 0.05).

        Returns
        -------
        DataFrame
            ``N`` (pooled kept draws), ``Mean``, ``Standard Deviation`` and the HPD
            interval (``HPD Lower``, ``HPD Upper``), one row per parameter.
        """
        sf = self.summary_frame(alpha)
        return pd.DataFrame({"N": self.nchains * self.ndraws, "Mean": sf["mean"],
                             "Standard Deviation": sf["sd"], "HPD Lower": sf["hpd_lower"],
                             "HPD Upper": sf["hpd_upper"]}, index=sf.index)

    def summary(self, alpha: float = 0.05,
                style: Literal["default", "sas"] = "default") -> Summary | PosteriorIntervalsTable:
        """Summary of the posterior.

        Parameters
        ----------
        alpha : float
            ``1 - alpha`` HPD intervals.
        style : {"default", "sas"}
            ``"default"``: model and sampler information, DIC, priors and
            :meth:`summary_frame` (with ESS and R-hat).  ``"sas"``: PROC BGLIMM's
            "Posterior Summaries and Intervals" layout (Parameter, N, Mean, Standard
            Deviation, HPD Interval; :meth:`sas_summary_frame`).

        Returns
        -------
        Summary or PosteriorIntervalsTable
            A statsmodels ``Summary`` (``"default"``) or a
            :class:`PosteriorIntervalsTable` (``"sas"``); both print as text.

        Raises
        ------
        ValueError
            For an unknown ``style``.

        Examples
        --------
        >>> import metamodels as mm
        >>> df = mm.datasets.load("sleepstudy")
        >>> model = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", data=df)
        >>> post = model.fit_bayes(draws=500, burn=200, chains=2, seed=1)
        >>> print(post.summary(style="sas"))  # doctest: +ELLIPSIS
                                   Posterior Summaries and Intervals
        =====================================================...
                                                               Standard
        Parameter                            N        Mean    Deviation     95% HPD Interval
        ---------------------------------------------------------...
        Intercept                         1000    ...
        """
        if style == "sas":
            return PosteriorIntervalsTable(self.sas_summary_frame(alpha), alpha)
        if style != "default":
            raise ValueError(f"style must be 'default' or 'sas', got {style!r}")
        st = self.settings
        m = self.model
        info = {"Model:": "MixedModel (Bayesian)", "Sampler:": "Gibbs (conjugate)",
                "No. observations:": str(int(m.nobs)),
                "R-side structure:": self._layout.resid_name,
                "Chains:": str(st.chains), "Draws per chain:": str(self.ndraws),
                "Burn-in:": str(st.burn), "Thinning:": str(st.thin),
                "Seed:": str(st.seed), "Seconds:": f"{st.seconds:.2f}",
                "DIC:": f"{self.dic.dic:.3f}", "pD:": f"{self.dic.pd:.3f}"}
        pri = pd.DataFrame({"prior": list(self._layout.describe_priors().values())},
                           index=list(self._layout.describe_priors()))
        return make_summary("Bayesian MixedModel Results", info,
                            [self.summary_frame(alpha), pri],
                            [f"HPD: shortest {100 * (1 - alpha):g}% intervals; ess: effective "
                             "sample size; rhat: rank-normalised split R-hat."])

    def __repr__(self):
        return (f"<BayesMixedResults: {len(self.fe_names)} fixed effects, "
                f"{len(self.theta_names)} covariance parameters, {self.nchains} chains x "
                f"{self.ndraws} draws>")
