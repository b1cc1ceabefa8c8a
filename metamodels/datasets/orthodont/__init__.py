"""Orthodontic growth data (Potthoff & Roy, 1964; nlme::Orthodont)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Growth of the pituitary-pterygomaxillary distance in children"

SOURCE = """\
Potthoff, R. F., & Roy, S. N. (1964). A generalized multivariate analysis
of variance model useful especially for growth curve problems.
Biometrika, 51(3/4), 313-326.

Distributed in R as ``Orthodont`` in the nlme package; described in
Pinheiro, J. C., & Bates, D. M. (2000). Mixed-Effects Models in S and
S-PLUS. Springer, New York.
"""

DESCR = """\
Orthodontic growth data (nlme ``Orthodont``)
============================================

Repeated measurements of the distance (mm) from the centre of the
pituitary to the pterygomaxillary fissure, measured on x-ray images of
the skull, for 27 children (16 boys, 11 girls) at ages 8, 10, 12 and 14
years.

Number of rows: 108 (27 children x 4 ages); 4 columns.

Variables
---------
distance : float, distance from the pituitary to the pterygomaxillary
           fissure (mm)
age      : int, age of the child at measurement (years: 8, 10, 12, 14)
Subject  : str, child identifier, "M01"-"M16" for boys and "F01"-"F11"
           for girls
Sex      : str, "Male" or "Female"

Notes
-----
Rows are ordered by subject and, within subject, by age. A common use is
the marginal model ``distance ~ age * Sex`` with an unstructured,
compound-symmetry or AR(1) residual covariance over the four ages
within Subject (nlme::gls with corSymm/varIdent, corCompSymm, corAR1).

Source
------
""" + SOURCE

_DTYPES = {
    "distance": "float64",
    "age": "int64",
    "Subject": str,
    "Sex": str,
}


def load() -> pd.DataFrame:
    """Return the Orthodont data as a new pandas DataFrame (108 x 4).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 108 (27 children x 4
        ages); 4 columns. The columns:

        - ``distance``: float, distance from the pituitary to the
          pterygomaxillary fissure (mm)
        - ``age``: int, age of the child at measurement (years: 8, 10, 12, 14)
        - ``Subject``: str, child identifier, "M01"-"M16" for boys and
          "F01"-"F11" for girls
        - ``Sex``: str, "Male" or "Female"

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Potthoff, R. F., & Roy, S. N. (1964). A generalized multivariate analysis of
    variance model useful especially for growth curve problems. Biometrika, 51(3/4),
    313-326.

    Examples
    --------
    >>> from metamodels.datasets import orthodont
    >>> orthodont.load().shape
    (108, 4)
    """
    return load_csv(__name__, "orthodont.csv", _DTYPES)
