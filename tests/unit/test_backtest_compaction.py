"""The backtest drops the event sets of items done with as it goes (``compact_every``), as the
monitor does after each round, and reads a compacted item's events back from its input when a
later event comes for it: the rows and late events are those of a backtest that keeps every
event."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_events, item_events
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from tests.datasets import dataset

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def test_a_compacting_backtest_equals_one_that_keeps_every_event() -> None:
    contract = load_contract(CONTRACTS / "helpdesk_tickets.yaml")
    events = item_events(map_file(dataset("helpdesk"), load_mapping("helpdesk"), limit=6000).events)
    events.sort(key=lambda e: (e[0].time, e[1], e[0].event_id))
    rng = random.Random(3)
    sent = list(events)
    # Later on, events of tickets long done with: duplicates, and new ones dated back.
    for n in range(40):
        event, sequence = rng.choice(events[:2000])
        at = rng.randrange(3000, len(sent))
        if n % 2:
            sent.insert(at, (event, sequence))
        else:
            back = replace(
                event, event_id=f"{event.event_id}-again", time=event.time + timedelta(minutes=1)
            )
            sent.insert(at, (back, sequence))
    kept = backtest_events(contract, sent, batch=250, compact_every=None)
    compacted = backtest_events(contract, sent, batch=250, compact_every=500)
    assert kept.late, "some events are late"
    assert compacted.late == kept.late
    assert compacted.evaluation == kept.evaluation
    assert (compacted.events, compacted.duplicates) == (kept.events, kept.duplicates)
