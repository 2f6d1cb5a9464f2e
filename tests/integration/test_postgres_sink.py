"""PostgresSink against a real PostgreSQL: idempotence, monotonic states, partitions, one COPY
per batch, refusals, and surviving a server restart."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from outcome_pulse.processors.item_state import ItemState, apply_event, state_row
from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.sinks.errors import SinkError
from outcome_pulse.sinks.event_sink import FlushStats, PostgresSink, counts
from outcome_pulse.sinks.partitions import partition_name
from outcome_pulse.sinks.queries import table_fingerprint
from outcome_pulse.sinks.row_by_row import RowByRowSink
from outcome_pulse.sinks.schema import migrate
from outcome_pulse.streams.kafka.repeated_events import repeat_key, stored_conflicts
from outcome_pulse.streams.wire.events import EventEnvelope, build_envelope
from tests.datasets import log_events
from tests.integration.pgdb import DisposableCluster, empty_tables, temporary_database

pytestmark = pytest.mark.integration

SOURCE = "sink-test"
_STEPS = (
    Lifecycle.CREATED,
    Lifecycle.ASSIGNED,
    Lifecycle.PAUSED,
    Lifecycle.RESUMED,
    Lifecycle.RESOLVED,
    Lifecycle.CLOSED,
)


# -- data ----------------------------------------------------------------------------------------


def make_events(
    items: int, per_item: int, *, start: datetime, spread: timedelta, seed: int = 7
) -> list[EventEnvelope]:
    """``items`` incidents with ``per_item`` events each, opened at random over ``spread``."""
    rng = random.Random(seed)
    events = []
    for n in range(items):
        opened = start + timedelta(seconds=rng.uniform(0, spread.total_seconds()))
        for k in range(per_item):
            lifecycle = _STEPS[k % len(_STEPS)]
            events.append(
                build_envelope(
                    event_id=f"ev-{n}-{k}",
                    source=SOURCE,
                    kind=ItemKind.INCIDENT,
                    lifecycle=lifecycle,
                    time=opened + timedelta(hours=3 * k),
                    item_id=f"INC{n:06d}",
                    sequence=k,
                    priority="P2",
                    assignee=f"team-{n % 5}" if lifecycle is Lifecycle.ASSIGNED else None,
                    attributes={"product": f"PROD{n % 11}", "country": "se"},
                )
            )
    return events


def fold(
    events: Sequence[EventEnvelope], items: dict[str, ItemState] | None = None
) -> dict[str, ItemState]:
    items = dict(items or {})
    for event in events:
        items[event.subject] = apply_event(
            items.get(event.subject), event.to_item_event(), event.sequence
        )
    return items


def rows_of(items: dict[str, ItemState]) -> list[dict[str, Any]]:
    return [state_row(state) for state in items.values()]


def write(
    dsn: str, events: Sequence[EventEnvelope], states: Sequence[dict[str, Any]], **options: Any
) -> FlushStats:
    async def run() -> FlushStats:
        async with PostgresSink(dsn, **options) as sink:
            return await sink.write(events, states)

    return asyncio.run(run())


def fingerprints(dsn: str) -> tuple[tuple[int, str], tuple[int, str]]:
    return (
        table_fingerprint(dsn, "pulse_events", "event_time, source, event_id"),
        table_fingerprint(dsn, "pulse_item_states", "item_id"),
    )


def query(dsn: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def inbox(dsn: str) -> list[tuple[Any, ...]]:
    """The monitor's inbox (event_time, source, event_id), in key order."""
    return query(
        dsn, "SELECT event_time, source, event_id FROM pulse_monitor_inbox ORDER BY 1, 2, 3"
    )


def event_keys(events: Sequence[EventEnvelope]) -> list[tuple[Any, ...]]:
    return sorted({(e.time, e.source, e.id) for e in events})


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def dsn(migrated: str) -> str:
    """The module's database, emptied: no rows, no monthly partitions."""
    empty_tables(migrated, "pulse_events", "pulse_item_states", "pulse_monitor_inbox")
    return migrated


# -- tests ---------------------------------------------------------------------------------------


