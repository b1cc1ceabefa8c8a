"""Anxiety, self-confidence and sport performance (Craft et al., 2003)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Correlations among cognitive anxiety, somatic anxiety, self-confidence and performance"

SOURCE = """\
Craft, L. L., Magyar, T. M., Becker, B. J., & Feltz, D. L. (2003). The relationship
between the Competitive State Anxiety Inventory-2 and sport performance: A
meta-analysis. Journal of Sport and Exercise Psychology, 25(1), 44-65.

Distributed in R as ``dat.craft2003`` in the metadat package (ten of the studies, as
used by Becker's two-stage MASEM illustrations).
"""

DESCR = """\
Craft et al. (2003) CSAI-2 and sport performance
================================================

Ten studies, each reporting (some of) the six correlations among cognitive anxiety
(acog), somatic anxiety (asom), self-confidence (conf) and performance (perf); the
example data of meta-analytic structural equation modelling (Becker 2009).

Number of rows: 60 (six per study; missing correlations are NaN); 5 columns.

Variables
---------
study : int, study identifier
ni    : int, sample size
ri    : float, the correlation between var1 and var2 (NaN = not reported)
var1  : str, first variable
var2  : str, second variable

Source
------
""" + SOURCE


_DTYPES = {"study": "int64", "ni": "int64", "ri": "float64", "var1": "str", "var2": "str"}


def load() -> pd.DataFrame:
    """Return the Craft et al. (2003) correlations as a new pandas DataFrame (60 x 5).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 60 (six per study;
        missing correlations are NaN); 5 columns. The columns:

        - ``study``: int, study identifier
        - ``ni``: int, sample size
        - ``ri``: float, the correlation between var1 and var2 (NaN = not
          reported)
        - ``var1``: str, first variable
        - ``var2``: str, second variable

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Craft, L. L., Magyar, T. M., Becker, B. J., & Feltz, D. L. (2003). The
    relationship between the Competitive State Anxiety Inventory-2 and sport
    performance: A meta-analysis. Journal of Sport and Exercise Psychology, 25(1),
    44-65.

    Examples
    --------
    >>> from metamodels.datasets import craft2003
    >>> craft2003.load().shape
    (60, 5)
    """
    return load_csv(__name__, "craft2003.csv", _DTYPES)
