"""An open-addressing hash table of 64-bit keys in numpy, for the variant index.

The keys are 64-bit hashes of variant ids (:func:`.sumstats.hash_ids`); key 0 means
"no id" and is never stored.  Keys get the values ``0, 1, 2, ...`` in order of
insertion and are kept in that order (:attr:`HashIndex.keys`); the table itself
holds only the values (4 bytes a slot, -1 for an empty one), so a probe reads the
slot's value and then the key of that value.  The table has a power-of-two number
of slots, at most half of them used; the home slot of a key is the top bits of
``key * 0x9E3779B97F4A7C15`` (Fibonacci hashing: every bit of the key counts, so
keys that agree in their low or high bits still spread), and collisions go to the
next slots (linear probing).  Inserts and lookups are vectorised over all the keys
of a call, one probe step per round: a round reads the slots of the keys still
pending, settles those that found their key or an empty slot, and moves the others
one slot on.  Inserting claims empty slots by scatter and verifies by gather which
value won each slot; the others move on.  Keys that go into an empty table (the
first study's, or a rehash when the table grows) are placed without probing rounds:
sorted by home slot, each takes the first free slot from its home on, a running
maximum.
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
        self._keys = np.zeros(max(int(capacity), 16), dtype=np.uint64)
        self._alloc(capacity)

    def _alloc(self, capacity):
        bits = max(10, int(np.ceil(np.log2(max(capacity, 1) / MAX_LOAD))))
        self.bits = bits
        self.mask = (1 << bits) - 1
        self.slots = np.full(1 << bits, -1, dtype=np.int32)

    def __len__(self):
        return self.n

    @property
    def keys(self):
        """The keys in order of insertion (key ``i`` has value ``i``)."""
        return self._keys[:self.n]

    def _home(self, keys):
        with np.errstate(over="ignore"):
            return ((keys * _FIB) >> np.uint64(64 - self.bits)).view(np.int64)

    def _reserve(self, extra):
        need = self.n + extra
        if need > self._keys.size:
            grown = np.zeros(max(need, self._keys.size + self._keys.size // 4),
                             dtype=np.uint64)
            grown[:self.n] = self.keys
            self._keys = grown
        if need <= MAX_LOAD * self.slots.size:
            return
        self._alloc(max(need, 2 * self.n))
        self._fill(np.arange(self.n, dtype=np.int32))

    def _key_of(self, vals):
        """Keys of values (anything for -1: the caller masks empty slots)."""
        return self._keys[np.maximum(vals, 0)]

    def _fill(self, vals):
        """Store the distinct keys of ``vals`` in an empty table: sorted by home
        slot, key ``i`` goes to ``max(home_i, slot_(i-1) + 1)`` (one sort and a
        running maximum, in place of probing rounds); the few pushed past the end
        wrap around by :meth:`_place`."""
        m = vals.size
        if m == 0:
            return
        home = self._home(self._keys[vals])
        ib = max(int(m - 1).bit_length(), 1)
        if self.bits + ib > 63:                              # pragma: no cover
            self._place(vals)
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
        inside = int(np.searchsorted(h, self.slots.size))
        self.slots[h[:inside]] = vals[order[:inside]]
        if inside < m:
            self._place(vals[order[inside:]])

    def _place(self, vals):
        """Store the distinct keys of ``vals`` (not in the table yet)."""
        ts, mask = self.slots, self.mask
        slot = self._home(self._keys[vals])
        while vals.size:
            empty = ts[slot] < 0
            s = slot[empty]
            ts[s] = vals[empty]
            won = np.zeros(vals.size, dtype=bool)
            won[empty] = ts[s] == vals[empty]
            rest = ~won
            vals, slot = vals[rest], (slot[rest] + 1) & mask

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
        if self.n == 0 or keys.size == 0:
            return np.full(keys.size, -1, dtype=np.int32)
        ts, mask = self.slots, self.mask
        slot = self._home(keys)
        v = ts[slot]
        full = v >= 0
        hit = full & (self._key_of(v) == keys)
        out = np.where(hit, v, np.int32(-1))
        pend = np.flatnonzero(full & ~hit & (keys != 0))
        while pend.size:
            slot_p = (slot[pend] + 1) & mask
            slot[pend] = slot_p
            v = ts[slot_p]
            full = v >= 0
            hit = full & (self._key_of(v) == keys[pend])
            out[pend[hit]] = v[hit]
            pend = pend[full & ~hit]
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
            self._keys[first:first + keys.size] = keys
            self.n += keys.size
            vals = np.arange(first, self.n, dtype=np.int32)
            if first == 0:
                self._fill(vals)
            else:
                self._place(vals)
        return first
