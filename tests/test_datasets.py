"""Tests for the bundled datasets in metamodels.datasets.

The expected shapes, column sums and spot values are written out literally,
so the package data is tested without anything outside the package. When
the R reference files in ../shared/reference (see conftest.py) are available, every
bundled column is additionally compared with them.
"""
import importlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metamodels.datasets as datasets
from conftest import shared_path, shared_skip_reason

REFERENCE_DIR = Path(os.environ.get("METAMODELS_REFERENCE_DIR", shared_path("reference")))

I, F, S = "int", "float", "str"

# name -> (columns with kind, {numeric column: sum}, {(row, column): value}, words
# that DESCR/SOURCE must mention)
SPECS = {
    "bcg": dict(
        columns={"trial": I, "author": S, "year": I, "tpos": I, "tneg": I,
                 "cpos": I, "cneg": I, "ablat": I, "alloc": S},
        nrows=13,
        sums={"trial": 91, "year": 25561, "tpos": 1065, "tneg": 189999,
              "cpos": 1510, "cneg": 164773, "ablat": 435},
        spots={(0, "author"): "Aronson", (0, "tpos"): 4, (0, "cneg"): 128,
               (7, "author"): "TPT Madras", (7, "tneg"): 87886,
               (12, "alloc"): "systematic", (4, "alloc"): "alternate"},
        cite=["Colditz", "1994", "metadat"],
    ),
    "normand1999": dict(
        columns={"study": I, "source": S, "n1i": I, "m1i": I, "sd1i": I,
                 "n2i": I, "m2i": I, "sd2i": I},
        nrows=9,
        sums={"study": 45, "n1i": 548, "m1i": 348, "sd1i": 194, "n2i": 610,
              "m2i": 491, "sd2i": 241},
        spots={(0, "source"): "Edinburgh", (0, "m2i"): 75,
               (3, "source"): "Orpington-Severe", (3, "sd2i"): 48,
               (8, "source"): "Uppsala", (8, "n1i"): 60},
        cite=["Normand", "1999", "Statistics in Medicine", "metadat"],
    ),
    "molloy2014": dict(
        columns={"authors": S, "year": I, "ni": I, "ri": F},
        nrows=16,
        sums={"year": 32077, "ni": 3509, "ri": 2.484},
        spots={(0, "authors"): "Axelsson et al.", (0, "ri"): 0.187,
               (10, "ri"): -0.09, (11, "authors"): "O'Cleirigh et al.",
               (15, "ni"): 65},
        cite=["Molloy", "2014", "metadat"],
    ),
    "craft2003": dict(
        columns={"study": I, "ni": I, "ri": F, "var1": S, "var2": S},
        nrows=60,
        sums={"study": 1122, "ni": 3798, "ri": -1.19},
        spots={(0, "var1"): "acog", (0, "ri"): -0.55, (59, "var2"): "conf",
               (59, "ni"): 30},
        cite=["Craft", "2003", "metadat"],
    ),
    "fev_sim": dict(
        columns={"patient": I, "baseval": F, "drug": S, "hour": I, "fev": F},
        nrows=427,
        sums={"patient": 90659, "hour": 1826, "fev": 1127.39, "baseval": 1065.47},
        spots={(0, "patient"): 201, (0, "baseval"): 3.49, (0, "drug"): "a",
               (0, "fev"): 3.45, (100, "patient"): 206, (100, "drug"): "p"},
        cite=["Simulated", "SAS", "PROC MIXED"],
    ),
    "md_example": dict(
        columns={"study": S, "n1i": I, "m1i": F, "sd1i": F, "n2i": I,
                 "m2i": F, "sd2i": F},
        nrows=6,
        sums={"n1i": 275, "m1i": 39.79, "sd1i": 21.44, "n2i": 269,
              "m2i": 43.12, "sd2i": 23.58},
        spots={(0, "study"): "Turner 2000c", (0, "sd1i"): 4.25,
               (1, "m1i"): 6.89, (2, "m2i"): 7.12, (3, "sd2i"): 1.8,
               (5, "study"): "Douglas 1987", (5, "m1i"): 12.1},
        cite=["Turner", "Prasad", "Petrus", "Douglas"],
    ),
    "konstantopoulos2011": dict(
        columns={"district": I, "school": I, "study": I, "year": I,
                 "yi": F, "vi": F},
        nrows=56,
        sums={"district": 5679, "school": 200, "study": 1596,
              "year": 111415, "yi": 6.72, "vi": 1.458},
        spots={(0, "district"): 11, (0, "yi"): -0.18, (0, "vi"): 0.118,
               (55, "study"): 56},
        cite=["Konstantopoulos", "2011", "Research Synthesis Methods",
              "metadat"],
    ),
    "berkey1998": dict(
        columns={"trial": I, "author": S, "year": I, "ni": I, "outcome": S,
                 "yi": F, "vi": F, "v1i": F, "v2i": F},
        nrows=10,
        sums={"trial": 30, "year": 19838, "ni": 424, "yi": 0.15,
              "vi": 0.0748, "v1i": 0.0457, "v2i": 0.0545},
        spots={(0, "author"): "Pihlstrom et al.", (0, "outcome"): "PD",
               (0, "yi"): 0.47, (0, "v2i"): 0.003, (1, "outcome"): "AL",
               (1, "yi"): -0.32, (9, "v2i"): 0.0304},
        cite=["Berkey", "1998", "Statistics in Medicine", "metadat"],
    ),
    "kalaian1996": dict(
        columns={"id": I, "study": S, "year": I, "n1i": I, "n2i": I, "outcome": S,
                 "yi": F, "vi": F, "hrs": F, "ets": I, "homework": S, "type": I},
        nrows=67,
        sums={"id": 2278, "year": 132331, "n1i": 3281, "n2i": 5368, "yi": 7.36,
              "vi": 5.422, "ets": 37},
        spots={(0, "study"): "Alderman & Powers (A)", (0, "yi"): 0.22,
               (0, "vi"): 0.0817, (9, "outcome"): "math", (66, "study"): "Zuman (A)",
               (66, "yi"): 0.57, (66, "hrs"): 27.0},
        cite=["Kalaian", "Raudenbush", "1996", "Psychological Methods", "metadat"],
    ),
    "bangertdrowns2004": dict(
        columns={"id": I, "author": S, "year": I, "ni": I, "meta": F,
                 "yi": F, "vi": F},
        nrows=48,
        sums={"id": 1176, "year": 95519, "ni": 5576, "meta": 17.0,
              "yi": 12.47, "vi": 3.327},
        spots={(0, "author"): "Ashworth", (0, "ni"): 60, (0, "yi"): 0.65,
               (1, "yi"): -0.75, (17, "author"): "Guckin"},
        cite=["Bangert-Drowns", "2004", "Review of Educational Research",
              "metadat"],
    ),
    "sleepstudy": dict(
        columns={"Reaction": F, "Days": I, "Subject": S},
        nrows=180,
        sums={"Reaction": 53731.4205, "Days": 810},
        spots={(0, "Reaction"): 249.56, (0, "Subject"): "308",
               (1, "Reaction"): 258.7047, (179, "Subject"): "372",
               (179, "Days"): 9},
        cite=["Belenky", "2003", "lme4"],
    ),
    "orthodont": dict(
        columns={"distance": F, "age": I, "Subject": S, "Sex": S},
        nrows=108,
        sums={"distance": 2594.5, "age": 1188},
        spots={(0, "distance"): 26.0, (0, "Subject"): "M01",
               (0, "Sex"): "Male", (64, "Subject"): "F01",
               (107, "Sex"): "Female", (107, "age"): 14},
        cite=["Potthoff", "Roy", "1964", "nlme", "Pinheiro"],
    ),
    "grunfeld": dict(
        columns={"firm": I, "year": I, "inv": F, "value": F, "capital": F},
        nrows=200,
        sums={"firm": 1100, "year": 388900, "inv": 29191.65,
              "value": 216336.22, "capital": 55203.43},
        spots={(0, "inv"): 317.6, (0, "value"): 3078.5, (0, "capital"): 2.8,
               (199, "firm"): 10, (199, "year"): 1954},
        cite=["Grunfeld", "1958", "plm", "Baltagi"],
    ),
    "nielweise2007": dict(
        columns={"study": I, "author": S, "year": I, "ai": I, "n1i": I, "ci": I,
                 "n2i": I},
        nrows=18,
        sums={"study": 171, "year": 36016, "ai": 27, "n1i": 2495, "ci": 87,
              "n2i": 2495},
        spots={(0, "author"): "Bach", (0, "ai"): 0, (0, "ci"): 3,
               (17, "author"): "Osma", (17, "n2i"): 69},
        cite=["Niel-Weise", "2007", "Intensive Care Medicine", "metadat"],
    ),
    "hart1999": dict(
        columns={"trial": I, "study": S, "year": I, "x1i": I, "n1i": I, "t1i": I,
                 "x2i": I, "n2i": I, "t2i": I, "compgrp": S, "prevtype": S,
                 "trinr": S},
        nrows=6,
        sums={"trial": 21, "year": 11946, "x1i": 53, "n1i": 1450, "t1i": 2396,
              "x2i": 133, "n2i": 1450, "t2i": 2207},
        spots={(0, "study"): "AFASAK", (0, "x1i"): 9, (5, "study"): "EAFT",
               (5, "t2i"): 405, (5, "prevtype"): "secondary",
               (5, "trinr"): "2.5-4.0"},
        cite=["Hart", "1999", "Annals of Internal Medicine", "metadat"],
    ),
    "ishak2007": dict(
        columns={"study": S, "time": I, "months": I, "yi": F, "vi": F, "mdur": F},
        nrows=82,
        sums={"time": 187, "months": 768, "yi": -2188.7, "vi": 1980.6, "mdur": 1159.1},
        spots={(0, "study"): "Alegret (2001)", (0, "yi"): -33.4, (0, "vi"): 14.3,
               (2, "months"): 12, (81, "study"): "Weselburger (2002)", (81, "vi"): 40.8},
        cite=["Ishak", "2007", "Clinical Trials", "metadat"],
    ),
    "ovary": dict(
        columns={"Mare": S, "Time": F, "follicles": I},
        nrows=308,
        sums={"Time": 154.0000052, "follicles": 3707},
        spots={(0, "Mare"): "1", (0, "Time"): -0.1363636, (0, "follicles"): 20,
               (307, "Mare"): "9", (307, "follicles"): 8},
        cite=["Pierson", "1987", "nlme", "Pinheiro"],
    ),
}

