"""MonitorStore against a real PostgreSQL: the inbox the sink fills, the lease, reading events
back, writing and replacing a contract's rows (revisions of corrections), reading them back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind, Lifecycle
from outcome_pulse.processors.measurements import (
    SERVICE_WIDE,
    Delta,
    IndicatorPoint,
    LateEvent,
    OpenClock,
    PeriodOutcome,
    diff,
)
from outcome_pulse.sinks.errors import SinkError
from outcome_pulse.sinks.event_sink import FlushStats, PostgresSink
from outcome_pulse.sinks.monitor_store import MonitorStore
from outcome_pulse.sinks.queries import (
    inbox_size,
    indicator_points,
    open_item_clocks,
    period_outcomes,
)
from outcome_pulse.streams.wire.events import EventEnvelope, build_envelope
from tests.integration.pgdb import empty_tables, temporary_database

pytestmark = pytest.mark.integration

T0 = datetime(2024, 3, 1, tzinfo=UTC)
NO_POINTS: Delta[Any, IndicatorPoint] = Delta((), ())
NO_OUTCOMES: Delta[Any, PeriodOutcome] = Delta((), ())


# -- data ----------------------------------------------------------------------------------------


def incident_events(source: str, items: int, *, prefix: str = "ev") -> list[EventEnvelope]:
    """Three events per incident; the first two share a timestamp (ordered by sequence)."""
    events = []
    for n in range(items):
        opened = T0 + timedelta(minutes=7 * n)
        steps = [
            (Lifecycle.CREATED, opened, {"priority": "P2", "state": "New"}),
            (Lifecycle.ASSIGNED, opened, {"assignee": f"team-{n % 3}"}),
            (Lifecycle.RESOLVED, opened + timedelta(hours=5), {"state": "Resolved"}),
        ]
        for k, (lifecycle, at, data) in enumerate(steps):
            events.append(
                build_envelope(
                    event_id=f"{prefix}-{source}-{n}-{k}",
                    source=source,
                    kind=ItemKind.INCIDENT,
                    lifecycle=lifecycle,
                    time=at,
                    item_id=f"{source}-INC{n}",
                    sequence=k,
                    attributes={"country": "se", "n": str(n)},
                    **data,
                )
            )
    return events


def order_event() -> EventEnvelope:
    return build_envelope(
        event_id="order-1",
        source="shop",
        kind=ItemKind.ORDER,
        lifecycle=Lifecycle.PLACED,
        time=datetime.fromisoformat("2024-03-01T09:30:00+02:00"),
        item_id="ORD1",
        due_at=datetime.fromisoformat("2024-03-02T12:00:00+01:00"),
    )


def pairs(events: Sequence[EventEnvelope]) -> list[tuple[ItemEvent, int]]:
    ordered = sorted(events, key=lambda e: (e.time, e.sequence, e.id))
    return [(e.to_item_event(), e.sequence) for e in ordered]


def point(
    indicator: str, hours: int, value: float, *, final: bool = False, contract: str = "c1"
) -> IndicatorPoint:
    at = T0 + timedelta(hours=hours)
    return IndicatorPoint(contract, "desk", SERVICE_WIDE, indicator, at, value, final)


def outcome(month: int, *, final: bool = False, measure: float | None = 0.96) -> PeriodOutcome:
    return PeriodOutcome(
        contract="c1",
        kpi="p2_restore",
        service="desk",
        period=f"2024-{month:02d}",
        period_start=datetime(2024, month, 1, tzinfo=UTC),
        period_end=datetime(2024, month + 1, 1, tzinfo=UTC),
        measured=120,
        good=115,
        baseline=None,
        measure=measure,
        target_level=0.95,
        minimum_level=0.9,
        status="met",
        credit_due=Decimal("1500.5"),
        credit=Decimal("1200.25"),
        earned_back=Decimal("0"),
        gain_share=Decimal("10.10"),
        currency="EUR",
        final=final,
    )


# -- helpers -------------------------------------------------------------------------------------


async def sink_write_async(dsn: str, events: Sequence[EventEnvelope]) -> FlushStats:
    async with PostgresSink(dsn) as sink:
        return await sink.write(events, [])


def sink_write(dsn: str, events: Sequence[EventEnvelope]) -> FlushStats:
    return asyncio.run(sink_write_async(dsn, events))


def query(dsn: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def revisions(dsn: str) -> dict[str, tuple[int, datetime]]:
    rows = query(dsn, "SELECT period, revision, updated_at FROM pulse_period_outcomes")
    return {period: (revision, updated) for period, revision, updated in rows}


async def write(
    store: MonitorStore,
    points: Delta[Any, IndicatorPoint] = NO_POINTS,
    outcomes: Delta[Any, PeriodOutcome] = NO_OUTCOMES,
    late: Sequence[LateEvent] = (),
) -> None:
    async with store.tick() as tick:
        await tick.write("c1", points, outcomes, late)


def upserts(*rows: Any) -> Delta[Any, Any]:
    return Delta(tuple(rows), ())


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def dsn(migrated: str) -> str:
    """The module's database, emptied, with a free lease."""
    empty_tables(
        migrated,
        "pulse_events",
        "pulse_item_states",
        "pulse_monitor_inbox",
        "pulse_monitor_applied",
        "pulse_indicator_points",
        "pulse_period_outcomes",
        "pulse_late_events",
        "pulse_open_item_clocks",
    )
    with psycopg.connect(migrated, autocommit=True) as conn:
        conn.execute("UPDATE pulse_monitor_lease SET owner = NULL, taken_at = NULL")
    return migrated


