"""The trimmed engine against the reference evaluation (``ContractEngine.trim``): stepped in
the same batches, trimmed after random steps, the points it gave (kept as the backtest's spool
keeps them), its outcomes, late events with the rows they corrected, and open clocks equal the
reference's. A step that needs what was trimmed raises ``TrimmedStateNeeded``; the driver then
rebuilds a full engine from every event seen and redoes the step, as the backtest does."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.engine import ContractEngine
from outcome_pulse.processors.engine.results import PointKey
from outcome_pulse.processors.errors import EngineStateError, TrimmedStateNeeded
from outcome_pulse.processors.forecast import training
from outcome_pulse.processors.lifecycle import ItemEvent, Lifecycle
from outcome_pulse.processors.measurements import IndicatorPoint
from outcome_pulse.processors.reference_evaluation import ContractEvaluation as Reference
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import item_events
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from tests.datasets import dataset
from tests.unit import test_engine_oracle as oracle
from tests.unit.test_engine_oracle import _canon, batches_of, build, desk_contract, raw_events

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
Events = list[tuple[ItemEvent, int]]


class Trimmed:
    """Steps a trimmed engine as a driver does: restores the items it names, rebuilds a full
    engine on ``TrimmedStateNeeded`` and redoes the step, keeps the points it is given."""

    def __init__(self, contract: Contract, margin: timedelta) -> None:
        self.contract, self.margin = contract, margin
        self.engine = ContractEngine(contract)
        self.seen: Events = []
        self.points: dict[PointKey, IndicatorPoint] = {}
        self.rebuilds = self.trimmed = 0

    def step(self, batch: Events) -> Any:
        missing = set(self.engine.missing_histories(batch))
        self.engine.restore(e for e in self.seen if (e[0].source, e[0].item_id) in missing)
        try:
            step = self.engine.step(batch)
        except TrimmedStateNeeded:
            self.rebuilds += 1
            self.engine = ContractEngine(self.contract)
            self.engine.rebuild(self.seen)  # the rows as they were before this batch
            step = self.engine.step(batch)
        for key in step.points.deletes:
            self.points.pop(key, None)
        for point in step.points.upserts:
            self.points[point.key] = point
        self.seen.extend(batch)
        return step

    def trim(self) -> None:
        self.trimmed += self.engine.trim(margin=self.margin)


def assert_same_trimmed_steps(
    contract: Contract, batches: list[Events], trim_after: set[int], margin: timedelta
) -> Trimmed:
    driver, reference = Trimmed(contract, margin), Reference(contract)
    for number, batch in enumerate(batches):
        got, want = _canon(driver.step(batch)), _canon(reference.step(batch))
        for name in want:
            assert got[name] == want[name], f"step {number}: {name} differs"
        if number in trim_after:
            driver.trim()
    expected = reference.last
    assert driver.points == expected.points
    assert driver.engine.outcomes == expected.outcomes
    assert driver.engine.open_clocks == expected.open_clocks
    assert {(p.key, p.value) for p in driver.engine.latest_points()} == {
        (p.key, p.value) for p in reference.latest_points()
    }
    return driver


def rolling_contract(zone: str = "Europe/Brussels", step: str = "1h") -> Contract:
    """The oracle's contract with every calendar period made a 2-day rolling one: its horizon
    then follows the watermark closely, so the short generated histories are trimmed (with
    calendar months, the trend's previous-month baseline holds everything of the history)."""
    original = oracle._kpi

    def rolling(kpi_id: str, service: str, kind: str, period: str = "month", **rest: Any) -> Any:
        rest.pop("of", None)  # data quality over items needs calendar periods: over events
        return original(
            kpi_id, service, kind, period if "rolling" in period else "rolling 2d", **rest
        )

    with patch.object(oracle, "_kpi", rolling):
        return desk_contract(zone, step)


BACK = [timedelta(days=1), timedelta(days=2), timedelta(days=5)]
CONTRACT_KINDS = st.sampled_from([rolling_contract, desk_contract])
MARGINS = st.sampled_from([timedelta(0), timedelta(hours=3), timedelta(days=1)])


def late_batches(seed: int, raw: Any, late: Any, sizes: Any) -> tuple[list[Any], set[int]]:
    """In time order, then late copies (days behind, some behind the horizon) and a few
    duplicates, in batches of ``sizes``; and the batches after which to trim (about half)."""
    rng = random.Random(seed)
    on_time = sorted(build(raw), key=lambda e: e[0].time)
    behind = [
        (replace(e, event_id=f"late-{e.event_id}", time=e.time - rng.choice(BACK)), seq)
        for e, seq in build(late)
    ]
    batches = [
        *batches_of(on_time, sizes),
        *batches_of(behind + rng.sample(on_time, min(3, len(on_time))), sizes),
    ]
    return batches, {n for n in range(len(batches)) if rng.random() < 0.5}


@settings(max_examples=80, deadline=None)
@given(
    raw=raw_events,
    late=raw_events,
    seed=st.integers(0, 10_000),
    sizes=st.lists(st.integers(1, 8), min_size=1, max_size=10),
    margin=MARGINS,
    contract=CONTRACT_KINDS,
)
def test_trimmed_engine_equals_the_reference(
    raw: list[Any],
    late: list[Any],
    seed: int,
    sizes: list[int],
    margin: timedelta,
    contract: Callable[[], Contract],
) -> None:
    """In time order, then late events (days behind, some behind the horizon) and duplicates,
    trimmed after random steps."""
    batches, trim_after = late_batches(seed, raw, late, sizes)
    assert_same_trimmed_steps(contract(), batches, trim_after, margin)


@settings(max_examples=60, deadline=None)
@given(
    raw=raw_events,
    seed=st.integers(0, 10_000),
    sizes=st.lists(st.integers(1, 12), min_size=1, max_size=10),
    zone=st.sampled_from(["Europe/Brussels", "UTC", "America/New_York"]),
    step=st.sampled_from(["1h", "30m", "1d", "2d"]),
    margin=MARGINS,
    contract=CONTRACT_KINDS,
)
def test_trimmed_engine_shuffled_with_duplicates(
    raw: list[Any],
    seed: int,
    sizes: list[int],
    zone: str,
    step: str,
    margin: timedelta,
    contract: Callable[[str, str], Contract],
) -> None:
    events = build(raw)
    rng = random.Random(seed)
    sent = events + rng.sample(events, k=len(events) // 4)
    rng.shuffle(sent)
    batches = batches_of(sent, sizes)
    trim_after = {n for n in range(len(batches)) if rng.random() < 0.6}
    assert_same_trimmed_steps(contract(zone, step), batches, trim_after, margin)


def _week(item: str, day: int) -> Events:
    """An incident opened and resolved on ``day`` (quarter hours from T0)."""
    return build([(item, 0, 96 * day, "P1", "x", 0), (item, 3, 96 * day + 4, "P1", "x", 0)])


def test_a_late_event_behind_the_horizon_takes_the_full_path() -> None:
    contract = rolling_contract()
    # Ten days of one incident a day, trimmed with no margin: the first days' items go.
    history = [e for day in range(10) for e in _week(f"i{day}", day)]
    history = [(replace(e, event_id=f"{e.item_id}-{n}"), s) for n, (e, s) in enumerate(history)]
    batches = batches_of(history, [2] * 10)
    driver, reference = Trimmed(contract, timedelta(0)), Reference(contract)
    for batch in batches:
        assert _canon(driver.step(batch)) == _canon(reference.step(batch))
    driver.trim()
    assert driver.trimmed, "the first days' incidents are dropped"
    engine = driver.engine
    assert engine.trimmed_before is not None
    # A priority change of the first day's incident, nine days late: behind the horizon.
    first = history[0][0]
    late = [(replace(first, event_id="late-1", lifecycle=Lifecycle.PRIORITY_CHANGED,
                     priority="P2", time=first.time + timedelta(minutes=30)), 0)]  # fmt: skip
    with pytest.raises(TrimmedStateNeeded, match="behind the trimmed horizon"):
        engine.step(late)
    assert engine.missing_histories(late) == [("acme", "i0")]  # nothing changed
    got, want = driver.step(late), reference.step(late)
    assert driver.rebuilds == 1
    assert _canon(got) == _canon(want)
    assert got.late and got.late[0].changed, "the late event names the final rows it corrected"
    assert driver.points == reference.last.points
    assert driver.engine.outcomes == reference.last.outcomes


def test_an_on_time_event_for_a_trimmed_item_restores_it() -> None:
    contract = rolling_contract()
    history = [e for day in range(10) for e in _week(f"i{day}", day)]
    history = [(replace(e, event_id=f"{e.item_id}-{n}"), s) for n, (e, s) in enumerate(history)]
    driver, reference = Trimmed(contract, timedelta(0)), Reference(contract)
    for batch in batches_of(history, [2] * 10):
        assert _canon(driver.step(batch)) == _canon(reference.step(batch))
    driver.trim()
    # The first day's incident reopened now: on time, so no rebuild; its history comes back.
    reopen = [(replace(history[1][0], event_id="reopen", lifecycle=Lifecycle.REOPENED,
                       time=history[-1][0].time + timedelta(minutes=5)), 0)]  # fmt: skip
    assert driver.engine.missing_histories(reopen) == [("acme", "i0")]
    with pytest.raises(EngineStateError, match="restore its stored events"):
        driver.engine.step(reopen)
    assert _canon(driver.step(reopen)) == _canon(reference.step(reopen))
    assert driver.rebuilds == 0
    assert driver.points == reference.last.points
    assert driver.engine.outcomes == reference.last.outcomes


def test_a_trimmed_engine_refuses_to_give_all_points() -> None:
    driver = Trimmed(rolling_contract(), timedelta(0))
    history = [e for day in range(10) for e in _week(f"i{day}", day)]
    history = [(replace(e, event_id=f"{e.item_id}-{n}"), s) for n, (e, s) in enumerate(history)]
    driver.step(history)
    driver.trim()
    with pytest.raises(EngineStateError, match="was trimmed"):
        driver.engine.last  # noqa: B018
    # Kept indicators stay readable whole.
    kept = ContractEngine(rolling_contract())
    kept.step(history)
    whole = kept.series_values({"arrivals"})
    kept.trim(margin=timedelta(0), keep={"arrivals"})
    assert kept.series_values({"arrivals"}) == whole


@pytest.mark.parametrize(
    ("name", "contract_file", "limit"),
    [("helpdesk", "helpdesk_tickets.yaml", 5000)],
)
def test_real_log_trimmed_equals_the_reference(name: str, contract_file: str, limit: int) -> None:
    contract = load_contract(CONTRACTS / contract_file)
    events = item_events(map_file(dataset(name), load_mapping(name), limit=limit).events)
    rng = random.Random(5)
    sent = events + rng.sample(events, k=len(events) // 20)
    # Mostly in order, a few events far behind (late beyond the lateness, some behind the horizon).
    sent.sort(key=lambda e: e[0].time.timestamp() + rng.uniform(0, 5 * 86400))
    batches = batches_of(sent, [500] * 100)
    driver = assert_same_trimmed_steps(
        contract, batches, set(range(0, len(batches), 2)), timedelta(days=2)
    )
    assert driver.trimmed, "a long history has items to trim"


# -- the breach model's training ledger trimmed with the engine ------------------------------


@settings(max_examples=60, deadline=None)
@given(
    raw=raw_events,
    late=raw_events,
    seed=st.integers(0, 10_000),
    sizes=st.lists(st.integers(1, 8), min_size=1, max_size=10),
    margin=MARGINS,
    every=st.sampled_from([1, 2, 5]),
)
def test_trimmed_ledger_equals_the_reference(
    raw: list[Any],
    late: list[Any],
    seed: int,
    sizes: list[int],
    margin: timedelta,
    every: int,
) -> None:
    """As ``test_trimmed_engine_equals_the_reference``, with ledger checkpoints every few
    cases, so the trims drop the breach model's cases too (late events below them)."""
    batches, trim_after = late_batches(seed, raw, late, sizes)
    with patch.object(training, "CHECKPOINT_EVERY", every):
        assert_same_trimmed_steps(rolling_contract(), batches, trim_after, margin)


def _month(days: int = 30) -> Events:
    """Four incidents a day, P1 and P2, resolved after 1 to 11 hours (some breach), and two
    left open on the last day: enough settled cases for the breach model to answer."""
    raw = []
    for day in range(days):
        for k in range(4):
            opened = 96 * day + 24 * k
            hours = 1 + 2 * k + (day % 5)
            priority = "P1" if (day + k) % 2 else "P2"
            raw.append((f"i{day}-{k}", 0, opened, priority, "x", 0))
            raw.append((f"i{day}-{k}", 3, opened + 4 * hours, priority, "x", 0))
    raw.append(("x-open-1", 0, 96 * (days - 1) + 8, "P1", "x", 0))
    raw.append(("x-open-2", 0, 96 * (days - 1) + 40, "P2", "x", 0))
    events = sorted(build(raw), key=lambda e: e[0].time)
    return [(replace(e, event_id=f"{e.item_id}-{n}"), s) for n, (e, s) in enumerate(events)]


def test_a_late_event_below_a_dropped_ledger_checkpoint_rebuilds() -> None:
    contract = rolling_contract()
    history = _month()
    batches = batches_of(history, [8] * 40)
    with patch.object(training, "CHECKPOINT_EVERY", 10):
        driver = assert_same_trimmed_steps(
            contract, batches, set(range(len(batches))), timedelta(0)
        )
        ledger = driver.engine.breach_forecast.ledger
        assert ledger.dropped >= 10 and ledger.dropped % 10 == 0, "the ledger was trimmed"
        assert ledger.learned >= 30, "the model answers"
        probabilities = [c.breach_probability for c in driver.engine.open_clocks.values()]
        assert any(p is not None and 0 < p < 1 for p in probabilities), "the model answers"
        reach = ledger.dropped_reach
        assert reach is not None
        # The third day's first incident, made P1 half an hour after it opened: its cases were
        # dropped with the ledger's checkpoint (below it), so only a rebuild gets it right.
        first = next(e for e, _ in history if e.item_id == "i2-0")
        assert first.time < reach
        late = [(replace(first, event_id="late-1", lifecycle=Lifecycle.PRIORITY_CHANGED,
                         priority="P1", time=first.time + timedelta(minutes=30)), 0)]  # fmt: skip
        reference = Reference(contract)
        for batch in batches:
            reference.step(batch)
        got, want = driver.step(late), reference.step(late)
        assert driver.rebuilds == 1
        assert _canon(got) == _canon(want)
        assert driver.engine.open_clocks == reference.last.open_clocks
        assert driver.points == reference.last.points


def test_a_changed_case_of_a_trimmed_item_raises() -> None:
    """The engine refuses any change behind its horizon before the breach model sees it; the
    model's own guard (each trimmed item's dropped cases kept as a digest) is checked here."""
    with patch.object(training, "CHECKPOINT_EVERY", 10):
        engine = ContractEngine(rolling_contract())
        history = _month()
        for batch in batches_of(history, [8] * 40):
            engine.step(batch)
        forecast = engine.breach_forecast
        held = dict(forecast._cases)
        engine.trim(margin=timedelta(0))
        key = ("desk", "i1-0")
        cases = held[key]
        assert key not in forecast._cases and key in forecast._digests
        learned = forecast.ledger.learned
        forecast._swap(key, cases)  # the same cases: nothing changes
        assert forecast.ledger.learned == learned and forecast.ledger.rollbacks == 0
        flipped = (replace(cases[0], breached=not cases[0].breached), *cases[1:])
        with pytest.raises(TrimmedStateNeeded, match="that were trimmed"):
            forecast._swap(key, flipped)
        with pytest.raises(TrimmedStateNeeded, match="that were trimmed"):
            forecast._swap(key, cases[1:])  # one case gone
        assert forecast.ledger.rollbacks == 0
