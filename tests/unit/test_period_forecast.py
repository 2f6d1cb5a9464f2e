"""Period forecasts: hand-checked certainties, budget arithmetic, reproducibility."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from outcome_pulse.processors.forecast.period_forecast import (
    ArrivalRates,
    OpenItemOutlook,
    PeriodForecast,
    PeriodState,
    SettleTimes,
    forecast_period,
)
from outcome_pulse.processors.periods import calendar_period
from outcome_pulse.streams.contract_files import load_contract

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
CONTRACT = load_contract(CONTRACTS / "helpdesk_tickets.yaml")  # target 85%, minimum 75%
KPI = CONTRACT.kpi("resolution-time")
AS_OF = datetime(2012, 5, 20, tzinfo=UTC)
PERIOD = calendar_period(AS_OF, "month", ZoneInfo("Europe/Rome"))


def forecast(
    state: PeriodState, items: list[OpenItemOutlook], new: float = 0.0, rate: float = 0.0
) -> PeriodForecast:
    return forecast_period(CONTRACT, KPI, PERIOD, "month", AS_OF, state, items, new, rate)


def test_a_period_with_nothing_left_to_happen_is_what_it_measured() -> None:
    met = forecast(PeriodState(90, 10), [])
    assert (met.p_meet_target, met.p_meet_minimum) == (1.0, 1.0)
    assert met.attainment_to_date == 0.9
    assert met.expected_attainment == pytest.approx(0.9)
    assert met.expected_credit == Decimal("0.00")
    assert met.budget_left_target == 15 - 10  # floor(15% of 100) misses allowed, 10 used
    lost = forecast(PeriodState(70, 30), [])
    assert (lost.p_meet_target, lost.p_meet_minimum) == (0.0, 0.0)
    assert lost.budget_left_minimum == 25 - 30
    # Below the minimum the linear formula credits the KPI's whole monthly allocation.
    assert lost.expected_credit == Decimal("3200.00")  # 40,000 x 10% at risk x 80% allocation


def test_open_items_that_surely_breach_decide_the_period() -> None:
    sure = [OpenItemOutlook(1.0, 1.0)] * 10
    assert forecast(PeriodState(84, 6), sure).p_meet_target == 0.0  # 84 of 100
    assert forecast(PeriodState(85, 5), sure).p_meet_target == 1.0  # 85 of 100: at target
    safe = [OpenItemOutlook(0.0, 1.0)] * 10
    assert forecast(PeriodState(84, 6), safe).p_meet_target == 1.0  # 94 of 100
    stuck = [OpenItemOutlook(1.0, 0.0)] * 10  # breach, but not settled this period
    assert forecast(PeriodState(84, 6), stuck).p_meet_target == 1.0


def test_uncertain_items_give_an_in_between_probability_reproducibly() -> None:
    items = [OpenItemOutlook(0.5, 1.0)] * 20
    first = forecast(PeriodState(80, 10), items, new=5.0, rate=0.2)
    assert 0.0 < first.p_meet_target < 1.0
    assert first.p_meet_target <= first.p_meet_minimum
    assert forecast(PeriodState(80, 10), items, new=5.0, rate=0.2) == first


def test_arrivals_follow_weekday_and_hour() -> None:
    zone = ZoneInfo("UTC")
    monday_nine = datetime(2024, 1, 1, 9, tzinfo=UTC)
    opened = [monday_nine + timedelta(weeks=w, minutes=m) for w in range(8) for m in (0, 30)]
    rates = ArrivalRates(opened, zone)
    as_of = monday_nine + timedelta(weeks=8) - timedelta(hours=1)  # Monday 08:00, week 9
    assert rates.expected(as_of, as_of + timedelta(hours=3)) == pytest.approx(2.0, abs=0.01)
    assert rates.expected(as_of, as_of + timedelta(hours=1)) == 0.0


def test_settle_times_are_conditional_on_age() -> None:
    times = SettleTimes([timedelta(hours=h) for h in (1, 2, 3, 10)])
    assert times.settled_within(timedelta(0), timedelta(hours=2)) == 0.5
    assert times.settled_within(timedelta(hours=2), timedelta(hours=1)) == 0.5  # 3 of {3, 10}
