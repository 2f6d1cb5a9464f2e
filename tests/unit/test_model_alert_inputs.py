"""The alert rules fed the forecasting model's outputs (``processors/alerting/model_inputs.py``):
a period forecast that says miss fires ``PulseKpiForecastToMiss`` from the model, a drift
signal fires ``PulseIndicatorDrift``, a breach probability fires ``PulseItemAboutToBreach``;
the backtest's model history gives the item and forecast rules the model's numbers."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from outcome_pulse.processors.alerting.episodes import AlertEpisode
from outcome_pulse.processors.alerting.evaluate import evaluate_alerts
from outcome_pulse.processors.alerting.model_inputs import model_alert_inputs
from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.evaluation import ContractEvaluation
from outcome_pulse.processors.forecast.drift import DriftSignal
from outcome_pulse.processors.forecast.open_clocks import BreachPrediction
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_events, item_events
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from tests.datasets import dataset

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
KPI = "resolution-time"
SERVICE = "ticket-desk"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(CONTRACTS / "helpdesk_tickets.yaml")


@pytest.fixture(scope="module")
def events() -> list[tuple[ItemEvent, int]]:
    """The help desk log's first months (about 4,000 events)."""
    return item_events(map_file(dataset("helpdesk"), load_mapping("helpdesk"), limit=4000).events)


@pytest.fixture(scope="module")
def evaluation(contract: Contract, events: list[tuple[ItemEvent, int]]) -> ContractEvaluation:
    engine = ContractEvaluation(contract)
    engine.rebuild(events)
    return engine


def _forecast(contract: Contract, at: datetime, p_meet: float) -> PeriodForecast:
    """The running month at ``at`` forecast with p(meet target) ``p_meet``."""
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return PeriodForecast(
        contract.contract,
        KPI,
        SERVICE,
        start.strftime("%Y-%m"),
        start,
        end,
        at,
        40,
        31,
        31 / 40,
        0.78,
        p_meet,
        0.9,
        -2,
        3,
        Decimal("1200.00"),
        "EUR",
    )


def _named(alerts: list[AlertEpisode], name: str) -> list[AlertEpisode]:
    return [a for a in alerts if a.alertname == name]


def test_a_forecast_that_says_miss_fires_forecast_miss_from_the_model(
    contract: Contract, evaluation: ContractEvaluation
) -> None:
    assert evaluation.max_time is not None
    day = timedelta(days=1)
    first = evaluation.max_time - 6 * day
    forecasts = [
        _forecast(contract, first, 0.9),
        _forecast(contract, first + day, 0.31),  # says miss: fires here
        _forecast(contract, first + 2 * day, 0.2),
        _forecast(contract, first + 3 * day, 0.6),  # resolves here
    ]
    inputs = model_alert_inputs(evaluation, None, drift=[], forecasts=forecasts)
    assert inputs is not None
    (episode,) = _named(evaluate_alerts(contract, inputs), "PulseKpiForecastToMiss")
    assert episode.fired_at == first + day
    assert episode.resolved_at == first + 3 * day
    assert episode.value == 0.31
    assert "forecast 78.0% (p(meet) = 0.31)" in episode.annotations["summary"]
    assert "-2 more misses allowed" in episode.annotations["summary"]
    assert episode.labels["period"] == first.strftime("%Y-%m")
    # A forecast that says meet fires nothing, though the naive forecast may: the model decides.
    calm = [replace(f, p_meet_target=0.9) for f in forecasts]
    inputs = model_alert_inputs(evaluation, None, drift=[], forecasts=calm)
    assert inputs is not None
    assert _named(evaluate_alerts(contract, inputs), "PulseKpiForecastToMiss") == []


def test_a_drift_signal_fires_indicator_drift(
    contract: Contract, evaluation: ContractEvaluation
) -> None:
    assert evaluation.max_time is not None
    at = evaluation.max_time - timedelta(days=3)
    signal = DriftSignal(
        contract.contract,
        SERVICE,
        "backlog_age_p90_seconds",
        at,
        at - timedelta(days=2),
        "up",
        0.52,
        100_000.0,
        152_000.0,
    )
    small = replace(signal, indicator="arrivals", size=0.1)  # below the rule's 20%
    inputs = model_alert_inputs(evaluation, None, drift=[signal, small])
    assert inputs is not None
    (episode,) = _named(evaluate_alerts(contract, inputs), "PulseIndicatorDrift")
    assert episode.fired_at == at
    assert episode.resolved_at == at + timedelta(hours=24)  # the default hold, passed by now
    assert episode.labels["indicator"] == "backlog_age_p90_seconds"
    assert episode.severity == "ticket"
    assert (
        "+52% against its seasonal baseline (152000 against 100000)"
        in (episode.annotations["summary"])
    )
    # Without drift signals the rule is silent.
    inputs = model_alert_inputs(evaluation, None, drift=[])
    assert inputs is not None
    assert _named(evaluate_alerts(contract, inputs), "PulseIndicatorDrift") == []


def test_a_breach_probability_fires_item_breach_from_the_model(
    contract: Contract, evaluation: ContractEvaluation
) -> None:
    assert evaluation.max_time is not None
    step = contract.monitoring.step
    at = evaluation.max_time - 10 * step
    rows = [
        BreachPrediction(contract.contract, SERVICE, KPI, "T-1", at + i * step, "P2", s, p)
        for i, (s, p) in enumerate([(0.2, 0.4), (0.3, 0.85), (0.4, 0.9), (0.5, 0.5)])
    ]
    inputs = model_alert_inputs(evaluation, None, drift=[], predictions=rows)
    assert inputs is not None
    (episode,) = _named(evaluate_alerts(contract, inputs), "PulseItemAboutToBreach")
    assert episode.item_id == "T-1"
    assert (episode.fired_at, episode.resolved_at) == (at + step, at + 3 * step)
    assert "p = 0.85" in episode.annotations["summary"]


def test_the_backtest_feeds_the_model_history_to_the_rules(
    contract: Contract, events: list[tuple[ItemEvent, int]]
) -> None:
    """With ``model_history`` the forecast and item rules read the model's numbers (their
    summaries say p(meet) and p), over the whole history; without, the engine's."""
    with pytest.raises(ValueError, match="no compaction"):
        backtest_events(contract, events, alerts=True, model_history=True)
    model = backtest_events(contract, events, alerts=True, compact_every=None, model_history=True)
    engine = backtest_events(contract, events, alerts=True, compact_every=None)
    forecast = _named(list(model.alerts), "PulseKpiForecastToMiss")
    items = _named(list(model.alerts), "PulseItemAboutToBreach")
    assert forecast and items
    assert all("p(meet) = " in a.annotations["summary"] for a in forecast)
    with_p = [a for a in items if "will breach its target: p = " in a.annotations["summary"]]
    assert with_p, "the breach model answers once it learned enough"
    assert all(a.value is not None and a.value >= 0.8 for a in with_p)
    assert not any("p(meet)" in a.annotations["summary"] for a in engine.alerts)
    # The burn-rate and budget rules read the engine's counts either way.
    for name in ("PulseErrorBudgetBurn", "PulseErrorBudgetExhausted", "PulseIndicatorDrift"):
        assert _named(list(model.alerts), name) == _named(list(engine.alerts), name)
