"""Counts of ovarian follicles in mares over the oestrus cycle (nlme::Ovary)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Ovarian follicles of mares over the oestrus cycle (nlme Ovary)"

SOURCE = """\
Pierson, R. A., & Ginther, O. J. (1987). Follicular populations during the
estrous cycle in mares. Animal Reproduction Science, 14, 219-231.

Distributed in R as ``Ovary`` in the nlme package (Pinheiro, Bates & R Core
Team); Pinheiro, J. C., & Bates, D. M. (2000). Mixed-Effects Models in S and
S-PLUS. Springer.
"""

DESCR = """\
Ovary data (nlme ``Ovary``)
===========================

Number of ovarian follicles larger than 10 mm in 11 mares, counted daily from
three days before ovulation to three days after the next ovulation: unequally
spaced times, 308 rows.

Number of rows: 308; 3 columns.

Variables
---------
Mare      : str, mare (1 to 11)
Time      : float, time in the oestrus cycle (0 and 1 are ovulations)
follicles : int, number of follicles larger than 10 mm

Notes
-----
Used by Pinheiro and Bates (2000) for serially correlated residuals in
continuous time (``corExp``/``corCAR1``): ``MixedModel(...,
cov_struct="SP(EXP)", coords="Time")``.

Source
------
""" + SOURCE

_DTYPES = {
    "Mare": str,
    "Time": "float64",
    "follicles": "int64",
}


def load() -> pd.DataFrame:
    """Return the Ovary data as a new pandas DataFrame (308 x 3).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 308; 3 columns. The
        columns:

        - ``Mare``: str, mare (1 to 11)
        - ``Time``: float, time in the oestrus cycle (0 and 1 are ovulations)
        - ``follicles``: int, number of follicles larger than 10 mm

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Pierson, R. A., & Ginther, O. J. (1987). Follicular populations during the
    estrous cycle in mares. Animal Reproduction Science, 14, 219-231.

    Examples
    --------
    >>> from metamodels.datasets import ovary
    >>> ovary.load().shape
    (308, 3)
    """
    return load_csv(__name__, "ovary.csv", _DTYPES)
