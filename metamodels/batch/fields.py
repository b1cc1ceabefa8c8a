"""Byte-level parsing of text tables with numpy: one field of every line of a block.

:func:`extract_field` cuts a column (the variant ids of a summary-statistics file)
out of a block of raw lines without creating a Python string per row: the lines are
located from the newline positions, the separators from small windows of bytes
gathered at every line's current position (``W`` bytes per line and step, so the
cost grows with the width of the fields up to the one wanted, not with the length
of the lines), and the field itself is the window at its start, NUL padded past its
end.
"""
from __future__ import annotations

import numpy as np

__all__ = ["extract_field", "fixed_width"]

#: Bytes gathered per line and step of the separator search (a field longer than
#: this takes more steps, for the lines that have one).
WINDOW = 16                                  # a multiple of 8 (see _masked)

_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 13, 32]] = True


def _windows(arr, pos, width):
    """``arr[p:p + width]`` for every (ascending) ``p`` of ``pos`` as the rows of a
    ``(len(pos), width)`` uint8 array, zero past the end of ``arr``."""
    n = arr.size
    out = np.empty((pos.size, width), dtype=np.uint8)
    safe = int(np.searchsorted(pos, n - width, side="right")) if n >= width else 0
    if safe:
        view = np.lib.stride_tricks.sliding_window_view(arr, width)
        out[:safe] = view[pos[:safe]]
    if safe < pos.size:                          # the last lines: pad only the tail
        t0 = max(n - 2 * width, 0)
        tail = np.zeros(n - t0 + width, dtype=np.uint8)
        tail[:n - t0] = arr[t0:]
        view = np.lib.stride_tricks.sliding_window_view(tail, width)
        out[safe:] = view[np.minimum(pos[safe:] - t0, tail.size - width)]
    return out


def _first(arr, pos, ends, match):
    """Offset from ``pos`` of the first byte for which ``match`` (a function of a
    uint8 array -> bool array of its shape) holds, or of ``ends`` if none comes
    before it (``ends - pos`` when ``pos >= ends``), for every line.

    Returns the offsets and the windows of :data:`WINDOW` bytes gathered at ``pos``
    (what :func:`extract_field` cuts the field from when it is short enough).
    """
    lim = ends - pos
    win = _windows(arr, pos, WINDOW)
    hit = match(win)
    j = hit.argmax(axis=1)
    found = (j > 0) | hit[:, 0]
    out = np.minimum(np.where(found, j, WINDOW), lim)
    todo = np.flatnonzero(~found & (lim > WINDOW))      # fields longer than the window
    off = WINDOW
    while todo.size:
        hit = match(_windows(arr, pos[todo] + off, WINDOW))
        j = hit.argmax(axis=1)
        found = (j > 0) | hit[:, 0]
        cand = off + np.where(found, j, WINDOW)
        done = found | (cand >= lim[todo])
        out[todo[done]] = np.minimum(cand[done], lim[todo[done]])
        todo = todo[~done]
        off += WINDOW
    return out, win


def _next_field(arr, pos, ends, is_sep, not_sep):
    """Offset from ``pos`` of the first non-separator after the first separator (the
    start of the next field with ``r"\\s+"``), or of ``ends``: both searches in one
    window per line; lines that the window does not settle take the two steps."""
    lim = ends - pos
    win = _windows(arr, pos, WINDOW)
    sep = is_sep(win)
    j1 = sep.argmax(axis=1)
    after = ~sep
    after &= np.arange(WINDOW) > j1[:, None]
    j2 = after.argmax(axis=1)
    found = (j2 > 0) & ((j1 > 0) | sep[:, 0])
    out = np.where(found, np.minimum(j2, lim), lim)
    rest = np.flatnonzero(~found & (lim > WINDOW))
    if rest.size:
        p, e = pos[rest], ends[rest]
        a = _first(arr, p, e, is_sep)[0]
        out[rest] = a + _first(arr, p + a, e, not_sep)[0]
    return out


def _nonblank(fs, ends, keep):
    """``fs`` and ``ends`` of the lines of ``keep`` (no copy when all are kept)."""
    return (fs, ends) if keep.all() else (fs[keep], ends[keep])


