"""The composition root: the one place that chooses the real adapters and wires the entry points.

    settings ──► load_settings()                       the one PulseSettings, from PULSE_* / .env
    Kafka    ──► faust app (kafka.app.create_app)      broker, topics, the changelog table
                 or, role evaluate, kafka.evaluator    the evaluation shards' group only
    PostgreSQL ► PostgresSink, MonitorStore            events and states; the monitor's ticks
                 (ShardedMonitor)                      of the evaluation shards the group assigns
    Prometheus ► a CollectorRegistry per worker        PipelineMetrics + IndicatorGauges on it
    Alertmanager ► AlertmanagerClient (v2 API)         the monitor's alerts, via AlertDelivery
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
from datetime import UTC, datetime, timedelta

import faust
from prometheus_client import CollectorRegistry

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.vocabulary import INDICATOR_HELP
from outcome_pulse.sinks.alertmanager import AlertDelivery, AlertmanagerClient
from outcome_pulse.sinks.event_sink import PostgresSink
from outcome_pulse.sinks.indicator_metrics import IndicatorGauges
from outcome_pulse.sinks.metrics import PipelineMetrics
from outcome_pulse.sinks.monitor_store import MonitorStore
from outcome_pulse.sinks.risk_metrics import ItemRiskGauges
from outcome_pulse.sinks.schema import SchemaReport, migrate
from outcome_pulse.sinks.shard_fence import ensure_shards
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.monitor import Backlog
from outcome_pulse.streams.drivers.shards import ShardedMonitor
from outcome_pulse.streams.kafka.app import create_app
from outcome_pulse.streams.kafka.evaluator import create_evaluator_app, evaluation_group
from outcome_pulse.streams.kafka.gc_tuning import tune_garbage_collector
from outcome_pulse.streams.kafka.group_backlog import GroupBacklog
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
    """Create the topics, migrate the schema and add the evaluation shards' fence rows
    (idempotent); the first step of every run."""
    asyncio.run(ensure_topics(settings))
    report = migrate(settings.dsn, retention=settings.retention_policy)
    ensure_shards(settings.dsn, settings.evaluation_partitions)
    return report


@dataclass(frozen=True, slots=True)
class WorkerAdapters:
    """What a worker talks to besides Kafka (the faust app is the Kafka side)."""

    event_sink: EventSink
    monitor_store: MonitorStore
    registry: CollectorRegistry
    clock: Clock
    alertmanager: AlertmanagerClient | None = None
    """Where the monitor's alerts go; None: recorded in ``pulse_alerts`` only."""
    backlog: Backlog | None = None
    """Asks the broker which events partitions have records not yet stored (the watermark's
    idle rule); None: the sink's ``caught_up`` flag alone decides."""


def real_adapters(settings: PulseSettings) -> WorkerAdapters:
    # The owner token names the process, so an operator (or a test) sees who monitors, and the
    # consumer group that assigns it the shards (processors/shards.py: layouts are not mixed).
    group = evaluation_group(settings) if settings.worker_role == "evaluate" else settings.app_id
    owner = f"monitor-pid{os.getpid()}-{uuid.uuid4().hex[:8]}@{group}"
    return WorkerAdapters(
        event_sink=PostgresSink(settings.dsn),
        monitor_store=MonitorStore(settings.dsn, owner=owner),
        registry=CollectorRegistry(),
        clock=utc_now,
        alertmanager=AlertmanagerClient(settings.alertmanager) if settings.alert_delivery else None,
        backlog=GroupBacklog(settings.bootstrap, settings.app_id, settings.events_topic),
    )


def alert_delivery(
    settings: PulseSettings, client: AlertmanagerClient, metrics: PipelineMetrics, clock: Clock
) -> AlertDelivery:
    log.warning(
        "delivering alerts to Alertmanager at %s%s",
        client.url,
        " (also replayed history)" if settings.alert_deliver_historic else "",
    )
    return AlertDelivery(
        client,
        deliver_historic=settings.alert_deliver_historic,
        historic_after=timedelta(seconds=settings.alert_historic_after),
        resend_every=settings.alert_resend_seconds,
        min_firing=settings.alert_min_firing_seconds,
        clock=clock,
        metrics=metrics.health,
    )


