"""Regenerate the images of docs/gallery.md by running the page's own code blocks.

``python docs/make_gallery_images.py`` (from anywhere) reads ``docs/gallery.md``, runs its
``python`` blocks top to bottom in one namespace, as the test suite does, and after each
block that an image belongs to saves the block's figure (the ``Figure`` it binds to
``fig``) under ``docs/img/``. An image belongs to the block that follows it: the image
links ``![...](img/gallery_*.png)`` between two python blocks name the output of the
second. The code on the page is the only copy of the code that draws the images.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGE = HERE / "gallery.md"
DPI = 60

_FENCE = re.compile(r"^(?P<ticks>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
_IMAGE = re.compile(r"!\[[^\]]*\]\((?P<path>img/gallery_[A-Za-z0-9_]+\.png)\)")


def gallery_entries(text):
    """The python blocks of the gallery page with the images they draw.

    Returns a list of ``(line, source, image)``: ``line`` is the 1-based line of the
    opening fence, ``image`` the path (relative to ``docs/``) of the image that the
    block draws, or ``None`` for blocks that draw nothing (data loading). Raises
    ``ValueError`` when two images precede one block or an image follows the last block.
    """
    entries, pending = [], []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            pending += [(i + 1, im.group("path")) for im in _IMAGE.finditer(lines[i])]
            i += 1
            continue
        ticks, lang = m.group("ticks"), (m.group("info").strip().split(" ") or [""])[0]
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(ticks)
                                      and set(lines[i].strip()) <= {ticks[0]}):
            body.append(lines[i])
            i += 1
        i += 1
        if lang.lower() != "python":
            continue
        if len(pending) > 1:
            raise ValueError(f"gallery.md: images at lines {[ln for ln, _ in pending]} all "
                             f"precede the block at line {start}; one image per block")
        entries.append((start, "\n".join(body) + "\n", pending[0][1] if pending else None))
        pending = []
    if pending:
        raise ValueError(f"gallery.md: image {pending[0][1]} (line {pending[0][0]}) is not "
                         "followed by the python block that draws it")
    return entries


def main(argv=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    names = set(argv or [])                    # optional: only these images (e.g. gallery_qq)
    namespace = {"__name__": "__main__"}
    previous = None
    for line, src, image in gallery_entries(PAGE.read_text(encoding="utf-8")):
        namespace.pop("fig", None)
        exec(compile(src, f"gallery.md:{line}", "exec"), namespace)
        if image is None:
            continue
        fig = namespace.get("fig")
        if not isinstance(fig, Figure) or fig is previous:
            raise RuntimeError(f"gallery.md: the block at line {line} must bind its new "
                               f"figure to `fig` (image {image})")
        previous = fig
        if not names or Path(image).stem in names:
            out = HERE / image
            fig.savefig(out, dpi=DPI)
            print(f"{out.relative_to(HERE.parent)}: {out.stat().st_size / 1024:.0f} KB")
        plt.close("all")


if __name__ == "__main__":
    main(sys.argv[1:])
