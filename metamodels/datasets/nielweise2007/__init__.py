"""Anti-infective-treated central venous catheters (Niel-Weise et al., 2007)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Anti-infective-treated central venous catheters and bloodstream infections"

SOURCE = """\
Niel-Weise, B. S., Stijnen, T., & van den Broek, P. J. (2007). Anti-infective-
treated central venous catheters: A systematic review of randomized controlled
trials. Intensive Care Medicine, 33(12), 2058-2068.

Distributed in R as ``dat.nielweise2007`` in the metadat package (White, Noble,
Senior, Hamilton & Viechtbauer, metadat: Meta-Analysis Datasets), formerly in
metafor.
"""

DESCR = """\
Niel-Weise et al. (2007) anti-infective-treated catheters
=========================================================

Eighteen randomized trials comparing anti-infective-treated with standard central
venous catheters for the prevention of catheter-related bloodstream infections in
acute care; several trials have a zero cell (no infection in the treated arm).

Number of rows: 18 (one per trial); 7 columns.

Variables
---------
study  : int, study number
author : str, first author
year   : int, publication year
ai     : int, number of infections in the anti-infective catheter group
n1i    : int, number of patients in the anti-infective catheter group
ci     : int, number of infections in the standard catheter group
n2i    : int, number of patients in the standard catheter group

Notes
-----
Used for Mantel-Haenszel and Peto analyses with zero cells
(``metamodels.mantel_haenszel``, ``metamodels.peto``) and for log odds ratios
with ``metamodels.effect_size("OR", ..., ai="ai", n1i="n1i", ci="ci", n2i="n2i")``.

Source
------
""" + SOURCE

_DTYPES = {
    "study": "int64",
    "author": str,
    "year": "int64",
    "ai": "int64",
    "n1i": "int64",
    "ci": "int64",
    "n2i": "int64",
}


def load() -> pd.DataFrame:
    """Return the Niel-Weise et al. (2007) data as a new pandas DataFrame (18 x 7).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 18 (one per trial); 7
        columns. The columns:

        - ``study``: int, study number
        - ``author``: str, first author
        - ``year``: int, publication year
        - ``ai``: int, number of infections in the anti-infective catheter group
        - ``n1i``: int, number of patients in the anti-infective catheter group
        - ``ci``: int, number of infections in the standard catheter group
        - ``n2i``: int, number of patients in the standard catheter group

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Niel-Weise, B. S., Stijnen, T., & van den Broek, P. J. (2007). Anti-infective-treated
    central venous catheters: A systematic review of randomized controlled
    trials. Intensive Care Medicine, 33(12), 2058-2068.

    Examples
    --------
    >>> from metamodels.datasets import nielweise2007
    >>> nielweise2007.load().shape
    (18, 7)
    """
    return load_csv(__name__, "nielweise2007.csv", _DTYPES)
