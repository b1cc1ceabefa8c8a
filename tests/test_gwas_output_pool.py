"""The output phase of ``metamodels gwas`` on worker processes (output_pool.py): the
same bytes as the serial output, in chunk order, errors surfaced, CPU reported."""
import dataclasses
import gzip
import multiprocessing
import os
import time
import warnings

import numpy as np
import pytest

from metamodels.batch import meta_analyze_files
from metamodels.batch import output_pool
from metamodels.batch.output_pool import GWASWorkerError, task_bounds


def _write_studies(directory, m=1500, k=3, seed=7):
    rng = np.random.default_rng(seed)
    ids = np.array([f"rs{i}" for i in rng.permutation(10 * m)[:m]])
    pairs = np.array([("A", "G"), ("C", "T"), ("A", "C"), ("G", "T")])
    al = pairs[rng.integers(0, len(pairs), m)]
    paths = []
    for j in range(k):
        keep = rng.random(m) > 0.15
        swap = rng.random(m) < 0.3
        a1 = np.where(swap, al[:, 1], al[:, 0])[keep]
        a2 = np.where(swap, al[:, 0], al[:, 1])[keep]
        se = rng.uniform(0.01, 0.2, m)[keep]
        beta = (rng.normal(0, 1, m)[keep] * se) * np.where(swap[keep], -1, 1)
        n = rng.integers(1000, 5000, m)[keep]
        path = os.path.join(directory, f"s{j}.tsv")
        with open(path, "w") as fh:
            fh.write("SNP\tA1\tA2\tBETA\tSE\tN\n")
            for row in zip(ids[keep], a1, a2, beta, se, n):
                fh.write("%s\t%s\t%s\t%.6g\t%.6g\t%d\n" % row)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    return _write_studies(str(tmp_path_factory.mktemp("outpool")))


@pytest.fixture
def parallel(monkeypatch):
    """The pool is used for small inputs too."""
    monkeypatch.setattr(output_pool, "PARALLEL_MIN_VARIANTS", 0)


