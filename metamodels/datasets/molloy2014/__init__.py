"""Conscientiousness and medication adherence (Molloy et al., 2014)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Correlations between conscientiousness and medication adherence"

SOURCE = """\
Molloy, G. J., O'Carroll, R. E., & Ferguson, E. (2014). Conscientiousness
and medication adherence: A meta-analysis. Annals of Behavioral Medicine,
47(1), 92-101.

Distributed in R as ``dat.molloy2014`` in the metadat package (formerly
in metafor).
"""

DESCR = """\
Molloy et al. (2014) conscientiousness and medication adherence
===============================================================

Sixteen studies reporting the correlation between conscientiousness (a
personality trait) and medication adherence.

Number of rows: 16 (one per study); 4 columns.

Variables
---------
authors : str, study authors
year    : int, publication year
ni      : int, sample size
ri      : float, observed correlation between conscientiousness and
          medication adherence

Notes
-----
Only the columns needed for effect sizes are bundled; the study-level
moderators of metadat's ``dat.molloy2014`` (controls, design, a_measure,
c_measure, meanage, quality) are not included. Fisher-z transformed
correlations (ZCOR) can be computed with ``metamodels.effect_size``.

Source
------
""" + SOURCE

_DTYPES = {
    "authors": str,
    "year": "int64",
    "ni": "int64",
    "ri": "float64",
}


def load() -> pd.DataFrame:
    """Return the Molloy et al. (2014) data as a new pandas DataFrame (16 x 4).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 16 (one per study); 4
        columns. The columns:

        - ``authors``: str, study authors
        - ``year``: int, publication year
        - ``ni``: int, sample size
        - ``ri``: float, observed correlation between conscientiousness and
          medication adherence

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Molloy, G. J., O'Carroll, R. E., & Ferguson, E. (2014). Conscientiousness and
    medication adherence: A meta-analysis. Annals of Behavioral Medicine, 47(1),
    92-101.

    Examples
    --------
    >>> from metamodels.datasets import molloy2014
    >>> molloy2014.load().shape
    (16, 4)
    """
    return load_csv(__name__, "molloy2014.csv", _DTYPES)