def built_with_timescaledb(dsn: str) -> bool:
    """What migrate() chose for this database (recorded in pulse_schema_version)."""
    ((flag,),) = query(dsn, "SELECT bool_or(timescaledb) FROM pulse_schema_version")
    return bool(flag)


def test_each_month_written_gets_its_partition_or_chunk(dsn: str) -> None:
    """Plain PostgreSQL: a monthly range partition per month written (named
    ``pulse_events_yYYYYmMM``, with the BRIN index). TimescaleDB: a one-month chunk per month
    written, in ``_timescaledb_internal``, and no monthly partitions."""
    months = [
        datetime(2006, 1, 15, tzinfo=UTC),
        datetime(2010, 7, 31, 23, tzinfo=UTC),
        datetime(2015, 12, 1, tzinfo=UTC),
    ]
    events = [
        build_envelope(
            event_id=f"p{i}",
            source=SOURCE,
            kind=ItemKind.TICKET,
            lifecycle=Lifecycle.CREATED,
            time=moment,
            item_id=f"T{i}",
        )
        for i, moment in enumerate(months)
    ]
    stats = write(dsn, events, rows_of(fold(events)))
    assert (stats.events_written, stats.states_written) == (3, 3)
    # 2010-07-31T23:00-02:00 is August in UTC: partitions and chunks follow UTC months.
    late = build_envelope(
        event_id="p-late",
        source=SOURCE,
        kind=ItemKind.TICKET,
        lifecycle=Lifecycle.CREATED,
        item_id="T9",
        time=datetime.fromisoformat("2010-07-31T23:00:00-02:00"),
    )
    write(dsn, [late], [])
    if built_with_timescaledb(dsn):
        assert_chunks(dsn, [*months, late.time])
    else:
        assert_monthly_partitions(dsn)


def assert_monthly_partitions(dsn: str) -> None:
    partitions = query(
        dsn,
        "SELECT inhrelid::regclass::text FROM pg_inherits "
        "WHERE inhparent = 'pulse_events'::regclass ORDER BY 1",
    )
    expected = [date(2006, 1, 1), date(2010, 7, 1), date(2010, 8, 1), date(2015, 12, 1)]
    assert [name for (name,) in partitions] == [partition_name(m) for m in expected]
    # Each row sits in its month's partition, and the partitions carry the BRIN index too.
    placed = query(dsn, "SELECT event_id, tableoid::regclass::text FROM pulse_events ORDER BY 1")
    assert placed == [
        ("p-late", "pulse_events_y2010m08"),
        ("p0", "pulse_events_y2006m01"),
        ("p1", "pulse_events_y2010m07"),
        ("p2", "pulse_events_y2015m12"),
    ]
    brin = query(
        dsn,
        "SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'pulse_events_y%' "
        "AND indexdef LIKE '%USING brin (event_time)%'",
    )
    assert brin == [(4,)]


def assert_chunks(dsn: str, times: list[datetime]) -> None:
    chunks = query(
        dsn,
        "SELECT chunk_schema, chunk_name, range_start, range_end "
        "FROM timescaledb_information.chunks WHERE hypertable_name = 'pulse_events' "
        "ORDER BY range_start",
    )
    assert {schema for schema, _, _, _ in chunks} == {"_timescaledb_internal"}
    holding = set()
    for moment in times:
        names = [name for _, name, lo, hi in chunks if lo <= moment < hi]
        assert len(names) == 1, (moment, chunks)
        assert hi_minus_lo_is_about_a_month(chunks, names[0])
        holding.add(names[0])
    # Only the months written got a chunk (the last two times may share one: TimescaleDB
    # versions without calendar chunking cut fixed 30-day chunks).
    assert {name for _, name, _, _ in chunks} == holding
    assert len(holding) >= 3
    # Each row sits in the chunk whose range holds its time; no monthly partitions exist.
    placed = dict(query(dsn, "SELECT event_id, tableoid::regclass::text FROM pulse_events"))
    by_name = {f"{schema}.{name}": (lo, hi) for schema, name, lo, hi in chunks}
    rows = dict(query(dsn, "SELECT event_id, event_time FROM pulse_events"))
    for event_id, table in placed.items():
        lo, hi = by_name[table]
        assert lo <= rows[event_id] < hi
    assert query(dsn, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'pulse_events_y%'") == [
        (0,)
    ]


