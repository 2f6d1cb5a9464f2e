"""Helpers of the backtest == streaming tests: the perturbed input, and the row comparison.

``perturbed`` delays each event by a random amount within the contract's allowed lateness and
sends 5% twice; ``assert_rows_equal_backtest`` compares what the contract monitor stored for a
contract with what ``pulse backtest`` computes from the same events, row for row.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from outcome_pulse.processors.contract import Contract
from outcome_pulse.sinks.queries import (
    alert_episodes,
    indicator_points,
    open_item_clocks,
    period_outcomes,
)
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import BacktestResult, backtest_events, item_events
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.wire.events import EventEnvelope
from tests.datasets import dataset


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


def stored_and_waiting(dsn: str) -> tuple[int, int]:
    """(events stored, inbox rows not yet applied by the contract monitor, over all shards)."""
    with psycopg.connect(dsn) as conn:
        events = conn.execute("SELECT count(*) FROM pulse_events").fetchone()
        inbox = conn.execute("SELECT count(*) FROM pulse_monitor_inbox").fetchone()
    assert events is not None and inbox is not None
    return int(events[0]), int(inbox[0])


def contract_watermark(dsn: str, contract: str) -> datetime | None:
    """The watermark the contract's stored rows are computed at (pulse_contract_watermarks)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT watermark FROM pulse_contract_watermarks WHERE contract = %s", [contract]
        ).fetchone()
    return None if row is None else row[0]


def assert_rows_equal_backtest(dsn: str, contract: str, expected: BacktestResult) -> None:
    """The contract's stored outcomes, indicator points and open clocks are the backtest's, and
    so are its alert episodes when the backtest evaluated them (``alerts=True``)."""
    outcomes = {row.key: row for row in period_outcomes(dsn, contract)}
    assert len(outcomes) == len(expected.evaluation.outcomes), contract
    assert outcomes == expected.evaluation.outcomes, contract
    points = {row.key: row for row in indicator_points(dsn, contract)}
    assert len(points) == len(expected.evaluation.points), contract
    assert points == expected.evaluation.points, contract
    clocks = {row.key: row for row in open_item_clocks(dsn, contract)}
    assert clocks == expected.evaluation.open_clocks, contract
    if expected.alerts:
        alerts = {row.key: row for row in alert_episodes(dsn, contract)}
        assert alerts == {a.key: a for a in expected.alerts}, contract


def first_items(events: Sequence[EventEnvelope], items: int) -> list[EventEnvelope]:
    """Every event of the log's first ``items`` items (by first appearance)."""
    kept: set[str] = set()
    for event in events:
        if len(kept) == items:
            break
        kept.add(event.subject)
    return [e for e in events if e.subject in kept]


THREE_LOGS = {
    "bpic2013": "bpic2013_incidents.yaml",
    "helpdesk": "helpdesk_tickets.yaml",
    "scms": "scms_orders.yaml",
}
CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"


@dataclass(frozen=True)
class InterleavedLogs:
    """The first items of the three real logs, as the shared-contract tests send them."""

    contracts: dict[str, Contract]
    expected: dict[str, BacktestResult]
    """By contract id: ``pulse backtest`` of the same events, alerts included."""
    sent: list[EventEnvelope]
    """Each log shuffled within its contract's lateness, 5% sent twice, the three interleaved."""
    final_watermark: dict[str, datetime]
    """By contract id: its watermark once every partition is idle after the last event."""
    unique: int
    """Distinct events, the number stored in the end."""

    @property
    def contract_paths(self) -> str:
        """``PULSE_CONTRACTS`` for the three contracts."""
        return ",".join(str(CONTRACTS_DIR / file) for file in THREE_LOGS.values())


def interleaved_logs(items_per_log: int, seed: int) -> InterleavedLogs:
    contracts: dict[str, Contract] = {}
    expected: dict[str, BacktestResult] = {}
    streams: list[list[EventEnvelope]] = []
    final_watermark: dict[str, datetime] = {}
    unique = 0
    for name, file in THREE_LOGS.items():
        contract = load_contract(CONTRACTS_DIR / file)
        events = first_items(map_file(dataset(name), load_mapping(name)).events, items_per_log)
        contracts[contract.contract] = contract
        expected[contract.contract] = backtest_events(contract, item_events(events), alerts=True)
        lateness = contract.monitoring.lateness.total_seconds()
        streams.append(perturbed(events, lateness, seed=seed))
        final_watermark[contract.contract] = (
            max(e.time for e in events) - contract.monitoring.lateness
        )
        unique += len(events)
    sent = [e for group in itertools.zip_longest(*streams) for e in group if e is not None]
    return InterleavedLogs(contracts, expected, sent, final_watermark, unique)