# -- the inbox -----------------------------------------------------------------------------------


def test_the_sink_fills_the_inbox_with_new_events_only(dsn: str) -> None:
    first = incident_events("desk", 4)
    assert sink_write(dsn, first).events_written == 12
    assert inbox_size(dsn) == 12

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store:
            async with store.tick() as tick:
                batch = await tick.inbox()
                assert batch.events == pairs(first)
                assert sorted(batch.keys) == sorted((e.time, e.source, e.id) for e in first)
                await tick.done(batch.keys)
            async with store.tick() as tick:
                assert (await tick.inbox()).keys == []
            assert inbox_size(dsn) == 0

            # Redelivered duplicates queue nothing; new events in the same batch do.
            second = incident_events("desk", 6)[12:]
            assert (await sink_write_async(dsn, first + second)).events_written == 6
            async with store.tick() as tick:
                batch = await tick.inbox(limit=4)
                assert batch.events == pairs(second)[:4]
                await tick.done(batch.keys)
                rest = await tick.inbox()
                assert rest.events == pairs(second)[4:]
                await tick.done(rest.keys)
            async with store.tick() as tick:
                assert (await tick.inbox()).keys == []

            # A monitor without contracts reads only the keys: the same ones, no events.
            third = incident_events("desk", 8)[18:]
            assert (await sink_write_async(dsn, third)).events_written == 6
            async with store.tick() as tick:
                keys_only = await tick.inbox(with_events=False)
                assert keys_only.events == []
                assert keys_only.keys == (await tick.inbox()).keys
                assert sorted(keys_only.keys) == sorted((e.time, e.source, e.id) for e in third)
                await tick.done(keys_only.keys)
            async with store.tick() as tick:
                assert (await tick.inbox(with_events=False)).keys == []

    asyncio.run(run())


