"""Simulated three-drug crossover asthma trial (design of the SAS PROC MIXED example)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Simulated asthma crossover trial (FEV1 by hour)"

SOURCE = """\
Simulated by metamodels (metamodels/datasets/fev_sim/make_fev_sim.py, seed 20261122).
The design follows the asthma example of the SAS/STAT documentation (PROC MIXED
and PROC BGLIMM; Littell, Stroup and Freund, SAS System for Linear Models): 24
patients, three drugs (a, c active; p placebo), FEV1 at hours 1-8 after dosing, a
baseline FEV1 per patient and drug.  No values are copied from that data.
"""

DESCR = """\
Simulated asthma crossover trial
================================

Forced expiratory volume in one second (FEV1, litres) of 24 patients measured at
hours 1-8 after each of three drugs, with about 28% of the visits missing at random
(each patient-drug unit keeps hour 1).

Number of rows: 427; 5 columns.

Variables
---------
patient : int, patient id (201-224)
baseval : float, baseline FEV1 of the patient for that drug period
drug    : str, "a", "c" (active) or "p" (placebo)
hour    : int, hour after dosing (1-8)
fev     : float, FEV1

Generating model: fev = 1.0 + 0.6 baseval + 0.35 [a] + 0.55 [c] - 0.06 (hour - 1)
+ u_patient + e, u_patient ~ N(0, 0.30), e over hours ~ N(0, R) with R a
heterogeneous AR(1) (SDs 0.30 to 0.44, correlation 0.85^|i-j|).  Suited to the
repeated-measures comparisons of the SAS example: random hour, random hour(drug),
random intercept + random hour UN, random intercept + repeated hour UN.

Source
------
""" + SOURCE


def load() -> pd.DataFrame:
    """Return the simulated asthma crossover trial as a new DataFrame (427 x 5).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 427; 5 columns. The
        columns:

        - ``patient``: int, patient id (201-224)
        - ``baseval``: float, baseline FEV1 of the patient for that drug period
        - ``drug``: str, "a", "c" (active) or "p" (placebo)
        - ``hour``: int, hour after dosing (1-8)
        - ``fev``: float, FEV1

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Simulated by metamodels (metamodels/datasets/fev_sim/make_fev_sim.py, seed
    20261122). The design follows the asthma example of the SAS/STAT documentation
    (PROC MIXED and PROC BGLIMM; Littell, Stroup and Freund, SAS System for Linear
    Models): 24 patients, three drugs (a, c active; p placebo), FEV1 at hours 1-8
    after dosing, a baseline FEV1 per patient and drug. No values are copied from
    that data.

    Examples
    --------
    >>> from metamodels.datasets import fev_sim
    >>> fev_sim.load().shape
    (427, 5)
    """
    return load_csv(__name__, "fev_sim.csv", {"patient": "int64", "baseval": "float64",
                                               "drug": str, "hour": "int64", "fev": "float64"})