def hi_minus_lo_is_about_a_month(chunks: list[tuple[Any, ...]], name: str) -> bool:
    ((lo, hi),) = [(lo, hi) for _, n, lo, hi in chunks if n == name]
    return timedelta(days=28) <= hi - lo <= timedelta(days=31)


def test_writing_the_same_batch_twice_leaves_identical_rows(dsn: str) -> None:
    events = make_events(200, 4, start=datetime(2012, 3, 1, tzinfo=UTC), spread=timedelta(days=90))
    states = rows_of(fold(events))
    first = write(dsn, events, states)
    assert (first.events_written, first.states_written) == (800, 200)
    after_first = fingerprints(dsn)
    assert inbox(dsn) == event_keys(events)
    second = write(dsn, events, states)
    assert (second.events_written, second.states_written) == (0, 0)
    assert fingerprints(dsn) == after_first
    assert inbox(dsn) == event_keys(events)  # duplicates queue nothing for the monitor


def test_the_inbox_gets_exactly_the_new_events(dsn: str) -> None:
    events = make_events(30, 3, start=datetime(2012, 3, 1, tzinfo=UTC), spread=timedelta(days=9))
    old, new = events[:40], events[40:]
    write(dsn, old, [])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM pulse_monitor_inbox")  # the monitor has processed them
    stats = write(dsn, old + new, [])  # overlapping redelivery plus new events
    assert stats.events_written == len(new)
    assert inbox(dsn) == event_keys(new)


def test_replay_in_other_batches_and_order_converges_to_the_same_rows(dsn: str) -> None:
    """What a crash and redelivery look like: overlapping, reordered batches, stale states."""
    events = make_events(120, 5, start=datetime(2013, 1, 1, tzinfo=UTC), spread=timedelta(days=60))
    write(dsn, events, rows_of(fold(events)))
    expected = fingerprints(dsn)

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE pulse_events, pulse_item_states")
    shuffled = list(events)
    random.Random(3).shuffle(shuffled)
    chunks = [shuffled[i : i + 97] for i in range(0, len(shuffled), 97)]
    items: dict[str, ItemState] = {}
    snapshots = []
    for chunk in chunks:
        items = fold(chunk, items)
        snapshots.append((chunk, rows_of({e.subject: items[e.subject] for e in chunk})))
    # Deliver the last batches first, then everything again from the start.
    for chunk, states in [*snapshots[::-1], *snapshots]:
        write(dsn, chunk, states)
    assert fingerprints(dsn) == expected


def test_an_older_item_state_never_overwrites_a_newer_one(dsn: str) -> None:
    events = make_events(1, 4, start=datetime(2014, 5, 1, tzinfo=UTC), spread=timedelta(0))
    newer = rows_of(fold(events))[0]
    older = rows_of(fold(events[:2]))[0]
    assert (older["event_count"], newer["event_count"]) == (2, 4)

    write(dsn, events, [newer])
    stale = write(dsn, [], [older])
    assert stale.states_written == 0
    stored = query(dsn, "SELECT event_count, status, last_event_at FROM pulse_item_states")
    assert stored == [(4, newer["status"], newer["last_event_at"])]

    more = make_events(1, 6, start=datetime(2014, 5, 1, tzinfo=UTC), spread=timedelta(0))
    newest = rows_of(fold(more))[0]
    assert write(dsn, more, [newest]).states_written == 1
    assert query(dsn, "SELECT event_count, status FROM pulse_item_states") == [
        (6, newest["status"])
    ]


def test_duplicates_within_one_batch(dsn: str) -> None:
    events = make_events(2, 3, start=datetime(2011, 9, 1, tzinfo=UTC), spread=timedelta(days=2))
    by_item: dict[str, list[EventEnvelope]] = {}
    for event in events:
        by_item.setdefault(event.subject, []).append(event)
    # Every event twice; each item's states after 1, 3 and 2 of its events, in that order.
    doubled = [e for e in events for _ in range(2)]
    states = [rows_of(fold(evs[:n]))[0] for evs in by_item.values() for n in (1, 3, 2)]
    stats = write(dsn, doubled, states)
    assert (stats.events_written, stats.states_written) == (6, 2)
    assert query(dsn, "SELECT item_id, event_count FROM pulse_item_states ORDER BY 1") == [
        (item, 3) for item in sorted(by_item)
    ]


