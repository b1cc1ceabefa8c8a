"""The GWAS index stage: the numpy hash index, the table-driven allele alignment and the
per-study rules applied in the reading worker (``prepare_study``), each against a
plain-Python statement of the rules."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import special

from metamodels.batch.alleles import AMBIGUOUS, MISMATCH, OK, AlleleTable, align, complement
from metamodels.batch.hashindex import HashIndex
from metamodels.batch.kernels import CHI2_1_MEDIAN
from metamodels.batch.merge import (DROP_ORDER, SE_MIN, VALUE_MAX, MergeState, VariantIndex,
                                    index_study)
from metamodels.batch.prepare import gc_lambda, median, row_alleles
from metamodels.batch.sumstats import resolve_columns, scan_study, sniff


# ------------------------------------------------------------------ hash index
def _keysets(rng, n):
    rand = rng.permutation(np.unique(rng.integers(1, 2 ** 64 - 1, n, dtype=np.uint64,
                                                  endpoint=True)))
    low = np.arange(1, n + 1, dtype=np.uint64) << np.uint64(40)     # equal low bits
    high = np.arange(1, n + 1, dtype=np.uint64)                     # equal high bits
    top = np.arange(1, n + 1, dtype=np.uint64) << np.uint64(47)     # only top bits vary
    return {"random": rand, "low bits": low, "high bits": high, "top bits": top}


@pytest.mark.parametrize("n", [0, 1, 7, 3000, 40_000])
def test_hash_index_agrees_with_a_dict(n):
    rng = np.random.default_rng(n)
    for name, keys in _keysets(rng, n).items():
        for split in (1.0, 0.5, 0.1):               # first batch filled, later placed
            h = HashIndex()
            m = int(len(keys) * split)
            for part in (keys[:m], keys[m:m + 1], keys[m + 1:], keys[:0]):
                h.add(part)
            assert h.n == len(keys)
            d = {int(k): i for i, k in enumerate(keys)}
            q = np.concatenate([keys, keys[::3], np.zeros(4, dtype=np.uint64),
                                rng.integers(1, 2 ** 63, 100, dtype=np.uint64)])
            q = rng.permutation(q)
            got = h.lookup(q)
            expect = np.array([d.get(int(k), -1) for k in q], dtype=np.int64)
            assert got.dtype == np.int32
            np.testing.assert_array_equal(got, expect, err_msg=f"{name} {split}")
            assert h.lookup(np.empty(0, dtype=np.uint64)).size == 0


def test_hash_index_grows_and_stays_half_empty():
    rng = np.random.default_rng(5)
    keys = np.unique(rng.integers(1, 2 ** 64 - 1, 20_000, dtype=np.uint64))
    h = HashIndex()
    for i0 in range(0, keys.size, 1500):                 # many small batches: rehashes
        h.add(keys[i0:i0 + 1500])
        assert h.n <= 0.5 * h.slots.size
    np.testing.assert_array_equal(h.lookup(keys), np.arange(keys.size))
    assert np.count_nonzero(h.slots >= 0) == keys.size
    np.testing.assert_array_equal(h.keys, keys)


def test_variant_index_api():
    v = VariantIndex()
    assert v.n == 0 and v.lookup(np.array([5], dtype=np.uint64))[0] == -1
    assert not v.add_if_unique(np.array([3, 4, 3], dtype=np.uint64))
    assert not v.add_if_unique(np.array([3, 0], dtype=np.uint64))
    assert v.add_if_unique(np.array([3, 4], dtype=np.uint64)) and v.n == 2
    with pytest.raises(ValueError):
        v.add_if_unique(np.array([9], dtype=np.uint64))
    with pytest.raises(ValueError, match="key 0"):
        v.add(np.array([9, 0], dtype=np.uint64))
    assert v.add(np.array([9, 10], dtype=np.uint64)) == 2
    np.testing.assert_array_equal(v.lookup(np.array([10, 0, 3, 11], dtype=np.uint64)),
                                  [3, -1, 0, -1])


# ------------------------------------------------------------------ alignment
def _align_one(a1, a2, r1, r2, f, fr, maf_max, keep):
    """The alignment rules of one row, written out (alleles as strings)."""
    c1, c2 = complement(a1), complement(a2)
    pal = c1 is not None and c1 == a2
    if (a1, a2) in ((r1, r2), (r2, r1)):
        sign = 1 if (a1, a2) == (r1, r2) else -1
        if not pal:
            return sign, OK, False
        ok = all(math.isfinite(x) and min(x, 1 - x) < maf_max for x in (f, fr))
        if ok:
            fa = f if sign > 0 else 1 - f
            other = abs((1 - fa) - fr) < abs(fa - fr)
            return (-sign if other else sign), OK, other
        return (sign, OK, False) if keep else (0, AMBIGUOUS, False)
    if not pal and c1 is not None and c2 is not None:
        if (c1, c2) == (r1, r2):
            return 1, OK, True
        if (c1, c2) == (r2, r1):
            return -1, OK, True
    return 0, MISMATCH, False


@pytest.mark.parametrize("n", [50, 6000])         # the row-wise and the table paths
def test_align_agrees_with_the_rules_row_by_row(n):
    t = AlleleTable()
    alleles = ["A", "C", "G", "T", "I", "D", "AT", "AC", "GT", "AAC", "GTT"] + \
        [f"X{i}" for i in range(6)] + ["CCG", "CGG", "ACGTA", "TACGT"]
    codes = np.array([t.code(a) for a in alleles])
    rng = np.random.default_rng(n)
    for kmax in (4, 11, len(alleles)):                # SNPs only; codes below/above 16
        pick = lambda: codes[rng.integers(0, kmax, n)]  # noqa: E731
        a1, a2, r1, r2 = pick(), pick(), pick(), pick()
        f = np.round(rng.uniform(0, 1, n), 2)
        fr = np.round(rng.uniform(0, 1, n), 2)
        f[rng.random(n) < 0.1] = np.nan
        for keep in (False, True):
            for freqs in ((f, fr), (None, None)):
                sign, status, strand = align(a1, a2, r1, r2, t.comp, *freqs, maf_max=0.35,
                                             keep_ambiguous=keep)
                for i in range(n):
                    fi = (np.nan, np.nan) if freqs[0] is None else (f[i], fr[i])
                    want = _align_one(*(t.alleles[x[i]] for x in (a1, a2, r1, r2)), *fi,
                                      0.35, keep)
                    assert (sign[i], status[i], strand[i]) == want, (i, kmax, keep)


# ------------------------------------------------- per-study rules in the worker
_NA = {"", "NA", "NAN", ".", "0", "?", "-9", "N/A", "NULL", "NONE"}


def _studies(rng, m=400, many_alleles=False):
    """Three studies with every drop reason, repeated ids (the first copy invalid in
    places), A/T and C/G variants with and without usable frequencies, other strands,
    swaps, indels, lower-case and missing alleles."""
    pairs = [("A", "C"), ("A", "G"), ("C", "T"), ("G", "T"), ("A", "T"), ("C", "G")] * 3 + [
        ("I", "D"), ("AC", "GT"), ("AT", "G")]
    if many_alleles:             # more than 16 codes: the row-by-row path of the alignment
        pairs += [("AAT", "A"), ("CCG", "C"), ("GGT", "G"), ("TTA", "T"), ("ACGT", "A"),
                  ("AAAC", "A"), ("X1", "X2"), ("X3", "X4"), ("ATTA", "TAAT")]
    ids = [f"rs{i}" for i in range(m)]
    ref = [pairs[i] for i in rng.integers(0, len(pairs), m)]
    frames = []
    for s in range(3):
        rows = []
        for i in rng.permutation(m)[: int(0.9 * m)]:
            a1, a2 = ref[i]
            u = rng.random()
            if u < 0.25:
                a1, a2 = a2, a1
            elif u < 0.4 and complement(a1) and complement(a2):
                a1, a2 = complement(a1), complement(a2)
            elif u < 0.43:
                a1 = "G" if a1 != "G" else "C"                 # mismatch (mostly)
            elif u < 0.46:
                a2 = rng.choice(["NA", ".", "", "0", a1])     # invalid alleles
            if rng.random() < 0.2:
                a1 = a1.lower()
            se = rng.uniform(0.01, 0.1)
            beta = rng.normal(0, 1) * se
            p = 2 * special.ndtr(-abs(beta / se))
            n_ = 1000.0 * (s + 1)
            v = rng.random()
            if v < 0.02:
                beta = np.nan
            elif v < 0.04:
                se = rng.choice([0.0, -1.0, np.inf])
            elif v < 0.05:
                se = 1e-30
            elif v < 0.06:
                beta = 1e30
            elif v < 0.07:
                p = rng.choice([0.0, 1.5])
            elif v < 0.08:
                n_ = rng.choice([0.0, -5.0, 1e60])
            freq = rng.choice([np.nan, round(rng.uniform(0.01, 0.99), 3),
                               round(rng.uniform(0.41, 0.59), 3),
                               round(rng.uniform(0.01, 0.2), 3)])
            snp = ids[i] if rng.random() > 0.01 else ""
            rows.append((snp, a1, a2, freq, beta, se, p, n_))
        # repeated ids: a copy later in the file (sometimes of a row that is dropped)
        for j in rng.integers(0, len(rows), 15):
            r = list(rows[j])
            r[4] = 0.5 if rng.random() < 0.5 else np.nan
            rows.append(tuple(r))
        frames.append(pd.DataFrame(rows, columns=["SNP", "A1", "A2", "EAF", "BETA", "SE",
                                                  "P", "N"]))
    return frames


def _reference(frames, scheme, maf_max, keep, with_freq):
    """The index stage's results, row by row in plain Python."""
    refs, out = {}, []
    for fr_ in frames:
        n = len(fr_)
        reason = [None] * n
        rgid = [-1] * n
        for i, r in enumerate(fr_.itertuples(index=False)):
            a1 = str(r.A1).strip().upper() if isinstance(r.A1, str) else ""
            a2 = str(r.A2).strip().upper() if isinstance(r.A2, str) else ""
            f = r.EAF if with_freq else np.nan
            if scheme == "stderr":
                valid = math.isfinite(r.BETA) and math.isfinite(r.SE) and r.SE > 0
                inrange = SE_MIN <= r.SE <= VALUE_MAX and abs(r.BETA) <= VALUE_MAX
            else:
                valid = (math.isfinite(r.BETA) and 0 < r.P <= 1 and math.isfinite(r.N)
                         and r.N > 0)
                inrange = SE_MIN ** 2 <= r.N <= VALUE_MAX ** 2
            pal = complement(a1) is not None and complement(a1) == a2
            if not valid:
                reason[i] = "invalid_value"
            elif not inrange:
                reason[i] = "out_of_range"
            elif not isinstance(r.SNP, str) or r.SNP == "":
                reason[i] = "missing_id"
            elif a1 in _NA or a2 in _NA or a1 == a2:
                reason[i] = "invalid_alleles"
            elif not keep and pal and not (math.isfinite(f) and min(f, 1 - f) < maf_max):
                reason[i] = "strand_ambiguous"
        seen, chi2 = set(), []
        for i, r in enumerate(fr_.itertuples(index=False)):
            if reason[i] is None:
                if r.SNP in seen:
                    reason[i] = "duplicate"
                    continue
                seen.add(r.SNP)
                chi2.append((r.BETA / r.SE) ** 2 if scheme == "stderr"
                            else special.chdtri(1.0, r.P))
        gid, sign = np.full(n, -1), np.zeros(n, dtype=int)
        counts = dict.fromkeys(["new", "swapped", "strand_flipped", "palindromic_aligned"], 0)
        for i, r in enumerate(fr_.itertuples(index=False)):
            if reason[i] is not None:
                continue
            a1, a2 = r.A1.strip().upper(), r.A2.strip().upper()
            f = r.EAF if with_freq else np.nan
            if r.SNP not in refs:
                refs[r.SNP] = (len(refs), a1, a2, f)
                gid[i], sign[i] = len(refs) - 1, 1
                counts["new"] += 1
            else:
                g, r1, r2, fr = refs[r.SNP]
                s, st, strand = _align_one(a1, a2, r1, r2, f, fr, maf_max, keep)
                if st != OK:
                    reason[i] = "allele_mismatch" if st == MISMATCH else "strand_ambiguous"
                    rgid[i] = g
                    continue
                gid[i], sign[i] = g, s
                counts["swapped"] += s < 0
                counts["strand_flipped"] += strand
            counts["palindromic_aligned"] += complement(a1) == a2
        drops = {k: [i for i in range(n) if reason[i] == k] for k in DROP_ORDER}
        stats = {"read": n, "used": int((gid >= 0).sum()), **counts,
                 **{k: len(v) for k, v in drops.items()},
                 "lambda": float(np.median(chi2) / CHI2_1_MEDIAN) if chi2 else np.nan,
                 "lambda_variants": len(chi2)}
        out.append((gid, sign, drops, {k: [rgid[i] for i in v] for k, v in drops.items()},
                    stats))
    return out


