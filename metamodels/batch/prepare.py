"""The rules that depend on one study only, applied where the study is read.

:func:`prepare_study` runs in the reading worker right after a study is scanned
(:func:`.sumstats.scan_study`): it drops the rows with invalid or out-of-range
values, without an id, with invalid alleles, strand-ambiguous ones (unless kept)
and repeated ids, computes the study's genomic-control lambda on the rows left and
saves them in the study's store (``p_rows``, ``p_key``, ``p_a1``, ``p_a2``: the rows
that enter the alignment, their id hashes and allele codes of the study's own list;
``p_drops``: the dropped rows, reason by reason; ``p_pal``, ``p_pal_freq``: the A/T
and C/G rows and their frequencies), read back by the main process with
:func:`prepared_column` and deleted once the study is indexed.
What needs the other studies (global variant ids, alignment to the reference
alleles, ``allele_mismatch``) is left to :func:`.merge.index_study`, which runs
study by study in the main process.

Alleles are compared here through the study's own allele list
(``StudyStore.alleles``, upper-cased strings): two rows have the same allele when
their codes are equal; the missing markers and complements are those of
:class:`.alleles.AlleleTable`, so every rule gives what it gives on the global codes.
"""
from __future__ import annotations

import os

import numpy as np

from .alleles import AMBIGUOUS, MISMATCH, complement, is_missing, maf_below
from .alleles import DROP_REASONS as ALIGN_DROPS

__all__ = ["prepare_study", "value_drops", "load_prepared", "prepared_alleles",
           "palindromic_freq", "row_alleles", "prepared_column",
           "release_prepared", "mapped_column", "DROP_REASONS", "DROP_ORDER",
           "STUDY_DROPS", "gc_lambda", "median", "SE_MIN", "VALUE_MAX",
           "LAMBDA_PLAUSIBLE"]

#: Standard errors below SE_MIN, or |beta| and se above VALUE_MAX, are dropped
#: (``out_of_range``): within these bounds every term of the kernels stays a finite
#: double (the largest, in the ML/REML observed information, is ``(sum w^2 r)^2 ~
#: se^-8 beta^2 <= 1e250`` with ``w = 1/se^2``), whatever the number of studies.  Real
#: standard errors are many orders of magnitude inside.
SE_MIN = 1e-25
VALUE_MAX = 1e25
#: Genomic-control lambdas outside this range, when the data exclude it (see
#: :func:`gc_lambda`), give a warning: a study's lambda is usually 0.9-1.3, and far
#: outside its standard errors are likely wrong.
LAMBDA_PLAUSIBLE = (0.5, 2.0)

#: Why a row is dropped: one vocabulary for the log, the summary table's headers and
#: ``GWASResult.studies[i]["stats"]``; in the order the rules are applied.
DROP_REASONS = {
    "invalid_value": "missing or non-finite beta or se, se <= 0 (samplesize scheme: "
                     "p outside (0, 1], N <= 0)",
    "out_of_range": f"|beta| or se above {VALUE_MAX:g}, or se below {SE_MIN:g} (N outside "
                    f"[{SE_MIN ** 2:g}, {VALUE_MAX ** 2:g}]): weights beyond double precision",
    "missing_id": "no variant id",
    "invalid_alleles": "missing or identical alleles",
    ALIGN_DROPS[AMBIGUOUS]: "A/T or C/G variant whose strand cannot be settled: no "
                            "allele frequency, or a minor-allele frequency of at least "
                            "--maf-max (in every study alike; kept with "
                            "--keep-ambiguous)",
    "duplicate": "repeated variant id (the first row is kept)",
    ALIGN_DROPS[MISMATCH]: "alleles match neither the reference alleles nor their "
                           "complements",
}
DROP_ORDER = tuple(DROP_REASONS)
#: The reasons applied by :func:`prepare_study` (all but the alignment's mismatch).
STUDY_DROPS = DROP_ORDER[:DROP_ORDER.index("duplicate") + 1]


def mapped_column(store, name, dtype=None):
    """Column ``name`` of a store as a read-only array mapped from its file (no copy:
    pages come from the page cache as they are read).

    Parameters
    ----------
    store : StudyStore
    name : str
        A column of ``StudyStore.DTYPES`` (or any file ``<name>.bin`` of the store,
        with ``dtype``).
    dtype : numpy dtype, optional

    Returns
    -------
    numpy.ndarray
    """
    dt = np.dtype(store.DTYPES[name] if dtype is None else dtype)
    path = store.path(name)
    if os.path.getsize(path) == 0:
        return np.empty(0, dtype=dt)
    return np.memmap(path, dtype=dt, mode="r").view(np.ndarray)


