"""Fast vectorised text output: numbers to delimited text without a Python loop.

``DataFrame.to_csv`` formats each float with Python (about 1 microsecond a value),
which would dominate a file-to-file GWAS meta-analysis (tens of millions of values).
Here a block of rows becomes one ``(n, words)`` matrix of 4-byte words holding ASCII
codes padded with NUL bytes: every column is written into its own range of words
(3-digit groups of a number are looked up in tables of words), the separators
between them, and the NUL bytes are squeezed out of the whole block at once
(``bytes.translate``).

Numbers are written like C's ``%.{sig}g``: ``sig <= 6`` significant digits, trailing
zeros dropped, fixed notation for decimal exponents ``-4 <= e < sig`` and scientific
(``1.5e-08``, ``2.25e+12``, at least two exponent digits) otherwise; NaN is ``NA``.
The last digit is rounded from ``|x| 10^(sig-1-e)`` in double precision, so decimal
ties (``2.185`` stored as ``2.18499...``) may round up where printf rounds down.
p-values are formatted from their log10 (:func:`format_log10`) so that values below
the double-precision range (``1.6e-545``, ``1.01e-13847``) are written exactly, with
decimal exponents of up to 10 digits.
"""
from __future__ import annotations

import numpy as np

__all__ = ["format_float", "format_log10", "format_int", "format_bytes", "join_columns",
           "rows_to_bytes", "WORDS"]


def _word(text):
    """Up to 4 ASCII bytes as one little-endian uint32 (NUL padded)."""
    return int.from_bytes(text.encode().ljust(4, b"\0"), "little")


def _table(texts):
    return np.array([_word(t) for t in texts], dtype=np.uint32)


#: Integer words: [0, 1000) "0".."999", [1000, 2000) "-0".."-999",
#: [2000, 3000) "000".."999" (units group after a thousands group).
_INT = _table([str(i) for i in range(1000)] + [f"-{i}" for i in range(1000)]
              + [f"{i:03d}" for i in range(1000)])
#: Thousands word: as _INT without the zero entries.
_THOU = _INT[:2000].copy()
_THOU[[0, 1000]] = 0
#: First fraction word: [0, 1000) ".ddd", [1000, 2000) the same without trailing
#: zeros (and without the point for 0): used when the later groups are zero.
_FRAC1 = _table([f".{i:03d}" for i in range(1000)]
                + [f".{i:03d}".rstrip("0").rstrip(".") for i in range(1000)])
#: Other fraction words: [0, 1000) "ddd", [1000, 2000) without trailing zeros.
_FRAC = _table([f"{i:03d}" for i in range(1000)] + [f"{i:03d}".rstrip("0") for i in range(1000)])
_LUT4 = _table(f"{i:04d}" for i in range(10000))             # "0000" .. "9999"
#: Scientific head "d.d" / "d" / "-d.d" / "-d": block 2 * neg + short of 100.
_SCI = _table([("-" if neg else "") + (f"{i // 10}" if short else f"{i // 10}.{i % 10}")
               for neg in (0, 1) for short in (0, 1) for i in range(100)])
#: Trailing decimal zeros of 0..999 (3 for 0).
_TZ3 = np.array([3 if i == 0 else len(str(i)) - len(str(i).rstrip("0")) for i in range(1000)],
                dtype=np.int32)
_EXP_MAX = 9999
#: Largest exponent :func:`format_log10` writes (10 digits, three words); below
#: ``10**-LOG10_EXP_MAX`` the log10 of a p-value (a double near ``-1e10``) no longer
#: determines the 6 significant digits, and the value is written as ``0``.
LOG10_EXP_MAX = 9_999_999_999
#: "e-9999" ... "e+9999": exponent strings as two words each (wider ones: _wide_exps).
_EXPS = np.array([[_word(t[:4]), _word(t[4:])]
                  for t in (f"e{e:+03d}" for e in range(-_EXP_MAX, _EXP_MAX + 1))],
                 dtype=np.uint32)