NAMES = sorted(SPECS)

# dataset -> (reference file, key holding the table, columns left out)
REFERENCE = {
    "bcg": ("meta_bcg.json", "data", {"yi", "vi"}),
    "normand1999": ("effect_sizes.json", "normand1999", set()),
    "molloy2014": ("effect_sizes.json", "molloy2014", set()),
    "craft2003": ("masem.json", "data", set()),
    "konstantopoulos2011": ("multilevel_konstantopoulos2011.json", "data",
                            set()),
    "berkey1998": ("bivariate_berkey1998.json", "data", set()),
    "bangertdrowns2004": ("location_scale_bangertdrowns2004.json", "data",
                          {"lni"}),
    "sleepstudy": ("mixed_sleepstudy.json", "data", set()),
    "orthodont": ("mixed_orthodont_repeated.json", "data", set()),
    "grunfeld": ("panel_grunfeld.json", "data", set()),
}


def _is_text(series):
    return (not pd.api.types.is_numeric_dtype(series)
            and pd.api.types.is_string_dtype(series)
            and all(isinstance(v, str) for v in series))


# --------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------

def test_list_datasets():
    assert datasets.list_datasets() == NAMES


def test_every_dataset_has_package_data():
    root = Path(datasets.__file__).parent
    folders = sorted(p.name for p in root.iterdir()
                     if p.is_dir() and (p / "__init__.py").exists())
    assert folders == NAMES
    for name in NAMES:
        assert (root / name / f"{name}.csv").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_access_paths_agree(name):
    module = importlib.import_module(f"metamodels.datasets.{name}")
    assert getattr(datasets, name) is module
    assert datasets.get_module(name) is module
    pd.testing.assert_frame_equal(datasets.load(name), module.load())


