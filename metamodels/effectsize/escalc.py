"""Effect sizes and sampling variances from summary data, in the style of metafor's ``escalc``.

The single entry point is :func:`effect_size`; :data:`MEASURES` describes the
supported measures (their inputs and variance types).
"""
from __future__ import annotations

import warnings
from collections import namedtuple
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _formulas
from . import _formulas_arcsine as _arcsine
from . import _formulas_more as _more

try:  # the package-wide warning base class (needs statsmodels)
    from metamodels.exceptions import MetaModelsWarning as _Warning
except Exception:  # pragma: no cover - fallback when metamodels.exceptions is unavailable
    _Warning = UserWarning

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["effect_size", "MEASURES", "Measure", "zero_adjustment", "check_add_to"]

Measure = namedtuple("Measure", ["name", "description", "inputs", "vtypes", "family"])
Measure.__doc__ = """Description of one effect-size measure.

Attributes
----------
name : str
    Upper-case measure name, as accepted by :func:`effect_size`.
description : str
    What ``yi`` is.
inputs : tuple of tuple of str
    Required inputs; each inner tuple lists alternatives, one of which must be
    given (e.g. ``("bi", "n1i")``).
vtypes : tuple of str
    Accepted values of ``vtype``; the first one (``"LS"``) is the default.
family : str
    ``"means"``, ``"sds"``, ``"mean1"``, ``"change"``, ``"table"``, ``"rates"``,
    ``"rate"``, ``"cor"``, ``"pcor"``, ``"r2"`` or ``"prop"``.
"""

_MEANS = (("m1i",), ("sd1i",), ("n1i",), ("m2i",), ("sd2i",), ("n2i",))
_TABLE = (("ai",), ("bi", "n1i"), ("ci",), ("di", "n2i"))
_COR = (("ri",), ("ni",))
_PROP = (("xi",), ("ni", "mi"))
_SDS2 = (("sd1i",), ("n1i",), ("sd2i",), ("n2i",))
_MEAN1 = (("mi",), ("sdi",), ("ni",))
_RATES = (("x1i",), ("t1i",), ("x2i",), ("t2i",))
_RATE = (("xi",), ("ti",))
_PCOR = (("ti",), ("ni",), ("mi",))
_R2 = (("r2i", "fi"), ("ni",), ("mi",))

MEASURES = MappingProxyType({
    "MD": Measure("MD", "raw mean difference m1i - m2i", _MEANS, ("LS", "HO"), "means"),
    "SMD": Measure("SMD", "standardized mean difference (Hedges' g, exact bias correction)",
                   _MEANS, ("LS", "UB", "LS2", "AV"), "means"),
    "ROM": Measure("ROM", "log ratio of means log(m1i / m2i)", _MEANS,
                   ("LS", "HO", "AV", "AVHO"), "means"),
    "OR": Measure("OR", "log odds ratio", _TABLE, ("LS",), "table"),
    "RR": Measure("RR", "log risk ratio", _TABLE, ("LS",), "table"),
    "RD": Measure("RD", "risk difference", _TABLE, ("LS", "UB", "AV"), "table"),
    "ZCOR": Measure("ZCOR", "Fisher's r-to-z transformed correlation atanh(ri)", _COR,
                    ("LS",), "cor"),
    "COR": Measure("COR", "raw correlation coefficient", _COR, ("LS", "AV"), "cor"),
    "PLO": Measure("PLO", "logit transformed proportion log(xi / (ni - xi))", _PROP,
                   ("LS", "AV"), "prop"),
    "PR": Measure("PR", "raw proportion xi / ni", _PROP, ("LS", "UB", "AV"), "prop"),
    "SMDH": Measure("SMDH", "standardized mean difference with heteroscedastic variances "
                    "(Bonett)", _MEANS, ("LS",), "means"),
    "CVR": Measure("CVR", "log coefficient-of-variation ratio", _MEANS, ("LS",), "means"),
    "VR": Measure("VR", "log variability ratio log(sd1i / sd2i)", _SDS2, ("LS",), "sds"),
    "D2ORN": Measure("D2ORN", "SMD transformed to a log odds ratio (normal)", _MEANS,
                     ("LS",), "means"),
    "D2ORL": Measure("D2ORL", "SMD transformed to a log odds ratio (logistic)", _MEANS,
                     ("LS",), "means"),
    "MN": Measure("MN", "raw mean", _MEAN1, ("LS",), "mean1"),
    "MNLN": Measure("MNLN", "log mean", _MEAN1, ("LS",), "mean1"),
    "SMCC": Measure("SMCC", "standardized mean change (change-score standardization)",
                    (("m1i",), ("m2i",), ("sd1i",), ("sd2i",), ("ni",), ("ri",)), ("LS",),
                    "change"),
    "SMCR": Measure("SMCR", "standardized mean change (raw-score standardization)",
                    (("m1i",), ("m2i",), ("sd1i",), ("ni",), ("ri",)), ("LS",), "change"),
    "PETO": Measure("PETO", "Peto's log odds ratio (O - E) / V", _TABLE, ("LS",), "table"),
    "PHI": Measure("PHI", "phi coefficient", _TABLE, ("ST", "CS", "LS"), "table"),
    "OR2DN": Measure("OR2DN", "log odds ratio transformed to an SMD (normal)", _TABLE,
                     ("LS",), "table"),
    "OR2DL": Measure("OR2DL", "log odds ratio transformed to an SMD (logistic)", _TABLE,
                     ("LS",), "table"),
    "IRR": Measure("IRR", "log incidence rate ratio", _RATES, ("LS",), "rates"),
    "IRD": Measure("IRD", "incidence rate difference", _RATES, ("LS",), "rates"),
    "IRLN": Measure("IRLN", "log incidence rate log(xi / ti)", _RATE, ("LS",), "rate"),
    "PCOR": Measure("PCOR", "partial correlation from a regression t statistic", _PCOR,
                    ("LS",), "pcor"),
    "ZPCOR": Measure("ZPCOR", "Fisher's z of the partial correlation", _PCOR, ("LS",),
                     "pcor"),
    "PLN": Measure("PLN", "log proportion log(xi / ni)", _PROP, ("LS",), "prop"),
    "PAS": Measure("PAS", "arcsine square root transformed proportion", _PROP, ("LS",), "prop"),
    "PFT": Measure("PFT", "Freeman-Tukey double arcsine transformed proportion", _PROP,
                   ("LS",), "prop"),
    "AS": Measure("AS", "arcsine square root risk difference", _TABLE, ("LS",), "table"),
    "IR": Measure("IR", "incidence rate xi / ti", _RATE, ("LS",), "rate"),
    "IRS": Measure("IRS", "square root transformed incidence rate", _RATE, ("LS",), "rate"),
    "IRFT": Measure("IRFT", "Freeman-Tukey transformed incidence rate", _RATE, ("LS",), "rate"),
    "R2": Measure("R2", "coefficient of determination R^2 of a regression", _R2,
                  ("LS", "LS2", "AV", "AV2"), "r2"),
    "ZR2": Measure("ZR2", "r-to-z transformed R^2, atanh(sqrt(R^2))", _R2, ("LS",), "r2"),
})
"""Supported measures: a read-only mapping from name to :class:`Measure`."""

