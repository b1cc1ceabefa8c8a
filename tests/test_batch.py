"""metamodels.batch: vectorised meta-analysis kernels and the GWAS file workflow."""
import gzip
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import metamodels as mm
from metamodels.batch import meta_analyze, meta_analyze_files
from metamodels.batch.alleles import AMBIGUOUS, MISMATCH, OK, AlleleTable, align
from metamodels.batch.kernels import chi2_sf, log10_pvalue_normal
from metamodels.batch.sumstats import extract_field, hash_ids
from metamodels.batch.textfmt import format_float, format_int, format_log10, join_columns
from metamodels.cli import main

CHI2_MEDIAN = 0.4549364


# --------------------------------------------------------------------- kernels
def _random_rows(seed=7, n=240, width=20):
    """Rows with k in {2, 3, 5, 20} studies, homogeneous and heterogeneous."""
    rng = np.random.default_rng(seed)
    beta = np.full((n, width), np.nan)
    se = np.full((n, width), np.nan)
    for i in range(n):
        k = (2, 3, 5, 20)[i % 4]
        s = rng.uniform(0.05, 0.6, k)
        tau = (0.0, 0.3, 1.0)[i % 3]
        cols = rng.choice(width, k, replace=False)
        beta[i, cols] = rng.normal(0.2, np.sqrt(s ** 2 + tau ** 2))
        se[i, cols] = s
    return beta, se


@pytest.fixture(scope="module")
def rows():
    return _random_rows()


def _fits(y, v, method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fe = mm.MetaFixed(y, v).fit()
        re = None if method == "FE" else mm.MetaRandom(y, v).fit(method=method)
    return fe, re


@pytest.mark.parametrize("method", ["FE", "DL", "HE", "REML", "ML", "PM"])
def test_rows_agree_with_single_fits(rows, method):
    beta, se = rows
    out = meta_analyze(beta, se, method=method)
    rtol = 1e-8 if method in ("FE", "DL", "HE") else 1e-6
    got, ref = [], []
    for i in range(len(beta)):
        ok = np.isfinite(beta[i])
        y, v = beta[i, ok], se[i, ok] ** 2
        fe, re = _fits(y, v, method)
        r = out.iloc[i]
        assert r["k"] == ok.sum() and r["q_df"] == ok.sum() - 1
        got += [r["beta"], r["se"], r["pvalue"], r["q"], r["q_pvalue"]]
        ref += [fe.params[0], fe.bse[0], fe.pvalues[0], fe.q, fe.q_pvalue]
        if method == "FE":
            got.append(r["i2"])
            ref.append(fe.i2)
        else:
            got += [r["tau2"], r["beta_re"], r["se_re"], r["pvalue_re"], r["i2"]]
            ref += [re.tau2, re.params[0], re.bse[0], re.pvalues[0], re.i2]
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=1e-10)
    if method in ("REML", "ML", "PM"):
        assert out["converged"].all()


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_multimodal_rows_reach_at_least_the_single_fit_likelihood(method):
    """Few studies with variances 10^4 apart: the likelihood in tau^2 is often bimodal.
    The batch kernels and MetaRandom run the same global search (core/tau2.py): every
    row agrees (no row may differ, not even with a higher likelihood)."""
    from metamodels.batch.kernels import _loglik

    rng = np.random.default_rng(42)
    n, width = 300, 4
    beta = np.full((n, width), np.nan)
    se = np.full((n, width), np.nan)
    for i in range(n):
        k = rng.integers(2, width + 1)
        s = np.exp(rng.uniform(np.log(0.01), 0.0, k))
        beta[i, :k] = rng.normal(rng.normal(), np.sqrt(s ** 2 + rng.choice([0, .05, .3, 1]) ** 2))
        se[i, :k] = s
    out = meta_analyze(beta, se, method)
    assert out["converged"].all()
    differ = 0
    for i in range(n):
        ok = np.isfinite(beta[i])
        y, v = beta[i, ok], se[i, ok] ** 2
        _, re = _fits(y, v, method)
        t = out.loc[i, "tau2"]
        if abs(t - re.tau2) <= 1e-6 * (re.tau2 + 1e-3):
            continue
        differ += 1
        ll = [_loglik(y[:, None], v[:, None], np.array([x]), method == "REML")[0]
              for x in (t, re.tau2)]
        assert ll[0] >= ll[1] - 1e-9, (i, t, re.tau2, ll)
    assert differ == 0


