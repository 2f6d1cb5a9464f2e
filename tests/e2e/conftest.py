"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import pytest

from outcome_pulse.streams.settings import PulseSettings
from tests.e2e.helpdesk import Fingerprints, clean_run


@pytest.fixture(scope="session")
def helpdesk_clean(settings: PulseSettings) -> Fingerprints:
    """Fingerprints of the helpdesk log through one worker with no faults (computed once)."""
    return clean_run(settings)
