"""Streaming merge of studies: the variant index, allele alignment, chunk gathering.

Variants get global ids (gids) in order of first appearance: the rows of the first
study in file order, then the variants that only later studies have, in their order.
The rules that depend on one study only (invalid values, missing ids and alleles,
strand-ambiguous variants, repeated ids, the genomic-control lambda) are applied
where the study is read (:func:`.prepare.prepare_study`); :func:`index_study` then
assigns the gids of the rows left, aligns their alleles to the reference (the first
study that has the variant) and records why rows are dropped; :func:`gather_chunk`
builds the ``(m, k)`` matrices of aligned effects and standard errors of a range of
gids, reading from each study's store only the rows it needs.
"""
from __future__ import annotations

import numpy as np

from .alleles import DROP_REASONS as ALIGN_DROPS
from .alleles import MISMATCH, align_pairs, pair_codes, resolve_palindromic
from .hashindex import HashIndex
from .prepare import (DROP_ORDER, DROP_REASONS, LAMBDA_PLAUSIBLE, SE_MIN, STUDY_DROPS,
                      VALUE_MAX, gc_lambda, load_prepared, mapped_column, palindromic_freq,
                      prepared_alleles, prepared_column)

__all__ = ["VariantIndex", "Growable", "MergeState", "index_study", "gather_chunk",
           "sorted_map", "save_map", "load_map", "chunk_rows", "MAP_FILES",
           "DROP_REASONS", "DROP_ORDER", "SE_MIN", "VALUE_MAX",
           "LAMBDA_PLAUSIBLE", "gc_lambda"]


