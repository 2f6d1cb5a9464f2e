"""The breach model's training, as a deterministic function of the set of settled cases.

A settled case (``features.SettledCase``: a clock as known at an instant, and how it ended)
becomes a training example at a fixed event time that depends only on the events: its
*training time*, the clock's stop (``settled_at``) plus the contract's allowed lateness. The
model that answers at instant ``t`` is the one trained on exactly the cases whose training time
is earlier than ``t``, in one order (training time, then the snapshot's service, KPI, item and
instant). So a prediction never uses a clock that was not final behind the watermark at ``t``
(watermark = latest event time - lateness), and it does not depend on how the events were
batched: ``TrainingLedger.train_to(t)`` learns forward case by case, whatever rounds it is
called in.

Cases change when their events do: ``replace(old, new)`` swaps an item's cases. A case that
changes below what was already learned (an event later than the allowed lateness, or one that
moved a case's load features) rolls the model back to the last checkpoint before it (one every
``CHECKPOINT_EVERY`` cases learned, and the empty model) and relearns forward from there in
the same order, so the model is again the one trained on the whole set, as a backtest of the
same events computes it.

``trim(before)`` bounds the ledger by recent work: it drops the learned cases below the newest
checkpoint whose cases all settled before ``before`` (the engine's trimmed horizon), keeping
that checkpoint's model. Answers are unchanged; a later change at or below the last dropped case
(which would roll back behind the kept checkpoint) raises ``TrimmedStateNeeded`` before the
ledger changes, and the driver rebuilds from every event seen.
"""

from __future__ import annotations

import bisect
import copy
import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from outcome_pulse.processors.errors import TrimmedStateNeeded
from outcome_pulse.processors.forecast.breach_model import (
    MIN_LEARNED,
    CalibratedModel,
    ScoreModel,
    default_model,
)
from outcome_pulse.processors.forecast.features import ClockSnapshot, SettledCase, features

CHECKPOINT_EVERY = 2000
_BULK = 32  # more cases than this in one replace: re-sort the tail instead of inserting

Order = tuple[datetime, str, str, str, datetime]


def training_order(case: SettledCase, lateness: timedelta) -> Order:
    """When and in which place the case is learned: (training time, service, KPI, item, at)."""
    s = case.snapshot
    return (case.settled_at + lateness, s.service, s.kpi, s.item_id, s.at)


