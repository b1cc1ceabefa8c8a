"""Reading summary-statistics files: the byte-level field cutter, the block reader, and
the stores of the pandas and pyarrow parsers."""
import gzip
import os
import re

import numpy as np
import pandas as pd
import pytest

from metamodels.batch import sumstats
from metamodels.batch.fields import WINDOW, extract_field
from metamodels.batch.gwas import meta_analyze_files


def _reference(block, index, sep):
    """extract_field's rules written out line by line in Python."""
    values = []
    for line in block.split(b"\n")[:-1]:                 # text after the last \n ignored
        if line.endswith(b"\r"):
            line = line[:-1]
        if sep == r"\s+":
            line = line.strip(b" \t\r")
            if not line:
                continue
            parts = re.split(rb"[ \t\r]+", line)
        else:
            if not line:
                continue
            parts = line.split(sep.encode())
        if len(parts) <= index:
            return None
        values.append(parts[index])
    width = max([len(v) for v in values] + [1])
    return np.array(values, dtype=f"S{width}")


def _random_block(rng, sep, n_lines, p_short):
    alphabet = np.frombuffer(b"abcXYZ019:_.-", dtype=np.uint8)
    lines = []
    for _ in range(n_lines):
        kind = rng.random()
        if kind < 0.05:
            lines.append(b"")                                        # blank line
            continue
        if kind < 0.08 and sep == r"\s+":
            lines.append(b" \t " * int(rng.integers(1, 3)))          # blank (spaces)
            continue
        n_fields = int(rng.integers(1, 7)) if rng.random() < p_short else 6
        # mostly short fields, some longer than the search window, some empty
        lens = np.where(rng.random(n_fields) < 0.1,
                        rng.integers(WINDOW - 2, 3 * WINDOW + 3, n_fields),
                        rng.integers(0 if sep != r"\s+" else 1, 12, n_fields))
        fields = [alphabet[rng.integers(0, alphabet.size, k)].tobytes() for k in lens]
        if sep == r"\s+":
            seps = [(b" ", b"\t")[int(rng.integers(0, 2))] * int(rng.integers(1, 4))
                    for _ in fields[1:]]
            line = b" " * int(rng.integers(0, 3)) + fields[0]
            for s, f in zip(seps, fields[1:]):
                line += s + f
            line += b" " * int(rng.integers(0, 2))
        else:
            line = sep.encode().join(fields)
        lines.append(line)
    eol = [b"\r\n" if rng.random() < 0.3 else b"\n" for _ in lines]
    block = b"".join(line + e for line, e in zip(lines, eol))
    if rng.random() < 0.3:
        block += b"tail without newline"
    return block


@pytest.mark.parametrize("sep", ["\t", ",", r"\s+"])
def test_extract_field_matches_reference_rules(sep):
    """Random lines: every separator, CRLF, blank lines, short lines (-> None), empty
    fields and fields longer than the search window; the last line ends the block
    (no padding after it)."""
    rng = np.random.default_rng(7)
    checked = nones = 0
    for trial in range(60):
        block = _random_block(rng, sep, int(rng.integers(1, 300)),
                              0.0 if trial % 2 else 0.01)     # short lines
        for index in range(5):
            want = _reference(block, index, sep)
            got = extract_field(block, index, sep)
            if want is None:
                assert got is None
                nones += 1
                continue
            assert got is not None and got.dtype == want.dtype
            assert np.array_equal(got, want)
            checked += 1
    assert checked > 100 and nones > 20


def test_extract_field_edges():
    assert extract_field(b'rs1\t"A"\n', 0, "\t") is None               # quotes
    assert list(extract_field(b"\n\r\nrs1\n", 0, "\t")) == [b"rs1"]
    assert list(extract_field(b"x" * 100 + b"\n", 0, "\t")) == [b"x" * 100]
    assert extract_field(b"no newline", 0, "\t").size == 0
    assert list(extract_field(b"a,b\n,\n", 1, ",")) == [b"b", b""]
    long = extract_field(b"a\t" + b"y" * 40 + b"\tz\nb\tq\tz\n", 1, "\t")
    assert long.dtype == np.dtype("S40") and list(long) == [b"y" * 40, b"q"]


@pytest.mark.parametrize("gz", [False, True])
def test_line_blocks_reassemble_the_file(tmp_path, gz):
    """Blocks are whole lines, in order, with nothing lost or repeated: lines longer
    than a block's buffer and a last line without newline included."""
    rng = np.random.default_rng(1)
    lines = [b"SNP\tBETA"]
    for i in range(20000):
        width = 150_000 if i == 7000 else int(rng.integers(1, 30))
        lines.append(b"rs%d\t" % i + b"7" * width)
    data = b"\n".join(lines)                                 # no final newline
    path = tmp_path / ("f.tsv.gz" if gz else "f.tsv")
    path.write_bytes(gzip.compress(data) if gz else data)
    info = sumstats.sniff(str(path))
    blocks = list(sumstats._line_blocks(str(path), info, 1000))
    assert len(blocks) > 5 and all(b.endswith(b"\n") for b in blocks)
    assert b"".join(blocks) == b"\n".join(lines[1:]) + b"\n"


