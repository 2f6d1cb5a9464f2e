"""``pulse worker``: create topics and schema, serve metrics, run the faust worker."""

from __future__ import annotations

import asyncio
import logging

import faust

from outcome_pulse.processors.vocabulary import INDICATOR_HELP
from outcome_pulse.sinks.event_sink import PostgresSink
from outcome_pulse.sinks.indicator_metrics import IndicatorGauges
from outcome_pulse.sinks.metrics import PipelineMetrics
from outcome_pulse.sinks.schema import migrate
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.monitor import ContractMonitor
from outcome_pulse.streams.kafka.app import create_app
from outcome_pulse.streams.kafka.topics import ensure_topics
from outcome_pulse.streams.settings import PulseSettings

log = logging.getLogger(__name__)


def run_worker(settings: PulseSettings, *, loglevel: str = "WARNING") -> None:
    """Prepare everything the worker needs, then block in faust's worker loop."""
    asyncio.run(ensure_topics(settings))
    migrate(settings.dsn, retention=settings.retention_policy)
    metrics = PipelineMetrics()
    metrics.serve(settings.metrics_host, settings.metrics_port)
    sink = PostgresSink(settings.dsn)
    contracts = [load_contract(path) for path in settings.contract_paths]
    # The monitor runs even with no contract: it keeps the inbox (which every event insert
    # fills) from growing, and a worker started later with contracts rebuilds from all events.
    gauges = IndicatorGauges(metrics.registry, help=INDICATOR_HELP) if contracts else None
    monitor = ContractMonitor(contracts, settings.dsn, gauges=gauges)
    if contracts:
        log.warning("monitoring contract(s): %s", ", ".join(c.contract for c in contracts))
    app = create_app(settings, sink=sink, metrics=metrics, monitor=monitor)

    log.warning(
        "worker %s consuming %s from %s; metrics on http://%s:%d/metrics",
        settings.app_id,
        settings.events_topic,
        settings.bootstrap,
        settings.metrics_host,
        settings.metrics_port,
    )
    faust.Worker(
        app, loglevel=loglevel, quiet=True, redirect_stdouts=False
    ).execute_from_commandline()
