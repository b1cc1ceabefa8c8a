"""docs/gallery.md stays complete and its images stay made by its code (issue 17).

The page's code blocks themselves run in tests/test_docs_examples.py; here: every image
the page shows is drawn by the block under it (docs/make_gallery_images.py's pairing),
exists and is small, no stale gallery image lies around, and every plotting method of
the package appears on the page.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MAX_KB = 60


def _maker():
    spec = importlib.util.spec_from_file_location("make_gallery_images",
                                                  DOCS / "make_gallery_images.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_image_is_drawn_by_a_block_and_exists():
    entries = _maker().gallery_entries((DOCS / "gallery.md").read_text(encoding="utf-8"))
    images = [img for _, _, img in entries if img]
    assert len(images) >= 25
    assert len(set(images)) == len(images), "an image is drawn twice"
    for line, src, img in entries:
        if img:
            assert re.search(r"^fig(, \w+)? = ", src, re.M), (line, img)
            path = DOCS / img
            assert path.exists(), f"{img} missing: run python docs/make_gallery_images.py"
            assert path.stat().st_size < MAX_KB * 1024, f"{img} is over {MAX_KB} KB"
    on_disk = {p.relative_to(DOCS).as_posix() for p in (DOCS / "img").glob("gallery_*.png")}
    assert on_disk == set(images), f"stale gallery images: {sorted(on_disk - set(images))}"


def test_pairing_rules():
    parse = _maker().gallery_entries
    text = "```python\nx = 1\n```\n![a](img/gallery_a.png)\n```python\nfig = f()\n```\n"
    assert parse(text) == [(1, "x = 1\n", None), (5, "fig = f()\n", "img/gallery_a.png")]
    with pytest.raises(ValueError, match="one image per block"):
        parse("![a](img/gallery_a.png)\n![b](img/gallery_b.png)\n```python\nfig = f()\n```\n")
    with pytest.raises(ValueError, match="not followed"):
        parse("```python\nfig = f()\n```\n![a](img/gallery_a.png)\n")


def test_every_plot_method_is_in_the_gallery():
    """Each ``plot_*`` method (and ``.plot()``) the package defines is shown."""
    text = (DOCS / "gallery.md").read_text(encoding="utf-8")
    names = set()
    for path in (ROOT / "metamodels").rglob("*.py"):
        names |= set(re.findall(r"^    def (plot(?:_\w+)?)\(self", path.read_text("utf-8"),
                                re.M))
    assert "plot_forest" in names
    missing = sorted(n for n in names if f".{n}(" not in text)
    assert not missing, f"plot methods not in docs/gallery.md: {missing}"


def test_every_plot_function_is_named_in_the_gallery():
    import metamodels.plots

    text = (DOCS / "gallery.md").read_text(encoding="utf-8")
    missing = [n for n in metamodels.plots.__all__ if f"`{n}`" not in text]
    assert not missing, f"metamodels.plots functions not named in docs/gallery.md: {missing}"
