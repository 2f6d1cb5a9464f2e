"""The per-partition watermark: the input's frontier is the minimum over the partitions that are
not idle of the latest event time each has delivered, so a partition running far ahead does not
make a slow one's events late, and ``final`` means final. Through the streaming driver
(``ContractMonitor``) over a store in memory; ``tests/integration/test_partition_progress.py``
runs the same through the real sink and PostgreSQL."""

from __future__ import annotations

import asyncio
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.processors.partition_progress import (
    HOLD,
    Hold,
    PartitionProgress,
    event_time_frontier,
)
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_events, item_events
from outcome_pulse.streams.drivers.monitor import ContractMonitor
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from tests.datasets import dataset
from tests.support.memory_monitor_store import MemoryMonitorStore

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "helpdesk_tickets.yaml"
T = datetime(2024, 1, 1, tzinfo=UTC)
IDLE = timedelta(seconds=30)


def progress(
    partition: int, hours: int, silent_seconds: float = 0, caught_up: bool = True
) -> PartitionProgress:
    return PartitionProgress(
        "events",
        partition,
        T + timedelta(hours=hours),
        caught_up,
        timedelta(seconds=silent_seconds),
    )


def test_the_frontier_is_the_slowest_active_partition() -> None:
    assert event_time_frontier([], IDLE) is None
    assert event_time_frontier([progress(0, 10), progress(1, 3)], IDLE) == T + timedelta(hours=3)
    # A silent partition does not hold the others back ...
    assert event_time_frontier([progress(0, 10), progress(1, 3, 31)], IDLE) == T + timedelta(
        hours=10
    )
    # ... even when it is the one ahead; when all are silent, the latest over all of them.
    assert event_time_frontier([progress(0, 10, 60), progress(1, 3)], IDLE) == T + timedelta(
        hours=3
    )
    assert event_time_frontier([progress(0, 10, 60), progress(1, 3, 31)], IDLE) == T + timedelta(
        hours=10
    )
    # A partition the consumer is behind on is never idle, however long it has been silent.
    lagging = progress(1, 3, 3600, caught_up=False)
    assert event_time_frontier([progress(0, 10), lagging], IDLE) == T + timedelta(hours=3)


def _two_partitions() -> tuple[list[tuple[ItemEvent, int]], list[tuple[ItemEvent, int]]]:
    """The help desk log's first 4,000 events in time order, keyed to two partitions by item."""
    events = item_events(map_file(dataset("helpdesk"), load_mapping("helpdesk"), limit=4000).events)
    events.sort(key=lambda e: (e[0].time, e[1], e[0].event_id))
    parts: tuple[list[tuple[ItemEvent, int]], list[tuple[ItemEvent, int]]] = ([], [])
    for e in events:
        parts[zlib.crc32(e[0].item_id.encode()) % 2].append(e)
    return parts


def _replay_skewed(store: MemoryMonitorStore, partitioned: bool) -> ContractMonitor:
    """Partition 0 delivered four times as fast as partition 1, one round per delivery; with
    ``partitioned`` the store records each partition's progress (as the sink does)."""
    contract = load_contract(CONTRACT)
    fast, slow = _two_partitions()
    monitor = ContractMonitor([contract], store.as_store(), idle_partition=IDLE)
    rounds = 0
    while fast or slow:
        store.add(fast[:200], 0 if partitioned else None)
        store.add(slow[:50], 1 if partitioned else None)
        del fast[:200], slow[:50]
        asyncio.run(monitor.tick())
        rounds += 1
    assert rounds > 20
    return monitor


def test_a_partition_far_ahead_makes_no_event_of_the_slow_one_late() -> None:
    store = MemoryMonitorStore()
    monitor = _replay_skewed(store, partitioned=True)
    assert store.late == {}
    assert store.revised_points == set(), "no final indicator point was revised"
    # Nor any final period's measure, status or credit. (A final period's earned_back may still
    # change: settlement earns a credit back when the *following* periods beat the target, so it
    # moves while they run; that is the earn-back rule, not late data.)
    assert {name for names in store.revised_fields.values() for name in names} <= {"earned_back"}
    # Both partitions fall silent: the frontier is then the latest event over all of them, the
    # rows become final up to the backtest's watermark, and equal the backtest's.
    store.silence(0, IDLE * 2)
    store.silence(1, IDLE * 2)
    asyncio.run(monitor.tick())
    contract = monitor.contracts[0]
    fast, slow = _two_partitions()
    expected = backtest_events(contract, sorted([*fast, *slow], key=lambda e: e[0].time))
    assert store.points == expected.evaluation.points
    assert store.outcomes == expected.evaluation.outcomes
    assert store.late == {} and expected.late == ()
    frontier, watermark = store.watermarks[contract.contract]
    assert frontier == max(e.time for e, _ in [*fast, *slow])
    assert watermark == frontier - contract.monitoring.lateness


def test_the_latest_event_over_all_partitions_would_make_them_late() -> None:
    """The same replay without partition progress (the former watermark): the slow partition's
    events are late by the hundred and final rows are revised. What the test above rules out."""
    store = MemoryMonitorStore()
    _replay_skewed(store, partitioned=False)
    assert len(store.late) > 100
    assert store.revised_points
    assert {name for names in store.revised_fields.values() for name in names} - {"earned_back"}


