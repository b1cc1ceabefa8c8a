"""Fast vectorised text output: numbers to delimited text without a Python loop.

``DataFrame.to_csv`` formats each float with Python (about 1 microsecond a value),
which would dominate a file-to-file GWAS meta-analysis (tens of millions of values).
Here a block of a few thousand rows becomes one ``(n, words)`` matrix of 4-byte
words holding ASCII codes padded with NUL bytes: every column is written into its own
range of words, the separators into the last byte of a column where that byte is
always NUL (else into a word of their own), and the NUL bytes are squeezed out of the
whole block at once (``bytes.translate``).  A float becomes 16 bytes: its six
mantissa digits are looked up as two 3-digit groups of 64-bit words, and masks and
constants looked up by sign, exponent and trailing zeros place the decimal point,
drop trailing zeros and give the ``-0.000`` prefix (see :func:`_render`).

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
_POW10 = 10.0 ** np.arange(-300, 301)
_SPECIAL = {"nan": _word("NA"), "inf": _word("inf"), "-inf": _word("-inf"), "0": _word("0")}
#: Largest exponent :func:`format_log10` writes (10 digits, three words); below
#: ``10**-LOG10_EXP_MAX`` the log10 of a p-value (a double near ``-1e10``) no longer
#: determines the 6 significant digits, and the value is written as ``0``.
LOG10_EXP_MAX = 9_999_999_999
#: Words of one number written by :func:`format_float` (at most 13 characters:
#: ``-1.23457e-308``, ``-0.000123457``) and by :func:`format_log10` when its decimal
#: exponents have at most 5 digits; WORDS: with wider exponents (up to 10 digits).
FLOAT_WORDS = 4
WORDS = 5
MAX_SIG = 6
_U64 = np.uint64
_B8 = _U64(8)


def _bytes_mask(nbytes):
    """uint64 mask of the low ``nbytes`` bytes."""
    return (1 << (8 * nbytes)) - 1


def _word8(text):
    """Up to 8 ASCII bytes as one little-endian uint64 (NUL padded)."""
    return int.from_bytes(text.encode().ljust(8, b"\0"), "little")


#: "000" .. "999" in ASCII, first digit in the low byte (high half of a mantissa).
_D3 = np.array([_word8(f"{i:03d}") for i in range(1000)], dtype=np.uint64)
#: The same three bytes up (low half of a mantissa).
_D3LO = _D3 << _U64(24)
_TZ6 = None                                      # built on first use (1 MB)


def _trailing_zeros_table():
    """Trailing zero digits of ``%06d`` of ``[0, 10^6)`` (6 for 0), int8."""
    m = np.arange(10 ** 6, dtype=np.int32)
    tz = np.zeros(m.size, dtype=np.int8)
    trailing = np.ones(m.size, dtype=bool)
    for k in range(6):
        trailing &= (m // 10 ** k) % 10 == 0
        tz += trailing
    return tz


#: Classes of decimal exponents: fixed notation for -4 <= e <= 5 (classes e + 4),
#: scientific (class 10).
_SCI_CLASS = 10


def _layout_table():
    """Per case ``c = 77 neg + 7 class + tz`` (class: exponent ``e + 4`` for fixed
    notation, ``-4 <= e <= 5``, or 10 for the mantissa ``d.ddddd`` of the scientific
    notation, written as ``e = 0`` without sign; ``tz`` trailing zeros of the
    6-digit mantissa, 6 for the number 0): the masks and constants that turn the
    digit word into text (see :func:`_render`).

    Columns: ``lead`` (digits before the point), ``rest`` (digits after it, moved
    up by one byte), ``dot`` (the point, or 0 without fraction digits) and
    ``prefix`` (sign and the ``0.000`` of negative exponents, in the word before
    the digits).
    """
    rows = []
    for neg in (0, 1):
        for e in list(range(-4, 6)) + [None]:
            for tz in range(7):
                sign = "-" if neg and e is not None else ""
                if e is not None and e < 0:   # 0.000ddd: all digits after the point
                    keep = 6 - tz
                    rows.append((_bytes_mask(keep), 0, 0,
                                 _word8(sign + "0." + "0" * (-e - 1))))
                else:                          # ddd.ddd: point after digit e
                    p = e or 0
                    keep = max(p + 1, 6 - tz)
                    lead = _bytes_mask(p + 1)
                    rest = _bytes_mask(keep) & ~lead
                    dot = ord(".") << (8 * (p + 1)) if keep > p + 1 else 0
                    rows.append((lead, rest, dot, _word8(sign)))
    return [np.ascontiguousarray(col) for col in np.array(rows, dtype=np.uint64).T]


_LEAD, _REST, _DOT, _PREFIX = _layout_table()
#: Exponent words "e-9999" ... "e+9999" of the scientific notation.
_EXP_MAX = 9999
_EXPS = np.array([_word8(f"e{e:+03d}") for e in range(-_EXP_MAX, _EXP_MAX + 1)],
                 dtype=np.uint64)


def _digits(mant):
    """Digit words of 6-digit mantissas (or 0): ``%06d`` in ASCII, first digit in the
    low byte; and the counts of trailing zero digits (6 for 0)."""
    global _TZ6
    if _TZ6 is None:
        _TZ6 = _trailing_zeros_table()
    mant = mant.astype(np.intp, copy=False)
    hi = mant // 1000
    w = np.take(_D3LO, mant - hi * 1000)
    w |= np.take(_D3, hi)
    return w, np.take(_TZ6, mant)


def _render(neg, e, mant, sig, out):
    """Write the text of ``(-1)^neg mant 10^(e-5)`` into the words ``out``.

    ``mant`` (integers) has exactly 6 digits, or is 0 with ``e = 0`` for the
    number 0; ``e`` is the decimal exponent of the leading digit.  The six
    digits come from table lookups (with their count of trailing zeros), and
    lookups by sign, exponent and trailing zeros give masks that keep the digits
    written, move those after the decimal point one byte up and put the point in
    between (fixed notation, ``-4 <= e < sig``), and the ``0.000`` prefix of
    negative exponents.  Scientific notation (``1.5e-08``) for the other rows: the
    mantissa written as with ``e = 0`` and the sign, then the exponent.  ``out``
    (``(n, FLOAT_WORDS)`` or wider, uint32) receives 16 bytes per row, NUL padded:
    the prefix (or signed mantissa) in the first 8, the digits (or exponent) in the
    next 8; wider ``out`` gets NUL words, or exponents beyond 5 digits.
    """
    if not 1 <= sig <= MAX_SIG:
        raise ValueError(f"sig must be between 1 and {MAX_SIG}")
    n = mant.shape[0]
    W, tz = _digits(mant)
    c = _clip(e, -4, 5).astype(np.intp)
    c *= 7
    c += tz
    c += neg.view(np.uint8) * np.intp(77)
    c += 28
    sidx = np.flatnonzero((e < -4) | (e >= sig))
    if sidx.size:
        c[sidx] = 7 * _SCI_CLASS + tz[sidx]
    words = np.empty((n, 2), dtype=np.uint64)
    np.take(_PREFIX, c, out=words[:, 0])
    body = words[:, 1]
    np.bitwise_and(W, np.take(_REST, c), out=body)
    body <<= _B8
    body |= W & np.take(_LEAD, c)
    body |= np.take(_DOT, c)
    wide = None
    if sidx.size:
        es = e[sidx]
        ng = neg[sidx].view(np.uint8).astype(np.uint64)
        words[sidx, 0] = (body[sidx] << (_B8 * ng)) | (ng * _U64(ord("-")))
        words[sidx, 1] = np.take(_EXPS, _clip(es, -_EXP_MAX, _EXP_MAX) + _EXP_MAX)
        big = np.flatnonzero(np.abs(es) > _EXP_MAX)
        if big.size:
            wide = _wide_exponents(words, sidx[big], es[big], out.shape[1] > FLOAT_WORDS)
    _copy_words(out[:, :FLOAT_WORDS], words.view(np.uint32))
    if out.shape[1] > FLOAT_WORDS:
        out[:, FLOAT_WORDS:] = 0
        if wide is not None:
            out[wide[0], 2:5] = wide[1]
    return out


def _wide_exponents(words, rows, e, allow_wide):
    """Exponents beyond +-9999 (rare: p-values below 1e-9999), written with Python:
    into ``words`` when they fit 7 bytes (the last byte stays free), else returned
    as ``(rows, (m, 3) words)`` for wider output (``allow_wide``)."""
    text = np.array([f"e{int(v):+d}".encode() for v in e], dtype="S12")
    fits = np.char.str_len(text) <= 7
    words[rows[fits], 1] = np.ascontiguousarray(text[fits], dtype="S8").view(np.uint64)
    if fits.all():
        return None
    if not allow_wide:
        raise ValueError("exponents of more than 5 digits need WORDS words")
    words[rows[~fits], 1] = 0
    return rows[~fits], text[~fits].view(np.uint32).reshape(-1, 3)


def _clip(a, lo, hi):
    """``np.clip`` without its Python-level overhead."""
    return np.minimum(np.maximum(a, lo), hi)


def _copy_words(dst, src):
    """``dst[...] = src`` for ``(n, w)`` uint32 word matrices: rows copied as single
    ``4w``-byte items when they are column ranges of wider matrices (one strided
    copy instead of ``w``)."""
    w = src.shape[1]
    if dst.ndim == 2 and dst.strides[1] == 4 and src.strides[1] == 4 and w > 1:
        dst.view(f"V{4 * w}")[:, 0] = src.view(f"V{4 * w}")[:, 0]
    else:
        dst[...] = src


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
        # mant outside [top/10, top): one unsigned comparison
        if not np.any((mant - np.int32(top // 10)).view(np.uint32) >= top - top // 10):
            return mant, e
        e = np.where(mant >= top, e + 1, np.where(mant < top // 10, e - 1, e))
        mant = np.rint(_scale(a, sig - 1 - e)).astype(np.int32)
    return _clip(mant, top // 10, top - 1), e


def _six(mant, sig):
    """Mantissas of ``sig`` digits as 6-digit ones."""
    if not 1 <= sig <= MAX_SIG:
        raise ValueError(f"sig must be between 1 and {MAX_SIG}")
    return mant * np.int32(10 ** (MAX_SIG - sig)) if sig < MAX_SIG else mant


def format_float(x, sig=6, out=None):
    """Words (NUL padded, ``(n, FLOAT_WORDS)``) of ``%.{sig}g`` renderings of ``x``.

    The mantissa is ``rint(|x| 10^(sig - 1 - e))`` with ``e = floor(log10 |x|)``
    (corrected when rounding carries into a new digit).  ``out``: a uint32 array
    (or view) of ``(n, FLOAT_WORDS)`` or more words to write into.
    """
    x = np.asarray(x, dtype=np.float64)
    if out is None:
        out = np.empty((x.shape[0], FLOAT_WORDS), dtype=np.uint32)
    a = np.abs(x)
    allok = bool(a.size == 0 or (a.min() > 0 and a.max() < np.inf))   # NaN: False
    if not allok:
        ok = np.isfinite(a) & (a > 0)
        a = np.where(ok, a, 1.0)
    with np.errstate(divide="ignore"):
        e = np.floor(np.log10(a)).astype(np.int32)
    mant, e = _mantissa(a, e, sig)
    mant = _six(mant, sig)
    neg = np.signbit(x)
    if not allok:
        neg &= ok                       # zeros (and -0.0) as 0
        mant[~ok] = 0
        e[~ok] = 0
    _render(neg, e, mant, sig, out)
    if not allok:
        bad = np.flatnonzero(~np.isfinite(x))
        if bad.size:
            v = x[bad]
            out[bad] = 0
            out[bad, 0] = np.where(np.isnan(v), _SPECIAL["nan"],
                                   np.where(v > 0, _SPECIAL["inf"], _SPECIAL["-inf"]))
    return out


def log10_words(lg):
    """Words :func:`format_log10` needs for the log10 values ``lg``: FLOAT_WORDS
    unless a decimal exponent has more than 5 digits."""
    lg = np.asarray(lg, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        wide = lg.size and bool(np.any(np.abs(lg) > 99_998))
    return WORDS if wide else FLOAT_WORDS


def format_log10(lg, sig=6, out=None):
    """Words of the numbers ``10**lg`` (e.g. p-values from ``log10p``).

    With ``e = floor(lg)`` the mantissa is ``10^(lg - e)``, so values far below the
    smallest double (``lg = -545.8`` for ``z = 50``) are written as ``1.58e-546``
    instead of underflowing to 0, and ``z = 252.5`` as ``1.01e-13847``.  Exponents of
    up to 10 digits are written (:data:`LOG10_EXP_MAX`); below that (``lg <
    -9999999999``, where a double no longer fixes the mantissa) and for
    ``lg = -inf`` the value is written as ``0``.  NaN gives ``NA``.  ``out``: see
    :func:`log10_words` for the words needed.
    """
    lg = np.asarray(lg, dtype=np.float64)
    if out is None:
        out = np.empty((lg.shape[0], log10_words(lg)), dtype=np.uint32)
    allok = bool(lg.size == 0 or (lg.min() > -LOG10_EXP_MAX and lg.max() < LOG10_EXP_MAX))
    lgf = lg
    if not allok:                                       # NaN, +-inf, beyond the range
        ok = np.isfinite(lg) & (lg > -LOG10_EXP_MAX) & (lg < LOG10_EXP_MAX)
        lgf = np.where(ok, lg, 0.0)
    e = np.floor(lgf).astype(np.int64)
    top = 10 ** sig
    mant = np.rint(np.power(10.0, lgf - e + (sig - 1))).astype(np.int32)
    carry = mant >= top
    if carry.any():
        e = np.where(carry, e + 1, e)
        mant = np.where(carry, mant // 10, mant)
    mant = _six(_clip(mant, top // 10, top - 1), sig)
    if not allok:
        mant[~ok] = 0
        e[~ok] = 0
    _render(np.zeros(lg.shape, dtype=bool), e, mant, sig, out)
    if not allok:
        rows = np.flatnonzero(np.isnan(lg) | (lg >= LOG10_EXP_MAX))
        if rows.size:
            v = lg[rows]
            out[rows] = 0
            out[rows, 0] = np.where(np.isnan(v), _SPECIAL["nan"], _SPECIAL["inf"])
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
    _copy_words(out, words)
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
    if kind == "float":
        return FLOAT_WORDS
    if kind == "log10":
        return log10_words(values)
    if kind == "int":
        return int_words(values)
    if kind == "bytes":
        return bytes_words(values)
    raise ValueError(f"unknown column kind {kind!r}")


def _free_last_byte(kind, values, width):
    """Whether the last byte of a column's words is NUL in every row (the separator
    can go there instead of into a word of its own)."""
    if kind in ("float", "int"):
        return True
    if kind == "log10":
        return width == FLOAT_WORDS
    return values.dtype.kind == "S" and values.dtype.itemsize < 4 * width


def _copy_equal(view, ref_view, v, ref_v, fmt):
    """``fmt(v, out=view)``, with the words of the rows where ``v == ref_v`` copied
    from ``ref_view`` (already written) and only the others formatted."""
    same = v == ref_v
    if same.all():
        _copy_words(view, ref_view)
        return
    rows = np.flatnonzero(~same)
    if rows.size * 4 > v.size * 3:                 # few equal: format them all
        fmt(v, view)
        return
    _copy_words(view, ref_view)
    part = np.zeros((rows.size, view.shape[1]), dtype=np.uint32)   # as the zeroed block
    fmt(v[rows], part)
    view[rows] = part


def rows_to_bytes(columns, sep=b"\t", block=8192, n_threads=1):
    """Text of a table given as a list of ``(kind, values, option)`` column specs.

    ``kind`` is ``"float"`` (option: significant digits), ``"log10"`` (values are
    log10 of the numbers to write; option: digits), ``"int"`` (option: missing
    mask or None) or ``"bytes"``.  A ``"float"`` or ``"log10"`` spec may have a
    fourth item, the position of an earlier column of the same kind and option:
    where the two columns' values are equal (``==``: the same number, so the same
    text), that column's words are copied instead of formatted again (a
    random-effects column equals its fixed-effect one wherever tau^2 = 0).
    Rows are formatted ``block`` at a time (bounding
    the memory of the word matrix; blocks of a few thousand rows keep the
    temporaries in the CPU caches), on ``n_threads`` threads.  A one-byte separator
    (and the newline) is written into the last byte of a column's words where that
    byte is always NUL, else into a word of its own.
    """
    n = len(columns[0][1])
    sepw, nlw = _word(sep.decode()), _word("\n")
    short = len(sep) == 1

    refs = [c[3] if len(c) > 3 else None for c in columns]
    for j, r in enumerate(refs):
        if r is not None and not (0 <= r < j and columns[r][0] == columns[j][0]
                                  in ("float", "log10") and columns[r][2] == columns[j][2]):
            raise ValueError(f"column {j} cannot copy column {r}")

    def one(i0):
        sl = slice(i0, i0 + block)
        vals = [(c[0], c[1][sl], c[2]) for c in columns]
        widths = [_width(kind, v) for kind, v, _ in vals]
        own = [not (short and _free_last_byte(kind, v, w))
               for (kind, v, _), w in zip(vals, widths)]
        nb, width = len(vals[0][1]), sum(widths) + sum(own)
        buf = bytearray(4 * nb * width)      # squeezed in place of a bytes copy
        M = np.frombuffer(buf, dtype=np.uint32).reshape(nb, width)
        B = M.view(np.uint8)
        pos = 0
        starts = []
        for j, ((kind, v, opt), w) in enumerate(zip(vals, widths)):
            view = M[:, pos:pos + w]
            starts.append(pos)
            r = refs[j]
            if r is not None and widths[r] == w:
                _copy_equal(view, M[:, starts[r]:starts[r] + w], v, vals[r][1],
                            lambda x, out, kind=kind, opt=opt:
                            (format_float if kind == "float" else format_log10)(
                                x, opt or 6, out=out))
            elif kind == "float":
                format_float(v, opt or 6, out=view)
            elif kind == "log10":
                format_log10(v, opt or 6, out=view)
            elif kind == "int":
                format_int(v, None if opt is None else opt[sl], out=view)
            else:
                format_bytes(v, out=view)
            pos += w
            last = j == len(vals) - 1
            if own[j]:
                M[:, pos] = nlw if last else sepw
                pos += 1
            else:
                B[:, 4 * pos - 1] = 10 if last else sep[0]
        del M, B
        return buf.translate(None, b"\0")

    starts = range(0, n, block)
    if n_threads > 1 and len(starts) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(n_threads, len(starts))) as pool:
            return b"".join(pool.map(one, starts))
    return b"".join(one(i0) for i0 in starts)
