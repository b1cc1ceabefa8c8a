"""The command line interface (metamodels.cli): ``metamodels demo`` and ``metamodels meta``."""
import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import metamodels as mm
from metamodels.cli import main

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    path = Path(path)
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


@pytest.fixture
def bcg(bcg):
    """conftest's bcg effect sizes with standard errors ``sei`` (a fresh copy per test)."""
    dat = bcg.copy()
    dat["sei"] = np.sqrt(dat["vi"])
    return dat


@pytest.fixture
def bcg_csv(bcg, tmp_path):
    path = tmp_path / "bcg.csv"
    bcg.to_csv(path, index=False)
    return path


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------- version
def test_version(capsys):
    code, out, _ = _run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"metamodels {mm.__version__}"


def test_no_command_is_a_usage_error(capsys):
    code, _, err = _run(capsys)
    assert code == 2
    assert "demo" in err and "meta" in err


def test_help_exits_zero(capsys):
    code, out, _ = _run(capsys, "meta", "--help")
    assert code == 0
    assert "--yi" in out and "--sei" in out


# ---------------------------------------------------------------------- demo
def test_demo_reproduces_published_values(tmp_path, capsys):
    out_png = tmp_path / "forest.png"
    code, out, err = _run(capsys, "demo", "--out", out_png)
    assert code == 0, err
    assert _is_png(out_png)
    assert "md_example" in out.splitlines()[0]
    assert "MetaFixed" in out and "MetaRandom" in out
    assert "-2.04 [-2.45, -1.64]" in out
    assert "-1.21 [-2.69, 0.28]" in out
    assert "reproduced" in out and "NO" not in out
    # the REML fit (the default --method) is reported and plotted
    dat = mm.effect_size("MD", mm.datasets.load("md_example"), m1i="m1i", sd1i="sd1i",
                         n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i")
    reml = mm.MetaRandom(dat["yi"], dat["vi"]).fit(method="REML")
    assert f"REML {reml.tau2:.4f}" in out
    assert "Forest plot (REML)" in out


def test_demo_method_option(tmp_path, capsys):
    code, out, _ = _run(capsys, "demo", "--out", tmp_path / "f.png", "--method", "pm")
    assert code == 0
    assert "Paule-Mandel" in out
    assert _is_png(tmp_path / "f.png")


def test_demo_bad_method(tmp_path, capsys):
    code, out, err = _run(capsys, "demo", "--out", tmp_path / "f.png", "--method", "XYZ")
    assert code == 2
    assert err.strip().count("\n") == 0 and "unknown method 'XYZ'" in err
    assert not (tmp_path / "f.png").exists()


def test_python_dash_m_demo(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]]
                                                      if env.get("PYTHONPATH") else []))
    env.pop("MPLBACKEND", None)  # the CLI selects Agg itself
    proc = subprocess.run([sys.executable, "-m", "metamodels", "demo", "--out", "plot.png"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "-1.21 [-2.69, 0.28]" in proc.stdout
    assert _is_png(tmp_path / "plot.png")


# ---------------------------------------------------------------------- meta
def test_meta_random_matches_api(bcg, bcg_csv, capsys):
    code, out, err = _run(capsys, "meta", bcg_csv, "--yi", "yi", "--vi", "vi")
    assert code == 0, err
    res = mm.MetaRandom.from_formula("yi ~ 1", data=bcg, vi="vi").fit(method="REML")
    assert "MetaRandom" in out and "Restricted maximum likelihood" in out
    pred = res.get_prediction().summary_frame().iloc[0]
    lo, hi = res.conf_int_tau2()
    assert f"estimate   {pred['mean']:.4f} (SE {pred['mean_se']:.4f})" in out
    assert f"[{pred['mean_ci_lower']:.4f}, {pred['mean_ci_upper']:.4f}]" in out
    assert f"PI     [{pred['obs_ci_lower']:.4f}, {pred['obs_ci_upper']:.4f}]" in out
    assert f"tau^2      {res.tau2:.4f} (SE {res.tau2_se:.4f})" in out
    assert f"[{lo:.4f}, {hi:.4f}]" in out
    assert f"I^2        {100 * res.i2:.2f}%" in out
    assert f"Q          {res.q:.4f} on 12 df" in out
    # pinned against metafor: rma(yi, vi, data = dat.bcg) gives -0.7145, tau2 0.3132
    assert "-0.7145" in out and "0.3132" in out


def test_meta_sei_tsv_and_method(bcg, tmp_path, capsys):
    path = tmp_path / "bcg.tsv"
    bcg.drop(columns="vi").to_csv(path, sep="\t", index=False)
    code, out, err = _run(capsys, "meta", path, "--yi", "yi", "--sei", "sei", "--method", "dl",
                          "--test", "t")
    assert code == 0, err
    res = mm.MetaRandom.from_formula("yi ~ 1", data=bcg, vi="vi").fit(method="DL", test="t")
    assert "DerSimonian-Laird" in out
    assert f"{res.params.iloc[0]:.4f}" in out
    assert f"tau^2      {res.tau2:.4f}" in out
    ci = res.conf_int().iloc[0]
    assert f"[{ci.iloc[0]:.4f}, {ci.iloc[1]:.4f}]" in out


def test_meta_sep_override_and_alpha(bcg, tmp_path, capsys):
    path = tmp_path / "bcg.csv"
    bcg.to_csv(path, sep=";", index=False)
    code, out, err = _run(capsys, "meta", path, "--yi", "yi", "--vi", "vi", "--sep", ";",
                          "--alpha", "0.1")
    assert code == 0, err
    res = mm.MetaRandom.from_formula("yi ~ 1", data=bcg, vi="vi").fit()
    pred = res.get_prediction().summary_frame(alpha=0.1).iloc[0]
    assert f"90% CI     [{pred['mean_ci_lower']:.4f}, {pred['mean_ci_upper']:.4f}]" in out


def test_meta_fixed(bcg, bcg_csv, capsys):
    code, out, err = _run(capsys, "meta", bcg_csv, "--yi", "yi", "--vi", "vi", "--method", "FE")
    assert code == 0, err
    res = mm.MetaFixed.from_formula("yi ~ 1", data=bcg, vi="vi").fit()
    assert "MetaFixed" in out
    assert f"estimate   {res.params.iloc[0]:.4f} (SE {res.bse.iloc[0]:.4f})" in out
    assert "tau^2 " not in out and "PI " not in out
    assert f"Q          {res.q:.4f}" in out


def test_meta_regression_knha(bcg, bcg_csv, capsys):
    code, out, err = _run(capsys, "meta", bcg_csv, "--yi", "yi", "--vi", "vi", "--mods",
                          "ablat + C(alloc)", "--test", "knha", "--labels", "author")
    assert code == 0, err
    res = mm.MetaRandom.from_formula("yi ~ ablat + C(alloc)", data=bcg,
                                     vi="vi").fit(test="knha")
    assert "Knapp-Hartung" in out and "Residual heterogeneity" in out
    for name in ("Intercept", "ablat", "C(alloc)[T.random]"):
        assert name in out
        assert f"{res.params[name]:.4f}" in out
    assert f"tau^2      {res.tau2:.4f}" in out
    assert str(res.qm_test) in out
    fitted = res.get_prediction().summary_frame()
    assert f"{fitted['obs_ci_lower'].iloc[0]:.4f}" in out
    assert "Aronson" in out  # rows labelled by --labels


def test_meta_plots(bcg_csv, tmp_path, capsys):
    forest, funnel = tmp_path / "forest.png", tmp_path / "funnel.png"
    code, out, err = _run(capsys, "meta", bcg_csv, "--yi", "yi", "--vi", "vi", "--labels",
                          "author", "--forest", forest, "--funnel", funnel)
    assert code == 0, err
    assert _is_png(forest) and _is_png(funnel)
    assert f"Forest plot written to {forest}" in out


def test_meta_drops_missing_rows_with_warning(bcg, tmp_path, capsys):
    bcg.loc[2, "yi"] = np.nan
    path = tmp_path / "miss.csv"
    bcg.to_csv(path, index=False)
    code, out, err = _run(capsys, "meta", path, "--yi", "yi", "--vi", "vi")
    assert code == 0
    assert "No. studies:" in out and "12" in out
    assert "metamodels: warning: 1 row(s) with missing values were dropped" in err


@pytest.mark.parametrize("args, message", [
    (["missing.csv", "--yi", "yi", "--vi", "vi"], "file not found: "),
    (["{csv}", "--yi", "effect", "--vi", "vi"], "--yi: column 'effect' not found"),
    (["{csv}", "--yi", "yi", "--vi", "var"], "--vi: column 'var' not found"),
    (["{csv}", "--yi", "yi", "--sei", "se"], "--sei: column 'se' not found"),
    (["{csv}", "--yi", "yi", "--vi", "vi", "--labels", "name"], "--labels: column 'name'"),
    (["{csv}", "--yi", "yi", "--vi", "vi", "--method", "XX"], "unknown method 'XX'"),
    (["{csv}", "--yi", "yi", "--vi", "vi", "--mods", "latitude"], "latitude"),
    (["{csv}", "--yi", "author", "--vi", "vi"], "non-numeric"),
    (["{csv}", "--yi", "yi", "--vi", "vi", "--method", "FE", "--test", "knha"], "knha"),
    (["{csv}", "--yi", "yi", "--vi", "vi", "--alpha", "2"], "--alpha"),
    (["{csv}", "--yi", "yi", "--vi", "tpos", "--sep", "\\t"], "only one column"),
    (["{csv}", "--yi", "yi"], "--vi --sei is required"),
    (["{csv}", "--yi", "yi", "--vi", "vi", "--sei", "sei"], "not allowed"),
    (["{csv}", "--yi", "yi", "--vi", "vi", "--test", "w"], "invalid choice"),
])
def test_meta_errors(args, message, bcg_csv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [a.format(csv=bcg_csv) for a in args]
    code, out, err = _run(capsys, "meta", *args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("metamodels") and "error:" in lines[0]
    assert message in lines[0]
    assert "Traceback" not in err


def test_meta_invalid_variances(bcg, tmp_path, capsys):
    bcg.loc[0, "vi"] = -1.0
    path = tmp_path / "neg.csv"
    bcg.to_csv(path, index=False)
    code, _, err = _run(capsys, "meta", path, "--yi", "yi", "--vi", "vi")
    assert code == 2
    assert "strictly positive" in err and len(err.strip().splitlines()) == 1


# ----------------------------------------------- bad input: one line, exit code 2
def _one_error_line(code, out, err):
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("metamodels: error: ")
    return lines[0]


@pytest.mark.parametrize("column, value, option, message", [
    ("sei", -0.2, "sei", "must be strictly positive"),
    ("sei", 0.0, "sei", "must be strictly positive"),
    ("sei", np.inf, "sei", "has infinite values"),
    ("sei", -np.inf, "sei", "has infinite values"),
    ("vi", np.inf, "vi", "has infinite values"),
    ("vi", -0.5, "vi", "must be strictly positive"),
    ("yi", np.inf, "vi", "has infinite values"),
])
def test_meta_refuses_invalid_standard_errors(column, value, option, message, bcg, tmp_path,
                                              capsys):
    bcg.loc[3, column] = value
    path = tmp_path / "bad.csv"
    bcg.to_csv(path, index=False)
    code, out, err = _run(capsys, "meta", path, "--yi", "yi", f"--{option}", option)
    line = _one_error_line(code, out, err)
    assert f"column {column!r} {message}: data row 4 has {float(value)!r}" in line


def _bad_files(tmp_path, bcg_csv):
    raw = gzip.compress(Path(bcg_csv).read_bytes())
    cases = {}

    def add(name, data, message):
        p = tmp_path / name
        p.write_bytes(data)
        cases[name] = (p, message)

    add("trunc.csv.gz", raw[: len(raw) // 2], "cannot read")
    corrupt = bytearray(raw)
    for i in range(40, 80):
        corrupt[i] ^= 0x5A
    add("corrupt.csv.gz", bytes(corrupt), "cannot read")
    add("bzip.csv.bz2", b"BZh91AY&SYnot really bzip2", "cannot read")
    add("binary.csv", b"\xff\xfe\x00\x01yi,vi\n\x00\x00\n", "cannot read")
    add("empty.csv", b"", "is empty")
    add("header.csv", b"yi,vi\n", "contains no data rows")
    add("quote.csv", b'yi,vi\n0.1,0.2\n"0.3,0.4\n', "cannot read")
    (tmp_path / "adir.csv").mkdir()
    cases["adir.csv"] = (tmp_path / "adir.csv", "is a directory")
    return cases


@pytest.mark.parametrize("name", ["trunc.csv.gz", "corrupt.csv.gz", "bzip.csv.bz2",
                                  "binary.csv", "empty.csv", "header.csv", "quote.csv",
                                  "adir.csv"])
def test_meta_unreadable_files_one_line(name, bcg_csv, tmp_path, capsys):
    path, message = _bad_files(tmp_path, bcg_csv)[name]
    code, out, err = _run(capsys, "meta", path, "--yi", "yi", "--vi", "vi")
    line = _one_error_line(code, out, err)
    assert str(path) in line and message in line


def test_meta_permission_denied_one_line(bcg_csv, capsys, monkeypatch):
    import pandas as pd

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(pd, "read_csv", denied)
    code, out, err = _run(capsys, "meta", bcg_csv, "--yi", "yi", "--vi", "vi")
    assert _one_error_line(code, out, err) == \
        f"metamodels: error: cannot read {bcg_csv}: Permission denied"


def test_meta_no_usable_row_one_line(bcg, tmp_path, capsys):
    bcg["yi"] = np.nan
    path = tmp_path / "nan.csv"
    bcg.to_csv(path, index=False)
    code, out, err = _run(capsys, "meta", path, "--yi", "yi", "--sei", "sei")
    assert _one_error_line(code, out, err) == (
        f"metamodels: error: no usable study in {path}: every row lacks the effect size "
        "(--yi yi) or its sei (--sei sei)")
