"""Allele coding and alignment of a study's variants to reference alleles.

Alleles are strings (``A``, ``C``, ``G``, ``T``, indels such as ``AT`` or ``I``/``D``)
kept as integer codes in an :class:`AlleleTable`, which also knows each allele's
strand complement (reverse complement for ACGT sequences, none otherwise).

A study reports ``beta`` for its effect allele ``a1`` against ``a2``; the reference
(the first study that has the variant) reports ``r1``/``r2``.  :func:`align` decides
for every row (all rows at once) whether

========================  ==========================================  ============
study alleles             interpretation                              beta
========================  ==========================================  ============
``a1 = r1, a2 = r2``      same alleles                                ``+beta``
``a1 = r2, a2 = r1``      effect and other allele swapped             ``-beta``
``c(a1) = r1, c(a2) = r2``  reported on the other strand              ``+beta``
``c(a1) = r2, c(a2) = r1``  other strand and swapped                  ``-beta``
anything else             allele mismatch: dropped
========================  ==========================================  ============

with ``c`` the complement.  For strand-ambiguous (palindromic) variants, A/T or C/G,
``c(a1) = a2`` and the first and fourth (or second and third) lines both apply, so
the sign cannot be known from the alleles.  They are resolved with the effect-allele
frequencies when both studies report one and both minor-allele frequencies are below
``maf_max`` (the reading whose implied reference-allele frequency is closer to the
reference's wins); otherwise they are dropped, unless ``keep_ambiguous`` (METAL's
behaviour: assume the same strand).
"""
from __future__ import annotations

import numpy as np

__all__ = ["AlleleTable", "align", "align_alleles", "align_pairs", "pair_codes",
           "resolve_palindromic", "maf_below", "complement", "is_missing", "NO_PAIR",
           "DROP_REASONS", "OK", "MISMATCH", "AMBIGUOUS"]

_COMP = str.maketrans("ACGT", "TGCA")
_MISSING = {"", "NA", "NAN", ".", "0", "?", "-9", "N/A", "NULL", "NONE"}

#: Status codes of :func:`align`.
OK, MISMATCH, AMBIGUOUS = 0, 1, 2
DROP_REASONS = {MISMATCH: "allele_mismatch", AMBIGUOUS: "strand_ambiguous"}


def is_missing(allele):
    """Whether an allele string is a missing-value marker (``""``, ``NA``, ``.``, ...)."""
    return str(allele).strip().upper() in _MISSING


def complement(allele):
    """Reverse complement of an ACGT sequence (``"AG" -> "CT"``); ``None`` otherwise."""
    if allele and set(allele) <= set("ACGT"):
        return allele.translate(_COMP)[::-1]
    return None


class AlleleTable:
    """Growing table ``allele string <-> integer code`` with complements.

    Code 0 is the missing allele (``""``, ``NA``, ``.``, ``0``, ...).  ``comp[code]`` is
    the code of the complement, or -1 when the allele has none (non-ACGT alleles).
    """

    def __init__(self):
        self.codes = {"": 0}
        self.alleles = [""]
        self._comp = [-1]

    def code(self, allele):
        """Code of one allele string (upper-cased, stripped); added if new."""
        a = str(allele).strip().upper()
        if a in _MISSING:
            return 0
        c = self.codes.get(a)
        if c is None:
            c = self.codes[a] = len(self.alleles)
            self.alleles.append(a)
            self._comp.append(-1)
            comp = complement(a)
            if comp is not None:
                self._comp[c] = self.code(comp)
                self._comp[self._comp[c]] = c
        return c

    def encode(self, values):
        """Codes of an array of allele strings (factorised: cost per distinct value)."""
        import pandas as pd

        idx, uniq = pd.factorize(np.asarray(values, dtype=object))
        table = np.array([self.code(u) for u in uniq] + [0], dtype=np.int32)
        return table[idx]                        # idx = -1 (missing) -> the last entry, 0

    @property
    def comp(self):
        """Complement codes as an int32 array (-1: no complement)."""
        return np.asarray(self._comp, dtype=np.int32)

    def as_bytes(self):
        """The allele strings as a fixed-width bytes array indexed by code."""
        return np.array([a.encode() for a in self.alleles], dtype="S")

    def valid_pair(self, a1, a2):
        """Rows whose two alleles are present and different."""
        return (a1 > 0) & (a2 > 0) & (a1 != a2)

    def palindromic(self, a1, a2):
        """Rows whose alleles are strand complements of each other (A/T, C/G)."""
        comp = self.comp
        return comp[a1] == a2


