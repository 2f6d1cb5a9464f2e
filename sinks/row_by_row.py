"""``RowByRowSink``: the benchmark's baseline, one ``INSERT ... ON CONFLICT`` per row.

Same tables, same batch rules (``outcome_pulse.sinks.rows``), same single transaction per batch as
``PostgresSink``, so a benchmark comparing the two measures only what COPY into staging plus one
set-based INSERT buys over a round trip per row. Each statement is awaited before the next (no
``executemany``, whose pipelining would blur the comparison). No retries: not for production use.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from outcome_pulse.sinks import statements as q
from outcome_pulse.sinks.errors import SinkError
from outcome_pulse.sinks.event_sink import FlushStats, inserted_count
from outcome_pulse.sinks.partitions import ensure_partitions
from outcome_pulse.sinks.pgerrors import translate
from outcome_pulse.sinks.rows import event_row, latest_states, months_of, state_tuple, unique_events

if TYPE_CHECKING:
    from outcome_pulse.sinks.stored_event import StoredEvent


class RowByRowSink:
    """One INSERT per event and one upsert per item state, in one transaction per batch."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._partitions: set[date] = set()

    async def open(self) -> None:
        try:
            self._conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
        except psycopg.Error as exc:
            raise translate(exc, "connecting the row-by-row sink") from exc

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def write(
        self, events: Sequence[StoredEvent], states: Sequence[Mapping[str, Any]]
    ) -> FlushStats:
        if self._conn is None:
            raise SinkError("RowByRowSink.write called before open()")
        started = time.perf_counter()
        unique = unique_events(events)
        event_rows = [_with_jsonb(event_row(event)) for event in unique]
        state_rows = [_with_jsonb(state_tuple(state)) for state in latest_states(states)]
        events_written = states_written = 0
        try:
            if await _is_partitioned(self._conn):
                await ensure_partitions(self._conn, months_of(unique), self._partitions)
            async with self._conn.transaction(), self._conn.cursor() as cur:
                for row in event_rows:
                    await cur.execute(q.INSERT_EVENT_ROW, row)
                    events_written += await inserted_count(cur)
                for row in state_rows:
                    await cur.execute(q.UPSERT_STATE_ROW, row)
                    states_written += cur.rowcount
        except psycopg.Error as exc:
            raise translate(exc, "writing row by row") from exc
        return FlushStats(events_written, states_written, time.perf_counter() - started)


def _with_jsonb(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Parameters, unlike typed COPY, need the jsonb column's dict wrapped (always the last)."""
    return (*row[:-1], Jsonb(row[-1]))


async def _is_partitioned(conn: psycopg.AsyncConnection[Any]) -> bool:
    cur = await conn.execute(q.EVENTS_PARTITIONED)
    row = await cur.fetchone()
    return bool(row and row[0])
