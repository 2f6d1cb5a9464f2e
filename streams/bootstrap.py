"""The composition root: the one place that chooses the real adapters and wires the entry points.

    settings ──► load_settings()                       the one PulseSettings, from PULSE_* / .env
    Kafka    ──► faust app (kafka.app.create_app)      broker, topics, the changelog table
    PostgreSQL ► PostgresSink, MonitorStore            events and states; the monitor's ticks
    Prometheus ► a CollectorRegistry per worker        PipelineMetrics + IndicatorGauges on it
    clock    ──► utc_now                               injected into the decoder and dead letters

``build_worker`` takes ``WorkerAdapters`` (``real_adapters(settings)`` by default) and returns the
wired ``Worker``; ``run_worker`` is ``pulse worker``. ``prepare_stack`` (topics and schema) is
what the worker, the demo and the test sandboxes run before anything else. The CLI commands, the
demo and the benchmarks get their settings, clock and adapters from here; nothing else builds a
real adapter, and unit tests build the worker with in-memory ones.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import faust
from prometheus_client import CollectorRegistry

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.vocabulary import INDICATOR_HELP
from outcome_pulse.sinks.event_sink import PostgresSink
from outcome_pulse.sinks.indicator_metrics import IndicatorGauges
from outcome_pulse.sinks.metrics import PipelineMetrics
from outcome_pulse.sinks.monitor_store import MonitorStore
from outcome_pulse.sinks.schema import SchemaReport, migrate
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.monitor import ContractMonitor
from outcome_pulse.streams.kafka.app import create_app
from outcome_pulse.streams.kafka.ingest import EventSink
from outcome_pulse.streams.kafka.topics import ensure_topics
from outcome_pulse.streams.settings import PulseSettings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock (timezone-aware UTC); everything else receives a clock."""
    return datetime.now(UTC)


def load_settings(**overrides: object) -> PulseSettings:
    """The settings, read once from the environment (``PULSE_*``) and ``.env``."""
    settings = PulseSettings()
    return settings.model_copy(update=overrides) if overrides else settings


def prepare_stack(settings: PulseSettings) -> SchemaReport:
    """Create the topics and migrate the schema (idempotent); the first step of every run."""
    asyncio.run(ensure_topics(settings))
    return migrate(settings.dsn, retention=settings.retention_policy)


@dataclass(frozen=True, slots=True)
class WorkerAdapters:
    """What a worker talks to besides Kafka (the faust app is the Kafka side)."""

    event_sink: EventSink
    monitor_store: MonitorStore
    registry: CollectorRegistry
    clock: Clock


def real_adapters(settings: PulseSettings) -> WorkerAdapters:
    # The owner token names the process, so an operator (or a test) sees who monitors.
    owner = f"monitor-pid{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return WorkerAdapters(
        event_sink=PostgresSink(settings.dsn),
        monitor_store=MonitorStore(settings.dsn, owner=owner),
        registry=CollectorRegistry(),
        clock=utc_now,
    )


@dataclass(frozen=True, slots=True)
class Worker:
    """A wired worker: the faust app, its metrics and the contract monitor it runs."""

    app: faust.App
    metrics: PipelineMetrics
    monitor: ContractMonitor
    gauges: IndicatorGauges | None


def build_worker(
    settings: PulseSettings,
    contracts: Sequence[Contract],
    adapters: WorkerAdapters | None = None,
) -> Worker:
    adapters = adapters or real_adapters(settings)
    metrics = PipelineMetrics(adapters.registry)
    # The monitor runs even with no contract: it keeps the inbox (which every event insert
    # fills) from growing, and a worker started later with contracts rebuilds from all events.
    gauges = IndicatorGauges(adapters.registry, help=INDICATOR_HELP) if contracts else None
    monitor = ContractMonitor(contracts, adapters.monitor_store, gauges=gauges)
    app = create_app(
        settings, sink=adapters.event_sink, metrics=metrics, clock=adapters.clock, monitor=monitor
    )
    return Worker(app, metrics, monitor, gauges)


def run_worker(settings: PulseSettings, *, loglevel: str = "WARNING") -> None:
    """``pulse worker``: prepare the stack, wire the worker, serve metrics, run faust's loop."""
    prepare_stack(settings)
    contracts = [load_contract(path) for path in settings.contract_paths]
    worker = build_worker(settings, contracts)
    worker.metrics.serve(settings.metrics_host, settings.metrics_port)
    if contracts:
        log.warning("monitoring contract(s): %s", ", ".join(c.contract for c in contracts))
    log.warning(
        "worker %s consuming %s from %s; metrics on http://%s:%d/metrics",
        settings.app_id,
        settings.events_topic,
        settings.bootstrap,
        settings.metrics_host,
        settings.metrics_port,
    )
    faust.Worker(
        worker.app, loglevel=loglevel, quiet=True, redirect_stdouts=False
    ).execute_from_commandline()
