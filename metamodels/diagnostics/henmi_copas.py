"""Henmi and Copas (2010): a confidence interval for the average effect that is robust to
small-study effects.

The estimate is the fixed-effects (inverse-variance) mean, which weights large studies
more than the random-effects mean and is therefore less affected by the selective
publication of small studies; its interval allows for heterogeneity.  With ``w_i = 1/v_i``,
``W = sum w_i``, ``a = w/W`` and the DerSimonian-Laird ``tau^2``:

.. math::

    \\hat\\beta = a'y, \\qquad V = \\operatorname{Var}(\\hat\\beta) = a'\\Sigma a, \\quad
    \\Sigma = \\operatorname{diag}(v_i + \\tau^2), \\qquad
    T = (\\hat\\beta - \\beta) / \\sqrt{\\hat V(Q)},

where ``\\hat V(Q)`` is ``V`` with ``tau^2`` replaced by its DerSimonian-Laird estimate as a
function of Cochran's ``Q = e'Be`` (``B = W - ww'/W``, ``e = y - beta``).  With
``R = (\\hat\\beta - \\beta)/\\sqrt V ~ N(0, 1)`` and ``Q`` given ``R = r`` approximated by a
gamma distribution with the exact conditional moments of a Gaussian quadratic form,

.. math::

    E(Q | r) = \\mu_r' B \\mu_r + \\operatorname{tr}(BS), \\quad
    \\operatorname{Var}(Q | r) = 2 \\operatorname{tr}(BSBS) + 4 \\mu_r' BSB \\mu_r,

``mu_r = Sigma a r / sqrt(V)``, ``S = Sigma - Sigma a a' Sigma / V``,

.. math::

    P(T > t) = \\int_{t/\\sqrt{VW}}^\\infty \\varphi(r)\\,
    P\\{Q < q_t(r) \\mid r\\}\\,dr, \\qquad
    q_t(r) = (k - 1) + (W - \\textstyle\\sum w_i^2/W)(V W r^2/t^2 - 1) W / \\textstyle\\sum w_i^2,

the event ``V r^2 / t^2 > \\hat V(Q)`` written as a bound on ``Q``.  The interval is
``beta_hat -/+ t* sqrt(V)`` with ``P(T > t*) = alpha/2``; ``tau^2`` in ``Sigma`` is the
DerSimonian-Laird estimate (Henmi and Copas 2010, section 3).  Agrees with metafor's
``hc()`` (tightly converged) to 1e-10.

References
----------
Henmi M, Copas JB (2010). Confidence intervals for random effects meta-analysis and
robustness to publication bias. Stat Med 29, 2969-2983.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import integrate, optimize, stats

from ._meta_input import check_alpha, meta_input

if TYPE_CHECKING:
    from ..univariate.results import MetaResults
    from ._meta_input import MetaInput

__all__ = ["HenmiCopasResult", "henmi_copas"]


@dataclass(frozen=True)
class HenmiCopasResult:
    """Henmi-Copas estimate and interval (returned by :func:`henmi_copas`).

    Parameters
    ----------
    estimate : float
        The fixed-effects (inverse-variance) mean.
    se : float
        Its standard error under heterogeneity, ``sqrt(a' Sigma a)``.
    ci_lower, ci_upper : float
        The ``1 - alpha`` confidence interval ``estimate -/+ t* se``.
    tau2 : float
        The DerSimonian-Laird tau^2 used.
    t_crit : float
        The critical value ``t*``.
    alpha : float
        ``1 - alpha`` is the level of the interval.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> hc = mm.henmi_copas(res)
    >>> print([round(float(x), 4) for x in hc.conf_int()], round(hc.tau2, 4))
    [-1.1555, 0.295] 0.3088
    """

    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    tau2: float
    t_crit: float
    alpha: float

    def conf_int(self) -> tuple[float, float]:
        """The confidence interval.

        Returns
        -------
        tuple of float
            ``(ci_lower, ci_upper)``.
        """
        return self.ci_lower, self.ci_upper

    def __str__(self):
        lvl = 100 * (1 - self.alpha)
        return (f"Henmi-Copas: estimate {self.estimate:.4f} (SE {self.se:.4f}), "
                f"{lvl:g}% CI [{self.ci_lower:.4f}, {self.ci_upper:.4f}], tau^2 (DL) "
                f"{self.tau2:.4f}")


def _critical_value(y, v, alpha, tol):
    k = y.shape[0]
    w = 1.0 / v
    W = w.sum()
    s2 = float(w @ w)
    a = w / W
    beta = float(a @ y)
    q = float(w @ (y - beta) ** 2)
    tau2 = max(0.0, (q - (k - 1)) / (W - s2 / W))
    sig = v + tau2
    sa = sig * a
    V = float(a @ sa)
    B = np.diag(w) - np.outer(w, w) / W
    S = np.diag(sig) - np.outer(sa, sa) / V
    BS = B @ S
    tr_bs = float(np.trace(BS))
    tr_bsbs = float(np.sum(BS * BS.T))
    m = sa / np.sqrt(V)                       # E(e | R = r) = m r
    bm = B @ m
    mbm = float(m @ bm)
    mbsbm = float(bm @ S @ bm)

    def q_cdf(x, r):
        mean = mbm * r * r + tr_bs
        var = 2.0 * tr_bsbs + 4.0 * mbsbm * r * r
        return stats.gamma.cdf(x, mean * mean / var, scale=var / mean)

    lo_r = lambda t: t / np.sqrt(V * W)  # noqa: E731  (below it Vhat(Q) >= 1/W > V r^2/t^2)

    def upper_tail(t):
        f = lambda r: stats.norm.pdf(r) * q_cdf(  # noqa: E731
            (k - 1) + (W - s2 / W) * (V * W * r * r / (t * t) - 1.0) * W / s2, r)
        return integrate.quad(f, lo_r(t), np.inf, epsabs=1e-14, epsrel=1e-12, limit=200)[0]

    target = alpha / 2.0
    hi = 2.0
    while upper_tail(hi) > target:
        hi *= 2.0
        if hi > 1e6:
            raise RuntimeError("Henmi-Copas: no critical value found")
    t = optimize.brentq(lambda t: upper_tail(t) - target, 1e-8, hi, xtol=tol, rtol=1e-14)
    return beta, np.sqrt(V), tau2, t


def henmi_copas(results: MetaResults | MetaInput, alpha: float = 0.05,
                tol: float = 1e-12) -> HenmiCopasResult:
    r"""Henmi-Copas estimate and confidence interval (metafor's ``hc``).

    The fixed-effects mean, which gives small studies less weight than the
    random-effects mean and so is less affected by their selective publication, with a
    confidence interval that allows for heterogeneity.

    Parameters
    ----------
    results : MetaResults
        :class:`~metamodels.MetaFixed` or :class:`~metamodels.MetaRandom` results of
        an intercept-only model.  Only the data are used: the method always uses the
        fixed-effects mean and the DerSimonian-Laird tau^2.
    alpha : float, default 0.05
        ``1 - alpha`` confidence interval.
    tol : float, default 1e-12
        Accuracy of the critical value.

    Returns
    -------
    HenmiCopasResult
        ``estimate``, ``se``, ``ci_lower``, ``ci_upper``, ``tau2``, ``t_crit``.

    Raises
    ------
    metamodels.exceptions.SpecificationError
        The model has moderators.
    ValueError
        Fewer than 3 studies, or ``alpha`` outside (0, 1).
    TypeError
        ``results`` is not a univariate meta-analysis fit.

    See Also
    --------
    metamodels.univariate.results.MetaResults.henmi_copas : the same as a method.

    Notes
    -----
    With :math:`w_i = 1/v_i`, :math:`W = \sum_i w_i` and :math:`a = w/W`, the estimate
    is :math:`\hat\beta = a'y` with :math:`V = a'\Sigma a`,
    :math:`\Sigma = \operatorname{diag}(v_i + \hat\tau^2_{DL})`.  The interval is
    :math:`\hat\beta \mp t^* \sqrt{V}` where :math:`t^*` solves
    :math:`P(T > t^*) = \alpha/2` for the statistic
    :math:`T = (\hat\beta - \beta)/\sqrt{\hat V(Q)}`, whose distribution is derived
    from the joint distribution of :math:`\hat\beta` and Cochran's Q (gamma
    approximation of Q given :math:`\hat\beta`; Henmi and Copas 2010, section 3).  The
    derivation is written out in the module documentation
    (:mod:`metamodels.diagnostics.henmi_copas`).

    References
    ----------
    .. [1] Henmi, M., & Copas, J. B. (2010). Confidence intervals for random effects
       meta-analysis and robustness to publication bias. *Statistics in Medicine*,
       29(29), 2969-2983.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> print(mm.henmi_copas(res))
    Henmi-Copas: estimate -0.4303 (SE 0.2835), 95% CI [-1.1555, 0.2950], tau^2 (DL) 0.3088
    """
    check_alpha(alpha)
    inp = meta_input(results)
    inp.require_intercept_only("the Henmi-Copas method")
    if inp.k < 3:
        raise ValueError("the Henmi-Copas method needs at least 3 studies")
    beta, se, tau2, t = _critical_value(inp.y, inp.v, alpha, tol)
    return HenmiCopasResult(beta, float(se), beta - t * se, beta + t * se, tau2, float(t), alpha)
