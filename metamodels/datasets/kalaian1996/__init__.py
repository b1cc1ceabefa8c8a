"""Studies of coaching for the SAT, verbal and math subtests (Kalaian & Raudenbush, 1996)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Effectiveness of coaching for the SAT (verbal and math outcomes)"

SOURCE = """\
Kalaian, H. A., & Raudenbush, S. W. (1996). A multivariate mixed linear
model for meta-analysis. Psychological Methods, 1(3), 227-235.
https://doi.org/10.1037/1082-989X.1.3.227

Distributed in R as ``dat.kalaian1996`` in the metadat package (used in
metafor's documentation of multivariate models).
"""

DESCR = """\
Kalaian and Raudenbush (1996) SAT coaching data
===============================================

Standardised mean differences comparing coached with uncoached students on
the verbal and/or math subtest of the SAT. 47 studies: 20 report both
subtests (two rows each; the two effects come from the same students and
are correlated), 27 report one subtest only.

Number of rows: 67 (effect sizes); 12 columns.

Variables
---------
id       : int, row (effect size) identifier
study    : str, study identifier
year     : int, publication year
n1i      : int, number of participants in the coached group
n2i      : int, number of participants in the uncoached group
outcome  : str, subtest, "verbal" or "math"
yi       : float, standardised mean difference
vi       : float, sampling variance of yi
hrs      : float, hours of coaching (missing for 2 rows)
ets      : int, study conducted by the Educational Testing Service (0/1)
homework : str, homework assigned outside the coaching course ("0"/"1";
           kept as text as in metadat, where two rows read "l")
type     : int, design (1 randomised, 2 matched, 3 nonequivalent groups)

Notes
-----
The within-study covariance of a study's verbal and math effects is not
reported; metafor's example assumes a correlation of 0.66,
``V <- vcalc(vi, cluster=study, type=outcome, rho=0.66, data=dat)``:
``V[i, j] = 0.66 * sqrt(vi[i] * vi[j])`` for the two rows of one study.
With ``struct="UN"`` the between-study correlation of the two subtests is
estimated at -1, on the boundary (see docs/meta_multivariate.md).

Source
------
""" + SOURCE

_DTYPES = {
    "id": "int64",
    "study": str,
    "year": "int64",
    "n1i": "int64",
    "n2i": "int64",
    "outcome": str,
    "yi": "float64",
    "vi": "float64",
    "hrs": "float64",
    "ets": "int64",
    "homework": str,
    "type": "int64",
}


def load() -> pd.DataFrame:
    """Return the Kalaian and Raudenbush (1996) data as a new DataFrame (67 x 12).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 67 (effect sizes); 12
        columns. The columns:

        - ``id``: int, row (effect size) identifier
        - ``study``: str, study identifier
        - ``year``: int, publication year
        - ``n1i``: int, number of participants in the coached group
        - ``n2i``: int, number of participants in the uncoached group
        - ``outcome``: str, subtest, "verbal" or "math"
        - ``yi``: float, standardised mean difference
        - ``vi``: float, sampling variance of yi
        - ``hrs``: float, hours of coaching (missing for 2 rows)
        - ``ets``: int, study conducted by the Educational Testing Service (0/1)
        - ``homework``: str, homework assigned outside the coaching course
          ("0"/"1"; kept as text as in metadat, where two rows read "l")
        - ``type``: int, design (1 randomised, 2 matched, 3 nonequivalent
          groups)

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Kalaian, H. A., & Raudenbush, S. W. (1996). A multivariate mixed linear model
    for meta-analysis. Psychological Methods, 1(3), 227-235.
    https://doi.org/10.1037/1082-989X.1.3.227

    Examples
    --------
    >>> from metamodels.datasets import kalaian1996
    >>> kalaian1996.load().shape
    (67, 12)
    """
    return load_csv(__name__, "kalaian1996.csv", _DTYPES)