def test_from_import():
    from metamodels.datasets import bcg, sleepstudy

    assert bcg.load().shape == (13, 9)
    assert sleepstudy.load().shape == (180, 3)
    assert "bcg" in dir(datasets)


@pytest.mark.parametrize("bad", ["nope", "BCG", "", "_utils", None])
def test_unknown_name(bad):
    with pytest.raises(ValueError) as info:
        datasets.load(bad)
    for name in NAMES:
        assert name in str(info.value)


def test_unknown_attribute():
    with pytest.raises(AttributeError):
        datasets.not_a_dataset


# --------------------------------------------------------------------------
# contents
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_shape_columns_dtypes(name):
    spec = SPECS[name]
    df = datasets.load(name)
    assert isinstance(df, pd.DataFrame)
    assert df.shape == (spec["nrows"], len(spec["columns"]))
    assert list(df.columns) == list(spec["columns"])
    assert isinstance(df.index, pd.RangeIndex) and df.index.start == 0
    for col, kind in spec["columns"].items():
        if kind == I:
            assert df[col].dtype == np.dtype("int64"), col
        elif kind == F:
            assert df[col].dtype == np.dtype("float64"), col
        else:
            assert _is_text(df[col]), col


@pytest.mark.parametrize("name", NAMES)
def test_sums_and_spot_values(name):
    spec = SPECS[name]
    df = datasets.load(name)
    for col, total in spec["sums"].items():
        if spec["columns"][col] == I:
            assert int(df[col].sum()) == total, col
        else:
            assert df[col].sum() == pytest.approx(total, rel=1e-12), col
    for (row, col), value in spec["spots"].items():
        got = df.loc[row, col]
        if isinstance(value, str):
            assert got == value, (row, col)
        else:
            assert got == pytest.approx(value, rel=0, abs=1e-12), (row, col)


