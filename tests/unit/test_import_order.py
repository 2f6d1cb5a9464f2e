"""Modules at the ends of the import graph can be imported first, in a fresh interpreter: no
import cycle that only shows when a driver happens to import things in another order (the
worker's ``python -m outcome_pulse.streams.cli.main`` once failed so, through
settlement -> vocabulary -> engine -> settlement)."""

from __future__ import annotations

import subprocess
import sys

import pytest

FIRST = [
    "outcome_pulse.processors.settlement",
    "outcome_pulse.processors.vocabulary",
    "outcome_pulse.processors.forecast.period_forecast",
    "outcome_pulse.processors.forecast.open_clocks",
    "outcome_pulse.processors.forecast.training",
    "outcome_pulse.streams.cli.main",
]


@pytest.mark.parametrize("name", FIRST)
def test_module_imports_first(name: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
