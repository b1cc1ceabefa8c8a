"""The R-side part of a MixedModel with a spatial structure (SAS ``TYPE=SP(...)(c-list)``).

SAS's ``REPEATED / SUBJECT=s TYPE=SP(EXP)(x y)`` makes the residual covariance of two rows
of subject ``s`` a function of the Euclidean distance between their coordinates ``(x, y)``
(:mod:`metamodels.core.structures.spatial`).  The engine's residual part indexes a
structure by a per-row position (``visit``): here each distinct coordinate row of the data
is one position, and a coordinate row repeated within a subject takes one position per
occurrence (the positions are at distance 0, so their covariance is ``sigma^2`` and the
``LOCAL`` nugget stays on the diagonal).  The structure computes the entries of the
gathered sub-matrices directly, so many distinct positions (continuous times, unique
locations) cost nothing beyond the blocks themselves.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core.random import ResidualPart
from ..core.structures import lookup
from ..core.structures.spatial import Spatial, nearest_neighbour_distances
from ..exceptions import SpecificationError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["spatial_class", "spatial_residual_part", "coordinate_columns"]


def spatial_class(cov_struct: str) -> type[Spatial] | None:
    """The spatial structure class named by ``cov_struct``, or None (for any other name,
    known or not: unknown names are reported where the structure is built).

    Parameters
    ----------
    cov_struct : str
        An R-side structure name (``"SP(EXP)"``, ``"AR1"``, ...).

    Returns
    -------
    type or None
        A :class:`~metamodels.core.structures.spatial.Spatial` subclass, or None.
    """
    try:
        cls = lookup(cov_struct)
    except ValueError:
        return None
    return cls if issubclass(cls, Spatial) else None


def coordinate_columns(coords: str | Sequence[str] | None) -> list[str] | None:
    """Column names given as ``coords=`` to ``from_formula`` (a name or a list), or None.

    Parameters
    ----------
    coords : str, sequence of str or None
        One column name or several.

    Returns
    -------
    list of str or None

    Raises
    ------
    ValueError
        ``coords`` is not a name or a list of names.
    """
    if coords is None:
        return None
    cols = [coords] if isinstance(coords, str) else list(coords)
    if not cols or not all(isinstance(c, str) for c in cols):
        raise ValueError("coords= of from_formula names the coordinate column(s) of data, "
                         f"e.g. coords=['x', 'y']; got {coords!r}")
    return cols


def _coordinates(coords, n):
    try:
        c = np.asarray(coords, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError("coords must be numeric") from exc
    if c.ndim == 1:
        c = c[:, None]
    if c.ndim != 2 or c.shape[0] != n or c.shape[1] < 1:
        raise ValueError(f"coords must have one row per observation ({n}) and at least one "
                         f"column, got shape {np.shape(coords)}")
    if not np.all(np.isfinite(c)):
        raise ValueError("coords have missing or non-finite values; remove those rows "
                         "(from_formula drops them)")
    return c


def _within_subject_spacing(c, subj):
    """Median distance from a row to the nearest other row of its subject (positive
    distances only; None when no subject has two distinct positions)."""
    order = np.argsort(subj, kind="stable")
    bounds = np.flatnonzero(np.diff(subj[order])) + 1
    found = []
    for rows in np.split(order, bounds):
        if rows.size > 1:
            d = nearest_neighbour_distances(c[rows])
            found.append(d[d > 0])
    found = np.concatenate(found) if found else np.zeros(0)
    return float(np.median(found)) if found.size else None


def spatial_residual_part(n: int, subject: ArrayLike | None, cov_struct: str,
                          cov_group: ArrayLike | None, coords: ArrayLike, local: bool,
                          repeated: None, codes: Callable[..., Any]) -> ResidualPart:
    """The :class:`~metamodels.core.random.ResidualPart` of a spatial R-side structure.

    Parameters
    ----------
    n : int
        Number of rows.
    subject : array_like or None
        Residual subjects; None puts every row in one subject (SAS
        ``SUBJECT=INTERCEPT``).
    cov_struct : str
        ``"SP(EXP)"``, ``"SP(GAU)"``, ``"SP(POW)"`` or ``"SP(SPH)"``.
    cov_group : array_like or None
        SAS ``GROUP=``: one parameter set per level.
    coords : array_like (n,) or (n, k)
    local : bool
        SAS's ``LOCAL`` nugget.
    repeated : None
        Not used by spatial structures (an error if given).
    codes : callable
        Integer codes and labels of a column (the model's ``_codes``).

    Returns
    -------
    ResidualPart

    Raises
    ------
    ValueError
        Not a spatial structure, no ``coords``, or ``repeated`` given.
    SpecificationError
        Rows of a subject sharing their coordinates without a nugget.
    """
    cls = spatial_class(cov_struct)
    if cls is None:
        what = "coords=" if coords is not None else "local=True"
        raise ValueError(f"{what} is used by the spatial structures SP(EXP), SP(GAU), "
                         f"SP(POW), SP(SPH) only, not by cov_struct={cov_struct!r}")
    if coords is None:
        raise ValueError(f"cov_struct={cov_struct!r} needs coords= (the coordinate "
                         "column(s), as SAS's TYPE=SP(EXP)(x y))")
    if repeated is not None:
        raise ValueError(f"repeated= is not used by cov_struct={cov_struct!r}: the "
                         "coordinates (coords=) place the observations; drop repeated=")
    c = _coordinates(coords, n)
    subj = np.zeros(n, dtype=np.int64) if subject is None else codes(subject)[0]
    # one position per distinct coordinate row and occurrence within its subject
    frame = pd.DataFrame(c).assign(_s=subj)
    occurrence = frame.groupby(list(frame.columns), sort=False).cumcount().to_numpy()
    if not local and np.any(occurrence > 0):
        first = int(np.flatnonzero(occurrence > 0)[0])
        raise SpecificationError(
            f"{int(np.sum(occurrence > 0))} row(s) share their coordinates with another row "
            f"of the same subject (first: row {first}): without a nugget their correlation "
            "is 1 and R is singular; add the nugget (local=True, SAS's LOCAL) or remove the "
            "duplicates")
    keyed = np.column_stack([c, occurrence.astype(float)])
    uniq, position = np.unique(keyed, axis=0, return_inverse=True)
    position = np.asarray(position, dtype=np.int64).reshape(-1)
    struct = cls(uniq.shape[0], coords=uniq[:, :-1], local=local,
                 spacing=_within_subject_spacing(c, subj))
    if cov_group is None:
        cg = np.zeros(n, dtype=np.int64)
        labels = ("",)
    else:
        cg, labels = codes(np.asarray(cov_group))
        labels = tuple(str(x) for x in labels)
    return ResidualPart(struct, position, subj, cg, int(cg.max()) + 1, labels)
