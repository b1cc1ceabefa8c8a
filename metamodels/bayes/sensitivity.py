"""Prior sensitivity tables for Bayesian random-effects meta-analysis."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import MetaModelsWarning
from . import priors as pr
from .meta import BayesMeta

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["prior_sensitivity", "default_tau_priors"]

_QUANTITIES = ("mu", "beta_F", "tau", "zeta")


def default_tau_priors() -> dict[str, pr.TauPrior]:
    """A standard set of heterogeneity priors for log odds/risk ratios.

    Half-normal 0.5 and 1, half-Cauchy 0.5 and 1, uniform on (0, 10), Jeffreys,
    Gamma(0.001, 0.001) on 1/tau^2 and log-uniform on tau^2 over (1e-4, 100).  The
    scales suit effects on the log-ratio scale; rescale them for other measures.

    Returns
    -------
    dict
        ``{label: TauPrior}``, the default ``priors`` of :func:`prior_sensitivity`.
    """
    return {
        "half-normal(0.5)": pr.HalfNormal(0.5),
        "half-normal(1)": pr.HalfNormal(1.0),
        "half-Cauchy(0.5)": pr.HalfCauchy(0.5),
        "half-Cauchy(1)": pr.HalfCauchy(1.0),
        "uniform(0, 10)": pr.Uniform(0.0, 10.0),
        "Jeffreys": pr.Jeffreys(),
        "Gamma(0.001, 0.001) on 1/tau^2": pr.GammaPrecision(0.001, 0.001),
        "log-uniform tau^2 (1e-4, 100)": pr.LogUniformTau2(1e-4, 100.0),
    }


def prior_sensitivity(yi: ArrayLike, vi: ArrayLike,
                      priors: Mapping[str, Any] | None = None,
                      mu_prior: pr.Flat | pr.Normal | pr.MultivariateNormal | None = None,
                      exog: ArrayLike | None = None, alpha: float = 0.05,
                      interval: Literal["central", "hpd"] = "central",
                      quantities: Sequence[str] = _QUANTITIES, n_draws: int = 20_000,
                      random_state: int | np.random.Generator | None = 0) -> pd.DataFrame:
    """Posterior means and credible intervals under several priors.

    Fits :class:`~metamodels.bayes.BayesMeta` once per prior and tabulates the
    posterior mean and a ``1 - alpha`` credible interval of each quantity, the
    prior-sensitivity analysis recommended for Bayesian meta-analyses with few studies
    (e.g. Roever et al. 2021; in R, a loop over ``bayesmeta`` fits).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    priors : dict, optional
        ``{label: tau_prior}``, ``{label: (mu_prior, tau_prior)}`` or
        ``{label: {"mu_prior": ..., "tau_prior": ...}}``; :func:`default_tau_priors`
        when omitted.
    mu_prior : prior, optional
        The ``mu`` prior for entries that give only a ``tau`` prior (flat by default).
    exog : array_like, optional
        Moderators (then name the coefficients in ``quantities`` instead of ``mu``).
    alpha : float
        ``1 - alpha`` intervals (default 0.05).
    interval : {"central", "hpd"}
        Equal-tailed (default) or shortest credible intervals.
    quantities : sequence of str
        Posterior quantities to tabulate (default ``mu``, ``beta_F``, ``tau``, ``zeta``;
        any name of :attr:`BayesMetaResults.names
        <metamodels.bayes.BayesMetaResults.names>`).
    n_draws : int
        Monte Carlo draws for ``zeta`` per fit (default 20,000; at least 1000; see
        :meth:`BayesMeta.fit <metamodels.bayes.BayesMeta.fit>`).
    random_state : int, numpy Generator or None
        Seed of those draws (default 0).

    Returns
    -------
    DataFrame
        One row per prior (its label), columns ``(quantity, "mean"|"lower"|"upper")``.
        Posterior means that do not exist are reported as ``inf``/``nan`` without a
        warning.

    Raises
    ------
    ValueError
        If ``interval`` is unknown or ``priors`` is empty, and whatever
        :class:`~metamodels.bayes.BayesMeta` raises for a prior (e.g.
        :class:`~metamodels.bayes.priors.ImproperPosteriorError`).

    See Also
    --------
    default_tau_priors : the default set of ``tau`` priors.

    Notes
    -----
    The fixed-effects average ``beta_F`` and the spread ``zeta`` of the study effects
    are functions of the ``theta_i``, which the data pin down whatever the prior, so
    they typically move much less across priors than ``mu`` and ``tau`` do.

    References
    ----------
    Roever C, Bender R, Dias S, et al. (2021). On weakly informative prior distributions
    for the heterogeneity parameter in Bayesian random-effects meta-analysis. Research
    Synthesis Methods 12(4), 448-474.

    Examples
    --------
    >>> import metamodels as mm
    >>> from metamodels.bayes import prior_sensitivity, priors
    >>> es = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                     ci="cpos", di="cneg")
    >>> tab = prior_sensitivity(es["yi"], es["vi"],
    ...                         priors={"half-normal(0.5)": priors.HalfNormal(0.5),
    ...                                 "half-Cauchy(1)": priors.HalfCauchy(1.0)},
    ...                         quantities=["mu", "tau"], n_draws=1000)
    >>> tab["tau"].round(2)
                      mean  lower  upper
    half-normal(0.5)  0.57   0.35   0.90
    half-Cauchy(1)    0.62   0.36   1.03
    """
    if interval not in ("central", "hpd"):
        raise ValueError(f"interval must be 'central' or 'hpd', got {interval!r}")
    priors = default_tau_priors() if priors is None else dict(priors)
    if not priors:
        raise ValueError("priors must contain at least one entry")
    rows, labels = [], []
    for label, spec in priors.items():
        if isinstance(spec, dict):
            mp, tp = spec.get("mu_prior", mu_prior), spec.get("tau_prior")
        elif isinstance(spec, tuple):
            mp, tp = spec
        else:
            mp, tp = mu_prior, spec
        res = BayesMeta(yi, vi, exog=exog, mu_prior=mp, tau_prior=tp).fit(
            n_draws=n_draws, random_state=random_state)
        row = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetaModelsWarning)
            for q in quantities:
                lo, hi = (res.central_interval(q, alpha) if interval == "central"
                          else res.hpd(q, alpha))
                row += [res.posterior_mean(q), lo, hi]
        rows.append(row)
        labels.append(str(label))
    cols = pd.MultiIndex.from_product([list(quantities), ["mean", "lower", "upper"]])
    return pd.DataFrame(np.array(rows, dtype=float), index=labels, columns=cols)