_FORMULAS = {
    "MD": _formulas.mean_difference,
    "SMD": _formulas.standardized_mean_difference,
    "ROM": _formulas.log_ratio_of_means,
    "OR": _formulas.log_odds_ratio,
    "RR": _formulas.log_risk_ratio,
    "RD": _formulas.risk_difference,
    "ZCOR": _formulas.fisher_z,
    "COR": _formulas.raw_correlation,
    "PLO": _formulas.logit_proportion,
    "PR": _formulas.raw_proportion,
    "SMDH": _more.smd_heteroscedastic,
    "CVR": _more.log_cv_ratio,
    "VR": _more.log_variability_ratio,
    "D2ORN": partial(_more.smd_to_log_odds, scale=1.65),
    "D2ORL": partial(_more.smd_to_log_odds, scale=np.pi / np.sqrt(3.0)),
    "MN": _more.mean,
    "MNLN": _more.log_mean,
    "SMCC": _more.smd_change_score,
    "SMCR": _more.smd_change_raw,
    "PETO": _more.peto_log_odds_ratio,
    "PHI": _more.phi_coefficient,
    "OR2DN": partial(_more.odds_ratio_to_smd, scale=1.0 / 1.65),
    "OR2DL": partial(_more.odds_ratio_to_smd, scale=np.sqrt(3.0) / np.pi),
    "IRR": _more.log_incidence_rate_ratio,
    "IRD": _more.incidence_rate_difference,
    "IRLN": _more.log_incidence_rate,
    "PCOR": _more.partial_correlation,
    "ZPCOR": _more.fisher_z_partial,
    "PLN": _arcsine.log_proportion,
    "PAS": _arcsine.arcsine_proportion,
    "PFT": _arcsine.freeman_tukey_proportion,
    "AS": _arcsine.arcsine_risk_difference,
    "IR": _arcsine.incidence_rate,
    "IRS": _arcsine.sqrt_incidence_rate,
    "IRFT": _arcsine.freeman_tukey_rate,
    "R2": _more.r_squared,
    "ZR2": _more.fisher_z_r_squared,
}

_TO_CHOICES = ("only0", "all", "if0all", "none")
_UNADJUSTED = _arcsine.UNADJUSTED | {"PHI"}
_COUNTS = ("ai", "bi", "ci", "di", "xi", "mi", "x1i", "x2i")
_COUNT_FAMILIES = ("table", "prop", "rates", "rate", "pcor")
_SIZES = ("n1i", "n2i", "ni")
_SDS = ("sd1i", "sd2i", "sdi")
_TIMES = ("t1i", "t2i", "ti")


