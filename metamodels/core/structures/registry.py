"""The registry of covariance structures: SAS name -> class.

A structure registers itself where it is defined, so adding one is one new file::

    from .base import Heterogeneous
    from .registry import register_structure

    @register_structure("TOEPH", aliases=("TPH",))
    class TOEPH(Heterogeneous):
        ...

and an import line in :mod:`metamodels.core.structures` (``__init__``) so that the module
is loaded.  :func:`get_structure` looks names up here; nothing else in the package keeps a
list of structure names: what a structure can do (Gibbs conjugate updates, identification
checks, metafor's ``struct=`` spelling, a PSD-by-construction variant) is asked of the
class (see the class attributes of :class:`~metamodels.core.structures.base.Structure`).

A PSD-by-construction variant (:mod:`.psd`) registers itself with
:func:`register_psd_variant` under the SAS name of its ``base``; :func:`psd_variant`
returns it.
"""
from __future__ import annotations

__all__ = ["register_structure", "register_psd_variant", "get_structure", "lookup",
           "structure_names", "structure_aliases", "psd_variant", "psd_names",
           "STRUCTURES"]

#: SAS name -> structure class, in registration order
STRUCTURES = {}
_ALIASES = {}        # normalised alias -> SAS name
_SPELLINGS = {}      # SAS name -> spellings shown in messages ("AR(1)", ...)
_PSD = {}            # SAS name -> PSD-by-construction variant class


def _key(name):
    return "".join(ch for ch in str(name).upper() if ch not in " ()_-")


def register_structure(name, aliases=()):
    """Class decorator: register a :class:`Structure` subclass under its SAS ``name``.

    Parameters
    ----------
    name : str
        SAS ``TYPE=`` name (``"AR1"``); the class's ``name`` attribute must match.
    aliases : sequence of str
        Other spellings (SAS ``"AR(1)"``, glmmTMB ``"US"``, SPSS ``"AD1"``, ...).  Spellings
        that differ from ``name`` only by blanks, parentheses, ``_`` or ``-`` need no alias.
    """
    key = _key(name)

    def deco(cls):
        if getattr(cls, "name", None) != key:
            raise ValueError(f"register_structure({name!r}): class {cls.__name__} has "
                             f"name {getattr(cls, 'name', None)!r}")
        if STRUCTURES.get(key, cls) is not cls:
            raise ValueError(f"covariance structure {key!r} is registered twice")
        STRUCTURES[key] = cls
        for a in aliases:
            if _key(a) != key:
                _ALIASES[_key(a)] = key
            _SPELLINGS.setdefault(key, []).append(a)
        return cls

    return deco


def register_psd_variant(cls):
    """Class decorator: register ``cls`` as the PSD-by-construction variant of the SAS
    structure ``cls.base`` (see :mod:`.psd`)."""
    key = cls.base.name
    if _PSD.get(key, cls) is not cls:
        raise ValueError(f"a PSD variant of {key!r} is registered twice")
    _PSD[key] = cls
    return cls


def structure_names():
    """The registered SAS names, in registration order."""
    return tuple(STRUCTURES)


def structure_aliases():
    """The alias spellings shown in messages (``AR(1)``, ``US``, ...)."""
    return tuple(a for spellings in _SPELLINGS.values() for a in spellings)


def lookup(name):
    """The structure class registered under ``name`` (case-insensitive, aliases accepted).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid names and aliases.
    """
    if not isinstance(name, str):
        raise ValueError(f"covariance structure name must be a string, got {name!r}")
    key = _key(name)
    key = _ALIASES.get(key, key)
    if key not in STRUCTURES:
        raise ValueError(f"unknown covariance structure {name!r}; valid names: "
                         f"{', '.join(STRUCTURES)} (aliases: "
                         f"{', '.join(structure_aliases())})")
    return STRUCTURES[key]


def get_structure(name, dim):
    """Build the covariance structure ``name`` of dimension ``dim``.

    Parameters
    ----------
    name : str or Structure
        Case-insensitive; SAS spellings with parentheses and blanks are accepted
        (``"AR(1)"``, ``"ARH(1)"``, ``"ANTE(1)"``, ``"UN(1)"``), as well as the aliases
        registered with the structures (``"US"``, ``"AD1"``, ``"TP"``, ``"TPH"``,
        ``"SIMPLE"``).  A :class:`Structure` instance is returned as it is (its ``dim``
        must match).
    dim : int
        Dimension of the matrix (``>= 1``).

    Returns
    -------
    Structure

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid names) or ``dim < 1``.
    """
    from .base import Structure
    if isinstance(name, Structure):
        if name.dim != int(dim):
            raise ValueError(f"structure {name!r} has dim {name.dim}, expected {dim}")
        return name
    return lookup(name)(dim)


def psd_variant(name):
    """The PSD-by-construction class registered for the SAS structure ``name`` (or None)."""
    return _PSD.get(_key(name))


def psd_names():
    """SAS names with a PSD-by-construction variant, in registration order."""
    return tuple(_PSD)