def extract_field(block, index, sep):
    """Field ``index`` of every non-blank line of ``block``, with numpy (no Python
    string per row).

    Parameters
    ----------
    block : bytes
        Whole lines: each ends at ``\\n`` (a ``\\r`` before it is dropped; text
        after the last ``\\n`` is ignored).
    index : int
        Position of the field (0 for the first).
    sep : str
        One character, or ``r"\\s+"`` for runs of spaces and tabs (leading ones
        ignored).  A line is blank if it is empty (one-character separators) or has
        only spaces and tabs (``r"\\s+"``).

    Returns
    -------
    numpy.ndarray or None
        Fixed-width bytes array (``S<w>``, ``w`` the longest value, at least 1; NUL
        padded), one value per non-blank line; None if the block has a double quote
        or a line with fewer than ``index + 1`` fields (the caller's general parser
        then handles the block).

    Notes
    -----
    Separators are searched from each line's current position in windows of
    :data:`WINDOW` bytes gathered for all lines at once, so the cost grows with the
    width of the fields up to the one wanted, not with the length of the lines.
    """
    if b'"' in block:
        return None
    arr = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    if ends.size == 0:
        return np.zeros(0, dtype="S1")
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    ends -= arr[np.maximum(ends - 1, 0)] == 13
    if sep == r"\s+":
        def is_sep(w):
            return (w == 32) | (w == 9) | (w == 13)

        def not_sep(w):
            return (w != 32) & (w != 9) & (w != 13)

        fs = starts.copy()                                      # skip leading blanks
        lead = np.flatnonzero(_SPACE[arr[starts]])
        if lead.size:
            fs[lead] += _first(arr, starts[lead], ends[lead], not_sep)[0]
        fs, ends = _nonblank(fs, ends, fs < ends)
        for _ in range(index):
            fs = fs + _next_field(arr, fs, ends, is_sep, not_sep)
            if np.any(fs >= ends):
                return None
    else:
        code = ord(sep)

        def is_sep(w):
            return w == code

        fs, ends = _nonblank(starts, ends, ends > starts)
        for _ in range(index):
            fs = fs + _first(arr, fs, ends, is_sep)[0]
            if np.any(fs >= ends):
                return None
            fs = fs + 1
    lens, win = _first(arr, fs, ends, is_sep)
    return fixed_width(arr, fs, lens, win)


def fixed_width(arr, starts, lens, win=None):
    """Byte strings of a buffer as a fixed-width bytes array.

    Parameters
    ----------
    arr : numpy.ndarray
        The buffer (uint8).
    starts, lens : numpy.ndarray
        Ascending start offsets and lengths of the strings (within ``arr``).
    win : numpy.ndarray, optional
        The bytes at ``starts`` already gathered (rows of a multiple of 8 bytes, as
        :func:`_first` returns them); used if at least as wide as the longest string.

    Returns
    -------
    numpy.ndarray
        ``arr[s:s + l]`` for every string, dtype ``S<w>`` (``w`` the longest length,
        at least 1), NUL padded.
    """
    width = max(int(lens.max()) if lens.size else 1, 1)
    if win is None or width > win.shape[1]:
        win = _windows(arr, starts, -(-width // 8) * 8)
    return _masked(win, lens, width)


def _masked(win, lens, width):
    """The first ``lens`` bytes of every row of ``win`` (NUL padded) as a bytes array
    of width ``width``: the rows, as little-endian 64-bit words, are and-ed with the
    masks of their lengths (table lookups)."""
    w8 = -(-width // 8) * 8
    win = win[:, :w8]                   # rows of a multiple of 8 bytes: WINDOW is one
    masks = (np.arange(w8) < np.arange(w8 + 1)[:, None]).astype(np.uint8) * np.uint8(255)
    masks = np.ascontiguousarray(masks.view(np.uint64).T)     # word k of length l: [k, l]
    words = np.ascontiguousarray(win).view(np.uint64)
    lens = np.minimum(lens, w8)
    for k in range(w8 // 8):
        words[:, k] &= np.take(masks[k], lens)
    out = words.view(f"S{w8}").ravel()
    return out if w8 == width else out.astype(f"S{width}")
