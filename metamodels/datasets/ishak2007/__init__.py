"""Deep-brain stimulation in Parkinson's disease, UPDRS change over time (Ishak et al., 2007)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Deep-brain stimulation and motor symptoms over time (long format)"

SOURCE = """\
Ishak, K. J., Platt, R. W., Joseph, L., Hanley, J. A., & Caro, J. J. (2007).
Meta-analysis of longitudinal studies. Clinical Trials, 4(5), 525-539.

Distributed in R as ``dat.ishak2007`` in the metadat package (White, Noble,
Senior, Hamilton & Viechtbauer, metadat: Meta-Analysis Datasets), formerly in
metafor; reshaped to long format as in metafor's help page.
"""

DESCR = """\
Ishak et al. (2007) deep-brain stimulation
==========================================

46 studies of deep-brain stimulation of the subthalamic nucleus in Parkinson's
disease: mean change from baseline of the UPDRS motor score at up to four time
points (3, 6, 12 and 24 months), one row per (study, time point) reported.

Number of rows: 82; 6 columns.

Variables
---------
study  : str, study (first author and year)
time   : int, time point 1-4
months : int, months after the operation (3, 6, 12 or 24)
yi     : float, mean change in the UPDRS motor score
vi     : float, sampling variance of yi
mdur   : float, mean disease duration (years)

Notes
-----
Repeated measures of the same patients: the sampling errors of a study are
correlated over time. metafor's help page assumes AR(1) errors with
correlation 0.97 between adjacent time points (``vcalc(vi, cluster=study,
time1=time, phi=0.97)``), used with ``MetaMixed(..., struct="AR1"/"HAR"/"CAR")``.

Source
------
""" + SOURCE

_DTYPES = {
    "study": str,
    "time": "int64",
    "months": "int64",
    "yi": "float64",
    "vi": "float64",
    "mdur": "float64",
}


def load() -> pd.DataFrame:
    """Return the Ishak et al. (2007) data as a new pandas DataFrame (82 x 6).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 82; 6 columns. The
        columns:

        - ``study``: str, study (first author and year)
        - ``time``: int, time point 1-4
        - ``months``: int, months after the operation (3, 6, 12 or 24)
        - ``yi``: float, mean change in the UPDRS motor score
        - ``vi``: float, sampling variance of yi
        - ``mdur``: float, mean disease duration (years)

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Ishak, K. J., Platt, R. W., Joseph, L., Hanley, J. A., & Caro, J. J. (2007).
    Meta-analysis of longitudinal studies. Clinical Trials, 4(5), 525-539.

    Examples
    --------
    >>> from metamodels.datasets import ishak2007
    >>> ishak2007.load().shape
    (82, 6)
    """
    return load_csv(__name__, "ishak2007.csv", _DTYPES)
