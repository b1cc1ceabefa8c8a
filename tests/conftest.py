"""Shared test fixtures and the location of the seed-trial data outside the package.

Data sets used by several test modules are fixtures here (module scope: each test module
gets its own copy, as when every module loaded them itself):

* ``bcg`` -- the BCG trials as log risk ratios (``yi``, ``vi``: ``effect_size("RR", ...)``),
* ``sleepstudy``, ``grunfeld``, ``fev_sim`` -- the bundled data sets as loaded.

Files that are not distributed with the package (the seed trial data, R reference files
of the project) live in ``../shared`` next to the repository: :func:`shared_path` finds
them relative to the repository root (the parent of ``tests/``), or under the directory
named by the environment variable ``METAMODELS_SHARED_DIR``; :func:`require_shared` skips
a test that needs a missing file and says why.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import metamodels as mm

#: the repository root (parent of ``tests/``)
ROOT = Path(__file__).resolve().parent.parent

#: environment variable that overrides the location of ``../shared``
SHARED_ENV = "METAMODELS_SHARED_DIR"


def shared_dir():
    """``$METAMODELS_SHARED_DIR``, else ``<repository root>/../shared``."""
    env = os.environ.get(SHARED_ENV)
    return Path(env) if env else ROOT.parent / "shared"


def shared_path(*parts):
    """Path of a file under the shared directory (it may not exist)."""
    return shared_dir().joinpath(*parts)


def shared_skip_reason(*parts, what="the seed trial data"):
    """Why a test needing ``../shared/<parts>`` is skipped."""
    rel = "/".join(("..", "shared") + parts)
    return (f"needs {rel} ({what}, not distributed with the package; looked in "
            f"{shared_path(*parts)}, set {SHARED_ENV} to point elsewhere)")


def require_shared(*parts, what="the seed trial data"):
    """The path of ``../shared/<parts>``; skips the calling test when it is missing."""
    path = shared_path(*parts)
    if not path.exists():
        pytest.skip(shared_skip_reason(*parts, what=what))
    return path


# ------------------------------------------------------------------ data sets
@pytest.fixture(scope="module")
def bcg():
    """BCG vaccine trials with log risk ratios ``yi`` and sampling variances ``vi``."""
    return mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos",
                          di="cneg")


@pytest.fixture(scope="module")
def sleepstudy():
    """lme4's sleepstudy (Reaction, Days, Subject)."""
    return mm.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def grunfeld():
    """Grunfeld's investment panel (10 firms, 1935-1954)."""
    return mm.datasets.load("grunfeld")


@pytest.fixture(scope="module")
def fev_sim():
    """The simulated FEV crossover trial bundled with the package."""
    return mm.datasets.load("fev_sim")
