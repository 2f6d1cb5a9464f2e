"""``MonitorStore``: the contract monitor's database adapter (psycopg 3, async).

The monitor works in ticks; one tick is one transaction on the store's single connection:

1. lock the one-row lease (``pulse_monitor_lease``, ``SELECT ... FOR UPDATE``) and write this
   process's ``owner`` token into it. The row lock is held until COMMIT, so ticks of several
   monitor processes serialise. ``MonitorTick.taken_over`` tells whether another owner (or
   nobody) ran the previous tick: the caller's in-memory state may then be stale and must be
   rebuilt from ``all_events``, its rows written with ``replace``;
2. read the inbox (``pulse_monitor_inbox``: the events the sink inserted since, joined with their
   content), evaluate, ``write`` what changed, and mark the inbox rows ``done``;
3. COMMIT on a normal exit of ``tick()``, ROLLBACK when the body raises (the exception is
   re-raised): rows written and inbox rows cleared land together or not at all.

With several workers the ticks are per evaluation shard instead (``shard_tick``, schema v7): the
shard's fence row in ``pulse_evaluation_shards`` takes the lease's place (locked for the tick,
``ShardFenced`` when another worker claimed the shard since ``claim_shard``), and the tick reads
and clears only that shard's rows of the inbox (``sinks/shard_fence.py``).

Large upserts (a takeover may rewrite 300,000 points of a contract) go through a binary COPY into
a TEMP staging table (created once per connection, emptied at every commit) and one
``INSERT ... SELECT ... ON CONFLICT`` (``outcome_pulse.sinks.monitor_statements``).

Errors: psycopg errors leave as ``SinkError`` naming the table and operation; the connection is
dropped when it may be unusable, and the next tick reconnects. The store does not retry: a failed
tick changed nothing, and the caller runs the next one. Datetimes come back timezone-aware in
UTC (the session's TimeZone is UTC).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar

import psycopg

from outcome_pulse.processors.alerting.episodes import AlertEpisode
from outcome_pulse.processors.forecast.drift import DriftSignal
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind, Lifecycle
from outcome_pulse.processors.measurements import (
    Delta,
    IndicatorPoint,
    LateEvent,
    OpenClock,
    PeriodOutcome,
)
from outcome_pulse.processors.partition_progress import PartitionProgress
from outcome_pulse.processors.shards import Claim
from outcome_pulse.sinks import alert_statements as a_sql
from outcome_pulse.sinks import forecast_statements as f
from outcome_pulse.sinks import monitor_statements as m
from outcome_pulse.sinks import session, shard_fence
from outcome_pulse.sinks.contract_registry import REGISTER_CONTRACT, ContractRow
from outcome_pulse.sinks.errors import SinkError, SinkRejected
from outcome_pulse.sinks.pgerrors import is_transient, translate

R = TypeVar("R")
PointKey = tuple[str, str, str, str, datetime]
OutcomeKey = tuple[str, str, datetime]
InboxKey = tuple[datetime, str, str]
"""An inbox row's key: (event time, source, event id); an event is (source, id)."""

_point_tuple = attrgetter(*m.POINT_COLUMNS)
_point_key = attrgetter(*m.POINT_KEY)
_outcome_key = attrgetter(*m.OUTCOME_KEY)
_outcome_tuple = attrgetter(*m.OUTCOME_COLUMNS)
_KINDS = {kind.value: kind for kind in ItemKind}
_LIFECYCLES = {lifecycle.value: lifecycle for lifecycle in Lifecycle}


@dataclass(frozen=True, slots=True)
class InboxBatch:
    """Inbox rows read in one go: the events (with their sequence) and every key read.

    ``keys`` may hold keys without an event (its row was dropped by retention); pass them all to
    ``MonitorTick.done``.
    """

    events: list[tuple[ItemEvent, int]]
    keys: list[InboxKey] = field(default_factory=list)


