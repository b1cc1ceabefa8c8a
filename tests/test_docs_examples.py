"""Every ```python block of README.md and docs/*.md runs as written (issue 17).

Each Markdown page is one test: its ``python`` fenced blocks are run top to bottom in
one fresh namespace (as a reader pasting them in order into a new session would), with
the working directory a temporary directory (files the examples write land there),
matplotlib on the Agg backend and every figure closed afterwards.  A failure names the
page and the block number (1-based, counting only ``python`` blocks) and shows the
block's traceback.

Console transcripts (``python`` blocks with ``>>>`` prompts) run as doctests in the
page's namespace: each example's printed output must match what the block shows
(``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``, as for the docstrings; ``...`` stands only for
genuinely variable or elided output).  Plain blocks (no prompts) run as scripts; their
output is not compared.  Signatures and pseudo-code belong in ``text`` fences, so they
are not run.  A page whose blocks use the seed clinical trial under ``/work/shared``
(data not distributed with the package) is skipped, saying why, when that data is
absent.  Pages that are known not to run yet are listed in :data:`NOT_YET_RUNNABLE`
with the reason (visible, not silent).

The Examples sections of the package's docstrings run as doctests, one test per module
(``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``; the printed output is compared).
"""
from __future__ import annotations

import contextlib
import doctest
import os
import re
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: pages whose examples do not run yet: ``(page, reason)``; each is reported as xfail
NOT_YET_RUNNABLE: tuple[tuple[str, str], ...] = ()

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")

#: data outside the package that some examples use (seed clinical trial)
_SHARED = re.compile(r"""['"](?P<path>/work/shared/[^'"]+)['"]""")


#: doctest options of the transcripts on the pages (and of the docstring Examples)
DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def is_transcript(src):
    """Whether a block is a console transcript (some line starts with ``>>>``)."""
    return any(line.startswith(">>>") for line in src.splitlines())


def _strip_prompts(src):
    """The code of a console transcript (``>>>``/``...`` lines; output lines dropped)."""
    lines = src.splitlines()
    if not is_transcript(src):
        return src
    return "\n".join(line[4:] for line in lines if line.startswith((">>> ", "... "))
                     or line in (">>>", "..."))


def python_blocks(text, raw=False):
    """The ``python`` fenced code blocks of Markdown ``text``, in order, dedented.

    Returns a list of ``(line_number, source)``; ``line_number`` is the 1-based line of
    the opening fence.  Transcripts are returned as code only (prompts and output lines
    dropped) unless ``raw=True``, which returns every block as written.
    """
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, ticks = m.group("indent"), m.group("ticks")
        lang = m.group("info").strip().split(" ")[0].lower() if m.group("info") else ""
        start = i
        body = []
        i += 1
        while i < len(lines):
            closing = lines[i].strip()
            if closing.startswith(ticks[0] * len(ticks)) and set(closing) <= {ticks[0]}:
                break
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1
        if lang in ("python", "py", "python3"):
            src = "\n".join(body)
            blocks.append((start + 1, (src if raw else _strip_prompts(src)) + "\n"))
    return blocks


