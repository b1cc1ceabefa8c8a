"""PET-PEESE (Stanley and Doucouliagos 2014): limit estimates from Egger-type
weighted regressions on the standard error (PET) and the variance (PEESE)."""
from __future__ import annotations

from dataclasses import dataclass

from scipy import stats

from ._meta_input import check_alpha, meta_input
from .egger import EggerTestResult, egger_test

__all__ = ["PetPeeseResult", "pet_peese"]


@dataclass(frozen=True)
class PetPeeseResult:
    """PET, PEESE and the conditional PET-PEESE estimate.

    Attributes
    ----------
    pet, peese : EggerTestResult
        The two regressions (``limit_estimate``, ``limit_ci``; ``statistic`` and
        ``pvalue`` are those of the slope, i.e. Egger's test for PET).
    pet_intercept_pvalue : float
        p-value of PET's test of ``H0: intercept = 0`` (one- or two-sided, see
        ``alternative``).
    chosen : {"PET", "PEESE"}
    estimate, conf_int : the conditional estimate and its interval
    alpha, alternative : decision rule
    """

    pet: EggerTestResult
    peese: EggerTestResult
    pet_intercept_pvalue: float
    chosen: str
    alpha: float
    alternative: str

    @property
    def estimate(self):
        return (self.peese if self.chosen == "PEESE" else self.pet).limit_estimate

    @property
    def conf_int(self):
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

    def summary(self):
        return str(self)


def pet_peese(results, alpha=0.05, alternative="one-sided", ci_alpha=0.05):
    """PET-PEESE conditional limit estimate (Stanley and Doucouliagos 2014).

    Parameters
    ----------
    results : MetaFixed or MetaRandom results (intercept-only)
    alpha : float
        Level of PET's test of a zero genuine effect.
    alternative : {"one-sided", "two-sided"}
        Stanley and Doucouliagos (2014) test PET's intercept one-sided (a genuine
        effect in the direction of the PET estimate, ``p = P(T > |t|)``); ``"two-sided"``
        doubles that p-value (equivalently, one-sided at ``alpha/2``).
    ci_alpha : float
        Level of the intervals of the limit estimates.

    Returns
    -------
    PetPeeseResult

    Notes
    -----
    PET is the weighted least-squares regression ``y_i = b0 + b1 se_i + e_i`` with
    weights ``1/v_i`` and a multiplicative dispersion (``egger_test(model="lm",
    predictor="sei")``); PEESE replaces ``se_i`` by ``v_i``.  The intercepts estimate
    the effect of a study of infinite precision.  Conditional rule: if PET rejects
    ``H0: b0 = 0`` there is a genuine effect and PEESE's intercept (less biased when
    the effect is not zero) is reported, otherwise PET's.
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
