"""Periodontal disease trials with two outcomes (Berkey et al., 1998)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Surgical vs non-surgical treatment of periodontal disease (two outcomes)"

SOURCE = """\
Berkey, C. S., Hoaglin, D. C., Antczak-Bouckoms, A., Mosteller, F., &
Colditz, G. A. (1998). Meta-analysis of multiple outcomes by regression
with random effects. Statistics in Medicine, 17(22), 2537-2550.

Distributed in R as ``dat.berkey1998`` in the metadat package (formerly
in metafor).
"""

DESCR = """\
Berkey et al. (1998) bivariate meta-analysis data
=================================================

Five randomised trials comparing surgical with non-surgical treatment of
medium-severity periodontal disease, each reporting two outcomes one year
after treatment: probing depth (PD) and attachment level (AL), in mm. The
observed outcomes are mean differences between the two treatments. Each
trial contributes two rows, with the known 2x2 within-trial
variance-covariance matrix of its (PD, AL) pair.

Number of rows: 10 (5 trials x 2 outcomes); 9 columns.

Variables
---------
trial   : int, trial identifier (1-5)
author  : str, study author(s)
year    : int, publication year
ni      : int, number of patients
outcome : str, outcome of the row: "PD" (probing depth) or
          "AL" (attachment level)
yi      : float, observed outcome (mean difference, mm)
vi      : float, sampling variance of yi
v1i     : float, within-trial (co)variance of yi with the trial's PD
          outcome
v2i     : float, within-trial (co)variance of yi with the trial's AL
          outcome

Notes
-----
Within a trial, rows are ordered PD then AL, so the within-trial
covariance matrix of trial j is the 2x2 block
``df.loc[df.trial == j, ["v1i", "v2i"]]`` (its diagonal equals ``vi``).
Used for multivariate (bivariate) random-effects models with an
unstructured between-trial covariance, e.g. metafor's
``rma.mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial,
struct = "UN")``.

Source
------
""" + SOURCE

_DTYPES = {
    "trial": "int64",
    "author": str,
    "year": "int64",
    "ni": "int64",
    "outcome": str,
    "yi": "float64",
    "vi": "float64",
    "v1i": "float64",
    "v2i": "float64",
}


def load() -> pd.DataFrame:
    """Return the Berkey et al. (1998) data as a new DataFrame (10 x 9).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 10 (5 trials x 2
        outcomes); 9 columns. The columns:

        - ``trial``: int, trial identifier (1-5)
        - ``author``: str, study author(s)
        - ``year``: int, publication year
        - ``ni``: int, number of patients
        - ``outcome``: str, outcome of the row: "PD" (probing depth) or "AL"
          (attachment level)
        - ``yi``: float, observed outcome (mean difference, mm)
        - ``vi``: float, sampling variance of yi
        - ``v1i``: float, within-trial (co)variance of yi with the trial's PD
          outcome
        - ``v2i``: float, within-trial (co)variance of yi with the trial's AL
          outcome

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Berkey, C. S., Hoaglin, D. C., Antczak-Bouckoms, A., Mosteller, F., & Colditz,
    G. A. (1998). Meta-analysis of multiple outcomes by regression with random
    effects. Statistics in Medicine, 17(22), 2537-2550.

    Examples
    --------
    >>> from metamodels.datasets import berkey1998
    >>> berkey1998.load().shape
    (10, 9)
    """
    return load_csv(__name__, "berkey1998.csv", _DTYPES)
