"""Writing-to-learn interventions (Bangert-Drowns et al., 2004)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "School-based writing-to-learn interventions and academic achievement"

SOURCE = """\
Bangert-Drowns, R. L., Hurley, M. M., & Wilkinson, B. (2004). The effects
of school-based writing-to-learn interventions on academic achievement: A
meta-analysis. Review of Educational Research, 74(1), 29-58.

Distributed in R as ``dat.bangertdrowns2004`` in the metadat package
(formerly in metafor).
"""

DESCR = """\
Bangert-Drowns et al. (2004) writing-to-learn data
==================================================

Standardised mean differences from 48 studies of the effect of
school-based writing-to-learn interventions on academic achievement.

Number of rows: 48 (one per study); 7 columns.

Variables
---------
id     : int, study identifier (1-48)
author : str, study author(s)
year   : int, publication year
ni     : int, total sample size of the study
meta   : float, whether the intervention included prompts for
         metacognitive reflection (1 = yes, 0 = no); missing (NaN) for
         2 studies, hence stored as float64
yi     : float, standardised mean difference (positive values favour the
         writing-to-learn intervention)
vi     : float, sampling variance of yi

Notes
-----
Only ``meta`` is kept of the study-level moderators of metadat's
``dat.bangertdrowns2004`` (grade, length, minutes, wic, feedback, info,
pers, imag and subject are not included). The location-scale example of
metafor (``rma(yi, vi, mods = ~ meta, scale = ~ log(ni))``) uses
``lni = numpy.log(df["ni"])`` as the scale covariate; compute it from
``ni``.

Source
------
""" + SOURCE

_DTYPES = {
    "id": "int64",
    "author": str,
    "year": "int64",
    "ni": "int64",
    "meta": "float64",
    "yi": "float64",
    "vi": "float64",
}


def load() -> pd.DataFrame:
    """Return the Bangert-Drowns et al. (2004) data as a new DataFrame (48 x 7).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 48 (one per study); 7
        columns. The columns:

        - ``id``: int, study identifier (1-48)
        - ``author``: str, study author(s)
        - ``year``: int, publication year
        - ``ni``: int, total sample size of the study
        - ``meta``: float, whether the intervention included prompts for
          metacognitive reflection (1 = yes, 0 = no); missing (NaN) for 2
          studies, hence stored as float64
        - ``yi``: float, standardised mean difference (positive values favour
          the writing-to-learn intervention)
        - ``vi``: float, sampling variance of yi

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Bangert-Drowns, R. L., Hurley, M. M., & Wilkinson, B. (2004). The effects of
    school-based writing-to-learn interventions on academic achievement: A meta-analysis.
    Review of Educational Research, 74(1), 29-58.

    Examples
    --------
    >>> from metamodels.datasets import bangertdrowns2004
    >>> bangertdrowns2004.load().shape
    (48, 7)
    """
    return load_csv(__name__, "bangertdrowns2004.csv", _DTYPES)
