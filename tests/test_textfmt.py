"""metamodels.batch.textfmt (numbers to text without a Python loop) and the chunk
gathering of the GWAS workflow, against plain Python references."""
from decimal import Decimal, getcontext

import numpy as np
import pytest

from metamodels.batch.output_pool import _direction
from metamodels.batch.merge import gather_chunk, load_map, save_map, sorted_map
from metamodels.batch.sumstats import StudyStore
from metamodels.batch.textfmt import (FLOAT_WORDS, WORDS, format_bytes, format_float,
                                      format_int, format_log10, join_columns,
                                      log10_words, rows_to_bytes)


def _lines(words):
    return join_columns([words]).decode().split("\n")[:-1]


def _near_tie(v, sig, tol):
    """Whether the exact decimal value of ``|v| 10^(sig-1-e)`` is within ``tol`` of a
    rounding tie (where the double-precision scaling may round either way)."""
    getcontext().prec = 60
    d = abs(Decimal(float(v)))
    e = d.adjusted()
    scaled = d.scaleb(sig - 1 - e)
    frac = scaled - scaled.to_integral_value(rounding="ROUND_FLOOR")
    return abs(frac - Decimal("0.5")) < Decimal(tol)


def _check_printf(values, got, sig, tol="1e-8"):
    """``got`` is ``%.{sig}g`` of each value, or (at a near-tie) the ``%.{sig}g``
    rendering of the other rounding."""
    fmt = f"%.{sig}g"
    for v, s in zip(values, got):
        if np.isnan(v):
            assert s == "NA"
        elif np.isinf(v):
            assert s == ("inf" if v > 0 else "-inf")
        elif v == 0:
            assert s == "0"                               # also for -0.0
        elif s != fmt % v:
            assert _near_tie(v, sig, tol), (v, s, fmt % v)
            assert fmt % float(s) == s, (v, s)


def _special_values():
    return np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324,
                     2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
                     9.9999995, 9.99999949, 99999.95, 999999.5, 999999.4, 0.000999999,
                     9.999995e-5, 9.9999951e-5, 0.99999951, 1e6, 1e5, 123456.0, 1234567.0,
                     1e-4, 1e-5, 1.0, -1.0, 100.0, 0.1, 0.5, 0.25, 9.99999e-5, 1e-300,
                     1e300, 1e-310, 4.9406564584124654e-324 * 3, 1e22, 1e23, 2.5e-5])


def test_format_float_matches_printf_over_the_whole_double_range():
    rng = np.random.default_rng(11)
    n = 4000
    bits = rng.integers(0, 2 ** 64, n, dtype=np.uint64).view(np.float64)   # any double
    subnormal = rng.uniform(-1, 1, n) * 2.2250738585072014e-308
    plain = rng.normal(size=n) * 10.0 ** rng.integers(-7, 8, n)
    decimal = np.round(rng.normal(size=n) * 1e4) / 10.0 ** rng.integers(0, 8, n)
    sp = _special_values()
    x = np.concatenate([bits, subnormal, plain, decimal, sp, -sp])
    for sig in range(1, 7):
        words = format_float(x, sig)
        assert words.shape == (x.size, FLOAT_WORDS)
        _check_printf(x, _lines(words), sig)


def test_format_float_rounding_to_a_new_power_of_ten():
    x = np.array([9.9999996, 9.99999949, 9.9999949, 99999.96, 999999.6, 9.9999951e-5,
                  0.99999951, -9.9999996e-5, 9.99996e300, 9.999996e-301, -999.9996])
    got = _lines(format_float(x))
    assert got[:3] == ["10", "10", "9.99999"]
    assert got == ["%.6g" % v for v in x]
    # decimal ties are rounded from the double product |x| 10^(5-e) (documented)
    _check_printf([9.9999995, 99999.95, 999999.5], _lines(format_float(
        np.array([9.9999995, 99999.95, 999999.5]))), 6)
    assert _lines(format_float(np.array([0.0, -0.0, 5e-324, -np.inf, np.nan, 9.996]), 3)) \
        == ["0", "0", "4.94e-324", "-inf", "NA", "10"]


def _log10_reference(lg, sig=6):
    """``10**lg`` to ``sig`` digits from 40-digit decimal arithmetic."""
    if np.isnan(lg):
        return "NA"
    if lg >= 9_999_999_999:
        return "inf"
    if lg <= -9_999_999_999:
        return "0"
    getcontext().prec = 40
    d = Decimal(10) ** Decimal(float(lg))
    mant, ex = format(d, f".{sig - 1}e").split("e")
    ex = int(ex)
    if -4 <= ex < sig:
        return f"%.{sig}g" % float(f"{mant}e{ex}")
    mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
    return f"{mant}e{ex:+03d}"


