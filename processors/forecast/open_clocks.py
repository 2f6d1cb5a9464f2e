"""Breach probabilities for the engine's open clocks, and for every clock on the sample grid.

``OpenClockForecast`` is what the contract evaluation calls in each step: ``update`` with the
items the step touched (their clocks and settled cases are derived again) and the earliest
instant where each service's load changed (the load features of the cases read at or after it
are read again, from the ``features.LoadReader`` the evaluation passes: the incremental engine
reads its aggregators, so compacted items still count), then ``annotate`` the open clocks read
at the latest event time ``as_of``: the ``training.TrainingLedger`` trains forward to ``as_of``
and each clock gets the probability of the model trained on the cases with training time (stop
+ allowed lateness) before ``as_of``. The result is a function of the set of events only: the
same in one batch or many, in any order within the lateness, with duplicates (a change below
what was learned rolls the model back to a checkpoint and relearns, see ``training``).

The settled cases are kept after the engine drops an item's events (``forget`` only drops its
readable clocks): a correction of an old item, or a load feature moved by a late event, can
be learned again exactly. ``trim`` (the engine's ``trim``) bounds them by recent work: the
ledger drops the learned cases that settled before the engine's horizon (``TrainingLedger.trim``)
and each item keeps only a digest of its dropped cases, so a change of one of them (which the
engine refuses anyway: it lies behind its horizon) raises ``TrimmedStateNeeded`` instead of
being missed.

``grid_predictions`` answers for every open clock at every instant of a grid, each with the
model as it was at that instant: the backtest's ``--predictions`` file.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.errors import TrimmedStateNeeded
from outcome_pulse.processors.forecast import training
from outcome_pulse.processors.forecast.features import LoadReader, SettledCase
from outcome_pulse.processors.forecast.item_clocks import (
    ItemClock,
    all_item_clocks,
    forecastable_kpis,
    settled_cases,
)
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.processors.forecast.period_outlook import (
    ItemRecord,
    OpenItem,
    forecast_running_period,
)
from outcome_pulse.processors.forecast.training import (
    TrainingLedger,
    predictions_over_time,
    training_order,
)
from outcome_pulse.processors.item_history import ItemHistory
from outcome_pulse.processors.measurements import OpenClock
from outcome_pulse.processors.periods import sample_grid

ItemKey = tuple[str, str]  # (service id, item id)
_DIGEST_MOD = 1 << 128


def _digest(cases: Iterable[SettledCase]) -> int:
    """An order-free digest of a set of cases that adds up (the digest of a union of disjoint
    sets is the sum of theirs), stable across processes (checkpoints are loaded elsewhere)."""
    total = 0
    for case in cases:
        raw = hashlib.blake2b(repr(case).encode(), digest_size=16).digest()
        total += int.from_bytes(raw, "big")
    return total % _DIGEST_MOD


@dataclass(frozen=True, slots=True)
class BreachPrediction:
    """One open clock's breach probability at one grid instant (``None``: no model yet)."""

    contract: str
    service: str
    kpi: str
    item_id: str
    at: datetime
    priority: str | None
    elapsed_share: float
    probability: float | None