@pytest.mark.parametrize("scheme, keep, with_freq, many", [
    ("stderr", False, True, False), ("stderr", False, False, False),
    ("stderr", True, True, False), ("samplesize", False, True, False),
    ("stderr", False, True, True), ("stderr", True, True, True)])
def test_worker_side_rules_agree_with_the_rules_row_by_row(tmp_path, scheme, keep, with_freq,
                                                           many):
    rng = np.random.default_rng(7)
    frames = _studies(rng, many_alleles=many)
    paths = []
    for j, f in enumerate(frames):
        p = tmp_path / f"s{j}.tsv"
        f.to_csv(p, sep="\t", index=False, na_rep="NA")
        paths.append(str(p))
    expect = _reference(frames, scheme, 0.4, keep, with_freq)
    required = ("snp", "a1", "a2", "beta") + (("se",) if scheme == "stderr" else ("pvalue", "n"))
    text = [pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False) for p in paths]
    state = MergeState(AlleleTable(), with_freq=with_freq)
    for j, p in enumerate(paths):
        info = sniff(p)
        cols = resolve_columns(info["fields"], p, required=required, optional=("freq",))
        if not with_freq:
            cols.pop("freq")
        # the rules run where the study is read (prepare=None: the default options)
        prep = {"maf_max": 0.4, "keep_ambiguous": keep} if keep or j % 2 else None
        r = scan_study(p, j, cols, info, str(tmp_path / f"study{j}"), scheme=scheme,
                       prepare=prep)
        assert r["store"].prepared["options"] == (scheme, 0.4, keep)
        with pytest.raises(ValueError, match="not scanned with the options"):
            index_study(state, r["store"], j, scheme=scheme, maf_max=0.3, keep_ambiguous=keep)
        gid, sign, drops, ref_gid, stats = index_study(state, r["store"], j, scheme=scheme,
                                                       maf_max=0.4, keep_ambiguous=keep)
        egid, esign, edrops, eref, estats = expect[j]
        estats = dict(estats)
        np.testing.assert_array_equal(gid, egid, err_msg=f"study {j}")
        np.testing.assert_array_equal(sign, esign, err_msg=f"study {j}")
        assert list(drops) == list(DROP_ORDER)
        for k in DROP_ORDER:
            assert drops[k].tolist() == edrops[k], (j, k)
            assert ref_gid[k].tolist() == eref[k], (j, k)
            # the alleles of every dropped row, as read (for the log of dropped rows)
            a1, a2 = row_alleles(r["store"], drops[k])
            local = np.array(r["store"].alleles, dtype=object)
            raw = text[j].iloc[drops[k]]
            assert local[a1].tolist() == raw.A1.str.strip().str.upper().tolist(), (j, k)
            assert local[a2].tolist() == raw.A2.str.strip().str.upper().tolist(), (j, k)
        lam = stats.pop("lambda")
        assert lam == pytest.approx(estats.pop("lambda"), rel=1e-14)
        assert not stats.pop("lambda_implausible")
        assert stats == estats, j
    # every reason occurs somewhere
    seen = {k for e in expect for k in DROP_ORDER if e[4][k]}
    assert seen >= set(DROP_ORDER) - ({"strand_ambiguous"} if keep else set()) - \
        ({"out_of_range"} if scheme == "samplesize" else set())


