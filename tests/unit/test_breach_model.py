"""Breach probabilities: snapshots read only the past, learning order is fixed by the events,
and the result does not depend on arrival order or batching."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from outcome_pulse.processors.calendar import BusinessCalendar
from outcome_pulse.processors.clock_measures import read_open_clock
from outcome_pulse.processors.contract import Contract, TimeToTargetKpi
from outcome_pulse.processors.evaluation import ContractEvaluation
from outcome_pulse.processors.forecast.calibration import PlattCalibrator
from outcome_pulse.processors.forecast.item_clocks import ItemClock, item_clocks
from outcome_pulse.processors.forecast.training import (
    TrainingLedger,
    predictions_over_time,
    training_order,
)
from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import item_events
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from tests.datasets import dataset

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


@pytest.fixture(scope="module")
def helpdesk() -> tuple[Contract, list[tuple[ItemEvent, int]]]:
    contract = load_contract(CONTRACTS / "helpdesk_tickets.yaml")
    mapped = map_file(dataset("helpdesk"), load_mapping("helpdesk"), limit=4000)
    return contract, item_events(mapped.events)


def clocks_of(contract: Contract, events: list[tuple[ItemEvent, int]]) -> list[ItemClock]:
    engine = ContractEvaluation(contract)
    for start in range(0, len(events), 700):
        engine.observe(events[start : start + 700])
    return [
        clock
        for service, items in engine.service_items().items()
        for clock in item_clocks(contract, service, items)
    ]


def test_snapshot_reads_the_clock_as_it_was(
    helpdesk: tuple[Contract, list[tuple[ItemEvent, int]]],
) -> None:
    contract, events = helpdesk
    kpi = contract.kpi("resolution-time")
    assert isinstance(kpi, TimeToTargetKpi)

    def calendar(priority: str | None) -> BusinessCalendar:
        return contract.calendar_of(kpi, priority)

    rng = random.Random(7)
    checked = 0
    for clock in clocks_of(contract, events)[:300]:
        for _ in range(5):
            moment = clock.item.opened_at + timedelta(hours=rng.uniform(0, 400))
            snapshot = clock.snapshot(moment)
            reading = read_open_clock(clock.item, kpi, calendar, moment)
            if reading is None:
                assert snapshot is None
                continue
            assert snapshot is not None
            checked += 1
            assert snapshot.status == reading.status.value
            assert snapshot.elapsed_seconds == pytest.approx(reading.elapsed.total_seconds())
            assert snapshot.target_seconds == reading.target.total_seconds()
            # Nothing from after the instant: the item cut at the instant reads the same.
            assert snapshot.attributes == tuple(
                sorted(
                    {
                        k: v
                        for _, e, _ in clock.item.ordered()
                        if e.time <= moment
                        for k, v in e.attributes.items()
                    }.items()
                )
            )
    assert checked > 100


def test_cases_settle_after_their_snapshot(
    helpdesk: tuple[Contract, list[tuple[ItemEvent, int]]],
) -> None:
    contract, events = helpdesk
    cases = [c for clock in clocks_of(contract, events) for c in clock.settled_cases()]
    assert len(cases) > 1000
    assert all(c.snapshot.at < c.settled_at for c in cases)
    assert all(not c.snapshot.breached for c in cases)
    assert 0 < sum(c.breached for c in cases) < len(cases)


def test_probabilities_do_not_depend_on_arrival_order_or_batches(
    helpdesk: tuple[Contract, list[tuple[ItemEvent, int]]],
) -> None:
    contract, events = helpdesk
    shuffled = list(events)
    random.Random(3).shuffle(shuffled)
    doubled = shuffled + shuffled[:500]  # duplicates change nothing either
    runs = []
    for stream in (events, doubled):
        clocks = clocks_of(contract, stream)
        cases = [c for clock in clocks for c in clock.settled_cases()]
        queries = [
            s
            for clock in clocks
            if (s := clock.snapshot(clock.item.opened_at + timedelta(hours=8))) is not None
        ]
        runs.append(list(predictions_over_time(queries, cases, contract.monitoring.lateness)))
    assert runs[0] == runs[1]
    assert sum(1 for _, p in runs[0] if p is not None) > 100


def test_training_forward_in_steps_equals_training_at_once(
    helpdesk: tuple[Contract, list[tuple[ItemEvent, int]]],
) -> None:
    contract, events = helpdesk
    lateness = contract.monitoring.lateness
    clocks = clocks_of(contract, events)
    cases = sorted(
        (c for clock in clocks for c in clock.settled_cases()),
        key=lambda c: training_order(c, lateness),
    )
    end = cases[-1].settled_at + lateness + timedelta(seconds=1)
    whole = TrainingLedger(lateness)
    whole.replace((), cases)
    whole.train_to(end)
    assert whole.learned == len(cases)
    stepwise = TrainingLedger(lateness, checkpoint_every=100)
    instants = [*sorted({c.settled_at + lateness for c in cases[::37]}), end]
    half = len(cases) // 2
    stepwise.replace((), cases[:half])
    for instant in instants[: len(instants) // 2]:
        stepwise.train_to(instant)
    stepwise.replace((), cases[half:])  # some ordered before what was learned: rolled back
    for instant in instants[len(instants) // 2 :]:
        stepwise.train_to(instant)
    probe = [c.snapshot for c in cases[::97]]
    assert [whole.probability(s) for s in probe] == [stepwise.probability(s) for s in probe]
    with pytest.raises(ValueError, match="before the instant already trained to"):
        stepwise.train_to(instants[0])


def test_a_changed_case_below_the_learned_ones_rolls_back_and_relearns(
    helpdesk: tuple[Contract, list[tuple[ItemEvent, int]]],
) -> None:
    contract, events = helpdesk
    lateness = contract.monitoring.lateness
    cases = [c for clock in clocks_of(contract, events) for c in clock.settled_cases()]
    cases.sort(key=lambda c: training_order(c, lateness))
    end = cases[-1].settled_at + lateness + timedelta(seconds=1)
    early = cases[len(cases) // 10]
    flipped = replace(early, breached=not early.breached)  # a late event changed its outcome
    ledger = TrainingLedger(lateness, checkpoint_every=250)
    ledger.replace((), cases)
    ledger.train_to(end)
    ledger.replace([early], [flipped])
    assert ledger.rollbacks == 1 and ledger.learned < len(cases) // 10
    ledger.train_to(end)
    fresh = TrainingLedger(lateness)
    fresh.replace((), [flipped if c is early else c for c in cases])
    fresh.train_to(end)
    probe = [c.snapshot for c in cases[::89]]
    assert [ledger.probability(s) for s in probe] == [fresh.probability(s) for s in probe]
    unchanged = TrainingLedger(lateness)
    unchanged.replace((), cases)
    unchanged.train_to(end)
    assert [ledger.probability(s) for s in probe] != [unchanged.probability(s) for s in probe]


def test_calibrator_follows_the_observed_rate() -> None:
    calibrator = PlattCalibrator()
    assert calibrator.calibrate(0.3) == pytest.approx(0.3)  # nothing learned: the raw score
    for index in range(20000):
        calibrator.learn(0.5, index % 10 == 0)  # scores of 0.5 breach 10% of the time
    assert calibrator.calibrate(0.5) == pytest.approx(0.1, abs=0.03)
    assert calibrator.calibrate(0.9) > calibrator.calibrate(0.5)  # still monotone


def test_a_clock_past_its_target_has_breached(
    helpdesk: tuple[Contract, list[tuple[ItemEvent, int]]],
) -> None:
    contract, events = helpdesk
    ledger = TrainingLedger(contract.monitoring.lateness)
    for clock in clocks_of(contract, events):
        snapshot = clock.snapshot(clock.item.opened_at + timedelta(days=60))
        if snapshot is not None and snapshot.breached:
            assert ledger.probability(snapshot) == 1.0
            return
    pytest.fail("no clock past its target after 60 days in the first 4,000 events")