def test_missing_values():
    for name in NAMES:
        df = datasets.load(name)
        if name == "bangertdrowns2004":
            assert df["meta"].isna().sum() == 2
            assert df.drop(columns="meta").notna().all().all()
            assert set(df["meta"].dropna()) == {0.0, 1.0}
        elif name == "craft2003":
            assert df["ri"].isna().sum() == 6
            assert df.drop(columns="ri").notna().all().all()
        elif name == "kalaian1996":
            assert df["hrs"].isna().sum() == 2
            assert df.drop(columns="hrs").notna().all().all()
        else:
            assert df.notna().all().all(), name


def test_structure():
    bcg = datasets.load("bcg")
    assert sorted(bcg["alloc"].unique()) == ["alternate", "random",
                                             "systematic"]
    assert (bcg["trial"] == np.arange(1, 14)).all()

    berkey = datasets.load("berkey1998")
    assert list(berkey["outcome"]) == ["PD", "AL"] * 5
    for _, g in berkey.groupby("trial"):
        v = g[["v1i", "v2i"]].to_numpy()
        assert np.allclose(v, v.T)
        assert np.allclose(np.diag(v), g["vi"])
        assert np.all(np.linalg.eigvalsh(v) > 0)

    konst = datasets.load("konstantopoulos2011")
    assert konst["district"].nunique() == 11
    assert not konst.duplicated(["district", "school"]).any()

    sleep = datasets.load("sleepstudy")
    assert sleep["Subject"].nunique() == 18
    assert (sleep.groupby("Subject")["Days"].apply(sorted)
            .map(lambda d: d == list(range(10))).all())

    ortho = datasets.load("orthodont")
    assert ortho["Subject"].nunique() == 27
    assert (ortho.groupby("Subject")["Sex"].nunique() == 1).all()
    assert ortho.drop_duplicates("Subject")["Sex"].value_counts().to_dict() \
        == {"Male": 16, "Female": 11}
    assert sorted(ortho["age"].unique()) == [8, 10, 12, 14]

    grun = datasets.load("grunfeld")
    assert grun.groupby("firm").size().to_dict() == {f: 20 for f in
                                                     range(1, 11)}
    assert grun["year"].min() == 1935 and grun["year"].max() == 1954


def test_md_example_pooled_results_in_descr():
    """The pooled values stated in DESCR follow from the bundled data."""
    from metamodels.datasets import md_example

    df = md_example.load()
    y = (df["m1i"] - df["m2i"]).to_numpy()
    v = (df["sd1i"] ** 2 / df["n1i"] + df["sd2i"] ** 2 / df["n2i"]).to_numpy()
    z = 1.959963984540054

    w = 1 / v
    fe = np.sum(w * y) / np.sum(w)
    se_fe = np.sqrt(1 / np.sum(w))
    q = np.sum(w * (y - fe) ** 2)
    tau2 = max(0.0, (q - (len(y) - 1))
               / (np.sum(w) - np.sum(w ** 2) / np.sum(w)))
    ws = 1 / (v + tau2)
    re = np.sum(ws * y) / np.sum(ws)
    se_re = np.sqrt(1 / np.sum(ws))

    fe_txt = "{:.2f} [{:.2f}, {:.2f}]".format(fe, fe - z * se_fe,
                                              fe + z * se_fe)
    re_txt = "{:.2f} [{:.2f},  {:.2f}]".format(re, re - z * se_re,
                                               re + z * se_re)
    assert fe_txt == "-2.04 [-2.45, -1.64]"
    assert re_txt == "-1.21 [-2.69,  0.28]"
    assert fe_txt in md_example.DESCR
    assert re_txt in md_example.DESCR
    assert "DerSimonian-Laird" in md_example.DESCR
    assert "fixed" in md_example.DESCR
    assert "Q = {:.2f}".format(q) in md_example.DESCR
    assert "tau^2 = {:.2f}".format(tau2) in md_example.DESCR


