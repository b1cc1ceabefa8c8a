"""Warfarin versus placebo or control for atrial fibrillation (Hart et al., 1999)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Warfarin and stroke prevention in atrial fibrillation (incidence rates)"

SOURCE = """\
Hart, R. G., Benavente, O., McBride, R., & Pearce, L. A. (1999). Antithrombotic
therapy to prevent stroke in patients with atrial fibrillation: A meta-analysis.
Annals of Internal Medicine, 131(7), 492-501.

Distributed in R as ``dat.hart1999`` in the metadat package (White, Noble,
Senior, Hamilton & Viechtbauer, metadat: Meta-Analysis Datasets), formerly in
metafor.
"""

DESCR = """\
Hart et al. (1999) warfarin and stroke
======================================

Six randomized trials of adjusted-dose warfarin against placebo or control in
patients with non-valvular atrial fibrillation: numbers of strokes and the
person-years of follow-up in each arm.

Number of rows: 6 (one per trial); 12 columns.

Variables
---------
trial    : int, trial number
study    : str, trial name
year     : int, publication year
x1i      : int, number of strokes in the warfarin group
n1i      : int, number of patients in the warfarin group
t1i      : int, person-years in the warfarin group
x2i      : int, number of strokes in the placebo/control group
n2i      : int, number of patients in the placebo/control group
t2i      : int, person-years in the placebo/control group
compgrp  : str, comparison group ("placebo" or "control")
prevtype : str, primary or secondary prevention
trinr    : str, target range of the international normalized ratio

Notes
-----
Incidence-rate data for ``metamodels.mantel_haenszel(..., measure="IRR")`` and
``metamodels.effect_size("IRR", ..., x1i=, t1i=, x2i=, t2i=)``.

Source
------
""" + SOURCE

_DTYPES = {
    "trial": "int64",
    "study": str,
    "year": "int64",
    "x1i": "int64",
    "n1i": "int64",
    "t1i": "int64",
    "x2i": "int64",
    "n2i": "int64",
    "t2i": "int64",
    "compgrp": str,
    "prevtype": str,
    "trinr": str,
}


def load() -> pd.DataFrame:
    """Return the Hart et al. (1999) data as a new pandas DataFrame (6 x 12).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 6 (one per trial); 12
        columns. The columns:

        - ``trial``: int, trial number
        - ``study``: str, trial name
        - ``year``: int, publication year
        - ``x1i``: int, number of strokes in the warfarin group
        - ``n1i``: int, number of patients in the warfarin group
        - ``t1i``: int, person-years in the warfarin group
        - ``x2i``: int, number of strokes in the placebo/control group
        - ``n2i``: int, number of patients in the placebo/control group
        - ``t2i``: int, person-years in the placebo/control group
        - ``compgrp``: str, comparison group ("placebo" or "control")
        - ``prevtype``: str, primary or secondary prevention
        - ``trinr``: str, target range of the international normalized ratio

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Hart, R. G., Benavente, O., McBride, R., & Pearce, L. A. (1999). Antithrombotic
    therapy to prevent stroke in patients with atrial fibrillation: A meta-analysis.
    Annals of Internal Medicine, 131(7), 492-501.

    Examples
    --------
    >>> from metamodels.datasets import hart1999
    >>> hart1999.load().shape
    (6, 12)
    """
    return load_csv(__name__, "hart1999.csv", _DTYPES)