def _study_text(rng, n):
    """A study with NA markers, mixed-case alleles (new ones late in the file), long
    ids, CRLF and blank lines."""
    out = ["SNP\tCHR\tA1\tA2\tEAF\tBETA\tSE\tP\tN"]
    alle = np.array(["A", "C", "G", "T", "a", "t"])
    for i in range(n):
        a1, a2 = rng.choice(alle, 2, replace=False)
        if i > n - 50:
            a1 = "AGT"                                               # a late allele
        beta = "NA" if i % 101 == 0 else f"{rng.normal(0, 0.05):.6g}"
        sid = f"rs{i}" if i % 13 else f"chr1:{i}:{a1}:{a2}_long_identifier_{i}"
        out.append(f"{sid}\t1\t{a1}\t{a2}\t{rng.uniform():.4f}\t{beta}\t"
                   f"{rng.uniform(0.01, 0.1):.5g}\t{rng.uniform():.4g}\t{1000 + i}")
    return "\r\n".join(out[:300]) + "\r\n\n" + "\n".join(out[300:]) + "\n"


def _store_bytes(path, directory, monkeypatch, backend):
    monkeypatch.setenv("METAMODELS_CSV", backend)
    info = sumstats.sniff(str(path))
    cols = sumstats.resolve_columns(info["fields"], str(path))
    r = sumstats.scan_study(str(path), 0, cols, info, str(directory), chunk_size=700)
    files = {f: (directory / f).read_bytes() for f in sorted(os.listdir(directory))}
    st = r["store"]
    return files, st.alleles, st.id_blocks, st.n_rows


def test_pandas_and_arrow_stores_identical(tmp_path, monkeypatch):
    """Both parsers write the same bytes to every column of the store, with the same
    allele list and id blocks (the allele list does not depend on the order in which
    a parser lists a block's categories)."""
    pytest.importorskip("pyarrow.csv")
    path = tmp_path / "s.tsv"
    path.write_text(_study_text(np.random.default_rng(5), 5000))
    got = {b: _store_bytes(path, tmp_path / b, monkeypatch, b) for b in ("pandas", "arrow")}
    assert got["pandas"][3] == 5000 and len(got["pandas"][2]) > 2
    assert got["pandas"] == got["arrow"]
    assert set(got["pandas"][0]) >= {"p_key.bin", "p_a1.bin", "beta.bin", "ids.bin", "n.bin"}


def test_local_allele_codes_ignore_category_order():
    from metamodels.batch.sumstats import _local_codes

    from metamodels.batch.prepare import local_alleles

    values = ["G", "a", "T", None, "a", "c"]
    out = []
    for cats in (["G", "T", "a", "c"], ["c", "a", "T", "G"]):
        local, alleles, comp = {}, [], []
        s = pd.Series(pd.Categorical(values, categories=cats))
        codes = _local_codes(s, local, alleles, comp)
        out.append((list(codes), alleles, comp))
    assert out[0] == out[1]
    assert out[0][1] == ["A", "C", "G", "T", ""]
    assert [out[0][1][c] for c in out[0][0]] == ["G", "A", "T", "", "A", "C"]
    # complements kept up to date as alleles arrive, block by block, in any order
    local, alleles, comp = {}, [], []
    for block in (["A", "AG", "NA"], ["CT", "T", "."], ["G", "TA", "C"]):
        _local_codes(pd.Series(block), local, alleles, comp)
        assert comp == local_alleles(alleles)[1].tolist()
    assert alleles[comp[alleles.index("AG")]] == "CT"


def test_stderr_run_does_not_read_the_p_column(tmp_path):
    """The p-value column is read only by the sample-size scheme: a stderr run of files
    whose P is not numeric gives the output of the same files without it."""
    rng = np.random.default_rng(2)
    lines = [ln.split("\t") for ln in _study_text(rng, 400).split("\n") if ln.strip()]
    garbage = "\n".join("\t".join(f[:7] + [f[7] if i == 0 else "not-a-p"] + f[8:])
                        for i, f in enumerate(lines)) + "\n"
    nop = "\n".join("\t".join(f[:7] + f[8:]) for f in lines) + "\n"
    outs = []
    for name, body in (("garbage", garbage), ("nop", nop)):
        paths = []
        for j in range(2):
            p = tmp_path / f"{name}{j}.tsv"
            p.write_text(body)
            paths.append(str(p))
        out = tmp_path / f"{name}.tsv"
        meta_analyze_files(paths, str(out), methods="FE", jobs=1)
        outs.append(out.read_text())
    assert outs[0] == outs[1] and len(outs[0].splitlines()) > 300
    with pytest.raises(sumstats.GWASInputError, match="not-a-p"):
        meta_analyze_files([str(tmp_path / "garbage0.tsv"), str(tmp_path / "garbage1.tsv")],
                           str(tmp_path / "ss.tsv"), scheme="samplesize", jobs=1)
