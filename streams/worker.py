"""``pulse worker``: create topics and schema, serve metrics, run the faust worker."""

from __future__ import annotations

import asyncio
import logging

import faust

from processors.evaluation import INDICATOR_HELP
from sinks.metrics import IndicatorGauges, PipelineMetrics
from sinks.postgres import PostgresSink
from sinks.schema import migrate
from streams.app import create_app
from streams.contracts import load_contract
from streams.monitor import ContractMonitor
from streams.settings import PulseSettings
from streams.topics import ensure_topics

log = logging.getLogger(__name__)


def run_worker(settings: PulseSettings, *, loglevel: str = "WARNING") -> None:
    """Prepare everything the worker needs, then block in faust's worker loop."""
    asyncio.run(ensure_topics(settings))
    migrate(settings.dsn)
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