class Growable:
    """A 1-d numpy array with amortised O(1) appends (capacity grows by 1/4)."""

    def __init__(self, dtype, fill=0):
        self.a = np.full(1024, fill, dtype=dtype)
        self.n = 0
        self.fill = fill

    def extend(self, values):
        values = np.asarray(values, dtype=self.a.dtype)
        if self.n == 0 and values.size > self.a.size:       # first batch: exact size
            self.a = values.copy()
            self.n = values.size
            return
        need = self.n + values.size
        if need > self.a.size:
            new = np.full(max(need, self.a.size + self.a.size // 4), self.fill,
                          dtype=self.a.dtype)
            new[:self.n] = self.a[:self.n]
            self.a = new
        self.a[self.n:need] = values
        self.n = need

    @property
    def values(self):
        return self.a[:self.n]


class VariantIndex:
    """Index ``64-bit id hash -> gid`` that grows study by study (a
    :class:`.hashindex.HashIndex`; key 0, "no id", is never stored).

    Studies usually list their variants in the same order (by position): then the
    gid of a row is mostly the gid of the row ``j`` places before it plus ``j``.
    :meth:`lookup` finds the gids of every :data:`STRIDE`-th key in the hash table
    and checks that guess for the keys between them against the keys by gid (a
    nearly sequential read); only the keys whose guess fails go to the hash table.
    """

    #: Distance between the keys looked up in the hash table first.
    STRIDE = 8

    def __init__(self):
        self.table = HashIndex()

    @property
    def n(self):
        """Number of keys (the next gid)."""
        return self.table.n

    def lookup(self, keys):
        """gids of ``keys`` (int32; -1 where unknown)."""
        keys = np.asarray(keys, dtype=np.uint64)
        S = self.STRIDE
        if keys.size < 64 * S or self.n == 0:
            return self.table.lookup(keys)
        anchors = self.table.lookup(keys[::S])
        # guesses pay when most anchors S rows apart are about S gids apart
        d = np.diff(anchors)
        if np.count_nonzero((d > 0) & (d <= 2 * S)) < 0.5 * d.size:
            return self.table.lookup(keys)
        guess = (anchors[:, None] + np.arange(S, dtype=np.int32)).ravel()[:keys.size]
        np.clip(guess, 0, self.n - 1, out=guess)
        bykey = self.table.keys
        ok = bykey[guess] == keys                 # keys are distinct: a match is the gid
        rest = np.flatnonzero(~ok)
        # then from the next anchor backwards
        back = np.append(anchors[1:], -1)[rest // S] - (S - rest % S).astype(np.int32)
        np.clip(back, 0, self.n - 1, out=back)
        ok = bykey[back] == keys[rest]
        guess[rest[ok]] = back[ok]
        rest = rest[~ok]
        guess[rest] = self.table.lookup(keys[rest])
        return guess

    def add_if_unique(self, keys):
        """Start an empty index with ``keys`` if they are distinct and not 0; returns
        whether it did."""
        if self.n:
            raise ValueError("the index is not empty")
        keys = np.asarray(keys, dtype=np.uint64)
        s = np.sort(keys)
        if s.size and (s[0] == 0 or np.any(s[1:] == s[:-1])):
            return False
        self.add(keys)
        return True

    def add(self, keys):
        """Append new distinct keys (not 0, not in the index); returns the gid of the
        first one."""
        keys = np.asarray(keys, dtype=np.uint64)
        if keys.size and not np.all(keys):
            raise ValueError("key 0 (no id) cannot enter the index")
        return self.table.add(keys)


class MergeState:
    """Everything known about the merged variants (one entry per gid)."""

    def __init__(self, alleles, with_freq):
        self.index = VariantIndex()
        self.alleles = alleles                      # AlleleTable (global codes)
        self.ref_a1 = Growable(np.int32)
        self.ref_a2 = Growable(np.int32)
        self.ref_pair = Growable(np.uint8)          # pair_codes(ref_a1, ref_a2)
        self.ref_study = Growable(np.int16)
        self.ref_row = Growable(np.int32)
        self.ref_freq = Growable(np.float64, np.nan) if with_freq else None

    @property
    def n(self):
        return self.index.n


def index_study(state, store, study, scheme="stderr", maf_max=0.4, keep_ambiguous=False):
    """Assign gids to the rows of one study and align them (sequential step).

    The rows that depend on the study only are dropped, and its genomic-control
    lambda computed, by :func:`.prepare.prepare_study` (in the reading worker; here
    if the store has not been prepared with these options): for the reasons of
    :data:`DROP_REASONS` up to ``duplicate``, in that order.  The rows left get their
    gid and the sign that aligns ``beta`` to the reference's effect allele
    (:func:`.alleles.align`); rows of variants new to the merge define the
    reference; rows whose alleles match neither the reference alleles nor their
    complements are dropped (``allele_mismatch``), as are A/T or C/G rows whose
    strand the frequencies cannot settle (``strand_ambiguous``, unless
    ``keep_ambiguous``).

    Returns
    -------
    gid : int32 array (-1 for dropped rows), sign : int8 array,
    drops : dict reason -> dropped rows (ascending), ref_gid : dict reason -> for
    each dropped row the gid whose reference alleles it failed to match (-1 if
    none), stats : dict of counts
    """
    n = store.n_rows
    prep, drops = load_prepared(store, scheme, maf_max, keep_ambiguous)
    ref_gid = {r: np.full(drops[r].size, -1, dtype=np.int64) for r in STUDY_DROPS}
    rows = prepared_column(store, "p_rows")
    key = prepared_column(store, "p_key")
    gmap = np.array([state.alleles.code(a) for a in store.alleles] or [0], dtype=np.int32)
    la1, la2 = prepared_alleles(store)
    pairs = _pairs(la1, la2, gmap)
    has_freq = "freq" in store.fields
    n0 = state.n
    if n0 == 0:
        state.index.add(key)                    # distinct: repeated ids are dropped
        g = np.arange(rows.size, dtype=np.int32)
        new = None
    else:
        g = state.index.lookup(key)
        new = g < 0
        nnew = int(np.count_nonzero(new))
        if nnew:
            state.index.add(key[new])         # distinct, in order of first appearance
            g[new] = np.arange(n0, n0 + nnew, dtype=np.int32)
    del key
    # new variants: this study is the reference
    nsel = slice(None) if new is None else new
    nrows = rows[nsel]
    if nrows.size:
        state.ref_a1.extend(gmap[la1[nsel]])
        state.ref_a2.extend(gmap[la2[nsel]])
        state.ref_pair.extend(pairs[nsel])
        state.ref_study.extend(np.full(nrows.size, study, dtype=np.int16))
        state.ref_row.extend(nrows)
        if state.ref_freq is not None:
            # only A/T and C/G references are ever compared by frequency
            f = np.full(nrows.size, np.nan)
            if has_freq:
                pal = prepared_column(store, "p_pal")    # positions in rows, ascending
                if new is None:
                    f[pal] = palindromic_freq(store, pal)
                else:
                    pal = pal[new[pal]]
                    f[np.searchsorted(np.flatnonzero(new), pal)] = palindromic_freq(store, pal)
            state.ref_freq.extend(f)
    gid = np.full(n, -1, dtype=np.int32)
    gid[rows] = g
    sign = np.zeros(n, dtype=np.int8)
    sign[nrows] = 1
    stats = {"read": n, "new": int(nrows.size), "swapped": 0, "strand_flipped": 0,
             "palindromic_aligned": prep["palindromic"]}
    mismatch = ALIGN_DROPS[MISMATCH]
    drops[mismatch] = ref_gid[mismatch] = np.empty(0, dtype=np.int64)
    nbad = 0
    if new is not None and nrows.size < rows.size:
        old = np.flatnonzero(~new)
        orows, og = rows[old], g[old]

        def codes(i):
            """Global allele codes of old rows ``i`` and of their references."""
            return (gmap[la1[old[i]]], gmap[la2[old[i]]], state.ref_a1.values[og[i]],
                    state.ref_a2.values[og[i]])

        s, status, strand, need = align_pairs(pairs[old], state.ref_pair.values[og],
                                              state.alleles.comp, codes)
        if need.size:                         # A/T, C/G: the frequencies decide
            f = rf = None
            if has_freq and state.ref_freq is not None:
                f = palindromic_freq(store, old[need])
                rf = state.ref_freq.values[og[need]]
            s[need], status[need], strand[need] = resolve_palindromic(
                s[need], f, rf, maf_max, keep_ambiguous)
        sign[orows] = s
        bad = np.flatnonzero(status != 0)
        nbad = bad.size
        if bad.size:
            brows = orows[bad]
            gid[brows] = -1
            sign[brows] = 0
            x1, x2 = codes(bad)[:2]
            stats["palindromic_aligned"] -= int(np.count_nonzero(
                state.alleles.palindromic(x1, x2)))
            for code, reason in ALIGN_DROPS.items():
                m = status[bad] == code
                if not m.any():
                    continue
                r_ = np.concatenate([drops[reason], brows[m].astype(np.int64)])
                rg = np.concatenate([ref_gid[reason], og[bad][m].astype(np.int64)])
                order = np.argsort(r_, kind="stable")
                drops[reason], ref_gid[reason] = r_[order], rg[order]
        ok = status == 0
        stats["swapped"] = int(np.count_nonzero(ok & (s < 0)))
        stats["strand_flipped"] = int(np.count_nonzero(ok & strand))
    drops = {r: drops[r] for r in DROP_ORDER}
    ref_gid = {r: ref_gid[r] for r in DROP_ORDER}
    stats["used"] = int(rows.size - nbad)
    stats.update({r: int(drops[r].size) for r in DROP_ORDER})
    stats["lambda"] = prep["lambda"]
    stats["lambda_variants"] = prep["lambda_variants"]
    stats["lambda_implausible"] = prep["lambda_implausible"]
    return gid, sign, drops, ref_gid, stats


def _pairs(la1, la2, gmap):
    """:func:`.alleles.pair_codes` of the global codes of rows given by the codes of
    their study's allele list (``gmap``: local -> global), through a table of the
    study's pairs when its list is short."""
    m = gmap.size
    if m <= 16:
        table = pair_codes(np.repeat(gmap, m), np.tile(gmap, m))
        lp = la1.astype(np.uint8) * np.uint8(m)
        lp += la2
        return table[lp]
    return pair_codes(gmap[la1], gmap[la2])


def sorted_map(gid, sign, first_new=None):
    """The used rows of a study in order of gid, compactly: ``(bits, rows)``.

    Parameters
    ----------
    gid : int array
        Per row, its gid (-1: dropped), as :func:`index_study` returns it.
    sign : int8 array
        Per row, the sign that aligns its ``beta`` to the reference.
    first_new : int, optional
        The first gid the study's own new variants got (the index's size before
        it): those gids follow the row order, so only the rows of older gids need
        sorting, and none when they are in order already (studies that list their
        variants in the same order).

    Returns
    -------
    bits : uint8 array
        Bit ``g`` (``np.packbits`` order) is set when the study has gid ``g``.
    rows : int32 array
        The rows of the set bits in order of gid, ``row`` for sign +1 and ``-1 - row``
        for sign -1.  The rows of gids ``c0 <= g < c1`` are one slice
        (:func:`chunk_rows`).
    """
    gid = np.asarray(gid)
    used = np.flatnonzero(gid >= 0)
    g = gid[used]
    # the rows of older gids (all without first_new), sorted unless in order already
    # (a merge sort: nearly sorted), then the new ones, whose gids follow the rows
    new = np.zeros(g.size, dtype=bool) if first_new is None else g >= first_new
    o, nw = np.flatnonzero(~new), np.flatnonzero(new)
    go = g[o]
    if go.size > 1 and not np.all(go[1:] > go[:-1]):
        o = o[np.argsort(go, kind="stable")]
    rows = used[np.concatenate([o, nw])].astype(np.int32)
    neg = np.asarray(sign)[rows] < 0
    np.subtract(-1, rows, out=rows, where=neg)
    present = np.zeros(int(g.max()) + 1 if g.size else 0, dtype=bool)
    present[g] = True
    return np.packbits(present), rows


#: Files of a study's :func:`sorted_map` in its store.
MAP_FILES = (("m_bits", np.uint8), ("m_rows", np.int32))


def save_map(store, gid, sign, first_new=None):
    """Save :func:`sorted_map` of ``gid``, ``sign`` in the store (files
    :data:`MAP_FILES`)."""
    for (name, dt), values in zip(MAP_FILES, sorted_map(gid, sign, first_new)):
        values.astype(dt, copy=False).tofile(store.path(name))


def load_map(store):
    """The saved :func:`sorted_map` of a store, mapped from its files (only the
    pages a chunk reads are read)."""
    return tuple(mapped_column(store, name, dt) for name, dt in MAP_FILES)


def chunk_rows(smap, c0, c1):
    """``(rows, loc, signs)`` of the rows with gids ``c0 <= g < c1`` of a
    :func:`sorted_map` (``loc = g - c0``), in order of gid."""
    bits, srows = smap() if callable(smap) else smap
    b0, r0 = divmod(c0, 8)
    before = np.count_nonzero(np.unpackbits(np.asarray(bits[:b0]))) if b0 else 0
    have = np.unpackbits(np.asarray(bits[b0:-(-c1 // 8)]))[r0:r0 + max(c1 - c0, 0)]
    if r0:
        before += int(np.count_nonzero(np.unpackbits(np.asarray(bits[b0:b0 + 1]))[:r0]))
    loc = np.flatnonzero(have)
    v = np.asarray(srows[before:before + loc.size], dtype=np.intp)
    neg = v < 0
    np.subtract(-1, v, out=v, where=neg)
    return v, loc, np.where(neg, np.int8(-1), np.int8(1))


def gather_chunk(stores, maps, c0, c1, scheme="stderr", gc=None, with_n=False):
    """``(c1 - c0, k)`` matrices of the aligned studies for gids ``c0 <= g < c1``.

    Parameters
    ----------
    stores : list of StudyStore
    maps : list
        Per study, its :func:`sorted_map` or a callable returning it (e.g.
        :func:`load_map`), so that it need not stay in memory.
    gc : list of float, optional
        Per-study genomic-control factors ``sqrt(lambda)`` (1 when not applied).
    with_n : bool
        Also gather the sample sizes.

    Returns
    -------
    y, s : float arrays
        ``beta`` (sign-aligned) and ``se`` (scaled by ``gc``), NaN where a study lacks
        the variant.  For ``scheme="samplesize"``, ``y = z / sqrt(N)`` and
        ``s = 1 / sqrt(N)`` with ``z = sign(beta) Phi^{-1}(1 - p/2)`` (divided by
        ``gc``), so that the inverse-variance kernels give METAL's sample-size
        weighted ``Z = sum sqrt(N_i) z_i / sqrt(sum N_i)``.
    ntot : float array or None
        Total sample size of the studies that have the variant.

    Notes
    -----
    Each study's rows of the chunk are one slice of its map (rows sorted by gid)
    and are read from its store; the values are first written into ``(k, m)``
    arrays (one contiguous row per study) and transposed once (``s`` into the
    memory of the first), so memory is three ``(m, k)`` float arrays at the peak.
    """
    from scipy import special

    m, k = c1 - c0, len(stores)
    # studies along the rows while gathering: each study's values are written into
    # one contiguous row (a scatter into a column of an (m, k) array touches a cache
    # line per value), transposed once at the end
    Y = np.full((k, m), np.nan)
    S = np.full((k, m), np.nan)
    ntot = np.zeros(m) if with_n else None
    for j, st in enumerate(stores):
        rows, loc, sg = chunk_rows(maps[j], c0, c1)
        if rows.size == 0:
            continue
        sg = sg.astype(np.float64)
        beta = st.take("beta", rows)
        f = 1.0 if gc is None else gc[j]
        if scheme == "samplesize":
            p = st.take("pvalue", rows)
            n_ = st.take("n", rows)
            z = -special.ndtri(0.5 * p) * np.sign(beta) * sg / f
            Y[j, loc] = z / np.sqrt(n_)
            S[j, loc] = 1.0 / np.sqrt(n_)
            if with_n:
                ntot[loc] += n_
        else:
            Y[j, loc] = beta * sg
            S[j, loc] = st.take("se", rows) * f
            if with_n:
                ntot[loc] += st.take("n", rows)
    y = Y.T.copy()                           # always a copy (Y is reused below)
    s = Y.reshape(m, k)                      # Y's memory (already paged in) for s
    np.copyto(s, S.T)
    return y, s, ntot

