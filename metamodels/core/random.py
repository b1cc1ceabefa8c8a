"""The random and residual parts of ``V = known + Z G Z' + R`` and their small kernels.

A random term ``t`` contributes ``1[g_t(i) = g_t(j)] z_{t,i}' G_t(theta_t) z_{t,j}`` to
``V[i, j]`` (rows ``z_{t,i}`` of its design ``Z_t``, grouping codes ``g_t``, ``G_t`` from
a :mod:`~metamodels.core.structures` structure); the residual part is a structure over
the visits of each subject (see :class:`ResidualPart`).  The functions here are plain
kernels on stacked block arrays (``(nb, m, q)`` designs, ``(nb, m, m)`` masks) shared by
:class:`~metamodels.core.blockcov.BlockCovariance` and any model that adds random terms
to a covariance of its own.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .structures import params_from, params_to, search_structure

__all__ = ["RandomPart", "ResidualPart", "random_block_arrays", "masked_zgz", "masked_zdz",
           "masked_zd2z", "random_parameter_layout", "search_parts", "g_parameter_names"]


@dataclass(frozen=True)
class RandomPart:
    """One random-effects term: ``Z`` (n, q), grouping codes (n,), structure over q."""

    name: str
    Z: np.ndarray
    groups: np.ndarray
    structure: object
    column_names: tuple


@dataclass(frozen=True)
class ResidualPart:
    """Residual covariance: structure over ``dim`` visits, per-row visit index and
    subject codes, optional per-row covariance-group codes (SAS ``GROUP=``)."""

    structure: object          # one structure per cov_group level (same type)
    visit: np.ndarray          # (n,) int in 0..dim-1 (all 0 for independent residuals)
    subject: np.ndarray        # (n,) int codes; rows of different subjects are independent
    cov_group: np.ndarray      # (n,) int codes 0..n_cov_groups-1
    n_cov_groups: int
    group_labels: tuple = ("",)
    weights: np.ndarray | None = None   # (n,) positive observation weights (SAS WEIGHT)


def random_block_arrays(random, rows):
    """Per block group: the random terms' design rows ``Z[rows]`` (nb, m, q) and their
    same-level masks ``1[g(i) = g(j)]`` (nb, m, m)."""
    Z = [p.Z[rows] for p in random]
    S = [(p.groups[rows][:, :, None] == p.groups[rows][:, None, :]).astype(float)
         for p in random]
    return Z, S


def masked_zgz(Zt, St, G):
    """``1[g(i) = g(j)] z_i' G z_j`` for a stack of blocks: (nb, m, m)."""
    return St * np.matmul(Zt @ G, np.swapaxes(Zt, 1, 2))


def masked_zdz(Zt, St, dG):
    """First derivatives of :func:`masked_zgz`, ``dG`` (q, k, k) -> (q, nb, m, m)."""
    return St[None] * np.matmul(np.matmul(Zt[None], dG[:, None]), np.swapaxes(Zt, 1, 2)[None])


def masked_zd2z(Zt, St, d2G):
    """Second derivatives of :func:`masked_zgz`, ``d2G`` (q, q, k, k) -> (q, q, nb, m, m)."""
    return St * np.einsum("bik,qrkl,bjl->qrbij", Zt, d2G, Zt)


def random_parameter_layout(random):
    """Labels, bounds and theta slices of the ``G`` parameters of the random parts, in
    order: ``(names, lower, upper, slices, n_params)`` (lists, for callers to extend)."""
    names, lower, upper, slices = [], [], [], []
    pos = 0
    for part in random:
        s = part.structure
        names += [f"{part.name} {nm}" for nm in g_parameter_names(part)]
        lower.append(s.lower)
        upper.append(s.upper)
        slices.append(slice(pos, pos + s.n_params))
        pos += s.n_params
    return names, lower, upper, slices, pos


def search_parts(random, slices, make=search_structure):
    """The random parts with the structures a fit searches over (``make``, by default
    :func:`~metamodels.core.structures.search_structure`: PSD by construction, on the SD
    scale) and the maps of the full parameter vector (other entries unchanged):
    ``(parts, to_given, from_given)``, ``to_given`` taking search parameters to those of
    the given parts."""
    found = [make(p.structure) for p in random]
    parts = [p if s is p.structure else replace(p, structure=s) for p, s in zip(random, found)]
    pairs = [(n.structure, o.structure, sl) for n, o, sl in zip(parts, random, slices)
             if n.structure is not o.structure]

    def to_given(theta):
        out = np.array(theta, dtype=float)
        for new, old, sl in pairs:
            out[sl] = params_to(new, old, out[sl])
        return out

    def from_given(theta):
        out = np.array(theta, dtype=float)
        for new, old, sl in pairs:
            out[sl] = np.clip(params_from(new, old, out[sl]), new.lower, new.upper)
        return out

    return parts, to_given, from_given


def g_parameter_names(part):
    """lme4-like names of a random term's G parameters: ``Var(col)`` / ``Cov(col1,col2)``
    for UN, ``Var(col)`` for one column, ``Var`` for one variance shared by several
    columns, the structure's own ``labels(columns)`` when it has them (the PSD structures:
    ``Var(col)``, ``Corr(col2,col1)``), otherwise its parameter names."""
    s = part.structure
    cols = part.column_names
    if hasattr(s, "select"):                 # FixedParams: the base's names of the free ones
        return s.select(g_parameter_names(replace(part, structure=s.base)))
    if hasattr(s, "labels"):
        return list(s.labels(cols))
    if s.name == "UN":
        return [f"Var({cols[i]})" if i == j else f"Cov({cols[j]},{cols[i]})"
                for i in range(len(cols)) for j in range(i + 1)]
    if s.n_params == 1:
        return ["Var" if len(cols) > 1 else f"Var({cols[0]})"]
    return list(s.param_names)
