"""Summaries assembled from a header block and tables; the text blocks of meta-analyses."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:
    import pandas as pd
    from statsmodels.iolib.summary2 import Summary

__all__ = ["make_summary", "heterogeneity_block", "prediction_block", "level"]


def make_summary(title: str, info: Mapping[str, str] | Sequence[tuple[str, str]],
                 tables: Sequence[pd.DataFrame | tuple[pd.DataFrame, str]] = (),
                 texts: Sequence[str] = (), ncols: int = 2) -> Summary:
    """A statsmodels :class:`~statsmodels.iolib.summary2.Summary` (every ``summary()``).

    Parameters
    ----------
    title : str
        Title line.
    info : dict or sequence of (label, value)
        The header block (``"Method:": "REML"``), printed in ``ncols`` columns (none when
        empty).
    tables : sequence of DataFrame or (DataFrame, float_format)
        Printed in order (default format ``"%.4f"``).
    texts : sequence of str
        Lines printed after the tables.
    ncols : int, default 2
        Number of label/value column pairs of the header block.

    Returns
    -------
    statsmodels.iolib.summary2.Summary
        ``print`` it, or ``as_text()``, ``as_html()``, ``as_latex()``.

    Examples
    --------
    >>> import pandas as pd
    >>> from metamodels.summary import make_summary
    >>> table = pd.DataFrame({"Coef.": [0.5], "Std.Err.": [0.1]}, index=["x"])
    >>> smry = make_summary("My model", {"Method:": "REML"}, [table], ["A note."])
    >>> smry.as_text().splitlines()[-1]
    'A note.'
    """
    from statsmodels.iolib import summary2
    smry = summary2.Summary()
    smry.add_title(title)
    if info:
        smry.add_dict(dict(info), ncols=ncols)
    for tab in tables:
        frame, fmt = tab if isinstance(tab, tuple) else (tab, "%.4f")
        smry.add_df(frame, float_format=fmt)
    for text in texts:
        smry.add_text(text)
    return smry


def level(alpha: float) -> str:
    """``"95%"`` for ``alpha = 0.05``."""
    return f"{100 * (1 - alpha):g}%"


def heterogeneity_block(res: Any, alpha: float = 0.05) -> str:
    """Heterogeneity of a univariate meta-analysis as text (the command line's block).

    Parameters
    ----------
    res : MetaResults
        A MetaFixed or MetaRandom fit.
    alpha : float, default 0.05
        Level of the Q-profile interval of tau^2.

    Returns
    -------
    str
        tau^2 with its SE and Q-profile interval and tau (random effects), I^2, H^2,
        Cochran's Q and the test of moderators (meta-regression), one per line.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", dat, vi="vi").fit()
    >>> from metamodels.summary import heterogeneity_block
    >>> print(heterogeneity_block(res))
    Heterogeneity
      tau^2      0.3132 (SE 0.1664), 95% CI [0.1197, 1.1115] (Q-profile)
      tau        0.5597
      I^2        92.22%
      H^2        12.8558
      Q          152.2330 on 12 df, p = 1.997e-26
    """
    lines = ["Residual heterogeneity" if res.qm_test is not None else "Heterogeneity"]
    if res.method != "FE":
        lo, hi = res.conf_int_tau2(alpha=alpha)
        lines.append(f"  tau^2      {res.tau2:.4f} (SE {res.tau2_se:.4f}), "
                     f"{level(alpha)} CI [{lo:.4f}, {hi:.4f}] (Q-profile)")
        lines.append(f"  tau        {res.tau:.4f}")
    lines.append(f"  I^2        {100 * res.i2:.2f}%")
    lines.append(f"  H^2        {res.h2:.4f}")
    lines.append(f"  Q          {res.q:.4f} on {res.q_df} df, p = {res.q_pvalue:.4g}")
    if res.qm_test is not None:
        lines.append(f"  Moderators {res.qm_test}")
    return "\n".join(lines)


def prediction_block(res: Any, alpha: float = 0.05, pooled: bool = True,
                     labels: Sequence[str] | None = None) -> str:
    """Pooled effect or the fitted effects of the studies as text (the command line's
    block).

    Parameters
    ----------
    res : MetaResults
        A MetaFixed or MetaRandom fit.
    alpha : float, default 0.05
        ``1 - alpha`` confidence and prediction intervals.
    pooled : bool, default True
        True: the pooled effect (the first fitted row: estimate, SE, confidence and, for
        random effects, prediction interval); False: a table of the fitted effects of
        all studies.
    labels : sequence of str, optional
        Row labels of the study table (``pooled=False``).

    Returns
    -------
    str
        The text block.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", dat, vi="vi").fit()
    >>> from metamodels.summary import prediction_block
    >>> print(prediction_block(res))
    Pooled effect (random effects)
      estimate   -0.7145 (SE 0.1798)
      95% CI     [-1.0669, -0.3622]
      95% PI     [-1.8667, 0.4376]
    """
    frame = res.get_prediction().summary_frame(alpha=alpha)
    lvl = level(alpha)
    fixed = res.method == "FE"
    if pooled:
        row = frame.iloc[0]
        lines = [f"Pooled effect ({'fixed' if fixed else 'random'} effects)",
                 f"  estimate   {row['mean']:.4f} (SE {row['mean_se']:.4f})",
                 f"  {lvl} CI     [{row['mean_ci_lower']:.4f}, {row['mean_ci_upper']:.4f}]"]
        if not fixed:
            lines.append(f"  {lvl} PI     [{row['obs_ci_lower']:.4f}, "
                         f"{row['obs_ci_upper']:.4f}]")
        return "\n".join(lines)
    frame = frame.rename(columns={"mean_ci_lower": "ci_lower", "mean_ci_upper": "ci_upper",
                                  "obs_ci_lower": "pi_lower", "obs_ci_upper": "pi_upper"})
    if labels is not None:
        frame.index = labels
    if fixed:
        frame = frame.drop(columns=["pi_lower", "pi_upper"])
        head = f"Fitted effects of the studies ({lvl} confidence intervals)"
    else:
        head = f"Predicted effects of the studies ({lvl} confidence and prediction intervals)"
    return head + "\n" + frame.to_string(float_format=lambda x: f"{x:.4f}")