def test_two_sources_events_of_the_same_id_and_time_are_two_events(dsn: str) -> None:
    """CloudEvents ids are unique only within their source (schema v10): the sink stores both,
    the inbox queues both, and both are applied, read back and recorded as applied."""
    desk = incident_events("desk", 2)
    other = [e.model_copy(update={"source": "other"}) for e in desk]  # same ids, times, items
    assert {(e.time, e.id) for e in desk} == {(e.time, e.id) for e in other}
    both = [*desk, *other]
    assert sink_write(dsn, both).events_written == 12
    assert sink_write(dsn, both).events_written == 0, "a redelivery is still a duplicate"
    stored = query(dsn, "SELECT source, count(*) FROM pulse_events GROUP BY 1 ORDER BY 1")
    assert stored == [("desk", 6), ("other", 6)]
    assert inbox_size(dsn) == 12

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store, store.tick() as tick:
            batch = await tick.inbox()
            assert sorted(batch.keys) == sorted((e.time, e.source, e.id) for e in both)
            assert batch.events == pairs(both)
            assert sorted((await tick.inbox(with_events=False)).keys) == sorted(batch.keys)
            # Not applied yet: neither source's item gives back an event.
            assert await tick.item_events([("other", "desk-INC0")]) == []
            await tick.done(batch.keys)
            assert (await tick.inbox()).keys == []
            assert await tick.applied_events(["desk", "other"]) == pairs(both)
            assert await tick.applied_events(["other"]) == pairs(other)
            wanted = [e for e in other if e.subject == "desk-INC0"]
            assert await tick.item_events([("other", "desk-INC0")]) == pairs(wanted)

    asyncio.run(run())
    applied = "SELECT source, count(*) FROM pulse_monitor_applied GROUP BY 1 ORDER BY 1"
    assert query(dsn, applied) == [("desk", 6), ("other", 6)]
    assert inbox_size(dsn) == 0


def test_an_inbox_row_whose_event_is_gone_comes_back_as_a_key(dsn: str) -> None:
    events = incident_events("desk", 1)
    sink_write(dsn, events)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM pulse_events WHERE event_id = %s", [events[0].id])

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store, store.tick() as tick:
            batch = await tick.inbox()
            assert batch.events == pairs(events[1:])
            assert len(batch.keys) == 3
            await tick.done(batch.keys)

    asyncio.run(run())
    assert query(dsn, "SELECT count(*) FROM pulse_monitor_inbox") == [(0,)]


# -- the lease -----------------------------------------------------------------------------------


def test_the_lease_says_when_another_monitor_ran_in_between(dsn: str) -> None:
    async def taken_over(store: MonitorStore) -> bool:
        async with store.tick() as tick:
            return tick.taken_over

    async def run() -> list[bool]:
        async with MonitorStore(dsn, "monitor-a") as a, MonitorStore(dsn, "monitor-b") as b:
            return [
                await taken_over(a),  # nobody held it
                await taken_over(a),
                await taken_over(b),
                await taken_over(b),
                await taken_over(a),
            ]

    assert asyncio.run(run()) == [True, False, True, False, True]
    ((owner, taken_at),) = query(dsn, "SELECT owner, taken_at FROM pulse_monitor_lease")
    assert owner == "monitor-a" and taken_at is not None


async def _until_a_session_waits_on_a_lock(dsn: str) -> None:
    """Wait until some session of this database is blocked on a row lock (no fixed sleep)."""
    waiting = """
        SELECT count(*) FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'
    """
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for _ in range(600):
            row = await (await conn.execute(waiting)).fetchone()
            if row and row[0]:
                return
            await asyncio.sleep(0.05)
    raise AssertionError("no session ever waited on the lease row")


def test_ticks_of_two_monitors_serialise(dsn: str) -> None:
    order: list[str] = []

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as a, MonitorStore(dsn, "monitor-b") as b:
            a_holds = asyncio.Event()
            release = asyncio.Event()

            async def tick_a() -> None:
                async with a.tick():
                    order.append("a in")
                    a_holds.set()
                    await release.wait()
                    order.append("a out")

            async def tick_b() -> None:
                await a_holds.wait()
                async with b.tick() as tick:
                    order.append(f"b in, taken over {tick.taken_over}")

            tasks = [asyncio.create_task(tick_a()), asyncio.create_task(tick_b())]
            await a_holds.wait()
            await _until_a_session_waits_on_a_lock(dsn)  # b, blocked on the lease row
            order.append("release")
            release.set()
            await asyncio.gather(*tasks)

    asyncio.run(run())
    assert order == ["a in", "release", "a out", "b in, taken over True"]


