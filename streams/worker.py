"""``pulse worker``: create topics and schema, serve metrics, run the faust worker."""

from __future__ import annotations

import asyncio
import logging

import faust

from sinks.metrics import PipelineMetrics
from sinks.postgres import PostgresSink
from sinks.schema import migrate
from streams.app import create_app
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
    app = create_app(settings, sink=sink, metrics=metrics)

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