def test_k0_k1_and_invalid_studies():
    nan = np.nan
    beta = np.array([[nan, nan, nan], [0.3, nan, nan], [0.3, 0.1, np.inf], [0.3, 0.5, 0.2]])
    se = np.array([[0.1, nan, nan], [0.2, 0.1, nan], [0.2, 0.0, 0.1], [0.2, -1.0, 0.1]])
    for method in ("FE", "DL", "REML", "PM"):
        out = meta_analyze(beta, se, method=method)
        assert list(out["k"]) == [0, 1, 1, 2]
        assert out.loc[0, ["beta", "se", "pvalue", "q"]].isna().all()
        assert out.loc[1, "beta"] == pytest.approx(0.3) and out.loc[1, "se"] == pytest.approx(0.2)
        assert out.loc[1, "q"] == 0 and out.loc[1, "q_df"] == 0
        assert np.isnan(out.loc[1, "q_pvalue"]) and np.isnan(out.loc[1, "i2"])
        if method != "FE":
            assert np.isnan(out.loc[1, "tau2"])
            assert out.loc[1, "beta_re"] == pytest.approx(0.3)
            assert out.loc[1, "se_re"] == pytest.approx(0.2)
        # se = 0, se < 0 and beta = inf mark a study as missing
        assert out.loc[2, "beta"] == pytest.approx(0.3)
        assert out.loc[3, "beta"] == pytest.approx((0.3 / 0.04 + 0.2 / 0.01) / (25 + 100))


def test_huge_z_does_not_underflow():
    out = meta_analyze(np.array([[5.0], [0.5], [40.0]]), np.array([[0.1], [0.1], [0.1]]))
    z = 50.0
    # log Phi(-z) = -z^2/2 - log z - log(2 pi)/2 + log(1 - 1/z^2 + 3/z^4 - 15/z^6)
    lphi = -z * z / 2 - math.log(z) - 0.5 * math.log(2 * math.pi) + \
        math.log(1 - z ** -2 + 3 * z ** -4 - 15 * z ** -6)
    expect = (math.log(2) + lphi) / math.log(10)
    assert out["log10p"][0] == pytest.approx(expect, abs=1e-8)
    assert -546 < out["log10p"][0] < -544 and out["pvalue"][0] == 0.0
    assert out["pvalue"][1] == pytest.approx(2 * stats.norm.sf(5), rel=1e-12)
    assert np.isfinite(out["log10p"]).all()
    assert log10_pvalue_normal(np.array([1e4]))[0] < -2e7


def test_result_shapes_and_columns():
    beta, se = _random_rows(n=40)
    d = meta_analyze(beta, se, "REML", as_frame=False)
    assert isinstance(d, dict) and d["converged"].dtype == bool
    assert {"beta_re", "se_re", "z_re", "pvalue_re", "log10p_re", "tau2"} <= set(d)
    multi = meta_analyze(beta, se, ["FE", "DL", "REML"])
    for col in ("tau2_DL", "beta_DL", "pvalue_REML", "converged_REML", "i2_DL"):
        assert col in multi
    assert "converged_DL" not in multi
    fe = meta_analyze(beta, se, "FE")
    np.testing.assert_allclose(multi["i2"], fe["i2"])            # list: i2 is the FE one
    np.testing.assert_allclose(multi["tau2_REML"], d["tau2"], rtol=1e-12)
    frame = pd.DataFrame(beta, index=[f"rs{i}" for i in range(40)])
    assert list(meta_analyze(frame, se).index[:2]) == ["rs0", "rs1"]
    one = meta_analyze(beta[:, 0], se[:, 0])
    assert one.shape[0] == 40
    blocks = meta_analyze(beta, se, "REML", block_rows=7, n_threads=2)
    pd.testing.assert_frame_equal(blocks, meta_analyze(beta, se, "REML", n_threads=1))
    with pytest.raises(ValueError, match="unknown method"):
        meta_analyze(beta, se, "XX")
    with pytest.raises(ValueError, match="same shape"):
        meta_analyze(beta, se[:, :3])


