"""Six-study mean-difference example (zinc lozenges, duration of colds)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from metamodels.datasets._utils import load_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "DESCR", "SOURCE", "TITLE"]

TITLE = "Six-study mean-difference example"

SOURCE = """\
Summary statistics supplied with the project as a worked mean-difference
example. The study labels and group means correspond to randomised,
placebo-controlled trials of zinc lozenges for the common cold, with the
duration of cold symptoms (days) as outcome:

Douglas, R. M., et al. (1987). Antimicrobial Agents and Chemotherapy,
31(8), 1263-1265.
Petrus, E. J., et al. (1998). Current Therapeutic Research, 59(9),
595-607.
Prasad, A. S., et al. (2000). Annals of Internal Medicine, 133(4), 245-252.
Prasad, A. S., et al. (2008). Journal of Infectious Diseases, 197(6),
795-802.
Turner, R. B., & Cetnarowski, W. E. (2000). Clinical Infectious Diseases,
31(5), 1202-1208 (two zinc arms, labelled "b" and "c" here).

These trials are pooled, among others, in Singh, M., & Das, R. R. Zinc for
the common cold. Cochrane Database of Systematic Reviews, CD001364 (2011,
2013). Which published analysis this particular extract was taken from
has not been verified (a few means differ from those in the trial
abstracts, e.g. Petrus 1998 reports 3.8 vs 5.1 days); the pooled results
quoted in DESCR are reproduced (to 2 decimals) by the standard
inverse-variance computations on the numbers bundled here.
"""

DESCR = """\
Six-study mean-difference example
=================================

Group sizes, means and standard deviations from six comparisons of an
active treatment (group 1; zinc lozenges) with placebo (group 2), outcome
the duration of common-cold symptoms in days. Negative mean differences
(m1i - m2i) favour the treatment.

Number of rows: 6 (one per comparison); 7 columns.

Variables
---------
study : str, study label ("Turner 2000c", "Turner 2000b", "Prasad 2008",
        "Prasad 2000", "Petrus 1998", "Douglas 1987")
n1i   : int, sample size, group 1 (treatment)
m1i   : float, mean, group 1
sd1i  : float, standard deviation, group 1
n2i   : int, sample size, group 2 (placebo)
m2i   : float, mean, group 2
sd2i  : float, standard deviation, group 2

Published pooled results (as supplied with the example)
-------------------------------------------------------
Mean difference (raw, m1i - m2i), inverse-variance weights, 95% CI:

* fixed (common) effect:             -2.04 [-2.45, -1.64]
* random effects, DerSimonian-Laird: -1.21 [-2.69,  0.28]

(With vi = sd1i^2/n1i + sd2i^2/n2i these are reproduced to 2 decimals; the
heterogeneity statistic is Q = 53.84 on 5 df and the DerSimonian-Laird
tau^2 = 2.81.)

Notes
-----
"Turner 2000b" and "Turner 2000c" are two treatment arms of one trial
compared with the same placebo group (n = 71, mean 7.55, SD 3.96), so
these two comparisons are not independent; the pooled results above
treat them as independent.

Source
------
""" + SOURCE

_DTYPES = {
    "study": str,
    "n1i": "int64",
    "m1i": "float64",
    "sd1i": "float64",
    "n2i": "int64",
    "m2i": "float64",
    "sd2i": "float64",
}


def load() -> pd.DataFrame:
    """Return the six-study mean-difference example as a new DataFrame (6 x 7).

    Returns
    -------
    pandas.DataFrame
        A new object on every call (modify it freely). Rows: 6 (one per comparison);
        7 columns. The columns:

        - ``study``: str, study label ("Turner 2000c", "Turner 2000b", "Prasad
          2008", "Prasad 2000", "Petrus 1998", "Douglas 1987")
        - ``n1i``: int, sample size, group 1 (treatment)
        - ``m1i``: float, mean, group 1
        - ``sd1i``: float, standard deviation, group 1
        - ``n2i``: int, sample size, group 2 (placebo)
        - ``m2i``: float, mean, group 2
        - ``sd2i``: float, standard deviation, group 2

    Notes
    -----
    The module's ``DESCR`` describes the data in full and ``SOURCE`` gives the
    citations.  Source:

    Summary statistics supplied with the project as a worked mean-difference
    example. The study labels and group means correspond to randomised, placebo-controlled
    trials of zinc lozenges for the common cold, with the duration of
    cold symptoms (days) as outcome (``SOURCE`` lists the studies).

    Examples
    --------
    >>> from metamodels.datasets import md_example
    >>> md_example.load().shape
    (6, 7)
    """
    return load_csv(__name__, "md_example.csv", _DTYPES)
