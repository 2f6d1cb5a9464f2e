"""The engine checkpoints' migration (version 9 here, renumbered when another branch's version
lands first) on a database built and filled by the schema before it: two evaluation shards, one
claimed, events queued in both inboxes, a contract's recorded watermark. The migration keeps all
of it, adds the checkpoint generation (0: none written yet) and the empty tables; then a shard's
first tick finds no checkpoint, rebuilds from every stored event, writes generation 1 and keeps
the inbox rows it applied as that shard's applied events, while the other shard's inbox is left
alone.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

import outcome_pulse.sinks.schema
from outcome_pulse.sinks.monitor_store import MonitorStore
from outcome_pulse.sinks.partitions import ensure_partitions
from outcome_pulse.sinks.rows import event_row, months_of
from outcome_pulse.sinks.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from outcome_pulse.sinks.statements import EVENT_COLUMNS
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.monitor import ContractMonitor, TickReport
from tests.integration.pgdb import temporary_database
from tests.integration.test_postgres_sink import make_events

pytestmark = pytest.mark.integration

CHECKPOINTS = next(m for m in MIGRATIONS if m.plain[0].endswith("_engine_checkpoints.sql"))
BEFORE = tuple(m for m in MIGRATIONS if m.version < CHECKPOINTS.version)
CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "bpic2013_incidents.yaml"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _rows(dsn: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


async def fill_as_before(dsn: str) -> int:
    """Events as the sink wrote them, each queued once per shard; shard 1 claimed; a watermark."""
    events = make_events(4, 3, start=T0, spread=timedelta(days=2))
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await ensure_partitions(conn, months_of(events), set())
        async with conn.transaction(), conn.cursor() as cur:
            await cur.execute("INSERT INTO pulse_evaluation_shards (shard) VALUES (1)")
            await cur.executemany(
                f"INSERT INTO pulse_events ({', '.join(EVENT_COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(EVENT_COLUMNS))})",
                [
                    tuple(Jsonb(v) if isinstance(v, dict) else v for v in event_row(e))
                    for e in events
                ],
            )
            await cur.execute(
                "INSERT INTO pulse_monitor_inbox (shard, event_time, event_id) "
                "SELECT s.shard, e.event_time, e.event_id "
                "FROM pulse_events e CROSS JOIN pulse_evaluation_shards s"
            )
            await cur.execute(
                "UPDATE pulse_evaluation_shards SET owner = 'worker-a', generation = 3, "
                "claimed_at = now() WHERE shard = 1"
            )
            await cur.execute(
                "INSERT INTO pulse_contract_watermarks (contract, frontier, watermark) "
                "VALUES ('c-old', %s, %s)",
                [T0, T0 - timedelta(days=1)],
            )
    return len(events)


def test_a_version_before_checkpoints_migrates_and_its_shards_start_by_rebuilding(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with temporary_database(pg_dsn) as dsn:
        with monkeypatch.context() as patch:
            patch.setattr(outcome_pulse.sinks.schema, "MIGRATIONS", BEFORE)
            last = f"applied version {BEFORE[-1].version}"
            assert migrate(dsn, timescaledb=False).actions[-1].startswith(last)
        events = asyncio.run(fill_as_before(dsn))
        inbox = "SELECT shard, count(*) FROM pulse_monitor_inbox GROUP BY 1 ORDER BY 1"
        assert _rows(dsn, inbox) == [(0, events), (1, events)]

        report = migrate(dsn)
        assert [a.split(":")[0] for a in report.actions] == [
            f"applied version {v}" for v in range(CHECKPOINTS.version, SCHEMA_VERSION + 1)
        ]
        assert _rows(
            dsn,
            "SELECT shard, owner, generation, checkpoint_generation "
            "FROM pulse_evaluation_shards ORDER BY 1",
        ) == [(0, None, 0, 0), (1, "worker-a", 3, 0)]
        assert _rows(dsn, inbox) == [(0, events), (1, events)]
        assert _rows(
            dsn,
            "SELECT contract, frontier, watermark, driver_frontier FROM pulse_contract_watermarks",
        ) == [("c-old", T0, T0 - timedelta(days=1), None)]
        for table in ("pulse_engine_checkpoints", "pulse_monitor_applied"):
            assert _rows(dsn, f"SELECT count(*) FROM {table}") == [(0,)]
        rls = "SELECT relrowsecurity FROM pg_class WHERE relname = 'pulse_engine_checkpoints'"
        assert _rows(dsn, rls) == [(True,)], "keyed by contract: row-level security, as in v5"

        async def first_tick() -> TickReport:
            contract = load_contract(CONTRACT)
            async with MonitorStore(dsn, "worker-a") as store:
                monitor = ContractMonitor([contract], store, ticks=lambda: store.shard_tick(1, 3))
                return await monitor.tick()

        tick = asyncio.run(first_tick())
        assert tick.rebuilt and tick.resumed == 0 and tick.ignored_checkpoints == ()
        assert _rows(dsn, "SELECT contract, shard, generation FROM pulse_engine_checkpoints") == [
            ("bpic2013-incidents", 1, 1)
        ]
        assert _rows(
            dsn, "SELECT checkpoint_generation FROM pulse_evaluation_shards WHERE shard = 1"
        ) == [(1,)]
        assert _rows(dsn, inbox) == [(0, events)], "shard 1's inbox applied, shard 0's left"
        # Emptied with the checkpoint the rebuild's round wrote (it holds those events).
        assert _rows(dsn, "SELECT count(*) FROM pulse_monitor_applied") == [(0,)]
        assert migrate(dsn).actions == []