def test_nonconvergence_is_reported():
    beta, se = _random_rows(n=60)
    out = meta_analyze(beta, se, "REML", maxiter=1)
    assert (~out["converged"]).any()


@pytest.mark.parametrize("df", [1, 2, 3, 9, 10, 64, 65, 200.5])
def test_chi2_sf(df):
    x = np.concatenate([np.linspace(0, 3 * df + 40, 200), [1200.0, np.nan]])
    ref = stats.chi2.sf(x, df)
    np.testing.assert_allclose(chi2_sf(x, df), ref, rtol=1e-12, atol=1e-300)


def test_dask_arrays_give_the_same_result():
    da = pytest.importorskip("dask.array")
    beta, se = _random_rows(n=50)
    lazy = meta_analyze(da.from_array(beta, chunks=(16, 20)), da.from_array(se, chunks=(16, 20)),
                        "DL")
    ref = meta_analyze(beta, se, "DL", as_frame=False)
    for name in ("beta", "tau2", "beta_re", "pvalue_re", "k"):
        np.testing.assert_allclose(lazy[name].compute(), ref[name], rtol=1e-14)


# -------------------------------------------------------------- text output
def test_number_formatting():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(size=3000) * 10.0 ** rng.integers(-9, 9, 3000),
                        [0.0, 1.0, -2.5e-5, 123456.0, 1e6, 0.0001, 99.5, np.nan, np.inf]])
    got = join_columns([format_float(x)]).decode().split("\n")[:-1]
    for v, s in zip(x, got):
        if np.isnan(v):
            assert s == "NA"
        elif np.isinf(v):
            assert s == "inf"
        else:                       # %.6g except possibly at decimal rounding ties
            assert s == "%.6g" % v or abs(float(s) - v) <= 0.51e-5 * abs(v)
    lg = np.array([0.0, -0.30103, -5.5, -545.8, np.nan])
    text = join_columns([format_log10(lg), format_int(np.array([0, -12, 1000, 7, 3]))])
    assert text.decode().split("\n")[:-1] == ["1\t0", "0.5\t-12", "3.16228e-06\t1000",
                                              "1.58489e-546\t7", "NA\t3"]


def test_extract_field_and_hashes():
    block = b"rs1\tA\tG\nrs22\tC\tT\r\n\nrs333\t\tX\n"
    assert list(extract_field(block, 0, "\t")) == [b"rs1", b"rs22", b"rs333"]
    assert list(extract_field(block, 1, "\t")) == [b"A", b"C", b""]
    assert extract_field(block, 3, "\t") is None
    ws = b"  rs1  A G\n\n rs22 C   T\r\n"
    assert list(extract_field(ws, 2, r"\s+")) == [b"G", b"T"]
    h = hash_ids(np.array([b"rs1", b"rs22", b"rs1"], dtype="S12"))
    assert h[0] == h[2] != h[1]
    assert hash_ids(np.array([b"rs22"], dtype="S4"))[0] == h[1]


