"""In-memory stand-ins for the worker's adapters, for unit tests that wire through bootstrap."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from prometheus_client import CollectorRegistry

from outcome_pulse.sinks.monitor_store import MonitorStore
from outcome_pulse.streams.bootstrap import Clock, WorkerAdapters
from outcome_pulse.streams.wire.events import EventEnvelope


class MemoryEventSink:
    """Keeps every write: (events, item states) per flush."""

    def __init__(self) -> None:
        self.flushes: list[tuple[list[EventEnvelope], list[dict[str, Any]]]] = []

    async def write(
        self, events: Sequence[EventEnvelope], states: Sequence[dict[str, Any]]
    ) -> None:
        self.flushes.append((list(events), list(states)))


class NoMonitorStore:
    """A monitor store for tests that never tick the monitor: any use of it fails loudly."""

    def tick(self) -> Any:
        raise AssertionError("this test's monitor store is not meant to be used")

    async def close(self) -> None:
        return None


def memory_adapters(clock: Clock, sink: MemoryEventSink | None = None) -> WorkerAdapters:
    return WorkerAdapters(
        event_sink=sink or MemoryEventSink(),
        monitor_store=cast(MonitorStore, NoMonitorStore()),
        registry=CollectorRegistry(),
        clock=clock,
    )


def fixed_clock(at: datetime) -> Clock:
    return lambda: at