def test_a_tick_that_raises_rolls_everything_back(dsn: str) -> None:
    sink_write(dsn, incident_events("desk", 1))

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store:
            with pytest.raises(RuntimeError, match="evaluation failed"):
                async with store.tick() as tick:
                    batch = await tick.inbox()
                    await tick.write("c1", upserts(point("open_backlog", 0, 1)), NO_OUTCOMES)
                    await tick.done(batch.keys)
                    raise RuntimeError("evaluation failed")
            async with store.tick() as tick:
                assert tick.taken_over  # the failed tick's lease update was rolled back too
                assert len((await tick.inbox()).keys) == 3
            with pytest.raises(SinkError, match="after its tick ended"):
                await tick.inbox()

    asyncio.run(run())
    assert indicator_points(dsn, "c1") == []


# -- reading events ------------------------------------------------------------------------------


def test_all_events_round_trip_in_time_sequence_id_order(dsn: str) -> None:
    desk, other = incident_events("desk", 5), incident_events("other", 2)
    order = order_event()
    sink_write(dsn, [*desk, *other, order])

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store, store.tick() as tick:
            assert await tick.all_events(["desk"]) == pairs(desk)
            both = await tick.all_events(["desk", "shop"])
            assert both == pairs([*desk, order])
            shop = await tick.all_events(["shop"])
            event, _ = shop[0]
            assert event.time.tzinfo is not None and event.time.utcoffset() == timedelta(0)
            assert event.due_at == datetime(2024, 3, 2, 11, tzinfo=UTC)
            assert event.kind is ItemKind.ORDER and event.lifecycle is Lifecycle.PLACED
            assert await tick.all_events([]) == []

    asyncio.run(run())


def test_item_events_reads_the_applied_events_of_the_items_asked_for(dsn: str) -> None:
    desk, other = incident_events("desk", 4), incident_events("other", 2)
    sink_write(dsn, [*desk, *other])

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store, store.tick() as tick:
            asked = [("desk", "desk-INC1"), ("other", "other-INC0")]
            # Events still in the inbox are not applied yet: their step gets them as new.
            assert await tick.item_events(asked) == []
            await tick.done((await tick.inbox()).keys)
            # The same item id in another source is another item.
            got = await tick.item_events(asked)
            wanted = [e for e in [*desk, *other] if e.subject in ("desk-INC1", "other-INC0")]
            assert got == pairs(wanted)
            assert await tick.item_events([("other", "desk-INC1")]) == []
            assert await tick.item_events([]) == []

    asyncio.run(run())


# -- writing -------------------------------------------------------------------------------------


def test_write_upserts_deletes_and_counts_corrections_of_final_rows(dsn: str) -> None:
    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store:
            p0, p1 = point("open_backlog", 0, 3), point("open_backlog", 1, 4)
            await write(store, upserts(p0, p1), upserts(outcome(1), outcome(2)))
            assert indicator_points(dsn, "c1") == [p0, p1]
            assert period_outcomes(dsn, "c1") == [outcome(1), outcome(2)]
            assert {k: v[0] for k, v in revisions(dsn).items()} == {"2024-01": 1, "2024-02": 1}

            # Changes to non-final rows are no corrections; the final flag itself is not either.
            await write(store, outcomes=upserts(outcome(1, measure=0.5), outcome(2, final=True)))
            assert {k: v[0] for k, v in revisions(dsn).items()} == {"2024-01": 1, "2024-02": 1}

            # An identical row rewrites nothing (updated_at stays).
            before = revisions(dsn)
            await write(store, outcomes=upserts(outcome(1, measure=0.5), outcome(2, final=True)))
            assert revisions(dsn) == before

            # A change to a final row is a correction.
            await write(store, outcomes=upserts(outcome(2, final=True, measure=0.91)))
            await write(store, outcomes=upserts(outcome(2, final=True, measure=None)))
            after = revisions(dsn)
            assert after["2024-02"][0] == 3 and after["2024-02"][1] > before["2024-02"][1]
            assert after["2024-01"] == before["2024-01"]
            assert period_outcomes(dsn, "c1") == [
                outcome(1, measure=0.5),
                outcome(2, final=True, measure=None),
            ]

            # Deletes by key, points corrected, both in one write.
            p1_final = replace(p1, value=5.0, final=True)
            await write(
                store,
                Delta((p1_final,), (p0.key,)),
                Delta((), (outcome(1).key,)),
            )
            assert indicator_points(dsn, "c1") == [p1_final]
            assert period_outcomes(dsn, "c1") == [outcome(2, final=True, measure=None)]

    asyncio.run(run())


