"""Money from measures (credits, caps, earn-back, gain-share) and the calendar of periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from outcome_pulse.processors.contract import Contract, parse_contract
from outcome_pulse.processors.periods import (
    calendar_period,
    local_midnight,
    periods_covering,
    sample_grid,
)
from outcome_pulse.processors.settlement import PeriodMeasure, settle

BRUSSELS = ZoneInfo("Europe/Brussels")


def contract(commercial: dict[str, Any]) -> Contract:
    kpi = {
        "service": "desk",
        "indicator": "lagging",
        "period": "month",
        "kind": "ratio",
        "good": "resolved",
        "total": "resolved",
        "target_level": "90%",
        "minimum_level": "80%",
    }
    return parse_contract(
        {
            "contract": "c",
            "title": "C",
            "client": {"name": "C", "time_zone": "Europe/Brussels"},
            "services": {
                "desk": {
                    "name": "Desk",
                    "source": "s",
                    "item_kind": "incident",
                    "owner": {"name": "O", "alerts": [{"email": "o@c.example"}]},
                }
            },
            "objectives": [
                {
                    "name": "O",
                    "outcomes": [
                        {
                            "name": "O",
                            "kpis": [
                                {**kpi, "id": "one", "name": "One"},
                                {**kpi, "id": "two", "name": "Two"},
                            ],
                        }
                    ],
                }
            ],
            "commercial": {
                "currency": "EUR",
                "monthly_charge": 10000,
                "at_risk": "10%",
                "allocation": {"one": "60%", "two": "40%"},
                "credit": {"formula": "linear"},
                **commercial,
            },
        }
    )


def months(c: Contract, kpi: str, measures: list[float | None]) -> list[PeriodMeasure]:
    out = []
    start = datetime(2024, 1, 15, tzinfo=UTC)
    for n, value in enumerate(measures):
        period = calendar_period(start + timedelta(days=31 * n), "month", BRUSSELS)
        out.append(PeriodMeasure(c.kpi(kpi), "desk", period, "month", 10, 9, None, value, True))
    return out


def test_linear_credit_between_target_and_minimum() -> None:
    c = contract({})
    rows = settle(c, months(c, "one", [0.95, 0.85, 0.70, None]))
    assert [r.status for r in rows] == ["met", "below_target", "below_minimum", "no_data"]
    # allocation of one: 10,000 x 10% x 60% = 600; halfway between target and minimum: 300
    assert [r.credit for r in rows] == [
        Decimal("0.00"),
        Decimal("300.00"),
        Decimal("600.00"),
        Decimal("0.00"),
    ]


def test_fixed_credit_only_below_minimum() -> None:
    c = contract({"credit": {"formula": "fixed", "share": "50%"}})
    rows = settle(c, months(c, "two", [0.85, 0.70]))
    assert [r.credit for r in rows] == [Decimal("0.00"), Decimal("200.00")]


def test_monthly_cap_scales_the_month_down_to_exactly_the_cap() -> None:
    c = contract({"cap": {"monthly": "7%"}})
    rows = settle(c, months(c, "one", [0.70]) + months(c, "two", [0.70]))
    assert [r.credit_due for r in rows] == [Decimal("600.00"), Decimal("400.00")]
    assert [r.credit for r in rows] == [Decimal("420.00"), Decimal("280.00")]
    assert sum(r.credit for r in rows) == Decimal("700.00")


def test_yearly_cap_stops_credits_within_a_year() -> None:
    c = contract({"cap": {"yearly": "1%"}})  # 1,200 a year
    rows = settle(c, months(c, "one", [0.70, 0.70, 0.70]))
    assert [r.credit for r in rows] == [Decimal("600.00"), Decimal("600.00"), Decimal("0.00")]


def test_earn_back_needs_every_following_period_above_target() -> None:
    c = contract({"earn_back": {"periods": 2}})
    rows = settle(c, months(c, "one", [0.70, 0.95, 0.96, 0.70, 0.95, 0.90]))
    assert [r.earned_back for r in rows] == [Decimal("600.00")] + [Decimal("0.00")] * 5
    # 0.90 equals the target: it does not *exceed* it, so the fourth month is not earned back


def test_gain_share_pays_the_best_band_reached() -> None:
    c = contract(
        {
            "gain_share": [
                {
                    "kpi": "one",
                    "bands": [
                        {"at_least": "95%", "bonus": "1%"},
                        {"at_least": "98%", "bonus": "2%"},
                    ],
                }
            ]
        }
    )
    rows = settle(c, months(c, "one", [0.94, 0.96, 0.99]))
    assert [r.gain_share for r in rows] == [Decimal("0.00"), Decimal("100.00"), Decimal("200.00")]


def test_months_begin_at_local_midnight_across_dst() -> None:
    march = calendar_period(datetime(2024, 3, 15, tzinfo=UTC), "month", BRUSSELS)
    assert march.start == datetime(2024, 2, 29, 23, tzinfo=UTC)  # CET
    assert march.end == datetime(2024, 3, 31, 22, tzinfo=UTC)  # CEST
    assert march.label == "2024-03"
    q = calendar_period(datetime(2024, 5, 1, tzinfo=UTC), "quarter", BRUSSELS)
    assert (q.label, q.start, q.end) == (
        "2024-Q2",
        march.end,
        datetime(2024, 6, 30, 22, tzinfo=UTC),
    )


def test_day_grids_stay_on_local_midnight_and_hour_grids_on_utc_hours() -> None:
    days = sample_grid(
        datetime(2024, 3, 29, 12, tzinfo=UTC),
        datetime(2024, 4, 2, tzinfo=UTC),
        timedelta(days=1),
        BRUSSELS,
    )
    assert [d.astimezone(BRUSSELS).hour for d in days] == [0, 0, 0, 0, 0]
    assert days[0] == local_midnight(date(2024, 3, 29), BRUSSELS)
    hours = sample_grid(
        datetime(2024, 3, 29, 12, 30, tzinfo=UTC),
        datetime(2024, 3, 29, 15, tzinfo=UTC),
        timedelta(hours=1),
        BRUSSELS,
    )
    assert hours == [datetime(2024, 3, 29, h, tzinfo=UTC) for h in (12, 13, 14, 15)]


def test_rolling_periods_end_at_each_month_end() -> None:
    windows = periods_covering(
        datetime(2024, 1, 10, tzinfo=UTC), datetime(2024, 3, 5, tzinfo=UTC), "rolling", BRUSSELS, 28
    )
    assert [w.label for w in windows] == [
        "28d to 2024-01-31",
        "28d to 2024-02-29",
        "28d to 2024-03-31",
    ]
    assert all(
        (w.end - w.start) in (timedelta(days=28), timedelta(days=28, hours=-1)) for w in windows
    )
