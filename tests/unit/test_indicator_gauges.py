"""IndicatorGauges: one gauge per indicator, the latest point per series, period outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from outcome_pulse.processors.measurements import SERVICE_WIDE, IndicatorPoint, PeriodOutcome
from outcome_pulse.sinks.indicator_metrics import IndicatorGauges

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def point(indicator: str, hours: int, value: float, *, kpi: str = SERVICE_WIDE) -> IndicatorPoint:
    return IndicatorPoint("c1", "desk", kpi, indicator, T0 + timedelta(hours=hours), value, False)


def outcome(
    month: int, *, measure: float | None, status: str, credit: str = "0", kpi: str = "p2"
) -> PeriodOutcome:
    start = datetime(2024, month, 1, tzinfo=UTC)
    return PeriodOutcome(
        contract="c1",
        kpi=kpi,
        service="desk",
        period=f"2024-{month:02d}",
        period_start=start,
        period_end=datetime(2024, month + 1, 1, tzinfo=UTC),
        measured=10,
        good=9,
        baseline=None,
        measure=measure,
        target_level=0.95,
        minimum_level=0.9,
        status=status,
        credit_due=Decimal(credit),
        credit=Decimal(credit),
        earned_back=Decimal("0"),
        gain_share=Decimal("0"),
        currency="EUR",
        final=False,
    )


def value(registry: CollectorRegistry, name: str, kpi: str = SERVICE_WIDE) -> float | None:
    labels = {"client": "acme", "service": "desk", "kpi": kpi}
    return registry.get_sample_value(name, labels)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_one_gauge_per_indicator_holding_the_latest_point(registry: CollectorRegistry) -> None:
    gauges = IndicatorGauges(registry, help={"open_backlog": "Items open now."})
    gauges.update(
        "acme",
        [
            point("open_backlog", 2, 7),
            point("open_backlog", 1, 5),
            point("open_backlog", 0, 3),
            point("items_at_risk", 0, 1),
            point("attainment_to_date", 0, 0.97, kpi="p2"),
        ],
        [],
    )
    assert value(registry, "pulse_kpi_open_backlog") == 7
    assert value(registry, "pulse_kpi_items_at_risk") == 1
    assert value(registry, "pulse_kpi_attainment_to_date", kpi="p2") == 0.97
    text = generate_latest(registry).decode()
    assert "# HELP pulse_kpi_open_backlog Items open now." in text
    assert "# TYPE pulse_kpi_items_at_risk gauge" in text
    assert 'pulse_kpi_open_backlog{client="acme",kpi="",service="desk"} 7.0' in text


def test_a_correction_of_an_older_point_does_not_move_the_gauge_back(
    registry: CollectorRegistry,
) -> None:
    gauges = IndicatorGauges(registry)
    gauges.update("acme", [point("open_backlog", 5, 12)], [])
    gauges.update("acme", [point("open_backlog", 3, 99)], [])  # a late event rewrote hour 3
    assert value(registry, "pulse_kpi_open_backlog") == 12
    gauges.update("acme", [point("open_backlog", 5, 13)], [])  # the same instant, corrected
    assert value(registry, "pulse_kpi_open_backlog") == 13
    gauges.update("acme", [point("open_backlog", 6, 4)], [])
    assert value(registry, "pulse_kpi_open_backlog") == 4


def test_period_gauges_follow_the_latest_period_per_kpi(registry: CollectorRegistry) -> None:
    gauges = IndicatorGauges(registry)
    gauges.update(
        "acme",
        [],
        [
            outcome(2, measure=0.97, status="met"),
            outcome(1, measure=0.80, status="below_minimum", credit="1500.50"),
            outcome(1, measure=0.5, status="below_minimum", credit="900", kpi="p1"),
        ],
    )
    assert value(registry, "pulse_kpi_period_attainment", kpi="p2") == 0.97
    assert value(registry, "pulse_kpi_period_credit", kpi="p2") == 0
    assert value(registry, "pulse_kpi_period_met", kpi="p2") == 1
    assert value(registry, "pulse_kpi_period_attainment", kpi="p1") == 0.5
    assert value(registry, "pulse_kpi_period_credit", kpi="p1") == 900.0
    assert value(registry, "pulse_kpi_period_met", kpi="p1") == 0

    # A new period with nothing measured yet: no attainment rather than last month's.
    gauges.update("acme", [], [outcome(3, measure=None, status="no_data")])
    assert value(registry, "pulse_kpi_period_attainment", kpi="p2") is None
    assert value(registry, "pulse_kpi_period_met", kpi="p2") == 0
    # An older period's correction leaves the gauges on the latest period.
    gauges.update("acme", [], [outcome(1, measure=0.99, status="met", kpi="p1")])
    gauges.update("acme", [], [outcome(2, measure=0.99, status="met")])
    assert value(registry, "pulse_kpi_period_met", kpi="p2") == 0


def test_clients_are_separate_series_and_forget_removes_one(registry: CollectorRegistry) -> None:
    gauges = IndicatorGauges(registry)
    gauges.update("acme", [point("open_backlog", 0, 3)], [outcome(1, measure=1.0, status="met")])
    gauges.update("globex", [point("open_backlog", 0, 8)], [])
    other = {"client": "globex", "service": "desk", "kpi": ""}
    assert registry.get_sample_value("pulse_kpi_open_backlog", other) == 8
    gauges.forget("acme")
    assert value(registry, "pulse_kpi_open_backlog") is None
    assert value(registry, "pulse_kpi_period_met", kpi="p2") is None
    assert registry.get_sample_value("pulse_kpi_open_backlog", other) == 8
    gauges.update("acme", [point("open_backlog", -5, 1)], [])  # forgotten: any point is latest
    assert value(registry, "pulse_kpi_open_backlog") == 1


def test_a_name_that_is_not_snake_case_is_refused(registry: CollectorRegistry) -> None:
    with pytest.raises(ValueError, match="snake_case"):
        IndicatorGauges(registry).update("acme", [point("Open-Backlog", 0, 1)], [])


def test_late_events_are_counted(registry: CollectorRegistry) -> None:
    gauges = IndicatorGauges(registry)
    gauges.count_late(0)
    gauges.count_late(3)
    assert registry.get_sample_value("pulse_late_events_total") == 3


def test_the_exposition_is_rendered_at_scrape_time_without_stale_series(
    registry: CollectorRegistry,
) -> None:
    gauges = IndicatorGauges(registry)
    gauges.update("acme", [point("open_backlog", 0, 3)], [outcome(1, measure=1.0, status="met")])
    before = generate_latest(registry).decode()
    assert 'pulse_kpi_open_backlog{client="acme",kpi="",service="desk"} 3.0' in before
    gauges.update("acme", [point("open_backlog", 1, 4)], [])
    assert 'service="desk"} 4.0' in generate_latest(registry).decode()
    gauges.forget("acme")
    after = generate_latest(registry).decode()
    assert 'client="acme"' not in after
    assert "# TYPE pulse_kpi_open_backlog gauge" in after  # the family stays, with no series
