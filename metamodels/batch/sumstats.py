"""Reading GWAS summary-statistics files: format sniffing, columns, streaming scan.

A file is read once, a block of rows at a time (memory bounded by the block, not the
file), by :func:`scan_study`, which can run in a worker process.  The variant ids are
cut out of the raw text with numpy (:func:`extract_field`: no Python string per
row), the other columns are parsed by pandas' C reader.  The numeric columns go in
file order to binary files in a scratch directory (:class:`StudyStore`), the ids in
fixed-width blocks; the 64-bit hashes of the ids and the allele codes stay in memory
(11 bytes a row) until the study's own rules have kept the rows that enter the
alignment (:mod:`.prepare`, which saves them); the alignment and the meta-analysis
then read back only what each chunk of variants needs.
"""
from __future__ import annotations

import gzip
import os
import re
import zlib
from dataclasses import dataclass, field

import numpy as np

from .._warning_base import MetaModelsWarning
from .fields import extract_field, fixed_width

try:                                    # optional extra metamodels[fast]: ISA-L's gzip
    from isal import igzip as _igzip
    from isal.isal_zlib import error as _IsalError
except ImportError:                     # pragma: no cover - depends on the environment
    _igzip, _IsalError = None, zlib.error

__all__ = ["GWASInputError", "GWASWarning", "COLUMN_ALIASES", "sniff", "resolve_columns",
           "scan_study", "StudyStore", "hash_ids", "read_chunks", "extract_field", "to_bytes",
           "gzip_backend", "gzip_open", "gzip_compress", "compress_backend", "csv_backend"]

#: Accepted column names (compared upper-case, without non-alphanumerics), by field.
COLUMN_ALIASES = {
    "snp": ("SNP", "MARKERNAME", "RSID", "ID", "SNPID", "RS", "RSNUMBER", "MARKER",
            "VARIANTID", "VARIANT", "MARKERID", "RSIDS"),
    "a1": ("A1", "EA", "ALLELE1", "EFFECTALLELE", "TESTEDALLELE", "RISKALLELE", "INCALLELE",
           "CODEDALLELE", "EFFECTALLELE1"),
    "a2": ("A2", "NEA", "ALLELE2", "OTHERALLELE", "NONEFFECTALLELE", "OA", "DECALLELE",
           "NONCODEDALLELE", "OTHERALLELE1"),
    "beta": ("BETA", "EFFECT", "B", "LOGOR", "ES", "EFFECTSIZE", "BETA1", "EFFECTBETA"),
    "se": ("SE", "STDERR", "STANDARDERROR", "SEBETA", "STDERRLOGOR", "SEEFFECT", "SEB",
           "STDERRBETA"),
    "pvalue": ("P", "PVAL", "PVALUE", "PVALUES", "PV", "PVALNOMINAL", "PWALD"),
    "n": ("N", "NTOTAL", "SAMPLESIZE", "TOTALSAMPLESIZE", "WEIGHT", "OBSCT", "NEFF",
          "NSAMPLES", "NOBS"),
    "freq": ("EAF", "FREQ", "FREQ1", "FRQ", "AF", "A1FREQ", "A1FRQ", "EFFECTALLELEFREQ",
             "EFFECTALLELEFREQUENCY", "FREQA1", "AF1", "FREQEFFECT", "FRQA1"),
}
FIELD_LABELS = {"snp": "--snp", "a1": "--a1", "a2": "--a2", "beta": "--beta", "se": "--se",
                "pvalue": "--pvalue", "n": "--n", "freq": "--freq"}
#: Errors of reading a (possibly gzipped) file: I/O, truncated or corrupt gzip data.
_READ_ERRORS = (OSError, EOFError, zlib.error, _IsalError)
_NA = ["", "NA", "N/A", "NaN", "nan", "NAN", ".", "-nan", "null", "NULL", "None", "-"]
#: Numeric columns and their dtype in the store.
NUMERIC = ("beta", "se", "pvalue", "n", "freq")
#: Rows parsed at a time by :func:`scan_study` (at most; smaller blocks parse as fast
#: and keep the reading processes small).
READ_BLOCK_ROWS = 200_000
#: Bytes that pyarrow's CSV reader parses at a time within a block (its buffers then
#: stay in the CPU caches: about a fifth faster than one piece per block).
ARROW_BLOCK_BYTES = 1 << 18