def effect_size(measure: str, data: pd.DataFrame | None = None, *, vtype: str = "LS",
                add: float = 0.5, to: str = "only0", drop00: bool = False,
                **columns: str | ArrayLike | float) -> pd.DataFrame:
    r"""Compute effect sizes ``yi`` and sampling variances ``vi`` for a meta-analysis.

    A Python counterpart of metafor's ``escalc``, with the same argument names
    and the same default rules, so that results agree with R to rounding error.

    Parameters
    ----------
    measure : str
        The effect-size measure (case-insensitive), one of ``"MD"``, ``"SMD"``,
        ``"ROM"``, ``"OR"``, ``"RR"``, ``"RD"``, ``"ZCOR"``, ``"COR"``,
        ``"PLO"``, ``"PR"``, ``"SMDH"``, ``"SMCC"``, ``"SMCR"``, ``"CVR"``, ``"VR"``,
        ``"D2ORN"``, ``"D2ORL"``, ``"MN"``, ``"MNLN"``, ``"PETO"``, ``"PHI"``,
        ``"OR2DN"``, ``"OR2DL"``, ``"IRR"``, ``"IRD"``, ``"IRLN"``, ``"PCOR"``,
        ``"ZPCOR"``, ``"PLN"``, ``"PAS"``, ``"PFT"``, ``"AS"``, ``"IR"``, ``"IRS"``,
        ``"IRFT"``, ``"R2"``, ``"ZR2"``; see :data:`MEASURES` and the Notes.
    data : pandas.DataFrame, optional
        Table holding the study-level inputs.  Inputs given as strings are
        column names of ``data``.
    vtype : str, default "LS"
        How to compute the sampling variances.  ``"LS"`` (large-sample
        approximation) is available for every measure; the alternatives are
        ``"HO"`` for MD and ROM (common variance in both groups), ``"UB"`` for
        SMD, RD and PR (unbiased estimate), ``"LS2"`` for SMD (Borenstein et al.
        2009, eq. 12.17) and R2 (the full Kendall-Stuart equation), ``"AV"`` for
        SMD, ROM, RD, COR, PLO, PR, R2 (a sample-size weighted average over studies
        in place of the study's own estimate in the variance), ``"AV2"`` for R2 and
        ``"AVHO"`` for ROM.
    add : float, default 0.5
        Amount added to counts to avoid division by zero or logs of zero
        (2x2-table measures OR, RR, RD and proportion measures PLO, PR).
    to : {"only0", "all", "if0all", "none"}, default "only0"
        When ``add`` is used: ``"only0"`` adds it to all four cells (or to
        ``xi`` and ``mi``) of the studies with at least one zero; ``"all"`` to
        every study; ``"if0all"`` to every study provided at least one study
        has a zero; ``"none"`` never.
    drop00 : bool, default False
        For 2x2-table measures, give NaN for studies with no events in both
        groups (``ai = ci = 0``) or only events in both groups (``bi = di = 0``).
        Ignored by other measures.
    **columns : str or array_like
        The study-level inputs under metafor's names.  Each is a column name of
        ``data`` (str), an array-like with one value per study, or a scalar
        (used for every study).  Array-likes are matched to rows by position.

        * MD, SMD, ROM: ``m1i, sd1i, n1i, m2i, sd2i, n2i`` (means, standard
          deviations and sizes of the two groups).
        * OR, RR, RD: ``ai, bi, ci, di`` (events and non-events in group 1,
          events and non-events in group 2) or ``ai, n1i, ci, n2i`` with the
          group sizes in place of the non-events (either form per group).
        * ZCOR, COR: ``ri, ni`` (correlation and sample size).
        * PLO, PR: ``xi`` with ``ni`` (events and sample size) or ``mi``
          (non-events).
        * SMDH, CVR, D2ORN, D2ORL: as SMD; VR: ``sd1i, n1i, sd2i, n2i``;
          MN, MNLN: ``mi, sdi, ni`` (mean, SD, size); SMCC: ``m1i, m2i, sd1i,
          sd2i, ni, ri``; SMCR: ``m1i, m2i, sd1i, ni, ri``; PETO, PHI, OR2DN,
          OR2DL: a 2x2 table; IRR, IRD: ``x1i, t1i, x2i, t2i`` (events and
          person-times); IRLN: ``xi, ti``; PCOR, ZPCOR: ``ti, ni, mi`` (t
          statistic, sample size, number of predictors); R2, ZR2: ``r2i`` (or
          ``fi``, the omnibus F statistic), ``ni``, ``mi`` (number of predictors).

    Returns
    -------
    pandas.DataFrame
        A copy of ``data`` (or, when ``data`` is None, a new table holding the
        inputs) with float columns ``yi`` and ``vi`` added (replaced if
        present).  ``attrs["measure"]`` and ``attrs["vtype"]`` record the call.

    Raises
    ------
    ValueError
        For an unknown measure, vtype or ``to`` (the valid ones are listed), a
        missing or unused input, a column name not in ``data``, inputs of
        different lengths or non-numeric inputs, infinite inputs, negative
        counts, standard deviations or sample sizes, sample sizes too small for
        the measure (group sizes of at least 2 for MD/SMD/ROM, ``ni > 1`` for
        correlations, positive sizes otherwise), events exceeding the sample
        size, inconsistent ``bi`` and ``n1i``, an empty group in a 2x2 table,
        and correlations outside [-1, 1].

    Warns
    -----
    MetaModelsWarning
        When an effect size or variance is undefined for some studies (for
        example a zero cell with ``to="none"``, means of opposite signs for ROM,
        or ``ni <= 3`` for correlations); these values are set to NaN.

    See Also
    --------
    MEASURES : the measures with their inputs and variance types.

    Notes
    -----
    Missing inputs (NaN or None) give NaN ``yi`` and ``vi`` for that study;
    they are not an error.  Values that come out infinite or undefined are set
    to NaN, as metafor does (when ``yi`` is undefined, so is ``vi``).

    **Two groups, continuous outcome.**  With pooled variance
    :math:`s_p^2 = ((n_1-1)s_1^2 + (n_2-1)s_2^2)/(n_1+n_2-2)`:

    * MD: :math:`y = \bar x_1 - \bar x_2`, :math:`v = s_1^2/n_1 + s_2^2/n_2`
      (``"LS"``) or :math:`v = s_p^2 (1/n_1 + 1/n_2)` (``"HO"``).
    * SMD (Hedges 1981): :math:`d = (\bar x_1 - \bar x_2)/s_p`, :math:`m = n_1 +
      n_2 - 2`, :math:`c(m) = \exp(\ln\Gamma(m/2) - \tfrac12 \ln(m/2) -
      \ln\Gamma((m-1)/2))`, :math:`y = g = c(m)\,d`.  Variances: ``"LS"``
      :math:`1/n_1 + 1/n_2 + g^2/(2(n_1+n_2))`; ``"UB"`` (Hedges 1983)
      :math:`1/n_1 + 1/n_2 + (1 - (m-2)/(m\,c(m)^2))\,g^2`; ``"LS2"`` (Borenstein
      et al. 2009, eq. 12.17) :math:`c(m)^2 (1/n_1 + 1/n_2 + d^2/(2(n_1+n_2)))`;
      ``"AV"`` as ``"LS"`` with :math:`g` replaced by
      :math:`\bar g = \sum (n_{1}+n_{2}) g / \sum (n_{1}+n_{2})`.
    * ROM (Hedges, Gurevitch & Curtis 1999): :math:`y = \ln(\bar x_1/\bar x_2)`,
      ``"LS"`` :math:`v = s_1^2/(n_1 \bar x_1^2) + s_2^2/(n_2 \bar x_2^2)`;
      ``"HO"`` the same with :math:`s_p^2` for both :math:`s_1^2` and
      :math:`s_2^2`; ``"AV"`` :math:`v = \overline{CV}_1^2/n_1 +
      \overline{CV}_2^2/n_2`, where :math:`\overline{CV}_j` is the
      :math:`n_j`-weighted mean over studies of :math:`CV_j = s_j/\bar x_j`
      (signed, as in metafor); ``"AVHO"`` one :math:`n`-weighted mean
      :math:`\overline{CV}` over both groups and all studies,
      :math:`v = \overline{CV}^2(1/n_1 + 1/n_2)`.

    **2x2 tables** (cells :math:`a, b, c, d` after the zero-cell rule,
    :math:`n_1 = a + b`, :math:`n_2 = c + d`, :math:`p_1 = a/n_1`,
    :math:`p_2 = c/n_2`):

    * OR: :math:`y = \ln(ad/(bc))`, :math:`v = 1/a + 1/b + 1/c + 1/d`.
    * RR: :math:`y = \ln(p_1/p_2)`, :math:`v = 1/a - 1/n_1 + 1/c - 1/n_2`.
    * RD: :math:`y = p_1 - p_2`, ``"LS"`` :math:`v = p_1(1-p_1)/n_1 +
      p_2(1-p_2)/n_2`; ``"UB"`` with :math:`n_j - 1` in the denominators;
      ``"AV"`` with the pooled risks :math:`\sum a/\sum n_1` and :math:`\sum
      c/\sum n_2` in place of :math:`p_1, p_2`.

    **Correlations** (:math:`r`, :math:`n`):

    * ZCOR: :math:`y = \operatorname{atanh}(r) = \tfrac12 \ln((1+r)/(1-r))`,
      :math:`v = 1/(n-3)`.
    * COR: :math:`y = r`, :math:`v = (1-r^2)^2/(n-1)` (``"AV"``: :math:`r`
      replaced by the :math:`n`-weighted mean correlation in :math:`v`).

    For both, :math:`v` is NaN (with a warning) when :math:`n \le 3`, as in
    metafor.

    **Proportions** (events :math:`x`, non-events :math:`m = n - x`, after the
    zero rule; :math:`p = x/n`):

    * PLO: :math:`y = \ln(x/m)`, :math:`v = 1/x + 1/m` (``"AV"``:
      :math:`v = 1/(n \bar p (1 - \bar p))` with :math:`\bar p = \sum x / \sum n`).
    * PR: :math:`y = p`, :math:`v = p(1-p)/n` (``"UB"``: :math:`p(1-p)/(n-1)`;
      ``"AV"``: :math:`\bar p(1-\bar p)/n`).

    **More measures** (formulas in :mod:`metamodels.effectsize._formulas_more`
    and ``docs/effect_sizes.md``): Bonett's SMDH, the standardised mean changes
    SMCC (change-score) and SMCR (raw-score), the log CV ratio CVR and
    variability ratio VR (Nakagawa et al. 2015), SMD <-> log OR conversions
    (D2ORN/D2ORL, OR2DN/OR2DL), raw and log means (MN, MNLN), Peto's log odds
    ratio, the phi coefficient (``vtype="ST"``/``"LS"`` for fixed group sizes or
    ``"CS"`` cross-sectional; computed without ``add``), incidence rate ratio,
    difference and log rate (IRR, IRD, IRLN; ``add``/``to`` act on the event
    counts, ``drop00`` on ``x1i = x2i = 0``) and partial correlations from
    regression t statistics (PCOR, ZPCOR); the log proportion PLN, the arcsine and
    Freeman-Tukey measures PAS, PFT, AS, IRS and IRFT (computed from the counts as given,
    without ``add``) and the raw incidence rate IR
    (:mod:`metamodels.effectsize._formulas_arcsine`; back-transformations in
    :mod:`metamodels.effectsize.transforms`).

    **Coefficients of determination** (metafor 4.0's R2 and ZR2; ``R^2`` of a
    regression with ``m`` predictors on ``n`` cases, or from its omnibus F statistic,
    ``R^2 = m F / (m F + n - m - 1)``):

    * R2: :math:`y = R^2`; ``"LS"`` :math:`v = 4R^2(1-R^2)^2/n`, ``"LS2"``
      :math:`v = 4R^2(1-R^2)^2(n-m-1)^2/((n^2-1)(n+3))` (Kendall & Stuart 1979,
      eqs. 27.88 and 27.87 as metafor cites them); ``"AV"``/``"AV2"`` with the
      :math:`n`-weighted mean :math:`R^2` in the variance.
    * ZR2: :math:`y = \operatorname{atanh}(\sqrt{R^2})`, :math:`v = 1/n` (Olkin &
      Finn 1995, with the factor 1/2).

    Both assume multivariate normal data, large ``n`` and a non-zero population
    :math:`R^2`; ``R^2`` cannot be negative, so a pooled ``R^2`` is positive by
    construction and its test against 0 is meaningless.

    **Zero counts.**  As in metafor (version 3.8), the ``add``/``to`` rule is
    applied to all five count-based measures OR, RR, RD, PLO and PR: with the
    defaults, 1/2 is added to each cell of a 2x2 table that has a zero cell
    (so :math:`n_1` and :math:`n_2` grow by 1), and to :math:`x` and :math:`m`
    of a proportion with :math:`x = 0` or :math:`x = n`.  Studies removed by
    ``drop00`` do not count when ``to="if0all"`` looks for zeros.

    References
    ----------
    Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009).
    *Introduction to meta-analysis*. Wiley.

    Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect
    size and related estimators. *Journal of Educational Statistics*, 6(2), 107-128.

    Hedges, L. V. (1983). A random effects model for effect sizes.
    *Psychological Bulletin*, 93(2), 388-395.

    Hedges, L. V., Gurevitch, J., & Curtis, P. S. (1999). The meta-analysis of
    response ratios in experimental ecology. *Ecology*, 80(4), 1150-1156.

    Kendall, M., & Stuart, A. (1979). *The advanced theory of statistics*, Vol. 2
    (4th ed.). Griffin.

    Olkin, I., & Finn, J. D. (1995). Correlations redux. *Psychological Bulletin*,
    118(1), 155-164.

    Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor
    package. *Journal of Statistical Software*, 36(3), 1-48.

    Examples
    --------
    >>> import pandas as pd
    >>> from metamodels.effectsize import effect_size
    >>> dat = pd.DataFrame({"tpos": [4, 6], "tneg": [119, 300],
    ...                     "cpos": [11, 29], "cneg": [128, 274]})
    >>> es = effect_size("RR", dat, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> es[["yi", "vi"]].round(4)
           yi      vi
    0 -0.8893  0.3256
    1 -1.5854  0.1946
    """
    spec = _get_measure(measure)
    vtype = _check_vtype(vtype, spec)
    add, to = check_add_to(add, to)
    if data is not None and not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame or None, got {type(data).__name__}")
    chosen = _choose_inputs(spec, columns)

    n = len(data) if data is not None else None
    raw = {}
    for name in chosen:
        raw[name] = _resolve_input(name, columns[name], data)
    n = _common_length(raw, n, spec.name)
    arrays = {name: _to_float(name, value, n) for name, value in raw.items()}

    _validate(spec, arrays)
    missing = np.zeros(n, dtype=bool)
    for value in arrays.values():
        missing |= np.isnan(value)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        yi, vi, excluded, small_n = _compute(spec, arrays, vtype, add, to, drop00, missing)

    excluded = excluded | missing
    yi = np.where(excluded, np.nan, yi)
    vi = np.where(excluded, np.nan, vi)
    bad_y = ~np.isfinite(yi) & ~excluded
    bad_v = ~np.isfinite(vi) & ~excluded & ~small_n
    yi = np.where(np.isfinite(yi), yi, np.nan)
    vi = np.where(np.isfinite(vi) & np.isfinite(yi), vi, np.nan)
    if small_n.any():
        rows = np.flatnonzero(small_n & ~excluded)
        if rows.size:
            warnings.warn(
                f"{spec.name}: the sampling variance cannot be estimated when ni <= 3; "
                f"vi set to NaN for rows at positions {rows.tolist()}", _Warning, stacklevel=2)
    if (bad_y | bad_v).any():
        rows = np.flatnonzero(bad_y | bad_v)
        warnings.warn(
            f"{spec.name}: yi and/or vi undefined or infinite for rows at positions "
            f"{rows.tolist()} (e.g. zero counts with add=0 or to='none', zero standard "
            f"deviations, means of opposite sign); set to NaN", _Warning, stacklevel=2)

    if data is not None:
        out = data.copy()
    else:
        out = pd.DataFrame({name: arrays[name] for name in chosen})
    out["yi"] = yi
    out["vi"] = vi
    out.attrs["measure"] = spec.name
    out.attrs["vtype"] = vtype
    return out


