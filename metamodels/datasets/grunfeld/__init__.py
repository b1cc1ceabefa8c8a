"""Grunfeld investment data (plm::Grunfeld)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Grunfeld investment data: 10 US firms, 1935-1954"

SOURCE = """\
Grunfeld, Y. (1958). The Determinants of Corporate Investment. PhD
thesis, Department of Economics, University of Chicago.

This is the 10-firm version used in Baltagi, B. H. Econometric Analysis of
Panel Data (Wiley), distributed in R as ``Grunfeld`` in the plm package
(Croissant & Millo, 2008, Journal of Statistical Software, 27(2)). On the
history and the variants of the data see Kleiber, C., & Zeileis, A.
(2010). The Grunfeld data at 50. German Economic Review, 11(4), 404-417.
"""

DESCR = """\
Grunfeld investment data (plm ``Grunfeld``)
===========================================

A balanced panel of annual observations on 10 large US firms for the
years 1935 to 1954.

Number of rows: 200 (10 firms x 20 years); 5 columns.

Variables
---------
firm    : int, firm identifier (1-10): General Motors, US Steel, General
          Electric, Chrysler, Atlantic Refining, IBM, Union Oil,
          Westinghouse, Goodyear, Diamond Match
year    : int, year (1935-1954)
inv     : float, gross investment
value   : float, market value of the firm
capital : float, stock of plant and equipment

Monetary variables are in millions of US dollars, deflated (1947 prices).

Notes
-----
Rows are sorted by firm, then year. The classic panel regression is
``inv ~ value + capital`` with firm fixed or random effects (plm's
"within" and "random" (Swamy-Arora) estimators, Hausman test).

Source
------
""" + SOURCE

_DTYPES = {
    "firm": "int64",
    "year": "int64",
    "inv": "float64",
    "value": "float64",
    "capital": "float64",
}


def load() -> pd.DataFrame:
    """Return the Grunfeld data as a new pandas DataFrame (200 x 5).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 200 (10 firms x 20
        years); 5 columns. The columns:

        - ``firm``: int, firm identifier (1-10): General Motors, US Steel,
          General Electric, Chrysler, Atlantic Refining, IBM, Union Oil,
          Westinghouse, Goodyear, Diamond Match
        - ``year``: int, year (1935-1954)
        - ``inv``: float, gross investment
        - ``value``: float, market value of the firm
        - ``capital``: float, stock of plant and equipment

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Grunfeld, Y. (1958). The Determinants of Corporate Investment. PhD thesis,
    Department of Economics, University of Chicago.

    Examples
    --------
    >>> from metamodels.datasets import grunfeld
    >>> grunfeld.load().shape
    (200, 5)
    """
    return load_csv(__name__, "grunfeld.csv", _DTYPES)