def _run(paths, out, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = meta_analyze_files(paths, out, stream=False, **kw)
    data = gzip.open(out).read() if str(out).endswith(".gz") else open(out, "rb").read()
    return res, data


def test_task_bounds_cover_the_gids_in_order():
    assert task_bounds(10, 4, 1) == [(0, 4), (4, 8), (8, 10)]
    b = task_bounds(2_500_000, 500_000, 2)                # 5 chunks -> 6 equal ones
    assert len(b) == 6 and b[0] == (0, 416_667) and b[-1][1] == 2_500_000
    for n, c, j in [(1, 5, 3), (7, 1, 2), (1000, 99, 3), (10, 3, 4)]:
        b = task_bounds(n, c, j)
        assert b[0][0] == 0 and b[-1][1] == n
        assert all(x[1] == y[0] and x[0] < x[1] for x, y in zip(b, b[1:]))
        assert max(c1 - c0 for c0, c1 in b) <= c


def test_parallel_output_is_the_serial_output_byte_for_byte(studies, tmp_path, parallel):
    """jobs 1, 2, 3; numpy and dask; plain and gzip; many chunks written in order."""
    ref_res, ref = _run(studies, tmp_path / "ref.tsv", methods="FE,DL,REML", jobs=1)
    assert ref.count(b"\n") == ref_res.n_variants + 1
    assert "output workers (processes)" not in ref_res.cpu
    engines = ["numpy"]
    try:
        import dask  # noqa: F401
        engines.append("dask")
    except ImportError:
        pass
    for engine in engines:
        for jobs, ext in [(2, ".tsv"), (3, ".tsv.gz"), (2, ".tsv.gz")]:
            out = tmp_path / f"{engine}{jobs}{ext}"
            res, data = _run(studies, out, methods="FE,DL,REML", jobs=jobs, engine=engine,
                             chunk_size=97)
            assert data == ref, (engine, jobs, ext)
            assert res.n_variants == ref_res.n_variants
            assert res.k_counts == ref_res.k_counts
            assert res.lambda_meta == ref_res.lambda_meta
            assert res.cpu["output workers (processes)"] > 0
            assert any(k.startswith("output (") for k in res.timings)
            if ext == ".tsv.gz":                  # one gzip member per piece per chunk
                assert res.cpu["gzip (output workers)"] >= 0
    res, data = _run(studies, tmp_path / "dask1.tsv", methods="FE,DL,REML", jobs=1,
                     engine=engines[-1], chunk_size=97)
    assert data == ref
    assert not multiprocessing.active_children()


def _gather_and_log_pid(*args, **kwargs):
    with open(os.environ["OUTPOOL_PID_LOG"], "a") as fh:
        fh.write(f"{os.getpid()}\n")
    time.sleep(0.3)               # the other worker takes the other chunk meanwhile
    return _gather(*args, **kwargs)


_gather = output_pool.gather_chunk


@pytest.mark.parametrize("engine", ["numpy", "dask"])
def test_the_chunks_run_in_every_worker(studies, tmp_path, parallel, monkeypatch, engine):
    if engine == "dask":
        pytest.importorskip("dask")
    log = tmp_path / "pids.txt"
    monkeypatch.setenv("OUTPOOL_PID_LOG", str(log))
    monkeypatch.setattr(output_pool, "gather_chunk", _gather_and_log_pid)
    _run(studies, tmp_path / "o.tsv", jobs=2, chunk_size=10 ** 6, engine=engine)
    pids = log.read_text().split()                  # two chunks, one per worker
    assert len(pids) == 2 and str(os.getpid()) not in pids
    assert len(set(pids)) == 2


def test_extra_method_and_dropped_log_in_the_workers(studies, tmp_path, parallel):
    ref_res, ref = _run(studies, tmp_path / "ref.tsv", methods="FE,RE2", jobs=1,
                        log_dropped=str(tmp_path / "d1.tsv"))
    res, data = _run(studies, tmp_path / "par.tsv.gz", methods="FE,RE2", jobs=2,
                     chunk_size=200, log_dropped=str(tmp_path / "d2.tsv"))
    assert b"pvalue_re2" in data.split(b"\n", 1)[0]
    assert data == ref
    assert (tmp_path / "d1.tsv").read_bytes() == (tmp_path / "d2.tsv").read_bytes()


def test_summary_lists_the_output_workers_cpu(studies, tmp_path, parallel):
    res, _ = _run(studies, tmp_path / "o.tsv", jobs=2, chunk_size=300)
    text = dataclasses.replace(res, elapsed=2.0).summary()    # CPU line from 1 s on
    line = next(x for x in text.splitlines() if x.startswith("CPU (s):"))
    assert "output workers (processes)" in line and "format (output workers)" in line
    assert "output (2 worker processes)" in text


def _boom(*args, **kwargs):
    raise ValueError("boom in the worker")


def _die(*args, **kwargs):
    os._exit(3)


@pytest.mark.parametrize("engine", ["numpy", "dask"])
def test_a_failing_worker_is_a_clear_error(studies, tmp_path, parallel, monkeypatch,
                                           engine):
    if engine == "dask":
        pytest.importorskip("dask")
    monkeypatch.setattr(output_pool, "gather_chunk", _boom)     # inherited by fork
    with pytest.raises(GWASWorkerError, match="output worker failed on variants .*"
                                              "ValueError: boom in the worker"):
        _run(studies, tmp_path / "x.tsv", jobs=2, chunk_size=300, engine=engine)
    assert not multiprocessing.active_children()


def test_a_dying_worker_is_a_clear_error(studies, tmp_path, parallel, monkeypatch):
    monkeypatch.setattr(output_pool, "gather_chunk", _die)
    with pytest.raises(GWASWorkerError, match="process died"):
        _run(studies, tmp_path / "x.tsv.gz", jobs=2, chunk_size=300)
    assert not multiprocessing.active_children()


def test_small_inputs_stay_serial(studies, tmp_path):
    res, _ = _run(studies, tmp_path / "o.tsv", jobs=2)
    assert "output workers (processes)" not in res.cpu
    assert "format (main thread)" in res.cpu


@pytest.mark.slow                      # starting the spawned interpreters takes seconds
def test_spawned_workers_give_the_same_output(studies, tmp_path, parallel, monkeypatch):
    _, ref = _run(studies, tmp_path / "ref.tsv", methods="FE,DL", jobs=1)
    monkeypatch.setattr(output_pool, "START_METHOD", "spawn")
    _, data = _run(studies, tmp_path / "sp.tsv.gz", methods="FE,DL", jobs=2, chunk_size=500)
    assert data == ref
