"""Clock specs of a service-desk contract: a calendar per priority (24x7 for P1/P2, office hours
for P3/P4), a cancel condition, and what a close without a resolution does (documented default:
it stops the clock, so the item is measured)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from outcome_pulse.processors.clock_measures import measure_clock, read_open_clock
from outcome_pulse.processors.contract import Contract, TimeToTargetKpi, parse_contract
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.item_history import ItemHistory
from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind, Lifecycle
from outcome_pulse.streams.drivers.backtest import backtest_events

CONTRACT: dict[str, Any] = {
    "contract": "desk",
    "title": "Service desk",
    "client": {"name": "ACME", "time_zone": "UTC"},
    "calendars": {"office": {"hours": {"mon-fri": ["09:00-17:00"]}}},
    "services": {
        "desk": {
            "name": "Desk",
            "source": "snow",
            "item_kind": "incident",
            "owner": {"name": "Lead", "alerts": [{"email": "lead@acme.example"}]},
        }
    },
    "objectives": [
        {
            "name": "Keep working",
            "outcomes": [
                {
                    "name": "Restored in time",
                    "kpis": [
                        {
                            "id": "restore",
                            "name": "Restore time",
                            "service": "desk",
                            "kind": "time_to_target",
                            "indicator": "lagging",
                            "period": "month",
                            "target_level": "90%",
                            "minimum_level": "80%",
                            "calendar": "office",
                            "calendars": {"P1": "24x7", "P2": "24x7"},
                            "clock": {
                                "start": "created",
                                "stop": "resolved",
                                "cancel": {"states": ["Canceled"]},
                            },
                            "targets": {"P1": "2h", "P2": "8h", "P3": "1h", "P4": "16h"},
                        }
                    ],
                }
            ],
        }
    ],
}

SATURDAY = datetime(2024, 3, 2, 10, 0, tzinfo=UTC)
TUESDAY = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)


def contract(**clock: Any) -> Contract:
    data = copy.deepcopy(CONTRACT)
    data["objectives"][0]["outcomes"][0]["kpis"][0]["clock"].update(clock)
    return parse_contract(data)


def kpi_of(c: Contract) -> TimeToTargetKpi:
    kpi = c.kpi("restore")
    assert isinstance(kpi, TimeToTargetKpi)
    return kpi


def history(
    item: str, priority: str, *steps: tuple[Lifecycle, datetime, str | None]
) -> ItemHistory:
    h = ItemHistory("snow", item, ItemKind.INCIDENT)
    for n, (lifecycle, when, state) in enumerate(steps):
        h.add(
            ItemEvent(
                f"{item}-{n}", "snow", item, ItemKind.INCIDENT, lifecycle, when, state, priority
            ),
            n,
        )
    return h


def measured(c: Contract, h: ItemHistory) -> list[tuple[timedelta, timedelta]]:
    kpi = kpi_of(c)
    m = measure_clock(h, kpi, lambda p: c.calendar_of(kpi, p))
    return [(r.elapsed, r.target) for r in m.resolutions]


def test_p1_counts_around_the_clock_and_p3_only_in_office_hours() -> None:
    c = contract()
    # Saturday 10:00 -> 13:00: three hours for a P1 (24x7), none for a P3 (office).
    p1 = history("A", "P1", (Lifecycle.CREATED, SATURDAY, None),
                 (Lifecycle.RESOLVED, SATURDAY + timedelta(hours=3), None))  # fmt: skip
    p3 = history("B", "P3", (Lifecycle.CREATED, SATURDAY, None),
                 (Lifecycle.RESOLVED, SATURDAY + timedelta(hours=3), None))  # fmt: skip
    assert measured(c, p1) == [(timedelta(hours=3), timedelta(hours=2))]  # missed
    assert measured(c, p3) == [(timedelta(0), timedelta(hours=1))]  # met
    # Tuesday 08:00 -> 10:00: a P3 has used one office hour (09:00-10:00).
    p3_tuesday = history("C", "P3", (Lifecycle.CREATED, TUESDAY, None),
                         (Lifecycle.RESOLVED, TUESDAY + timedelta(hours=2), None))  # fmt: skip
    assert measured(c, p3_tuesday) == [(timedelta(hours=1), timedelta(hours=1))]


def test_the_calendar_follows_the_priority_at_the_moment_read() -> None:
    c = contract()
    kpi = kpi_of(c)
    h = history("D", "P4", (Lifecycle.CREATED, SATURDAY, None))
    reading = read_open_clock(
        h, kpi, lambda p: c.calendar_of(kpi, p), SATURDAY + timedelta(hours=5)
    )
    assert reading is not None and reading.elapsed == timedelta(0)  # office calendar
    assert c.calendar_of(kpi, "P1").is_always and not c.calendar_of(kpi, "P4").is_always


def test_a_cancelled_item_is_not_measured() -> None:
    c = contract()
    h = history("E", "P2", (Lifecycle.CREATED, TUESDAY, None),
                (Lifecycle.STATE_CHANGED, TUESDAY + timedelta(hours=30), "Canceled"))  # fmt: skip
    assert measured(c, h) == []
    kpi = kpi_of(c)
    late = TUESDAY + timedelta(hours=40)
    assert read_open_clock(h, kpi, lambda p: c.calendar_of(kpi, p), late) is None


def test_a_close_without_a_resolution_stops_the_clock_by_default() -> None:
    closed = (Lifecycle.CLOSED, TUESDAY + timedelta(hours=30), None)
    h = history("F", "P2", (Lifecycle.CREATED, TUESDAY, None), closed)
    # Default on_close: stop. Measured at the close: 30 h against 8 h, a miss that a close
    # without resolving cannot hide.
    assert measured(contract(), h) == [(timedelta(hours=30), timedelta(hours=8))]
    assert measured(contract(on_close="cancel"), h) == []
    # After a resolution the close changes nothing.
    fixed = (Lifecycle.RESOLVED, TUESDAY + timedelta(hours=1), None)
    resolved = history("G", "P2", (Lifecycle.CREATED, TUESDAY, None), fixed, closed)
    assert measured(contract(), resolved) == [(timedelta(hours=1), timedelta(hours=8))]


def test_period_outcome_counts_per_priority_calendars() -> None:
    c = contract()
    events = []
    for item, priority, start, hours in [
        ("A", "P1", SATURDAY, 3),  # 3 h on 24x7 > 2 h: missed
        ("B", "P3", SATURDAY, 3),  # 0 office hours: met
        ("C", "P3", TUESDAY, 2),  # 1 office hour = 1 h: met
    ]:
        for n, (lc, when) in enumerate(
            [(Lifecycle.CREATED, start), (Lifecycle.RESOLVED, start + timedelta(hours=hours))]
        ):
            events.append(
                (
                    ItemEvent(
                        f"{item}{n}", "snow", item, ItemKind.INCIDENT, lc, when, None, priority
                    ),
                    n,
                )
            )
    events.sort(key=lambda pair: pair[0].time)
    result = backtest_events(c, events)
    (march,) = [o for o in result.outcomes() if o.measured]
    assert (march.measured, march.good) == (3, 2)


def test_calendar_names_are_checked_per_priority() -> None:
    data = copy.deepcopy(CONTRACT)
    kpi = data["objectives"][0]["outcomes"][0]["kpis"][0]
    kpi["calendars"] = {"P1": "nights"}
    kpi["targets"]["P3"] = "2d"
    with pytest.raises(ConfigError) as caught:
        parse_contract(data)
    message = str(caught.value)
    assert "calendars.P1: unknown calendar 'nights'; expected one of: 24x7, office" in message
    assert (
        "targets.P3: '2d' counts days, but a business day's length depends on calendar 'office'"
        in message
    )
