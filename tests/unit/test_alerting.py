"""Alert rules in event time: rule definitions and overrides, each rule on hand-made inputs,
episodes split at period ends, alert quality, and the same alerts whichever way the events came."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from outcome_pulse.processors.alerting.budget import exhausted_samples, naive_forecast_samples
from outcome_pulse.processors.alerting.burn_rate import burn_samples
from outcome_pulse.processors.alerting.drift import drift_episodes
from outcome_pulse.processors.alerting.episodes import AlertEpisode, Sample, fingerprint, runs
from outcome_pulse.processors.alerting.evaluate import evaluate_alerts
from outcome_pulse.processors.alerting.inputs import (
    AlertInputs,
    BreachPrediction,
    DriftSignal,
    KpiCounts,
)
from outcome_pulse.processors.alerting.item_breach import from_predictions
from outcome_pulse.processors.alerting.model_inputs import model_alert_inputs
from outcome_pulse.processors.alerting.quality import alert_quality
from outcome_pulse.processors.alerting.rules import BurnRateRule, BurnWindow, RuleSet
from outcome_pulse.processors.contract import parse_contract
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.evaluation import ContractEvaluation
from outcome_pulse.processors.measurements import PeriodOutcome
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_events, item_events
from outcome_pulse.streams.drivers.forecast_rows import ForecastRows
from tests.datasets import dataset
from tests.unit.test_contract import minimal

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
T0 = datetime(2024, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def counts(
    good: list[int],
    bad: list[int],
    *,
    period_hours: int = 10_000,
    forecast: tuple[int, ...] | None = None,
) -> KpiCounts:
    grid = tuple(T0 + HOUR * (i + 1) for i in range(len(good)))
    starts = tuple(T0 + HOUR * period_hours * ((i + 1) // period_hours) for i in range(len(good)))
    ends = tuple(s + HOUR * period_hours for s in starts)
    return KpiCounts("desk", "restore", grid, tuple(good), tuple(bad), starts, ends, forecast)


# -- rules and overrides -----------------------------------------------------------------------


def with_alerts(section: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(minimal())
    data["alerts"] = section
    return data


def test_defaults_then_contract_then_kpi_overrides() -> None:
    contract = parse_contract(
        with_alerts(
            {
                "defaults": {"item_breach": {"probability": "70%"}, "burn_rate": {"min_events": 3}},
                "kpis": {"restore": {"item_breach": {"severity": "page"}}},
            }
        )
    )
    restore = contract.alerts.rules_for("restore")
    other = contract.alerts.rules_for("first-time-fix")
    assert (restore.item_breach.probability, restore.item_breach.severity) == (0.7, "page")
    assert (other.item_breach.probability, other.item_breach.severity) == (0.7, "ticket")
    assert restore.burn_rate.min_events == 3 and len(restore.burn_rate.windows) == 4
    assert RuleSet().budget_exhausted.severity == "page"
    assert parse_contract(minimal()).alerts.rules_for("restore") == RuleSet()


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"kpis": {"nope": {}}}, "alerts.kpis.nope: unknown KPI 'nope'; expected one of: restore"),
        (
            {
                "defaults": {
                    "burn_rate": {
                        "windows": [{"long": "1h", "short": "2h", "factor": 2, "severity": "page"}]
                    }
                }
            },
            "alerts.defaults.burn_rate.windows[0]",
        ),
        (
            {"defaults": {"item_breach": {"severity": "sms"}}},
            "alerts.defaults.item_breach.severity",
        ),
        (
            {"defaults": {"item_breach": {"probability": "120%"}}},
            "alerts.defaults.item_breach.probability",
        ),
        ({"defaults": {"indicator_drift": {"hold": 5}}}, "alerts.defaults.indicator_drift.hold"),
        ({"defaults": {"burn_rat": {}}}, "alerts.defaults.burn_rat"),
    ],
)
def test_bad_alert_sections_name_the_field(section: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_contract(with_alerts(section), origin="acme.yaml")
    assert expected in str(caught.value)


# -- the rules -----------------------------------------------------------------------------------


def test_burn_rate_below_the_factor_in_the_long_window_does_not_fire() -> None:
    # 90% target: a 10% budget. Three mostly bad hours among good ones: the 6 h window holds at
    # most 24 bad of 60 (burn 4), under the factor 6, although the 1 h window burns at 8.
    good = [10] * 20 + [2, 2, 2] + [10] * 10
    bad = [0] * 20 + [8, 8, 8] + [0] * 10
    rule = BurnRateRule(windows=(BurnWindow(long="6h", short="1h", factor=6, severity="page"),))
    ((severity, samples),) = list(burn_samples(counts(good, bad), 0.9, timedelta(days=30), rule))
    assert severity == "page"
    assert list(runs(samples)) == []


def test_burn_rate_exact_instants() -> None:
    good = [10] * 10 + [0, 0, 0, 0] + [10] * 10
    bad = [0] * 10 + [10, 10, 10, 10] + [0] * 10
    rule = BurnRateRule(windows=(BurnWindow(long="4h", short="1h", factor=6, severity="page"),))
    ((_, samples),) = list(burn_samples(counts(good, bad), 0.9, timedelta(days=30), rule))
    (run,) = list(runs(samples))
    # 4 h window at hour 13 (index 12): 30 bad of 40 = 0.75 / 0.1 = 7.5 > 6; at hour 12: 20/40 = 5.
    assert run.first.at == T0 + 13 * HOUR
    assert run.first.value == pytest.approx(7.5)
    # short window is clean from hour 15 on (index 14 is good)
    assert run.resolved_at == T0 + 15 * HOUR


def test_burn_rate_needs_a_budget_and_min_events() -> None:
    rule = BurnRateRule(min_events=50)
    assert all(
        not s.firing
        for _, samples in burn_samples(counts([0] * 5, [5] * 5), 0.9, timedelta(days=30), rule)
        for s in samples
    )
    assert list(burn_samples(counts([1], [1]), 1.0, timedelta(days=30), BurnRateRule())) == []


def test_budget_exhausted_counts_the_period_and_resolves_at_its_end() -> None:
    # Periods of 5 hours (instants 1-4 h, 5-9 h, 10 h); 90% target. The first period's 8 items
    # set the second's expected volume: a budget of 0.8 misses, so its first miss (8 h) is over.
    good = [2, 2, 2, 2, 2, 2, 2, 1, 1, 2]
    bad = [0, 0, 0, 0, 0, 0, 0, 1, 1, 0]
    samples = exhausted_samples(counts(good, bad, period_hours=5), 0.9, 0)
    (run,) = list(runs(samples))
    assert run.first.at == T0 + 8 * HOUR
    assert run.resolved_at == T0 + 10 * HOUR  # that period's end
    assert run.first.facts is not None and run.first.facts["allowed"] == pytest.approx(0.8)


def test_budget_not_judged_below_minimum_volume() -> None:
    samples = exhausted_samples(counts([0, 0], [1, 1]), 0.9, minimum_volume=20)
    assert not any(s.firing for s in samples)


def test_naive_forecast_counts_running_breaches() -> None:
    good, bad = [5, 5, 5], [0, 0, 0]
    samples = naive_forecast_samples(counts(good, bad, forecast=(0, 2, 0)), 0.9, 0)
    assert [s.firing for s in samples] == [False, True, False]
    (run,) = list(runs(samples))
    assert (run.first.at, run.resolved_at) == (T0 + 2 * HOUR, T0 + 3 * HOUR)


def test_runs_split_at_period_ends() -> None:
    end1, end2 = T0 + 2 * HOUR, T0 + 4 * HOUR
    samples = [
        Sample(T0, True, 1.0, end1),
        Sample(T0 + HOUR, True, 1.0, end1),
        Sample(T0 + 2 * HOUR, True, 2.0, end2),
        Sample(T0 + 3 * HOUR, False, None, end2),
    ]
    assert [(r.first.at, r.resolved_at) for r in runs(samples)] == [
        (T0, end1),
        (T0 + 2 * HOUR, T0 + 3 * HOUR),
    ]


def test_item_breach_from_predictions() -> None:
    def p(hour: int, prob: float | None, item: str = "INC-1") -> BreachPrediction:
        at = T0 + hour * HOUR
        return BreachPrediction("acme", "desk", "restore", item, at, "P2", hour / 10, prob)

    rows = [p(0, 0.2), p(1, 0.85), p(2, 0.9), p(3, 0.5), p(4, 0.95), p(8, 0.99, "INC-2")]
    # no model yet for INC-3: its elapsed share (0.6, 0.9 at hours 6 and 9) against 0.8
    rows += [p(6, None, "INC-3"), p(9, None, "INC-3")]
    episodes = list(from_predictions(rows, T0 + 9 * HOUR, 0.8, HOUR, at_risk_share=0.8))
    assert [(e.item_id, e.fired_at, e.resolved_at) for e in episodes] == [
        ("INC-1", T0 + HOUR, T0 + 3 * HOUR),
        ("INC-1", T0 + 4 * HOUR, T0 + 5 * HOUR),  # no prediction after hour 4: the clock stopped
        ("INC-2", T0 + 8 * HOUR, T0 + 9 * HOUR),  # its clock stopped after hour 8
        ("INC-3", T0 + 9 * HOUR, None),  # still firing at the evaluation instant
    ]


def test_drift_signals_merge_within_the_hold() -> None:
    def s(hour: int, size: float) -> DriftSignal:
        return DriftSignal("desk", "arrivals", T0 + hour * HOUR, T0, "up", size)

    rows = [s(0, 0.4), s(5, 0.5), s(40, 0.1), s(60, 0.3)]
    episodes = list(drift_episodes(rows, T0 + 70 * HOUR, 0.2, timedelta(hours=24)))
    assert [(e.first.detected_at, e.resolved_at) for e in episodes] == [
        (T0, T0 + 29 * HOUR),
        (T0 + 60 * HOUR, None),
    ]


def test_episodes_carry_labels_annotations_and_a_stable_fingerprint() -> None:
    contract = parse_contract(minimal())
    good = [10] * 3 + [0] * 3
    bad = [0] * 3 + [10] * 3
    inputs = AlertInputs(now=T0 + 6 * HOUR, counts=(counts(good, bad),))
    alerts = evaluate_alerts(contract, inputs)
    burn = [a for a in alerts if a.alertname == "PulseErrorBudgetBurn" and a.severity == "page"]
    assert burn, alerts
    a = burn[0]
    assert dict(a.labels) == {
        "alertname": "PulseErrorBudgetBurn",
        "client": "acme-desk",  # the client id: the contract's own without client.id
        "contract": "acme-desk",
        "service": "desk",
        "kpi": "restore",
        "severity": "page",
        "owner": "Desk lead",
    }
    assert a.fingerprint == fingerprint(dict(reversed(list(a.labels.items()))))
    assert "20.0x over 1 hour" in a.annotations["summary"]
    assert a.annotations["dashboard"].endswith("/d/outcome-pulse-acme-desk?var-kpi=restore")


# -- quality -------------------------------------------------------------------------------------


def outcome(month: int, status: str) -> PeriodOutcome:
    from decimal import Decimal

    start = datetime(2024, month, 1, tzinfo=UTC)
    end = datetime(2024, month + 1, 1, tzinfo=UTC)
    zero = Decimal(0)
    return PeriodOutcome(
        "acme-desk",
        "restore",
        "desk",
        "month",
        start,
        end,
        10,
        9,
        None,
        0.9,
        0.95,
        0.9,
        status,
        zero,
        zero,
        zero,
        zero,
        None,
        True,
    )


def alert(at: datetime, name: str = "PulseErrorBudgetBurn") -> AlertEpisode:
    labels = {"alertname": name, "severity": "page", "kpi": "restore"}
    return AlertEpisode(
        "acme-desk",
        fingerprint(labels),
        at,
        None,
        name,
        "page",
        "desk",
        "restore",
        None,
        1.0,
        labels,
        {},
    )


def test_quality_lead_times_false_alarms_precision_recall() -> None:
    contract = parse_contract(minimal())
    outcomes = [outcome(1, "below_target"), outcome(2, "met"), outcome(3, "below_minimum")]
    alerts = [
        alert(datetime(2024, 1, 21, tzinfo=UTC)),
        alert(datetime(2024, 1, 25, tzinfo=UTC)),
        alert(datetime(2024, 2, 3, tzinfo=UTC)),
    ]
    report = alert_quality(contract, outcomes, alerts)
    (burn,) = [q for q in report.rules if q.rule == "PulseErrorBudgetBurn/page"]
    assert (burn.missed, burn.missed_alerted, burn.met, burn.met_alerted) == (2, 1, 1, 1)
    assert burn.false_alarms == 1
    assert burn.precision == 0.5 and burn.recall == 0.5
    assert burn.median_lead == timedelta(days=11)  # Jan 21 to Feb 1
    january = report.periods[0]
    assert january.lead("PulseErrorBudgetBurn/page") == timedelta(days=11)
    assert january.fired["PulseErrorBudgetBurn/page"] == 2


# -- the same alerts whichever way the events came ------------------------------------------------


def test_streamed_steps_give_the_backtest_alerts() -> None:
    from outcome_pulse.streams.file_import.mapped_file import map_file
    from outcome_pulse.streams.file_import.mapping import load_mapping
    from tests.unit.test_evaluation import shuffle_within

    contract = load_contract(CONTRACTS / "helpdesk_tickets.yaml")
    events = item_events(map_file(dataset("helpdesk"), load_mapping("helpdesk")).events)
    expected = backtest_events(contract, events, alerts=True).alerts
    rules = {a.rule for a in expected}
    assert {
        "PulseErrorBudgetExhausted/page",
        "PulseItemAboutToBreach/ticket",
        "PulseIndicatorDrift/ticket",  # the drift signals of the model's detector
    } <= rules
    # Item alerts in the past too, not only for the clocks open at the latest event.
    items = [a for a in expected if a.rule == "PulseItemAboutToBreach/ticket"]
    assert sum(1 for a in items if a.resolved_at is not None) > 100
    evaluation = ContractEvaluation(contract)
    rows = ForecastRows(contract)  # the monitor's drift tracker, fed after every round
    signals: list[Any] = []
    perturbed = shuffle_within(events, contract.monitoring.lateness, seed=3)
    for start in range(0, len(perturbed), 4000):
        batch = perturbed[start : start + 4000]
        # As the monitor does: the stored events of compacted items a batch touches go back first
        missing = set(evaluation.missing_histories(batch))
        evaluation.restore([p for p in perturbed[:start] if (p[0].source, p[0].item_id) in missing])
        step = evaluation.step(batch)
        evaluation.compact()
        _, signals = rows.compute(evaluation, corrected=bool(step.late))
    assert sum(len(s.compacted) for s in evaluation._services.values()) > 1000
    inputs = model_alert_inputs(evaluation, None, drift=signals)
    assert inputs is not None
    assert evaluate_alerts(contract, inputs) == list(expected)
