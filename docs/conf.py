"""Sphinx configuration of the metamodels documentation site.

Build from the repository root with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``
(``pip install '.[docs]'`` first); the site is written to ``docs/_build/html/index.html``.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))          # document the checkout, not an installed copy
os.environ.setdefault("MPLBACKEND", "Agg")

import metamodels  # noqa: E402

project = "metamodels"
author = "the metamodels developers"
copyright = "2026, the metamodels developers"
release = metamodels.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "api/generated/*.md"]

# --- MyST: the existing Markdown pages ------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# links from docs/ pages to files outside docs/ (README, tests, benchmarks) are plain
# links to the repository, not documents of this site
myst_url_schemes = ["http", "https", "mailto"]

# --- API reference ---------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"            # the numpydoc Parameters sections carry the types
numpydoc_show_class_members = False   # the class template lists members itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set = set()

# --- HTML ------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"metamodels {release}"
html_static_path: list = []
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
}

# --- API reference pages, written from the public API at every build ---------------
# (docs/api/ is generated; metamodels/_public_api.py decides what is public)
SECTIONS = {
    "univariate": "Univariate meta-analysis",
    "multivariate": "Multilevel and multivariate meta-analysis",
    "locscale": "Location-scale meta-analysis",
    "glmm": "Meta-analytic GLMMs",
    "mixed": "Linear mixed models",
    "panel": "Panel models",
    "bayes": "Bayesian models",
    "batch": "Batch and GWAS meta-analysis",
    "diagnostics": "Diagnostics, publication bias and robust inference",
    "effectsize": "Effect sizes",
    "plots": "Plots",
    "inference": "Inference: tests, df and comparisons",
    "summary": "Summary tables",
    "formula": "Formula terms",
    "base": "Shared results classes",
    "datasets": "Datasets",
    "exceptions": "Exceptions and warnings",
}


def _write_api_pages(outdir: Path) -> None:
    from metamodels._public_api import public_objects, section_of

    outdir.mkdir(exist_ok=True)
    # stale pages of names that moved or went private would be orphans (a warning)
    shutil.rmtree(outdir / "generated", ignore_errors=True)
    groups: dict = {}
    for name, obj in public_objects().items():
        groups.setdefault(section_of(obj), []).append((name, obj))
    unknown = set(groups) - set(SECTIONS)
    if unknown:
        raise RuntimeError(f"docs/conf.py: no API section title for {sorted(unknown)}")
    index = ["API reference", "=============", "",
             "Every public class and function, grouped by what it is for. Results classes",
             "are what ``fit()`` returns.", "", ".. toctree::", "   :maxdepth: 1", ""]
    for sec, title in SECTIONS.items():
        if sec not in groups:
            continue
        index.append(f"   {sec}")
        classes = [n for n, o in groups[sec] if isinstance(o, type)]
        funcs = [n for n, o in groups[sec] if not isinstance(o, type)]
        lines = [title, "=" * len(title), ""]
        for head, names in (("Classes", classes), ("Functions", funcs)):
            if not names:
                continue
            lines += [head, "-" * len(head), "", ".. autosummary::",
                      "   :toctree: generated", "   :nosignatures:", ""]
            lines += [f"   {n}" for n in names] + [""]
        text = "\n".join(lines)
        page = outdir / f"{sec}.rst"
        if not page.exists() or page.read_text() != text:
            page.write_text(text)
    text = "\n".join(index) + "\n"
    if not (outdir / "index.rst").exists() or (outdir / "index.rst").read_text() != text:
        (outdir / "index.rst").write_text(text)


_write_api_pages(Path(__file__).resolve().parent / "api")


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document members written in metamodels; statsmodels' inherited ones are
    documented by statsmodels (docs/statsmodels_interface.md lists them)."""
    target = getattr(obj, "fget", None) or getattr(obj, "func", None) or obj
    module = getattr(target, "__module__", None)
    if module is not None and not module.startswith("metamodels"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