class OpenClockForecast:
    """Sets ``breach_probability`` on open clocks (see the module doc)."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.ledger = TrainingLedger(
            contract.monitoring.lateness, checkpoint_every=training.CHECKPOINT_EVERY
        )
        self._kpis = {sid: forecastable_kpis(contract, sid) for sid in contract.services}
        self._cases: dict[ItemKey, tuple[SettledCase, ...]] = {}
        """Each item's cases held by the ledger (not dropped by ``trim``)."""
        self._digests: dict[ItemKey, int] = {}
        """Each item's cases dropped by ``trim``, as a ``_digest``."""
        self._clocks: dict[ItemKey, tuple[ItemClock, ...]] = {}
        self._records: dict[str, dict[ItemKey, ItemRecord]] = {}
        """By KPI id: each item's opening and clock stops (what period forecasts count)."""

    def update(
        self,
        touched: Mapping[str, Sequence[ItemHistory]],
        loads: Mapping[str, LoadReader],
        changed_from: Mapping[str, datetime | None],
    ) -> None:
        """Derive the touched items' clocks and cases again (by service id), and read again
        the load of every other case read at or after its service's ``changed_from``."""
        done: set[ItemKey] = set()
        for service, items in touched.items():
            kpis = self._kpis.get(service)
            if not kpis:
                continue
            for item in items:
                key = (service, item.item_id)
                clocks = tuple(
                    ItemClock(self.contract, service, kpi, item, loads[service]) for kpi in kpis
                )
                self._clocks[key] = clocks
                for clock in clocks:
                    self._records.setdefault(clock.kpi.id, {})[key] = ItemRecord.of(clock)
                self._swap(key, tuple(c for clock in clocks for c in clock.settled_cases()))
                done.add(key)
        self._reload(loads, changed_from, done)

    def _swap(self, key: ItemKey, new: tuple[SettledCase, ...]) -> None:
        """An item's cases are now ``new``: the ledger swaps those that changed."""
        top = self.ledger.dropped_top
        if top is not None:
            lateness = self.ledger.lateness
            low = [c for c in new if training_order(c, lateness) <= top]
            if _digest(low) != self._digests.get(key, 0):
                raise TrimmedStateNeeded(
                    f"breach model: the cases of item {key[1]!r} of {key[0]!r} that were "
                    f"trimmed (settled up to {top[0].isoformat()}) changed: rebuild the engine "
                    "from every event seen"
                )
            if low:
                new = tuple(c for c in new if training_order(c, lateness) > top)
        self._hold(key, new)

    def _hold(self, key: ItemKey, new: tuple[SettledCase, ...]) -> None:
        old = self._cases.get(key, ())
        if new != old:
            self.ledger.replace(old, new)
            if new:
                self._cases[key] = new
            else:
                self._cases.pop(key, None)

    def _reload(
        self,
        loads: Mapping[str, LoadReader],
        changed_from: Mapping[str, datetime | None],
        done: set[ItemKey],
    ) -> None:
        moments = {s: m for s, m in changed_from.items() if m is not None and self._kpis.get(s)}
        if not moments:
            return
        reach_dropped = self.ledger.dropped_reach
        if reach_dropped is not None and min(moments.values()) <= reach_dropped:
            raise TrimmedStateNeeded(
                f"breach model: the load changed from {min(moments.values()).isoformat()}, "
                f"where trimmed cases read it (up to {reach_dropped.isoformat()}): rebuild the "
                "engine from every event seen"
            )
        # Cases learned were read before ``trained_to - lateness``: only a change that early
        # (a late event) can reach them, and only then are they all looked at.
        ledger = self.ledger
        floor = None if ledger.trained_to is None else ledger.trained_to - ledger.lateness
        reach = ledger.cases() if floor is None or min(moments.values()) < floor else None
        candidates = ledger.pending() if reach is None else list(reach)
        hit: set[ItemKey] = set()
        for case in candidates:
            s = case.snapshot
            moment = moments.get(s.service)
            if moment is not None and s.at >= moment and (s.service, s.item_id) not in done:
                hit.add((s.service, s.item_id))
        for key in sorted(hit):
            load = loads[key[0]]
            new = tuple(
                c
                if c.snapshot.at < moments[key[0]]
                else replace(c, snapshot=replace(c.snapshot, load=load.at(c.snapshot.at)))
                for c in self._cases[key]
            )
            self._hold(key, new)  # the dropped cases read the load before every moment

    def trim(self, before: datetime) -> int:
        """Drop the learned cases that settled before ``before`` (the engine's trimmed
        horizon: nothing before it changes any more) down to a ledger checkpoint, keeping each
        item's dropped cases as a digest (see the module doc); how many were dropped."""
        dropped = self.ledger.trim(before)
        top = self.ledger.dropped_top
        if not dropped or top is None:
            return dropped
        lateness = self.ledger.lateness
        for key, cases in list(self._cases.items()):
            low = [c for c in cases if training_order(c, lateness) <= top]
            if not low:
                continue
            self._digests[key] = (self._digests.get(key, 0) + _digest(low)) % _DIGEST_MOD
            kept = tuple(c for c in cases if training_order(c, lateness) > top)
            if kept:
                self._cases[key] = kept
            else:
                del self._cases[key]
        return dropped

    def forget(self, keys: Iterable[ItemKey]) -> None:
        """The engine dropped these items' events: drop their clocks (their cases stay)."""
        for key in keys:
            self._clocks.pop(key, None)

    def annotate(
        self,
        clocks: Mapping[tuple[str, str, str], OpenClock],
        as_of: datetime | None,
        history_of: Callable[[str, str], ItemHistory | None],
        loads: Mapping[str, LoadReader],
    ) -> dict[tuple[str, str, str], OpenClock]:
        """The open clocks with their breach probabilities at ``as_of`` (see the module doc)."""
        if as_of is None:
            return dict(clocks)
        if self.ledger.trained_to is None or as_of >= self.ledger.trained_to:
            self.ledger.train_to(as_of)
        out: dict[tuple[str, str, str], OpenClock] = {}
        for key, clock in clocks.items():
            item_clock = self._clock_of(clock.service, clock.kpi, clock.item_id, history_of, loads)
            snapshot = None if item_clock is None else item_clock.snapshot(clock.as_of)
            probability = None if snapshot is None else self.ledger.probability(snapshot)
            out[key] = replace(clock, breach_probability=probability)
        return out

    def period_forecasts(self, as_of: datetime | None) -> list[PeriodForecast]:
        """Each forecastable KPI's period running at ``as_of`` (the latest event time, after
        ``annotate`` trained the model to it): the rows of ``pulse_period_forecasts``, equal
        to ``period_outlook.period_forecasts`` of the same events at ``as_of``."""
        if as_of is None:
            return []
        if self.ledger.trained_to is None or as_of > self.ledger.trained_to:
            self.ledger.train_to(as_of)
        if self.ledger.trained_to != as_of:
            raise ValueError("period_forecasts: as_of is before the instant the model is at")
        out: list[PeriodForecast] = []
        kpis = {k.id: k for ks in self._kpis.values() for k in ks if not k.period.is_rolling}
        for kpi_id in sorted(kpis):
            records = self._records.get(kpi_id)
            if not records:
                continue
            open_items = []
            for clocks in self._clocks.values():
                for clock in clocks:
                    if clock.kpi.id != kpi_id:
                        continue
                    snapshot = clock.snapshot(as_of)
                    if snapshot is not None:
                        open_items.append(
                            OpenItem(
                                clock.item.key,
                                clock.item.opened_at,
                                self.ledger.probability(snapshot),
                            )
                        )
            ordered = [records[k] for k in sorted(records)]
            out.append(
                forecast_running_period(self.contract, kpis[kpi_id], ordered, open_items, as_of)
            )
        return out

    def _clock_of(
        self,
        service: str,
        kpi: str,
        item_id: str,
        history_of: Callable[[str, str], ItemHistory | None],
        loads: Mapping[str, LoadReader],
    ) -> ItemClock | None:
        key = (service, item_id)
        clocks = self._clocks.get(key)
        if clocks is None:
            history = history_of(service, item_id)
            kpis = self._kpis.get(service)
            if history is None or not kpis:
                return None
            clocks = tuple(
                ItemClock(self.contract, service, k, history, loads[service]) for k in kpis
            )
            self._clocks[key] = clocks
        return next((c for c in clocks if c.kpi.id == kpi), None)


def grid_predictions(
    contract: Contract, service_items: Mapping[str, Sequence[ItemHistory]]
) -> list[BreachPrediction]:
    """Every open clock at every instant of the contract's sample grid (see the module doc)."""
    clocks = all_item_clocks(contract, service_items)
    if not clocks:
        return []
    items = [i for group in service_items.values() for i in group]
    first = min(i.first_event_at for i in items)
    last = max(i.ordered()[-1][1].time for i in items)
    zone = ZoneInfo(contract.client.time_zone)
    grid = sample_grid(first, last, contract.monitoring.step, zone)
    queries = []
    for clock in clocks:
        span = clock.open_between()
        if span is None:
            continue
        lo = bisect.bisect_left(grid, span[0])
        hi = len(grid) if span[1] is None else bisect.bisect_left(grid, span[1])
        for at in grid[lo:hi]:
            snapshot = clock.snapshot(at)
            if snapshot is not None:
                queries.append(snapshot)
    answers = predictions_over_time(queries, settled_cases(clocks), contract.monitoring.lateness)
    return [
        BreachPrediction(
            contract.contract,
            s.service,
            s.kpi,
            s.item_id,
            s.at,
            s.priority,
            s.share_used,
            p,
        )
        for s, p in answers
    ]
