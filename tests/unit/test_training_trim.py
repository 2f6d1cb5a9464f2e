"""The breach model's training ledger trimmed (``TrainingLedger.trim``): it drops the learned
cases below a checkpoint, answers as the whole ledger does, and refuses (before it changes) a
change at or below what it dropped instead of rolling back behind it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.errors import TrimmedStateNeeded
from outcome_pulse.processors.forecast.features import SettledCase
from outcome_pulse.processors.forecast.training import TrainingLedger, training_order
from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import item_events
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from tests.datasets import dataset
from tests.unit.test_breach_model import CONTRACTS, clocks_of

EVERY = 100


@pytest.fixture(scope="module")
def cases() -> tuple[Contract, list[SettledCase]]:
    contract = load_contract(CONTRACTS / "helpdesk_tickets.yaml")
    mapped = map_file(dataset("helpdesk"), load_mapping("helpdesk"), limit=4000)
    events: list[tuple[ItemEvent, int]] = item_events(mapped.events)
    lateness = contract.monitoring.lateness
    found = [c for clock in clocks_of(contract, events) for c in clock.settled_cases()]
    found.sort(key=lambda c: training_order(c, lateness))
    return contract, found


def _ledger(contract: Contract, cases: list[SettledCase], every: int = EVERY) -> TrainingLedger:
    ledger = TrainingLedger(contract.monitoring.lateness, checkpoint_every=every)
    ledger.replace((), cases)
    return ledger


def test_a_trimmed_ledger_answers_as_the_whole_one(
    cases: tuple[Contract, list[SettledCase]],
) -> None:
    contract, found = cases
    lateness = contract.monitoring.lateness
    middle = found[len(found) * 2 // 3].settled_at + lateness
    end = found[-1].settled_at + lateness + timedelta(seconds=1)
    before = found[len(found) // 2].settled_at  # the engine's horizon
    whole, trimmed = _ledger(contract, found), _ledger(contract, found)
    whole.train_to(middle)
    trimmed.train_to(middle)
    dropped = trimmed.trim(before)
    assert dropped > 0 and trimmed.dropped == dropped and dropped % EVERY == 0
    assert all(c.settled_at < before for c in found[:dropped])
    assert len(trimmed) == len(found) - dropped and list(trimmed.cases()) == found[dropped:]
    assert trimmed.learned == whole.learned
    assert trimmed.dropped_reach == max(c.snapshot.at for c in found[:dropped])
    assert trimmed.trim(before) == 0, "nothing more below the same horizon"
    probe = [c.snapshot for c in found[::53]]
    assert [trimmed.probability(s) for s in probe] == [whole.probability(s) for s in probe]
    # A change above what was dropped, below what was learned: rolled back to a checkpoint at
    # or above the dropped ones, relearned, the same answers as a ledger given it at once.
    above = found[dropped + 3]
    flipped = replace(above, breached=not above.breached)
    whole.replace([above], [flipped])
    trimmed.replace([above], [flipped])
    assert trimmed.rollbacks == 1 and trimmed.learned == dropped
    whole.train_to(end)
    trimmed.train_to(end)
    fresh = _ledger(contract, [flipped if c is above else c for c in found])
    fresh.train_to(end)
    expected = [fresh.probability(s) for s in probe]
    assert [trimmed.probability(s) for s in probe] == expected
    assert [whole.probability(s) for s in probe] == expected


def test_a_change_below_the_dropped_cases_is_refused_before_anything_changes(
    cases: tuple[Contract, list[SettledCase]],
) -> None:
    contract, found = cases
    lateness = contract.monitoring.lateness
    end = found[-1].settled_at + lateness + timedelta(seconds=1)
    ledger = _ledger(contract, found)
    ledger.train_to(end)
    dropped = ledger.trim(found[len(found) // 2].settled_at)
    assert dropped > 0
    held = list(ledger.cases())
    probe = [c.snapshot for c in found[::53]]
    answers = [ledger.probability(s) for s in probe]
    early = found[dropped // 2]
    flipped = replace(early, breached=not early.breached)
    with pytest.raises(TrimmedStateNeeded, match="changed below the cases trimmed"):
        ledger.replace([early], [flipped])
    new = replace(early, snapshot=replace(early.snapshot, item_id="new-item"))
    with pytest.raises(TrimmedStateNeeded):
        ledger.replace([], [new])  # a new case in the dropped range: also refused
    with pytest.raises(TrimmedStateNeeded):  # a removal of a held case with it: nothing done
        ledger.replace([held[-1], early], [])
    assert list(ledger.cases()) == held and ledger.rollbacks == 0
    assert [ledger.probability(s) for s in probe] == answers


def test_trim_keeps_only_whole_checkpoints_of_learned_cases(
    cases: tuple[Contract, list[SettledCase]],
) -> None:
    contract, found = cases
    lateness = contract.monitoring.lateness
    ledger = _ledger(contract, found)
    assert ledger.trim(found[-1].settled_at) == 0, "nothing learned yet: nothing dropped"
    learned_to = found[EVERY * 3 + 10].settled_at + lateness
    ledger.train_to(learned_to)
    learned = ledger.learned
    dropped = ledger.trim(found[-1].settled_at + timedelta(days=1))
    assert dropped == (learned // EVERY) * EVERY, "down to the newest checkpoint learned"
    assert ledger.pending() == found[learned:]