class GWASInputError(ValueError):
    """A problem with an input file (missing column, unreadable value, ...)."""


class GWASWarning(MetaModelsWarning):
    """Something in the GWAS inputs deserves attention (rows dropped as out of range,
    a study with no usable row, an implausible genomic-control lambda); the command
    line prints it as ``metamodels: warning: ...``."""


def _norm(name):
    return re.sub(r"[^0-9A-Z]", "", str(name).upper())


def gzip_backend():
    """``"isal"`` when ISA-L's gzip (``pip install metamodels[fast]``, package ``isal``)
    is installed and the environment variable ``METAMODELS_GZIP`` is not ``zlib``;
    otherwise ``"zlib"`` (the standard library).  Both decompress to the same bytes;
    ISA-L takes about a third of zlib's CPU time, a quarter of reading a file."""
    if _igzip is not None and os.environ.get("METAMODELS_GZIP", "").lower() != "zlib":
        return "isal"
    return "zlib"


def csv_backend(sep):
    """The parser of the numeric and allele columns of a file with separator ``sep``:
    ``"arrow"`` (pyarrow's CSV reader, ``pip install 'metamodels[arrow]'``) for a tab
    or comma separated file when pyarrow is installed and the environment variable
    ``METAMODELS_CSV`` is not ``pandas``; otherwise ``"pandas"`` (its C reader).  Both
    give the same values; a block that pyarrow cannot parse goes to pandas, whose
    error messages name the row and column."""
    if sep in ("\t", ",") and os.environ.get("METAMODELS_CSV", "").lower() != "pandas":
        try:
            import pyarrow.csv  # noqa: F401
        except ImportError:
            return "pandas"
        return "arrow"
    return "pandas"


def gzip_open(path):
    """A gzipped file opened for reading bytes with :func:`gzip_backend`."""
    if gzip_backend() == "isal":
        return _igzip.open(path, "rb")
    return gzip.open(path, "rb")


#: Highest ``--compress-level`` that ISA-L writes (its levels are 0-3, each faster than
#: zlib's level 1 at about the same size); higher levels use zlib.
ISAL_MAX_LEVEL = 3


def gzip_compress(data, level=1):
    """One gzip member of ``data`` (``mtime=0``: the bytes depend only on the content
    and the backend): ISA-L at ``level <= 3`` when :func:`gzip_backend` is ``"isal"``
    (about a third of zlib's CPU time at level 1, same or smaller output), else
    zlib.  Either decompresses to ``data``."""
    if compress_backend(level) == "isal":
        return _igzip.compress(data, max(int(level), 0), mtime=0)
    return gzip.compress(data, level, mtime=0)


def compress_backend(level):
    """The library :func:`gzip_compress` uses at ``level``: ``"isal"`` or ``"zlib"``."""
    return "isal" if level <= ISAL_MAX_LEVEL and gzip_backend() == "isal" else "zlib"