def _one_blas_thread():
    """Limit BLAS to one thread while examples run (threadpoolctl, when installed).

    The examples are small; on a loaded machine multithreaded OpenBLAS spins on tiny
    matrices and can make a page 10-100 times slower.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _pages():
    pages = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    return [p for p in pages if python_blocks(p.read_text(encoding="utf-8"))]


def _page_id(path):
    return path.relative_to(ROOT).as_posix()


_NOT_YET = dict(NOT_YET_RUNNABLE)


def _params():
    out = []
    for page in _pages():
        pid = _page_id(page)
        marks = []
        if pid in _NOT_YET:
            marks.append(pytest.mark.xfail(reason=_NOT_YET[pid], strict=True))
        out.append(pytest.param(page, id=pid, marks=marks))
    return out


def test_not_yet_runnable_lists_real_pages():
    """Every page in NOT_YET_RUNNABLE exists and has python blocks, with a reason."""
    ids = {_page_id(p) for p in _pages()}
    for page, reason in NOT_YET_RUNNABLE:
        assert page in ids, page
        assert reason.strip(), page


def test_block_extraction():
    text = (
        "intro\n```python\nx = 1\n```\n\n```text\nf(a, b)\n```\n"
        "- item\n\n  ```python\n  y = x + 1\n  ```\n"
    )
    assert python_blocks(text) == [(2, "x = 1\n"), (11, "y = x + 1\n")]
    transcript = "```python\n>>> f(1,\n...   2)\n3\n>>> g()\n```\n"
    assert python_blocks(transcript) == [(1, "f(1,\n  2)\ng()\n")]
    assert python_blocks(transcript, raw=True) == [(1, transcript[10:-4])]
    assert is_transcript(transcript[10:]) and not is_transcript("x = 1  # >>> no\n")


def test_transcript_output_is_compared():
    """A transcript whose shown output differs from the real one fails; one that
    matches (up to whitespace and ``...``) passes; the namespace is the page's."""
    ns = {"x": 41}
    assert _run_transcript(">>> print(x + 1)\n42\n", ns, "p", 1, 1) == ""
    assert _run_transcript(">>> y = [x] * 30\n>>> y\n[41, 41, ..., 41]\n", ns, "p", 1, 1) == ""
    assert ns["y"] == [41] * 30
    report = _run_transcript(">>> print(x + 1)\n43\n", ns, "p", 2, 7)
    assert "Expected:" in report and "43" in report and "42" in report
    assert "p: python block 2 (fence at line 7)" in report


@pytest.mark.parametrize("page", _params())
def test_page_examples_run(page, tmp_path, monkeypatch):
    """Run every python block of ``page`` in order in one fresh namespace."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    pid = _page_id(page)
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    missing = sorted({m.group("path") for _, src in blocks for m in _SHARED.finditer(src)
                      if not os.path.exists(m.group("path"))})
    if missing:
        pytest.skip(f"{pid}: examples use the seed clinical trial data, absent here: "
                    + ", ".join(missing))
    namespace = {"__name__": "__main__"}
    try:
        with _one_blas_thread():
            for k, (line, src) in enumerate(python_blocks(page.read_text(encoding="utf-8"),
                                                          raw=True), start=1):
                if is_transcript(src):
                    report = _run_transcript(src, namespace, pid, k, line)
                    if report:
                        pytest.fail(report, pytrace=False)
                    continue
                try:
                    code = compile(src, f"{pid}:block{k}(line {line})", "exec")
                    exec(code, namespace)
                except Exception:
                    pytest.fail(f"{pid}: python block {k} (fence at line {line}) failed:\n"
                                f"{traceback.format_exc(limit=-6)}", pytrace=False)
    finally:
        plt.close("all")


def _run_transcript(src, namespace, pid, k, line):
    """Run a ``>>>`` transcript as a doctest in ``namespace`` (kept, not copied).

    Returns ``""`` when every example prints what the block shows, else the doctest
    report naming the page and the block.
    """
    name = f"{pid}: python block {k} (fence at line {line})"
    test = doctest.DocTestParser().get_doctest(src, namespace, name, pid, line)
    test.globs = namespace          # DocTest copies its globals; the page's must persist
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
    out = []
    runner.run(test, out=out.append, clear_globs=False)
    return "".join(out) if runner.summarize(verbose=False).failed else ""


# --------------------------------------------------------------------------
# docstring Examples, as doctests
# --------------------------------------------------------------------------

def _modules_with_doctests():
    import importlib
    import pkgutil

    import metamodels

    names = []
    for info in pkgutil.walk_packages(metamodels.__path__, "metamodels."):
        spec = importlib.util.find_spec(info.name)
        origin = getattr(spec, "origin", None)
        if origin and origin.endswith(".py") and ">>>" in Path(origin).read_text("utf-8"):
            names.append(info.name)
    return ["metamodels"] + sorted(names) if ">>>" in (
        Path(metamodels.__file__).read_text("utf-8")) else sorted(names)


@pytest.mark.parametrize("module", _modules_with_doctests())
def test_docstring_examples(module, tmp_path, monkeypatch):
    """The Examples sections of the docstrings of ``module`` run and print what they show."""
    import importlib

    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    mod = importlib.import_module(module)
    tests = [t for t in doctest.DocTestFinder().find(mod, module) if t.examples]
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
    report = []
    try:
        for t in tests:
            runner.run(t, out=report.append)
    finally:
        plt.close("all")
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
