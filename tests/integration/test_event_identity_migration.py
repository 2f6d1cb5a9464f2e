"""The event identity migration (an event is (source, event id); version 10 here, renumbered when
another branch's version lands first) on a database built and filled by the schema before it.

That database names events by (event time, event id): the events as the sink wrote them (two
sources, one id used by both at different times, which the old key allowed), each queued in two
shards' inboxes, shard 1's applied events and engine checkpoint, late-event records; one event
then deleted (as retention does), so some rows name an event no longer stored. The migration
must give every row its stored event's source, delete the inbox and applied rows of the missing
event (they apply nothing), keep its late-event record with an unknown ('') source, keep the
checkpoint (no key was ambiguous), and key everything by the source. Then the new sink stores
another source's event of an existing id and time, where the old key dropped it.

A second database, whose events key an operator had already widened by hand, holds an ambiguous
applied row: that shard's checkpoints are retired (its next owner rebuilds), not guessed.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

import outcome_pulse.sinks.schema
from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.sinks.event_sink import PostgresSink
from outcome_pulse.sinks.partitions import ensure_partitions
from outcome_pulse.sinks.rows import event_row, months_of
from outcome_pulse.sinks.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from outcome_pulse.sinks.statements import EVENT_COLUMNS
from outcome_pulse.streams.wire.events import EventEnvelope, build_envelope
from tests.integration.pgdb import temporary_database

pytestmark = pytest.mark.integration

T0 = datetime(2013, 3, 4, 9, tzinfo=UTC)
IDENTITY = next(m for m in MIGRATIONS if "v10_event_identity.sql" in m.plain)
BEFORE = tuple(m for m in MIGRATIONS if m.version < IDENTITY.version)
KEYED = {
    "pulse_events": "PRIMARY KEY (event_time, source, event_id)",
    "pulse_monitor_inbox": "PRIMARY KEY (shard, event_time, source, event_id)",
    "pulse_monitor_applied": "PRIMARY KEY (shard, event_time, source, event_id)",
    "pulse_late_events": "PRIMARY KEY (contract, source, event_id)",
}


def event(event_id: str, hours: int, source: str, item: str, lifecycle: Lifecycle) -> EventEnvelope:
    return build_envelope(
        event_id=event_id,
        source=source,
        kind=ItemKind.INCIDENT,
        lifecycle=lifecycle,
        time=T0 + timedelta(hours=hours),
        item_id=item,
    )


EVENTS = [
    event("e1", 0, "acme-jira", "INC1", Lifecycle.CREATED),
    event("e2", 1, "acme-jira", "INC1", Lifecycle.RESOLVED),
    event("e1", 2, "beta-snow", "INC1", Lifecycle.CREATED),  # acme's id, another time
    event("s9", 3, "beta-snow", "SNOW9", Lifecycle.CREATED),
]
GONE = EVENTS[3]  # deleted after the fill, as retention would


def _rows(dsn: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        return conn.execute(query, params).fetchall()


def _primary_key(dsn: str, table: str) -> str:
    ((definition,),) = _rows(
        dsn,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'p'",
        [table],
    )
    return str(definition)


def _at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


async def fill_as_before(dsn: str, events: list[EventEnvelope]) -> None:
    """Events as the sink wrote them, queued for shards 0 and 1; shard 1 applied two of them
    since its checkpoint (generation 1); two late-event records; then GONE deleted."""
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
                "SELECT DISTINCT s.shard, e.event_time, e.event_id "
                "FROM pulse_events e CROSS JOIN pulse_evaluation_shards s"
            )
            # shard 1 applied e1 (acme's) and s9 since its checkpoint
            await cur.execute(
                "WITH moved AS (DELETE FROM pulse_monitor_inbox WHERE shard = 1 "
                "AND event_time IN (%s, %s) RETURNING shard, event_time, event_id) "
                "INSERT INTO pulse_monitor_applied SELECT * FROM moved",
                [_at(0), _at(3)],
            )
            await cur.execute(
                "UPDATE pulse_evaluation_shards SET owner = 'worker-a', generation = 2, "
                "checkpoint_generation = 1 WHERE shard = 1"
            )
            await cur.execute(
                "INSERT INTO pulse_engine_checkpoints (contract, shard, generation, fingerprint, "
                "state) VALUES ('c-acme', 1, 1, 'f', '\\x00'::bytea)"
            )
            await cur.executemany(
                "INSERT INTO pulse_late_events (contract, event_id, event_time, watermark) "
                "VALUES ('c-acme', %s, %s, %s)",
                [("e1", _at(2), _at(30)), ("s9", _at(3), _at(30))],
            )
            await cur.execute(
                "DELETE FROM pulse_events WHERE event_time = %s AND event_id = %s",
                [GONE.time, GONE.id],
            )


def _before_version_10(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(outcome_pulse.sinks.schema, "MIGRATIONS", BEFORE)
        last = f"applied version {BEFORE[-1].version}"
        assert migrate(dsn, timescaledb=False).actions[-1].startswith(last)


def test_a_version_9_database_migrates_to_source_and_event_keys(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with temporary_database(pg_dsn) as dsn:
        _before_version_10(dsn, monkeypatch)
        asyncio.run(fill_as_before(dsn, EVENTS))
        assert _primary_key(dsn, "pulse_events") == "PRIMARY KEY (event_time, event_id)"
        events_before = _rows(dsn, "SELECT * FROM pulse_events ORDER BY event_time")

        report = migrate(dsn)
        assert [a.split(":")[0] for a in report.actions] == [
            f"applied version {v}" for v in range(IDENTITY.version, SCHEMA_VERSION + 1)
        ]
        for table, key in KEYED.items():
            assert _primary_key(dsn, table) == key, table
        # every partition carries the key too (a partitioned table's key is its partitions')
        assert _rows(
            dsn,
            "SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indrelid = i.inhrelid "
            "WHERE i.inhparent = 'pulse_events'::regclass AND x.indisprimary",
        ) == _rows(
            dsn, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'pulse_events'::regclass"
        )
        assert _rows(dsn, "SELECT * FROM pulse_events ORDER BY event_time") == events_before
        # inbox rows: their event's source; the missing event's rows are gone (they apply nothing)
        assert _rows(
            dsn,
            "SELECT shard, event_time, source, event_id FROM pulse_monitor_inbox ORDER BY 1, 2",
        ) == [
            (0, _at(0), "acme-jira", "e1"),
            (0, _at(1), "acme-jira", "e2"),
            (0, _at(2), "beta-snow", "e1"),
            (1, _at(1), "acme-jira", "e2"),
            (1, _at(2), "beta-snow", "e1"),
        ]
        assert _rows(
            dsn,
            "SELECT shard, event_time, source, event_id FROM pulse_monitor_applied ORDER BY 2",
        ) == [(1, _at(0), "acme-jira", "e1")]
        # no key was ambiguous: shard 1's checkpoint stays, with its generation
        assert _rows(dsn, "SELECT contract, shard, generation FROM pulse_engine_checkpoints") == [
            ("c-acme", 1, 1)
        ]
        assert _rows(
            dsn,
            "SELECT shard, owner, generation, checkpoint_generation "
            "FROM pulse_evaluation_shards ORDER BY 1",
        ) == [(0, None, 0, 0), (1, "worker-a", 2, 1)]
        # late events: evidence, kept; the missing event's source is unknown ('')
        assert _rows(
            dsn, "SELECT contract, source, event_id, event_time FROM pulse_late_events ORDER BY 3"
        ) == [("c-acme", "beta-snow", "e1", _at(2)), ("c-acme", "", "s9", _at(3))]
        assert migrate(dsn).actions == []

        # The new sink: another source's event with an existing id and time is stored and queued
        # (the old key took it for a duplicate and dropped it); a redelivery still is one.
        twin = EVENTS[0].model_copy(update={"source": "beta-snow"})

        async def write(events: list[EventEnvelope]) -> int:
            async with PostgresSink(dsn) as sink:
                return (await sink.write(events, [])).events_written

        assert asyncio.run(write([twin, EVENTS[0]])) == 1
        assert asyncio.run(write([twin])) == 0
        assert _rows(
            dsn,
            "SELECT source, event_id FROM pulse_events WHERE event_time = %s ORDER BY 1",
            [_at(0)],
        ) == [("acme-jira", "e1"), ("beta-snow", "e1")]
        assert _rows(
            dsn,
            "SELECT shard, source FROM pulse_monitor_inbox WHERE event_time = %s ORDER BY 1, 2",
            [_at(0)],
        ) == [(0, "acme-jira"), (0, "beta-snow"), (1, "beta-snow")]


def test_an_ambiguous_applied_row_retires_its_shards_checkpoints(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with temporary_database(pg_dsn) as dsn:
        _before_version_10(dsn, monkeypatch)
        # An operator widened the events key by hand (under the same name) and the sink stored
        # beta-snow's e1 at acme's time: the old inbox and applied rows cannot tell them apart.
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE pulse_events DROP CONSTRAINT pulse_events_pkey")
            conn.execute(
                "ALTER TABLE pulse_events ADD CONSTRAINT pulse_events_pkey "
                "PRIMARY KEY (event_time, source, event_id)"
            )
        twin = EVENTS[0].model_copy(update={"source": "beta-snow"})
        asyncio.run(fill_as_before(dsn, [*EVENTS, twin]))
        with psycopg.connect(dsn, autocommit=True) as conn:
            # shard 0 applied both e1 at T0 before its checkpoint: nothing of it is ambiguous
            conn.execute(
                "DELETE FROM pulse_monitor_inbox WHERE shard = 0 AND event_time = %s", [T0]
            )
            conn.execute(
                "INSERT INTO pulse_engine_checkpoints (contract, shard, generation, fingerprint, "
                "state) VALUES ('c-beta', 0, 0, 'f', '\\x00'::bytea)"
            )
        assert _rows(dsn, "SELECT count(*) FROM pulse_monitor_applied") == [(2,)]

        migrate(dsn)
        for table, key in KEYED.items():
            assert _primary_key(dsn, table) == key, table
        # shard 1 applied an e1 at T0 of one source or the other: its checkpoint is retired,
        # its applied rows emptied, its generation moved on; shard 0's checkpoint stays
        assert _rows(dsn, "SELECT contract, shard FROM pulse_engine_checkpoints") == [("c-beta", 0)]
        assert _rows(dsn, "SELECT count(*) FROM pulse_monitor_applied") == [(0,)]
        assert _rows(
            dsn, "SELECT shard, checkpoint_generation FROM pulse_evaluation_shards ORDER BY 1"
        ) == [(0, 0), (1, 2)]
        assert _rows(
            dsn,
            "SELECT shard, event_time, source, event_id FROM pulse_monitor_inbox ORDER BY 1, 2",
        ) == [
            (0, _at(1), "acme-jira", "e2"),
            (0, _at(2), "beta-snow", "e1"),
            (1, _at(1), "acme-jira", "e2"),
            (1, _at(2), "beta-snow", "e1"),
        ]
