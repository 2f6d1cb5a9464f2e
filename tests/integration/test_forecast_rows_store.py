"""The forecasting rows of schema v4 through the monitor's store, on real PostgreSQL: period
forecasts and drift signals are replaced per contract and read back equal (numbers, times,
credits), and an open clock keeps its breach probability."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from outcome_pulse.processors.forecast.drift import DriftSignal
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.processors.measurements import OpenClock
from outcome_pulse.sinks.errors import SinkError
from outcome_pulse.sinks.monitor_store import MonitorStore
from outcome_pulse.sinks.queries import drift_signals, open_item_clocks, period_forecasts
from outcome_pulse.sinks.schema import migrate
from tests.integration.pgdb import temporary_database

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def dsn(pg_dsn: str) -> Iterator[str]:
    with temporary_database(pg_dsn) as url:
        migrate(url)
        yield url


def forecast(kpi: str, contract: str = "c1", **changes: object) -> PeriodForecast:
    base = PeriodForecast(
        contract, kpi, "desk", "month", T0.replace(day=1), T0.replace(month=4, day=1), T0,
        120, 110, 110 / 120, 0.9123456789, 0.22, 0.87, 3, -1, Decimal("1234.50"), "EUR",
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def signal(indicator: str, contract: str = "c1", hours: int = 0) -> DriftSignal:
    return DriftSignal(
        contract, "desk", indicator, T0 + timedelta(hours=hours), T0 - timedelta(days=3), "up",
        0.4123, 10.25, 14.4767,
    )  # fmt: skip


def test_forecasts_and_drift_signals_are_replaced_per_contract(dsn: str) -> None:
    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store:
            async with store.tick() as tick:
                await tick.replace_forecasts("c1", [forecast("restore"), forecast("respond")])
                await tick.replace_forecasts("c2", [forecast("restore", contract="c2")])
                await tick.replace_drift_signals("c1", [signal("arrivals"), signal("completions")])
                await tick.replace_drift_signals("c2", [signal("arrivals", contract="c2")])
            async with store.tick() as tick:
                await tick.replace_forecasts("c1", [forecast("restore", p_meet_target=0.5)])
                await tick.replace_drift_signals("c1", [signal("arrivals", hours=5)])

    asyncio.run(run())
    assert period_forecasts(dsn, "c1") == [forecast("restore", p_meet_target=0.5)]
    assert period_forecasts(dsn, "c2") == [forecast("restore", contract="c2")]
    assert drift_signals(dsn, "c1") == [signal("arrivals", hours=5)]
    assert drift_signals(dsn, "c2") == [signal("arrivals", contract="c2")]


def test_rows_of_another_contract_are_refused(dsn: str) -> None:
    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store, store.tick() as tick:
            await tick.replace_forecasts("c1", [forecast("restore", contract="c9")])

    with pytest.raises(SinkError, match="c9"):
        asyncio.run(run())


def test_an_open_clock_keeps_its_breach_probability(dsn: str) -> None:
    clock = OpenClock(
        "c3", "restore", "desk", "desk-src", "INC-1", "P2", "running", T0, 3600.0, 28800.0,
        0.125, False, False, T0 + timedelta(hours=8), T0 + timedelta(hours=1), 0.012534567,
    )  # fmt: skip

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store, store.tick() as tick:
            await tick.replace_open_clocks("c3", [clock])

    asyncio.run(run())
    assert open_item_clocks(dsn, "c3") == [clock]
