"""Engine checkpoints per evaluation shard against a real PostgreSQL: the owner of a shard writes
one per contract of the shard in the round that rebuilt it and moves the inbox rows it applies to
the shard's rows of pulse_monitor_applied; after a takeover (another worker claims the shard,
generation + 1) the new owner starts from the checkpoint plus those events, not from every stored
event, with rows equal to the backtest's; the previous owner's next tick is fenced and can
neither write checkpoints nor empty the applied events; a checkpoint of an older generation of
its shard is not loaded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from outcome_pulse.processors.contract import Contract
from outcome_pulse.sinks.event_sink import PostgresSink
from outcome_pulse.sinks.monitor_store import MonitorStore
from outcome_pulse.sinks.queries import indicator_points, period_outcomes
from outcome_pulse.sinks.schema import migrate
from outcome_pulse.sinks.shard_fence import ensure_shards
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_events, item_events
from outcome_pulse.streams.drivers.monitor import TickReport
from outcome_pulse.streams.drivers.shards import ShardedMonitor
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.wire.events import EventEnvelope
from tests.datasets import dataset
from tests.integration.pgdb import temporary_database

pytestmark = pytest.mark.integration

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "helpdesk_tickets.yaml"
NEVER = timedelta(days=3650)
SHARDS = 2
SHARD = 1  # helpdesk-tickets: crc32 mod 2 (pinned in tests/unit/test_shards.py)
BOTH = {0, 1}


@pytest.fixture
def dsn(pg_dsn: str) -> Iterator[str]:
    with temporary_database(pg_dsn) as url:
        migrate(url)
        ensure_shards(url, SHARDS)
        yield url


def query(dsn: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def applied(dsn: str, shard: int = SHARD) -> int:
    return int(
        query(dsn, "SELECT count(*) FROM pulse_monitor_applied WHERE shard = %s", [shard])[0][0]
    )


def checkpoint_generation(dsn: str, shard: int = SHARD) -> int:
    sql = "SELECT checkpoint_generation FROM pulse_evaluation_shards WHERE shard = %s"
    return int(query(dsn, sql, [shard])[0][0])


def _events() -> list[EventEnvelope]:
    events = map_file(dataset("helpdesk"), load_mapping("helpdesk"), limit=3000).events
    ordered = sorted(events, key=lambda e: (e.time, e.sequence, e.id))
    # Copies of creations dated ten days back, among the later half: late beyond the lateness.
    created = [e for e in ordered[1500:] if e.type.endswith(".created")][:5]
    late = [
        e.model_copy(update={"id": f"{e.id}-late", "time": e.time - timedelta(days=10)})
        for e in created
    ]
    out = list(ordered)
    for n, e in enumerate(late):
        out.insert(1600 + 250 * n, e)
    return out


class Worker:
    """One worker's sharded monitor and its own connections (sink and monitor store)."""

    def __init__(
        self, dsn: str, owner: str, contracts: Sequence[Contract], every: timedelta = NEVER
    ) -> None:
        self.dsn = dsn
        self.store = MonitorStore(dsn, owner)
        self.monitor = ShardedMonitor(contracts, self.store, shards=SHARDS, checkpoint_every=every)

    async def rounds(self, events: Sequence[EventEnvelope]) -> list[dict[int, TickReport]]:
        """Store ``events`` 300 at a time, one monitor round over both shards after each."""
        reports = []
        async with PostgresSink(self.dsn) as sink:
            for start in range(0, len(events), 300):
                batch = events[start : start + 300]
                progress = {("pulse.events", 0): (max(e.time for e in batch), True)}
                await sink.write(batch, [], progress)
                reports.append(await self.monitor.round(BOTH))
        return reports