# --------------------------------------------------------------------- alleles
def test_align_cases():
    t = AlleleTable()
    ref = [("A", "G")] * 5 + [("A", "T")] * 4 + [("I", "D")]
    study = [("A", "G"), ("G", "A"), ("T", "C"), ("C", "T"), ("A", "C"),
             ("A", "T"), ("T", "A"), ("A", "T"), ("A", "T"), ("d", "i")]
    f = np.array([np.nan] * 5 + [0.5, 0.2, 0.8, np.nan, np.nan])
    fr = np.array([np.nan] * 5 + [0.5, 0.2, 0.2, 0.2, np.nan])
    enc = lambda pairs, j: t.encode([p[j] for p in pairs])  # noqa: E731
    sign, status, strand = align(enc(study, 0), enc(study, 1), enc(ref, 0), enc(ref, 1), t.comp,
                                 f, fr)
    # 6: T/A vs A/T with equal frequencies 0.2: the other strand, same effect allele
    # 7: A/T vs A/T with frequencies 0.8 and 0.2: the other strand, swapped
    assert list(sign) == [1, -1, 1, -1, 0, 0, 1, -1, 0, -1]
    assert list(status) == [OK, OK, OK, OK, MISMATCH, AMBIGUOUS, OK, OK, AMBIGUOUS, OK]
    assert list(strand) == [False, False, True, True, False, False, True, True, False, False]
    keep = align(enc(study, 0), enc(study, 1), enc(ref, 0), enc(ref, 1), t.comp,
                 keep_ambiguous=True)
    assert keep[1][5] == OK and keep[0][5] == 1
    ac = t.code("ac")
    assert t.alleles[t.comp[ac]] == "GT" and t.comp[t.code("I")] == -1


# ------------------------------------------------------------------ GWAS files
def _study_frames():
    """Three studies with every alignment case; truth in study 1's coding."""
    rng = np.random.default_rng(11)
    m = 120
    snps = [f"rs{1000 + i}" for i in range(m)]
    bases = np.array(list("ACGT"))
    a1 = bases[rng.integers(0, 4, m)]
    a2 = np.array([rng.choice([b for b in "ACGT" if b not in (x, {"A": "T", "T": "A", "C": "G",
                                                                     "G": "C"}[x])])
                   for x in a1])
    freq = rng.uniform(0.05, 0.95, m)
    frames = []
    for s in range(3):
        se = rng.uniform(0.02, 0.1, m)
        beta = 0.03 + rng.normal(0, 1, m) * se
        frames.append(pd.DataFrame({"SNP": snps, "A1": a1, "A2": a2, "FREQ": freq.round(3),
                                    "BETA": beta, "SE": se, "N": 1000 * (s + 1)}))
    special_rows = {  # name: per study (a1, a2, freq, beta, se) or None (absent)
        "rs_swap": [("A", "G", .3, .10, .05), ("G", "A", .7, -.12, .05), ("A", "G", .3, .08, .04)],
        "rs_strand": [("A", "G", .3, .10, .05), ("T", "C", .3, .05, .05), None],
        "rs_strand_swap": [("A", "C", .3, .10, .05), ("G", "T", .7, .07, .05), None],
        "rs_at_amb": [("A", "T", .5, .10, .05), ("A", "T", .5, .09, .05), ("T", "A", .45, .1, .05)],
        "rs_at_freq": [("A", "T", .1, .10, .05), ("A", "T", .9, .11, .05), None],
        "rs_mismatch": [("A", "G", .3, .10, .05), ("A", "C", .3, .10, .05), None],
        "rs_missing": [("C", "T", .3, .10, .05), None, ("C", "T", .3, .2, .05)],
        "rs_huge": [("C", "T", .3, 5.0, .1), ("C", "T", .3, 5.0, .1), ("C", "T", .3, 5.0, .1)],
        "rs_bad": [("C", "T", .3, .10, .05), ("C", "T", .3, .10, 0.0), None],
        "rs_new": [None, None, ("G", "A", .4, .02, .05)],
    }
    for name, per in special_rows.items():
        for s, row in enumerate(per):
            if row is not None:
                frames[s].loc[len(frames[s])] = [name, *row[:3], row[3], row[4], 1000 * (s + 1)]
    # study 2 in another order, with a repeated id at the end (the first row is used)
    frames[1] = frames[1].sample(frac=1.0, random_state=3).reset_index(drop=True)
    dup = frames[1][frames[1].SNP == "rs_swap"].copy()
    dup["BETA"] = 9.0
    frames[1] = pd.concat([frames[1], dup], ignore_index=True)
    return frames