def _open_binary(path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip_open(path), "gzip"
    return open(path, "rb"), None


def sniff(path):
    """Compression, separator, header fields and lines to skip of a text table.

    Leading ``##`` lines are skipped; a leading ``#`` of the header is dropped.  The
    separator is a tab if the header has one, else a comma if it has one, else runs
    of whitespace.

    Returns
    -------
    dict with ``compression`` (``"gzip"`` or None), ``sep`` (``"\\t"``, ``","`` or
    ``r"\\s+"``), ``sep_name``, ``fields`` (list of str) and ``skiprows`` (int).

    Raises
    ------
    GWASInputError
        The file is missing, unreadable, not valid gzip, empty or has no data row
        after its header.
    """
    if not os.path.exists(path):
        raise GWASInputError(f"file not found: {path}")
    if os.path.isdir(path):
        raise GWASInputError(f"{path} is a directory, not a data file")
    fh, compression = _open_binary(path)
    skip = 0
    try:
        with fh:
            while True:
                line = fh.readline()
                if not line:
                    raise GWASInputError(f"{path}: no header line")
                text = line.decode("utf-8", errors="replace").rstrip("\r\n")
                if text.startswith("##") or not text.strip():
                    skip += 1
                    continue
                break
            while True:                                    # the first data row
                line = fh.readline()
                if not line:
                    raise GWASInputError(f"{path}: no data rows (only a header line)")
                if line.strip():
                    break
    except _READ_ERRORS as exc:
        raise GWASInputError(f"cannot read {path}: {_first_line(exc)}") from exc
    header = text[1:] if text.startswith("#") else text
    if "\t" in header:
        sep, sep_name, fields = "\t", "tab", header.split("\t")
    elif "," in header:
        sep, sep_name, fields = ",", "comma", header.split(",")
    else:
        sep, sep_name, fields = r"\s+", "whitespace", header.split()
    fields = [f.strip() for f in fields]
    return {"compression": compression, "sep": sep, "sep_name": sep_name, "fields": fields,
            "skiprows": skip}


def resolve_columns(fields, path, overrides=None, required=("snp", "a1", "a2", "beta", "se"),
                    optional=("pvalue", "n", "freq")):
    """Map the fields (``snp``, ``a1``, ...) to column names of a file.

    ``overrides`` (field -> column name, e.g. from ``--beta``) take precedence;
    otherwise the first name of :data:`COLUMN_ALIASES` present in the header
    (case-insensitive, ignoring ``_``, ``-``, ``.``) is used.  A required field that
    cannot be found raises :class:`GWASInputError`; optional ones are left out.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    byname = {}
    for f in fields:
        byname.setdefault(_norm(f), f)
    out = {}
    for key in tuple(required) + tuple(optional):
        if key in overrides:
            col = overrides[key]
            if col not in fields:
                cand = byname.get(_norm(col))
                if cand is None:
                    raise GWASInputError(
                        f"{FIELD_LABELS[key]}: column {col!r} not found in {path} "
                        f"(columns: {', '.join(fields)})")
                col = cand
            out[key] = col
            continue
        for alias in COLUMN_ALIASES[key]:
            if alias in byname:
                out[key] = byname[alias]
                break
        else:
            if key in required:
                raise GWASInputError(
                    f"{path}: no column for {key} (tried {', '.join(COLUMN_ALIASES[key])}; "
                    f"name it with {FIELD_LABELS[key]}); columns: {', '.join(fields)}")
    return out


def _unique_names(fields):
    seen, out = set(), []
    for i, n in enumerate(fields):
        out.append(n if n not in seen else f"{n}.{i}")
        seen.add(n)
    return out


def _read_into(fh, view, piece=1 << 20):
    """Fill ``view`` from ``fh`` (short only at the end of the file), a MB at a time
    (a little cheaper than one read per block); returns the bytes read."""
    done = 0
    while done < len(view):
        got = fh.readinto(view[done:done + piece])
        if not got:
            break
        done += got
    return done


def _line_blocks(path, info, chunk_size):
    """Blocks of whole data lines (bytes) of about ``chunk_size`` rows each.

    The file is read into one reused buffer (the partial line at the end of a block
    moves to its front), so a block costs one copy of its bytes."""
    fh = gzip_open(path) if info["compression"] == "gzip" else open(path, "rb")
    with fh:
        for _ in range(info["skiprows"] + 1):
            fh.readline()
        head = fh.read(1 << 16)
        nl = head.count(b"\n")
        avg = len(head) / nl if nl else 64.0
        target = max(int(chunk_size * avg), 1 << 16)
        buf = bytearray(target + len(head))
        buf[:len(head)] = head
        filled = len(head)
        while True:
            if len(buf) - filled < target // 2:         # a line longer than the rest
                buf.extend(bytes(target))
            with memoryview(buf) as mv:
                got = _read_into(fh, mv[filled:filled + target])
                filled += got
                if not got:
                    block = bytes(mv[:filled])
                    if block.strip():
                        yield block if block.endswith(b"\n") else block + b"\n"
                    return
                cut = buf.rfind(b"\n", 0, filled) + 1
                if cut == 0:
                    continue
                block = bytes(mv[:cut])
            buf[:filled - cut] = buf[cut:filled]
            filled -= cut
            yield block


def read_chunks(path, info, columns, chunk_size):
    """Iterate over ``(ids, frame)`` for blocks of about ``chunk_size`` rows.

    ``ids`` is the variant-id column as a fixed-width bytes array (cut out of the
    raw text with :func:`extract_field`); ``frame`` has the other fields of
    ``columns`` (renamed to the field names; alleles as str, numbers as float64), as
    parsed by pandas' C reader.
    """
    import io

    import pandas as pd

    names = _unique_names(info["fields"])
    snp = columns["snp"]
    pos = info["fields"].index(snp)
    rename = {}
    for k, c in columns.items():
        if k != "snp":
            rename.setdefault(c, []).append(k)

    def parse(block, cols):
        # alleles as categories: pandas' parser codes them without a string per row
        dtype = {c: "category" for k, c in columns.items() if k in ("a1", "a2")}
        dtype[snp] = str
        dtype.update({c: np.float64 for k, c in columns.items() if k in NUMERIC})
        na = {c: _NA for k, c in columns.items() if k in NUMERIC}
        # low_memory: the tokenizer works on 64k-line pieces that stay in the CPU
        # caches (a third less CPU than one piece per block; the same values)
        return pd.read_csv(io.BytesIO(block), sep=info["sep"], header=None, names=names,
                           usecols=cols, dtype={c: dtype[c] for c in cols},
                           keep_default_na=False, na_values={c: na[c] for c in cols if c in na},
                           engine="c", low_memory=True)

    other = list(rename)
    arrow = _ArrowParser(names, columns, info["sep"]) \
        if csv_backend(info["sep"]) == "arrow" else None
    rows0 = 0                                           # data rows before the block
    blocks = _line_blocks(path, info, chunk_size)
    while True:
        try:
            block = next(blocks, None)
        except _READ_ERRORS as exc:
            raise GWASInputError(f"cannot read {path} (after data row {rows0:,}): "
                                 f"{_first_line(exc)}") from exc
        if block is None:
            return
        parsed = arrow.parse(block) if arrow is not None else None
        if parsed is not None:
            ids, df = parsed
            rows0 += len(df)
            yield ids, df
            continue
        try:
            ids = extract_field(block, pos, info["sep"])
            df = parse(block, other if ids is not None else other + [snp])
            if ids is None or len(ids) != len(df):
                if snp not in df:
                    df = parse(block, other + [snp])
                ids = to_bytes(df[snp].to_numpy())
        except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            why = _explain(block, info, columns, rows0) or _first_line(exc)
            raise GWASInputError(f"{path}: {why}") from exc
        rows0 += len(df)
        yield ids, pd.DataFrame({k: df[c] for c, ks in rename.items() for k in ks})


class _ArrowParser:
    """Blocks of lines parsed by pyarrow's CSV reader (one thread: the studies are read
    in parallel processes) into what :func:`read_chunks` yields: the ids as a
    fixed-width bytes array (from the offsets of pyarrow's binary column, no string
    per row), the alleles as categoricals (pyarrow's dictionary encoding), the
    numbers as float64 with NaN for the missing-value markers of the pandas path."""

    def __init__(self, names, columns, sep):
        import pyarrow as pa
        import pyarrow.csv as pcsv

        self.pa, self.pcsv = pa, pcsv
        self.columns = columns
        types = {c: pa.binary() for k, c in columns.items() if k in ("snp", "a1", "a2")}
        types.update({c: pa.float64() for k, c in columns.items() if k in NUMERIC})
        self.parse_options = pcsv.ParseOptions(delimiter=sep)
        self.convert_options = pcsv.ConvertOptions(
            include_columns=list(dict.fromkeys(columns.values())), column_types=types,
            null_values=_NA, strings_can_be_null=False)
        self.names = names

    def parse(self, block):
        """``(ids, frame)`` of a block, or None if pyarrow cannot parse it (the pandas
        path then parses it or says why not)."""
        import pandas as pd

        pa, pcsv = self.pa, self.pcsv
        try:
            table = pcsv.read_csv(
                pa.py_buffer(block),
                read_options=pcsv.ReadOptions(column_names=self.names, use_threads=False,
                                              block_size=ARROW_BLOCK_BYTES),
                parse_options=self.parse_options, convert_options=self.convert_options)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
            return None
        out = {}
        ids = None
        for key, col in self.columns.items():
            values = table.column(col).combine_chunks()
            if key == "snp":
                ids = _binary_to_fixed(values)
            elif key in ("a1", "a2"):
                enc = values.dictionary_encode()
                cats = [v.decode("utf-8", errors="replace") for v in enc.dictionary.to_pylist()]
                codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int32)
                if len(set(cats)) != len(cats):
                    return None
                out[key] = pd.Categorical.from_codes(codes, categories=cats)
            else:
                out[key] = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
        return ids, pd.DataFrame(out, copy=False)


def _binary_to_fixed(values):
    """A pyarrow binary array -> fixed-width numpy bytes array (NUL padded)."""
    n = len(values)
    _, off_buf, data_buf = values.buffers()
    off = np.frombuffer(off_buf, dtype=np.int32)[values.offset:values.offset + n + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None \
        else np.zeros(0, dtype=np.uint8)
    return fixed_width(data, off[:-1].astype(np.int64), np.diff(off))


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _explain(block, info, columns, rows0):
    """Why pandas could not parse a block: the first data row with another number of
    fields than the header, or the first non-numeric value of a numeric column (None
    if neither).  Rows are numbered from the first after the header (blank lines not
    counted); ``rows0`` rows came before the block."""
    fields = info["fields"]
    numeric = [(k, c, fields.index(c)) for k, c in columns.items() if k in NUMERIC]
    na = set(_NA)
    lines = block.decode("utf-8", errors="replace").split("\n")
    row = rows0
    for line in lines:
        line = line.rstrip("\r")
        if not line.strip():
            continue
        row += 1
        parts = line.split() if info["sep"] == r"\s+" else line.split(info["sep"])
        if len(parts) != len(fields):
            return (f"data row {row:,} has {len(parts)} fields, the header has "
                    f"{len(fields)}")
        for key, col, j in numeric:
            value = parts[j].strip()
            if value in na:
                continue
            try:
                float(value)
            except ValueError:
                return (f"data row {row:,}, column {col!r} ({key}): {value!r} is not a "
                        "number")
    return None


def to_bytes(values):
    """Object array of str -> fixed-width bytes array (UTF-8)."""
    values = np.asarray(values, dtype=object)
    try:
        return values.astype("S")
    except (UnicodeEncodeError, ValueError):
        return np.array([str(v).encode("utf-8") for v in values], dtype="S")


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_K = np.uint64(0x9E3779B97F4A7C15)


def _mix(h):
    """splitmix64 finaliser, in place (``h``: a uint64 array; returned)."""
    t = np.empty_like(h)
    with np.errstate(over="ignore"):
        for shift, mult in ((30, _M1), (27, _M2), (31, None)):
            np.right_shift(h, np.uint64(shift), out=t)
            h ^= t
            if mult is not None:
                h *= mult
    return h


def hash_ids(ids):
    """64-bit hashes of a fixed-width bytes array (equal strings -> equal hashes,
    whatever the width of the array).

    The bytes are read as little-endian 64-bit words (NUL padded); each non-zero word
    is folded into the hash with a splitmix64 round.  With ``10^7`` distinct ids the
    chance of any collision is about ``3e-6``.
    """
    ids = np.asarray(ids)
    n = ids.shape[0]
    w = max(ids.dtype.itemsize, 1)
    w8 = -(-w // 8) * 8
    buf = np.ascontiguousarray(ids, dtype=f"S{w8}")
    words = buf.view(np.uint64).reshape(n, w8 // 8)
    h = np.full(n, np.uint64(0x243F6A8885A308D3), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            x = words[:, j]
            folded = _mix(np.multiply(x, _K) ^ h)
            zero = x == 0                        # NUL padding: the hash is unchanged
            if zero.any():
                folded[zero] = h[zero]
            h = folded
    return _mix(h)


@dataclass
class StudyStore:
    """Binary columns of one study in a scratch directory (file order).

    Files ``<field>.bin`` hold the numeric fields (float64) of every row;
    ``ids.bin`` holds the ids in fixed-width blocks described by ``id_blocks``
    (``(first row, rows, width, byte offset)``).  The column ``freq`` is saved
    only when asked for (``--frequencies``).  ``prepared`` holds what
    :func:`.prepare.prepare_study` found; the rows it keeps and drops are in its
    ``p_*`` columns until the study is indexed.
    """

    directory: str
    n_rows: int = 0
    fields: tuple = ()
    alleles: list = field(default_factory=list)
    id_blocks: list = field(default_factory=list)
    prepared: dict = field(default_factory=dict)

    DTYPES = {"beta": np.float64, "se": np.float64, "pvalue": np.float64, "n": np.float64,
              "freq": np.float64}

    def path(self, name):
        return os.path.join(self.directory, f"{name}.bin")

    def load(self, name):
        """Whole column ``name`` as an array."""
        return np.fromfile(self.path(name), dtype=self.DTYPES[name])

    def take(self, name, rows):
        """Values of column ``name`` at ``rows`` (a memory map is opened and closed, so
        only the pages touched are read; mostly ascending rows read them in order)."""
        if len(rows) == 0:
            return np.empty(0, dtype=self.DTYPES[name])
        mm = np.memmap(self.path(name), dtype=self.DTYPES[name], mode="r")
        try:
            return mm.view(np.ndarray).take(rows)        # one copy
        finally:
            del mm

    def save(self, name, values):
        np.asarray(values, dtype=self.DTYPES[name]).tofile(self.path(name))

    def ids(self, rows):
        """The ids (bytes array) at ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.empty(0, dtype="S1")
        path = os.path.join(self.directory, "ids.bin")
        starts = np.array([b[0] for b in self.id_blocks], dtype=np.int64)
        which = np.searchsorted(starts, rows, side="right") - 1
        blocks = np.unique(which)
        width = max(self.id_blocks[b][2] for b in blocks)
        out = np.empty(rows.size, dtype=f"S{width}")
        for b in blocks:
            r0, nr, w, off = self.id_blocks[b]
            sel = which == b
            mm = np.memmap(path, dtype=f"S{w}", mode="r", offset=off, shape=(nr,))
            out[sel] = mm[rows[sel] - r0]
            del mm
        return out


def scan_study(path, index, columns, info, directory, chunk_size=500_000, scheme="stderr",
               prepare=None):
    """Read one study block by block into a prepared :class:`StudyStore` (worker
    function).

    Blocks have at most ``min(chunk_size, READ_BLOCK_ROWS)`` rows.  The numeric
    columns go to the store as they are read; the id hashes and allele codes stay
    in memory until the rules that depend on this study only have been applied by
    :func:`.prepare.prepare_study` with ``scheme`` and ``prepare`` (a dict of
    ``maf_max`` and ``keep_ambiguous``, defaults 0.4 and False, and ``freq_column``:
    save every row's frequency, default False), which keeps what the alignment
    needs (its time is in the returned ``prepare_seconds``, included in the
    others).

    Returns
    -------
    dict with the store and the reading details (``seconds``, ``cpu_seconds``).
    """
    import time

    from .prepare import lambda_statistic, prepare_study, value_drops

    prepare = {"maf_max": 0.4, "keep_ambiguous": False, **(prepare or {})}
    freq_column = prepare.pop("freq_column", False)
    t0, c0 = time.perf_counter(), time.process_time()
    os.makedirs(directory, exist_ok=True)
    store = StudyStore(directory, fields=tuple(columns))
    local = {}
    alleles, comp = [], []
    names = [f for f in NUMERIC if f in columns]
    handles = {nm: open(store.path(nm), "wb") for nm in names
               if nm != "freq" or freq_column}
    ids_fh = open(os.path.join(directory, "ids.bin"), "wb")
    # kept in memory: per row 19 bytes (id hash, allele codes, value check, statistic
    # of the genomic-control lambda), and the rows and frequencies of the A/T and C/G
    # rows (the only frequencies used)
    keys, a1s, a2s, pal_rows, pal_freq, invalid, out_of_range, good, stats = \
        ([] for _ in range(9))
    n = 0
    offset = 0
    try:
        for ids, df in read_chunks(path, info, columns, min(chunk_size, READ_BLOCK_ROWS)):
            m = len(df)
            w = max(ids.dtype.itemsize, 1)
            ids.tofile(ids_fh)
            store.id_blocks.append((n, m, w, offset))
            offset += m * w
            key = hash_ids(ids)
            key[ids == b""] = 0
            keys.append(key)
            a1 = _local_codes(df["a1"], local, alleles, comp)
            a2 = _local_codes(df["a2"], local, alleles, comp)
            a1s.append(a1)
            a2s.append(a2)
            pal = np.flatnonzero(np.array(comp, dtype=np.int32)[a1] == a2)
            pal_rows.append((pal + n).astype(np.int32))
            cols = {f: np.asarray(df[f].to_numpy(), dtype=np.float64) for f in names}
            for f, fh in handles.items():
                cols[f].tofile(fh)
            if "freq" in cols:
                pal_freq.append(cols["freq"][pal])
            bad, far, ok = value_drops(cols, scheme)
            invalid.append(bad + n)
            out_of_range.append(far + n)
            good.append(ok)
            stats.append(lambda_statistic(cols, scheme))
            n += m
    finally:
        for fh in handles.values():
            fh.close()
        ids_fh.close()
    # the last block's arrays let go before the rules run (their peak memory)
    ids = df = cols = key = a1 = a2 = pal = bad = far = ok = None  # noqa: F841
    store.n_rows = n
    store.alleles = alleles
    t1 = time.process_time()

    def cat(parts, dt):
        """The blocks as one array; the blocks let go at once (memory)."""
        out = np.concatenate(parts) if parts else np.empty(0, dtype=dt)
        parts.clear()
        return out

    prepare_study(store, cat(keys, np.uint64), cat(a1s, np.int32), cat(a2s, np.int32),
                  (cat(invalid, np.int64), cat(out_of_range, np.int64), cat(good, bool)),
                  (cat(pal_rows, np.int32), cat(pal_freq, np.float64) if "freq" in names
                   else None), cat(stats, np.float64), scheme, **prepare)
    return {"store": store, "prepare_seconds": time.process_time() - t1, "path": path,
            "index": index, "columns": columns,
            "sep_name": info["sep_name"], "compression": info["compression"],
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}


def _local_codes(values, local, alleles, comp):
    """Codes of allele strings (a Series, categorical or not) in the study's own list
    (upper-cased, stripped; a missing value is the empty string); ``comp`` (a list
    along ``alleles``) gets the code of each new allele's strand complement, -1 for
    none (as :func:`.prepare.local_alleles` gives it for the whole list)."""
    import pandas as pd

    from .alleles import complement, is_missing

    if isinstance(values.dtype, pd.CategoricalDtype):
        idx = values.cat.codes.to_numpy()
        uniq = values.cat.categories
    else:
        idx, uniq = pd.factorize(np.asarray(values, dtype=object))
    keys = [str(u).strip().upper() for u in uniq]
    for key in sorted(set(keys) - set(local)) + [""]:   # new ones in sorted order: the
        if key not in local:                             # list does not depend on the
            i = local[key] = len(alleles)                # parser's order of categories
            alleles.append(key)
            c = None if is_missing(key) else complement(key)
            j = local.get(c, -1) if c is not None else -1
            comp.append(j)
            if j >= 0:
                comp[j] = i
    table = np.array([local[k] for k in keys + [""]],
                     dtype=np.uint8 if len(alleles) <= 256 else np.int32)
    return table[idx]                            # idx = -1 (missing) -> the last entry
