"""An in-memory stand-in for ``MonitorStore``, for unit tests of the streaming driver
(``ContractMonitor``) without PostgreSQL: the same calls, the same rules (the inbox holds what
was added since; ``write`` upserts and deletes by key and keeps late events once per event;
``replace`` makes a contract's rows exactly the ones given). Integration tests use the real
store against a real PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any, cast

from outcome_pulse.processors.alerting.episodes import AlertEpisode
from outcome_pulse.processors.forecast.drift import DriftSignal
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.processors.measurements import (
    Delta,
    IndicatorPoint,
    LateEvent,
    OpenClock,
    PeriodOutcome,
)
from outcome_pulse.processors.partition_progress import PartitionProgress
from outcome_pulse.sinks.monitor_store import InboxBatch, MonitorStore


class MemoryMonitorStore:
    """Stored events, the inbox, partition progress and the monitor's rows, in memory."""

    def __init__(self, owner: str = "memory") -> None:
        self.owner = owner
        # Keyed as pulse_events: (event time, source, event id); an event is (source, id).
        self.events: dict[tuple[datetime, str, str], tuple[ItemEvent, int]] = {}
        self.inbox_keys: set[tuple[datetime, str, str]] = set()
        self.progress: dict[tuple[str, int], tuple[datetime, bool, timedelta]] = {}
        self.points: dict[Any, IndicatorPoint] = {}
        self.outcomes: dict[Any, PeriodOutcome] = {}
        self.revisions: dict[Any, int] = {}
        """Corrections of final period outcomes, by key (the revision column)."""
        self.revised_fields: dict[Any, set[str]] = {}
        """The fields of final period outcomes that later writes changed, by key."""
        self.revised_points: set[Any] = set()
        """Keys of final indicator points whose value a later write changed."""
        self.late: dict[tuple[str, str, str], LateEvent] = {}
        self.clocks: dict[str, list[OpenClock]] = {}
        self.forecasts: dict[str, list[PeriodForecast]] = {}
        self.drift: dict[str, list[DriftSignal]] = {}
        self.watermarks: dict[str, tuple[datetime, datetime]] = {}
        self.alerts: dict[tuple[str, str, datetime], AlertEpisode] = {}
        self.lease: str | None = None
        self.driver_frontiers: dict[str, datetime | None] = {}
        self.applied: set[tuple[datetime, str, str]] = set()
        """Events applied since the latest checkpoints (pulse_monitor_applied)."""
        self.checkpoint_rows: dict[str, tuple[int, str, bytes]] = {}
        """contract -> (generation, fingerprint, state) (pulse_engine_checkpoints)."""
        self.generation = 0
        """The latest checkpoints' generation (pulse_evaluation_shards.checkpoint_generation)."""

    def as_store(self) -> MonitorStore:
        return cast(MonitorStore, self)

    # -- what the event sink does -----------------------------------------------------------------

    def add(
        self,
        events: Iterable[tuple[ItemEvent, int]],
        partition: int | None = None,
        caught_up: bool = False,
    ) -> None:
        """Store events (a duplicate is not queued again) and, with ``partition``, that
        partition's progress (its silence reset to zero)."""
        latest: datetime | None = None
        for event, sequence in events:
            key = (event.time, event.source, event.event_id)
            if key not in self.events:
                self.events[key] = (event, sequence)
                self.inbox_keys.add(key)
            latest = event.time if latest is None or event.time > latest else latest
        if partition is not None and latest is not None:
            held = self.progress.get(("events", partition))
            at = latest if held is None else max(held[0], latest)
            self.progress[("events", partition)] = (at, caught_up, timedelta(0))

    def silence(self, partition: int, for_: timedelta, caught_up: bool = True) -> None:
        """Let ``partition`` be silent for ``for_`` of wall time (caught up, by default)."""
        at, _, _ = self.progress[("events", partition)]
        self.progress[("events", partition)] = (at, caught_up, for_)

    # -- MonitorStore -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def tick(self) -> AsyncIterator[_Tick]:
        tick = _Tick(self, taken_over=self.lease != self.owner)
        self.lease = self.owner
        yield tick

    async def close(self) -> None:
        return None


