"""Where the real reference logs are (see /work/shared/data/README.md).

They live beside the repository (``<repo>/../shared/data``); ``PULSE_DATA_DIR`` points
elsewhere, read through ``PulseSettings.data_dir`` like every other setting. A test that needs a
log fails with the path it looked in; it never skips, so a missing log cannot pass unnoticed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from outcome_pulse.streams.settings import PulseSettings

BPIC2013 = "bpic2013_volvo_incidents.csv.gz"
HELPDESK = "helpdesk_tickets.csv.gz"
SCMS = "scms_shipments.csv.gz"

# Short names, the same as the built-in mappings that read them.
FILES = {"bpic2013": BPIC2013, "helpdesk": HELPDESK, "scms": SCMS}


def data_dir() -> Path:
    return PulseSettings().data_dir


def dataset(name: str) -> Path:
    """The path of one reference log, by short name (``"scms"``) or file name."""
    path = data_dir() / FILES.get(name, name)
    if not path.is_file():
        pytest.fail(f"reference log {path} not found; set PULSE_DATA_DIR to the data directory")
    return path