def test_format_log10_matches_decimal_arithmetic_down_to_minus_a_million():
    rng = np.random.default_rng(5)
    lg = np.concatenate([-rng.exponential(2, 500), -rng.exponential(300, 300),
                         -10.0 ** rng.uniform(3, 6, 300), [-1e6, -999_998.5, -99_998.2,
                         -99_999.5, 0.0, -0.0, -4.0, -4.00000001, -3.99999999, -5.5,
                         -545.8, np.log10(9.9999995), -5 + np.log10(9.9999996),
                         np.nan, -np.inf, np.inf, 2.0]])
    for sig in (6, 3):
        words = format_log10(lg, sig)
        assert words.shape[1] == WORDS                    # exponents of 6 digits
        for v, s in zip(lg, _lines(words)):
            ref = _log10_reference(v, sig)
            if s != ref:                                  # a near-tie of 10^frac
                getcontext().prec = 40
                assert _near_tie(Decimal(10) ** Decimal(float(v)), sig, "1e-4"), (v, s, ref)
    small = np.array([-0.5, -3.25, -99_998.0, -300.0])
    assert log10_words(small) == FLOAT_WORDS
    assert format_log10(small).shape == (4, FLOAT_WORDS)
    assert _lines(format_log10(small)) == ["0.316228", "0.000562341", "1e-99998", "1e-300"]


@pytest.mark.parametrize("sep", [b"\t", b",", b" :: "])
@pytest.mark.parametrize("block", [8192, 7, 1])
def test_rows_to_bytes_is_the_columns_side_by_side(sep, block):
    rng = np.random.default_rng(9)
    n = 300
    x = rng.normal(size=n) * 10.0 ** rng.integers(-12, 12, n)
    x[::17] = np.nan
    x[::23] = 0.0
    lg = -rng.exponential(5, n)
    lg[::29] = -rng.uniform(1e5, 1e9, lg[::29].size)     # exponents of 6-9 digits
    lg[::31] = np.nan
    ints = rng.integers(-10 ** 12, 10 ** 12, n)
    miss = rng.random(n) < 0.1
    ids4 = np.array([b"rs%02d" % (i % 100) for i in range(n)], dtype="S4")   # full words
    ids = np.array([b"rs" + str(i).encode() * (i % 4) for i in range(n)])
    conv = np.where(rng.random(n) < 0.5, b"TRUE", b"FALSE")
    cols = [("bytes", ids, None), ("int", ints, miss), ("float", x, 6), ("log10", lg, 6),
            ("bytes", ids4, None), ("float", x, 3), ("int", np.abs(ints) % 50, None),
            ("bytes", conv, None), ("log10", lg[::-1].copy(), 4)]
    got = rows_to_bytes(cols, sep=sep, block=block).decode().split("\n")
    assert got[-1] == ""
    per_col = [_lines(format_bytes(ids)), _lines(format_int(ints, miss)),
               _lines(format_float(x, 6)), _lines(format_log10(lg, 6)),
               _lines(format_bytes(ids4)), _lines(format_float(x, 3)),
               _lines(format_int(np.abs(ints) % 50)), _lines(format_bytes(conv)),
               _lines(format_log10(lg[::-1].copy(), 4))]
    expect = [sep.decode().join(c[i] for c in per_col) for i in range(n)]
    assert got[:-1] == expect
    assert per_col[1][:3] == [("NA" if m else str(v)) for v, m in zip(ints[:3], miss[:3])]