class TrainingLedger:
    """Settled cases in training order, a model trained on a prefix of them, checkpoints."""

    def __init__(
        self,
        lateness: timedelta,
        make_model: Callable[[], ScoreModel] = default_model,
        checkpoint_every: int = CHECKPOINT_EVERY,
    ) -> None:
        self.lateness = lateness
        self._make_model = make_model
        self._every = checkpoint_every
        self.model = CalibratedModel(make_model())
        self._orders: list[Order] = []  # every case held, in training order
        self._cases: list[SettledCase] = []
        self._learned = 0  # the first ``learned`` cases of the order are in the model
        self._dropped = 0  # the first ``dropped`` cases of the order are no longer held (trim)
        self._dropped_top: Order | None = None  # the order of the last case dropped
        self._dropped_reach: datetime | None = None  # the latest snapshot instant dropped
        self._checkpoints: list[tuple[int, CalibratedModel]] = []  # (cases learned, model)
        self.trained_to: datetime | None = None
        """The instant the model answers for: every case with training time before it."""
        self.rollbacks = 0
        """How many times a change below the learned cases made the model relearn."""

    @property
    def learned(self) -> int:
        """How many cases the model learned (dropped ones included)."""
        return self._learned

    @property
    def dropped(self) -> int:
        """How many learned cases ``trim`` dropped (the first of the order)."""
        return self._dropped

    @property
    def dropped_top(self) -> Order | None:
        """The training order of the last case dropped (None: none dropped): a case at or
        below it cannot change any more."""
        return self._dropped_top

    @property
    def dropped_reach(self) -> datetime | None:
        """The latest snapshot instant of a dropped case (None: none dropped): a load change
        at or before it would have to read a dropped case again."""
        return self._dropped_reach

    def __len__(self) -> int:
        """How many cases are held (not dropped by ``trim``)."""
        return len(self._cases)

    def cases(self) -> Iterator[SettledCase]:
        """The cases held, in training order."""
        return iter(self._cases)

    def pending(self) -> list[SettledCase]:
        """The cases not learned yet (training time at or after ``trained_to``)."""
        return self._cases[self._learned - self._dropped :]

    def trim(self, before: datetime) -> int:
        """Drop the learned cases below the newest checkpoint whose cases all settled before
        ``before``, keeping that checkpoint (see the module doc); how many were dropped."""
        start = self._dropped
        # Training time is settled_at + lateness: cases[:cut] all settled before ``before``.
        cut = bisect.bisect_left(self._orders, (before + self.lateness,)) + start
        cut = min(cut, self._learned)
        chosen = None
        for count, model in self._checkpoints:
            if start < count <= cut:
                chosen = (count, model)
        if chosen is None:
            return 0
        count = chosen[0]
        local = count - start
        gone = self._cases[:local]
        reach = max(c.snapshot.at for c in gone)
        if self._dropped_reach is None or reach > self._dropped_reach:
            self._dropped_reach = reach
        self._dropped_top = self._orders[local - 1]
        del self._orders[:local], self._cases[:local]
        self._checkpoints = [c for c in self._checkpoints if c[0] >= count]
        self._dropped = count
        return local

    def _check_held(self, order: Order) -> None:
        top = self._dropped_top
        if top is not None and order <= top:
            raise TrimmedStateNeeded(
                f"breach model: a case at {order[0].isoformat()} ({order[1]}/{order[2]}/"
                f"{order[3]}) changed below the cases trimmed (up to {top[0].isoformat()}): "
                "rebuild the engine from every event seen"
            )

    def replace(self, old: Iterable[SettledCase], new: Iterable[SettledCase]) -> None:
        """Swap cases (an item's, when its events changed); rolls back under a change."""
        before, after = set(old), set(new)
        removed, added = before - after, after - before
        if not removed and not added:
            return
        for case in removed | added:
            self._check_held(training_order(case, self.lateness))
        lowest: int | None = None
        for case in removed:
            index = self._index(case)
            if index is None:
                raise ValueError(f"replace: case {training_order(case, self.lateness)} not held")
            lowest = index if lowest is None else min(lowest, index)
        for case in added:
            index = bisect.bisect_left(self._orders, training_order(case, self.lateness))
            lowest = index if lowest is None else min(lowest, index)
        assert lowest is not None
        if lowest + self._dropped < self._learned:
            self._roll_back(lowest + self._dropped)
        if len(removed) + len(added) > _BULK:
            self._rebuild_tail(removed, added)
            return
        for case in removed:
            index = self._index(case)
            assert index is not None and index + self._dropped >= self._learned
            del self._orders[index]
            del self._cases[index]
        for case in added:
            order = training_order(case, self.lateness)
            index = bisect.bisect_left(self._orders, order)
            if index < len(self._orders) and self._orders[index] == order:
                raise ValueError(f"replace: two cases in one place of the order: {order}")
            self._orders.insert(index, order)
            self._cases.insert(index, case)

    def _rebuild_tail(self, removed: set[SettledCase], added: set[SettledCase]) -> None:
        """``replace`` for many cases at once: the not-learned tail sorted anew."""
        start = self._learned - self._dropped
        tail = [(o, c) for o, c in zip(self._orders[start:], self._cases[start:], strict=True)]
        tail = [(o, c) for o, c in tail if c not in removed]
        tail.extend((training_order(c, self.lateness), c) for c in added)
        tail.sort(key=lambda pair: pair[0])
        for (a, _), (b, _) in itertools.pairwise(tail):
            if a == b:
                raise ValueError(f"replace: two cases in one place of the order: {a}")
        del self._orders[start:], self._cases[start:]
        self._orders.extend(o for o, _ in tail)
        self._cases.extend(c for _, c in tail)

    def _index(self, case: SettledCase) -> int | None:
        order = training_order(case, self.lateness)
        index = bisect.bisect_left(self._orders, order)
        if index < len(self._orders) and self._cases[index] == case:
            return index
        return None

    def _roll_back(self, position: int) -> None:
        """Back to the newest checkpoint at or before ``position`` cases learned (never behind
        the cases dropped: ``replace`` refused such a change)."""
        assert position >= self._dropped
        while self._checkpoints and self._checkpoints[-1][0] > position:
            self._checkpoints.pop()
        if self._checkpoints:
            count, model = self._checkpoints[-1]
            self.model = copy.deepcopy(model)
        else:
            count, self.model = 0, CalibratedModel(self._make_model())
        self._learned = count
        self.rollbacks += 1

    def train_to(self, instant: datetime) -> int:
        """Learn the cases with training time before ``instant`` (the model then answers for
        ``instant``); an instant before ``trained_to`` is an error. How many were learned."""
        if self.trained_to is not None and instant < self.trained_to:
            raise ValueError(
                f"train_to({instant.isoformat()}) is before the instant already trained to "
                f"({self.trained_to.isoformat()}): use a new ledger for earlier instants"
            )
        self.trained_to = instant
        start, base = self._learned, self._dropped
        cases, orders = self._cases, self._orders
        while self._learned - base < len(cases) and orders[self._learned - base][0] < instant:
            case = cases[self._learned - base]
            self.model.learn(features(case.snapshot), case.breached)
            self._learned += 1
            if self._learned % self._every == 0:
                self._checkpoints.append((self._learned, copy.deepcopy(self.model)))
        return self._learned - start

    def probability(self, snapshot: ClockSnapshot) -> float | None:
        """P(the clock breaches) from the model at ``trained_to`` (None: too few cases yet).
        A clock past its target has breached already: 1."""
        if snapshot.breached:
            return 1.0
        if self._learned < MIN_LEARNED:
            return None
        return self.model.probability(features(snapshot))


def predictions_over_time(
    queries: Iterable[ClockSnapshot],
    cases: Iterable[SettledCase],
    lateness: timedelta,
    make_model: Callable[[], ScoreModel] = default_model,
) -> Iterator[tuple[ClockSnapshot, float | None]]:
    """Each query answered as at its instant ``at``: by the model trained on the cases with
    training time before ``at`` (the engine's answer for a clock read at ``at``)."""
    ledger = TrainingLedger(lateness, make_model, checkpoint_every=1 << 62)
    ledger.replace((), cases)
    for snapshot in sorted(queries, key=lambda s: (s.at, s.service, s.kpi, s.item_id)):
        ledger.train_to(snapshot.at)
        yield snapshot, ledger.probability(snapshot)