def value_drops(cols, scheme):
    """Rows of a block with invalid values and rows out of the computable range
    (ascending), and the mask of the others.

    ``cols`` has the block's float arrays ``beta`` and ``se`` (``scheme="stderr"``)
    or ``beta``, ``pvalue`` and ``n`` (``"samplesize"``).  Every comparison with NaN
    is false, so the rows within range (``se`` and ``|beta|`` between :data:`SE_MIN`
    and :data:`VALUE_MAX`; ``0 < p <= 1`` and ``N`` between their squares) have valid
    values; only the others are told apart.

    Returns
    -------
    invalid, out_of_range : int64 arrays
    good : bool array
    """
    beta = cols["beta"]
    with np.errstate(invalid="ignore"):
        if scheme == "samplesize":
            p, nn = cols["pvalue"], cols["n"]
            good = np.greater_equal(nn, SE_MIN ** 2)
            good &= nn <= VALUE_MAX ** 2
            good &= p > 0
            good &= p <= 1
            good &= np.isfinite(beta)
            bad = np.flatnonzero(~good)
            b, pb, nb = beta[bad], p[bad], nn[bad]
            valid = np.isfinite(b) & (pb > 0) & (pb <= 1) & np.isfinite(nb) & (nb > 0)
        else:
            se = cols["se"]
            good = np.greater_equal(se, SE_MIN)
            good &= se <= VALUE_MAX
            good &= np.abs(beta) <= VALUE_MAX
            bad = np.flatnonzero(~good)
            b, sb = beta[bad], se[bad]
            valid = np.isfinite(b) & np.isfinite(sb) & (sb > 0)
    return bad[~valid], bad[valid], good


