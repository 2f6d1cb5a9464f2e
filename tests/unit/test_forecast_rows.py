"""The monitor's forecasting rows equal the backtest's: the running periods' forecasts at the
latest event time and the drift signals, from an engine stepped round by round with compaction
(as the streaming monitor runs it), against ``pulse backtest --forecasts/--drift`` over the
same events; and the top-risk gauge exports the riskiest open items only."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from outcome_pulse.processors.engine import ContractEngine
from outcome_pulse.processors.errors import EngineStateError
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.processors.measurements import OpenClock
from outcome_pulse.sinks.risk_metrics import ItemRiskGauges
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import BacktestResult, backtest_events
from outcome_pulse.streams.drivers.forecast_files import drift_of, forecasts_of
from outcome_pulse.streams.drivers.forecast_rows import ForecastRows
from tests.datasets import log_item_events

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


@pytest.fixture(scope="module")
def whole() -> tuple[BacktestResult, list[PeriodForecast]]:
    """``pulse backtest`` over the whole help desk log, never compacted (its 21,425 events are
    fewer than the 50,000 after which the default backtest compacts, so that is the default
    backtest too), and its period forecasts at the latest event time (``--forecasts``' final
    rows): computed once for the two tests below, which only read them."""
    contract = load_contract(CONTRACTS / "helpdesk_tickets.yaml")
    result = backtest_events(contract, log_item_events("helpdesk"), compact_every=None)
    assert result.engine is not None and result.engine.max_time is not None
    last = result.engine.max_time
    return result, [f for f in forecasts_of(result, timedelta(days=1)) if f.as_of == last]


def test_monitor_rows_equal_the_backtest_files_on_the_help_desk_log(
    whole: tuple[BacktestResult, list[PeriodForecast]],
) -> None:
    contract = load_contract(CONTRACTS / "helpdesk_tickets.yaml")
    events = log_item_events("helpdesk")
    lateness = contract.monitoring.lateness.total_seconds()
    rng = random.Random(4)
    sent = sorted(events, key=lambda e: e[0].time.timestamp() + rng.uniform(0, lateness))

    engine = ContractEngine(contract)
    rows = ForecastRows(contract)
    seen: list = []
    for start in range(0, len(sent), 1500):
        batch = sent[start : start + 1500]
        missing = set(engine.missing_histories(batch))
        engine.restore(e for e in seen if (e[0].source, e[0].item_id) in missing)
        step = engine.step(batch)
        seen.extend(batch)
        engine.compact()
        forecasts, signals = rows.compute(engine, corrected=bool(step.late))

    backtest, expected = whole
    assert backtest.engine is not None and backtest.engine.max_time is not None
    last = backtest.engine.max_time
    assert forecasts == expected
    assert forecasts and all(f.as_of == last for f in forecasts)
    assert signals == drift_of(backtest)
    assert signals, "the help desk's indicators drift in 2012"


def test_a_compacted_backtest_forecasts_from_its_engine_and_refuses_its_partial_histories(
    whole: tuple[BacktestResult, list[PeriodForecast]],
) -> None:
    """The backtest compacts every 50,000 events (BPIC 2013's 65,533 do): its engine's forecast
    still counts the compacted items, and the histories it no longer holds are refused, never
    read as if they were all (``pulse backtest --forecasts`` then evaluates without compacting)."""
    contract = load_contract(CONTRACTS / "helpdesk_tickets.yaml")
    compacted = backtest_events(contract, log_item_events("helpdesk"), compact_every=5000)
    assert compacted.engine is not None
    _, expected = whole
    assert expected
    assert compacted.engine.period_forecasts() == expected
    with pytest.raises(EngineStateError, match="compacted"):
        compacted.engine.service_items()
    with pytest.raises(EngineStateError, match="compacted"):
        forecasts_of(compacted, timedelta(days=1))


def _clock(item: str, probability: float | None, breached: bool = False) -> OpenClock:
    at = datetime(2026, 1, 5, 12, tzinfo=UTC)
    return OpenClock(
        "desk",
        "resolution-time",
        "tickets",
        "helpdesk",
        item,
        "P2",
        "running",
        at,
        3600.0,
        7200.0,
        0.5,
        False,
        breached,
        None,
        at,
        probability,
    )


def test_the_risk_gauge_exports_the_top_items_only() -> None:
    registry = CollectorRegistry()
    gauges = ItemRiskGauges(registry, top=2)
    clocks = [
        _clock("a", 0.2),
        _clock("b", 0.9),
        _clock("c", None),
        _clock("d", 0.5),
        _clock("e", 1.0, breached=True),
    ]
    gauges.update("acme", "desk", clocks)
    labels = {"client": "acme", "contract": "desk", "service": "tickets", "kpi": "resolution-time"}
    value = registry.get_sample_value
    assert value("pulse_item_breach_probability", {**labels, "item": "b"}) == 0.9
    assert value("pulse_item_breach_probability", {**labels, "item": "d"}) == 0.5
    for item in "ace":
        assert value("pulse_item_breach_probability", {**labels, "item": item}) is None
    gauges.update("acme", "desk", [_clock("a", 0.3)])
    assert value("pulse_item_breach_probability", {**labels, "item": "b"}) is None
    assert value("pulse_item_breach_probability", {**labels, "item": "a"}) == 0.3
