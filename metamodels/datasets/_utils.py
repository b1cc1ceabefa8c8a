"""Helpers shared by the bundled dataset modules."""
from __future__ import annotations

from importlib import resources
from typing import Dict, Mapping

import pandas as pd

__all__ = ["load_csv"]


def load_csv(package: str, filename: str, dtypes: Mapping[str, object]) -> pd.DataFrame:
    """Read a CSV file shipped inside ``package`` into a fresh DataFrame.

    Parameters
    ----------
    package : str
        Dotted name of the dataset sub-package (``__name__`` of the caller).
    filename : str
        Name of the CSV file in that package.
    dtypes : mapping
        Column name -> dtype. Text columns are given as ``str`` so that
        identifiers such as ``"308"`` stay text; every column of the file
        must be listed, in file order.

    Returns
    -------
    pandas.DataFrame
        A new object on every call (nothing is cached), so callers may
        modify it freely.
    """
    dtype: Dict[str, object] = dict(dtypes)
    # ``resources.files`` works for regular installs, wheels and zip imports.
    ref = resources.files(package).joinpath(filename)
    with ref.open("r", encoding="utf-8", newline="") as fh:
        df = pd.read_csv(fh, dtype=dtype, keep_default_na=False, na_values=[""])
    if list(df.columns) != list(dtype):
        raise RuntimeError(
            f"{package}/{filename}: columns {list(df.columns)} do not match "
            f"the declared columns {list(dtype)}"
        )
    return df
