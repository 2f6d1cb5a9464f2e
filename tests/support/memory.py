"""In-memory stand-ins for the worker's adapters, for unit tests that wire through bootstrap."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from prometheus_client import CollectorRegistry

from outcome_pulse.processors.contract import Contract
from outcome_pulse.sinks.monitor_store import MonitorStore
from outcome_pulse.sinks.rows import event_row, unique_events
from outcome_pulse.streams.bootstrap import Clock, Worker, WorkerAdapters, build_worker
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import EventEnvelope


class MemoryEventSink:
    """Keeps every write: (events, item states) per flush."""

    def __init__(self) -> None:
        self.flushes: list[tuple[list[EventEnvelope], list[dict[str, Any]]]] = []

    async def write(
        self,
        events: Sequence[EventEnvelope],
        states: Sequence[dict[str, Any]],
        progress: Any = None,
    ) -> None:
        self.flushes.append((list(events), list(states)))

    async def stored_events(self, keys: Sequence[tuple[str, str, str]]) -> dict[Any, Any]:
        return stored_rows(self.flushes, keys)


def stored_rows(
    flushes: Sequence[tuple[Sequence[EventEnvelope], Any]], keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], list[tuple[Any, ...]]]:
    """``EventSink.stored_events`` over the events of ``flushes``: the first copy of each
    (time, source, id) is the stored one, as ``pulse_events``' key keeps it."""
    wanted = set(keys)
    found: dict[tuple[str, str, str], list[tuple[Any, ...]]] = {}
    for event in unique_events(e for events, _ in flushes for e in events):
        key = (event.source, event.subject, event.id)
        if key in wanted:
            found.setdefault(key, []).append(event_row(event))
    return found


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


@contextmanager
def wired_worker(
    settings: PulseSettings, contracts: Sequence[Contract], adapters: WorkerAdapters
) -> Iterator[Worker]:
    """``bootstrap.build_worker`` for a test, closing the event loops faust made on the way.

    A faust app that is never started leaves its loop and its consumer thread's loop open (the
    worker's shutdown would close them); the suite treats the ResourceWarning as an error.
    """
    worker = build_worker(settings, contracts, adapters)
    try:
        yield worker
    finally:
        consumer = getattr(worker.app, "_consumer", None)
        thread = getattr(consumer, "_thread", None)
        loops = [getattr(thread, "thread_loop", None), worker.app.loop]
        for loop in loops:
            if loop is not None and not loop.is_running() and not loop.is_closed():
                loop.close()
        asyncio.set_event_loop(None)