@pytest.mark.parametrize("share", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("block", [8192, 64, 1])
def test_columns_copied_where_equal_are_formatted_alike(share, block):
    """A float or log10 column given an earlier one (a fourth spec item) copies its
    words where the values are equal and formats the others: the same text as
    formatting every value, whatever the share of equal rows, with NaN, -0.0 and
    log10 values whose wide exponents make the two columns' widths differ."""
    rng = np.random.default_rng(int(share * 10) + block)
    n = 500
    x = rng.normal(size=n) * 10.0 ** rng.integers(-12, 12, n)
    x[::17] = np.nan
    x[::23] = 0.0
    y = np.where(rng.random(n) < share, x, rng.normal(size=n))
    y[::19] = -0.0
    y[::41] = np.nan                              # NaN never equals: formatted
    lg = -rng.exponential(5, n)
    lg2 = np.where(rng.random(n) < share, lg, -rng.exponential(5, n))
    lg[::29] = -rng.uniform(1e5, 1e9, lg[::29].size)      # wide in one column only
    lg2[::37] = -rng.uniform(1e5, 1e9, lg2[::37].size)
    plain = [("float", x, 6), ("log10", lg, 6), ("bytes", np.full(n, b"ab"), None),
             ("float", y, 6), ("log10", lg2, 6)]
    copied = plain[:3] + [("float", y, 6, 0), ("log10", lg2, 6, 1)]
    expect = rows_to_bytes(plain, block=block)
    assert rows_to_bytes(copied, block=block) == expect
    assert expect.decode().split("\n")[0].split("\t")[3] == _lines(format_float(y[:1]))[0]
    with pytest.raises(ValueError, match="cannot copy"):
        rows_to_bytes(plain[:3] + [("float", y, 4, 0)])          # other digits
    with pytest.raises(ValueError, match="cannot copy"):
        rows_to_bytes(plain[:3] + [("float", y, 6, 1)])          # other kind


def test_format_int_with_missing():
    x = np.array([0, 7, -12, 1000, -1000, 999_999, 10 ** 15, -(10 ** 18), 5])
    miss = np.zeros(x.size, dtype=bool)
    miss[-1] = True
    assert _lines(format_int(x, miss)) == [str(v) for v in x[:-1]] + ["NA"]


def test_direction_string():
    y = np.array([[1.0, -2.0, 0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324],
                  [np.nan] * 8])
    assert list(_direction(y)) == [b"+-00?+-+", b"????????"]


def _gather_reference(columns, gids, signs, c0, c1, scheme, gc, with_n):
    from scipy import special

    k = len(columns)
    y = np.full((c1 - c0, k), np.nan)
    s = np.full((c1 - c0, k), np.nan)
    ntot = np.zeros(c1 - c0)
    for j, col in enumerate(columns):
        for r, g in enumerate(gids[j]):
            if not c0 <= g < c1:
                continue
            i = g - c0
            if scheme == "samplesize":
                z = (-special.ndtri(0.5 * col["pvalue"][r]) * np.sign(col["beta"][r])
                     * signs[j][r] / gc[j])
                y[i, j] = z / np.sqrt(col["n"][r])
                s[i, j] = 1.0 / np.sqrt(col["n"][r])
            else:
                y[i, j] = col["beta"][r] * signs[j][r]
                s[i, j] = col["se"][r] * gc[j]
            ntot[i] += col["n"][r]
    return y, s, ntot


@pytest.mark.parametrize("scheme", ["stderr", "samplesize"])
def test_gather_chunk_equals_a_row_by_row_reference(tmp_path, scheme):
    rng = np.random.default_rng(4)
    n_var, stores, columns, gids, signs = 50, [], [], [], []
    for j, n_rows in enumerate([40, 30, 45]):
        g = rng.permutation(n_var)[:n_rows].astype(np.int32)
        if j == 1:
            g = np.sort(g)
            g[g >= 20] = -1                    # study 2 has no variant in later chunks
        g[rng.random(n_rows) < 0.1] = -1       # dropped rows
        sign = np.where(g < 0, 0, np.where(rng.random(n_rows) < 0.5, -1, 1)).astype(np.int8)
        col = {"beta": rng.normal(size=n_rows), "se": rng.uniform(0.1, 1, n_rows),
               "pvalue": rng.uniform(1e-6, 1, n_rows), "n": rng.integers(100, 1000, n_rows)
               .astype(float)}
        st = StudyStore(str(tmp_path / f"s{j}"), n_rows=n_rows, fields=tuple(col))
        (tmp_path / f"s{j}").mkdir()
        for name, v in col.items():
            st.save(name, v)
        save_map(st, g, sign)
        stores.append(st)
        columns.append(col)
        gids.append(g)
        signs.append(sign)
    gc = [1.0, 1.2, 1.05]
    saved = [(lambda st=st: load_map(st)) for st in stores]
    in_memory = [sorted_map(g, sg) for g, sg in zip(gids, signs)]
    for c0, c1 in [(0, 50), (0, 17), (17, 34), (34, 50), (20, 21), (49, 50), (50, 50)]:
        for maps in (saved, in_memory):
            y, s, nt = gather_chunk(stores, maps, c0, c1, scheme, gc, with_n=True)
            ry, rs, rn = _gather_reference(columns, gids, signs, c0, c1, scheme, gc, True)
            assert y.flags.c_contiguous and s.flags.c_contiguous
            np.testing.assert_array_equal(y, ry)
            np.testing.assert_array_equal(s, rs)
            np.testing.assert_array_equal(nt, rn)
        y, s, nt = gather_chunk(stores, in_memory, c0, c1, scheme)
        assert nt is None and y.shape == (c1 - c0, 3)
