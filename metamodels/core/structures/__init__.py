"""Covariance structures ``Sigma(theta)`` of a fixed dimension (SAS PROC MIXED ``TYPE=``).

A structure describes one ``dim x dim`` covariance matrix as a function of a parameter
vector ``theta``: the R-side residual covariance over ``dim`` repeated visits of a subject,
or the covariance ``G`` of ``dim`` correlated random effects.  It knows its parameter names,
box bounds and a starting value, and returns the matrix with its first and second
derivatives in ``theta``.  Sub-matrices for subjects with missing visits are gathered by the
caller (``Sigma[np.ix_(idx, idx)]`` and likewise for the derivatives).

Structures
----------
Each structure registers itself by its SAS name (:func:`register_structure`, see
:mod:`.registry`); adding one is one new module.

=======  =========================================  ==============  ==========
name     ``Sigma[i, j]``                            parameters      linear
=======  =========================================  ==============  ==========
ID       ``s2 * (i == j)``                          1               yes
VC/DIAG  ``v_i * (i == j)``                         d               yes
CS       ``c + s2 * (i == j)``                      2               yes
CSH      ``s_i s_j [rho (i != j) + (i == j)]``      d + 1           no
AR1      ``s2 * rho^|i-j|``                         2               no
ARH1     ``s_i s_j rho^|i-j|``                      d + 1           no
TOEP     ``sigma_|i-j|``                            d               yes
TOEPH    ``s_i s_j rho_|i-j|`` (``rho_0 = 1``)      2d - 1          no
UN       ``sigma_ij``                               d(d+1)/2        yes
UNR      ``s_i s_j rho_ij`` (``rho_ii = 1``)        d + d(d-1)/2    no
ANTE1    ``s_i s_j prod_{k=i}^{j-1} rho_k``         2d - 1          no
SP(EXP)  ``s2 exp(-d_ij / rho)``                    2 (3 LOCAL)     no
SP(GAU)  ``s2 exp(-d_ij^2 / rho^2)``                2 (3 LOCAL)     no
SP(POW)  ``s2 rho^d_ij``                            2 (3 LOCAL)     no
SP(SPH)  ``s2 [1 - 1.5 t + 0.5 t^3]_{t=d_ij/rho<=1}``  2 (3 LOCAL)  no
CAR      ``s2 * rho^|t_i - t_j|`` (times ``t``)       2               no
=======  =========================================  ==============  ==========

The spatial structures (:mod:`.spatial`) hold the coordinates of their ``dim`` positions
and ``d_ij`` is the Euclidean distance between positions ``i`` and ``j``.
CAR (metafor's continuous-time AR(1): the SP(POW) kernel on one time axis, with metafor's
closed range ``0 <= rho <= 1``, PSD under its bounds) takes the times ``t`` as a constructor
argument (``0, ..., d-1`` by default, where it is AR1 with ``rho >= 0``).
:class:`FixedParams` holds some parameters of a structure at given values (metafor's
``rho=``, ``tau2=``).

Positive semi-definite by construction
--------------------------------------
The SAS structures bound variances but not covariances (UN, CS, TOEP) and only bound each
correlation (CSH, UNR), so a matrix can leave the PSD cone (SAS warns "Estimated G matrix is
not positive definite").  :mod:`.psd` holds variants whose box bounds are exactly the PSD
set (variances, closed correlation ranges, canonical partial correlations for UN):
:func:`psd_structure` maps a SAS structure to its variant.  They are the ``G`` structures
of MetaMixed and the optimisation space of ``MixedModel.fit(g_constraint="psd")``.

Heterogeneous structures are parameterised by the variances ``v_i = s_i^2`` (as SAS does),
variances first, correlations after.  See ``docs/covariance_structures.md``.

Derivatives at zero variances
-----------------------------
``d s_i / d v_i = 1 / (2 s_i)`` is infinite at ``v_i = 0``.  For the derivatives (never for
:meth:`Structure.matrix`) heterogeneous structures evaluate the standard deviations at
``max(v_i, floor)`` with ``floor = 1e-12 * max(max_k v_k, 0) + 1e-200``, so the
derivatives stay finite (but large) at the boundary; they are exact for ``v_i > floor``.
"""
from __future__ import annotations

# Importing a module registers its structures (see :mod:`.registry`); this order is the
# order of the names in messages.  A new structure: one new module here, imported below.
from .base import Heterogeneous, Linear, Structure
from .diagonal import DIAG, ID, VC
from .compound import CS, CSH
from .autoregressive import AR1, ANTE1, ARH1
from .toeplitz import TOEP, TOEPH
from .unstructured import UN, UNR
from .spatial import SPEXP, SPGAU, SPPOW, SPSPH, Spatial
from .car import CAR
from .psd import (PSDANTE1, PSDAR1, PSDARH1, PSDCS, PSDCSH, PSDUN, PSDUNR, cpc_from_correlation,
                  linear_structure, params_from, params_to, psd_structure, search_structure)
from .fixed import FixedParams
from .registry import (STRUCTURES, get_structure, lookup, psd_variant, register_psd_variant,
                       register_structure, structure_names)

__all__ = [
    "Structure", "ID", "VC", "DIAG", "CS", "CSH", "AR1", "ARH1", "TOEP", "TOEPH",
    "UN", "UNR", "ANTE1", "Spatial", "SPEXP", "SPGAU", "SPPOW", "SPSPH", "CAR", "FixedParams",
    "STRUCTURES", "get_structure", "register_structure",
    "register_psd_variant", "structure_names", "lookup", "psd_variant",
    "PSDUN", "PSDUNR", "PSDCS", "PSDCSH", "PSDAR1", "PSDARH1", "PSDANTE1", "psd_structure",
    "search_structure", "linear_structure", "params_to", "params_from", "cpc_from_correlation",
]
