"""Reaction times in a sleep deprivation study (lme4::sleepstudy)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Reaction times in a sleep deprivation study"

SOURCE = """\
Belenky, G., Wesensten, N. J., Thorne, D. R., Thomas, M. L., Sing, H. C.,
Redmond, D. P., Russo, M. B., & Balkin, T. J. (2003). Patterns of
performance degradation and restoration during sleep restriction and
subsequent recovery: A sleep dose-response study. Journal of Sleep
Research, 12(1), 1-12.

Distributed in R as ``sleepstudy`` in the lme4 package (Bates, Maechler,
Bolker & Walker, 2015, Journal of Statistical Software, 67(1)).
"""

DESCR = """\
Sleep deprivation study (lme4 ``sleepstudy``)
=============================================

Average reaction time per day of 18 subjects in the sleep-restricted
group (3 hours time in bed per night) of a sleep deprivation study, on
days 0 to 9 of the study. In lme4's description, days 0-1 were adaptation
and training and day 2 the baseline; sleep restriction started after
day 2.

Number of rows: 180 (18 subjects x 10 days); 3 columns.

Variables
---------
Reaction : float, average reaction time (ms)
Days     : int, day of the study (0-9)
Subject  : str, subject identifier ("308", "309", ..., "372"); kept as
           text so that it is treated as a grouping label

Notes
-----
The standard examples are the random-intercept model
``Reaction ~ Days + (1 | Subject)`` and the correlated random-slope model
``Reaction ~ Days + (Days | Subject)``.

Source
------
""" + SOURCE

_DTYPES = {
    "Reaction": "float64",
    "Days": "int64",
    "Subject": str,
}


def load() -> pd.DataFrame:
    """Return the sleepstudy data as a new pandas DataFrame (180 x 3).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 180 (18 subjects x 10
        days); 3 columns. The columns:

        - ``Reaction``: float, average reaction time (ms)
        - ``Days``: int, day of the study (0-9)
        - ``Subject``: str, subject identifier ("308", "309", ..., "372"); kept
          as text so that it is treated as a grouping label

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Belenky, G., Wesensten, N. J., Thorne, D. R., Thomas, M. L., Sing, H. C.,
    Redmond, D. P., Russo, M. B., & Balkin, T. J. (2003). Patterns of performance
    degradation and restoration during sleep restriction and subsequent recovery: A
    sleep dose-response study. Journal of Sleep Research, 12(1), 1-12.

    Examples
    --------
    >>> from metamodels.datasets import sleepstudy
    >>> sleepstudy.load().shape
    (180, 3)
    """
    return load_csv(__name__, "sleepstudy.csv", _DTYPES)
