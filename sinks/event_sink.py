"""``PostgresSink``: writes batches of events and item states, once each, surviving restarts.

One ``write`` is one data transaction on one connection:

1. (plain PostgreSQL) create any missing monthly partitions, in a short transaction of their own
   (``outcome_pulse.sinks.partitions`` explains why not inside the data transaction);
2. binary COPY of the events and of the item states into TEMP staging tables, created once per
   connection with ``ON COMMIT DELETE ROWS``;
3. ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` into ``pulse_events`` (queuing each event it
   inserts in ``pulse_monitor_inbox`` for the contract monitor, in the same statement) and the
   monotonic upsert into ``pulse_item_states`` (``outcome_pulse.sinks.statements``), and, when
   the caller passes it, the latest event time of each Kafka partition the batch came from
   (``pulse_partition_progress``: the contract monitor's per-partition watermark); then COMMIT.

Every write is idempotent (deterministic keys, ``DO NOTHING``, an upsert that never goes
backwards), which is what makes retrying safe: a connection lost during COMMIT leaves the outcome
unknown, and writing the batch again is correct whether it landed or not.

Retries (tenacity): transient failures (``outcome_pulse.sinks.pgerrors.is_transient``: server down,
restarting, out of connections, deadlock victim) are retried with jittered exponential backoff,
capped at ``max_backoff`` seconds between attempts, on a fresh connection, until ``retry_deadline``
seconds have passed since the first attempt (``None``: forever, so a database outage stalls the
worker instead of losing the batch, and Kafka offsets are not committed past it). Each retry is
logged at WARNING with its attempt number. Anything else (a value PostgreSQL rejects, a missing
table) fails at once as ``SinkError``: it would fail identically on every attempt.

The sink owns a single connection and serialises ``write`` calls with a lock: a faust agent
flushes one batch at a time, and one connection keeps the staging tables and the partition cache
simple. Scale with partitions and workers, as the rest of the pipeline does.

Not compatible with transaction-pooling proxies (pgbouncer ``pool_mode=transaction``): the TEMP
staging tables belong to the server session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import psycopg
from psycopg.types.json import set_json_dumps
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    stop_never,
    wait_exponential,
    wait_random,
)

from outcome_pulse.sinks import session
from outcome_pulse.sinks import statements as q
from outcome_pulse.sinks.errors import SinkError, SinkRejected
from outcome_pulse.sinks.partitions import ensure_partitions
from outcome_pulse.sinks.pgerrors import is_transient, translate
from outcome_pulse.sinks.rows import (
    event_row,
    latest_states,
    months_of,
    rows_with_nul,
    state_tuple,
    unique_events,
)
from outcome_pulse.sinks.tables import Table

if TYPE_CHECKING:
    from outcome_pulse.sinks.stored_event import StoredEvent

log = logging.getLogger(__name__)
T = TypeVar("T")
_JSON = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class FlushStats:
    """What one ``write`` did.

    ``events_written``: rows new to ``pulse_events`` (a replayed event counts 0);
    ``states_written``: item-state rows inserted or replaced (a stale state counts 0);
    ``seconds``: wall time of the write including retries; ``attempts``: 1 unless retried.
    """

    events_written: int
    states_written: int
    seconds: float
    attempts: int = 1


class PostgresSink:
    """Batched, idempotent, retrying writer of ``pulse_events`` and ``pulse_item_states``."""

    def __init__(
        self,
        dsn: str,
        *,
        retry_deadline: float | None = None,
        max_backoff: float = 5.0,
        first_backoff: float = 0.2,
        connect_timeout: float = 5.0,
        application_name: str = "outcome-pulse-sink",
    ) -> None:
        self._dsn = dsn
        self._retry_deadline = retry_deadline
        self._max_backoff = max_backoff
        self._first_backoff = first_backoff
        self._connect_timeout = connect_timeout
        self._application_name = application_name
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._partitioned = False
        self._partitions: set[date] = set()
        self._lock = asyncio.Lock()
        self._doing = "connecting"

    # -- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and check the schema, retrying a database that is not up yet."""
        async with self._lock:
            await self._with_retries(self._connection, "opening the sink")

    async def close(self) -> None:
        async with self._lock:
            await self._discard()

    async def __aenter__(self) -> PostgresSink:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- writing ---------------------------------------------------------------------------------

    async def write(
        self,
        events: Sequence[StoredEvent],
        states: Sequence[Mapping[str, Any]],
        progress: Mapping[tuple[str, int], tuple[datetime, bool]] | None = None,
    ) -> FlushStats:
        """Write one batch in one transaction; see the module doc for retries and errors.

        ``progress``: ``(topic, partition) -> (latest event time, caught up)`` of the batch's
        records (``pulse_partition_progress``)."""
        started = time.perf_counter()
        unique = unique_events(events)
        latest = latest_states(states)
        marks = _progress_columns(progress or {})
        if not unique and not latest and not marks[0]:
            return FlushStats(0, 0, 0.0)
        event_rows = [event_row(event) for event in unique]
        state_rows = [state_tuple(state) for state in latest]
        months = months_of(unique)
        what = f"writing {len(event_rows)} events and {len(state_rows)} item states"
        async with self._lock:
            try:
                written, attempts = await self._with_retries(
                    lambda: self._write_once(event_rows, state_rows, months, marks), what
                )
            except SinkError as exc:
                culprits = _nul_culprits(exc, unique, latest)
                if culprits:
                    raise SinkRejected(f"{exc} -- {culprits}") from exc.__cause__
                raise
        return FlushStats(written[0], written[1], time.perf_counter() - started, attempts)

    async def _write_once(
        self,
        event_rows: list[tuple[Any, ...]],
        state_rows: list[tuple[Any, ...]],
        months: set[date],
        marks: tuple[list[str], list[int], list[datetime], list[bool]] = ([], [], [], []),
    ) -> tuple[int, int]:
        conn = await self._connection()
        if self._partitioned and months:
            self._doing = "creating monthly partitions of pulse_events"
            await ensure_partitions(conn, months, self._partitions)
        events_written = states_written = 0
        self._doing = "opening the write transaction"
        async with conn.transaction(), conn.cursor() as cur:
            if event_rows:
                self._doing = f"copying {len(event_rows)} events into staging"
                await _copy(cur, q.COPY_EVENTS, q.EVENT_TYPES, event_rows)
                self._doing = "inserting events into pulse_events and pulse_monitor_inbox"
                await cur.execute(q.INSERT_EVENTS)
                events_written = await inserted_count(cur)
            if state_rows:
                self._doing = f"copying {len(state_rows)} item states into staging"
                await _copy(cur, q.COPY_STATES, q.STATE_TYPES, state_rows)
                self._doing = "upserting pulse_item_states"
                await cur.execute(q.UPSERT_STATES)
                states_written = cur.rowcount
            if marks[0]:
                self._doing = "recording partition progress (pulse_partition_progress)"
                await cur.execute(q.RECORD_PARTITION_PROGRESS, list(marks))
            self._doing = "committing"
        return events_written, states_written

    async def stored_events(
        self, keys: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], list[tuple[Any, ...]]]:
        """The stored rows (``EVENT_COLUMNS`` order) of each ``(source, item id, event id)``,
        retried like a write; keys with nothing stored are absent."""
        if not keys:
            return {}
        sources, items, ids = (list(column) for column in zip(*keys, strict=True))

        async def read() -> list[tuple[Any, ...]]:
            conn = await self._connection()
            self._doing = f"reading the stored copies of {len(keys)} repeated event ids"
            async with conn.cursor() as cur:
                await cur.execute(q.STORED_EVENTS_OF_IDS, (sources, items, ids))
                return await cur.fetchall()

        async with self._lock:
            rows, _ = await self._with_retries(read, "reading repeated events")
        found: dict[tuple[str, str, str], list[tuple[Any, ...]]] = {}
        at = {column: q.EVENT_COLUMNS.index(column) for column in ("source", "item_id", "event_id")}
        for row in rows:
            key = (row[at["source"]], row[at["item_id"]], row[at["event_id"]])
            found.setdefault(key, []).append(tuple(row))
        return found

    # -- connection ------------------------------------------------------------------------------

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        """The open connection, or a new one with the schema checked and staging tables made."""
        if self._conn is not None and not self._conn.closed:
            return self._conn
        self._doing = "connecting"
        conn = await session.connect(
            self._dsn,
            connect_timeout=self._connect_timeout,
            application_name=self._application_name,
        )
        try:
            self._doing = "checking the schema"
            self._partitioned = await session.require_schema(conn, "this sink")
            # jsonb columns (attributes) are written by msgspec, not the standard library's
            # json.dumps: the same JSON values, a fraction of the time per row.
            set_json_dumps(_JSON.encode, conn)
            self._doing = "creating the staging tables"
            await conn.execute(q.CREATE_EVENT_STAGING)
            await conn.execute(q.CREATE_STATE_STAGING)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        return conn

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        await session.close_quietly(conn)

    # -- retries ---------------------------------------------------------------------------------

    async def _with_retries(self, action: Callable[[], Awaitable[T]], what: str) -> tuple[T, int]:
        """Run ``action`` until it succeeds, fails for good, or the deadline passes.

        Returns the result and the number of attempts; psycopg errors leave as ``SinkError``.
        """
        deadline = self._retry_deadline
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient),
            # 0.2, 0.4, 0.8 ... capped at max_backoff, plus up to first_backoff of jitter so that
            # workers restarting together do not reconnect in lockstep.
            wait=wait_exponential(multiplier=self._first_backoff, max=self._max_backoff)
            + wait_random(0, self._first_backoff),
            stop=stop_never if deadline is None else stop_after_delay(deadline),
            before_sleep=lambda state: self._log_retry(state, what),
            reraise=True,
        )
        attempts = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    try:
                        result = await action()
                    except psycopg.Error as exc:
                        await self._forget_on(exc)
                        raise
                    except asyncio.CancelledError:
                        # Cancelled mid-statement: the session state is unknown, start afresh.
                        await self._discard()
                        raise
        except psycopg.Error as exc:
            raise translate(exc, f"{what} ({self._doing})", attempts) from exc
        return result, attempts

    async def _forget_on(self, exc: psycopg.Error) -> None:
        """After a failure: drop a connection that may be dead, and the partition cache."""
        self._partitions.clear()
        if is_transient(exc) or (self._conn is not None and self._conn.broken):
            await self._discard()

    def _log_retry(self, state: RetryCallState, what: str) -> None:
        error = state.outcome.exception() if state.outcome else None
        pause = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "PostgreSQL unavailable while %s (%s): attempt %d failed: %s; retrying in %.1f s",
            what,
            self._doing,
            state.attempt_number,
            str(error).strip().replace("\n", " "),
            pause,
        )


