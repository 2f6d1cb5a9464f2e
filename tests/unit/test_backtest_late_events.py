"""The backtest records late events as the streaming monitor does: with the final rows each one
corrected (``changed``), the same whether the rounds before it were stepped or only observed, and
the same as the streaming driver (``ContractMonitor``) writes on generated histories."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.engine import ContractEngine
from outcome_pulse.processors.lifecycle import ItemEvent, Lifecycle
from outcome_pulse.processors.reference_evaluation import ContractEvaluation as Reference
from outcome_pulse.streams.drivers.backtest import backtest_events
from outcome_pulse.streams.drivers.monitor import ContractMonitor
from tests.support.memory_monitor_store import MemoryMonitorStore
from tests.unit.test_engine_oracle import build, raw_events
from tests.unit.test_engine_oracle import desk_contract as oracle_contract
from tests.unit.test_evaluation import desk_contract, event, three_items


def test_backtest_late_events_name_the_rows_they_corrected() -> None:
    contract = desk_contract()
    on_time = three_items()
    late = [event("d", Lifecycle.CREATED, 4, 1, priority="P1")]
    result = backtest_events(contract, [*on_time, *late], batch=len(on_time))
    (recorded,) = result.late
    assert recorded.changed, "the late event revises final open_backlog points"
    assert any("open_backlog" in row for row in recorded.changed)
    # What the monitor writes when the same events come in the same rounds:
    for driver in (ContractEngine(contract), Reference(contract)):
        driver.step(on_time)
        (streamed,) = driver.step(late).late
        assert (streamed.event_id, streamed.watermark, streamed.changed) == (
            recorded.event_id,
            recorded.watermark,
            recorded.changed,
        )


def test_on_time_rounds_between_do_not_change_what_a_late_event_names() -> None:
    contract = desk_contract()
    on_time = three_items()
    late = [event("d", Lifecycle.CREATED, 4, 1, priority="P1")]
    in_one = backtest_events(contract, [*on_time, *late], batch=len(on_time))
    one_by_one = backtest_events(
        contract, [*sorted(on_time, key=lambda e: e[0].time), *late], batch=1
    )
    assert in_one.late == one_by_one.late
    assert in_one.evaluation == one_by_one.evaluation


def _monitor_rounds(contract: Contract, rounds: list[list[tuple[ItemEvent, int]]]) -> Any:
    """The streaming driver itself (``ContractMonitor``, compacting after every round and
    reading compacted items' events back) over a store in memory, one tick per round."""
    store = MemoryMonitorStore()
    monitor = ContractMonitor([contract], store.as_store())
    for events in rounds:
        store.add(events)
        asyncio.run(monitor.tick())
    assert not store.inbox_keys
    return store


@settings(max_examples=40, deadline=None)
@given(
    raw=raw_events,
    late=raw_events,
    seed=st.integers(0, 10_000),
    size=st.integers(1, 8),
)
def test_generated_history_late_events_equal_the_streaming_drivers(
    raw: list[Any], late: list[Any], seed: int, size: int
) -> None:
    """Events in time order with events days behind the watermark mixed into later rounds: the
    backtest's late events (ids, watermarks, ``changed`` lists) are the streaming driver's, and
    so are the final rows and the alert episodes."""
    contract = oracle_contract()
    rng = random.Random(seed)
    on_time = sorted(build(raw), key=lambda e: e[0].time)
    behind = [
        (replace(e, event_id=f"late-{e.event_id}", time=e.time - timedelta(days=2)), seq)
        for e, seq in build(late)
    ]
    sent = list(on_time)
    for item in behind:  # each late event somewhere after the first round
        sent.insert(rng.randint(min(size, len(sent)), len(sent)), item)
    rounds = [sent[i : i + size] for i in range(0, len(sent), size)]
    expected = backtest_events(contract, sent, batch=size, alerts=True)
    store = _monitor_rounds(contract, rounds)
    want = sorted((e.event_id, e.event_time, e.watermark, e.changed) for e in expected.late)
    got = sorted((e.event_id, e.event_time, e.watermark, e.changed) for e in store.late.values())
    assert got == want
    assert store.points == expected.evaluation.points
    assert store.outcomes == expected.evaluation.outcomes
    # and the alert episodes (item alerts of compacted items included) are the backtest's
    assert store.alerts == {a.key: a for a in expected.alerts}