def _write(frames, d):
    d = Path(d)
    p1, p2, p3 = d / "s1.tsv", d / "s2.csv.gz", d / "s3.txt"
    frames[0].to_csv(p1, sep="\t", index=False)
    with gzip.open(p2, "wt") as fh:
        frames[1].to_csv(fh, index=False)
    f3 = frames[2].rename(columns={"SNP": "MarkerName", "A1": "Allele1", "A2": "Allele2",
                                   "FREQ": "Freq1", "BETA": "Effect", "SE": "StdErr"})
    f3["Allele1"] = f3["Allele1"].str.lower()
    f3["Allele2"] = f3["Allele2"].str.lower()
    f3.to_csv(p3, sep=" ", index=False)
    return [str(p1), str(p2), str(p3)]


@pytest.fixture(scope="module")
def study_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("gwas")
    frames = _study_frames()
    return frames, _write(frames, d), d


def _expected(frames, gc=None):
    """Manually aligned (beta, se) matrices in study 1 order + appended variants."""
    order = list(dict.fromkeys(list(frames[0].SNP) + list(frames[2].SNP)))
    ref = {}
    for f in (frames[0], frames[2]):
        for r in f.itertuples():
            ref.setdefault(r.SNP, (r.A1.upper(), r.A2.upper()))
    comp = {"A": "T", "T": "A", "C": "G", "G": "C"}
    beta = np.full((len(order), 3), np.nan)
    se = np.full((len(order), 3), np.nan)
    pos = {s: i for i, s in enumerate(order)}
    dropped = {"rs_at_amb": [1, 2], "rs_mismatch": [1], "rs_bad": [1]}
    for j, f in enumerate(frames):
        for r in f.drop_duplicates("SNP").itertuples():
            if j in dropped.get(r.SNP, []):
                continue
            r1, r2 = ref[r.SNP]
            a1, a2 = r.A1.upper(), r.A2.upper()
            if r.SNP == "rs_at_freq" and j == 1:
                sign = -1                      # resolved by frequency: other strand
            elif (a1, a2) == (r1, r2) or (comp[a1], comp[a2]) == (r1, r2):
                sign = 1
            else:
                sign = -1
            beta[pos[r.SNP], j] = sign * r.BETA
            se[pos[r.SNP], j] = r.SE * (1.0 if gc is None else gc[j])
    return order, beta, se


def _read(path):
    return pd.read_csv(path, sep="\t", keep_default_na=True)