def test_a_batch_of_20000_events_is_one_copy_per_table(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies: list[str] = []
    statements: list[str] = []
    real_copy = psycopg.AsyncCursor.copy
    real_execute = psycopg.AsyncCursor.execute

    def spy_copy(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        copies.append(str(statement))
        return real_copy(self, statement, *args, **kwargs)

    async def spy_execute(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(statement))
        return await real_execute(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncCursor, "copy", spy_copy)
    monkeypatch.setattr(psycopg.AsyncCursor, "execute", spy_execute)

    events = make_events(
        4000, 5, start=datetime(2006, 1, 1, tzinfo=UTC), spread=timedelta(days=3650)
    )
    stats = write(dsn, events, rows_of(fold(events)))

    assert (stats.events_written, stats.states_written) == (20_000, 4000)
    assert len(copies) == 2
    assert "pulse_events_staging" in copies[0] and "pulse_item_states_staging" in copies[1]
    inserts = [s for s in statements if "INSERT" in s.upper()]
    assert len(inserts) == 2, inserts
    # Everything else is per connection or per new month, never per row.
    assert len(statements) < 150
    assert counts(dsn) == {"pulse_events": 20_000, "pulse_item_states": 4000}


def test_a_value_postgres_rejects_fails_the_batch_at_once(
    dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL text cannot hold NUL. The envelope validation rejects it upstream (dead
    letter); a row that still carries one fails its whole batch as SinkError, unretried."""
    good = make_events(1, 2, start=datetime(2012, 1, 1, tzinfo=UTC), spread=timedelta(0))
    bad = good[1].model_copy(update={"id": "ev-nul", "source": "bad\x00source"})

    async def run() -> tuple[SinkError, FlushStats]:
        async with PostgresSink(dsn, retry_deadline=30) as sink:
            with pytest.raises(SinkError) as failure:
                await sink.write([good[0], bad], rows_of(fold(good)))
            after = await sink.write(good, rows_of(fold(good)))  # the same sink carries on
            return failure.value, after

    with caplog.at_level(logging.WARNING, logger="outcome_pulse.sinks.event_sink"):
        error, after = asyncio.run(run())
    message = str(error)
    assert "22021" in message and "ev-nul" in message and "copying" in message
    assert not [r for r in caplog.records if "attempt" in r.getMessage()]  # not retried
    assert (after.events_written, after.states_written) == (2, 1)
    assert counts(dsn) == {"pulse_events": 2, "pulse_item_states": 1}


def test_a_value_psycopg_cannot_encode_is_a_sink_error(dsn: str) -> None:
    event = make_events(1, 1, start=datetime(2012, 1, 1, tzinfo=UTC), spread=timedelta(0))[0]
    huge = event.model_copy(update={"sequence": 2**63})  # beyond bigint
    with pytest.raises(SinkError, match="ev-0-0"):
        write(dsn, [huge], [])
    assert counts(dsn) == {"pulse_events": 0, "pulse_item_states": 0}


def test_an_unmigrated_database_is_refused(pg_dsn: str) -> None:
    with temporary_database(pg_dsn) as empty, pytest.raises(SinkError, match="migration"):
        write(
            empty,
            make_events(1, 1, start=datetime(2012, 1, 1, tzinfo=UTC), spread=timedelta(0)),
            [],
        )


def test_row_by_row_baseline_writes_the_same_rows(dsn: str) -> None:
    events = make_events(50, 4, start=datetime(2009, 11, 20, tzinfo=UTC), spread=timedelta(days=30))
    states = rows_of(fold(events))
    write(dsn, events, states)
    expected = fingerprints(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE pulse_events, pulse_item_states, pulse_monitor_inbox")

    async def run() -> FlushStats:
        sink = RowByRowSink(dsn)
        await sink.open()
        try:
            return await sink.write(events, states)
        finally:
            await sink.close()

    stats = asyncio.run(run())
    assert (stats.events_written, stats.states_written) == (200, 50)
    assert fingerprints(dsn) == expected
    assert inbox(dsn) == event_keys(events)
    again = asyncio.run(run())
    assert again.events_written == 0
    assert inbox(dsn) == event_keys(events)


# -- a server that goes away ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[DisposableCluster]:
    server = DisposableCluster()
    server.start()
    try:
        migrate(server.dsn)
        yield server
    finally:
        server.destroy()


def test_a_write_while_the_server_is_down_waits_for_it(
    cluster: DisposableCluster, caplog: pytest.LogCaptureFixture
) -> None:
    first = make_events(10, 2, start=datetime(2008, 2, 1, tzinfo=UTC), spread=timedelta(days=5))
    second = make_events(
        30, 3, start=datetime(2008, 6, 1, tzinfo=UTC), spread=timedelta(days=5), seed=11
    )
    second = [e.model_copy(update={"id": "late-" + e.id}) for e in second]

    first_retry = threading.Event()

    class _OnRetry(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            first_retry.set()

    def restart_after_a_retry() -> None:
        # Restart once the sink has failed and said so: it must have waited for the server.
        if not first_retry.wait(timeout=120):
            raise AssertionError("the sink never retried")
        cluster.start()

    async def run() -> FlushStats:
        async with PostgresSink(cluster.dsn, max_backoff=1.0) as sink:
            await sink.write(first, rows_of(fold(first)))  # the sink holds a live connection
            cluster.stop()
            restarter = threading.Thread(target=restart_after_a_retry)
            restarter.start()
            try:
                return await sink.write(second, rows_of(fold(first + second)))
            finally:
                restarter.join()

    handler = _OnRetry(logging.WARNING)
    sink_log = logging.getLogger("outcome_pulse.sinks.event_sink")
    sink_log.addHandler(handler)
    try:
        with caplog.at_level(logging.WARNING, logger="outcome_pulse.sinks.event_sink"):
            stats = asyncio.run(run())
    finally:
        sink_log.removeHandler(handler)

    assert stats.attempts > 1
    # 30 items: the first 10 had 2 events and now have 5, the other 20 are new.
    assert (stats.events_written, stats.states_written) == (90, 30)
    assert counts(cluster.dsn) == {"pulse_events": 110, "pulse_item_states": 30}
    retries = [r for r in caplog.records if r.name == "outcome_pulse.sinks.event_sink"]
    assert len(retries) == stats.attempts - 1
    assert "attempt 1 failed" in retries[0].getMessage()


def test_a_write_gives_up_at_its_deadline(cluster: DisposableCluster) -> None:
    events = make_events(3, 1, start=datetime(2009, 2, 1, tzinfo=UTC), spread=timedelta(days=5))

    async def run() -> None:
        sink = PostgresSink(cluster.dsn, retry_deadline=1.5, max_backoff=0.5)
        try:
            await sink.write(events, [])
        finally:
            await sink.close()

    cluster.stop()
    try:
        with pytest.raises(SinkError, match=r"gave up after \d+ attempts"):
            asyncio.run(run())
    finally:
        cluster.start()


def test_stored_copies_of_repeated_ids_round_trip_to_equal_rows(dsn: str) -> None:
    """What the worker compares a repeated id with (``streams/kafka/repeated_events``): a true
    redelivery must equal its stored row after PostgreSQL's round trip (timestamps, jsonb
    attributes, NULLs), or every redelivery would be dead-lettered; a moved copy must not."""
    real = list(log_events("helpdesk")[:3000]) + list(log_events("bpic2013")[:3000])
    events = make_events(50, 4, start=datetime(2012, 3, 1, tzinfo=UTC), spread=timedelta(days=9))
    events += real
    write(dsn, events, [])
    moved = events[0].model_copy(update={"time": events[0].time + timedelta(minutes=30)})
    never = events[1].model_copy(update={"id": "never-stored"})

    async def read() -> Any:
        async with PostgresSink(dsn) as sink:
            return await sink.stored_events([repeat_key(e) for e in [*events, moved, never]])

    stored = asyncio.run(read())
    assert len(stored) == len(events) and repeat_key(never) not in stored
    assert stored_conflicts(events, stored) == {}
    (bad,) = stored_conflicts([moved], stored).values()
    assert bad.reason == "conflicting_duplicate" and "event_time" in bad.detail
