"""Streaming merge of studies: the variant index, allele alignment, chunk gathering.

Variants get global ids (gids) in order of first appearance: the rows of the first
study in file order, then the variants that only later studies have, in their order.
:func:`index_study` assigns the gids of one study's rows, aligns its alleles to the
reference (the first study that has the variant) and records why rows are dropped;
:func:`gather_chunk` then builds the ``(m, k)`` matrices of aligned effects and
standard errors of a range of gids, reading from each study's store only the rows
it needs.
"""
from __future__ import annotations

import numpy as np

from .alleles import AMBIGUOUS, MISMATCH, align
from .alleles import DROP_REASONS as ALIGN_DROPS

__all__ = ["VariantIndex", "Growable", "MergeState", "index_study", "gather_chunk",
           "DROP_REASONS", "DROP_ORDER", "resolvable", "SE_MIN", "VALUE_MAX",
           "LAMBDA_PLAUSIBLE", "gc_lambda"]

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


class Growable:
    """A 1-d numpy array with amortised O(1) appends (capacity grows by 1/4)."""

    def __init__(self, dtype, fill=0):
        self.a = np.full(1024, fill, dtype=dtype)
        self.n = 0
        self.fill = fill

    def extend(self, values):
        values = np.asarray(values, dtype=self.a.dtype)
        if self.n == 0 and values.size > self.a.size:       # first batch: exact size
            self.a = values.copy()
            self.n = values.size
            return
        need = self.n + values.size
        if need > self.a.size:
            new = np.full(max(need, self.a.size + self.a.size // 4), self.fill,
                          dtype=self.a.dtype)
            new[:self.n] = self.a[:self.n]
            self.a = new
        self.a[self.n:need] = values
        self.n = need

    @property
    def values(self):
        return self.a[:self.n]


class VariantIndex:
    """Hash index ``64-bit id hash -> gid`` that grows study by study.

    The keys of the first study form the base :class:`pandas.Index` (its hash table
    is built once); keys added later go to a second index rebuilt after each study
    (folded into the base when it gets large).
    """

    def __init__(self):
        import pandas as pd

        self._pd = pd
        self.base = pd.Index(np.empty(0, dtype=np.uint64))
        self.extra = []
        self.extra_index = pd.Index(np.empty(0, dtype=np.uint64))
        self.n = 0

    def lookup(self, keys):
        """gids of ``keys`` (-1 where unknown)."""
        g = self.base.get_indexer(keys) if len(self.base) else np.full(len(keys), -1)
        g = g.astype(np.int64)
        miss = g < 0
        if miss.any() and len(self.extra_index):
            h = self.extra_index.get_indexer(keys[miss])
            g[miss] = np.where(h >= 0, h + len(self.base), -1)
        return g

    def add_if_unique(self, keys):
        """Start an empty index with ``keys`` if they are distinct (one hash table
        build serves the check and later lookups); returns whether it did."""
        if self.n:
            raise ValueError("the index is not empty")
        idx = self._pd.Index(np.asarray(keys, dtype=np.uint64))
        if not idx.is_unique:
            return False
        self.base = idx
        self.n = len(idx)
        return True

    def add(self, keys):
        """Append new distinct keys; returns the gid of the first one."""
        first = self.n
        if len(keys) == 0:
            return first
        pd = self._pd
        if self.n == 0:
            self.base = pd.Index(np.asarray(keys, dtype=np.uint64))
        else:
            self.extra.append(np.asarray(keys, dtype=np.uint64))
            allx = np.concatenate(self.extra)
            if allx.size > max(len(self.base) // 2, 1_000_000):
                self.base = pd.Index(np.concatenate([self.base.to_numpy(), allx]))
                self.extra = []
                allx = allx[:0]
            self.extra_index = pd.Index(allx)
        self.n += len(keys)
        return first


class MergeState:
    """Everything known about the merged variants (one entry per gid)."""

    def __init__(self, alleles, with_freq):
        self.index = VariantIndex()
        self.alleles = alleles                      # AlleleTable (global codes)
        self.ref_a1 = Growable(np.int32)
        self.ref_a2 = Growable(np.int32)
        self.ref_study = Growable(np.int16)
        self.ref_row = Growable(np.int32)
        self.ref_freq = Growable(np.float64, np.nan) if with_freq else None

    @property
    def n(self):
        return self.index.n


def _valid_values(store, scheme):
    """Masks of the rows with valid values and of those within the computable range."""
    beta = store.load("beta")
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(beta)
        if scheme == "samplesize":
            p = store.load("pvalue")
            nn = store.load("n")
            ok &= (p > 0) & (p <= 1) & np.isfinite(nn) & (nn > 0)
            inrange = (nn >= SE_MIN ** 2) & (nn <= VALUE_MAX ** 2)
        else:
            se = store.load("se")
            ok &= np.isfinite(se) & (se > 0)
            inrange = (se >= SE_MIN) & (se <= VALUE_MAX) & (np.abs(beta) <= VALUE_MAX)
    return ok, inrange


def _gc_lambda(store, rows, scheme):
    """Genomic-control lambda of the rows (see :func:`gc_lambda`): ``chi2 =
    (beta/se)^2`` (finite: the rows are valid and within SE_MIN, VALUE_MAX), or the
    1-df quantile of the p-value (sample-size scheme)."""
    from scipy import special

    if scheme == "samplesize":
        chi2 = special.chdtri(1.0, store.take("pvalue", rows))
    else:
        chi2 = (store.take("beta", rows) / store.take("se", rows)) ** 2
    return gc_lambda(chi2)


def gc_lambda(chi2, level=0.999):
    """Genomic-control inflation factor and whether it is implausible.

    ``lambda = median(chi2) / 0.4549364`` (the median of chi-square with 1 df).  When
    it is outside :data:`LAMBDA_PLAUSIBLE`, the distribution-free ``level``
    confidence interval of the median (order statistics ``x_(j) <= median <=
    x_(n+1-j)``, ``j`` the largest with ``P(Bin(n, 1/2) <= j - 1) <= (1 - level)/2``)
    tells whether the data exclude the plausible range or the lambda may be a
    chance result of few variants.

    Returns
    -------
    lam : float
        NaN without rows.
    implausible : bool
        The whole interval lies outside :data:`LAMBDA_PLAUSIBLE`.
    """
    from scipy import stats

    from .kernels import CHI2_1_MEDIAN

    chi2 = np.asarray(chi2, dtype=float)
    n = chi2.size
    if n == 0:
        return float("nan"), False
    lam = float(np.median(chi2) / CHI2_1_MEDIAN)
    lo, hi = LAMBDA_PLAUSIBLE
    if lo <= lam <= hi or not np.isfinite(lam):
        return lam, False
    j = int(stats.binom.ppf((1 - level) / 2, n, 0.5))    # P(X <= j) >= alpha/2
    if stats.binom.cdf(j, n, 0.5) > (1 - level) / 2:
        j -= 1
    j += 1                                   # x_(j), 1-based: P(X <= j - 1) <= alpha/2
    if j < 1:
        return lam, False
    x = np.partition(chi2, [j - 1, n - j])
    ci = (x[j - 1] / CHI2_1_MEDIAN, x[n - j] / CHI2_1_MEDIAN)
    return lam, bool(ci[0] > hi or ci[1] < lo)


def index_study(state, store, study, scheme="stderr", maf_max=0.4, keep_ambiguous=False):
    """Assign gids to the rows of one study and align them (sequential step).

    The study's genomic-control lambda (``stats["lambda"]``, with
    ``lambda_variants`` and ``lambda_implausible``, see :func:`gc_lambda`) is
    computed from the rows that enter the alignment: valid values within range, an
    id, valid alleles whose strand can be settled (:func:`resolvable`), the first of
    repeated ids.  Rows are dropped for the reasons of :data:`DROP_REASONS`, in its
    order: invalid values (missing or non-finite beta, ``se <= 0``; for the
    sample-size scheme ``p`` outside (0, 1] or ``N <= 0``), values out of the
    computable range (:data:`SE_MIN`, :data:`VALUE_MAX`), a missing id, missing or
    identical alleles, A/T or C/G alleles whose strand cannot be settled (unless
    ``keep_ambiguous``; the same rule in every study, the first included), a
    repeated id (the first row is kept), and alleles that match neither the
    reference alleles nor their complements.  Surviving rows get their gid and the
    sign that aligns ``beta`` to the reference's effect allele; rows of variants new
    to the merge define the reference.

    Returns
    -------
    gid : int32 array (-1 for dropped rows), sign : int8 array,
    drops : dict reason -> dropped rows (ascending), ref_gid : dict reason -> for
    each dropped row the gid whose reference alleles it failed to match (-1 if
    none), stats : dict of counts
    """
    n = store.n_rows
    key = store.load("key")
    gmap = np.array([state.alleles.code(a) for a in store.alleles] or [0], dtype=np.int32)
    a1 = gmap[store.load("a1")]
    a2 = gmap[store.load("a2")]
    freq = store.load("freq") if "freq" in store.fields else None
    drops = {}
    ref_gid = {}
    alive = np.ones(n, dtype=bool)

    def drop(reason, mask, ref=None):
        """Drop the live rows of ``mask``; ``ref``: the gids whose reference alleles
        they failed (aligned with the dropped rows), else -1."""
        mask = mask & alive
        rows_ = np.flatnonzero(mask)
        ref = np.full(rows_.size, -1, dtype=np.int64) if ref is None else ref
        if reason in drops:                      # a second rule with the same reason
            rows_ = np.concatenate([drops[reason], rows_])
            ref = np.concatenate([ref_gid[reason], ref])
            order = np.argsort(rows_, kind="stable")
            rows_, ref = rows_[order], ref[order]
        drops[reason], ref_gid[reason] = rows_, ref
        alive[mask] = False

    valid, inrange = _valid_values(store, scheme)
    drop("invalid_value", ~valid)
    drop("out_of_range", ~inrange)
    del valid, inrange
    drop("missing_id", key == 0)
    drop("invalid_alleles", ~state.alleles.valid_pair(a1, a2))
    if not keep_ambiguous:
        drop(ALIGN_DROPS[AMBIGUOUS], ~resolvable(a1, a2, state.alleles.comp, freq, maf_max))
    rows = np.flatnonzero(alive).astype(np.int32)
    n0 = state.n
    if n0 == 0 and state.index.add_if_unique(key[rows]):
        g = np.arange(rows.size, dtype=np.int32)      # first study, no repeated ids
    else:
        g = state.index.lookup(key[rows]).astype(np.int32)
        miss = g < 0
        if miss.any():
            import pandas as pd

            codes, uniq = pd.factorize(key[rows][miss])
            state.index.add(uniq)
            g[miss] = n0 + codes
    # repeated ids within the study: one row per gid is kept (the first: the reversed
    # scatter below writes the earliest row last)
    del key
    first = np.full(state.n, -1, dtype=np.int32)
    first[g[::-1]] = rows[::-1]
    dup = first[g] != rows
    del first
    dmask = np.zeros(n, dtype=bool)
    dmask[rows[dup]] = True
    drop("duplicate", dmask)
    keep = ~dup
    rows, g = rows[keep], g[keep]
    lam, implausible = _gc_lambda(store, rows, scheme) if rows.size else (np.nan, False)
    rows_lam = rows.size
    new = g >= n0
    # new variants: this study is the reference
    nrows = rows[new]
    if nrows.size:
        gn = g[new]
        if gn.size > 1 and not np.all(gn[1:] > gn[:-1]):
            nrows = nrows[np.argsort(gn, kind="stable")]
        state.ref_a1.extend(a1[nrows])
        state.ref_a2.extend(a2[nrows])
        state.ref_study.extend(np.full(nrows.size, study, dtype=np.int16))
        state.ref_row.extend(nrows)
        if state.ref_freq is not None:
            state.ref_freq.extend(freq[nrows] if freq is not None else np.nan)
    sign = np.zeros(n, dtype=np.int8)
    sign[nrows] = 1
    old = ~new
    orows, og = rows[old], g[old]
    stats = {"read": n, "new": int(nrows.size), "swapped": 0, "strand_flipped": 0,
             "palindromic_aligned": 0}
    if orows.size:
        rf = state.ref_freq.values[og] if state.ref_freq is not None else None
        f = freq[orows] if freq is not None else None
        s, status, strand = align(a1[orows], a2[orows], state.ref_a1.values[og],
                                  state.ref_a2.values[og], state.alleles.comp, f, rf,
                                  maf_max=maf_max, keep_ambiguous=keep_ambiguous)
        sign[orows] = s
        for code, reason in ALIGN_DROPS.items():
            m = np.zeros(n, dtype=bool)
            m[orows[status == code]] = True
            drop(reason, m, og[status == code])
        ok = status == 0
        stats["swapped"] = int(np.count_nonzero(ok & (s < 0)))
        stats["strand_flipped"] = int(np.count_nonzero(ok & strand))
    stats["palindromic_aligned"] = int(np.count_nonzero(
        state.alleles.palindromic(a1[alive], a2[alive])))
    for reason in DROP_ORDER:
        drops.setdefault(reason, np.empty(0, dtype=np.int64))
        ref_gid.setdefault(reason, np.full(drops[reason].size, -1, dtype=np.int64))
    gid = np.full(n, -1, dtype=np.int32)
    gid[rows] = g
    gid[~alive] = -1
    sign[~alive] = 0
    stats["used"] = int(np.count_nonzero(alive))
    stats.update({r: int(drops[r].size) for r in DROP_ORDER})
    stats["lambda"] = lam
    stats["lambda_variants"] = int(rows_lam)
    stats["lambda_implausible"] = implausible
    return gid, sign, drops, ref_gid, stats


def resolvable(a1, a2, comp, freq, maf_max):
    """Rows whose strand can be settled: not A/T or C/G (``comp[a1] != a2``), or with
    an effect-allele frequency whose minor-allele frequency is below ``maf_max``.

    The same rule for every study, the first included, so that which variants and
    numbers come out does not depend on the order of the files.
    """
    pal = comp[a1] == a2
    if freq is None:
        return ~pal
    with np.errstate(invalid="ignore"):
        return ~pal | (np.minimum(freq, 1.0 - freq) < maf_max)


def gather_chunk(stores, gids, signs, c0, c1, scheme="stderr", gc=None, with_n=False):
    """``(c1 - c0, k)`` matrices of the aligned studies for gids ``c0 <= g < c1``.

    Parameters
    ----------
    stores : list of StudyStore
    gids, signs : list of callables or arrays
        Per study, the gid and sign of each row (see :func:`index_study`); callables
        are called to load them (so they need not stay in memory).
    gc : list of float, optional
        Per-study genomic-control factors ``sqrt(lambda)`` (1 when not applied).
    with_n : bool
        Also gather the sample sizes.

    Returns
    -------
    y, s : float arrays
        ``beta`` (sign-aligned) and ``se`` (scaled by ``gc``), NaN where a study lacks
        the variant.  For ``scheme="samplesize"``, ``y = z / sqrt(N)`` and
        ``s = 1 / sqrt(N)`` with ``z = sign(beta) Phi^{-1}(1 - p/2)`` (divided by
        ``gc``), so that the inverse-variance kernels give METAL's sample-size
        weighted ``Z = sum sqrt(N_i) z_i / sqrt(sum N_i)``.
    ntot : float array or None
        Total sample size of the studies that have the variant.

    Notes
    -----
    Each study's rows of the chunk are found by one scan of its gids and read from
    its store; the values are first written into ``(k, m)`` arrays (one contiguous
    row per study) and transposed once (``s`` into the memory of the first), so
    memory is three ``(m, k)`` float arrays at the peak.
    """
    from scipy import special

    m, k = c1 - c0, len(stores)
    # studies along the rows while gathering: each study's values are written into
    # one contiguous row (a scatter into a column of an (m, k) array touches a cache
    # line per value), transposed once at the end
    Y = np.full((k, m), np.nan)
    S = np.full((k, m), np.nan)
    ntot = np.zeros(m) if with_n else None
    for j, st in enumerate(stores):
        g = np.asarray(gids[j]() if callable(gids[j]) else gids[j])
        d = g - g.dtype.type(c0)
        rows = np.flatnonzero(d.view(f"u{d.dtype.itemsize}") < m)  # c0 <= g < c1
        if rows.size == 0:
            continue
        loc = d[rows].astype(np.intp)             # one conversion for three scatters
        sg = signs[j]() if callable(signs[j]) else signs[j]
        sg = np.asarray(sg)[rows].astype(np.float64)
        beta = st.take("beta", rows)
        f = 1.0 if gc is None else gc[j]
        if scheme == "samplesize":
            p = st.take("pvalue", rows)
            n_ = st.take("n", rows)
            z = -special.ndtri(0.5 * p) * np.sign(beta) * sg / f
            Y[j, loc] = z / np.sqrt(n_)
            S[j, loc] = 1.0 / np.sqrt(n_)
            if with_n:
                ntot[loc] += n_
        else:
            Y[j, loc] = beta * sg
            S[j, loc] = st.take("se", rows) * f
            if with_n:
                ntot[loc] += st.take("n", rows)
    y = Y.T.copy()                           # always a copy (Y is reused below)
    s = Y.reshape(m, k)                      # Y's memory (already paged in) for s
    np.copyto(s, S.T)
    return y, s, ntot

