"""The data_quality KPI kind and the data-quality indicators (issue 12.4): exact figures on a
small history worked by hand, validation naming the field, the plain words, money like any KPI,
and agreement with the evidence report's own count (``processors/data_quality.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from outcome_pulse.processors.contract import Contract, parse_contract
from outcome_pulse.processors.contract_text import explain
from outcome_pulse.processors.data_quality import monthly_quality
from outcome_pulse.processors.engine import ContractEngine
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind, Lifecycle
from outcome_pulse.processors.periods import periods_covering
from outcome_pulse.streams.drivers.backtest import item_events
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from tests.datasets import dataset

OWNER = {"name": "Lead", "alerts": [{"email": "lead@acme.example"}]}
MARCH = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday; months in UTC


def contract(*kpis: dict[str, Any], commercial: dict[str, Any] | None = None) -> Contract:
    doc: dict[str, Any] = {
        "contract": "acme",
        "title": "ACME",
        "client": {"name": "ACME", "time_zone": "UTC"},
        "monitoring": {"sample_every": "1d", "allowed_lateness": "1h"},
        "services": {
            "desk": {"name": "Desk", "source": "acme", "item_kind": "incident", "owner": OWNER}
        },
        "objectives": [{"name": "All", "outcomes": [{"name": "All", "kpis": list(kpis)}]}],
    }
    if commercial is not None:
        doc["commercial"] = commercial
    return parse_contract(doc, origin="acme.yaml")


def dq(kpi_id: str, **rest: Any) -> dict[str, Any]:
    return {
        "id": kpi_id,
        "name": kpi_id,
        "service": "desk",
        "kind": "data_quality",
        "indicator": rest.pop("indicator", "leading"),
        "period": rest.pop("period", "month"),
        "measure": rest.pop("measure", "priority_present"),
        "target_level": rest.pop("target_level", "98%"),
        "minimum_level": rest.pop("minimum_level", "90%"),
        **rest,
    }


def event(
    n: int,
    item: str,
    lifecycle: Lifecycle,
    at: datetime,
    priority: str | None = None,
    assignee: str | None = None,
) -> tuple[ItemEvent, int]:
    return (
        ItemEvent(f"e{n}", "acme", item, ItemKind.INCIDENT, lifecycle, at, priority=priority,
                  assignee=assignee),
        0,
    )  # fmt: skip


def history() -> list[tuple[ItemEvent, int]]:
    """Four incidents in March, one in April:

    a: created P2, assigned (P2, ann) the next day, resolved     3 events, all with a priority
    b: created without priority, assigned (P3, bob), resolved    1 of 3 without priority
    c: created P1, never assigned                                1 event, no assignee
    d: created without priority on 31 March, priority on 2 April  no priority in March
    e: created P4 in April, assigned in April
    """
    day = timedelta(days=1)
    return [
        event(1, "a", Lifecycle.CREATED, MARCH, "P2"),
        event(2, "a", Lifecycle.ASSIGNED, MARCH + day, "P2", "ann"),
        event(3, "a", Lifecycle.RESOLVED, MARCH + 2 * day, "P2", "ann"),
        event(4, "b", Lifecycle.CREATED, MARCH + day),
        event(5, "b", Lifecycle.ASSIGNED, MARCH + 2 * day, "P3", "bob"),
        event(6, "b", Lifecycle.RESOLVED, MARCH + 3 * day, "P3", "bob"),
        event(7, "c", Lifecycle.CREATED, MARCH + 3 * day, "P1"),
        event(8, "d", Lifecycle.CREATED, datetime(2024, 3, 31, 22, 0, tzinfo=UTC)),
        event(9, "d", Lifecycle.PRIORITY_CHANGED, datetime(2024, 4, 2, 8, 0, tzinfo=UTC), "P2"),
        event(10, "e", Lifecycle.CREATED, datetime(2024, 4, 3, 8, 0, tzinfo=UTC), "P4"),
        event(11, "e", Lifecycle.ASSIGNED, datetime(2024, 4, 4, 8, 0, tzinfo=UTC), "P4", "eve"),
    ]


def outcomes(c: Contract, events: list[tuple[ItemEvent, int]]) -> dict[tuple[str, int], Any]:
    engine = ContractEngine(c)
    engine.step(events)
    return {(o.kpi, o.period_start.month): o for o in engine.last.outcomes.values()}


def test_shares_of_events_and_of_items_worked_by_hand() -> None:
    c = contract(
        dq("prio-events"),
        dq("prio-items", of="items"),
        dq("assignee-events", measure="assignee_present"),
        dq("assignee-items", measure="assignee_present", of="items"),
    )
    got = {key: (o.measured, o.good, o.measure) for key, o in outcomes(c, history()).items()}
    # March: 8 events (a 3, b 3, c 1, d 1); without priority: b's creation, d's creation.
    assert got[("prio-events", 3)] == (8, 6, 6 / 8)
    # April: d's priority change and e's two events, all with a priority.
    assert got[("prio-events", 4)] == (3, 3, 1.0)
    # Items opened in March: a, b, c, d; d got its priority only in April (after March ended).
    assert got[("prio-items", 3)] == (4, 3, 3 / 4)
    assert got[("prio-items", 4)] == (1, 1, 1.0)
    # Events with an assignee in March: a's two last, b's two last.
    assert got[("assignee-events", 3)] == (8, 4, 4 / 8)
    assert got[("assignee-events", 4)] == (3, 1, 1 / 3)
    # c and d were never assigned.
    assert got[("assignee-items", 3)] == (4, 2, 2 / 4)
    assert got[("assignee-items", 4)] == (1, 1, 1.0)


def test_an_items_period_is_final_once_it_ended() -> None:
    """An item opened in March that gets its priority in April does not change March: the
    measure is fixed once the period is behind the watermark."""
    c = contract(dq("prio-items", of="items"))
    events = history()
    engine = ContractEngine(c)
    engine.step(events[:8])  # up to d's creation on 31 March
    late_priority = engine.step(events[8:])
    march = [o for o in late_priority.outcomes.upserts if o.period_start.month == 3]
    assert march == [] or all(o.good == 3 and o.measured == 4 for o in march)
    final = {o.period_start.month: o for o in engine.last.outcomes.values()}
    assert (final[3].measured, final[3].good, final[3].final) == (4, 3, True)


def test_service_indicators_per_slice() -> None:
    c = contract(dq("prio-events"))
    engine = ContractEngine(c)
    engine.step(history())
    points = {
        (p.indicator, p.at): p.value
        for p in engine.last.points.values()
        if p.kpi == "" and p.indicator.startswith(("events", "share_missing"))
    }
    # Daily grid at midnight UTC: the slice ending 5 March 00:00 holds a's creation (09:00 on
    # the 4th); the one ending the 6th a's assignment and b's creation.
    fifth, sixth = datetime(2024, 3, 5, tzinfo=UTC), datetime(2024, 3, 6, tzinfo=UTC)
    assert points[("events", fifth)] == 1.0
    assert points[("share_missing_priority", fifth)] == 0.0
    assert points[("share_missing_assignee", fifth)] == 1.0
    assert points[("events", sixth)] == 2.0
    assert points[("share_missing_priority", sixth)] == 0.5
    assert points[("share_missing_assignee", sixth)] == 0.5
    # A slice without events has an event count of 0 and no share.
    quiet = datetime(2024, 3, 20, tzinfo=UTC)
    assert points[("events", quiet)] == 0.0
    assert ("share_missing_priority", quiet) not in points


def test_credit_like_any_lagging_kpi() -> None:
    commercial = {
        "currency": "EUR",
        "monthly_charge": 10000,
        "at_risk": "10%",
        "allocation": {"prio-events": "100%"},
        "credit": {"formula": "linear"},
    }
    c = contract(
        dq("prio-events", indicator="lagging", target_level="90%", minimum_level="50%"),
        commercial=commercial,
    )
    march = outcomes(c, history())[("prio-events", 3)]
    # 75% against 90% target, 50% minimum: shortfall 15 of 40 points of 1,000 at risk.
    assert march.status == "below_target"
    assert march.credit == Decimal("375.00")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"measure": "severity_present"}, "kpis[0].measure"),
        ({"of": "tickets"}, "kpis[0].of"),
        ({"of": "items", "period": "rolling 28d"}, "kpis[0].period: a data_quality KPI over items"),
        ({"target_level": "120%"}, "kpis[0].target_level"),
    ],
)
def test_validation_names_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        contract(dq("prio", **change))
    assert "acme.yaml" in str(raised.value)
    assert message in str(raised.value)


def test_plain_words() -> None:
    text = " ".join(
        explain(contract(dq("prio"), dq("who", measure="assignee_present", of="items"))).split()
    )
    assert (
        "the share of the period's events about incidents (by event time) that carry a priority"
    ) in text
    assert (
        "incidents opened in the period that carry an assignee on one of their events before "
        "the period ends"
    ) in text


def test_engine_counts_equal_the_evidence_reports_count() -> None:
    """The report's independent count of events missing a priority or assignee, per month,
    equals the engine's data_quality measures over events on the help desk log."""
    mapping = load_mapping("helpdesk")
    events = item_events(map_file(dataset("helpdesk"), mapping, limit=5000).events)
    c = parse_contract(
        {
            "contract": "desk",
            "title": "Desk",
            "client": {"name": "Desk", "time_zone": "Europe/Rome"},
            "services": {"desk": {"name": "Desk", "source": mapping.source,
                                  "item_kind": "ticket", "owner": OWNER}},
            "objectives": [{"name": "All", "outcomes": [{"name": "All", "kpis": [
                dq("prio"), dq("who", measure="assignee_present")]}]}],
        }
    )  # fmt: skip
    engine = ContractEngine(c)
    engine.step(events)
    first, last = min(e.time for e, _ in events), max(e.time for e, _ in events)
    months = periods_covering(first, last, "month", ZoneInfo("Europe/Rome"), None)
    counted = monthly_quality((e for e, _ in events), [mapping.source], months)
    got = {(o.kpi, o.period_start): (o.measured, o.good) for o in engine.last.outcomes.values()}
    assert len(counted) == len(months) > 12
    for q in counted:
        assert got[("prio", q.start)] == (q.events, q.events - q.missing_priority)
        assert got[("who", q.start)] == (q.events, q.events - q.missing_assignee)
    assert any(q.missing_assignee for q in counted), "the log has events without an assignee"
