"""One computation, two drivers: the streaming pipeline (Kafka -> worker -> PostgreSQL -> contract
monitor) stores exactly the period outcomes and indicator series that ``pulse backtest`` computes
from the file, on each of the three real logs, with the input shuffled within the contract's
allowed lateness and 5% of the events sent twice; and with two workers, the monitoring one
SIGKILLed mid-way."""

from __future__ import annotations

import asyncio
import random
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from outcome_pulse.processors.evaluation import ContractEvaluation
from outcome_pulse.sinks.queries import indicator_points, open_item_clocks, period_outcomes
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_events, item_events
from outcome_pulse.streams.drivers.replay import produce
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import EventEnvelope
from tests.datasets import dataset
from tests.e2e.helpdesk import kill_hard
from tests.support.sandbox import free_port, isolated_pipeline

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
CASES = {
    "bpic2013": "bpic2013_incidents.yaml",
    "helpdesk": "helpdesk_tickets.yaml",
    "scms": "scms_orders.yaml",
}


def perturbed(
    events: list[EventEnvelope], lateness_seconds: float, seed: int
) -> list[EventEnvelope]:
    """Each event delayed by a random amount up to the allowed lateness, 5% sent twice."""
    rng = random.Random(seed)
    doubled = events + rng.sample(events, k=len(events) // 20)
    keyed = [
        (e.time.timestamp() + rng.uniform(0, lateness_seconds), n, e) for n, e in enumerate(doubled)
    ]
    keyed.sort(key=lambda row: (row[0], row[1]))
    return [row[2] for row in keyed]


def _counts(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        events = conn.execute("SELECT count(*) FROM pulse_events").fetchone()
        inbox = conn.execute("SELECT count(*) FROM pulse_monitor_inbox").fetchone()
    assert events is not None and inbox is not None
    return int(events[0]), int(inbox[0])


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
    expected = backtest_events(contract, item_events(mapped.events))
    assert any(o.credit > 0 for o in expected.outcomes()), "example contracts miss some periods"
    sent = perturbed(mapped.events, contract.monitoring.lateness.total_seconds(), seed=2026)

    with isolated_pipeline(settings) as pipeline:
        pipeline.start_worker(contracts=str(contract_path), monitor_interval=1.0)
        started = time.monotonic()
        asyncio.run(produce(pipeline.settings, sent, []))
        dsn = pipeline.settings.dsn
        pipeline.wait_for(lambda: _counts(dsn)[0] == len(mapped.events), timeout=600)
        stored = time.monotonic()
        pipeline.wait_for(
            lambda: _counts(dsn) == (len(mapped.events), 0),
            timeout=600,
            what=f"all {len(mapped.events):,} events stored and applied by the contract monitor",
        )
        print(
            f"{name}: {len(sent):,} events sent; all stored after {stored - started:.1f} s, "
            f"all applied by the contract monitor after {time.monotonic() - started:.1f} s"
        )
        outcomes = {row.key: row for row in period_outcomes(dsn, contract.contract)}
        points = {row.key: row for row in indicator_points(dsn, contract.contract)}

        assert len(outcomes) == len(expected.evaluation.outcomes)
        assert outcomes == expected.evaluation.outcomes
        assert len(points) == len(expected.evaluation.points)
        assert points == expected.evaluation.points
        clocks = {row.key: row for row in open_item_clocks(dsn, contract.contract)}
        assert clocks == expected.evaluation.open_clocks

        # The newest point of each series is exported as a gauge labelled client/service/kpi.
        evaluation = ContractEvaluation(contract)
        evaluation.rebuild(item_events(mapped.events))
        newest = {
            (p.service, p.indicator): p.value
            for p in evaluation.latest_points()
            if p.kpi == "" and p.indicator == "open_backlog"
        }
        ((service, _), value), *_ = newest.items()
        labels = {"client": contract.contract, "service": service, "kpi": ""}
        assert _gauge(pipeline.settings.metrics_port, "pulse_kpi_open_backlog", labels) == value


def _lease_owner(dsn: str) -> str | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT owner FROM pulse_monitor_lease").fetchone()
    return None if row is None else row[0]


@pytest.mark.timeout(900)
def test_the_monitoring_worker_killed_mid_replay_hands_over_and_stays_exact(
    settings: PulseSettings,
) -> None:
    """Two workers; the one holding the monitor's lease is SIGKILLed halfway through. The other
    takes the lease over, rebuilds from the stored events, and the tables are exact."""
    contract_path = CONTRACTS / CASES["helpdesk"]
    contract = load_contract(contract_path)
    mapped = map_file(dataset("helpdesk"), load_mapping("helpdesk"))
    expected = backtest_events(contract, item_events(mapped.events))
    total = len(mapped.events)
    with isolated_pipeline(settings) as pipeline:
        overrides = {"contracts": str(contract_path), "monitor_interval": 1.0}
        workers = [
            pipeline.start_worker("a", **overrides),
            pipeline.start_worker("b", metrics_port=free_port(), **overrides),
        ]
        asyncio.run(produce(pipeline.settings, mapped.events, []))
        dsn = pipeline.settings.dsn
        pipeline.wait_for(
            lambda: _counts(dsn)[0] >= total // 2 and _lease_owner(dsn),
            what="half the events stored and a monitor holding the lease",
        )
        owner_before = _lease_owner(dsn)
        assert owner_before is not None
        (monitoring,) = [w for w in workers if owner_before.startswith(f"monitor-pid{w.pid}-")]
        kill_hard(monitoring)
        print(f"SIGKILL the monitoring worker (pid {monitoring.pid}) at {_counts(dsn)[0]:,} events")
        pipeline.wait_for(
            lambda: _counts(dsn) == (total, 0),
            timeout=600,
            what=f"all {total:,} events stored and applied by the contract monitor",
        )
        owner_after = _lease_owner(dsn)
        print(f"monitor lease: {owner_before} before the kill, {owner_after} after")
        assert owner_after is not None and owner_after != owner_before
        assert {r.key: r for r in period_outcomes(dsn, contract.contract)} == (
            expected.evaluation.outcomes
        )
        assert {r.key: r for r in indicator_points(dsn, contract.contract)} == (
            expected.evaluation.points
        )
        assert {r.key: r for r in open_item_clocks(dsn, contract.contract)} == (
            expected.evaluation.open_clocks
        )