#: Byte masks of the 4-digit word of the scientific notation by nz (keeps nz - 2).
_SMASK = np.array([0, 0, 0, 0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF], dtype=np.uint32)
_POW10 = 10.0 ** np.arange(-300, 301)
_P10 = 10 ** np.arange(10, dtype=np.int32)
_SPECIAL = {"nan": _word("NA"), "inf": _word("inf"), "-inf": _word("-inf"), "0": _word("0")}
#: Words of one formatted number.  Fixed notation: [sign and thousands] [sign and
#: units or 3 digits] [. and 3 decimals] [3 decimals] [3 decimals]; scientific:
#: [sign d.d] [4 digits] [exponent] [exponent] [exponent or empty].
WORDS = 5
MAX_SIG = 6


def _decimal(neg, e, mant, sig, out):
    """Write the words of ``(-1)^neg mant 10^(e-sig+1)`` into ``out`` (n, WORDS).

    ``mant`` (int32) has exactly ``sig`` digits and ``e`` is the decimal exponent of
    the leading digit.  Fixed notation (``-4 <= e < sig``): with ``s = 5 - e``
    fraction digits in the 6-digit mantissa, the integer part ``mant // 10^s`` and
    the 9-digit fraction ``(mant mod 10^s) 10^(9-s)`` are cut into 3-digit groups,
    each one lookup in a table of words indexed by the group's value and by whether
    the groups after it are zero (trailing zeros dropped).  Scientific notation for
    the other rows.
    """
    if not 1 <= sig <= MAX_SIG:
        raise ValueError(f"sig must be between 1 and {MAX_SIG}")
    if sig < MAX_SIG:
        mant = mant * np.int32(10 ** (MAX_SIG - sig))
    sgn = neg.view(np.int8).astype(np.int32)
    ef = np.clip(e, -4, 5)
    s = 5 - ef                                            # fraction digits in mant
    ip, fp = np.divmod(mant, _P10[s])
    fp *= _P10[9 - s]
    hi, lo = np.divmod(ip, 1000)
    out[:, 0] = _THOU[hi + 1000 * sgn]
    sgn[hi > 0] = 2
    out[:, 1] = _INT[lo + 1000 * sgn]
    f1, rem = np.divmod(fp, 1000000)
    f2, f3 = np.divmod(rem, 1000)
    z3 = (f3 == 0).view(np.int8).astype(np.int32)
    out[:, 4] = _FRAC[f3 + 1000]
    out[:, 3] = _FRAC[f2 + 1000 * z3]
    z3 &= (f2 == 0)
    out[:, 2] = _FRAC1[f1 + 1000 * z3]
    sidx = np.flatnonzero((e < -4) | (e >= sig))
    if sidx.size:
        m, ng = mant[sidx], neg[sidx]
        hi, lo = np.divmod(m, 1000)
        tz = np.where(lo == 0, 3 + _TZ3[hi], _TZ3[lo])
        nz = MAX_SIG - np.minimum(tz, MAX_SIG - 1)        # significant digits written
        head, rest = np.divmod(m, 10000)                  # head = d0 d1, rest = d2..d5
        W = np.zeros((sidx.size, WORDS), dtype=np.uint32)
        W[:, 0] = _SCI[head + 100 * (2 * ng + (nz == 1))]
        W[:, 1] = _LUT4[rest] & _SMASK[nz]
        es = e[sidx]
        W[:, 2:4] = _EXPS[np.clip(es, -_EXP_MAX, _EXP_MAX) + _EXP_MAX]
        wide = np.flatnonzero(np.abs(es) > _EXP_MAX)
        if wide.size:
            W[wide, 2:5] = _wide_exps(es[wide])
        out[sidx] = W
    return out


def _wide_exps(e):
    """Three words ``e-12345`` ... ``e-9999999999`` of exponents beyond +-9999 (rare:
    p-values below 1e-9999; one Python string each)."""
    text = np.array([f"e{int(v):+d}".encode() for v in e], dtype="S12")
    return text.view(np.uint32).reshape(-1, 3)


def _special(out, x):
    """Overwrite NaN (``NA``), infinities and zeros of ``x`` in the words ``out``."""
    rows = np.flatnonzero(~np.isfinite(x) | (x == 0))
    if rows.size:
        v = x[rows]
        w = np.where(np.isnan(v), _SPECIAL["nan"],
                     np.where(v == np.inf, _SPECIAL["inf"],
                              np.where(v == -np.inf, _SPECIAL["-inf"], _SPECIAL["0"])))
        out[rows] = 0
        out[rows, 0] = w
    return out


