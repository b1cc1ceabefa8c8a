"""PET-PEESE (Stanley and Doucouliagos 2014): limit estimates from Egger-type
weighted regressions on the standard error (PET) and the variance (PEESE)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from scipy import stats

from ._meta_input import check_alpha, meta_input
from .egger import EggerTestResult, egger_test

if TYPE_CHECKING:
    from ..univariate.results import MetaResults
    from ._meta_input import MetaInput

__all__ = ["PetPeeseResult", "pet_peese"]


@dataclass(frozen=True)
class PetPeeseResult:
    """PET, PEESE and the conditional PET-PEESE estimate (returned by
    :func:`pet_peese`).

    Parameters
    ----------
    pet, peese : EggerTestResult
        The two regressions (``limit_estimate``, ``limit_ci``; ``statistic`` and
        ``pvalue`` are those of the slope, i.e. Egger's test for PET).
    pet_intercept_pvalue : float
        p-value of PET's test of ``H0: intercept = 0`` (one- or two-sided, see
        ``alternative``).
    chosen : {"PET", "PEESE"}
        The estimate the conditional rule picks.
    alpha : float
        Level of PET's test in the decision rule.
    alternative : {"one-sided", "two-sided"}
        Sidedness of PET's test.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> pp = mm.pet_peese(res)
    >>> print(pp)
    PET-PEESE (Stanley and Doucouliagos 2014)
      model   estimate   confidence interval
      PET      -0.1909   [-0.6753, 0.2935]   slope -2.1120 (p = 0.1887)
      PEESE    -0.3800   [-0.7261, -0.0338]   slope -2.3606 (p = 0.4098)
      PET test of a zero effect: p = 0.2021 (one-sided, alpha = 0.05)
      conditional estimate: PET = -0.1909
    """

    pet: EggerTestResult
    peese: EggerTestResult
    pet_intercept_pvalue: float
    chosen: str
    alpha: float
    alternative: str

    @property
    def estimate(self) -> float:
        """The conditional estimate: the limit estimate of the chosen regression."""
        return (self.peese if self.chosen == "PEESE" else self.pet).limit_estimate

    @property
    def conf_int(self) -> tuple[float, float]:
        """``(lower, upper)`` confidence interval of the conditional estimate (a
        property, not a method)."""
        return (self.peese if self.chosen == "PEESE" else self.pet).limit_ci

    def __str__(self):
        def row(name, r):
            lo, hi = r.limit_ci
            return (f"  {name:<6}{r.limit_estimate:10.4f}   [{lo:.4f}, {hi:.4f}]   "
                    f"slope {r.slope:.4f} (p = {r.pvalue:.4g})")
        side = "one-sided" if self.alternative == "one-sided" else "two-sided"
        return "\n".join([
            "PET-PEESE (Stanley and Doucouliagos 2014)",
            "  model   estimate   confidence interval",
            row("PET", self.pet), row("PEESE", self.peese),
            f"  PET test of a zero effect: p = {self.pet_intercept_pvalue:.4g} ({side}, "
            f"alpha = {self.alpha:g})",
            f"  conditional estimate: {self.chosen} = {self.estimate:.4f}"])

    def summary(self) -> str:
        """The printed form: both regressions, PET's test and the conditional estimate.

        Returns
        -------
        str
        """
        return str(self)


def pet_peese(results: MetaResults | MetaInput, alpha: float = 0.05,
              alternative: Literal["one-sided", "two-sided"] = "one-sided",
              ci_alpha: float = 0.05) -> PetPeeseResult:
    r"""PET-PEESE conditional limit estimate (Stanley and Doucouliagos 2014).

    An estimate of the effect corrected for small-study effects: the intercept of a
    weighted regression of the effects on their standard errors (PET) or, when PET
    finds a genuine effect, on their variances (PEESE).

    Parameters
    ----------
    results : MetaResults
        :class:`~metamodels.MetaFixed` or :class:`~metamodels.MetaRandom` results of
        an intercept-only model (only the data are used).
    alpha : float, default 0.05
        Level of PET's test of a zero genuine effect.
    alternative : {"one-sided", "two-sided"}
        Stanley and Doucouliagos (2014) test PET's intercept one-sided (a genuine
        effect in the direction of the PET estimate, ``p = P(T > |t|)``); ``"two-sided"``
        doubles that p-value (equivalently, one-sided at ``alpha/2``).
    ci_alpha : float, default 0.05
        ``1 - ci_alpha`` intervals of the limit estimates.

    Returns
    -------
    PetPeeseResult
        ``pet``, ``peese``, ``chosen``, ``estimate`` and ``conf_int``.

    Raises
    ------
    metamodels.exceptions.SpecificationError
        The model has moderators.
    ValueError
        Unknown ``alternative``, ``alpha`` outside (0, 1), or too few studies (need
        at least 3).

    See Also
    --------
    egger_test : the regression test behind PET and PEESE.

    Notes
    -----
    PET is the weighted least-squares regression

    .. math::

        y_i = b_0 + b_1 \sqrt{v_i} + e_i, \qquad
        \operatorname{Var}(e_i) = \phi v_i,

    (weights ``1/v_i``, multiplicative dispersion ``phi``;
    ``egger_test(model="lm", predictor="sei")``); PEESE replaces :math:`\sqrt{v_i}` by
    :math:`v_i`.  The intercepts estimate the effect of a study of infinite precision.
    Conditional rule: if PET rejects :math:`H_0: b_0 = 0` there is a genuine effect and
    PEESE's intercept (less biased when the effect is not zero) is reported, otherwise
    PET's.

    References
    ----------
    .. [1] Stanley, T. D., & Doucouliagos, H. (2014). Meta-regression approximations
       to reduce publication selection bias. *Research Synthesis Methods*, 5(1),
       60-78.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> pp = mm.pet_peese(res)
    >>> print(pp.chosen, round(pp.estimate, 4), round(pp.pet_intercept_pvalue, 4))
    PET -0.1909 0.2021
    """
    inp = meta_input(results)
    inp.require_intercept_only("PET-PEESE")
    alpha = check_alpha(alpha)
    if alternative not in ("one-sided", "two-sided"):
        raise ValueError(f"alternative must be 'one-sided' or 'two-sided', got {alternative!r}")
    pet = egger_test(inp, model="lm", predictor="sei", alpha=ci_alpha)
    peese = egger_test(inp, model="lm", predictor="vi", alpha=ci_alpha)
    t0 = pet.limit_estimate / pet.limit_se
    p = float(stats.t.sf(abs(t0), pet.df))
    if alternative == "two-sided":
        p = min(1.0, 2.0 * p)
    chosen = "PEESE" if p < alpha else "PET"
    return PetPeeseResult(pet, peese, p, chosen, alpha, alternative)