def lambda_statistic(cols, scheme):
    """The statistic of the genomic-control lambda of a block's rows (``cols`` as in
    :func:`value_drops`): ``chi2 = (beta/se)^2`` or, for the sample-size scheme, the
    p-value (:func:`study_lambda` takes the 1-df quantiles of the few it needs)."""
    if scheme == "samplesize":
        return np.array(cols["pvalue"], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = np.divide(cols["beta"], cols["se"])
        return np.square(z, out=z)


def study_lambda(stat, alive, scheme):
    """:func:`gc_lambda` of the study's rows ``alive``; ``stat`` holds every row's
    :func:`lambda_statistic` (finite for the rows ``alive``: they are valid and
    within SE_MIN, VALUE_MAX).

    For the sample-size scheme the 1-df chi-square quantiles ``chdtri(1, p)`` (a few
    microseconds each) decrease with ``p``, so their median comes from the p-values
    ranked around the middle: the quantiles are computed for a band of at least
    5% of the rows on either side of the median (far wider than any rounding of a
    monotone function could reach) and the median taken among them, the rows
    outside the band counted -- the same value as the median of all quantiles.  All
    of them are computed only when the lambda is implausible (its interval needs
    other order statistics) or the band does not hold the middle.
    """
    if scheme != "samplesize":
        return gc_lambda(stat[alive], copy=False)
    from scipy import special

    p = stat[alive]
    n = p.size
    m = max(1000, n // 20)
    if n > 4 * m:
        from .methods import CHI2_1_MEDIAN

        k = ((n - 1) // 2, n // 2)                  # ascending chi2 = descending p
        lo, hi = n - 1 - k[1] - m, n - 1 - k[0] + m  # their ranks in ascending p, widened
        part = np.partition(p, [lo, hi])
        plo, phi = part[lo], part[hi]
        inband = (p >= plo) & (p <= phi)
        above_band = int(np.count_nonzero(p > phi))  # the smallest chi2
        band = np.sort(special.chdtri(1.0, p[inband]))
        j = (k[0] - above_band, k[1] - above_band)
        if 0 <= j[0] and j[1] < band.size and np.all(np.isfinite(band)):
            mid = float(band[j[0]]) if j[0] == j[1] else float(np.mean(band[list(j)]))
            lam = mid / CHI2_1_MEDIAN
            lo_ok, hi_ok = LAMBDA_PLAUSIBLE
            if lo_ok <= lam <= hi_ok:
                return lam, False
    return gc_lambda(special.chdtri(1.0, p), copy=False)


def median(x):
    """``np.median`` of a 1-d float array without NaN, by selection: the order
    statistics it needs lie, with overwhelming probability, between two quantiles
    of a sample of ``x``; they are picked from the few values between them (else,
    and for NaN or small arrays, from the whole array).  Exact: the same value as
    ``np.median(x)``."""
    x = np.asarray(x, dtype=float)
    n = x.size
    if n < 50_000:
        return float(np.median(x))
    k = (n - 1) // 2, n // 2                       # the middle order statistics
    rng = np.random.default_rng(n)
    sample = np.sort(x[rng.integers(0, n, 4000)])
    if np.isnan(sample[-1]):
        return float(np.median(x))
    lo, hi = sample[2000 - 200], sample[2000 + 200]
    below = int(np.count_nonzero(x < lo))
    above = int(np.count_nonzero(x > hi))
    inside = x >= lo
    inside &= x <= hi
    mid = x[inside]
    j = (k[0] - below, k[1] - below)
    if below + mid.size + above != n or j[0] < 0 or j[1] >= mid.size:   # NaN, or missed
        return float(np.median(x))
    part = np.partition(mid, j)
    if j[0] == j[1]:
        return float(part[j[0]])
    return float(np.mean(part[list(j)]))


def gc_lambda(chi2, level=0.999, copy=True):
    """Genomic-control inflation factor and whether it is implausible.

    ``lambda = median(chi2) / 0.4549364`` (the median of chi-square with 1 df).  When
    it is outside :data:`LAMBDA_PLAUSIBLE`, the distribution-free ``level``
    confidence interval of the median (order statistics ``x_(j) <= median <=
    x_(n+1-j)``, ``j`` the largest with ``P(Bin(n, 1/2) <= j - 1) <= (1 - level)/2``)
    tells whether the data exclude the plausible range or the lambda may be a
    chance result of few variants.

    ``copy=False`` lets it reorder ``chi2`` (a float array) in place.

    Returns
    -------
    lam : float
        NaN without rows.
    implausible : bool
        The whole interval lies outside :data:`LAMBDA_PLAUSIBLE`.
    """
    from .methods import CHI2_1_MEDIAN

    chi2 = np.array(chi2, dtype=float) if copy else np.asarray(chi2, dtype=float)
    n = chi2.size
    if n == 0:
        return float("nan"), False
    lam = median(chi2) / CHI2_1_MEDIAN
    lo, hi = LAMBDA_PLAUSIBLE
    if lo <= lam <= hi or not np.isfinite(lam):
        return lam, False
    from scipy import stats        # only here: a worker process need not import it

    j = int(stats.binom.ppf((1 - level) / 2, n, 0.5))    # P(X <= j) >= alpha/2
    if stats.binom.cdf(j, n, 0.5) > (1 - level) / 2:
        j -= 1
    j += 1                                   # x_(j), 1-based: P(X <= j - 1) <= alpha/2
    if j < 1:
        return lam, False
    x = np.partition(chi2, [j - 1, n - j])
    ci = (x[j - 1] / CHI2_1_MEDIAN, x[n - j] / CHI2_1_MEDIAN)
    return lam, bool(ci[0] > hi or ci[1] < lo)


def local_alleles(alleles):
    """Missing-allele mask and complement codes of a study's own allele list.

    Parameters
    ----------
    alleles : list of str
        Upper-cased, stripped allele strings, each once (``StudyStore.alleles``).

    Returns
    -------
    missing : bool array
        The allele is a missing marker (``""``, ``NA``, ``.``, ...).
    comp : int32 array
        Code of the allele's strand complement in the list, -1 if it has none or
        the list lacks it (then no row can be its complement pair).
    """
    pos = {a: i for i, a in enumerate(alleles)}
    missing = np.array([is_missing(a) for a in alleles] + [True], dtype=bool)[:-1]
    comp = np.full(len(alleles), -1, dtype=np.int32)
    for i, a in enumerate(alleles):
        c = complement(a) if not missing[i] else None
        if c is not None and c in pos:
            comp[i] = pos[c]
    return missing, comp


def _first_rows(key):
    """Positions of the first occurrence of every value of ``key`` (a mask)."""
    first = np.ones(key.size, dtype=bool)
    if key.size < 2:
        return first
    s = np.sort(key)
    if not np.any(s[1:] == s[:-1]):                  # the usual case: no repeats
        return first
    order = np.argsort(key, kind="stable")
    sk = key[order]
    first[order[1:]] = sk[1:] != sk[:-1]
    return first


def prepare_study(store, key, la1, la2, values, palindromic, stat, scheme="stderr",
                  maf_max=0.4, keep_ambiguous=False):
    """Apply the rules of one study and save the rows that enter the alignment.

    Rows are dropped for the reasons of :data:`STUDY_DROPS`, in order: invalid values
    (missing or non-finite beta, ``se <= 0``; for the sample-size scheme ``p``
    outside (0, 1] or ``N <= 0``), values out of the computable range
    (:data:`SE_MIN`, :data:`VALUE_MAX`), a missing id, missing or identical alleles,
    A/T or C/G alleles whose strand cannot be settled (:func:`.alleles.maf_below`; unless
    ``keep_ambiguous``), a repeated id (its first row left by the earlier rules is
    kept).  The genomic-control lambda (:func:`gc_lambda`) is computed on the rows
    left.

    Parameters
    ----------
    store : StudyStore
        A scanned study (its numeric columns saved); its ``prepared`` attribute is
        set, and these columns saved (read back with :func:`prepared_column`):
        ``p_rows``, ``p_key``, ``p_a1``, ``p_a2`` (the rows left, their id hashes and
        allele codes), ``p_drops`` (the dropped rows, reason by reason),
        ``p_drop_a1``, ``p_drop_a2`` (their allele codes, for the log of dropped
        rows), ``p_pal`` (positions in ``p_rows`` of the A/T and C/G rows) and, with
        frequencies, ``p_pal_freq`` (their effect-allele frequencies: the only ones
        the alignment reads).
    key : uint64 array
        Id hashes of all rows (0: no id).
    la1, la2 : int array
        Allele codes of all rows in the study's own list (``store.alleles``).
    values : tuple
        ``(invalid, out_of_range, good)`` of all rows (:func:`value_drops`).
    palindromic : tuple
        ``(rows, freq)``: the A/T and C/G rows (ascending) and their effect-allele
        frequencies (None without a frequency column).
    stat : float array
        The :func:`lambda_statistic` of all rows.
    scheme : {"stderr", "samplesize"}
    maf_max : float
    keep_ambiguous : bool

    Returns
    -------
    dict
        ``store.prepared``: ``options`` (the arguments), ``counts`` (rows dropped
        by reason), ``rows`` (rows left), ``palindromic`` (of them, A/T or C/G),
        ``lambda``, ``lambda_variants``, ``lambda_implausible``.
    """
    n = store.n_rows
    invalid, out_of_range, alive = values
    pal_rows, pal_freq = palindromic
    dropped = [np.asarray(invalid, dtype=np.int32), np.asarray(out_of_range, dtype=np.int32)]

    def drop(mask):
        rows_ = np.flatnonzero(mask & alive)
        alive[rows_] = False
        dropped.append(rows_.astype(np.int32))

    drop(key == 0)
    missing = local_alleles(store.alleles)[0]
    if missing.size:
        drop(missing[la1] | missing[la2] | (la1 == la2))
    else:
        dropped.append(np.empty(0, dtype=np.int32))
    if not keep_ambiguous:
        # A/T and C/G rows whose strand the frequency cannot settle, in every study
        # alike (the first included), so that what comes out does not depend on the
        # order of the files
        settled = np.zeros(pal_rows.size, dtype=bool) if pal_freq is None \
            else maf_below(pal_freq, maf_max)
        unsettled = np.zeros(n, dtype=bool)
        unsettled[pal_rows[~settled]] = True
        drop(unsettled)
    else:
        dropped.append(np.empty(0, dtype=np.int32))
    rows = np.flatnonzero(alive).astype(np.int32)
    pkey, a1, a2 = key[rows], la1[rows], la2[rows]
    del key, values                               # (the caller keeps no reference)
    first = _first_rows(pkey)
    if not first.all():
        dup = np.zeros(n, dtype=bool)
        dup[rows[~first]] = True
        drop(dup)
        rows, pkey, a1, a2 = rows[first], pkey[first], a1[first], a2[first]
    else:
        dropped.append(np.empty(0, dtype=np.int32))
    lam, implausible = study_lambda(stat, alive, scheme) if rows.size \
        else (float("nan"), False)
    drows = np.concatenate(dropped)
    adt = np.uint8 if len(store.alleles) <= 256 else np.int32
    # the kept A/T and C/G rows: positions in rows of the scan's palindromic rows
    is_pal = np.zeros(n, dtype=bool)
    is_pal[pal_rows] = True
    pal = np.flatnonzero(is_pal[rows]).astype(np.int32)
    saved = {"p_rows": rows, "p_key": pkey, "p_a1": a1.astype(adt), "p_a2": a2.astype(adt),
             "p_drops": drows, "p_drop_a1": la1[drows].astype(adt),
             "p_drop_a2": la2[drows].astype(adt), "p_pal": pal}
    if pal_freq is not None:
        # pal_rows ascending: the kept ones' positions among them
        saved["p_pal_freq"] = pal_freq[np.searchsorted(pal_rows, rows[pal])]
    for name, values in saved.items():
        values.tofile(store.path(name))
    store.prepared = {
        "options": (scheme, float(maf_max), bool(keep_ambiguous)),
        "allele_dtype": np.dtype(adt).str,
        "counts": dict(zip(STUDY_DROPS, (int(d.size) for d in dropped))),
        "rows": int(rows.size),
        "palindromic": int(pal.size),
        "lambda": lam, "lambda_variants": int(rows.size), "lambda_implausible": implausible,
        "saved": {name: values.dtype.str for name, values in saved.items()}}
    return store.prepared


def prepared_column(store, name):
    """A column saved by :func:`prepare_study` (mapped from its file), or None if
    it was not saved (``p_pal_freq`` without frequencies)."""
    dt = store.prepared["saved"].get(name)
    return None if dt is None else mapped_column(store, name, dt)


def release_prepared(store):
    """Delete the columns saved by :func:`prepare_study` (once the study is
    indexed; arrays mapped from them stay valid)."""
    for name in store.prepared.get("saved", ()):
        try:
            os.remove(store.path(name))
        except OSError:
            pass


def prepared_alleles(store):
    """The allele codes (of the study's own list) of the rows kept by
    :func:`prepare_study`: ``(a1, a2)``."""
    return prepared_column(store, "p_a1"), prepared_column(store, "p_a2")


def palindromic_freq(store, positions):
    """Effect-allele frequencies of kept A/T or C/G rows (``positions`` in
    ``p_rows``), or None when the study has none."""
    freq = prepared_column(store, "p_pal_freq")
    if freq is None:
        return None
    pal = prepared_column(store, "p_pal")
    at = np.searchsorted(pal, positions)
    if at.size and (at.max() >= pal.size or np.any(pal[at] != positions)):
        raise ValueError("frequencies asked for rows that are not A/T or C/G")
    return freq[at]


def load_prepared(store, scheme, maf_max, keep_ambiguous):
    """The results of :func:`prepare_study` and the dropped rows by reason.

    Raises
    ------
    ValueError
        The store was not prepared, or with other options (the study is prepared
        where it is read: :func:`.sumstats.scan_study`).

    Returns
    -------
    prepared : dict
    drops : dict
        Reason of :data:`STUDY_DROPS` -> ascending int64 rows.
    """
    prep = getattr(store, "prepared", None)
    if not prep or prep["options"] != (scheme, float(maf_max), bool(keep_ambiguous)):
        raise ValueError(f"the study in {store.directory} was not scanned with the options "
                         f"{(scheme, maf_max, keep_ambiguous)}")
    allrows = prepared_column(store, "p_drops").astype(np.int64)
    drops, i0 = {}, 0
    for reason in STUDY_DROPS:
        c = prep["counts"][reason]
        drops[reason] = allrows[i0:i0 + c]
        i0 += c
    return prep, drops


def row_alleles(store, rows):
    """Allele codes (of the study's own list) of any rows of a prepared study, kept
    or dropped: ``(a1, a2)`` (for the log of dropped rows)."""
    rows = np.asarray(rows, dtype=np.int64)
    dt = store.prepared["allele_dtype"]
    out1 = np.zeros(rows.size, dtype=dt)
    out2 = np.zeros(rows.size, dtype=dt)
    for names in (("p_rows", "p_a1", "p_a2"), ("p_drops", "p_drop_a1", "p_drop_a2")):
        where = prepared_column(store, names[0])
        if where.size == 0:
            continue
        order = np.argsort(where, kind="stable")
        pos = np.minimum(np.searchsorted(where, rows, sorter=order), where.size - 1)
        found = where[order[pos]] == rows
        idx = order[pos[found]]
        out1[found] = prepared_column(store, names[1])[idx]
        out2[found] = prepared_column(store, names[2])[idx]
    return out1, out2