@dataclass(frozen=True, slots=True)
class Worker:
    """A wired worker: the faust app, its metrics and the contract monitor it runs."""

    app: faust.App
    metrics: PipelineMetrics
    monitor: ShardedMonitor | None
    """None for a worker of role ``ingest`` (processes of role ``evaluate`` evaluate)."""
    gauges: IndicatorGauges | None


def build_worker(
    settings: PulseSettings,
    contracts: Sequence[Contract],
    adapters: WorkerAdapters | None = None,
) -> Worker:
    """The worker of ``settings.worker_role``: ``all`` ingests and evaluates, ``ingest`` only
    stores the events, ``evaluate`` only evaluates the contracts (streams/kafka/evaluator.py)."""
    adapters = adapters or real_adapters(settings)
    metrics = PipelineMetrics(adapters.registry)
    if settings.worker_role == "ingest":
        app = create_app(settings, sink=adapters.event_sink, metrics=metrics, clock=adapters.clock)
        return Worker(app, metrics, None, None)
    # The monitor runs even with no contract: it keeps the inbox (which every event insert
    # fills) from growing, and a worker started later with contracts rebuilds from all events.
    gauges = IndicatorGauges(adapters.registry, help=INDICATOR_HELP) if contracts else None
    delivery = None
    if contracts and adapters.alertmanager is not None:
        delivery = alert_delivery(settings, adapters.alertmanager, metrics, adapters.clock)
    risks = ItemRiskGauges(adapters.registry, settings.top_risk_items) if contracts else None
    monitor = ShardedMonitor(
        contracts,
        adapters.monitor_store,
        shards=settings.evaluation_partitions,
        gauges=gauges,
        risks=risks,
        idle_partition=timedelta(seconds=settings.idle_partition_seconds),
        health=metrics.health,
        on_alerts=None if delivery is None else delivery.offer,
        on_release=None if delivery is None else delivery.forget,
        backlog=adapters.backlog,
        checkpoint_every=timedelta(seconds=settings.checkpoint_seconds),
    )
    if settings.worker_role == "evaluate":
        app = create_evaluator_app(settings, monitor=monitor, delivery=delivery)
    else:
        app = create_app(
            settings,
            sink=adapters.event_sink,
            metrics=metrics,
            clock=adapters.clock,
            monitor=monitor,
            delivery=delivery,
        )
    return Worker(app, metrics, monitor, gauges)


def run_worker(settings: PulseSettings, *, loglevel: str = "WARNING") -> None:
    """``pulse worker``: prepare the stack, wire the worker, serve metrics, run faust's loop."""
    prepare_stack(settings)
    contracts = [load_contract(path) for path in settings.contract_paths]
    worker = build_worker(settings, contracts)
    worker.metrics.serve(settings.metrics_host, settings.metrics_port)
    if contracts and worker.monitor is not None:
        log.warning("monitoring contract(s): %s", ", ".join(c.contract for c in contracts))
    what = {
        "all": f"consuming {settings.events_topic} and evaluating the contracts",
        "ingest": f"consuming {settings.events_topic} (role ingest: evaluators evaluate)",
        "evaluate": f"evaluating the contracts (role evaluate, group {evaluation_group(settings)})",
    }[settings.worker_role]
    log.warning(
        "worker %s %s from %s; metrics on http://%s:%d/metrics",
        settings.app_id,
        what,
        settings.bootstrap,
        settings.metrics_host,
        settings.metrics_port,
    )
    tune_garbage_collector(settings.gc_gen0_threshold)
    faust.Worker(
        worker.app, loglevel=loglevel, quiet=True, redirect_stdouts=False
    ).execute_from_commandline()