def test_a_silent_partition_stops_holding_the_watermark_back() -> None:
    contract = load_contract(CONTRACT)
    fast, slow = _two_partitions()
    store = MemoryMonitorStore()
    monitor = ContractMonitor([contract], store.as_store(), idle_partition=IDLE)
    store.add(fast[:1000], 0)
    store.add(slow[:10], 1)
    asyncio.run(monitor.tick())
    held = store.watermarks[contract.contract][0]
    assert held == max(e.time for e, _ in slow[:10])
    store.silence(1, IDLE)  # silent for the idle time: partition 0 alone counts
    asyncio.run(monitor.tick())  # no new event: the round still moves the watermark
    assert store.watermarks[contract.contract][0] == max(e.time for e, _ in fast[:1000])
    assert any(p.final and p.at > held for p in store.points.values())


def test_a_partition_with_records_on_their_way_is_never_idle() -> None:
    """The broker's backlog (records the worker group has not committed) overrides the
    ``caught_up`` flag the sink stored, which is only what the consumer knew when it read."""
    ahead, behind = progress(0, 10), progress(1, 3, 3600)  # 1: caught up then, silent an hour
    assert event_time_frontier([ahead, behind], IDLE) == T + timedelta(hours=10)
    backlog = {("events", 0): 0, ("events", 1): 120}
    assert event_time_frontier([ahead, behind], IDLE, backlog) == T + timedelta(hours=3)
    drained = {("events", 0): 0, ("events", 1): 0}
    assert event_time_frontier([ahead, behind], IDLE, drained) == T + timedelta(hours=10)
    # Records on their way from a partition nothing was stored from yet: nothing is known of
    # their event times, so the frontier holds; so it does when the broker could not be asked.
    unseen = {**drained, ("events", 2): 7}
    assert event_time_frontier([ahead, behind], IDLE, unseen) is HOLD
    assert event_time_frontier([ahead, behind], IDLE, HOLD) is HOLD
    # A partition that never delivered and has nothing on its way changes nothing.
    assert event_time_frontier([ahead, behind], IDLE, {**drained, ("events", 2): 0}) == (
        T + timedelta(hours=10)
    )


class _Broker:
    """What the broker answers the monitor's backlog question with, set by the test."""

    def __init__(self) -> None:
        self.answer: dict[tuple[str, int], int] | Hold = {}

    async def __call__(self) -> dict[tuple[str, int], int] | Hold:
        return self.answer


def _frontier_after_silence(broker: _Broker | None) -> tuple[datetime, datetime]:
    """Partition 1 is stored caught up, then silent for the idle time while the broker still
    holds records of it (a busy worker has not fetched them yet): the frontier before and after."""
    contract = load_contract(CONTRACT)
    fast, slow = _two_partitions()
    store = MemoryMonitorStore()
    monitor = ContractMonitor([contract], store.as_store(), idle_partition=IDLE, backlog=broker)
    store.add(fast[:1000], 0)
    store.add(slow[:10], 1)
    if broker is not None:
        broker.answer = {("events", 0): 0, ("events", 1): 240}
    asyncio.run(monitor.tick())
    before = store.watermarks[contract.contract][0]
    store.silence(1, IDLE * 2)
    store.add(fast[1000:1200], 0)
    asyncio.run(monitor.tick())
    return before, store.watermarks[contract.contract][0]


def test_a_stale_caught_up_flag_does_not_make_a_partition_idle() -> None:
    before, after = _frontier_after_silence(_Broker())
    assert after == before, "partition 1 still has records in Kafka: it holds the frontier"
    # Control: without asking the broker, the stored flag alone makes partition 1 idle and the
    # frontier jumps to partition 0's progress (what let on-time events be late under load).
    before, after = _frontier_after_silence(None)
    assert after > before


def test_the_frontier_holds_while_a_partition_with_a_backlog_has_stored_nothing() -> None:
    contract = load_contract(CONTRACT)
    fast, _ = _two_partitions()
    store = MemoryMonitorStore()
    broker = _Broker()
    monitor = ContractMonitor([contract], store.as_store(), idle_partition=IDLE, backlog=broker)
    store.add(fast[:500], 0)
    broker.answer = {("events", 0): 0, ("events", 1): 50}  # 1: nothing stored yet
    asyncio.run(monitor.tick())
    assert contract.contract not in store.watermarks, "no frontier known: nothing is final"
    assert not any(p.final for p in store.points.values())
    broker.answer = {("events", 0): 0}
    store.add(fast[500:1000], 0)
    asyncio.run(monitor.tick())
    frontier = store.watermarks[contract.contract][0]
    assert frontier == max(e.time for e, _ in fast[:1000])
    broker.answer = HOLD  # the broker could not be asked: the frontier stays where it was
    store.add(fast[1000:1500], 0)
    asyncio.run(monitor.tick())
    assert store.watermarks[contract.contract][0] == frontier
    assert store.late == {}