def _progress_columns(
    progress: Mapping[tuple[str, int], tuple[datetime, bool]],
) -> tuple[list[str], list[int], list[datetime], list[bool]]:
    """The progress as four arrays (topics, partitions, event times, caught up), key order."""
    keys = sorted(progress)
    return (
        [t for t, _ in keys],
        [p for _, p in keys],
        [progress[k][0] for k in keys],
        [progress[k][1] for k in keys],
    )


def _nul_culprits(
    exc: SinkError, events: Sequence[StoredEvent], states: Sequence[Mapping[str, Any]]
) -> str:
    """Which rows hold NUL characters, when that is why PostgreSQL refused the batch."""
    if not isinstance(exc.__cause__, psycopg.DataError):
        return ""
    culprits = rows_with_nul(events, states)
    if not culprits:
        return ""
    more = f" and {len(culprits) - 10} more" if len(culprits) > 10 else ""
    return f"NUL characters, which PostgreSQL text cannot hold, in {', '.join(culprits[:10])}{more}"


async def _copy(
    cur: psycopg.AsyncCursor[Any],
    statement: str,
    types: Sequence[str],
    rows: list[tuple[Any, ...]],
) -> None:
    """COPY ``rows`` in binary; a value psycopg cannot encode fails the batch as ``SinkError``."""
    async with cur.copy(statement) as copy:
        copy.set_types(list(types))
        for row in rows:
            try:
                await copy.write_row(row)
            except (TypeError, ValueError, OverflowError) as exc:
                # e.g. a sequence beyond bigint: a data error, the same on every attempt.
                raise SinkRejected(f"cannot encode the row of {row[0]!r} for COPY: {exc}") from exc


async def inserted_count(cur: psycopg.AsyncCursor[Any]) -> int:
    """The count of new events that ``INSERT_EVENTS``/``INSERT_EVENT_ROW`` return as one row."""
    row = await cur.fetchone()
    return int(row[0]) if row else 0


def counts(dsn: str) -> dict[str, int]:
    """Rows per table, for tests and the CLI's summary."""
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            row = conn.execute(q.COUNT_ROWS).fetchone()
    except psycopg.Error as exc:
        raise translate(exc, "counting rows") from exc
    assert row is not None
    return {Table.EVENTS: int(row[0]), Table.ITEM_STATES: int(row[1])}