# --------------------------------------------------------------------------
# independence of loads
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_loads_are_independent(name):
    first = datasets.load(name)
    second = datasets.load(name)
    assert first is not second
    pd.testing.assert_frame_equal(first, second)
    for col in first.columns:
        if pd.api.types.is_numeric_dtype(first[col]):
            assert not np.shares_memory(first[col].to_numpy(),
                                        second[col].to_numpy())
    # modifying one copy leaves later loads untouched
    reference = second.copy(deep=True)
    first.iloc[0, 0] = first.iloc[1, 0]
    del first[first.columns[-1]]
    first["extra"] = 1
    pd.testing.assert_frame_equal(second, reference)
    pd.testing.assert_frame_equal(datasets.load(name), reference)


# --------------------------------------------------------------------------
# documentation
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_descr_and_source(name):
    module = datasets.get_module(name)
    spec = SPECS[name]
    for attr in ("DESCR", "SOURCE", "TITLE"):
        assert isinstance(getattr(module, attr), str)
        assert getattr(module, attr).strip()
    assert module.SOURCE.strip() in module.DESCR
    for word in spec["cite"]:
        assert word in module.SOURCE, word
    assert f"Number of rows: {spec['nrows']}" in module.DESCR
    for col in spec["columns"]:
        assert f"\n{col} " in module.DESCR, col
    assert module.load.__doc__


# --------------------------------------------------------------------------
# comparison with the R reference files (skipped without ../shared)
# --------------------------------------------------------------------------

def _skip_reason(filename):
    if "METAMODELS_REFERENCE_DIR" in os.environ:
        return (f"needs {REFERENCE_DIR / filename} (the project's R reference files, not "
                "distributed with the package; METAMODELS_REFERENCE_DIR)")
    return shared_skip_reason("reference", filename,
                              what="the project's R reference files")


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_matches_r_reference(name):
    filename, key, left_out = REFERENCE[name]
    path = REFERENCE_DIR / filename
    if not path.is_file():
        pytest.skip(_skip_reason(filename))
    with open(path, encoding="utf-8") as fh:
        ref = pd.DataFrame(json.load(fh)[key])
    df = datasets.load(name)
    assert set(ref.columns) - set(df.columns) == left_out
    assert set(df.columns) <= set(ref.columns)
    assert len(df) == len(ref)
    for col in df.columns:
        got, want = df[col], ref[col]
        if pd.api.types.is_numeric_dtype(got):
            np.testing.assert_array_equal(got.to_numpy(float),
                                          want.to_numpy(float), err_msg=col)
        else:
            assert list(got) == [str(x) for x in want], col


def test_bcg_reference_tables_agree():
    path = REFERENCE_DIR / "effect_sizes.json"
    if not path.is_file():
        pytest.skip(_skip_reason("effect_sizes.json"))
    with open(path, encoding="utf-8") as fh:
        ref = pd.DataFrame(json.load(fh)["bcg"])
    df = datasets.load("bcg")
    assert list(ref.columns) == list(df.columns)
    for col in df.columns:
        assert list(df[col]) == list(ref[col]), col


def test_datasets_page_lists_every_dataset():
    """docs/datasets.md has a row for every bundled dataset, with its shape and columns."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "datasets.md").read_text("utf-8")
    for name in datasets.list_datasets():
        df = datasets.load(name)
        shape = re.search(rf"^\| `{name}` \| (\d+) × (\d+) \|", text, flags=re.M)
        assert shape, f"{name}: no row in the table of datasets"
        assert (int(shape.group(1)), int(shape.group(2))) == df.shape, name
        cols = re.search(rf"^\| `{name}` \| `([^|`]+)`[^|]*\|$", text, flags=re.M)
        assert cols, f"{name}: no row in the table of columns"
        assert [c.strip() for c in cols.group(1).split(",")] == list(df.columns), name
