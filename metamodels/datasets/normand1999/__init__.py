"""Length of hospital stay in stroke units (Normand, 1999)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Length of hospital stay of stroke patients: specialist vs routine care"

SOURCE = """\
Normand, S.-L. T. (1999). Meta-analysis: Formulating, evaluating,
combining, and reporting. Statistics in Medicine, 18(3), 321-359.

Distributed in R as ``dat.normand1999`` in the metadat package (formerly
in metafor).
"""

DESCR = """\
Normand (1999) stroke-unit length-of-stay data
==============================================

Nine studies comparing the length of hospital stay (in days) of stroke
patients managed in a specialised care (stroke) unit with patients
receiving routine care, given as group sizes, means and standard
deviations.

Number of rows: 9 (one per study); 8 columns.

Variables
---------
study  : int, study number (1-9)
source : str, location of the study (e.g. "Edinburgh", "Orpington-Mild")
n1i    : int, number of patients in the specialised care group
m1i    : int, mean length of stay (days) in the specialised care group
sd1i   : int, standard deviation of length of stay, specialised care group
n2i    : int, number of patients in the routine care group
m2i    : int, mean length of stay (days) in the routine care group
sd2i   : int, standard deviation of length of stay, routine care group

Notes
-----
Means and standard deviations are whole numbers in the source and are
stored as int64. Mean differences (MD), standardised mean differences
(SMD) or log ratios of means (ROM) can be computed with
``metamodels.effect_size``.

Source
------
""" + SOURCE

_DTYPES = {
    "study": "int64",
    "source": str,
    "n1i": "int64",
    "m1i": "int64",
    "sd1i": "int64",
    "n2i": "int64",
    "m2i": "int64",
    "sd2i": "int64",
}


def load() -> pd.DataFrame:
    """Return the Normand (1999) data as a new pandas DataFrame (9 x 8).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 9 (one per study); 8
        columns. The columns:

        - ``study``: int, study number (1-9)
        - ``source``: str, location of the study (e.g. "Edinburgh", "Orpington-Mild
          ")
        - ``n1i``: int, number of patients in the specialised care group
        - ``m1i``: int, mean length of stay (days) in the specialised care group
        - ``sd1i``: int, standard deviation of length of stay, specialised care
          group
        - ``n2i``: int, number of patients in the routine care group
        - ``m2i``: int, mean length of stay (days) in the routine care group
        - ``sd2i``: int, standard deviation of length of stay, routine care
          group

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Normand, S.-L. T. (1999). Meta-analysis: Formulating, evaluating, combining, and
    reporting. Statistics in Medicine, 18(3), 321-359.

    Examples
    --------
    >>> from metamodels.datasets import normand1999
    >>> normand1999.load().shape
    (9, 8)
    """
    return load_csv(__name__, "normand1999.csv", _DTYPES)
