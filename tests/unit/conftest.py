"""Unit tests are pure: no server, and nothing written into the repository.

The guard below lists every file of the checkout (apart from the virtualenv, git, caches,
bytecode and the running test stack's state directory) before the first unit test and after
the last, and fails the run if one appeared or changed. Settings for code that writes state
(faust's data directory) point into ``tmp_path``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from outcome_pulse.streams.settings import PulseSettings

REPO = Path(__file__).resolve().parents[2]
_SKIPPED = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".import_linter_cache"}


def _files(root: Path, skip: set[Path]) -> dict[str, float]:
    found: dict[str, float] = {}
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if d not in _SKIPPED and here / d not in skip]
        for name in names:
            path = here / name
            try:
                found[str(path.relative_to(root))] = path.stat().st_mtime
            except FileNotFoundError:
                continue
    return found


@pytest.fixture(scope="package", autouse=True)
def _nothing_written_into_the_repository() -> Iterator[None]:
    stack_state = Path(os.environ.get("PULSE_STATE_DIR", REPO / ".state" / "test")).resolve()
    before = _files(REPO, {stack_state})
    yield
    after = _files(REPO, {stack_state})
    changed = sorted(p for p in after if before.get(p) != after[p])
    assert not changed, f"unit tests wrote into the repository: {changed}"


@pytest.fixture
def unit_settings(tmp_path: Path) -> PulseSettings:
    """Default settings with the state directory (faust's data) under ``tmp_path``."""
    return PulseSettings(state_dir=tmp_path / "state")
