"""BCG vaccine trials (Colditz et al., 1994)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Trials of the BCG vaccine against tuberculosis"

SOURCE = """\
Colditz, G. A., Brewer, T. F., Berkey, C. S., Wilson, M. E., Burdick, E.,
Fineberg, H. V., & Mosteller, F. (1994). Efficacy of BCG vaccine in the
prevention of tuberculosis: Meta-analysis of the published literature.
JAMA, 271(9), 698-702.

Also analysed in Berkey, C. S., Hoaglin, D. C., Mosteller, F., & Colditz,
G. A. (1995). A random-effects regression model for meta-analysis.
Statistics in Medicine, 14(4), 395-411.

Distributed in R as ``dat.bcg`` in the metadat package (White, Noble,
Senior, Hamilton & Viechtbauer, metadat: Meta-Analysis Datasets), formerly
in metafor.
"""

DESCR = """\
BCG vaccine trials
==================

Results of 13 controlled trials of the Bacillus Calmette-Guerin (BCG)
vaccine against tuberculosis, as 2x2 tables of vaccinated/control by
tuberculosis positive/negative, with the absolute latitude of the trial
site and the method of treatment allocation.

Number of rows: 13 (one per trial); 9 columns.

Variables
---------
trial  : int, trial number (1-13)
author : str, author(s) of the trial report
year   : int, publication year
tpos   : int, tuberculosis positive cases in the vaccinated group
tneg   : int, tuberculosis negative cases in the vaccinated group
cpos   : int, tuberculosis positive cases in the control group
cneg   : int, tuberculosis negative cases in the control group
ablat  : int, absolute latitude of the study location (degrees)
alloc  : str, method of treatment allocation: "random", "alternate"
         or "systematic"

Notes
-----
Effect sizes are not included. Compute them with
``metamodels.effect_size``; e.g. log risk ratios from
ai=tpos, bi=tneg, ci=cpos, di=cneg (metafor's
``escalc(measure="RR")``).

Source
------
""" + SOURCE

_DTYPES = {
    "trial": "int64",
    "author": str,
    "year": "int64",
    "tpos": "int64",
    "tneg": "int64",
    "cpos": "int64",
    "cneg": "int64",
    "ablat": "int64",
    "alloc": str,
}


def load() -> pd.DataFrame:
    """Return the BCG trial data as a new pandas DataFrame (13 x 9).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 13 (one per trial); 9
        columns. The columns:

        - ``trial``: int, trial number (1-13)
        - ``author``: str, author(s) of the trial report
        - ``year``: int, publication year
        - ``tpos``: int, tuberculosis positive cases in the vaccinated group
        - ``tneg``: int, tuberculosis negative cases in the vaccinated group
        - ``cpos``: int, tuberculosis positive cases in the control group
        - ``cneg``: int, tuberculosis negative cases in the control group
        - ``ablat``: int, absolute latitude of the study location (degrees)
        - ``alloc``: str, method of treatment allocation: "random", "alternate"
          or "systematic"

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Colditz, G. A., Brewer, T. F., Berkey, C. S., Wilson, M. E., Burdick, E.,
    Fineberg, H. V., & Mosteller, F. (1994). Efficacy of BCG vaccine in the
    prevention of tuberculosis: Meta-analysis of the published literature. JAMA,
    271(9), 698-702.

    Examples
    --------
    >>> from metamodels.datasets import bcg
    >>> bcg.load().shape
    (13, 9)
    """
    return load_csv(__name__, "bcg.csv", _DTYPES)