def test_write_applies_a_diff_between_two_evaluations(dsn: str) -> None:
    before = {p.key: p for p in (point("open_backlog", h, h) for h in range(10))}
    after = {p.key: p for p in (point("open_backlog", h, h * 2) for h in range(5, 15))}

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store:
            await write(store, upserts(*before.values()))
            async with store.tick() as tick:
                # Two contracts' worth of writes in one tick reuse the staging tables.
                await tick.write("c1", diff(before, after), NO_OUTCOMES)
                await tick.write("c2", upserts(point("x", 0, 1, contract="c2")), NO_OUTCOMES)

    asyncio.run(run())
    assert indicator_points(dsn, "c1") == sorted(after.values(), key=lambda p: p.key)
    assert indicator_points(dsn, "c2") == [point("x", 0, 1, contract="c2")]


ODD_KEYS = ("a,b@x", 'q"uote', "{brace}", "back\\slash", "NULL", " spaced ")


def test_late_events_are_recorded_once(dsn: str) -> None:
    late = LateEvent("c1", "src-1", "ev-9", T0, T0 + timedelta(days=3), ("p2_restore@2024-03-01",))

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store:
            await write(store, late=[late, replace(late, event_id="ev-10", changed=())])
            await write(store, late=[replace(late, changed=("other",))])
            # the same id and time from another source is another event (schema v10)
            await write(store, late=[replace(late, source="src-2", changed=("third",))])
            await write(store, late=[replace(late, event_id="ev-11", changed=ODD_KEYS)])

    asyncio.run(run())
    rows = query(
        dsn,
        "SELECT source, event_id, event_time, watermark, changed FROM pulse_late_events "
        "ORDER BY 2, 1",
    )
    assert rows == [
        ("src-1", "ev-10", T0, T0 + timedelta(days=3), []),
        ("src-1", "ev-11", T0, T0 + timedelta(days=3), list(ODD_KEYS)),
        ("src-1", "ev-9", T0, T0 + timedelta(days=3), ["p2_restore@2024-03-01"]),
        ("src-2", "ev-9", T0, T0 + timedelta(days=3), ["third"]),
    ]


def test_replace_makes_the_contract_exactly_the_new_rows(dsn: str) -> None:
    old_points = [point("open_backlog", h, h) for h in range(6)]
    other = point("open_backlog", 0, 42, contract="c2")

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store:
            await write(store, upserts(*old_points), upserts(outcome(1, final=True), outcome(2)))
            async with store.tick() as tick:
                await tick.write("c2", upserts(other), NO_OUTCOMES)
            before = revisions(dsn)
            new_points = [*old_points[2:4], replace(old_points[4], value=99.0), point("age", 0, 1)]
            async with store.tick() as tick:
                await tick.replace(
                    "c1", new_points, [outcome(1, final=True, measure=0.5), outcome(3)]
                )
            assert indicator_points(dsn, "c1") == sorted(new_points, key=lambda p: p.key)
            assert period_outcomes(dsn, "c1") == [outcome(1, final=True, measure=0.5), outcome(3)]
            after = revisions(dsn)
            assert after["2024-01"][0] == before["2024-01"][0] + 1  # a final row corrected
            assert after["2024-03"][0] == 1
            # Replacing with the same rows changes nothing.
            async with store.tick() as tick:
                await tick.replace(
                    "c1", new_points, [outcome(1, final=True, measure=0.5), outcome(3)]
                )
            assert revisions(dsn) == after
            # Replacing with nothing empties the contract, and only it.
            async with store.tick() as tick:
                await tick.replace("c1", [], [])

    asyncio.run(run())
    assert indicator_points(dsn, "c1") == [] and period_outcomes(dsn, "c1") == []
    assert indicator_points(dsn, "c2") == [other]


