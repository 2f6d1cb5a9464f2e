"""Golden files: generated text a change could silently alter, compared line for line.

    scripts/test.sh tests/golden                      compare (a mismatch fails with a diff)
    .venv/bin/pytest tests/golden --update-goldens    rewrite them; review ``git diff``

Outputs are taken from the real ``pulse`` command (a subprocess, 200 columns wide so that no
table is cut), with trailing spaces removed.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FILES = Path(__file__).resolve().parent / "files"

Golden = Callable[[str, str], None]


def pulse(*args: str) -> str:
    """What ``pulse ARGS`` prints on stdout (run from the repository, 200 columns wide)."""
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "outcome_pulse.streams.cli.main", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"pulse {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    return "\n".join(line.rstrip() for line in done.stdout.splitlines()) + "\n"


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    update = bool(request.config.getoption("--update-goldens"))

    def check(name: str, text: str) -> None:
        path = FILES / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.is_file(), f"{path} is missing; create it with pytest --update-goldens"
        expected = path.read_text(encoding="utf-8")
        if text != expected:
            diff = difflib.unified_diff(
                expected.splitlines(), text.splitlines(), str(path), "now", lineterm=""
            )
            pytest.fail(
                f"{name} differs from its golden file (if intended: --update-goldens and review "
                "the diff):\n" + "\n".join(diff),
                pytrace=False,
            )

    return check