class MonitorStore:
    """The monitor's connection: ticks under the lease, and the rows it evaluates and writes."""

    def __init__(
        self,
        dsn: str,
        owner: str,
        *,
        connect_timeout: float = 5.0,
        application_name: str = "outcome-pulse-monitor",
        work_mem: str = "64MB",
    ) -> None:
        """``owner``: a token unique to this process (e.g. host, pid and a random suffix);
        ``work_mem``: the session's PostgreSQL ``work_mem``."""
        if not owner:
            raise ValueError("MonitorStore needs a non-empty owner token")
        self._dsn = dsn
        self._owner = owner
        self._connect_timeout = connect_timeout
        self._application_name = application_name
        self._work_mem = work_mem
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    @property
    def owner(self) -> str:
        return self._owner

    # -- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, check the schema (the latest version) and create the staging tables."""
        async with self._lock:
            await self._connection()

    async def close(self) -> None:
        async with self._lock:
            await self._discard()

    async def __aenter__(self) -> MonitorStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- ticks -----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def tick(self) -> AsyncIterator[MonitorTick]:
        """One transaction holding the lease; see the module doc."""
        async with self._lock:
            conn = await self._connection()
            tick = MonitorTick(conn, taken_over=False)
            try:
                async with conn.transaction():
                    with tick.doing("taking the lease (pulse_monitor_lease)"):
                        cur = await conn.execute(m.LOCK_LEASE)
                        row = await cur.fetchone()
                        if row is None:
                            raise SinkError(
                                "pulse_monitor_lease has no row (id 1); the schema migration "
                                "creates it: run outcome_pulse.sinks.schema.migrate"
                            )
                        tick.taken_over = row[0] != self._owner
                        await conn.execute(m.TAKE_LEASE, [self._owner])
                    yield tick
                    tick.what = "committing"
            except psycopg.Error as exc:
                await self._forget_on(exc)
                raise translate(exc, f"running a monitor tick ({tick.what})") from exc
            except SinkError as exc:
                if isinstance(exc.__cause__, psycopg.Error):
                    await self._forget_on(exc.__cause__)
                raise
            except asyncio.CancelledError:
                await self._discard()  # cancelled mid-statement: the session state is unknown
                raise
            finally:
                tick.closed = True

    # -- evaluation shards (v7; see sinks/shard_fence.py) ----------------------------------------

    async def claim_shard(self, shard: int, known: int | None, count: int) -> Claim:
        """Claim evaluation ``shard`` (one of ``count``) for this owner, who last held it under
        generation ``known`` (None: not held); its own short transaction."""
        async with self._shard_transaction(f"claiming evaluation shard {shard}") as conn:
            return await shard_fence.claim(conn, shard, self._owner, known, count)

    @contextlib.asynccontextmanager
    async def shard_tick(self, shard: int, generation: int) -> AsyncIterator[MonitorTick]:
        """A tick of evaluation ``shard`` under the claim ``generation``: like ``tick()``, with
        the shard's fence in place of the lease (``ShardFenced`` if another worker claimed the
        shard since) and the shard's own inbox. ``taken_over`` is always False: a takeover is
        the claim's to report."""
        what = f"ticking evaluation shard {shard}"
        async with self._shard_transaction(what) as conn:
            tick = MonitorTick(conn, taken_over=False, shard=shard)
            try:
                with tick.doing(f"checking the fence of shard {shard} (pulse_evaluation_shards)"):
                    await shard_fence.check(conn, shard, self._owner, generation)
                yield tick
                tick.what = "committing"
            finally:
                tick.closed = True

    @contextlib.asynccontextmanager
    async def _shard_transaction(self, what: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """One transaction on the store's connection, errors handled as in ``tick()``."""
        async with self._lock:
            conn = await self._connection()
            try:
                async with conn.transaction():
                    yield conn
            except psycopg.Error as exc:
                await self._forget_on(exc)
                raise translate(exc, what) from exc
            except SinkError as exc:
                if isinstance(exc.__cause__, psycopg.Error):
                    await self._forget_on(exc.__cause__)
                raise
            except asyncio.CancelledError:
                await self._discard()  # cancelled mid-statement: the session state is unknown
                raise

    # -- connection ------------------------------------------------------------------------------

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        doing = "connecting"
        try:
            conn = await session.connect(
                self._dsn,
                connect_timeout=self._connect_timeout,
                application_name=self._application_name,
            )
        except psycopg.Error as exc:
            raise translate(exc, "opening the monitor store (connecting)") from exc
        try:
            doing = "checking the schema"
            # Sorts and hashes over a staged contract (300,000 points: ~30 MB) stay in memory.
            await conn.execute(m.SET_WORK_MEM, [self._work_mem])
            await session.require_schema(conn, "the contract monitor")
            doing = "creating the staging tables"
            await conn.execute(m.CREATE_POINT_STAGING)
            await conn.execute(m.CREATE_OUTCOME_STAGING)
        except psycopg.Error as exc:
            await conn.close()
            raise translate(exc, f"opening the monitor store ({doing})") from exc
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        return conn

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        await session.close_quietly(conn)

    async def _forget_on(self, exc: psycopg.Error) -> None:
        if is_transient(exc) or (self._conn is not None and self._conn.broken):
            await self._discard()


class MonitorTick:
    """What a tick may read and write; valid only inside ``async with store.tick()``."""

    def __init__(
        self, conn: psycopg.AsyncConnection[Any], taken_over: bool, shard: int = 0
    ) -> None:
        self._conn = conn
        self.taken_over = taken_over
        """True when another owner (or nobody) held the lease before this tick."""
        self.shard = shard
        """The evaluation shard whose inbox this tick reads (0 under the lease)."""
        self.closed = False
        self.what = "starting"
        self._staged: set[str] = set()

    # -- reading ---------------------------------------------------------------------------------

    async def all_events(self, sources: Sequence[str]) -> list[tuple[ItemEvent, int]]:
        """Every stored event of ``sources`` with its sequence, by (time, sequence, id)."""
        with self.doing(f"reading all events of {len(sources)} sources from pulse_events"):
            cur = await self._cursor().execute(m.ALL_EVENTS, [list(sources)])
            rows = await cur.fetchall()
        return [_item_event(row) for row in rows]

    async def item_events(self, items: Sequence[tuple[str, str]]) -> list[tuple[ItemEvent, int]]:
        """The stored events of these ``(source, item_id)`` items that are not in this shard's
        inbox (applied before), by (time, sequence, id)."""
        if not items:
            return []
        sources, ids = zip(*items, strict=True)
        with self.doing(f"reading the events of {len(items)} items from pulse_events"):
            cur = await self._cursor().execute(
                m.ITEM_EVENTS, [list(sources), list(ids), self.shard]
            )
            rows = await cur.fetchall()
        return [_item_event(row) for row in rows]

    # -- engine checkpoints (v9), under the shard's claim ----------------------------------------

    async def checkpoints(self, contracts: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        """``contract -> (fingerprint, state)`` of this shard's latest generation of engine
        checkpoints (``pulse_engine_checkpoints``)."""
        with self.doing("reading pulse_engine_checkpoints"):
            cur = await self._cursor().execute(m.READ_CHECKPOINTS, [self.shard, list(contracts)])
            rows = await cur.fetchall()
        return {contract: (fingerprint, bytes(state)) for contract, fingerprint, state in rows}

    async def applied_events(self, sources: Sequence[str]) -> list[tuple[ItemEvent, int]]:
        """The stored events of ``sources`` this shard applied since its latest checkpoints
        (``pulse_monitor_applied``), by (time, sequence, id)."""
        with self.doing("reading the events applied since the checkpoints"):
            cur = await self._cursor().execute(m.APPLIED_EVENTS, [self.shard, list(sources)])
            rows = await cur.fetchall()
        return [_item_event(row) for row in rows]

    async def recorded_frontiers(self, contracts: Sequence[str]) -> dict[str, datetime | None]:
        """``contract -> driver frontier`` the latest round recorded (None: the engine went by
        its latest event; ``pulse_contract_watermarks``)."""
        with self.doing("reading pulse_contract_watermarks"):
            cur = await self._cursor().execute(m.RECORDED_FRONTIERS, [list(contracts)])
            rows = await cur.fetchall()
        return {contract: frontier for contract, frontier in rows}

    async def write_checkpoints(self, states: Sequence[tuple[str, str, bytes]]) -> int:
        """New checkpoints ``(contract, fingerprint, state)`` of this shard, one generation
        holding every event the shard applied so far (its ``pulse_monitor_applied`` rows are
        emptied); returns the generation."""
        cur = self._cursor()
        with self.doing(f"writing {len(states)} engine checkpoint(s) of shard {self.shard}"):
            row = await (await cur.execute(m.NEXT_CHECKPOINT_GENERATION, [self.shard])).fetchone()
            if row is None:
                raise SinkError(
                    f"pulse_evaluation_shards has no row for shard {self.shard}; the worker's "
                    "start (prepare_stack, ensure_shards) creates it"
                )
            generation = int(row[0])
            for contract, fingerprint, state in states:
                await cur.execute(
                    m.WRITE_CHECKPOINT, [contract, self.shard, generation, fingerprint, state]
                )
            await cur.execute(m.CLEAR_APPLIED, [self.shard])
        return generation

    async def partition_progress(self) -> list[PartitionProgress]:
        """Each Kafka partition's latest event time stored and how long it has been silent
        (``pulse_partition_progress``); read it before ``inbox``."""
        with self.doing("reading pulse_partition_progress"):
            cur = await self._cursor().execute(m.PARTITION_PROGRESS)
            rows = await cur.fetchall()
        return [PartitionProgress(*row) for row in rows]

    async def inbox(self, limit: int = 50_000, *, with_events: bool = True) -> InboxBatch:
        """Up to ``limit`` inbox rows, oldest first, with their events' content (without:
        only the keys, for a monitor that evaluates nothing and just clears its inbox)."""
        if not with_events:
            with self.doing("reading pulse_monitor_inbox"):
                cur = await self._cursor().execute(m.READ_INBOX_KEYS, [self.shard, limit])
                return InboxBatch([], [(row[0], row[1], row[2]) for row in await cur.fetchall()])
        with self.doing("reading pulse_monitor_inbox joined with pulse_events"):
            cur = await self._cursor().execute(m.READ_INBOX, [self.shard, limit])
            rows = await cur.fetchall()
        keys = [(row[0], row[1], row[2]) for row in rows]
        events = [_item_event(row[3:]) for row in rows if row[3] is not None]
        return InboxBatch(events, keys)

    async def done(self, keys: Sequence[InboxKey]) -> None:
        """Delete these inbox rows: their events' effects are written in this tick. They move to
        ``pulse_monitor_applied`` (the events applied since the shard's checkpoints)."""
        if not keys:
            return
        with self.doing(f"deleting {len(keys)} rows from pulse_monitor_inbox"):
            times, sources, ids = zip(*keys, strict=True)
            await self._cursor().execute(
                m.DELETE_INBOX, [list(times), list(sources), list(ids), self.shard]
            )

    # -- writing ---------------------------------------------------------------------------------

    async def write(
        self,
        contract: str,
        points: Delta[PointKey, IndicatorPoint],
        outcomes: Delta[OutcomeKey, PeriodOutcome],
        late: Sequence[LateEvent] = (),
    ) -> None:
        """Apply one contract's changes: upserts, deletes (by key) and late events."""
        cur = self._cursor()
        if points.deletes:
            _check_contract(contract, (key[0] for key in points.deletes), "point key")
            with self.doing(f"deleting {len(points.deletes)} rows of pulse_indicator_points"):
                await cur.execute(m.DELETE_POINTS, _columns(points.deletes))
        if outcomes.deletes:
            _check_contract(contract, (key[0] for key in outcomes.deletes), "outcome key")
            with self.doing(f"deleting {len(outcomes.deletes)} rows of pulse_period_outcomes"):
                await cur.execute(m.DELETE_OUTCOMES, _columns(outcomes.deletes))
        await self._upsert_points(contract, points.upserts, replace=False)
        await self._upsert_outcomes(contract, outcomes.upserts, replace=False)
        if late:
            _check_contract(contract, (event.contract for event in late), "late event")
            with self.doing(f"inserting {len(late)} rows into pulse_late_events"):
                await cur.executemany(
                    m.INSERT_LATE_EVENT,
                    [
                        (
                            e.contract,
                            e.source,
                            e.event_id,
                            e.event_time,
                            e.watermark,
                            _joined(e.changed),
                        )
                        for e in late
                    ],
                )

    async def record_watermark(
        self,
        contract: str,
        frontier: datetime,
        watermark: datetime,
        driver_frontier: datetime | None = None,
    ) -> None:
        """The frontier and watermark the contract's rows are now computed at, and the frontier
        the partitions last gave its engine (None: none)."""
        with self.doing(f"recording the watermark of {contract!r} (pulse_contract_watermarks)"):
            await self._cursor().execute(
                m.RECORD_WATERMARK, [contract, frontier, watermark, driver_frontier]
            )

    async def register_contracts(self, rows: Sequence[ContractRow]) -> None:
        """Record each contract's client in pulse_contracts (row-level security keys on it)."""
        with self.doing(f"registering {len(rows)} contract(s) in pulse_contracts"):
            await self._cursor().executemany(REGISTER_CONTRACT, rows)

    async def replace_open_clocks(self, contract: str, clocks: Sequence[OpenClock]) -> None:
        """Make the contract's open item clocks exactly these (a few hundred rows at most)."""
        _check_contract(contract, (clock.contract for clock in clocks), "open clock")
        cur = self._cursor()
        with self.doing(f"replacing {len(clocks)} rows of pulse_open_item_clocks"):
            await cur.execute(m.DELETE_CLOCKS, [contract])
            if clocks:
                await cur.executemany(
                    m.INSERT_CLOCK,
                    [tuple(getattr(c, name) for name in m.CLOCK_COLUMNS) for c in clocks],
                )

    async def write_alerts(
        self, contract: str, alerts: Delta[tuple[str, str, datetime], AlertEpisode]
    ) -> None:
        """Upsert changed alert episodes (``pulse_alerts``) and delete those gone, by key."""
        _check_contract(contract, (a.contract for a in alerts.upserts), "alert")
        _check_contract(contract, (key[0] for key in alerts.deletes), "alert key")
        cur = self._cursor()
        if alerts.deletes:
            with self.doing(f"deleting {len(alerts.deletes)} rows of pulse_alerts"):
                await cur.execute(a_sql.DELETE_ALERTS, _columns(alerts.deletes))
        if alerts.upserts:
            with self.doing(f"upserting {len(alerts.upserts)} rows into pulse_alerts"):
                await cur.executemany(
                    a_sql.UPSERT_ALERT, [a_sql.alert_row(a) for a in alerts.upserts]
                )

    async def replace_alerts(self, contract: str, alerts: Sequence[AlertEpisode]) -> None:
        """Make the contract's alert episodes exactly these (after a rebuild)."""
        _check_contract(contract, (a.contract for a in alerts), "alert")
        cur = self._cursor()
        with self.doing(f"replacing {len(alerts)} rows of pulse_alerts"):
            await cur.execute(a_sql.DELETE_CONTRACT_ALERTS, [contract])
            if alerts:
                await cur.executemany(a_sql.UPSERT_ALERT, [a_sql.alert_row(a) for a in alerts])

    async def replace_forecasts(self, contract: str, forecasts: Sequence[PeriodForecast]) -> None:
        """Make the contract's running-period forecasts exactly these (one row per KPI)."""
        await self._replace_rows(
            contract,
            forecasts,
            "pulse_period_forecasts",
            f.DELETE_FORECASTS,
            f.INSERT_FORECAST,
            f.FORECAST_COLUMNS,
        )

    async def replace_drift_signals(self, contract: str, signals: Sequence[DriftSignal]) -> None:
        """Make the contract's drift signals exactly these."""
        await self._replace_rows(
            contract,
            signals,
            "pulse_drift_signals",
            f.DELETE_DRIFT_SIGNALS,
            f.INSERT_DRIFT_SIGNAL,
            f.DRIFT_COLUMNS,
        )

    async def _replace_rows(
        self,
        contract: str,
        rows: Sequence[PeriodForecast] | Sequence[DriftSignal],
        table: str,
        delete: str,
        insert: str,
        columns: Sequence[str],
    ) -> None:
        _check_contract(contract, (row.contract for row in rows), table)
        cur = self._cursor()
        with self.doing(f"replacing {len(rows)} rows of {table}"):
            await cur.execute(delete, [contract])
            if rows:
                await cur.executemany(
                    insert, [tuple(getattr(row, name) for name in columns) for row in rows]
                )

    async def replace(
        self,
        contract: str,
        points: Iterable[IndicatorPoint],
        outcomes: Iterable[PeriodOutcome],
    ) -> None:
        """Make the contract's points and outcomes exactly these (after a takeover).

        Rows of the contract not in the new sets are deleted; the rest are upserted under the
        same rules as ``write`` (unchanged rows untouched, corrections of final outcomes counted).
        """
        await self._upsert_points(contract, points, replace=True)
        await self._upsert_outcomes(contract, outcomes, replace=True)

    # -- internals -------------------------------------------------------------------------------

    async def _upsert_points(
        self, contract: str, rows: Iterable[IndicatorPoint], *, replace: bool
    ) -> None:
        unique = _unique(rows, _point_key)
        _check_contract(contract, (row.contract for row in unique), "indicator point")
        if not unique and not replace:
            return
        cur = self._cursor()
        await self._stage(m.POINT_STAGING, m.COPY_POINTS, m.POINT_TYPES, unique, _point_tuple)
        if replace:
            with self.doing(f"deleting stale rows of {contract!r} from pulse_indicator_points"):
                await cur.execute(m.NO_NESTED_LOOPS)
                await cur.execute(m.DELETE_STALE_POINTS, [contract])
                await cur.execute(m.NESTED_LOOPS_AGAIN)
        if unique:
            with self.doing(f"upserting {len(unique)} rows into pulse_indicator_points"):
                await cur.execute(m.UPSERT_POINTS)

    async def _upsert_outcomes(
        self, contract: str, rows: Iterable[PeriodOutcome], *, replace: bool
    ) -> None:
        unique = _unique(rows, _outcome_key)
        _check_contract(contract, (row.contract for row in unique), "period outcome")
        if not unique and not replace:
            return
        cur = self._cursor()
        await self._stage(
            m.OUTCOME_STAGING, m.COPY_OUTCOMES, m.OUTCOME_TYPES, unique, _outcome_tuple
        )
        if replace:
            with self.doing(f"deleting stale rows of {contract!r} from pulse_period_outcomes"):
                await cur.execute(m.DELETE_STALE_OUTCOMES, [contract])
        if unique:
            with self.doing(f"upserting {len(unique)} rows into pulse_period_outcomes"):
                await cur.execute(m.UPSERT_OUTCOMES)

    async def _stage(
        self,
        table: str,
        copy_statement: str,
        types: Sequence[str],
        rows: Sequence[R],
        as_tuple: Callable[[R], tuple[Any, ...]],
    ) -> None:
        """Empty the staging table if this tick used it already, then COPY ``rows`` into it."""
        cur = self._cursor()
        if table in self._staged:
            with self.doing(f"emptying {table}"):
                await cur.execute(m.TRUNCATE_STAGING[table])
        self._staged.add(table)
        if not rows:
            return
        with self.doing(f"copying {len(rows)} rows into {table}"):
            async with cur.copy(copy_statement) as copy:
                copy.set_types(list(types))
                for row in rows:
                    try:
                        await copy.write_row(as_tuple(row))
                    except (TypeError, ValueError, OverflowError) as exc:
                        raise SinkRejected(f"cannot encode {row!r} for COPY: {exc}") from exc

    def _cursor(self) -> psycopg.AsyncCursor[Any]:
        if self.closed:
            raise SinkError("MonitorTick used after its tick ended (outside `async with tick()`)")
        return self._conn.cursor()

    @contextlib.contextmanager
    def doing(self, what: str) -> Iterator[None]:
        """Name the operation in progress; a psycopg error inside becomes a ``SinkError``."""
        self.what = what
        try:
            yield
        except psycopg.Error as exc:
            raise translate(exc, f"running a monitor tick ({what})") from exc


def _item_event(row: Sequence[Any]) -> tuple[ItemEvent, int]:
    """(ItemEvent, sequence) of a row in ``event_fields`` order (sinks/sql/dml/monitor.sql)."""
    (event_id, source, item_id, kind, lifecycle, time, state, priority, assignee, due_at) = row[:10]
    attributes, sequence = row[10], row[11]
    event = ItemEvent(
        event_id=event_id,
        source=source,
        item_id=item_id,
        kind=_KINDS[kind],
        lifecycle=_LIFECYCLES[lifecycle],
        time=time,
        state=state,
        priority=priority,
        assignee=assignee,
        due_at=due_at,
        attributes=attributes,
    )
    return event, int(sequence)


def _unique(rows: Iterable[R], key: Callable[[R], Any]) -> list[R]:
    """One row per key (the last given; one upsert may not touch a row twice), in key order.

    Staged in key order, the rows reach PostgreSQL presorted: its sort for the upsert's
    ``ORDER BY`` then costs one pass, and the index pages are filled in order.
    """
    unique = {key(row): row for row in rows}
    return [unique[k] for k in sorted(unique)]


def _check_contract(contract: str, found: Iterable[str], what: str) -> None:
    for other in found:
        if other != contract:
            raise SinkError(f"a {what} of contract {other!r} passed when writing {contract!r}")


def _columns(keys: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Keys (at least one) as one list per column: the arrays the ``unnest`` deletes take."""
    return [list(column) for column in zip(*keys, strict=True)]


_UNIT_SEPARATOR = "\x1f"


def _joined(keys: Sequence[str]) -> str:
    """Row keys as insert_late_event splits them (monitor.sql); a key that would not come back
    as itself (holding the separator, or empty; row keys are never either) is refused."""
    for key in keys:
        if not key or _UNIT_SEPARATOR in key:
            raise SinkError(f"a late event's changed-row key is empty or holds U+001F: {key!r}")
    return _UNIT_SEPARATOR.join(keys)