def test_gwas_files_end_to_end(study_files, tmp_path):
    frames, paths, _ = study_files
    out = tmp_path / "meta.tsv.gz"
    res = meta_analyze_files(paths, out, methods="FE,DL,REML", stream=False)
    got = _read(out)
    order, beta, se = _expected(frames)
    assert list(got["SNP"]) == order                       # study 1 order, new appended
    assert got["SNP"].iloc[-1] == "rs_new" and got.loc[got.SNP == "rs_new", "A1"].item() == "G"
    ref = meta_analyze(beta, se, ["FE", "DL", "REML"])
    for col in ("beta", "se", "q", "i2", "tau2_DL", "beta_DL", "se_REML", "beta_REML"):
        np.testing.assert_allclose(got[col], ref[col], rtol=2e-5, atol=1e-12, err_msg=col)
    np.testing.assert_allclose(np.log10(got["pvalue"].clip(lower=1e-300)),
                               np.maximum(ref["log10p"], -300), rtol=1e-5)
    assert (got["k"].to_numpy() == ref["k"].to_numpy()).all()
    d = got.set_index("SNP")["direction"]
    assert d["rs_missing"] == "+?+" and d["rs_mismatch"] == "+??" and d["rs_at_amb"] == "+??"
    assert d["rs_swap"] == "+++" and d["rs_strand"] == "++?" and d["rs_at_freq"] == "+-?"
    assert d["rs_strand_swap"] == "+-?" and d["rs_new"] == "??+"
    huge = got.set_index("SNP").loc["rs_huge"]
    assert huge["pvalue"] == 0.0                        # z = 86.6: p far below doubles,
    text = gzip.open(out, "rt").read()                  # but written exactly
    line = [x for x in text.splitlines() if x.startswith("rs_huge")][0]
    lg = ref.loc[order.index("rs_huge"), "log10p"]
    mant, exp = line.split("\t")[8].split("e")
    assert int(exp) == math.floor(lg) < -1000
    assert float(mant) == pytest.approx(10 ** (lg - math.floor(lg)), rel=1e-5)
    # log: every drop, with its reason
    log = Path(res.log).read_text()
    assert Path(res.log) == tmp_path / "meta.log"
    for snp, reason in (("rs_at_amb", "strand_ambiguous"), ("rs_mismatch", "allele_mismatch"),
                        ("rs_bad", "invalid_value"), ("rs_swap", "duplicate")):
        assert f"2\t{snp}\t{reason}" in log
    assert "3\trs_at_amb\tstrand_ambiguous\tT/A\tA/T" in log
    st = {i: s["stats"] for i, s in enumerate(res.studies)}
    assert st[1]["duplicate"] == 1 and st[1]["allele_mismatch"] == 1
    assert st[1]["strand_ambiguous"] == 1 and st[2]["strand_ambiguous"] == 1
    assert st[1]["strand_flipped"] >= 3 and st[1]["swapped"] >= 2
    assert "genomic control lambda of the meta-analysis" in log
    assert res.n_variants == len(order) and np.isfinite(res.lambda_meta)


def test_engines_jobs_and_chunks_give_identical_files(study_files, tmp_path):
    _, paths, _ = study_files
    base = tmp_path / "a.tsv.gz"
    meta_analyze_files(paths, base, methods="FE,PM", stream=False)
    ref = gzip.open(base).read()
    small = tmp_path / "b.tsv.gz"
    meta_analyze_files(paths, small, methods="FE,PM", chunk_size=7, jobs=2, stream=False)
    assert gzip.open(small).read() == ref
    plain = tmp_path / "c.tsv"
    meta_analyze_files(paths, plain, methods="FE,PM", stream=False)
    assert plain.read_bytes() == ref
    pytest.importorskip("dask")
    dk = tmp_path / "d.tsv.gz"
    meta_analyze_files(paths, dk, methods="FE,PM", engine="dask", chunk_size=50, stream=False)
    assert gzip.open(dk).read() == ref


def test_genomic_control(study_files, tmp_path):
    frames, paths, _ = study_files
    res = meta_analyze_files(paths, tmp_path / "gc.tsv", genomic_control=True, stream=False)
    lam = []
    for f in frames:
        f = f.drop_duplicates("SNP")
        z2 = (f.BETA / f.SE) ** 2
        lam.append(float(np.median(z2[np.isfinite(z2)]) / CHI2_MEDIAN))
    np.testing.assert_allclose([s["lambda"] for s in res.studies], lam, rtol=1e-6)
    gc = [math.sqrt(v) if v > 1 else 1.0 for v in lam]
    order, beta, se = _expected(frames, gc)
    got = _read(tmp_path / "gc.tsv")
    ref = meta_analyze(beta, se)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=2e-5)
    assert "genomic control factors" in Path(res.log).read_text()


