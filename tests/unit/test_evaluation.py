"""The contract evaluation: small hand-checked cases, then invariance under arrival order,
duplicates and batching, late events as counted corrections, and the real logs."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcome_pulse.processors.contract import Contract, parse_contract
from outcome_pulse.processors.evaluation import ContractEvaluation
from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind, Lifecycle
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_events
from tests.datasets import log_item_events

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday


def desk_contract(**monitoring: str) -> Contract:
    return parse_contract(
        {
            "contract": "acme-desk",
            "title": "ACME desk",
            "client": {"name": "ACME", "time_zone": "UTC"},
            "monitoring": {"sample_every": "1h", "allowed_lateness": "2h", **monitoring},
            "services": {
                "desk": {
                    "name": "Desk",
                    "source": "acme",
                    "item_kind": "incident",
                    "owner": {"name": "Lead", "alerts": [{"email": "lead@acme.example"}]},
                }
            },
            "objectives": [
                {
                    "name": "Fast",
                    "outcomes": [
                        {
                            "name": "Resolved in time",
                            "kpis": [
                                {
                                    "id": "resolution",
                                    "name": "Resolution",
                                    "service": "desk",
                                    "kind": "time_to_target",
                                    "indicator": "lagging",
                                    "period": "month",
                                    "target_level": "90%",
                                    "minimum_level": "50%",
                                    "clock": {
                                        "start": "created",
                                        "stop": "resolved",
                                        "pause": "paused",
                                        "resume": "resumed",
                                    },
                                    "targets": {"P1": "4h", "P2": "8h"},
                                    "at_risk_share": "50%",
                                },
                                {
                                    "id": "backlog",
                                    "name": "Backlog",
                                    "service": "desk",
                                    "kind": "threshold",
                                    "indicator": "leading",
                                    "period": "month",
                                    "gauge": "open_backlog",
                                    "op": "<=",
                                    "bound": 1,
                                    "sample_every": "1h",
                                    "target_level": "90%",
                                    "minimum_level": "50%",
                                },
                            ],
                        }
                    ],
                }
            ],
            "commercial": {
                "currency": "EUR",
                "monthly_charge": 10000,
                "at_risk": "10%",
                "allocation": {"resolution": "100%"},
                "credit": {"formula": "linear"},
            },
        }
    )


def event(
    item: str, lifecycle: Lifecycle, hours: float, n: int, **fields: Any
) -> tuple[ItemEvent, int]:
    return (
        ItemEvent(
            event_id=f"{item}-{n}",
            source="acme",
            item_id=item,
            kind=ItemKind.INCIDENT,
            lifecycle=lifecycle,
            time=T0 + timedelta(hours=hours),
            **fields,
        ),
        0,
    )


def three_items() -> list[tuple[ItemEvent, int]]:
    return [
        event("a", Lifecycle.CREATED, 0, 1, priority="P1"),
        event("a", Lifecycle.RESOLVED, 3, 2),  # 3h of 4h: met
        event("b", Lifecycle.CREATED, 1, 1, priority="P1"),
        event("b", Lifecycle.PAUSED, 2, 2),
        event("b", Lifecycle.RESUMED, 5, 3),
        event("b", Lifecycle.RESOLVED, 8, 4),  # 1h + 3h = 4h of 4h: met (exactly)
        event("c", Lifecycle.CREATED, 2, 1, priority="P2"),
        event("c", Lifecycle.RESOLVED, 12, 2),  # 10h of 8h: missed
    ]


def evaluate(contract: Contract, events: list[tuple[ItemEvent, int]]) -> Any:
    evaluation = ContractEvaluation(contract)
    evaluation.observe(events)
    return evaluation.evaluate()


def test_time_to_target_outcome_and_credit() -> None:
    result = evaluate(desk_contract(), three_items())
    (row,) = [o for o in result.outcomes.values() if o.kpi == "resolution"]
    assert (row.measured, row.good) == (3, 2)
    assert row.measure == pytest.approx(2 / 3)
    assert row.status == "below_target"
    # linear: allocation 1,000 x (90% - 66.67%) / (90% - 50%) = 583.33
    assert row.credit_due == Decimal("583.33")
    assert row.currency == "EUR"
    assert row.final is False  # the month is not over in event time


def test_indicator_series_read_at_sample_instants() -> None:
    result = evaluate(desk_contract(), three_items())
    points = {(p.kpi, p.indicator, p.at): p.value for p in result.points.values()}
    at = lambda h: T0 + timedelta(hours=h)  # noqa: E731
    assert points[("", "open_backlog", at(0))] == 1  # a
    assert points[("", "open_backlog", at(2))] == 3  # a, b (paused is open), c
    assert points[("", "open_backlog", at(3))] == 2  # a resolved at 3h
    assert points[("", "arrivals", at(2))] == 1
    assert points[("", "completions", at(3))] == 1
    assert points[("", "backlog_age_p90_seconds", at(4))] == 3 * 3600.0  # b opened at 1h
    # b: 1h used of 4h by 2h (paused), at risk (>= 50%) from resume + 1h = 6h
    assert points[("resolution", "items_at_risk", at(5))] == 0
    # c (P2, 8h target, started at 2h) reaches 50% at 6h too
    assert points[("resolution", "items_at_risk", at(6))] == 2
    assert points[("resolution", "items_at_risk", at(8))] == 1  # b resolved at 8h
    assert points[("resolution", "items_at_risk", at(10))] == 1  # c: 8h of 8h, not yet over
    assert points[("resolution", "items_at_risk", at(11))] == 0  # c breached after 10h
    assert points[("resolution", "breached_open", at(11))] == 1
    # forecast misses: a (target used up at 4h) while it runs [0h, 3h); b while it runs
    # [1h, 2h) and [5h, 8h); c from its start at 2h (used up at 10h) until resolved at 12h
    assert [points[("resolution", "breaches_forecast", at(h))] for h in range(12)] == [
        1, 2, 2, 1, 1, 2, 2, 2, 1, 1, 1, 1,
    ]  # fmt: skip
    assert points[("resolution", "met_to_date", at(12))] == 2
    assert points[("resolution", "missed_to_date", at(12))] == 1
    assert points[("resolution", "mttr_seconds", at(3))] == 3 * 3600.0
    assert points[("backlog", "within_bound", at(2))] == 0.0
    assert points[("backlog", "within_bound", at(12))] == 1.0


def test_watermark_makes_rows_final() -> None:
    result = evaluate(desk_contract(), three_items())
    last = T0 + timedelta(hours=12)
    finals = {p.at: p.final for p in result.points.values() if p.indicator == "open_backlog"}
    assert finals[last - timedelta(hours=2)] is True
    assert finals[last - timedelta(hours=1)] is False


events_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.sampled_from(
            [
                Lifecycle.CREATED,
                Lifecycle.PAUSED,
                Lifecycle.RESUMED,
                Lifecycle.RESOLVED,
                Lifecycle.ASSIGNED,
            ]
        ),
        st.integers(min_value=0, max_value=72 * 4),
        st.sampled_from(["P1", "P2", None]),
        st.sampled_from(["x", "y", None]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(raw=events_strategy, seed=st.integers(0, 1000))
def test_order_duplicates_and_batching_do_not_change_the_result(raw: list[Any], seed: int) -> None:
    contract = desk_contract()
    events = [
        event(item, lifecycle, quarter / 4, n, priority=priority, assignee=assignee)
        for n, (item, lifecycle, quarter, priority, assignee) in enumerate(raw)
    ]
    expected = evaluate(contract, events)
    rng = random.Random(seed)
    shuffled = events + rng.sample(events, k=len(events) // 3)
    rng.shuffle(shuffled)
    evaluation = ContractEvaluation(contract)
    points: dict[Any, Any] = {}
    outcomes: dict[Any, Any] = {}
    for start in range(0, len(shuffled), 3):
        step = evaluation.step(shuffled[start : start + 3])
        for rows, delta in ((points, step.points), (outcomes, step.outcomes)):
            for key in delta.deletes:
                del rows[key]
            rows.update((row.key, row) for row in delta.upserts)
    assert evaluation.last == expected
    # The deltas a driver writes add up to the same rows.
    assert points == expected.points
    assert outcomes == expected.outcomes


def test_late_event_beyond_lateness_is_a_counted_correction() -> None:
    contract = desk_contract()
    events = three_items()
    evaluation = ContractEvaluation(contract)
    late_one = event("d", Lifecycle.CREATED, 4, 1, priority="P1")
    evaluation.step(events)
    step = evaluation.step([late_one])  # watermark is 10h; 4h is 6h behind it
    assert [e.event_id for e in step.late] == ["d-1"]
    assert step.late[0].watermark == T0 + timedelta(hours=10)
    assert any("open_backlog" in c for c in step.late[0].changed)
    assert evaluation.last == evaluate(contract, [*events, late_one])  # applied, not lost
    within = ContractEvaluation(contract)
    within.step(events)
    assert within.step([event("e", Lifecycle.CREATED, 11, 1)]).late == ()


def test_duplicate_step_changes_nothing() -> None:
    evaluation = ContractEvaluation(desk_contract())
    evaluation.step(three_items())
    again = evaluation.step(three_items())
    assert again.observed.duplicates == 8
    assert not again.points and not again.outcomes


@pytest.mark.parametrize(
    ("name", "contract_file"),
    [("helpdesk", "helpdesk_tickets.yaml"), ("scms", "scms_orders.yaml")],
)
def test_real_log_shuffled_within_lateness_with_duplicates(name: str, contract_file: str) -> None:
    contract = load_contract(CONTRACTS / contract_file)
    events = log_item_events(name)
    expected = backtest_events(contract, events)
    perturbed = shuffle_within(events, contract.monitoring.lateness, seed=7)
    result = backtest_events(contract, perturbed, batch=500)
    assert result.late == ()
    assert result.duplicates == len(perturbed) - len(events)
    assert result.evaluation == expected.evaluation
    credited = [o for o in expected.outcomes() if o.credit > 0]
    assert credited, "the example contract is meant to miss some periods"


def shuffle_within(
    events: list[tuple[ItemEvent, int]], lateness: timedelta, *, seed: int, duplicates: float = 0.05
) -> list[tuple[ItemEvent, int]]:
    """Events delayed by up to ``lateness`` (so none falls behind the watermark), with a share
    duplicated (the copy also delayed)."""
    rng = random.Random(seed)
    doubled = events + rng.sample(events, k=int(len(events) * duplicates))
    span = lateness.total_seconds()
    keyed = [
        (e.time.timestamp() + rng.uniform(0, span), n, (e, seq))
        for n, (e, seq) in enumerate(doubled)
    ]
    keyed.sort(key=lambda row: (row[0], row[1]))
    return [row[2] for row in keyed]


def test_open_clocks_are_read_at_the_latest_event_time() -> None:
    events = [*three_items(), event("d", Lifecycle.CREATED, 10, 1, priority="P1")]
    result = evaluate(desk_contract(), events)
    (clock,) = result.open_clocks.values()
    assert (clock.kpi, clock.item_id, clock.priority, clock.status) == (
        "resolution",
        "d",
        "P1",
        "running",
    )
    assert clock.as_of == T0 + timedelta(hours=12)
    assert (clock.elapsed_seconds, clock.target_seconds, clock.share_used) == (7200, 14400, 0.5)
    assert clock.at_risk and not clock.breached
    assert clock.breach_at == T0 + timedelta(hours=14)  # if nothing changes
