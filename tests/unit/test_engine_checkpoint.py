"""Bounded start: a monitor that starts (or claims an evaluation shard another worker held)
loads each contract's engine checkpoint and applies only the events applied since, and then holds
and writes exactly what a monitor that saw every round itself holds and writes: the same rows,
the same late events, the same corrections, the same alerts. Through the streaming driver
(``ContractMonitor``) over a store in memory; a shard's takeover from checkpoints against
PostgreSQL is in tests/integration/test_engine_checkpoints.py.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_events, item_events
from outcome_pulse.streams.drivers.engine_checkpoint import (
    Thawed,
    fingerprint,
    freeze,
    thaw,
)
from outcome_pulse.streams.drivers.monitor import ContractMonitor, TickReport
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from tests.datasets import dataset
from tests.support.memory_monitor_store import MemoryMonitorStore

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "helpdesk_tickets.yaml"
NEVER = timedelta(days=3650)
ALWAYS = timedelta(0)


def _rounds() -> list[list[tuple[ItemEvent, int]]]:
    """The help desk log's first 4,000 events in time order with 3% sent twice, in rounds of
    200, and from round 6 on a few events dated ten days back (late beyond the lateness)."""
    events = item_events(map_file(dataset("helpdesk"), load_mapping("helpdesk"), limit=4000).events)
    events.sort(key=lambda e: (e[0].time, e[1], e[0].event_id))
    rng = random.Random(7)
    rounds = [events[i : i + 200] for i in range(0, len(events), 200)]
    for number in range(6, len(rounds)):
        source = rng.choice(events[: number * 200])
        late = replace(
            source[0],
            event_id=f"{source[0].event_id}-late",
            time=source[0].time - timedelta(days=10),
        )
        again = rng.sample(events[: number * 200], 6)  # sent before
        rounds[number] = [*rounds[number], (late, source[1]), *again]
    return rounds


def _state(store: MemoryMonitorStore) -> dict[str, Any]:
    return {
        "points": store.points,
        "outcomes": store.outcomes,
        "revisions": store.revisions,
        "late": store.late,
        "clocks": store.clocks,
        "watermarks": store.watermarks,
        "inbox": store.inbox_keys,
        "alerts": store.alerts,
    }


def _run(
    contract: Contract,
    rounds: list[list[tuple[ItemEvent, int]]],
    every: timedelta,
    restart_at: int | None = None,
) -> tuple[MemoryMonitorStore, list[TickReport]]:
    """One tick per round; at ``restart_at`` a new monitor (a new process, or the worker that
    takes the lease over) takes over the same store."""
    store = MemoryMonitorStore()
    monitor = ContractMonitor([contract], store.as_store(), checkpoint_every=every)
    reports = []
    for number, events in enumerate(rounds):
        if number == restart_at:
            monitor = ContractMonitor([contract], store.as_store(), checkpoint_every=every)
        store.add(events, partition=number % 2)
        reports.append(asyncio.run(monitor.tick()))
    return store, reports


@pytest.fixture(scope="module")
def continuous_runs() -> dict[tuple[timedelta, bool], MemoryMonitorStore]:
    """The monitor that saw every round, per (checkpoint interval, empty first round): the same
    for the cases below that differ only in where the other one restarts, so it runs once for
    them (the cases only read its store)."""
    return {}


@pytest.mark.parametrize(
    ("every", "restart_at"),
    [
        (NEVER, 9),  # the rebuild's checkpoint, then late events, then the start
        (NEVER, 19),
        (ALWAYS, 12),  # a checkpoint every round
        (NEVER, -12),  # the first round has no event yet (its checkpoint: an empty engine)
    ],
)
def test_a_monitor_started_from_a_checkpoint_equals_one_that_saw_everything(
    every: timedelta,
    restart_at: int,
    continuous_runs: dict[tuple[timedelta, bool], MemoryMonitorStore],
) -> None:
    contract = load_contract(CONTRACT)
    rounds = _rounds()
    if restart_at < 0:  # a worker that starts before any event is stored
        rounds, restart_at = [[], *rounds], -restart_at
    key = (every, rounds[0] == [])
    if key not in continuous_runs:
        continuous_runs[key], _ = _run(contract, rounds, every)
    continuous = continuous_runs[key]
    assert continuous.late, "the history has late events"
    restarted, reports = _run(contract, rounds, every, restart_at)
    assert reports[restart_at].rebuilt and reports[restart_at].resumed == 1
    if every == NEVER:
        assert len(restarted.applied) > 1000, "the events since the checkpoint were re-applied"
    assert _state(restarted) == _state(continuous)


def _trimmed_start_rounds() -> list[list[tuple[ItemEvent, int]]]:
    """``_rounds`` with the first ten in one: the checkpoint of the rebuild that starts the
    monitor is then trimmed (``ContractEngine.trim`` drops items and grid heads)."""
    rounds = _rounds()
    return [[e for r in rounds[:10] for e in r], *rounds[10:]]


def test_events_applied_since_behind_a_trimmed_checkpoint_s_horizon_rebuild_it_whole() -> None:
    """The checkpoint is trimmed, and a late event applied since is behind its horizon: the
    start rebuilds the evaluation whole from the events the shard applied (reported as a
    rebuild, ``ignored_checkpoints == ("trimmed",)``), and then applies the inbox to it as to
    a resumed one: the same rows, late events, clocks and alerts."""
    contract = load_contract(CONTRACT)
    rounds = _trimmed_start_rounds()
    continuous, _ = _run(contract, rounds, NEVER)
    saved = next(iter(continuous.checkpoint_rows.values()))
    thawed = thaw(contract, (saved[1], saved[2])).evaluation
    assert thawed is not None and thawed.trimmed_before is not None, "a trimmed checkpoint"
    horizon = thawed.trimmed_before
    since = [e for r in rounds[1:5] for e, _ in r if e.event_id.endswith("-late")]
    assert any(e.time < horizon for e in since), "an event applied since is behind it"
    restarted, reports = _run(contract, rounds, NEVER, 5)
    assert reports[5].rebuilt and reports[5].resumed == 0
    assert reports[5].ignored_checkpoints == ("trimmed",)
    assert _state(restarted) == _state(continuous)


def test_an_inbox_event_behind_a_loaded_trimmed_checkpoint_s_horizon() -> None:
    """A checkpoint every round (each trimmed): the start loads the latest, and the inbox it
    applies first has a late event behind that checkpoint's horizon, so that step rebuilds the
    evaluation whole from the events the shard applied and steps the inbox on it: the late
    event is recorded with the final rows it corrected, as by the monitor that saw every
    round."""
    contract = load_contract(CONTRACT)
    rounds = _trimmed_start_rounds()
    restart = 1  # right after the start's rebuild wrote its (trimmed) checkpoint
    continuous, _ = _run(contract, rounds, ALWAYS)
    before, _ = _run(contract, rounds[:restart], ALWAYS)
    saved = next(iter(before.checkpoint_rows.values()))
    thawed = thaw(contract, (saved[1], saved[2])).evaluation
    assert thawed is not None and thawed.trimmed_before is not None
    horizon = thawed.trimmed_before
    late = [e for e, _ in rounds[restart] if e.event_id.endswith("-late")]
    assert any(e.time < horizon for e in late), "the inbox reaches behind it"
    restarted, reports = _run(contract, rounds, ALWAYS, restart)
    assert reports[restart].rebuilt and reports[restart].resumed == 1
    assert reports[restart].late_events >= 1
    assert _state(restarted) == _state(continuous)


def test_a_checkpoint_of_another_contract_or_a_broken_one_is_not_loaded() -> None:
    contract = load_contract(CONTRACT)
    rounds = _rounds()[:8]
    store, _ = _run(contract, rounds, NEVER)
    saved = next(iter(store.checkpoint_rows.values()))
    state = (saved[1], saved[2])
    assert thaw(contract, state).evaluation is not None
    dearer = replace_charge(contract)
    assert fingerprint(dearer) != fingerprint(contract)
    assert thaw(dearer, state) == Thawed(None, "fingerprint")
    assert thaw(contract, (state[0], b"not a checkpoint")) == Thawed(None, "unreadable")
    assert thaw(contract, None) == Thawed(None)
    # A monitor of the changed contract rebuilds it, and its rows are the changed contract's.
    monitor = ContractMonitor([dearer], store.as_store(), checkpoint_every=NEVER)
    report = asyncio.run(monitor.tick())
    assert report.rebuilt and report.resumed == 0
    assert report.ignored_checkpoints == ("fingerprint",)
    for partition in (0, 1):  # the backtest's watermark: every partition idle
        store.silence(partition, timedelta(hours=1))
    asyncio.run(monitor.tick())
    expected = backtest_events(dearer, [e for r in rounds for e in r])
    assert store.outcomes == expected.evaluation.outcomes


def test_a_checkpoint_round_trips_the_engine() -> None:
    contract = load_contract(CONTRACT)
    store, _ = _run(contract, _rounds()[:5], NEVER)
    monitor = ContractMonitor([contract], store.as_store(), checkpoint_every=NEVER)
    asyncio.run(monitor.tick())
    (evaluation,) = monitor._evaluations.values()  # type: ignore[union-attr]
    again = thaw(contract, (fingerprint(contract), freeze(evaluation))).evaluation
    assert again is not None and again.last == evaluation.last


def replace_charge(contract: Contract) -> Contract:
    commercial = contract.commercial.model_copy(update={"monthly_charge": Decimal(50_000)})
    return contract.model_copy(update={"commercial": commercial})
