"""MetaMixed options of metafor's ``rma.mv``: fixed variance components and correlations
(``sigma2=``, ``tau2=``, ``rho=``, ``gamma2=``, ``phi=``) and the CAR structure's times.

metafor names the variance components by the kind of random term: ``sigma2`` for the
scalar terms ``(1 | f)`` (one value per term, in order), ``tau2`` and ``rho`` for the
variances and correlations of the first vector term ``(0 + inner | outer)``, ``gamma2`` and
``phi`` for those of the second.  A value ``None`` (or NaN) leaves the parameter to be
estimated; a scalar is recycled over the term's variances or correlations.  A fixed
parameter is removed from the model's parameters
(:class:`~metamodels.core.structures.FixedParams`), so it is neither estimated nor counted
in the information criteria.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..core.random import RandomPart, g_parameter_names
from ..core.structures import CAR, FixedParams, cpc_from_correlation
from ..exceptions import SpecificationError

__all__ = ["fix_components", "fixed_parameter_values", "car_part"]

_VECTOR_NAMES = (("tau2", "rho"), ("gamma2", "phi"))


def _values(given, n, what):
    """``given`` as ``n`` floats (NaN = free): a scalar is recycled."""
    arr = np.array([np.nan if v is None else v for v in np.atleast_1d(
        np.asarray(given, dtype=object))], dtype=float)
    if arr.size == 1 and n > 1:
        arr = np.repeat(arr, n)
    if arr.size != n:
        raise SpecificationError(f"{what} needs {n} value(s) (None to estimate one), "
                                 f"got {arr.size}")
    return arr


def _positions(structure):
    """Positions of the variances (unbounded above) and of the correlations (bounded)."""
    up = np.asarray(structure.upper)
    return np.flatnonzero(~np.isfinite(up)), np.flatnonzero(np.isfinite(up))


def _correlation_values(structure, given, what):
    """Fixed values of the correlation parameters ``{position: value}``.  An unstructured
    ``G`` of dimension >= 3 is parameterised by canonical partial correlations: there all
    correlations must be fixed (given in metafor's order, the lower triangle column by
    column) and are converted."""
    _, pos = _positions(structure)
    if pos.size == 0:
        raise SpecificationError(f"{what}= is given but the {structure.name} structure has "
                                 "no correlation parameter")
    d = structure.dim
    if structure.name in ("UN", "UNR") and d >= 3:
        vals = _values(given, pos.size, what)
        if np.isnan(vals).any():
            raise SpecificationError(
                f"{what}= for an unstructured G over {d} levels fixes all correlations or "
                "none (it is parameterised by partial correlations)")
        C = np.eye(d)
        k = 0
        for j in range(d):                 # metafor: lower triangle, column by column
            for i in range(j + 1, d):
                C[i, j] = C[j, i] = vals[k]
                k += 1
        if np.any(np.abs(vals) > 1) or np.linalg.eigvalsh(C).min() < -1e-12:
            raise SpecificationError(f"the correlations given as {what}= do not form a "
                                     "positive semi-definite correlation matrix")
        z = cpc_from_correlation(C)
        return dict(zip(pos.tolist(), z.tolist()))
    vals = _values(given, pos.size, what)
    return {int(p): float(v) for p, v in zip(pos, vals) if not np.isnan(v)}


def _fix(part, fixed, names):
    if not fixed:
        return part
    s = part.structure
    try:
        return replace(part, structure=FixedParams(s, fixed))
    except ValueError as exc:
        raise SpecificationError(f"{'/'.join(names)} for {part.name!r}: {exc}") from None


def fix_components(random: Sequence[RandomPart], sigma2: Any = None, tau2: Any = None,
                   rho: Any = None, gamma2: Any = None, phi: Any = None) -> list[RandomPart]:
    """The random parts with metafor's fixed values applied (see the module docstring).

    Parameters
    ----------
    random : list of RandomPart
        With PSD structures (variances, correlations).
    sigma2 : float or sequence, optional
        Variances of the scalar terms, in order (None / NaN: estimated).
    tau2, rho : float or sequence, optional
        Variances and correlations of the first vector term.
    gamma2, phi : float or sequence, optional
        Variances and correlations of the second vector term.

    Returns
    -------
    list of RandomPart

    Raises
    ------
    SpecificationError
        Values given for terms the model does not have, of the wrong number, or
        correlations that do not form a positive semi-definite matrix.
    """
    out = list(random)
    scalar = [i for i, p in enumerate(out) if p.structure.dim == 1]
    vector = [i for i, p in enumerate(out) if p.structure.dim > 1]
    if sigma2 is not None:
        if not scalar:
            raise SpecificationError("sigma2= is given but the model has no scalar random "
                                     "term such as (1 | study)")
        vals = _values(sigma2, len(scalar), "sigma2")
        for i, v in zip(scalar, vals):
            if not np.isnan(v):
                out[i] = _fix(out[i], {0: v}, ("sigma2",))
    for k, (vname, cname) in enumerate(_VECTOR_NAMES):
        var, cor = (tau2, rho) if k == 0 else (gamma2, phi)
        if var is None and cor is None:
            continue
        if len(vector) <= k:
            raise SpecificationError(
                f"{vname}=/{cname}= refer to vector random term number {k + 1} such as "
                f"(0 + outcome | study), but the model has {len(vector)}")
        part = out[vector[k]]
        fixed = {}
        if var is not None:
            vpos, _ = _positions(part.structure)
            vals = _values(var, vpos.size, vname)
            fixed.update({int(p): float(v) for p, v in zip(vpos, vals) if not np.isnan(v)})
        if cor is not None:
            fixed.update(_correlation_values(part.structure, cor, cname))
        out[vector[k]] = _fix(part, fixed, (vname, cname))
    return out


def fixed_parameter_values(random: Sequence[RandomPart]) -> dict[str, float]:
    """``{label: value}`` of the fixed parameters, labelled as ``spec.param_names`` would
    label them (``"trial Corr(AL,PD)"``).

    Parameters
    ----------
    random : sequence of RandomPart
        The random parts after :func:`fix_components`.

    Returns
    -------
    dict
        Label -> fixed value (empty when nothing is fixed).
    """
    out = {}
    for p in random:
        s = p.structure
        if isinstance(s, FixedParams):
            names = g_parameter_names(replace(p, structure=s.base))
            for nm, v in s.fixed_items(names):
                out[f"{p.name} {nm}"] = v
    return out


def car_part(design: Any, name: str) -> RandomPart:
    """The random part of a CAR term ``(0 + time | study)``: one random effect per distinct
    time, ``G[a, b] = tau2 * rho^|t_a - t_b|`` (:class:`~metamodels.core.structures.CAR`;
    rows of a level with equal times share their effect, correlation 1, as in metafor).

    Parameters
    ----------
    design : RandomDesign
        The term's design (a numeric ``time`` column, with or without an intercept
        column of ones, which is dropped): ``Z``, ``groups``, ``column_names``.
    name : str
        Label of the term.

    Returns
    -------
    RandomPart

    Raises
    ------
    SpecificationError
        The term has no single numeric time variable.
    """
    Z = np.asarray(design.Z, dtype=float)
    cols = list(design.column_names)
    keep = [j for j in range(Z.shape[1]) if not np.all(Z[:, j] == 1.0)]
    if len(keep) != 1:
        raise SpecificationError(
            f"struct='CAR' needs one numeric time variable in the random term {name!r}, "
            f"e.g. (0 + time | study); got the columns {cols}")
    t = Z[:, keep[0]]
    times, idx = np.unique(t, return_inverse=True)
    groups = np.asarray(design.groups)
    labels = tuple(f"{cols[keep[0]]}[{v:g}]" for v in times)
    Zt = np.zeros((len(t), times.size))
    Zt[np.arange(len(t)), idx] = 1.0
    structure = CAR(times.size, times)
    return RandomPart(name, Zt, groups, structure, labels)
