"""The per-partition watermark against a real PostgreSQL: the event sink records each partition's
latest event time with the events (never moving back), and the contract monitor, fed by the
real sink and store, takes the slowest partition that is not idle as its frontier: with one
partition far ahead, no event of the slow one is late, and a silent partition stops holding the
watermark back."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from outcome_pulse.sinks.event_sink import PostgresSink
from outcome_pulse.sinks.monitor_store import MonitorStore
from outcome_pulse.sinks.queries import indicator_points, period_outcomes
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_events, item_events
from outcome_pulse.streams.drivers.monitor import ContractMonitor
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.wire.events import EventEnvelope
from tests.datasets import dataset
from tests.integration.pgdb import empty_tables

pytestmark = pytest.mark.integration

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "helpdesk_tickets.yaml"
IDLE = timedelta(seconds=30)


@pytest.fixture
def dsn(migrated: str) -> str:
    empty_tables(
        migrated,
        "pulse_events",
        "pulse_item_states",
        "pulse_monitor_inbox",
        "pulse_indicator_points",
        "pulse_period_outcomes",
        "pulse_late_events",
        "pulse_open_item_clocks",
        "pulse_partition_progress",
        "pulse_contract_watermarks",
    )
    with psycopg.connect(migrated, autocommit=True) as conn:
        conn.execute("UPDATE pulse_monitor_lease SET owner = NULL, taken_at = NULL")
    return migrated


def query(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


def _helpdesk(limit: int) -> tuple[list[EventEnvelope], list[EventEnvelope]]:
    """The help desk log's first events in time order, keyed to two partitions by item."""
    events = map_file(dataset("helpdesk"), load_mapping("helpdesk"), limit=limit).events
    events = sorted(events, key=lambda e: (e.time, e.sequence, e.id))
    parts: tuple[list[EventEnvelope], list[EventEnvelope]] = ([], [])
    for e in events:
        parts[zlib.crc32(e.subject.encode()) % 2].append(e)
    return parts


async def _store(
    sink: PostgresSink, events: Sequence[EventEnvelope], partition: int, caught_up: bool = False
) -> None:
    if events:
        latest = max(e.time for e in events)
        await sink.write(events, [], {("pulse.events", partition): (latest, caught_up)})


def test_the_sink_records_each_partitions_latest_event_time(dsn: str) -> None:
    fast, slow = _helpdesk(600)

    async def run() -> None:
        async with PostgresSink(dsn) as sink:
            await _store(sink, fast[100:200], 0)
            await _store(sink, fast[:100], 0)  # older records later: the time stays
            await _store(sink, slow[:50], 1)
            # A batch of duplicates only still counts as the partition delivering.
            await _store(sink, slow[:50], 1, caught_up=True)

    asyncio.run(run())
    rows = query(
        dsn,
        "SELECT partition, latest_event_time, caught_up, now() - seen_at < interval '1 hour' "
        "FROM pulse_partition_progress ORDER BY partition",
    )
    assert rows == [(0, fast[199].time, False, True), (1, slow[49].time, True, True)]


def test_a_partition_far_ahead_makes_no_event_of_the_slow_one_late(dsn: str) -> None:
    contract = load_contract(CONTRACT)
    fast, slow = _helpdesk(2400)
    everything = sorted([*fast, *slow], key=lambda e: (e.time, e.sequence, e.id))

    async def replay() -> None:
        async with (
            PostgresSink(dsn) as sink,
            MonitorStore(dsn, "monitor-a") as store,
        ):
            monitor = ContractMonitor([contract], store, idle_partition=IDLE)
            for start in range(0, max(len(fast), len(slow) * 4), 200):
                # Partition 0 runs four times as fast as partition 1.
                await _store(sink, fast[start : start + 200], 0)
                await _store(sink, slow[start // 4 : start // 4 + 50], 1)
                await monitor.tick()
            late = query(dsn, "SELECT count(*) FROM pulse_late_events")[0][0]
            assert late == 0, "no event of the slow partition is late"
            (frontier,) = query(dsn, "SELECT frontier FROM pulse_contract_watermarks")[0]
            assert frontier < max(e.time for e in fast), "the slow partition holds it back"
            # Silent for longer than the idle time, but the consumer was behind: still held.
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("UPDATE pulse_partition_progress SET seen_at = now() - interval '1h'")
            await monitor.tick()
            assert query(dsn, "SELECT frontier FROM pulse_contract_watermarks")[0][0] == frontier
            # Both caught up and silent: a round without new events makes the rest final.
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("UPDATE pulse_partition_progress SET caught_up = true")
            await monitor.tick()

    asyncio.run(replay())
    expected = backtest_events(contract, item_events(everything))
    frontier, watermark = query(dsn, "SELECT frontier, watermark FROM pulse_contract_watermarks")[0]
    assert frontier == everything[-1].time
    assert watermark == frontier - contract.monitoring.lateness
    assert {r.key: r for r in period_outcomes(dsn, contract.contract)} == (
        expected.evaluation.outcomes
    )
    assert {r.key: r for r in indicator_points(dsn, contract.contract)} == (
        expected.evaluation.points
    )
    assert expected.late == ()