# ---------------------------------------------------------------------------
# argument handling


def _get_measure(measure):
    valid = ", ".join(MEASURES)
    if not isinstance(measure, str):
        raise ValueError(f"measure must be a string, one of {valid}; got {measure!r}")
    key = measure.strip().upper()
    if key not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; valid measures are {valid}")
    return MEASURES[key]


def _check_vtype(vtype, spec):
    key = str(vtype).upper() if isinstance(vtype, str) else vtype
    if key not in spec.vtypes:
        raise ValueError(f"vtype={vtype!r} is not available for measure {spec.name!r}; "
                         f"choose one of {', '.join(spec.vtypes)}")
    return key


def check_add_to(add, to):
    """Validate metafor's ``add`` (non-negative number) and ``to``; returns them."""
    if to not in _TO_CHOICES:
        raise ValueError(f"to={to!r} is not valid; choose one of {', '.join(_TO_CHOICES)}")
    try:
        add = float(add)
    except (TypeError, ValueError):
        raise ValueError(f"add must be a non-negative number, got {add!r}") from None
    if not np.isfinite(add) or add < 0:
        raise ValueError(f"add must be a non-negative finite number, got {add!r}")
    return add, to


def _describe_inputs(spec):
    return ", ".join(" or ".join(repr(a) for a in slot) for slot in spec.inputs)