def test_a_new_owner_of_a_shard_starts_from_its_checkpoint_and_the_events_since(
    dsn: str,
) -> None:
    contract = load_contract(CONTRACT)
    events = _events()
    seen: dict[str, Any] = {}

    async def run() -> None:
        a = Worker(dsn, "worker-a", [contract])
        first = await a.rounds(events[:1500])
        assert first[0][SHARD].rebuilt and first[0][SHARD].resumed == 0
        seen["generation"] = checkpoint_generation(dsn)
        seen["checkpoints"] = query(
            dsn, "SELECT contract, shard, generation FROM pulse_engine_checkpoints"
        )
        seen["applied"], seen["applied 0"] = applied(dsn), applied(dsn, 0)
        b = Worker(dsn, "worker-b", [contract])
        seen["later"] = await b.rounds(events[1500:1800])
        # The previous owner, due to checkpoint, is fenced: it writes nothing, empties nothing.
        a.monitor.held[SHARD].monitor.checkpoint_every = timedelta(0)
        seen["stale"] = await a.monitor.round(BOTH)
        seen["a holds"] = set(a.monitor.held)
        seen["later"] += await b.rounds(events[1800:])
        await a.store.close()
        await b.store.close()

    asyncio.run(run())
    assert seen["generation"] == 1, "the rebuild's round wrote the checkpoint"
    assert seen["checkpoints"] == [(contract.contract, SHARD, 1)]
    assert seen["applied"] == 1500 - 300, "the rounds after the checkpoint's, to re-apply"
    assert seen["applied 0"] == 0, "a shard without contracts keeps none"
    assert seen["stale"] == {} and seen["a holds"] == set(), "the old owner's ticks refused"
    report = seen["later"][0][SHARD]
    assert report.rebuilt and report.resumed == 1, "started from the checkpoint"
    assert report.events == 300, "the inbox's events, not every stored one"
    assert checkpoint_generation(dsn) == 1, "nobody wrote checkpoints since"
    assert applied(dsn) == len(events) - 300, "every round's events since the checkpoint"
    assert query(dsn, "SELECT count(*) FROM pulse_late_events")[0][0] == 5

    # Every partition idle: the rows are final up to the backtest's watermark and equal its rows.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE pulse_partition_progress SET seen_at = now() - interval '1h'")

    async def last_round() -> dict[int, TickReport]:
        c = Worker(dsn, "worker-c", [contract])
        try:
            return await c.monitor.round(BOTH)
        finally:
            await c.store.close()

    last = asyncio.run(last_round())
    assert last[SHARD].rebuilt and last[SHARD].resumed == 1
    expected = backtest_events(contract, item_events(events), batch=300)
    assert len(expected.late) == 5
    assert {r.key: r for r in period_outcomes(dsn, contract.contract)} == (
        expected.evaluation.outcomes
    )
    assert {r.key: r for r in indicator_points(dsn, contract.contract)} == (
        expected.evaluation.points
    )


def test_checkpoints_of_an_older_generation_of_the_shard_are_not_loaded(dsn: str) -> None:
    contract = load_contract(CONTRACT)
    events = _events()[:900]
    asyncio.run(_rounds_of(Worker(dsn, "worker-a", [contract], every=timedelta(0)), events[:600]))
    assert applied(dsn) == 0

    # A worker without this contract checkpoints the shard (nothing) and empties its applied
    # events: the contract's checkpoint no longer holds every event applied, and is not loaded.
    asyncio.run(_rounds_of(Worker(dsn, "worker-c", [], every=timedelta(0)), events[600:700]))
    assert applied(dsn) == 0
    assert checkpoint_generation(dsn) > 1
    again = asyncio.run(_rounds_of(Worker(dsn, "worker-b", [contract]), events[700:]))
    assert again[0][SHARD].rebuilt and again[0][SHARD].resumed == 0, "rebuilt from every event"
    assert again[0][SHARD].events == 900


async def _rounds_of(
    worker: Worker, events: Sequence[EventEnvelope]
) -> list[dict[int, TickReport]]:
    try:
        return await worker.rounds(events)
    finally:
        await worker.store.close()