def test_variant_index_guesses_from_file_order():
    """Keys in nearly the same order as the index (the usual case) take the guessing
    path, shuffled ones the hash table alone: the same gids either way."""
    rng = np.random.default_rng(3)
    base = rng.permutation(np.unique(rng.integers(1, 2 ** 64 - 1, 30_000, dtype=np.uint64)))
    v = VariantIndex()
    v.add(base[:20_000])
    v.add(base[20_000:25_000])
    new = base[25_000:]
    # a later study: most variants in order, some missing, some new ones in between
    keep = base[:25_000][rng.random(25_000) < 0.9]
    study = np.insert(keep, rng.integers(0, keep.size, new.size), new)
    study = np.insert(study, [0, 100, 5000], np.uint64(0))       # rows without an id
    truth = {int(k): i for i, k in enumerate(base[:25_000])}
    for q in (study, rng.permutation(study), study[::-1], study[:300]):
        expect = np.array([truth.get(int(k), -1) for k in q])
        np.testing.assert_array_equal(v.lookup(q), expect)
        np.testing.assert_array_equal(v.table.lookup(q), expect)


@pytest.mark.parametrize("n", [7, 50_000, 120_001, 300_000])
def test_median_by_selection_is_numpys(n):
    rng = np.random.default_rng(n)
    for kind in ("chi2", "ties", "nan", "constant", "sorted", "inf"):
        x = rng.chisquare(1, n)
        if kind == "ties":
            x = np.round(x, 1)
        elif kind == "nan":
            x[rng.integers(0, n)] = np.nan
        elif kind == "constant":
            x[:] = 3.0
        elif kind == "sorted":
            x = np.sort(x)[::-1].copy()
        elif kind == "inf":
            x[: n // 3] = np.inf
        got, want = median(x.copy()), float(np.median(x))
        assert got == want or (np.isnan(got) and np.isnan(want)), kind


def test_chunk_rows_of_the_sorted_map_are_a_brute_force_selection():
    """The compact map (a bit per gid, signed rows in order of gid) gives, for any
    range of gids, the rows, positions and signs of a scan of every row."""
    from metamodels.batch.merge import chunk_rows, sorted_map

    rng = np.random.default_rng(11)
    for n_rows, n_var in [(0, 10), (1, 1), (37, 50), (1000, 3000), (5000, 5003), (300, 300)]:
        gid = np.full(n_rows, -1, dtype=np.int32)
        take = rng.random(n_rows) < 0.8
        gid[take] = rng.choice(n_var, int(take.sum()), replace=False)
        sign = np.where(rng.random(n_rows) < 0.5, -1, 1).astype(np.int8)
        # a later study: its new variants (gids from first_new on) follow the rows
        first_new = n_var // 2
        new = np.flatnonzero(gid >= first_new)
        gid[new] = np.sort(gid[new])
        smap = sorted_map(gid, sign)
        for other in (sorted_map(gid, sign, first_new), sorted_map(gid, sign, n_var)):
            for a, b in zip(smap, other):
                np.testing.assert_array_equal(a, b)
        cuts = sorted({0, n_var, n_var + 9, *rng.integers(0, n_var + 1, 12).tolist()})
        for c0, c1 in zip(cuts[:-1], cuts[1:]):
            rows, loc, sg = chunk_rows(smap, c0, c1)
            expect = np.flatnonzero((gid >= c0) & (gid < c1))
            expect = expect[np.argsort(gid[expect], kind="stable")]
            np.testing.assert_array_equal(rows, expect)
            np.testing.assert_array_equal(loc, gid[expect] - c0)
            np.testing.assert_array_equal(sg, sign[expect])


@pytest.mark.parametrize("n", [1, 2, 3, 3999, 4001, 4002, 20001, 150_000])
def test_sample_size_lambda_from_a_band_equals_the_full_computation(n):
    """The sample-size scheme's lambda takes chdtri(1, p) of a band of p-values around
    the median only: the same value (and flag) as the median of all of them, with
    ties, skewed and implausible p-values (those take the full computation)."""
    from metamodels.batch.prepare import study_lambda

    rng = np.random.default_rng(n)
    for p in (rng.uniform(0, 1, n), np.maximum(np.round(rng.uniform(0, 1, n), 3), 1e-3),
              rng.beta(0.5, 1, n), rng.uniform(0, 1, n) ** 3, 10 ** -rng.uniform(0, 300, n)):
        alive = rng.random(n) < 0.9
        alive[0] = True
        got = study_lambda(p, alive, "samplesize")
        expect = gc_lambda(special.chdtri(1.0, p[alive]))
        assert got == expect or (np.isnan(got[0]) and np.isnan(expect[0]))
