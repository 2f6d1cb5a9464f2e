"""A wheel built from the checkout installs in a clean virtualenv and runs there.

The installed ``pulse`` finds its built-in mappings and example contracts as package data
(nothing is read through paths into the checkout): ``pulse contract check`` on an example by
name, and ``pulse backtest`` with a built-in mapping and example contract over a slice of a
real log, both from a directory outside the repository. pip reaches PyPI for the dependencies.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from tests.datasets import dataset

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def slice_of(log: Path, lines: int, into: Path) -> Path:
    """The header and the first ``lines`` rows of a gzip-compressed CSV log."""
    with gzip.open(log, "rt", encoding="utf-8", newline="") as source:
        head = [next(source) for _ in range(lines + 1)]
    into.write_text("".join(head), encoding="utf-8")
    return into


def test_a_wheel_installs_in_a_clean_venv_and_runs_contract_check_and_backtest(
    tmp_path: Path,
) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, REPO, cwd=tmp_path)
    [wheel] = dist.glob("outcome_pulse-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    run(venv / "bin" / "pip", "install", "-q", wheel, cwd=tmp_path)
    pulse = venv / "bin" / "pulse"
    outside = tmp_path / "elsewhere"
    outside.mkdir()

    located = run(
        venv / "bin" / "python",
        "-c",
        "import outcome_pulse.streams, outcome_pulse.sinks.sql_text as s; "
        "print(outcome_pulse.streams.__file__); print(len(s.statements('queries')))",
        cwd=outside,
    )
    assert str(venv) in located.stdout and str(REPO) not in located.stdout

    checked = run(pulse, "contract", "check", "bpic2013_incidents", cwd=outside)
    assert "bpic2013_incidents: valid" in checked.stdout
    assert "KPI resolution-time" in checked.stdout

    log = slice_of(dataset("bpic2013"), 3000, outside / "bpic2013_slice.csv")
    tested = run(
        pulse,
        "backtest",
        log,
        "--mapping",
        "bpic2013",
        "--contract",
        "bpic2013_incidents",
        cwd=outside,
    )
    assert "resolution-time" in tested.stdout
    assert "Total credits" in tested.stdout
