"""One computation, two drivers: the streaming pipeline (Kafka -> worker -> PostgreSQL -> contract
monitor) stores exactly the period outcomes, indicator series and alert episodes that
``pulse backtest`` computes from the file (and the breach probabilities, period forecasts and
drift signals), on each of the three real logs, with the input shuffled within the contract's
allowed lateness and 5% of the events sent twice. (Two workers sharing three contracts, one
SIGKILLed mid-way: tests/integration/test_shared_contracts.py.)"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from outcome_pulse.processors.evaluation import ContractEvaluation
from outcome_pulse.processors.forecast.period_outlook import period_forecasts
from outcome_pulse.processors.forecast.signals import clock_risks
from outcome_pulse.sinks.queries import (
    alert_episodes,
    indicator_points,
    open_item_clocks,
    period_outcomes,
)
from outcome_pulse.sinks.queries import drift_signals as stored_drift
from outcome_pulse.sinks.queries import period_forecasts as stored_forecasts
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_events, item_events
from outcome_pulse.streams.drivers.forecast_files import drift_of
from outcome_pulse.streams.drivers.replay import produce
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.settings import PulseSettings
from tests.datasets import dataset
from tests.support.exactness import perturbed
from tests.support.sandbox import isolated_pipeline

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
CASES = {
    "bpic2013": "bpic2013_incidents.yaml",
    "helpdesk": "helpdesk_tickets.yaml",
    "scms": "scms_orders.yaml",
}


def _counts(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        events = conn.execute("SELECT count(*) FROM pulse_events").fetchone()
        inbox = conn.execute("SELECT count(*) FROM pulse_monitor_inbox").fetchone()
    assert events is not None and inbox is not None
    return int(events[0]), int(inbox[0])


def _watermark(dsn: str, contract: str) -> datetime | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT watermark FROM pulse_contract_watermarks WHERE contract = %s", [contract]
        ).fetchone()
    return None if row is None else row[0]


def _late_events(dsn: str) -> list[tuple[str, datetime, datetime, list[str]]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT event_id, event_time, watermark, changed FROM pulse_late_events "
            "ORDER BY event_id"
        ).fetchall()
    return [(i, t, w, list(c)) for i, t, w, c in rows]


def _gauge(port: int, name: str, labels: dict[str, str]) -> float | None:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", sorted(CASES))
def test_streaming_stores_exactly_what_the_backtest_computes(
    settings: PulseSettings, name: str
) -> None:
    contract_path = CONTRACTS / CASES[name]
    contract = load_contract(contract_path)
    mapped = map_file(dataset(name), load_mapping(name))
    sent = perturbed(mapped.events, contract.monitoring.lateness.total_seconds(), seed=2026)

    # The backtest's watermark: the latest event time minus the lateness. The monitor's is the
    # slowest partition's; once all partitions are idle (caught up and 10 s without records; 3 s
    # let a producer stalled on a loaded machine make a partition idle early, and its later
    # events late) it is the same.
    final_watermark = max(e.time for e in mapped.events) - contract.monitoring.lateness
    with isolated_pipeline(settings) as pipeline:
        pipeline.start_worker(
            contracts=str(contract_path), monitor_interval=1.0, idle_partition_seconds=10.0
        )
        started = time.monotonic()
        asyncio.run(produce(pipeline.settings, sent, []))
        # The reference, from the file alone, computed while the worker processes the events
        # (the two computations overlap instead of following each other).
        expected = backtest_events(contract, item_events(mapped.events), alerts=True)
        assert any(o.credit > 0 for o in expected.outcomes()), "example contracts miss some periods"
        assert expected.alerts, "example contracts raise alerts on their missed periods"
        # The whole history, never compacted (the backtest compacts every 50,000 events): the
        # reference period forecasts read every item's history.
        evaluation = ContractEvaluation(contract)
        evaluation.rebuild(item_events(mapped.events))
        dsn = pipeline.settings.dsn
        pipeline.wait_for(lambda: _counts(dsn)[0] == len(mapped.events), timeout=600)
        stored = time.monotonic()
        pipeline.wait_for(
            lambda: _counts(dsn) == (len(mapped.events), 0),
            timeout=600,
            what=f"all {len(mapped.events):,} events stored and applied by the contract monitor",
        )
        pipeline.wait_for(
            lambda: _watermark(dsn, contract.contract) == final_watermark,
            timeout=120,
            what="the monitor's watermark at the backtest's (every partition idle)",
        )
        print(
            f"{name}: {len(sent):,} events sent; all stored by {stored - started:.1f} s, "
            f"all applied by the contract monitor by {time.monotonic() - started:.1f} s "
            "(seen once the reference was computed)"
        )
        outcomes = {row.key: row for row in period_outcomes(dsn, contract.contract)}
        points = {row.key: row for row in indicator_points(dsn, contract.contract)}

        assert len(outcomes) == len(expected.evaluation.outcomes)
        assert outcomes == expected.evaluation.outcomes
        assert len(points) == len(expected.evaluation.points)
        assert points == expected.evaluation.points
        clocks = {row.key: row for row in open_item_clocks(dsn, contract.contract)}
        assert clocks == expected.evaluation.open_clocks  # breach probabilities included
        known = [
            c for c in expected.evaluation.open_clocks.values() if c.breach_probability is not None
        ]
        if expected.evaluation.open_clocks:
            assert known, "the breach model answers for the backtest's open clocks"
        # The forecasting rows: what `pulse backtest --forecasts/--drift` gives at the end.
        assert expected.engine is not None
        last = expected.engine.max_time
        assert last is not None
        reference = period_forecasts(contract, evaluation.service_items(), [last])
        assert reference, "the example contracts forecast their running periods"
        assert expected.engine.period_forecasts() == reference  # the backtest, compacted
        assert stored_forecasts(dsn, contract.contract) == reference
        assert stored_drift(dsn, contract.contract) == drift_of(expected)
        # The top-risk gauge: the riskiest open clock with a probability, as in the backtest
        # (none for a contract without time-to-target KPIs, such as SCMS's: no open clocks).
        port = pipeline.settings.metrics_port
        risk = "pulse_item_breach_probability"
        top_risks = clock_risks(known, 1)
        if top_risks:
            top = top_risks[0]
            risk_labels = {"contract": contract.contract, "item": top.item_id, "kpi": top.kpi}
            assert _gauge(port, risk, risk_labels) == top.probability
        else:
            assert _gauge(port, risk, {"contract": contract.contract}) is None
        # Delayed within the lateness on their partitions, no event is late (the watermark is
        # the slowest partition's), as in the backtest of the file in time order.
        assert _late_events(dsn) == [
            (e.event_id, e.event_time, e.watermark, list(e.changed)) for e in expected.late
        ]
        alerts = {row.key: row for row in alert_episodes(dsn, contract.contract)}
        assert alerts == {a.key: a for a in expected.alerts}

        # The newest point of each series is exported as a gauge labelled client/service/kpi.
        newest = {
            (p.service, p.indicator): p.value
            for p in evaluation.latest_points()
            if p.kpi == "" and p.indicator == "open_backlog"
        }
        ((service, _), value), *_ = newest.items()
        labels = {"client": contract.contract, "service": service, "kpi": ""}
        assert _gauge(pipeline.settings.metrics_port, "pulse_kpi_open_backlog", labels) == value
