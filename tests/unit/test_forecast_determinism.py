"""The breach probabilities are a function of the set of events: the help desk log in one
batch, in many small batches with the engine compacting what it is done with, and shuffled
within the allowed lateness with duplicates and a late correction, gives the same
probabilities, exactly."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.engine import ContractEngine
from outcome_pulse.processors.lifecycle import ItemEvent, Lifecycle
from outcome_pulse.streams.contract_files import load_contract
from tests.datasets import log_item_events

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
Events = list[tuple[ItemEvent, int]]


@pytest.fixture(scope="module")
def helpdesk() -> tuple[Contract, Events]:
    contract = load_contract(CONTRACTS / "helpdesk_tickets.yaml")
    events = sorted(
        log_item_events("helpdesk"),
        key=lambda e: e[0].time,
    )
    cut = events[len(events) * 2 // 5][0].time  # mid-history: many tickets open
    return contract, [e for e in events if e[0].time <= cut]


def probabilities(contract: Contract, batches: list[Events]) -> dict[object, float | None]:
    return {
        key: c.breach_probability for key, c in stepped(contract, batches).last.open_clocks.items()
    }


def stepped(contract: Contract, batches: list[Events]) -> ContractEngine:
    """Step the batches as the monitor does: compact after each, restore before."""
    engine = ContractEngine(contract)
    seen: Events = []
    for batch in batches:
        missing = set(engine.missing_histories(batch))
        engine.restore(e for e in seen if (e[0].source, e[0].item_id) in missing)
        engine.step(batch)
        seen.extend(batch)
        engine.compact()
    return engine


def chunks(events: Events, size: int) -> list[Events]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def test_same_probabilities_in_one_batch_many_batches_and_shuffled(
    helpdesk: tuple[Contract, Events],
) -> None:
    contract, events = helpdesk
    lateness = contract.monitoring.lateness.total_seconds()
    rng = random.Random(11)
    doubled = events + rng.sample(events, len(events) // 20)
    shuffled = sorted(doubled, key=lambda e: e[0].time.timestamp() + rng.uniform(0, lateness))

    whole = probabilities(contract, [events])
    known = [p for p in whole.values() if p is not None]
    assert len(known) > 20, "the model has learned enough to answer for most open clocks"
    assert len(set(known)) > 10
    assert probabilities(contract, chunks(events, 97)) == whole
    assert probabilities(contract, chunks(shuffled, 61)) == whole


def test_a_correction_later_than_the_lateness_gives_the_probabilities_of_the_whole_set(
    helpdesk: tuple[Contract, Events],
) -> None:
    """An old ticket reopened an hour after its resolution, told at the end: its learned cases
    change, the engine rolls its model back and relearns, and equals an engine that saw the
    corrected log in order."""
    contract, events = helpdesk
    resolved = [
        (e, seq)
        for e, seq in events[: len(events) // 3]
        if e.lifecycle.value in ("resolved", "closed")
    ]
    assert resolved
    event, seq = resolved[len(resolved) // 2]
    reopened = replace(
        event,
        event_id=event.event_id + "-reopened",
        lifecycle=Lifecycle.REOPENED,
        time=event.time + timedelta(hours=1),
    )
    late = (reopened, seq + 1)
    corrected = sorted([*events, late], key=lambda e: e[0].time)
    in_order = stepped(contract, chunks(corrected, 500))
    afterwards = stepped(contract, [*chunks(events, 500), [late]])
    assert afterwards.breach_forecast.ledger.rollbacks > in_order.breach_forecast.ledger.rollbacks
    got = {k: c.breach_probability for k, c in afterwards.last.open_clocks.items()}
    assert got == {k: c.breach_probability for k, c in in_order.last.open_clocks.items()}
