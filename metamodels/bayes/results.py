"""Results of :class:`~metamodels.bayes.BayesMeta`: posterior summaries, densities,
marginal likelihood, Bayes factors, draws and plots."""
from __future__ import annotations

import os
import re
import warnings
from typing import IO, TYPE_CHECKING, Callable, Literal, NoReturn, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .._compat import cache_readonly
from ..summary import make_summary
from ..base.results import ResultsConventions
from ..exceptions import MetaModelsWarning
from . import priors as pr
from .distributions import NormalMixture, PointMass, SampleDistribution, TauDistribution
from .evidence import BayesFactor, EvidenceMixin
from .kernels import Conditional, draw_joint, zeta2_moments
from .prediction import BayesPrediction, _check_alpha

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike
    from statsmodels.iolib.summary2 import Summary

    from ..base.model import MetaModelBase
    from .integration import TauPosterior

__all__ = ["BayesMetaResults", "BayesFactor", "BayesPrediction"]


class BayesMetaResults(EvidenceMixin, ResultsConventions):
    r"""Posterior of a :class:`~metamodels.bayes.BayesMeta` model.

    Created by :meth:`BayesMeta.fit() <metamodels.bayes.BayesMeta.fit>`, not directly;
    bayesmeta's ``bayesmeta`` object (``$summary``, ``$dposterior``, ``$qposterior``,
    ``$post.interval``, ``$bayesfactor``, ``$marginal.likelihood``, ``$rposterior``).

    Quantities (``names``): ``"mu"`` (or the coefficient names of a meta-regression),
    ``"tau"``, ``"tau2"``, ``"theta[i]"`` for each study (``i`` = position 0..k-1 or
    the study label), ``"theta_new"`` (intercept-only models), ``"beta_F"``,
    ``"zeta2"`` and ``"zeta"``.  Everything except the quantiles, intervals and
    density of ``zeta2``/``zeta`` is computed by quadrature (see
    :class:`~metamodels.bayes.BayesMeta`); moments that do not exist (heavy posterior
    tails under improper or heavy-tailed priors) are reported as ``inf``/``nan``.

    Attributes
    ----------
    model : BayesMeta
    k : int
        Number of studies.
    nodes, weights : ndarray
        Quadrature rule of the marginal posterior of ``tau`` (weights sum to 1).
    integration_error : float
        Estimated relative error of the quadrature (0 for a fixed ``tau^2``).
    tau_posterior : TauPosterior or None
        The quadrature object (density, CDF and quantiles of ``tau``).
    n_draws : int
        Number of Monte Carlo draws behind the ``zeta2``/``zeta`` quantiles.
    coef_names : list of str
        ``["mu"]`` or the meta-regression coefficient names.
    study_labels : list
        Labels of the studies (row labels of pandas input, else positions).

    Parameters
    ----------
    model : BayesMeta
        The fitted model.
    post : TauPosterior or None
        Quadrature of the marginal posterior of ``tau`` (``None`` for a fixed ``tau^2``).
    nodes, weights : ndarray
        Quadrature nodes (values of ``tau``) and normalised weights.
    cond : Conditional
        Conditional posterior of the coefficients at every node.
    zeta2_draws : ndarray
        Monte Carlo draws of ``zeta^2`` from the joint posterior.

    See Also
    --------
    BayesMeta : the model, with the model written out.

    Notes
    -----
    With quadrature nodes ``tau_j`` and normalised weights ``W_j`` of the marginal
    posterior of ``tau``, every coefficient, study effect and linear function of them
    has a normal-mixture posterior, e.g.

    .. math::

        p(b \mid y) \approx \sum_j W_j \, N\!\left(b;\ \hat b(\tau_j),\ A(\tau_j)^{-1}\right),
        \qquad A(\tau) = X' (V + \tau^2 I)^{-1} X + \Sigma_0^{-1},

    (``V = diag(v_i)``; ``Sigma_0^-1 = 0`` for a flat prior) whose CDF, quantiles and
    shortest intervals are computed exactly up to the quadrature error.

    References
    ----------
    Roever C (2020). Bayesian random-effects meta-analysis using the bayesmeta R
    package. Journal of Statistical Software 93(6), 1-51.

    Examples
    --------
    >>> import metamodels as mm
    >>> from metamodels.bayes import BayesMeta, priors
    >>> es = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                     ci="cpos", di="cneg")
    >>> res = BayesMeta(es["yi"], es["vi"], mu_prior=priors.Normal(0, 4),
    ...                 tau_prior=priors.HalfNormal(0.5)).fit(n_draws=2000)
    >>> res.names[:7]
    ['mu', 'tau', 'tau2', 'theta_new', 'beta_F', 'zeta2', 'zeta']
    >>> round(res.posterior_mean("mu"), 3), [round(x, 3) for x in res.hpd("tau")]
    (-0.71, [0.32, 0.859])
    >>> print(res.bayes_factor("mu"))
    Bayes factor for mu = 0: BF01 = 0.04762 (BF10 = 21; Savage-Dickey density ratio)
    """

    def __init__(self, model: MetaModelBase, post: TauPosterior | None, nodes: np.ndarray,
                 weights: np.ndarray, cond: Conditional, zeta2_draws: np.ndarray) -> None:
        self.model = model
        self.tau_posterior = post
        self.nodes, self.weights = nodes, weights
        self._cond = cond
        self._zeta2_draws = zeta2_draws
        self.k = int(model.nobs)
        self.mu_prior, self.tau_prior = model.mu_prior, model.tau_prior
        self.integration_error = 0.0 if post is None else post.rel_error
        self.n_draws = zeta2_draws.size
        self.coef_names = ["mu"] if model.intercept_only else list(model.exog_names)
        labels = getattr(model.data, "row_labels", None)
        self.study_labels = (list(labels) if labels is not None and len(labels) == self.k
                             else list(range(self.k)))
        self._dists = {}
        self._cache = {}
        self.nobs = float(model.nobs)
        self.df_resid = model.df_resid
        self.df_model = model.df_model
        self.use_t = False

    # ------------------------------------------------------------------ names
    @property
    def names(self) -> list[str]:
        """All quantities with a posterior distribution (the ``name`` arguments).

        Coefficients, ``tau``, ``tau2``, ``theta_new`` (intercept-only models),
        ``beta_F``, ``zeta2``, ``zeta`` and ``theta[0]`` .. ``theta[k-1]``.
        """
        extra = ["theta_new"] if self.model.intercept_only else []
        return (self.coef_names + ["tau", "tau2"] + extra + ["beta_F", "zeta2", "zeta"]
                + [f"theta[{i}]" for i in range(self.k)])

    def _resolve(self, name):
        if not isinstance(name, str):
            raise TypeError(f"name must be a string such as 'mu' or 'theta[0]', got {name!r}")
        m = re.fullmatch(r"theta\[(.+)\]", name.strip())
        if m:
            key = m.group(1).strip().strip("'\"")
            if key.lstrip("-").isdigit() and 0 <= int(key) < self.k:
                return f"theta[{int(key)}]"
            labels = [str(lab) for lab in self.study_labels]
            if key in labels:
                return f"theta[{labels.index(key)}]"
            raise ValueError(f"no study {key!r}: use theta[i] with i in 0..{self.k - 1} or a "
                             "study label")
        if name in self.names:
            return name
        if name == "theta_new":
            raise ValueError("theta_new (the effect of a new study) is defined for "
                             "intercept-only models; with moderators it depends on x")
        raise ValueError(f"unknown quantity {name!r}; valid names are "
                         f"{', '.join(self.names[:-self.k])}, theta[0]..theta[{self.k - 1}]")

    # ------------------------------------------------------------ distributions
    @cache_readonly
    def _theta(self):
        m = self.model
        return self._cond.theta_moments(m.endog, m.vi, m.exog)

    def _exists(self, r):
        return self.model.moment_exists(r)

    def _tau_moment(self, r):
        return float(self.weights @ self.nodes ** r) if self._exists(r) else np.inf

    def _build(self, name):
        m, c, W = self.model, self._cond, self.weights
        fixed = isinstance(self.tau_prior, pr.Fixed)
        if name in ("tau", "tau2"):
            power = 1 if name == "tau" else 2
            if fixed:
                return PointMass(self.tau_prior.tau ** power)
            mean = self._tau_moment(power)
            var = self._tau_moment(2 * power) - mean ** 2 if np.isfinite(mean) else np.inf
            return TauDistribution(self.tau_posterior, power, mean, var)
        if name in self.coef_names or name == "theta_new":
            j = 0 if name == "theta_new" else self.coef_names.index(name)
            var_j = c.bcov[:, j, j] + (c.tau ** 2 if name == "theta_new" else 0.0)
            heavy = name == "theta_new" or m.p_flat
            mean = None if not heavy or self._exists(1) else np.nan
            var = None if not heavy or self._exists(2) else np.inf
            return NormalMixture(W, c.bhat[:, j], np.sqrt(var_j), mean, var)
        if name.startswith("theta["):
            i = int(name[6:-1])
            mean, var = self._theta
            return NormalMixture(W, mean[:, i], np.sqrt(var[:, i]))
        if name == "beta_F":
            w0 = 1.0 / m.vi
            cw = w0 / w0.sum()
            mean = self._theta[0] @ cw
            g = np.einsum("nk,ki->ni", (1 - c.lam) * cw, m.exog)
            var = (c.lam * m.vi) @ (cw ** 2) + np.einsum("ni,nij,nj->n", g, c.bcov, g)
            return NormalMixture(W, mean, np.sqrt(var))
        if np.ptp(self._zeta2_draws) == 0:             # tau = 0 fixed: no spread at all
            return PointMass(self._zeta2_draws[0] ** (1 if name == "zeta2" else 0.5))
        if name == "zeta2":
            e, v = zeta2_moments(c, m.endog, m.vi, m.exog)
            mean = float(W @ e)
            return SampleDistribution(self._zeta2_draws, mean, float(W @ (v + e * e)) - mean ** 2,
                                      lower=0.0)
        return SampleDistribution(np.sqrt(self._zeta2_draws), lower=0.0)   # zeta

    def distribution(self, name: str
                     ) -> NormalMixture | TauDistribution | SampleDistribution | PointMass:
        """The posterior distribution object of ``name``.

        Parameters
        ----------
        name : str
            A quantity of :attr:`names`; ``"theta[i]"`` also accepts a study label.

        Returns
        -------
        NormalMixture, TauDistribution, SampleDistribution or PointMass
            Objects of :mod:`metamodels.bayes.distributions` with ``mean``, ``sd``,
            ``cdf``, ``ppf``, ``pdf``, ``logpdf``, ``hpd`` and ``mode`` (cached).

        Raises
        ------
        ValueError
            For an unknown quantity or study (or ``theta_new`` with moderators).
        TypeError
            If ``name`` is not a string.
        """
        key = self._resolve(name)
        if key not in self._dists:
            self._dists[key] = self._build(key)
        return self._dists[key]

    # ---------------------------------------------------------------- summaries
    def posterior_mean(self, name: str) -> float:
        """Posterior mean of ``name`` (bayesmeta's ``$summary["mean", ]``).

        Parameters
        ----------
        name : str
            A quantity of :attr:`names`.

        Returns
        -------
        float
            ``inf``/``nan``, with a :class:`~metamodels.exceptions.MetaModelsWarning`,
            when the mean does not exist (heavy posterior tail).
        """
        value = self.distribution(name).mean
        if not np.isfinite(value):
            warnings.warn(f"the posterior mean of {name} does not exist (heavy tail)",
                          MetaModelsWarning, stacklevel=2)
        return value

    def posterior_sd(self, name: str) -> float:
        """Posterior standard deviation of ``name`` (bayesmeta's ``$summary["sd", ]``).

        Parameters
        ----------
        name : str
            A quantity of :attr:`names`.

        Returns
        -------
        float
            ``inf``, with a :class:`~metamodels.exceptions.MetaModelsWarning`, when the
            variance is infinite.
        """
        value = self.distribution(name).sd
        if not np.isfinite(value):
            warnings.warn(f"the posterior variance of {name} is infinite (heavy tail)",
                          MetaModelsWarning, stacklevel=2)
        return value

    def posterior_median(self, name: str) -> float:
        """Posterior median of ``name`` (bayesmeta's ``$summary["median", ]``).

        Parameters
        ----------
        name : str
            A quantity of :attr:`names`.

        Returns
        -------
        float
        """
        return self.distribution(name).median()

    def posterior_quantile(self, name: str, q: ArrayLike) -> float | np.ndarray:
        """Posterior quantile(s) of ``name`` at probabilities ``q`` (bayesmeta's
        ``$qposterior``).

        Parameters
        ----------
        name : str
            A quantity of :attr:`names`.
        q : float or array_like
            Probabilities in ``[0, 1]``.

        Returns
        -------
        float or ndarray
            A float for scalar ``q``, else an array of the shape of ``q``.

        Raises
        ------
        ValueError
            If a probability lies outside ``[0, 1]``.
        """
        dist = self.distribution(name)
        qs = np.asarray(q, dtype=float)
        if np.any((qs < 0) | (qs > 1)):
            raise ValueError(f"probabilities must lie in [0, 1], got {q!r}")
        out = np.array([dist.ppf(p) for p in qs.ravel()]).reshape(qs.shape)
        return float(out) if out.ndim == 0 else out

    def posterior_cdf(self, name: str, x: ArrayLike) -> float | np.ndarray:
        """Posterior probability that ``name <= x`` (bayesmeta's ``$pposterior``).

        Parameters
        ----------
        name : str
            A quantity of :attr:`names`.
        x : float or array_like
            Values at which to evaluate the posterior CDF.

        Returns
        -------
        float or ndarray
        """
        return self.distribution(name).cdf(x)

    def posterior_pdf(self, name: str) -> Callable[[ArrayLike], np.ndarray]:
        """The posterior density of ``name`` as a vectorised callable (bayesmeta's
        ``$dposterior``).

        Parameters
        ----------
        name : str
            A quantity of :attr:`names`.

        Returns
        -------
        callable
            ``f(x)`` returning the posterior density at ``x`` (for ``zeta2``/``zeta`` a
            kernel density estimate from the Monte Carlo draws).

        Raises
        ------
        ValueError
            If the posterior is a point mass (``tau``/``tau2`` under a fixed ``tau^2``).
        """
        dist = self.distribution(name)
        if isinstance(dist, PointMass):
            raise ValueError(f"the posterior of {name} is a point mass (fixed tau^2)")
        return dist.pdf

    def posterior_mode(self, name: str) -> float:
        """Posterior mode of ``name`` (bayesmeta's ``$summary["mode", ]``).

        Parameters
        ----------
        name : str
            A quantity of :attr:`names`.

        Returns
        -------
        float
            The maximiser of the posterior density (for ``zeta2``/``zeta``: of a kernel
            density estimate from the draws).
        """
        return self.distribution(name).mode()

    def central_interval(self, name: str, alpha: float = 0.05) -> tuple[float, float]:
        """Equal-tailed ``1 - alpha`` credible interval of ``name`` (bayesmeta's
        ``post.interval(method="central")``).

        Parameters
        ----------
        name : str
            A quantity of :attr:`names`.
        alpha : float
            ``1 - alpha`` is the posterior probability of the interval (default 0.05).

        Returns
        -------
        tuple of float
            ``(lower, upper)``, the ``alpha/2`` and ``1 - alpha/2`` quantiles.

        Raises
        ------
        ValueError
            Unless ``0 < alpha < 1``.
        """
        return self.distribution(name).central(_check_alpha(alpha))

    def hpd(self, name: str, alpha: float = 0.05) -> tuple[float, float]:
        """Shortest (highest posterior density) ``1 - alpha`` credible interval of
        ``name`` (bayesmeta's ``post.interval(method="shortest")``).

        Parameters
        ----------
        name : str
            A quantity of :attr:`names`.
        alpha : float
            ``1 - alpha`` is the posterior probability of the interval (default 0.05).

        Returns
        -------
        tuple of float
            ``(lower, upper)``; the shortest interval assuming a unimodal density (see
            :mod:`metamodels.bayes.distributions`).

        Raises
        ------
        ValueError
            Unless ``0 < alpha < 1``.
        """
        return self.distribution(name).hpd(_check_alpha(alpha))

    def summary_frame(self, alpha: float = 0.05,
                      names: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per quantity: mean, sd, median, central and shortest intervals.

        ``zeta2`` and ``zeta`` quantiles and intervals (and the mean and sd of
        ``zeta``) are Monte Carlo estimates from ``n_draws`` joint posterior draws.
        Moments that do not exist appear as ``inf``/``nan`` (without the warnings of
        :meth:`posterior_mean`).

        Parameters
        ----------
        alpha : float
            ``1 - alpha`` intervals (default 0.05).
        names : sequence of str, optional
            Quantities (rows); default all of :attr:`names`.

        Returns
        -------
        DataFrame
            Columns ``mean``, ``sd``, ``median``, ``ci_lower``, ``ci_upper`` (central
            interval), ``hpd_lower``, ``hpd_upper`` (shortest interval).
        """
        alpha = _check_alpha(alpha)
        names = self.names if names is None else [self._resolve(n) for n in names]
        rows = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetaModelsWarning)
            for name in names:
                d = self.distribution(name)
                lo, hi = d.central(alpha)
                hlo, hhi = d.hpd(alpha)
                rows.append((d.mean, d.sd, d.median(), lo, hi, hlo, hhi))
        return pd.DataFrame(rows, index=names, columns=["mean", "sd", "median", "ci_lower",
                                                        "ci_upper", "hpd_lower", "hpd_upper"])

    def prob(self, name: str, lower: float = -np.inf, upper: float = np.inf) -> float:
        """Posterior probability that ``lower < name <= upper``.

        Parameters
        ----------
        name : str
            A quantity of :attr:`names`.
        lower, upper : float
            Limits (default the whole line).

        Returns
        -------
        float
        """
        d = self.distribution(name)
        return float(d.cdf(upper) if np.isfinite(upper) else 1.0) - \
            float(d.cdf(lower) if np.isfinite(lower) else 0.0)

    # ------------------------------------------- statsmodels results interface
    @cache_readonly
    def params(self):
        """Posterior means of the coefficients (``mu`` for intercept-only models)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetaModelsWarning)
            return pd.Series([self.distribution(n).mean for n in self.coef_names],
                             index=self.coef_names, name="posterior mean")

    @cache_readonly
    def bse(self):
        """Posterior standard deviations of the coefficients."""
        return pd.Series(np.sqrt(np.diag(self.cov_params().to_numpy())), index=self.coef_names,
                         name="posterior sd")

    def cov_params(self) -> pd.DataFrame:
        """Posterior covariance of the coefficients.

        ``E[A(tau)^-1 | y] + Cov(bhat(tau) | y)`` over the quadrature of ``tau``
        (``bhat(tau)``, ``A(tau)^-1``: conditional posterior mean and covariance).

        Returns
        -------
        DataFrame
            ``(p, p)``, indexed by the coefficient names; when a posterior variance is
            infinite (heavy tails) the diagonal holds the variances and the rest NaN.
        """
        c, W = self._cond, self.weights
        mean = W @ c.bhat
        second = np.einsum("n,nij->ij", W, c.bcov) + np.einsum("n,ni,nj->ij", W, c.bhat, c.bhat)
        cov = second - np.outer(mean, mean)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetaModelsWarning)
            var = np.array([self.distribution(n).var for n in self.coef_names])
        if not np.all(np.isfinite(var)):            # heavy posterior tails: no covariance
            cov = np.where(np.eye(len(var), dtype=bool), var, np.nan)
        return pd.DataFrame(cov, index=self.coef_names, columns=self.coef_names)

    def conf_int(self, alpha: float = 0.05,
                 kind: Literal["central", "hpd"] = "central") -> pd.DataFrame:
        """Credible intervals of the coefficients (statsmodels' ``conf_int``).

        Parameters
        ----------
        alpha : float
            ``1 - alpha`` intervals (default 0.05).
        kind : {"central", "hpd"}
            Equal-tailed (default) or shortest (highest posterior density) intervals.

        Returns
        -------
        DataFrame
            Columns ``0`` (lower) and ``1`` (upper), one row per coefficient.

        Raises
        ------
        ValueError
            Unless ``0 < alpha < 1`` and ``kind`` is ``"central"`` or ``"hpd"``.
        """
        alpha = _check_alpha(alpha)
        if kind not in ("central", "hpd"):
            raise ValueError(f"kind must be 'central' or 'hpd', got {kind!r}")
        rows = [getattr(self.distribution(n), kind)(alpha) for n in self.coef_names]
        return pd.DataFrame(rows, index=self.coef_names, columns=[0, 1])

    @property
    def tvalues(self):
        """Posterior mean / posterior sd (a z-like signal-to-noise ratio)."""
        return self.params / self.bse

    @cache_readonly
    def pvalues(self):
        """Posterior tail probabilities ``2 min(P(b_j <= 0 | y), P(b_j > 0 | y))`` (a Bayesian
        counterpart of a two-sided p-value, so that statsmodels' tables work)."""
        p = np.array([float(self.distribution(n).cdf(0.0)) for n in self.coef_names])
        return pd.Series(2 * np.minimum(p, 1 - p), index=self.coef_names)

    def save(self, fname: str | os.PathLike | IO[bytes]) -> None:
        """Pickle the results to ``fname``.

        Parameters
        ----------
        fname : str, path-like or file
            A path or a writable binary file.
        """
        import pickle
        if hasattr(fname, "write"):
            pickle.dump(self, fname)
        else:
            with open(fname, "wb") as fh:
                pickle.dump(self, fh)

    @classmethod
    def load(cls, fname: str | os.PathLike | IO[bytes]) -> BayesMetaResults:
        """Load results pickled by :meth:`save`.

        Parameters
        ----------
        fname : str, path-like or file
            A path or a readable binary file.

        Returns
        -------
        BayesMetaResults
        """
        import pickle
        if hasattr(fname, "read"):
            return pickle.load(fname)
        with open(fname, "rb") as fh:
            return pickle.load(fh)

    def compare_lr_test(self, restricted: object) -> NoReturn:
        """Not defined: a Bayesian fit has no maximised likelihood.

        Parameters
        ----------
        restricted : object
            Ignored.

        Raises
        ------
        TypeError
            Always; compare models with :meth:`bayes_factor` or
            :attr:`log_marginal_likelihood`.
        """
        raise TypeError("BayesMeta results have no maximised likelihood: compare models with "
                        "bayes_factor() or log_marginal_likelihood instead of an LR test")

    def get_prediction(self, exog: ArrayLike | pd.DataFrame | None = None,
                       transform: bool = True, conditional: bool = False,
                       transf: Callable[[np.ndarray], np.ndarray] | None = None,
                       ) -> BayesPrediction:
        """Posterior predictions of ``x_0'b`` (and of a new study's effect).

        ``summary_frame(alpha)``: posterior mean and sd of ``x_0'b`` (mean, mean_se),
        central credible interval (mean_ci_*) and the predictive interval of a new
        study's true effect ``x_0'b + u``, ``u ~ N(0, tau^2)`` (obs_ci_*), all exact
        normal mixtures over the posterior of ``tau``.  ``transf`` (a monotone callable
        such as ``np.exp``) maps the posterior mean and the interval limits (the limits
        are then the quantiles of the transformed quantity; the mean is ``transf`` of
        the posterior mean, as metafor's ``transf``), sd NaN.  bayesmeta's
        ``$summary[, "theta"]`` (prediction) and ``pred.interval``.

        Parameters
        ----------
        exog : array_like or DataFrame, optional
            Design rows ``x_0`` (or new data for a formula model); default the studies'
            own rows.
        transform : bool
            Build the design from new data through the model's formula (default True).
        conditional : bool
            Must be False; study-specific (conditional) effects are the ``theta[i]``.
        transf : callable, optional
            Monotone back-transformation of the means and limits, e.g. ``np.exp``.

        Returns
        -------
        BayesPrediction
            ``summary_frame(alpha)`` and ``conf_int(obs, alpha)`` as statsmodels'
            prediction results.

        Raises
        ------
        ValueError
            If ``conditional`` is true or the new design cannot be built.

        Examples
        --------
        >>> import numpy as np, metamodels as mm
        >>> from metamodels.bayes import BayesMeta, priors
        >>> es = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                     ci="cpos", di="cneg")
        >>> res = BayesMeta(es["yi"], es["vi"], mu_prior=priors.Normal(0, 4),
        ...                 tau_prior=priors.HalfNormal(0.5)).fit(n_draws=2000)
        >>> sf = res.get_prediction(np.ones((1, 1)), transf=np.exp).summary_frame()
        >>> sf[["mean", "mean_ci_lower", "mean_ci_upper", "obs_ci_upper"]].round(2)
           mean  mean_ci_lower  mean_ci_upper  obs_ci_upper
        0  0.49           0.34           0.71          1.68
        """
        if conditional:
            raise ValueError("conditional predictions: use the study effects theta[i]")
        X0, index = self._design_rows(exog, transform)
        c = self._cond
        return BayesPrediction(self.weights, c.bhat @ X0.T,
                               np.einsum("mi,nij,mj->nm", X0, c.bcov, X0), c.tau, index,
                               transf=transf)

    # ------------------------------------------------------------------ draws
    def sample(self, n: int = 10_000,
               random_state: int | np.random.Generator | None = None) -> pd.DataFrame:
        """``n`` draws of the joint posterior (bayesmeta's ``$rposterior``).

        ``tau`` by inverse CDF of its quadrature, then the coefficients and the
        ``theta_i`` from their conditional normals given ``tau``; ``theta_new``,
        ``beta_F`` and ``zeta2`` are computed from those.

        Parameters
        ----------
        n : int
            Number of draws (default 10,000).
        random_state : int, numpy Generator or None
            Seed (default None: not reproducible).

        Returns
        -------
        DataFrame
            One row per draw; columns ``tau``, the coefficients, ``theta_new``
            (intercept-only models), ``beta_F``, ``zeta2`` and ``theta[i]``.
        """
        rng = np.random.default_rng(random_state)
        m = self.model
        if self.tau_posterior is None:
            tau = np.full(int(n), self.tau_prior.tau)
        else:
            tau = self.tau_posterior.sample(int(n), rng)
        b, theta = draw_joint(m.endog, m.vi, m.exog, m.coef_prior, tau, rng)
        w0 = 1.0 / m.vi
        beta = theta @ w0 / w0.sum()
        out = {"tau": tau}
        out.update({name: b[:, j] for j, name in enumerate(self.coef_names)})
        if m.intercept_only:
            out["theta_new"] = b[:, 0] + tau * rng.standard_normal(tau.size)
        out["beta_F"] = beta
        out["zeta2"] = np.sum(w0 * (theta - beta[:, None]) ** 2, axis=1) / w0.sum()
        out.update({f"theta[{i}]": theta[:, i] for i in range(self.k)})
        return pd.DataFrame(out)

    # ----------------------------------------------------------------- display
    def summary(self, alpha: float = 0.05, title: str | None = None) -> Summary:
        """Summary tables: priors and numerics, then :meth:`summary_frame`.

        The header lists the priors, the quadrature size and error and the log marginal
        likelihood (when defined); with a normal ``mu`` prior the Bayes factors of
        ``b_j = 0`` follow the table (as bayesmeta's ``print``/``summary``).

        Parameters
        ----------
        alpha : float
            ``1 - alpha`` intervals (default 0.05).
        title : str, optional
            Title (default "Bayesian random-effects meta-analysis").

        Returns
        -------
        statsmodels.iolib.summary2.Summary
            Prints as text.
        """
        info = [("Model:", "BayesMeta (normal-normal)"), ("No. studies:", str(self.k)),
                ("mu prior:", repr(self.mu_prior)), ("tau prior:", repr(self.tau_prior))]
        if self.tau_posterior is not None:
            info += [("Quadrature nodes:", str(self.nodes.size)),
                     ("Rel. integration error:", f"{self.integration_error:.2g}")]
        try:
            info.append(("Log marginal lik.:", f"{self.log_marginal_likelihood:.4f}"))
        except ValueError:
            pass
        texts = [f"Intervals: {100 * (1 - alpha):g}% central (ci) and shortest (hpd). "
                 f"zeta2/zeta quantiles from {self.n_draws} Monte Carlo draws."]
        if self.model.coef_prior is not None:
            texts += [str(self.bayes_factor(name)) for name in self.coef_names]
        return make_summary(title or "Bayesian random-effects meta-analysis", info,
                            [self.summary_frame(alpha)], texts)

    def plot(self, name: str = "tau", ax: Axes | None = None, prior: bool = True,
             alpha: float = 0.05, npoints: int = 400) -> Figure:
        """Posterior density of ``name`` (default ``tau``) with the prior overlaid.

        The shortest ``1 - alpha`` interval is shaded and the median marked.  Improper
        priors are drawn rescaled to the height of the posterior (bayesmeta's
        ``plot(x, which=...)`` panels).  A point-mass posterior is drawn as a vertical
        line.

        Parameters
        ----------
        name : str
            A quantity of :attr:`names` (default ``"tau"``).
        ax : matplotlib.axes.Axes, optional
            Axes to draw into; a new 6 x 4 inch figure when omitted.
        prior : bool
            Overlay the prior density (for ``tau``, ``tau2`` and coefficients with a
            normal prior; default True).
        alpha : float
            The shaded interval has posterior probability ``1 - alpha``.
        npoints : int
            Grid points of the density curve.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> import metamodels as mm
        >>> from metamodels.bayes import BayesMeta, priors
        >>> es = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                     ci="cpos", di="cneg")
        >>> res = BayesMeta(es["yi"], es["vi"], tau_prior=priors.HalfNormal(0.5)).fit(
        ...     n_draws=2000)
        >>> fig = res.plot("tau")
        """
        key = self._resolve(name)
        dist = self.distribution(key)
        if ax is None:
            import matplotlib.pyplot as plt  # only to create a new figure
            ax = plt.figure(figsize=(6.0, 4.0)).add_subplot(111)
        label = {"tau": "τ", "tau2": "τ²"}.get(key, key)
        if isinstance(dist, PointMass):
            ax.axvline(dist.value, color="black", label="posterior (point mass)")
            ax.set_xlabel(label)
            ax.legend(frameon=False)
            return ax.figure
        lo = dist.bounds[0] if np.isfinite(dist.bounds[0]) else dist.ppf(0.001)
        hi = min(dist.bounds[1], dist.ppf(0.995))
        x = np.linspace(lo, hi, npoints)
        dens = dist.pdf(x)
        finite = np.isfinite(dens)
        ax.plot(x[finite], dens[finite], color="black", label="posterior")
        hlo, hhi = dist.hpd(alpha)
        inside = finite & (x >= hlo) & (x <= hhi)
        ax.fill_between(x[inside], dens[inside], color="0.85",
                        label=f"{100 * (1 - alpha):g}% shortest interval")
        ax.axvline(dist.median(), color="black", linestyle=":", label="median")
        if prior:
            self._plot_prior(ax, key, x, np.nanmax(dens[finite]))
        ax.set_xlabel(label)
        ax.set_ylabel("density")
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False)
        return ax.figure

    def _plot_prior(self, ax, key, x, top):
        if key in ("tau", "tau2"):
            t = np.sqrt(x) if key == "tau2" else x
            with np.errstate(divide="ignore", invalid="ignore"):
                dens = self.tau_prior.pdf(t) / (2 * t if key == "tau2" else 1.0)
            proper = self.tau_prior.proper
        elif key in self.coef_names and self.model.coef_prior is not None:
            b0, P0, _ = self.model.coef_prior
            j = self.coef_names.index(key)
            dens = stats.norm.pdf(x, b0[j], np.sqrt(np.linalg.inv(P0)[j, j]))
            proper = True
        else:
            return
        ok = np.isfinite(dens)
        if not np.any(ok):
            return
        lab = "prior"
        if not proper:
            dens = dens * top / np.max(dens[ok])
            lab = "prior (improper, rescaled)"
        ax.plot(x[ok], dens[ok], color="tab:blue", linestyle="--", label=lab)

    def __repr__(self):
        return (f"<BayesMetaResults: {self.k} studies, mu prior {self.mu_prior!r}, "
                f"tau prior {self.tau_prior!r}>")
