"""The evidence report's figures: hand-checked misses and clock stretches on a small history,
money step by step, loud refusals (a month outside the data, counts that disagree), and charts
that render byte for byte the same."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from outcome_pulse.processors.contract import Contract, parse_contract
from outcome_pulse.processors.errors import ConfigError, EvidenceError
from outcome_pulse.processors.evidence import EvidenceInput, Provenance, assemble, report_period
from outcome_pulse.processors.item_misses import build_histories, check_against
from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind, Lifecycle
from outcome_pulse.streams.drivers.backtest import backtest_events
from outcome_pulse.streams.report import charts
from outcome_pulse.streams.report.html import render_html

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday


def contract() -> Contract:
    kpi = {
        "id": "resolution",
        "name": "Resolution",
        "service": "desk",
        "kind": "time_to_target",
        "indicator": "lagging",
        "period": "month",
        "target_level": "90%",
        "minimum_level": "50%",
        "clock": {"start": "created", "stop": "resolved", "pause": "paused", "resume": "resumed"},
        "targets": {"P1": "4h", "P2": "8h"},
    }
    return parse_contract(
        {
            "contract": "acme-desk",
            "title": "ACME desk",
            "client": {"name": "ACME", "time_zone": "UTC"},
            "services": {
                "desk": {
                    "name": "Desk",
                    "source": "acme",
                    "item_kind": "incident",
                    "owner": {"name": "Lead", "alerts": [{"email": "lead@acme.example"}]},
                }
            },
            "objectives": [{"name": "Fast", "outcomes": [{"name": "In time", "kpis": [kpi]}]}],
            "commercial": {
                "currency": "EUR",
                "monthly_charge": 10000,
                "at_risk": "10%",
                "allocation": {"resolution": "100%"},
                "credit": {"formula": "linear"},
                "cap": {"monthly": "0.5%"},
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


def history() -> list[tuple[ItemEvent, int]]:
    return [
        event("a", Lifecycle.CREATED, 0, 1, priority="P1", assignee="ann"),
        event("a", Lifecycle.RESOLVED, 3, 2),  # 3h of 4h: met
        event("b", Lifecycle.CREATED, 1, 1, priority="P1"),
        event("b", Lifecycle.PAUSED, 2, 2),
        event("b", Lifecycle.RESUMED, 5, 3),
        event("b", Lifecycle.RESOLVED, 9, 4),  # 1h + 4h = 5h of 4h: missed, 3h paused
        event("c", Lifecycle.CREATED, 2, 1, priority="P2"),
        event("c", Lifecycle.RESOLVED, 14, 2),  # 12h of 8h: missed, 150%
        event("d", Lifecycle.CREATED, 3, 1),  # no priority: not measured
    ]


def evidence_input(terms: Contract, events: list[tuple[ItemEvent, int]]) -> EvidenceInput:
    result = backtest_events(terms, events)
    times = [e.time for e, _ in events]
    return EvidenceInput(
        contract=terms,
        period="2024-03",
        outcomes=result.outcomes(),
        points=list(result.evaluation.points.values()),
        histories=build_histories(events).values(),
        provenance=Provenance(
            origin="test",
            sources=("acme",),
            events=len(events),
            items=4,
            first_event=min(times),
            last_event=max(times),
            watermark=max(times) - terms.monitoring.lateness,
            schema_version=4,
            engine_version="test",
        ),
    )


def test_misses_name_the_items_with_their_clock_stretches() -> None:
    report = assemble(evidence_input(contract(), history()))
    (kpi,) = report.kpis
    assert kpi.outcome is not None and kpi.outcome.measured == 3 and kpi.outcome.good == 1
    assert kpi.misses is not None
    assert [m.item_id for m in kpi.worst] == ["c", "b"]  # 150% over before 125% over
    c, b = kpi.worst
    assert c.elapsed == timedelta(hours=12) and c.target == timedelta(hours=8)
    assert [(s.state, s.business) for s in b.stretches] == [
        ("running", timedelta(hours=1)),
        ("paused", timedelta(hours=3)),
        ("running", timedelta(hours=4)),
    ]
    running = sum((s.business for s in b.stretches if s.state == "running"), timedelta())
    assert running == b.elapsed == timedelta(hours=5)


def test_money_step_by_step_with_the_monthly_cap() -> None:
    report = assemble(evidence_input(contract(), history()))
    money = report.money
    assert money is not None
    (line,) = money.lines
    # 1/3 met: below the 50% minimum, so the whole allocation (1,000) is due; capped at 50.
    assert line.status == "below_minimum"
    assert line.allocation == Decimal("1000.00") and line.credit_due == Decimal("1000.00")
    assert line.shortfall_share == 1.0
    assert line.credit == Decimal("50.00") and line.cap_reduction == Decimal("950.00")
    assert money.period.net_credit == Decimal("50.00") == money.year.net_credit


def test_counts_that_disagree_with_the_outcome_are_refused() -> None:
    report = assemble(evidence_input(contract(), history()))
    (kpi,) = report.kpis
    assert kpi.misses is not None and kpi.outcome is not None
    check_against(kpi.misses, kpi.outcome)  # agrees
    with pytest.raises(EvidenceError, match="1 good, but the evaluation says 3 / 2"):
        check_against(kpi.misses, replace(kpi.outcome, good=2))


def test_a_month_outside_the_data_or_badly_written_is_a_config_error() -> None:
    data = evidence_input(contract(), history())
    with pytest.raises(ConfigError, match="no outcome for that month"):
        assemble(replace(data, period="2023-01"))
    for bad in ("2024-3", "March", "2024-13"):
        with pytest.raises(ConfigError, match="--period: expected a month as YYYY-MM"):
            report_period(contract(), bad)


def test_data_quality_counts_missing_priority_and_assignee() -> None:
    from outcome_pulse.processors.data_quality import source_quality

    month = report_period(contract(), "2024-03")
    (q,) = source_quality((e for e, _ in history()), ["acme"], month.start, month.end)
    assert (q.events, q.missing_priority, q.missing_assignee) == (9, 6, 8)
    assert q.share_with_priority == pytest.approx(3 / 9)


def test_the_html_is_deterministic_and_carries_the_figures() -> None:
    report = assemble(evidence_input(contract(), history()))
    first, second = render_html(report), render_html(report)
    assert first == second
    assert 'data-field="attainment">33.33%<' in first
    assert 'data-field="period-credit">EUR 50.00<' in first
    assert "<svg" in first and "<script" not in first
    assert charts.kpi_history(report.kpis[0]) == charts.kpi_history(report.kpis[0])


def test_quality_per_month_with_late_corrections() -> None:
    from outcome_pulse.processors.data_quality import monthly_quality
    from outcome_pulse.processors.evidence import quality_months
    from outcome_pulse.processors.measurements import LateEvent

    terms = contract()
    months = quality_months(terms, "2024-03")
    assert [m.label for m in (months[0], months[-1])] == ["2023-04", "2024-03"]
    data = evidence_input(terms, history())
    quality = tuple(monthly_quality((e for e, _ in history()), ["acme"], months))
    late = LateEvent(
        "acme-desk", "acme", "b-4", T0 + timedelta(hours=9), T0 + timedelta(hours=20), ()
    )
    report = assemble(
        replace(data, late=[late], provenance=replace(data.provenance, quality=quality))
    )
    assert len(report.quality) == 12
    (now,) = report.quality_now
    assert (now.month, now.quality.events, now.quality.missing_priority, now.late_events) == (
        "2024-03",
        9,
        6,
        1,
    )
    assert all(q.quality.events == 0 and q.late_events == 0 for q in report.quality[:-1])
    assert "Data quality over the last 12 months" in render_html(report)