def align(a1, a2, r1, r2, comp, freq=None, ref_freq=None, maf_max=0.4,
          keep_ambiguous=False):
    """Sign of ``beta`` after aligning study alleles to reference alleles.

    Parameters
    ----------
    a1, a2 : int arrays
        The study's effect and other allele codes.
    r1, r2 : int arrays
        The reference's effect and other allele codes (same rows).
    comp : int array
        Complement of every code (-1: none), :attr:`AlleleTable.comp`.
    freq, ref_freq : float arrays, optional
        Effect-allele frequencies of the study and of the reference (NaN: unknown).
    maf_max : float
        Palindromic variants are resolved by frequency only when both minor-allele
        frequencies are below this.
    keep_ambiguous : bool
        Keep unresolved palindromic variants assuming the same strand (METAL).

    Returns
    -------
    sign : int8 array
        +1 or -1 (0 where dropped).
    status : int8 array
        :data:`OK`, :data:`MISMATCH` or :data:`AMBIGUOUS`.
    strand : bool array
        Rows matched on the opposite strand.

    See Also
    --------
    align_alleles : the same without the frequencies, and which rows need them.
    """
    sign, status, strand, need = align_alleles(a1, a2, r1, r2, comp)
    if need.size:
        f = None if freq is None else np.asarray(freq, dtype=float)[need]
        fr = None if ref_freq is None else np.asarray(ref_freq, dtype=float)[need]
        sign[need], status[need], strand[need] = resolve_palindromic(
            sign[need], f, fr, maf_max, keep_ambiguous)
    return sign, status, strand


#: Allele codes below this are aligned by table lookup (:func:`align_alleles`).
_TABLE_CODES = 16
_TABLES = {}


def _table(comp):
    """:func:`align_alleles` of every ``(a1, a2, r1, r2)`` with codes below
    :data:`_TABLE_CODES`, packed in one byte per entry (indexed by
    ``a1 << 12 | a2 << 8 | r1 << 4 | r2``): ``sign + 1`` (bits 0-1), status (bits
    2-3), strand (bit 4), palindromic and matching directly (bit 5)."""
    m = _TABLE_CODES
    c = np.full(m, -1, dtype=np.int64)
    c[:min(m, comp.size)] = comp[:m]
    tag = c.tobytes()
    table = _TABLES.get(tag)
    if table is None:
        g = np.indices((m,) * 4).reshape(4, -1)
        sign, status, strand = _align_rows(g[0], g[1], g[2], g[3], c, None, None, 0.4, True)
        table = ((sign + 1) | (status << 2) | (strand.astype(np.int8) << 4)
                 | (_direct_palindromic(g[0], g[1], g[2], g[3], c).astype(np.int8) << 5))
        table = table.astype(np.uint8)
        _TABLES.clear()
        _TABLES[tag] = table
    return table


def _direct_palindromic(a1, a2, r1, r2, comp):
    """A/T or C/G rows whose alleles match the reference's directly or swapped."""
    return (comp[a1] == a2) & (((a1 == r1) & (a2 == r2)) | ((a1 == r2) & (a2 == r1)))


def pair_codes(a1, a2):
    """One byte per allele pair: ``a1 << 4 | a2`` when both codes are below 16 (the
    table of :func:`align_pairs`), else :data:`NO_PAIR` (255, the pair of two equal
    alleles, which never reaches the alignment)."""
    a1, a2 = np.asarray(a1), np.asarray(a2)
    p = ((a1 & 15) << 4 | (a2 & 15)).astype(np.uint8)
    big = (a1 >= _TABLE_CODES) | (a2 >= _TABLE_CODES)
    if big.any():
        p[big] = NO_PAIR
    return p


#: :func:`pair_codes` of a pair with a code of 16 or more.
NO_PAIR = 255


def align_alleles(a1, a2, r1, r2, comp):
    """:func:`align` from the alleles alone: its results where they do not depend on
    the allele frequencies, and the rows where they do.

    Returns
    -------
    sign, status, strand : arrays
        As :func:`align` returns them without frequencies, except at ``need``.
    need : int array
        The A/T or C/G rows that match the reference's alleles (ascending): their
        result depends on the frequencies (:func:`resolve_palindromic`); ``sign``
        holds their sign if the strands are the same, ``status`` is OK.
    """
    a1, a2, r1, r2 = (np.asarray(x) for x in (a1, a2, r1, r2))
    comp = np.asarray(comp)
    if a1.size < 4096:
        sign, status, strand = _align_rows(a1, a2, r1, r2, comp, None, None, 0.4, True)
        return sign, status, strand, np.flatnonzero(_direct_palindromic(a1, a2, r1, r2,
                                                                        comp))
    return align_pairs(pair_codes(a1, a2), pair_codes(r1, r2), comp,
                       lambda rows: (a1[rows], a2[rows], r1[rows], r2[rows]))