def test_samplesize_scheme(tmp_path):
    p = [tmp_path / f"s{i}.tsv" for i in range(3)]
    rows = [("rs1", "A", "G", 0.2, 1e-3, 1000), ("rs1", "G", "A", 0.1, 0.04, 4000),
            ("rs1", "A", "G", -0.05, 0.5, 2500)]
    for path, r in zip(p, rows):
        pd.DataFrame([r], columns=["SNP", "A1", "A2", "BETA", "P", "N"]).to_csv(
            path, sep="\t", index=False)
    out = tmp_path / "ss.tsv"
    meta_analyze_files(p, out, scheme="samplesize", methods="FE,DL", stream=False)
    got = _read(out).iloc[0]
    z = np.array([special.ndtri(1 - 1e-3 / 2), -special.ndtri(1 - 0.04 / 2),
                  -special.ndtri(1 - 0.5 / 2)])          # signs aligned to A
    n = np.array([1000, 4000, 2500])
    zm = np.sum(np.sqrt(n) * z) / np.sqrt(n.sum())
    assert got["z"] == pytest.approx(zm, rel=1e-5)
    assert got["pvalue"] == pytest.approx(2 * stats.norm.sf(abs(zm)), rel=1e-5)
    q = np.sum((z - np.sqrt(n) * zm / np.sqrt(n.sum())) ** 2)
    assert got["q"] == pytest.approx(q, rel=1e-5)
    assert got["n"] == 7500 and got["direction"] == "+--"
    assert "beta" not in got.index and "z_DL" in got.index


# ------------------------------------------------------------------------- CLI
def test_cli_gwas(study_files, tmp_path, capsys):
    _, paths, _ = study_files
    out = tmp_path / "cli.csv"
    code = main(["gwas", *paths, "--out", str(out), "--method", "fe,reml", "--no-progress",
                 "--digits", "5"])
    _, err = capsys.readouterr()
    assert code == 0
    assert "variants written to" in err and "lambda" in err
    got = pd.read_csv(out)
    assert {"beta_REML", "converged_REML", "direction"} <= set(got.columns)
    log = (tmp_path / "cli.log").read_text()
    assert "# command: metamodels gwas" in log and "--method fe,reml" in log


def test_cli_gwas_errors(study_files, tmp_path, capsys):
    _, paths, _ = study_files
    code = main(["gwas", paths[0], "--out", str(tmp_path / "x.tsv"), "--beta", "NOPE"])
    assert code == 2 and "--beta: column 'NOPE' not found" in capsys.readouterr().err
    code = main(["gwas", paths[0], "--out", str(tmp_path / "x.tsv"), "--method", "XX"])
    assert code == 2 and "unknown method" in capsys.readouterr().err
    code = main(["gwas", str(tmp_path / "missing.tsv"), "--out", str(tmp_path / "x.tsv")])
    assert code == 2 and "file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.tsv"
    bad.write_text("SNP\tA1\tA2\tBETA\tSE\nrs1\tA\tG\tabc\t0.1\n")
    code = main(["gwas", str(bad), "--out", str(tmp_path / "x.tsv")])
    assert code == 2 and "bad.tsv" in capsys.readouterr().err
    code = main(["gwas", paths[0], "--out", str(tmp_path / "x.tsv"), "--scheme", "samplesize"])
    assert code == 2 and "pvalue" in capsys.readouterr().err


def test_progress_without_and_with_tqdm(monkeypatch, study_files, tmp_path, capsys):
    import io
    import sys

    from metamodels.batch.gwas import Progress

    monkeypatch.setitem(sys.modules, "tqdm", None)             # as if not installed
    buf = io.StringIO()
    bar = Progress(1000, "meta-analysis", "variants", stream=buf)
    bar.update(10)
    bar.close()
    assert "meta-analysis: 10/1,000 variants" in buf.getvalue()
    monkeypatch.delitem(sys.modules, "tqdm")
    _, paths, _ = study_files
    code = main(["gwas", *paths, "--out", str(tmp_path / "p.tsv"), "--progress"])
    assert code == 0 and "variants written" in capsys.readouterr().err
