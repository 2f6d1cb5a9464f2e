"""The spooled backtest (events and points on disk, ``streams.drivers.backtest_spool``) gives the
rows, late events, alerts and output files of the in-memory one, byte for byte."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import (
    backtest_events,
    backtest_file,
    item_events,
    write_outputs,
)
from outcome_pulse.streams.drivers.backtest_spool import EventSpool, PointSpool, spool_directory
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from tests.datasets import dataset

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def _late_and_duplicated(limit: int) -> list[tuple[ItemEvent, int]]:
    """Helpdesk events in order, then (later on) duplicates and new events dated far back for
    tickets long done with: late events that correct final rows of compacted items."""
    mapped = map_file(dataset("helpdesk"), load_mapping("helpdesk"), limit=limit)
    events = item_events(mapped.events)
    rng = random.Random(5)
    sent = list(events)
    for n in range(40):
        event, sequence = rng.choice(events[: limit // 3])
        at = rng.randrange(limit // 2, len(sent))
        if n % 2:
            sent.insert(at, (event, sequence))
        else:
            back = replace(
                event, event_id=f"{event.event_id}-again", time=event.time + timedelta(minutes=1)
            )
            sent.insert(at, (back, sequence))
    return sent


def test_a_spooled_backtest_equals_the_in_memory_one(tmp_path: Path) -> None:
    contract = load_contract(CONTRACTS / "helpdesk_tickets.yaml")
    sent = _late_and_duplicated(3000)
    held = backtest_events(contract, sent, batch=250, compact_every=500, alerts=True)
    events = EventSpool(tmp_path / "events.sqlite")
    events.extend(iter(sent))
    spooled = backtest_events(
        contract,
        events,
        batch=250,
        compact_every=500,
        alerts=True,
        points=PointSpool(tmp_path / "points.sqlite"),
    )
    assert held.late, "some events are late"
    assert any(e.changed for e in held.late), "late events correct final rows"
    assert spooled.late == held.late
    assert spooled.evaluation.points == {}, "the points are on disk, not held"
    assert spooled.point_count() == len(held.evaluation.points)
    assert spooled.points() == held.points()
    assert spooled.outcomes() == held.outcomes()
    assert spooled.evaluation.open_clocks == held.evaluation.open_clocks
    assert spooled.alerts == held.alerts
    assert (spooled.events, spooled.duplicates) == (held.events, held.duplicates)
    assert list(events) == sent


def test_the_spooled_backtest_writes_the_same_files(tmp_path: Path) -> None:
    contract = load_contract(CONTRACTS / "helpdesk_tickets.yaml")
    path, mapping = dataset("helpdesk"), load_mapping("helpdesk")
    held = backtest_file(path, mapping, contract, limit=4000, alerts=True)
    with spool_directory(tmp_path) as spool:
        spooled = backtest_file(path, mapping, contract, limit=4000, alerts=True, spool=spool)
        assert spooled.spooled is not None
        for fmt in ("csv", "parquet"):
            written = write_outputs(spooled, tmp_path / f"spooled-{fmt}", fmt)
            expected = write_outputs(held, tmp_path / f"held-{fmt}", fmt)
            assert [p.name for p in written] == [p.name for p in expected]
            assert "indicators." + fmt in [p.name for p in written]
            for new, old in zip(written, expected, strict=True):
                assert new.read_bytes() == old.read_bytes(), new.name
    assert spooled.coverage == held.coverage


def test_a_spool_is_written_once_into_a_fresh_file(tmp_path: Path) -> None:
    EventSpool(tmp_path / "events.sqlite").close()
    with pytest.raises(FileExistsError, match=r"events\.sqlite"):
        EventSpool(tmp_path / "events.sqlite")
