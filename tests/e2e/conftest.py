"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from outcome_pulse.streams.settings import PulseSettings
from tests.e2e.helpdesk import Fingerprints, clean_run

# A directory scripts/test.sh makes empty for one run of the suite and removes after it: what
# one pytest process computed as a reference, the others of the same run read instead of
# computing it again. Unset (a pytest run by hand), every process computes its own.
RUN_SHARED = "PULSE_TEST_RUN_DIR"


@pytest.fixture(scope="session")
def helpdesk_clean(settings: PulseSettings) -> Fingerprints:
    """Fingerprints of the helpdesk log through one worker with no faults (computed once per
    run of the suite: the parallel part's two processes and the exclusive part share it)."""
    shared = os.environ.get(RUN_SHARED)
    if not shared:
        return clean_run(settings)
    path = Path(shared) / "helpdesk_clean.json"
    with (Path(shared) / "helpdesk_clean.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other process waits for the first one's run
        if path.exists():
            stored = json.loads(path.read_text(encoding="utf-8"))
            return {name: (int(count), str(digest)) for name, (count, digest) in stored.items()}
        clean = clean_run(settings)
        path.write_text(json.dumps(clean), encoding="utf-8")
        return clean
