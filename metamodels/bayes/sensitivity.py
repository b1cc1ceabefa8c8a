"""Prior sensitivity tables for Bayesian random-effects meta-analysis."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..exceptions import MetaModelsWarning
from . import priors as pr
from .meta import BayesMeta

__all__ = ["prior_sensitivity", "default_tau_priors"]

_QUANTITIES = ("mu", "beta_F", "tau", "zeta")


def default_tau_priors():
    """A standard set of heterogeneity priors for log odds/risk ratios.

    Half-normal 0.5 and 1, half-Cauchy 0.5 and 1, uniform on (0, 10), Jeffreys,
    Gamma(0.001, 0.001) on 1/tau^2 and log-uniform on tau^2 over (1e-4, 100).  The
    scales suit effects on the log-ratio scale; rescale them for other measures.
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


def prior_sensitivity(yi, vi, priors=None, mu_prior=None, exog=None, alpha=0.05,
                      interval="central", quantities=_QUANTITIES, n_draws=20_000,
                      random_state=0):
    """Posterior means and credible intervals under several priors.

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
        ``1 - alpha`` intervals.
    interval : {"central", "hpd"}
    quantities : sequence of str
        Posterior quantities to tabulate (default ``mu``, ``beta_F``, ``tau``, ``zeta``).
    n_draws, random_state :
        Monte Carlo controls for ``zeta`` (see :meth:`BayesMeta.fit`).

    Returns
    -------
    DataFrame
        One row per prior, columns ``(quantity, "mean"|"lower"|"upper")``.

    Notes
    -----
    The fixed-effects average ``beta_F`` and the spread ``zeta`` of the study effects
    are functions of the ``theta_i``, which the data pin down whatever the prior, so
    they typically move much less across priors than ``mu`` and ``tau`` do.
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