def test_open_clocks_are_replaced_per_contract(dsn: str) -> None:
    def clock(item: str, contract: str = "c1", **changes: Any) -> OpenClock:
        base = OpenClock(
            contract, "restore", "desk", "desk-src", item, "P2", "running", T0, 3600.0, 28800.0,
            0.125, False, False, T0 + timedelta(hours=8), T0 + timedelta(hours=1),
        )  # fmt: skip
        return replace(base, **changes)

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store:
            async with store.tick() as tick:
                await tick.replace_open_clocks("c1", [clock("a"), clock("b")])
                await tick.replace_open_clocks("c2", [clock("a", contract="c2")])
            async with store.tick() as tick:
                await tick.replace_open_clocks(
                    "c1", [clock("b", status="paused", breach_at=None), clock("c")]
                )

    asyncio.run(run())
    assert open_item_clocks(dsn, "c1") == [clock("b", status="paused", breach_at=None), clock("c")]
    assert open_item_clocks(dsn, "c2") == [clock("a", contract="c2")]


def test_replace_of_300000_points(dsn: str) -> None:
    indicators = ["open_backlog", "items_at_risk", "backlog_age_p90_hours"]
    services = ["desk", "network", "field", "apps", "orders"]
    hours = 20_000
    rows = [
        IndicatorPoint("c1", s, SERVICE_WIDE, i, T0 + timedelta(hours=h), float(h % 97), h < 19_000)
        for s in services
        for i in indicators
        for h in range(hours)
    ]
    assert len(rows) == 300_000
    changed = [replace(r, value=r.value + 1) if r.at.hour == 0 else r for r in rows[:250_000]]

    async def run() -> tuple[float, float, float]:
        async with MonitorStore(dsn, "monitor-a") as store:
            started = time.perf_counter()
            async with store.tick() as tick:
                await tick.replace("c1", rows, [])
            first = time.perf_counter() - started
            started = time.perf_counter()
            async with store.tick() as tick:
                await tick.replace("c1", rows, [])
            same = time.perf_counter() - started
            started = time.perf_counter()
            async with store.tick() as tick:
                await tick.replace("c1", changed, [])
            third = time.perf_counter() - started
            return first, same, third

    first, same, third = asyncio.run(run())
    print(
        f"\nreplace of 300,000 points: {first:.2f} s into an empty table, {same:.2f} s unchanged, "
        f"{third:.2f} s with 50,000 deleted and ~10,000 changed"
    )
    assert query(dsn, "SELECT count(*) FROM pulse_indicator_points") == [(250_000,)]
    assert indicator_points(dsn, "c1") == sorted(changed, key=lambda p: p.key)


# -- errors --------------------------------------------------------------------------------------


def test_errors_name_the_table_and_operation(dsn: str, pg_dsn: str) -> None:
    huge = replace(outcome(1), credit=Decimal("1e20"))  # beyond numeric(18, 2)

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store:
            with pytest.raises(SinkError, match=r"pulse_period_outcomes.*22003"):
                await write(store, outcomes=upserts(huge))
            with pytest.raises(SinkError, match="contract 'c2' passed when writing 'c1'"):
                await write(store, upserts(point("x", 0, 1, contract="c2")))
            await write(store, outcomes=upserts(outcome(1)))  # the store carries on

    asyncio.run(run())
    assert period_outcomes(dsn, "c1") == [outcome(1)]

    async def unmigrated(url: str) -> None:
        async with MonitorStore(url, "monitor-a"):
            pass

    with temporary_database(pg_dsn) as empty, pytest.raises(SinkError, match="migration"):
        asyncio.run(unmigrated(empty))