class _Tick:
    def __init__(self, store: MemoryMonitorStore, taken_over: bool) -> None:
        self.store = store
        self.taken_over = taken_over

    async def partition_progress(self) -> list[PartitionProgress]:
        return [
            PartitionProgress(topic, partition, at, caught_up, silent)
            for (topic, partition), (at, caught_up, silent) in sorted(self.store.progress.items())
        ]

    async def inbox(self, limit: int = 50_000, *, with_events: bool = True) -> InboxBatch:
        keys = sorted(self.store.inbox_keys)[:limit]
        if not with_events:
            return InboxBatch([], keys)
        events = sorted(
            (self.store.events[k] for k in keys),
            key=lambda e: (e[0].time, e[1], e[0].event_id),
        )
        return InboxBatch(events, keys)

    async def all_events(self, sources: Sequence[str]) -> list[tuple[ItemEvent, int]]:
        return sorted(
            (e for e in self.store.events.values() if e[0].source in sources),
            key=lambda e: (e[0].time, e[1], e[0].event_id),
        )

    async def item_events(self, items: Sequence[tuple[str, str]]) -> list[tuple[ItemEvent, int]]:
        wanted = set(items)
        return sorted(
            (
                e
                for k, e in self.store.events.items()
                if (e[0].source, e[0].item_id) in wanted and k not in self.store.inbox_keys
            ),
            key=lambda e: (e[0].time, e[1], e[0].event_id),
        )

    async def done(self, keys: Sequence[tuple[datetime, str, str]]) -> None:
        applied = self.store.inbox_keys.intersection(keys)
        self.store.inbox_keys.difference_update(applied)
        self.store.applied.update(applied)

    async def checkpoints(self, contracts: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        return {
            contract: (fingerprint, state)
            for contract, (generation, fingerprint, state) in self.store.checkpoint_rows.items()
            if contract in contracts and generation == self.store.generation
        }

    async def applied_events(self, sources: Sequence[str]) -> list[tuple[ItemEvent, int]]:
        return sorted(
            (
                self.store.events[k]
                for k in self.store.applied
                if k in self.store.events and self.store.events[k][0].source in sources
            ),
            key=lambda e: (e[0].time, e[1], e[0].event_id),
        )

    async def recorded_frontiers(self, contracts: Sequence[str]) -> dict[str, datetime | None]:
        return {c: f for c, f in self.store.driver_frontiers.items() if c in contracts}

    async def write_checkpoints(self, states: Sequence[tuple[str, str, bytes]]) -> int:
        self.store.generation += 1
        for contract, fingerprint, state in states:
            self.store.checkpoint_rows[contract] = (self.store.generation, fingerprint, state)
        self.store.applied.clear()
        return self.store.generation

    async def register_contracts(self, rows: Sequence[Any]) -> None:
        return None

    async def write(
        self,
        contract: str,
        points: Delta[Any, IndicatorPoint],
        outcomes: Delta[Any, PeriodOutcome],
        late: Sequence[LateEvent] = (),
    ) -> None:
        for key in points.deletes:
            self.store.points.pop(key, None)
        for key in outcomes.deletes:
            self.store.outcomes.pop(key, None)
        for point in points.upserts:
            held = self.store.points.get(point.key)
            if held is not None and held.final and held.value != point.value:
                self.store.revised_points.add(point.key)
            self.store.points[point.key] = point
        self._upsert_outcomes(outcomes.upserts)
        for event in late:
            self.store.late.setdefault(event.key, event)

    async def replace(
        self,
        contract: str,
        points: Iterable[IndicatorPoint],
        outcomes: Iterable[PeriodOutcome],
    ) -> None:
        self.store.points = {k: p for k, p in self.store.points.items() if k[0] != contract}
        self.store.points.update((p.key, p) for p in points)
        kept = {k: o for k, o in self.store.outcomes.items() if k[0] != contract}
        given = list(outcomes)
        self.store.outcomes = {
            **kept,
            **{o.key: self.store.outcomes[o.key] for o in given if o.key in self.store.outcomes},
        }
        self._upsert_outcomes(given)

    def _upsert_outcomes(self, rows: Iterable[PeriodOutcome]) -> None:
        for outcome in rows:
            held = self.store.outcomes.get(outcome.key)
            if held is not None and held != outcome and held.final:
                self.store.revisions[outcome.key] = self.store.revisions.get(outcome.key, 0) + 1
                self.store.revised_fields.setdefault(outcome.key, set()).update(
                    f.name
                    for f in fields(held)
                    if getattr(held, f.name) != getattr(outcome, f.name)
                )
            self.store.outcomes[outcome.key] = outcome

    async def replace_open_clocks(self, contract: str, clocks: Sequence[OpenClock]) -> None:
        self.store.clocks[contract] = list(clocks)

    async def write_alerts(
        self, contract: str, alerts: Delta[tuple[str, str, datetime], AlertEpisode]
    ) -> None:
        for key in alerts.deletes:
            self.store.alerts.pop(key, None)
        self.store.alerts.update((a.key, a) for a in alerts.upserts)

    async def replace_alerts(self, contract: str, alerts: Sequence[AlertEpisode]) -> None:
        self.store.alerts = {k: a for k, a in self.store.alerts.items() if k[0] != contract}
        self.store.alerts.update((a.key, a) for a in alerts)

    async def replace_forecasts(self, contract: str, forecasts: Sequence[PeriodForecast]) -> None:
        self.store.forecasts[contract] = list(forecasts)

    async def replace_drift_signals(self, contract: str, signals: Sequence[DriftSignal]) -> None:
        self.store.drift[contract] = list(signals)

    async def record_watermark(
        self,
        contract: str,
        frontier: datetime,
        watermark: datetime,
        driver_frontier: datetime | None = None,
    ) -> None:
        self.store.watermarks[contract] = (frontier, watermark)
        self.store.driver_frontiers[contract] = driver_frontier
