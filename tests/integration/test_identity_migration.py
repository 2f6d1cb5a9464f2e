"""The identity migration (an item is (source, item id); version 6 here, renumbered when another
branch's version lands first) on a database built and filled by the schema before it.

That database is built by the migrations before it and filled the way that code wrote it:
events as they are, and item states folded by item id alone, so two sources' INC1 became one
row. The migration must key the states by (source, item id), move the folded row aside (it
describes no single item), keep every other row as it was, and leave open clocks joinable by
their item's key. Then the new sink writes each source's INC1 as its own row.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

import outcome_pulse.sinks.schema
from outcome_pulse.processors.item_state import ItemState, apply_event, state_row
from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.sinks.event_sink import PostgresSink
from outcome_pulse.sinks.partitions import ensure_partitions
from outcome_pulse.sinks.rows import event_row, months_of, state_tuple
from outcome_pulse.sinks.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from outcome_pulse.sinks.statements import EVENT_COLUMNS, STATE_COLUMNS
from outcome_pulse.streams.wire.events import EventEnvelope, build_envelope
from tests.integration.pgdb import temporary_database

pytestmark = pytest.mark.integration

T0 = datetime(2013, 3, 4, 9, tzinfo=UTC)
# The identity migration, and the schema before it (version 5, or whatever precedes it).
IDENTITY = next(m for m in MIGRATIONS if m.plain[0].endswith("_item_identity.sql"))
BEFORE = tuple(m for m in MIGRATIONS if m.version < IDENTITY.version)


def event(n: int, source: str, item: str, lifecycle: Lifecycle, **data: Any) -> EventEnvelope:
    return build_envelope(
        event_id=f"{source}-{n}",
        source=source,
        kind=ItemKind.INCIDENT,
        lifecycle=lifecycle,
        time=T0 + timedelta(hours=n),
        item_id=item,
        **data,
    )


EVENTS = [
    event(0, "acme-jira", "INC1", Lifecycle.CREATED, priority="P2"),
    event(1, "beta-snow", "INC1", Lifecycle.CREATED, priority="P4"),
    event(2, "acme-jira", "INC2", Lifecycle.CREATED, priority="P3"),
    event(3, "beta-snow", "SNOW9", Lifecycle.CREATED, priority="P1"),
    event(4, "beta-snow", "INC1", Lifecycle.PAUSED, state="Awaiting customer"),
    event(5, "acme-jira", "INC1", Lifecycle.RESOLVED),
]


def fold(events: list[EventEnvelope], key: Any) -> dict[Any, ItemState]:
    states: dict[Any, ItemState] = {}
    for e in events:
        k = key(e)
        states[k] = apply_event(states.get(k), e.to_item_event(), e.sequence)
    return states


def _rows(dsn: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


def _adapted(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(Jsonb(v) if isinstance(v, dict) else v for v in row)


async def fill_as_before(dsn: str) -> None:
    """Events as the sink writes them; item states keyed by id alone, as the old fold made them."""
    by_id = fold(EVENTS, lambda e: e.subject)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await ensure_partitions(conn, months_of(EVENTS), set())
        async with conn.transaction(), conn.cursor() as cur:
            await cur.executemany(
                f"INSERT INTO pulse_events ({', '.join(EVENT_COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(EVENT_COLUMNS))})",
                [_adapted(event_row(e)) for e in EVENTS],
            )
            rows = [state_tuple(state_row(s)) for s in by_id.values()]
            await cur.executemany(
                f"INSERT INTO pulse_item_states ({', '.join(STATE_COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(STATE_COLUMNS))})",
                [_adapted(r) for r in rows],
            )
            for item in ("INC1", "INC2"):
                await cur.execute(
                    "INSERT INTO pulse_open_item_clocks (contract, kpi, service, item_id, "
                    "priority, status, started_at, elapsed_seconds, target_seconds, share_used, "
                    "at_risk, breached, breach_at, as_of) VALUES (%s, 'restore', 'desk', %s, "
                    "'P2', 'running', %s, 3600, 28800, 0.125, false, false, NULL, %s)",
                    ["c-acme", item, T0, T0 + timedelta(hours=5)],
                )


def test_a_database_with_colliding_ids_migrates_to_source_and_item_keys(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with temporary_database(pg_dsn) as dsn:
        with monkeypatch.context() as patch:
            patch.setattr(outcome_pulse.sinks.schema, "MIGRATIONS", BEFORE)
            last = f"applied version {BEFORE[-1].version}"
            assert migrate(dsn, timescaledb=False).actions[-1].startswith(last)
        asyncio.run(fill_as_before(dsn))
        before = _rows(
            dsn, "SELECT source, item_id, status, event_count FROM pulse_item_states ORDER BY 2"
        )
        # the old fold: acme-jira's and beta-snow's INC1 are one row of 4 events
        assert before == [
            ("acme-jira", "INC1", "resolved", 4),
            ("acme-jira", "INC2", "open", 1),
            ("beta-snow", "SNOW9", "open", 1),
        ]
        kept = _rows(dsn, "SELECT * FROM pulse_item_states WHERE item_id <> 'INC1' ORDER BY 1")

        report = migrate(dsn)
        assert [a.split(":")[0] for a in report.actions] == [
            f"applied version {v}" for v in range(IDENTITY.version, SCHEMA_VERSION + 1)
        ]

        ((primary_key,),) = _rows(
            dsn,
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'pulse_item_states'::regclass AND contype = 'p'",
        )
        assert primary_key == "PRIMARY KEY (source, item_id)"
        ((index,),) = _rows(
            dsn, "SELECT indexdef FROM pg_indexes WHERE indexname = 'pulse_events_item_time'"
        )
        assert "(source, item_id, event_time)" in index
        # the rows of single items are kept as they were; the folded one is moved aside
        assert _rows(dsn, "SELECT * FROM pulse_item_states ORDER BY 1") == kept
        assert _rows(
            dsn, "SELECT source, item_id, event_count, sources FROM pulse_item_states_merged"
        ) == [("acme-jira", "INC1", 4, ["acme-jira", "beta-snow"])]
        assert _rows(dsn, "SELECT count(*) FROM pulse_events") == [(len(EVENTS),)]
        # a clock's source: that of its item id's events when they have one
        assert _rows(
            dsn, "SELECT item_id, source FROM pulse_open_item_clocks ORDER BY item_id"
        ) == [("INC1", None), ("INC2", "acme-jira")]
        assert migrate(dsn).actions == []

        # Re-producing the stored events under the new key: each INC1 gets its own row.
        by_item = fold(EVENTS, lambda e: (e.source, e.subject))

        async def write() -> None:
            async with PostgresSink(dsn) as sink:
                await sink.write(EVENTS, [state_row(s) for s in by_item.values()])

        asyncio.run(write())
        assert _rows(
            dsn,
            "SELECT source, item_id, status, priority, event_count FROM pulse_item_states "
            "ORDER BY 1, 2",
        ) == [
            ("acme-jira", "INC1", "resolved", "P2", 2),
            ("acme-jira", "INC2", "open", "P3", 1),
            ("beta-snow", "INC1", "paused", "P4", 2),
            ("beta-snow", "SNOW9", "open", "P1", 1),
        ]