def _scale(a, p):
    """``a * 10^p`` for integer arrays ``p``: one table factor within 1e+-300, else
    two (no overflow or underflow for any double ``a``)."""
    if p.size and -300 <= p.min() and p.max() <= 300:
        return a * _POW10[p + 300]
    p1 = np.clip(p, -300, 300)
    return a * _POW10[p1 + 300] * _POW10[np.clip(p - p1, -300, 300) + 300]


def _mantissa(a, e, sig):
    """``sig``-digit integer mantissas of ``a > 0`` and their exponents ``e``."""
    top = 10 ** sig
    mant = np.rint(_scale(a, sig - 1 - e)).astype(np.int32)
    for _ in range(2):                     # floor(log10) can be one off; rint may carry
        bad = (mant >= top) | (mant < top // 10)
        if not bad.any():
            break
        e = np.where(mant >= top, e + 1, np.where(mant < top // 10, e - 1, e))
        mant = np.rint(_scale(a, sig - 1 - e)).astype(np.int32)
    return np.clip(mant, top // 10, top - 1), e


def format_float(x, sig=6, out=None):
    """Words (NUL padded, ``(n, WORDS)``) of ``%.{sig}g`` renderings of ``x``.

    The mantissa is ``rint(|x| 10^(sig - 1 - e))`` with ``e = floor(log10 |x|)``
    (corrected when rounding carries into a new digit).  ``out``: a ``(n, WORDS)``
    uint32 array (or view) to write into.
    """
    x = np.asarray(x, dtype=np.float64)
    if out is None:
        out = np.empty((x.shape[0], WORDS), dtype=np.uint32)
    a = np.abs(x)
    ok = np.isfinite(a) & (a > 0)
    if not ok.all():
        a = np.where(ok, a, 1.0)
    with np.errstate(divide="ignore"):
        e = np.floor(np.log10(a)).astype(np.int32)
    mant, e = _mantissa(a, e, sig)
    _decimal(np.signbit(x) & ok, e, mant, sig, out)
    return _special(out, x) if not ok.all() else out


def format_log10(lg, sig=6, out=None):
    """Words of the numbers ``10**lg`` (e.g. p-values from ``log10p``).

    With ``e = floor(lg)`` the mantissa is ``10^(lg - e)``, so values far below the
    smallest double (``lg = -545.8`` for ``z = 50``) are written as ``1.58e-546``
    instead of underflowing to 0, and ``z = 252.5`` as ``1.01e-13847``.  Exponents of
    up to 10 digits are written (:data:`LOG10_EXP_MAX`); below that (``lg <
    -9999999999``, where a double no longer fixes the mantissa) and for
    ``lg = -inf`` the value is written as ``0``.  NaN gives ``NA``.
    """
    lg = np.asarray(lg, dtype=np.float64)
    if out is None:
        out = np.empty((lg.shape[0], WORDS), dtype=np.uint32)
    ok = np.isfinite(lg) & (lg > -LOG10_EXP_MAX) & (lg < LOG10_EXP_MAX)
    lgf = np.where(ok, lg, 0.0) if not ok.all() else lg
    e = np.floor(lgf).astype(np.int64)
    top = 10 ** sig
    mant = np.rint(np.power(10.0, lgf - e + (sig - 1))).astype(np.int32)
    carry = mant >= top
    if carry.any():
        e = np.where(carry, e + 1, e)
        mant = np.where(carry, mant // 10, mant)
    mant = np.clip(mant, top // 10, top - 1)
    _decimal(np.zeros(lg.shape, dtype=bool), e, mant, sig, out)
    if not ok.all():
        rows = np.flatnonzero(~ok)
        v = lg[rows]
        out[rows] = 0
        out[rows, 0] = np.where(np.isnan(v), _SPECIAL["nan"],
                                np.where(v >= LOG10_EXP_MAX, _SPECIAL["inf"], _SPECIAL["0"]))
    return out


def int_words(x):
    """Words :func:`format_int` needs for the integers ``x``."""
    x = np.asarray(x)
    big = int(np.abs(x.astype(np.int64)).max()) if x.size else 0
    return 1 + max(1, -(-len(str(big)) // 3))


def format_int(x, missing=None, out=None):
    """Words of integers (``missing``: optional boolean mask written as ``NA``)."""
    x = np.asarray(x).astype(np.int64)
    n = x.shape[0]
    width = int_words(x)
    if out is None:
        out = np.empty((n, width), dtype=np.uint32)
    ng = width - 1
    a = np.abs(x)
    groups = []
    for _ in range(ng):
        a, r = np.divmod(a, 1000)
        groups.append(r)
    groups = groups[::-1]                                 # most significant first
    out[:, 0] = np.where(x < 0, _word("-"), 0)
    started = np.zeros(n, dtype=bool)
    for j, g in enumerate(groups):
        first = ~started & ((g != 0) | (j == ng - 1))
        out[:, j + 1] = np.where(first, _INT[g], np.where(started, _INT[2000 + g], 0))
        started |= first
    if missing is not None and np.any(missing):
        rows = np.flatnonzero(missing)
        out[rows] = 0
        out[rows, 0] = _SPECIAL["nan"]
    return out


def bytes_words(s):
    """Words :func:`format_bytes` needs for the bytes array ``s``."""
    return -(-max(np.asarray(s).dtype.itemsize, 1) // 4)


def format_bytes(s, out=None):
    """Words of a fixed-width bytes array (``dtype 'S'``), NUL padding kept."""
    s = np.asarray(s)
    if s.dtype.kind != "S":
        s = np.char.encode(s.astype(str), "utf-8")
    w = 4 * bytes_words(s)
    words = np.ascontiguousarray(s, dtype=f"S{w}").view(np.uint32).reshape(s.shape[0], w // 4)
    if out is None:
        return words
    out[...] = words
    return out


def join_columns(mats, sep=b"\t"):
    """Lay word matrices side by side with a separator and a final newline, and
    squeeze out the NUL padding; returns the text as bytes."""
    n = mats[0].shape[0]
    total = sum(m.shape[1] for m in mats) + len(mats)
    M = np.empty((n, total), dtype=np.uint32)
    pos = 0
    for i, m in enumerate(mats):
        M[:, pos:pos + m.shape[1]] = m
        pos += m.shape[1]
        M[:, pos] = _word(sep.decode()) if i < len(mats) - 1 else _word("\n")
        pos += 1
    return M.tobytes().translate(None, b"\0")


def _width(kind, values):
    if kind in ("float", "log10"):
        return WORDS
    if kind == "int":
        return int_words(values)
    if kind == "bytes":
        return bytes_words(values)
    raise ValueError(f"unknown column kind {kind!r}")


def rows_to_bytes(columns, sep=b"\t", block=65536, n_threads=1):
    """Text of a table given as a list of ``(kind, values, option)`` column specs.

    ``kind`` is ``"float"`` (option: significant digits), ``"log10"`` (values are
    log10 of the numbers to write; option: digits), ``"int"`` (option: missing
    mask or None) or ``"bytes"``.  Rows are formatted ``block`` at a time (bounding
    the memory of the word matrix), on ``n_threads`` threads.
    """
    n = len(columns[0][1])
    sepw, nlw = _word(sep.decode()), _word("\n")

    def one(i0):
        sl = slice(i0, i0 + block)
        vals = [(kind, v[sl], opt) for kind, v, opt in columns]
        widths = [_width(kind, v) for kind, v, _ in vals]
        M = np.empty((len(vals[0][1]), sum(widths) + len(widths)), dtype=np.uint32)
        pos = 0
        for (kind, v, opt), w in zip(vals, widths):
            view = M[:, pos:pos + w]
            if kind == "float":
                format_float(v, opt or 6, out=view)
            elif kind == "log10":
                format_log10(v, opt or 6, out=view)
            elif kind == "int":
                format_int(v, None if opt is None else opt[sl], out=view)
            else:
                format_bytes(v, out=view)
            pos += w
            M[:, pos] = sepw
            pos += 1
        M[:, -1] = nlw
        return M.tobytes().translate(None, b"\0")

    starts = range(0, n, block)
    if n_threads > 1 and len(starts) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(n_threads, len(starts))) as pool:
            return b"".join(pool.map(one, starts))
    return b"".join(one(i0) for i0 in starts)
