"""Helpers of the backtest == streaming tests: the perturbed input, and the row comparison.

``perturbed`` delays each event by a random amount within the contract's allowed lateness and
sends 5% twice; ``assert_rows_equal_backtest`` compares what the contract monitor stored for a
contract with what ``pulse backtest`` computes from the same events, row for row.
"""

from __future__ import annotations

import random
from datetime import datetime

import psycopg

from outcome_pulse.sinks.queries import (
    alert_episodes,
    indicator_points,
    open_item_clocks,
    period_outcomes,
)
from outcome_pulse.streams.drivers.backtest import BacktestResult
from outcome_pulse.streams.wire.events import EventEnvelope


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


def first_items(events: tuple[EventEnvelope, ...], items: int) -> list[EventEnvelope]:
    """Every event of the log's first ``items`` items (by first appearance)."""
    kept: set[str] = set()
    for event in events:
        if len(kept) == items:
            break
        kept.add(event.subject)
    return [e for e in events if e.subject in kept]