def _choose_inputs(spec, columns):
    allowed = {name for slot in spec.inputs for name in slot}
    unused = [name for name, value in columns.items()
              if name not in allowed and value is not None]
    if unused:
        raise ValueError(
            f"argument(s) {', '.join(repr(u) for u in unused)} not used by measure "
            f"{spec.name!r}, which takes {_describe_inputs(spec)}")
    chosen = []
    for slot in spec.inputs:
        given = [name for name in slot if columns.get(name) is not None]
        if not given:
            alternatives = " or ".join(repr(a) for a in slot)
            raise ValueError(f"measure {spec.name!r} requires argument {alternatives} "
                             f"(inputs: {_describe_inputs(spec)})")
        chosen.extend(given)
    return chosen


def _resolve_input(name, value, data):
    if isinstance(value, str):
        if data is None:
            raise ValueError(f"{name}={value!r} names a column, but no data was given")
        if value not in data.columns:
            raise ValueError(f"column {value!r} (given for {name}) is not in data; "
                             f"available columns: {', '.join(map(str, data.columns))}")
        return data[value]
    return value


def _common_length(raw, n, measure):
    lengths = {}
    for name, value in raw.items():
        if np.ndim(value) > 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {np.shape(value)}")
        if np.ndim(value) == 1:
            lengths[name] = len(value)
    if n is not None:
        bad = {k: v for k, v in lengths.items() if v != n}
        if bad:
            detail = ", ".join(f"{k} has {v}" for k, v in bad.items())
            raise ValueError(f"length mismatch: data has {n} rows but {detail}")
        return n
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise ValueError(f"length mismatch between the inputs for {measure!r}: {detail}")
    if not lengths:
        raise ValueError("no study-level inputs: give data or at least one array-like input")
    return next(iter(lengths.values()))


