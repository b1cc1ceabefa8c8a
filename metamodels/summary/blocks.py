"""Summaries assembled from a header block and tables; the text blocks of meta-analyses."""
from __future__ import annotations

__all__ = ["make_summary", "heterogeneity_block", "prediction_block", "level"]


def make_summary(title, info, tables=(), texts=(), ncols=2):
    """A statsmodels :class:`~statsmodels.iolib.summary2.Summary`.

    Parameters
    ----------
    title : str
    info : dict or sequence of (label, value)
        The header block (``"Method:": "REML"``), printed in ``ncols`` columns (none when
        empty).
    tables : sequence of DataFrame or (DataFrame, float_format)
        Printed in order (default format ``"%.4f"``).
    texts : sequence of str
        Lines printed after the tables.
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


def level(alpha):
    """``"95%"`` for ``alpha = 0.05``."""
    return f"{100 * (1 - alpha):g}%"


def heterogeneity_block(res, alpha=0.05):
    """Heterogeneity of a univariate meta-analysis as text: tau^2 with its SE and
    Q-profile interval and tau (random effects), I^2, H^2, Cochran's Q and the test of
    moderators (meta-regression)."""
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


def prediction_block(res, alpha=0.05, pooled=True, labels=None):
    """Pooled effect (``pooled=True``: estimate, SE, confidence and, for random effects,
    prediction interval) or the fitted effects of the studies as a text table."""
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