def align_pairs(pairs, ref_pairs, comp, codes):
    """:func:`align_alleles` of rows given by their :func:`pair_codes`.

    Rows whose pairs are both known are looked up in a table of every combination
    of codes below 16 (the SNP alleles, usually), built once with :func:`align`'s
    rules; the others are compared code by code: ``codes(rows)`` gives their
    ``(a1, a2, r1, r2)``.
    """
    t = _table(np.asarray(comp))
    code = t[(pairs.astype(np.uint16) << 8) | ref_pairs]
    sign = (code & 3).view(np.int8) - np.int8(1)
    status = ((code >> 2) & 3).view(np.int8)
    strand = (code & 16) != 0
    need = np.flatnonzero(code & 32)
    rest = np.flatnonzero((pairs == NO_PAIR) | (ref_pairs == NO_PAIR))
    if rest.size:
        x1, x2, y1, y2 = codes(rest)
        sign[rest], status[rest], strand[rest] = _align_rows(
            x1, x2, y1, y2, comp, None, None, 0.4, True)
        more = rest[_direct_palindromic(x1, x2, y1, y2, comp)]
        need = np.union1d(need[~np.isin(need, rest)], more)
    return sign, status, strand, need


def maf_below(freq, maf_max):
    """Whether effect-allele frequencies settle the strand of an A/T or C/G variant:
    minor-allele frequency ``min(f, 1 - f)`` below ``maf_max`` (False for NaN)."""
    f = np.asarray(freq, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.minimum(f, 1.0 - f) < maf_max


def resolve_palindromic(sign_a, freq, ref_freq, maf_max, keep_ambiguous):
    """:func:`align` of A/T or C/G rows whose alleles match the reference's.

    Reading A (same strand) gives ``sign_a``, reading B (other strand) its
    opposite; the frequencies decide when both studies have one with a minor-allele
    frequency below ``maf_max``: the reading whose implied reference-allele
    frequency is closer to the reference's wins.  Unresolved rows are
    :data:`AMBIGUOUS` (sign 0), or reading A with ``keep_ambiguous``.

    Returns
    -------
    sign, status, strand : arrays
    """
    choose_b = np.zeros(sign_a.size, dtype=bool)
    resolved = np.zeros(sign_a.size, dtype=bool)
    if freq is not None and ref_freq is not None:
        f = np.asarray(freq, dtype=float)
        fr = np.asarray(ref_freq, dtype=float)
        fa = np.where(sign_a > 0, f, 1.0 - f)   # implied frequency of r1, reading A
        with np.errstate(invalid="ignore"):
            maf_ok = maf_below(f, maf_max) & maf_below(fr, maf_max)
            resolved = maf_ok & np.isfinite(fa) & np.isfinite(fr)
            choose_b = resolved & (np.abs((1.0 - fa) - fr) < np.abs(fa - fr))
    keep = resolved | keep_ambiguous
    sign = np.where(keep, np.where(choose_b, -sign_a, sign_a), 0).astype(np.int8)
    status = np.where(keep, OK, AMBIGUOUS).astype(np.int8)
    return sign, status, choose_b


def _align_rows(a1, a2, r1, r2, comp, freq, ref_freq, maf_max, keep_ambiguous):
    """:func:`align`, row by row with array operations (any codes)."""
    same = (a1 == r1) & (a2 == r2)
    swap = (a1 == r2) & (a2 == r1)
    pal = comp[a1] == a2                      # palindromic (comp = -1 never equals a code)
    direct = same | swap
    sign = np.where(same, 1, np.where(swap, -1, 0)).astype(np.int8)
    status = np.where(direct & ~pal, OK, MISMATCH).astype(np.int8)
    strand = np.zeros(a1.shape, dtype=bool)
    # the rest may match on the other strand (palindromic ones cannot: c(a1) = a2)
    rest = np.flatnonzero(~direct & ~pal)
    if rest.size:
        c1, c2 = comp[a1[rest]], comp[a2[rest]]
        rr1, rr2 = r1[rest], r2[rest]
        fsame = (c1 == rr1) & (c2 == rr2) & (c1 >= 0)
        fswap = (c1 == rr2) & (c2 == rr1) & (c1 >= 0)
        hit = fsame | fswap
        idx = rest[hit]
        sign[idx] = np.where(fsame[hit], 1, -1)
        status[idx] = OK
        strand[idx] = True
    amb = np.flatnonzero(pal & direct)        # same/swap and other-strand readings agree
    if amb.size:
        sign[amb], status[amb], strand[amb] = resolve_palindromic(
            sign[amb], None if freq is None else np.asarray(freq, dtype=float)[amb],
            None if ref_freq is None else np.asarray(ref_freq, dtype=float)[amb],
            maf_max, keep_ambiguous)
    return sign, status, strand