def _to_float(name, value, n):
    try:
        if np.ndim(value) == 0:
            value = np.nan if value is None or value is pd.NA else value
            arr = np.full(n, float(value))
        else:
            series = pd.Series(np.asarray(value, dtype=object) if not isinstance(value, pd.Series)
                               else value.to_numpy(dtype=object))
            arr = pd.to_numeric(series, errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains infinite values")
    return arr


def _positions(mask):
    rows = np.flatnonzero(mask)
    shown = rows[:10].tolist()
    return f"{shown}{' ...' if rows.size > 10 else ''}"


def _validate(spec, arrays):
    for name, value in arrays.items():
        if name in _TIMES and spec.family in ("rates", "rate") and (value <= 0).any():
            raise ValueError(f"person-times {name} must be positive; positions "
                             f"{_positions(value <= 0)}")
        if name in _COUNTS and spec.family in _COUNT_FAMILIES and (value < 0).any():
            raise ValueError(f"negative counts in {name} at positions {_positions(value < 0)}")
        if name in _SDS and (value < 0).any():
            raise ValueError(f"negative standard deviations in {name} at positions "
                             f"{_positions(value < 0)}")
        if name in _SIZES and (value < 0).any():
            raise ValueError(f"negative sample sizes in {name} at positions "
                             f"{_positions(value < 0)}")
    if spec.family in ("means", "sds"):
        for name in ("n1i", "n2i"):
            small = arrays[name] <= 1
            if small.any():
                raise ValueError(f"{name} must be at least 2 for measure {spec.name!r} "
                                 f"(a group needs n > 1 for a standard deviation); "
                                 f"positions {_positions(small)}")
    elif spec.family == "change":
        r, ni = arrays["ri"], arrays["ni"]
        if ((r < -1) | (r > 1)).any():
            raise ValueError(f"correlations ri outside [-1, 1] at positions "
                             f"{_positions((r < -1) | (r > 1))}")
        if (ni <= 1).any():
            raise ValueError(f"ni must be at least 2 for measure {spec.name!r}; positions "
                             f"{_positions(ni <= 1)}")
    elif spec.family == "mean1":
        if (arrays["ni"] <= 0).any():
            raise ValueError(f"ni must be positive; positions {_positions(arrays['ni'] <= 0)}")
    elif spec.family == "cor":
        r, ni = arrays["ri"], arrays["ni"]
        outside = (r < -1) | (r > 1)
        if outside.any():
            raise ValueError(f"correlations ri outside [-1, 1] at positions {_positions(outside)}")
        if (ni <= 1).any():
            raise ValueError(f"ni must be greater than 1 for measure {spec.name!r}; "
                             f"positions {_positions(ni <= 1)}")
    elif spec.family == "r2":
        _validate_r2(arrays)
    elif spec.family == "prop":
        x = arrays["xi"]
        if "ni" in arrays:
            ni = arrays["ni"]
            if (ni == 0).any():
                raise ValueError(f"ni must be positive; positions {_positions(ni == 0)}")
            if (x > ni).any():
                raise ValueError(f"xi exceeds ni at positions {_positions(x > ni)}")
            if "mi" in arrays:
                _check_sum("xi", "mi", "ni", x, arrays["mi"], ni)
        elif ((x + arrays["mi"]) == 0).any():
            raise ValueError(f"xi + mi must be positive; positions "
                             f"{_positions((x + arrays['mi']) == 0)}")
    elif spec.family == "table":
        for events, other, size, group in (("ai", "bi", "n1i", 1), ("ci", "di", "n2i", 2)):
            ev = arrays[events]
            if size in arrays:
                if (arrays[size] == 0).any():
                    raise ValueError(f"{size} must be positive (group {group} is empty); "
                                     f"positions {_positions(arrays[size] == 0)}")
                if (ev > arrays[size]).any():
                    raise ValueError(f"{events} exceeds {size} at positions "
                                     f"{_positions(ev > arrays[size])}")
                if other in arrays:
                    _check_sum(events, other, size, ev, arrays[other], arrays[size])
            elif ((ev + arrays[other]) == 0).any():
                raise ValueError(f"group {group} is empty ({events} + {other} == 0) at "
                                 f"positions {_positions((ev + arrays[other]) == 0)}")


def _validate_r2(arrays):
    """R2/ZR2: R^2 in [0, 1] (or F >= 0), positive ``ni`` and ``mi``, ``ni - mi - 1 > 0``."""
    if "r2i" in arrays and "fi" in arrays:
        raise ValueError("give r2i or fi (the F statistic it is computed from), not both")
    if "r2i" in arrays:
        r2 = arrays["r2i"]
        if ((r2 < 0) | (r2 > 1)).any():
            raise ValueError(f"R^2 values r2i outside [0, 1] at positions "
                             f"{_positions((r2 < 0) | (r2 > 1))}")
    elif (arrays["fi"] < 0).any():
        raise ValueError(f"negative F statistics fi at positions "
                         f"{_positions(arrays['fi'] < 0)}")
    ni, mi = arrays["ni"], arrays["mi"]
    if (mi <= 0).any():
        raise ValueError(f"the number of predictors mi must be positive; positions "
                         f"{_positions(mi <= 0)}")
    if (ni - mi - 1 <= 0).any():
        raise ValueError(f"ni - mi - 1 (residual df) must be positive; positions "
                         f"{_positions(ni - mi - 1 <= 0)}")


def _check_sum(a_name, b_name, n_name, a, b, n):
    bad = np.abs(a + b - n) > 1e-8 * np.maximum(1.0, np.abs(n))
    if bad.any():
        raise ValueError(f"{a_name} + {b_name} differs from {n_name} at positions "
                         f"{_positions(bad)}; give only one of {b_name} and {n_name}")


# ---------------------------------------------------------------------------
# computation


def zero_adjustment(has_zero, add, to):
    """The amount added to the counts of each study under metafor's ``add``/``to`` rule.

    ``has_zero`` flags the studies with a zero count (studies dropped by ``drop00`` or
    missing must be False); ``to`` is ``"only0"`` (those studies), ``"all"``,
    ``"if0all"`` (all studies if any has a zero) or ``"none"``.
    """
    if to == "only0":
        return np.where(has_zero, add, 0.0)
    if to == "all":
        return np.full(has_zero.shape, add)
    if to == "if0all":
        return np.full(has_zero.shape, add if has_zero.any() else 0.0)
    return np.zeros(has_zero.shape)


_KEYS = {"means": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
         "sds": ("sd1i", "n1i", "sd2i", "n2i"), "mean1": ("mi", "sdi", "ni"),
         "pcor": ("ti", "ni", "mi"), "r2": ("r2i", "ni", "mi"), "SMCC": ("m1i", "m2i", "sd1i", "sd2i", "ni", "ri"),
         "SMCR": ("m1i", "m2i", "sd1i", "ni", "ri")}


def _compute(spec, arrays, vtype, add, to, drop00, missing):
    """Return yi, vi, rows excluded on purpose (drop00) and rows with ni <= 3."""
    n = missing.size
    excluded = np.zeros(n, dtype=bool)
    small_n = np.zeros(n, dtype=bool)
    formula = _FORMULAS[spec.name]
    arrays = {k: np.where(missing, np.nan, v) for k, v in arrays.items()}
    if spec.family == "r2" and "r2i" not in arrays:
        arrays["r2i"] = _more.r2_from_f(arrays["fi"], arrays["ni"], arrays["mi"])
    keys = _KEYS.get(spec.name, _KEYS.get(spec.family))
    if keys is not None:
        yi, vi = formula(*(arrays[k] for k in keys), vtype)
    elif spec.family == "rates":
        x1, x2 = arrays["x1i"], arrays["x2i"]
        if drop00:
            excluded = (x1 == 0) & (x2 == 0)
        x1, x2 = (np.where(missing | excluded, np.nan, v) for v in (x1, x2))
        extra = zero_adjustment((x1 == 0) | (x2 == 0), add, to)
        yi, vi = formula(x1 + extra, arrays["t1i"], x2 + extra, arrays["t2i"], vtype)
    elif spec.family == "rate":
        x = arrays["xi"]
        extra = zero_adjustment(x == 0, add, "none" if spec.name in _UNADJUSTED else to)
        yi, vi = formula(x + extra, arrays["ti"], vtype)
    elif spec.family == "cor":
        r, ni = arrays["ri"], arrays["ni"]
        yi, vi = formula(r, ni, vtype)
        small_n = ni <= 3
        vi = np.where(small_n, np.nan, vi)
    elif spec.family == "r2":
        _validate_r2(arrays)
    elif spec.family == "prop":
        x = arrays["xi"]
        m = arrays["mi"] if "mi" in arrays else arrays["ni"] - x
        extra = zero_adjustment((x == 0) | (m == 0), add,
                                "none" if spec.name in _UNADJUSTED else to)
        yi, vi = formula(x + extra, m + extra, vtype)
    else:  # 2x2 table
        a, c = arrays["ai"], arrays["ci"]
        b = arrays["bi"] if "bi" in arrays else arrays["n1i"] - a
        d = arrays["di"] if "di" in arrays else arrays["n2i"] - c
        if drop00:
            excluded = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
        skip = missing | excluded
        a, b, c, d = (np.where(skip, np.nan, v) for v in (a, b, c, d))
        extra = zero_adjustment((a == 0) | (b == 0) | (c == 0) | (d == 0), add, to)
        if spec.name in _UNADJUSTED:  # phi and the arcsine measures: unadjusted table
            extra = np.zeros_like(extra)
        yi, vi = formula(a + extra, b + extra, c + extra, d + extra, vtype)
    return yi, vi, excluded, small_n
