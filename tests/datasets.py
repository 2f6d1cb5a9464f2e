"""Where the real reference logs are (see /work/shared/data/README.md).

They live beside the repository (``<repo>/../shared/data``); ``PULSE_DATA_DIR`` points
elsewhere, read through ``PulseSettings.data_dir`` like every other setting. A test that needs a
log fails with the path it looked in; it never skips, so a missing log cannot pass unnoticed.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.streams.drivers.backtest import item_events
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import EventEnvelope

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


@functools.cache
def log_events(name: str) -> tuple[EventEnvelope, ...]:
    """Every event of the whole reference log ``name`` (short name) as its built-in mapping maps
    it, in file order: mapped once per test process and shared by the tests that only read it
    (a tuple of frozen envelopes, so no test can change what another reads)."""
    return tuple(map_file(dataset(name), load_mapping(name)).events)


def log_item_events(name: str) -> list[tuple[ItemEvent, int]]:
    """``item_events`` of ``log_events(name)``: a new list each call (the events are frozen)."""
    return list(_log_item_events(name))


@functools.cache
def _log_item_events(name: str) -> tuple[tuple[ItemEvent, int], ...]:
    return tuple(item_events(log_events(name)))
