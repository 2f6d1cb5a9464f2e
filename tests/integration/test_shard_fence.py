"""Evaluation shards in a real PostgreSQL: one inbox per shard, claims and fenced ticks.

Two ``MonitorStore`` connections play two workers. A claim waits for the tick in flight of the
previous owner (both lock the shard's fence row), and once a shard is claimed the previous
owner's next tick is refused with ``ShardFenced`` and writes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from outcome_pulse.processors.errors import ConfigError, MixedLayout
from outcome_pulse.processors.shards import ShardFence
from outcome_pulse.sinks.errors import ShardFenced, SinkError
from outcome_pulse.sinks.monitor_store import MonitorStore
from outcome_pulse.sinks.queries import monitor_progress
from outcome_pulse.sinks.schema import migrate
from outcome_pulse.sinks.shard_fence import ensure_shards, fences
from tests.integration.pgdb import temporary_database
from tests.integration.test_postgres_sink import fold, make_events, rows_of, write

pytestmark = pytest.mark.integration

SHARDS = 3


@pytest.fixture
def dsn(pg_dsn: str) -> Iterator[str]:
    with temporary_database(pg_dsn) as url:
        migrate(url)
        ensure_shards(url, SHARDS)
        yield url


def query(dsn: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def _stored(dsn: str, items: int = 4) -> int:
    events = make_events(items, 3, start=datetime(2026, 3, 1, tzinfo=UTC), spread=timedelta(days=2))
    write(dsn, events, rows_of(fold(events)))
    return len(events)


def test_ensure_shards_adds_the_rows_once_and_refuses_another_count(dsn: str) -> None:
    assert fences(dsn) == [ShardFence(n, None, 0) for n in range(SHARDS)]
    ensure_shards(dsn, SHARDS)
    assert len(fences(dsn)) == SHARDS
    with pytest.raises(ConfigError, match=r"PULSE_EVALUATION_PARTITIONS is 2 .* 0\.\.2 \(3\)"):
        ensure_shards(dsn, 2)


def test_every_event_is_queued_once_per_shard(dsn: str) -> None:
    events = _stored(dsn)
    per_shard = query(dsn, "SELECT shard, count(*) FROM pulse_monitor_inbox GROUP BY 1 ORDER BY 1")
    assert per_shard == [(n, events) for n in range(SHARDS)]
    _stored(dsn)  # the same events again: duplicates queue nothing
    assert query(dsn, "SELECT count(*) FROM pulse_monitor_inbox") == [(SHARDS * events,)]


def test_a_tick_reads_and_clears_only_its_shards_inbox(dsn: str) -> None:
    events = _stored(dsn)

    async def run() -> int:
        async with MonitorStore(dsn, "worker-a") as store:
            claim = await store.claim_shard(1, None, SHARDS)
            assert (claim.generation, claim.taken_over) == (1, True)
            async with store.shard_tick(1, claim.generation) as tick:
                batch = await tick.inbox()
                await tick.done(batch.keys)
            return len(batch.events)

    _, ticked, waiting = monitor_progress(dsn)
    assert ticked is None and waiting == SHARDS * events  # no shard has ticked
    assert asyncio.run(run()) == events
    left = query(dsn, "SELECT shard, count(*) FROM pulse_monitor_inbox GROUP BY 1 ORDER BY 1")
    assert left == [(0, events), (2, events)]
    # The demo's progress: not every shard has ticked yet.
    assert monitor_progress(dsn)[1:] == (None, 2 * events)
    ((owner, generation, ticked),) = query(
        dsn, "SELECT owner, generation, ticked_at FROM pulse_evaluation_shards WHERE shard = 1"
    )
    assert (owner, generation) == ("worker-a", 1) and ticked is not None


def test_a_claim_waits_for_the_tick_in_flight_and_fences_the_old_owner(dsn: str) -> None:
    events = _stored(dsn)

    async def claim_waiting(dsn: str) -> bool:
        """Whether a session of ``worker-b`` is waiting for a lock right now."""
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'worker-b' AND wait_event_type = 'Lock'"
            )
            row = await cur.fetchone()
            return bool(row and row[0])

    async def run() -> None:
        async with (
            MonitorStore(dsn, "worker-a", application_name="worker-a") as a,
            MonitorStore(dsn, "worker-b", application_name="worker-b") as b,
        ):
            first = await a.claim_shard(0, None, SHARDS)
            async with a.shard_tick(0, first.generation) as tick:
                batch = await tick.inbox()
                taking = asyncio.create_task(b.claim_shard(0, None, SHARDS))
                while not await claim_waiting(dsn):  # B waits on A's fence row lock
                    assert not taking.done(), "B claimed the shard during A's tick"
                    await asyncio.sleep(0.05)
                await tick.done(batch.keys)
            second = await taking  # A committed, so B's claim went through
            assert second.generation == first.generation + 1 and second.taken_over
            # A's tick committed while it still owned the shard: its inbox rows are gone.
            assert query(dsn, "SELECT count(*) FROM pulse_monitor_inbox WHERE shard = 0") == [(0,)]
            with pytest.raises(ShardFenced, match="shard 0 was claimed by 'worker-b'"):
                async with a.shard_tick(0, first.generation) as stale:
                    await stale.inbox()
                    raise AssertionError("a fenced tick ran its body")
            # B works under its claim; A's connection still works for its other shards.
            async with b.shard_tick(0, second.generation):
                pass
            other = await a.claim_shard(2, None, SHARDS)
            async with a.shard_tick(2, other.generation) as tick:
                assert len((await tick.inbox()).events) == events

    asyncio.run(run())
    assert fences(dsn)[0] == ShardFence(0, "worker-b", 2)


def test_a_worker_with_another_shard_count_may_not_claim(dsn: str) -> None:
    async def run() -> None:
        async with MonitorStore(dsn, "worker-a") as store:
            await store.claim_shard(0, None, SHARDS + 1)

    with pytest.raises(SinkError, match=r"has 3 shards but .*PULSE_EVALUATION_PARTITIONS=4"):
        asyncio.run(run())
    assert fences(dsn)[0] == ShardFence(0, None, 0)


def test_another_groups_live_owner_keeps_its_shard_until_it_has_been_idle(dsn: str) -> None:
    worker, evaluator = "monitor-pid1-aa@pulse", "monitor-pid2-bb@pulse-evaluation"

    async def claim(owner: str) -> int:
        async with MonitorStore(dsn, owner) as store:
            return (await store.claim_shard(0, None, SHARDS)).generation

    assert asyncio.run(claim(worker)) == 1
    with pytest.raises(MixedLayout, match=r"held by 'monitor-pid1-aa@pulse' .* active \d+ s ago"):
        asyncio.run(claim(evaluator))
    assert fences(dsn)[0] == ShardFence(0, worker, 1)  # nothing taken
    query(  # the worker stopped a while ago
        dsn,
        "UPDATE pulse_evaluation_shards SET claimed_at = now() - interval '61 seconds' "
        "WHERE shard = 0 RETURNING shard",
    )
    assert asyncio.run(claim(evaluator)) == 2
