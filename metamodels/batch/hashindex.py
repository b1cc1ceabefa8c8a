"""An open-addressing hash table of 64-bit keys in numpy, for the variant index.

The keys are 64-bit hashes of variant ids (:func:`.sumstats.hash_ids`); key 0 means
"no id" and is never stored (it marks an empty slot).  The table has a power-of-two
number of slots, at most half of them used; the home slot of a key is the top bits
of ``key * 0x9E3779B97F4A7C15`` (Fibonacci hashing: every bit of the key counts, so
keys that agree in their low or high bits still spread), and collisions go to the
next slots (linear probing).  Inserts and lookups are vectorised over all the keys
of a call, one probe step per round: a round gathers the slots of the keys still
pending, settles those that found their key or an empty slot, and moves the others
one slot on.  Inserting claims empty slots by scatter and verifies by gather which
key won each slot; the others move on.  Keys that go into an empty table (the first
study's, or a rehash when the table grows) are placed without probing rounds: sorted
by home slot, each takes the first free slot from its home on, a running maximum.
"""
from __future__ import annotations

import numpy as np

__all__ = ["HashIndex"]

_FIB = np.uint64(0x9E3779B97F4A7C15)
#: Largest fraction of the slots in use.
MAX_LOAD = 0.5


class HashIndex:
    """Hash table ``uint64 key -> int32 value`` (keys != 0), values ``0..n-1`` in
    order of insertion.

    Parameters
    ----------
    capacity : int
        Keys expected (the table grows beyond it when needed).
    """

    def __init__(self, capacity=0):
        self.n = 0
        self._alloc(capacity)

    def _alloc(self, capacity):
        bits = max(10, int(np.ceil(np.log2(max(capacity, 1) / MAX_LOAD))))
        self.bits = bits
        self.mask = (1 << bits) - 1
        self.keys = np.zeros(1 << bits, dtype=np.uint64)
        self.vals = np.zeros(1 << bits, dtype=np.int32)

    def __len__(self):
        return self.n

    def _home(self, keys):
        with np.errstate(over="ignore"):
            return ((keys * _FIB) >> np.uint64(64 - self.bits)).view(np.int64)

    def _reserve(self, extra):
        if self.n + extra <= MAX_LOAD * self.keys.size:
            return
        used = self.keys != 0
        keys, vals = self.keys[used], self.vals[used]
        self._alloc(max(self.n + extra, 2 * self.n))
        self._fill(keys, vals)

    def _fill(self, keys, vals):
        """Store distinct keys in an empty table: sorted by home slot, key ``i``
        goes to ``max(home_i, slot_(i-1) + 1)`` (one sort and a running maximum, in
        place of probing rounds); the few pushed past the end wrap around by
        :meth:`_place`."""
        m = keys.size
        if m == 0:
            return
        home = self._home(keys)
        ib = max(int(m - 1).bit_length(), 1)
        if self.bits + ib > 63:                              # pragma: no cover
            self._place(keys, vals)
            return
        packed = np.sort((home.view(np.uint64) << np.uint64(ib))
                         | np.arange(m, dtype=np.uint64))
        order = (packed & np.uint64((1 << ib) - 1)).view(np.int64)
        h = (packed >> np.uint64(ib)).view(np.int64)
        del packed
        step = np.arange(m, dtype=np.int64)
        h -= step
        np.maximum.accumulate(h, out=h)
        h += step                                            # the slots, ascending
        inside = int(np.searchsorted(h, self.keys.size))
        pos = h[:inside]
        sel = order[:inside]
        self.keys[pos] = keys[sel]
        self.vals[pos] = vals[sel]
        if inside < m:
            over = order[inside:]
            self._place(keys[over], vals[over])

    def _place(self, keys, vals):
        """Store distinct keys that are not in the table."""
        tk, mask = self.keys, self.mask
        slot = self._home(keys)
        while keys.size:
            empty = tk[slot] == 0
            s = slot[empty]
            tk[s] = keys[empty]
            won = np.zeros(keys.size, dtype=bool)
            won[empty] = tk[s] == keys[empty]
            self.vals[slot[won]] = vals[won]
            rest = ~won
            keys, vals, slot = keys[rest], vals[rest], (slot[rest] + 1) & mask

    def lookup(self, keys):
        """Values of ``keys`` (int32; -1 where absent, and for key 0).

        Parameters
        ----------
        keys : uint64 array

        Returns
        -------
        int32 array
        """
        keys = np.asarray(keys, dtype=np.uint64)
        out = np.full(keys.size, -1, dtype=np.int32)
        if self.n == 0 or keys.size == 0:
            return out
        tk, tv, mask = self.keys, self.vals, self.mask
        slot = self._home(keys)
        k = tk[slot]
        full = k != 0
        hit = (k == keys) & full
        out[hit] = tv[slot[hit]]
        pend = np.flatnonzero(full & ~hit & (keys != 0))
        while pend.size:
            slot_p = (slot[pend] + 1) & mask
            slot[pend] = slot_p
            k = tk[slot_p]
            kp = keys[pend]
            hit = k == kp
            out[pend[hit]] = tv[slot_p[hit]]
            pend = pend[~hit & (k != 0)]
        return out

    def add(self, keys):
        """Insert distinct keys not yet in the table (none 0), with the values
        ``n, n + 1, ...``; returns the first of them.

        Parameters
        ----------
        keys : uint64 array

        Returns
        -------
        int
        """
        keys = np.asarray(keys, dtype=np.uint64)
        first = self.n
        if keys.size:
            self._reserve(keys.size)
            vals = np.arange(first, first + keys.size, dtype=np.int32)
            if first == 0:
                self._fill(keys, vals)
            else:
                self._place(keys, vals)
            self.n += keys.size
        return first
