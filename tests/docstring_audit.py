"""Audit of the public API's docstrings and type hints.

The public API is what :func:`metamodels._public_api.public_objects` lists (the names
in ``__all__`` of :mod:`metamodels` and its user-facing subpackages, and every results
class), with every public method and property those classes define or inherit from a
metamodels class. For each definition the audit checks:

* ``nodoc``: it has a docstring;
* ``params``: a callable with parameters has a numpydoc ``Parameters`` section naming
  every parameter (``a, b : int`` and ``**kwargs`` count);
* ``returns``: a function or method whose source returns a value has a ``Returns``
  (or ``Yields``) section;
* ``hints``: every parameter and the return value are annotated.

Run ``python tests/docstring_audit.py [--package metamodels.mixed] [--kind params]``
to list the gaps; ``tests/test_docstrings.py`` asserts there are none.
"""
from __future__ import annotations

import argparse
import inspect
import re
import sys
import textwrap
from collections import Counter
from pathlib import Path

# audit the checkout this file belongs to, not whatever metamodels is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from statsmodels.tools.docstring import NumpyDocString  # noqa: E402

from metamodels._public_api import is_ours as _ours
from metamodels._public_api import public_objects

_RETURNS_VALUE = re.compile(r"^\s*(return|yield)\s+(?!None\s*$)\S", re.M)


def _unwrap(attr):
    """(kind, function-or-None, doc) of a class attribute."""
    if isinstance(attr, property):
        return "property", attr.fget, attr.fget.__doc__ if attr.fget else attr.__doc__
    func = getattr(attr, "func", None) or getattr(attr, "fget", None)
    if func is not None and not inspect.isfunction(attr):   # cache_readonly etc.
        return "property", func, func.__doc__
    if isinstance(attr, (staticmethod, classmethod)):
        return "method", attr.__func__, attr.__func__.__doc__
    if inspect.isfunction(attr):
        return "method", attr, attr.__doc__
    return None, None, None


def definitions(objs=None):
    """Yield (qualified name, kind, function or class, docstring) once per definition
    of ``objs`` (default: the public API)."""
    seen = set()
    if objs is None:
        objs = {f"{o.__module__}.{o.__qualname__}": o for o in public_objects().values()}
    for key, obj in sorted(objs.items()):
        if inspect.isfunction(obj):
            if key not in seen:
                seen.add(key)
                yield key, "function", obj, obj.__doc__
            continue
        if key not in seen:
            seen.add(key)
            yield key, "class", obj, obj.__doc__
        for klass in obj.__mro__:
            if not _ours(klass):
                continue
            for name, attr in vars(klass).items():
                if name.startswith("_"):
                    continue
                kind, func, doc = _unwrap(attr)
                if kind is None:
                    continue
                qual = f"{klass.__module__}.{klass.__qualname__}.{name}"
                if qual in seen:
                    continue
                seen.add(qual)
                yield qual, kind, func, doc


def _parameters(obj, kind):
    target = obj.__init__ if kind == "class" else obj
    if kind == "class" and not _ours(target):
        return [], None
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return [], None
    params = [p for name, p in sig.parameters.items() if name not in ("self", "cls")]
    return params, sig


def _documented_names(doc: str) -> set:
    names = set()
    parsed = NumpyDocString(textwrap.dedent(doc) if doc else "")
    for section in ("Parameters", "Other Parameters"):
        for p in parsed[section]:
            for n in p.name.split(","):
                names.add(n.strip().lstrip("*"))
    return names


def _has_returns(doc: str) -> bool:
    parsed = NumpyDocString(inspect.cleandoc(doc))
    return bool(parsed["Returns"] or parsed["Yields"])


def audit():
    """List of (qualified name, problem kind, detail) for the public API."""
    return audit_objects(None)


def audit_objects(objs):
    """List of (qualified name, problem kind, detail) for ``objs`` (a dict of name to
    function or class; ``None`` for the public API)."""
    problems = []
    for qual, kind, obj, doc in definitions(objs):
        if not doc or not doc.strip():
            problems.append((qual, "nodoc", ""))
        if kind == "property" or obj is None:
            continue
        params, sig = _parameters(obj, kind)
        if doc and params:
            doc_all = doc
            if kind == "class" and _ours(obj.__init__) and obj.__init__.__doc__:
                doc_all = doc + "\n" + obj.__init__.__doc__
            try:
                names = _documented_names(inspect.cleandoc(doc_all))
            except Exception as exc:  # malformed section
                problems.append((qual, "params", f"unparsable docstring: {exc}"))
                names = None
            if names is not None:
                missing = [p.name for p in params if p.name not in names]
                if missing:
                    problems.append((qual, "params", ", ".join(missing)))
        if kind in ("function", "method") and doc:
            try:
                src = inspect.getsource(obj)
            except (OSError, TypeError):
                src = ""
            body = src.split(":", 1)[-1]
            if _RETURNS_VALUE.search(body) and not _has_returns(doc):
                problems.append((qual, "returns", ""))
        if sig is not None:
            unannotated = [p.name for p in params
                           if p.annotation is inspect.Parameter.empty]
            if kind != "class" and sig.return_annotation is inspect.Signature.empty:
                unannotated.append("return")
            if unannotated:
                problems.append((qual, "hints", ", ".join(unannotated)))
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--package", default="metamodels",
                    help="only definitions whose module starts with this")
    ap.add_argument("--kind", action="append",
                    help="nodoc, params, returns, hints (repeatable; default all)")
    ap.add_argument("--count", action="store_true", help="counts per package only")
    args = ap.parse_args(argv)
    probs = [p for p in audit() if p[0].startswith(args.package)
             and (not args.kind or p[1] in args.kind)]
    if args.count:
        c = Counter((".".join(q.split(".")[:2]), k) for q, k, _ in probs)
        for (pkg, k), n in sorted(c.items()):
            print(f"{pkg:32s} {k:8s} {n}")
    else:
        for q, k, d in probs:
            print(f"{k:8s} {q}  {d}")
    print(f"{len(probs)} problems in {sum(1 for _ in definitions())} public definitions")


if __name__ == "__main__":
    main()
