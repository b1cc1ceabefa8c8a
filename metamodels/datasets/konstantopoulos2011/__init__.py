"""Modified school calendars, three-level data (Konstantopoulos, 2011)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Effects of modified school calendars on achievement (schools in districts)"

SOURCE = """\
Konstantopoulos, S. (2011). Fixed effects and variance components
estimation in three-level meta-analysis. Research Synthesis Methods, 2(1),
61-76.

The effect sizes come from the meta-analysis of Cooper, H., Valentine,
J. C., Charlton, K., & Melson, A. (2003). The effects of modified school
calendars on student achievement and on school and community attitudes.
Review of Educational Research, 73(1), 1-52.

Distributed in R as ``dat.konstantopoulos2011`` in the metadat package
(formerly in metafor).
"""

DESCR = """\
Konstantopoulos (2011) three-level meta-analysis data
=====================================================

Standardised mean differences from 56 studies comparing student
achievement in schools with a modified (year-round) calendar with that in
schools following a traditional calendar. The studies are schools nested
within 11 school districts, which gives a three-level structure (sampling
error, schools within districts, districts).

Number of rows: 56 (one per study/school); 6 columns.

Variables
---------
district : int, school district identifier (11 districts)
school   : int, school identifier within district
study    : int, study identifier (1-56)
year     : int, year of the study
yi       : float, standardised mean difference (positive values indicate
           higher achievement under the modified calendar)
vi       : float, sampling variance of yi

Notes
-----
Fit with random effects for district and school within district, e.g.
metafor's ``rma.mv(yi, vi, random = ~ 1 | district/school)``.

Source
------
""" + SOURCE

_DTYPES = {
    "district": "int64",
    "school": "int64",
    "study": "int64",
    "year": "int64",
    "yi": "float64",
    "vi": "float64",
}


def load() -> pd.DataFrame:
    """Return the Konstantopoulos (2011) data as a new DataFrame (56 x 6).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 56 (one per
        study/school); 6 columns. The columns:

        - ``district``: int, school district identifier (11 districts)
        - ``school``: int, school identifier within district
        - ``study``: int, study identifier (1-56)
        - ``year``: int, year of the study
        - ``yi``: float, standardised mean difference (positive values indicate
          higher achievement under the modified calendar)
        - ``vi``: float, sampling variance of yi

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Konstantopoulos, S. (2011). Fixed effects and variance components estimation in
    three-level meta-analysis. Research Synthesis Methods, 2(1), 61-76.

    Examples
    --------
    >>> from metamodels.datasets import konstantopoulos2011
    >>> konstantopoulos2011.load().shape
    (56, 6)
    """
    return load_csv(__name__, "konstantopoulos2011.csv", _DTYPES)
