"""``pulse ingest http`` and ``pulse ingest poll``: the live feeds' commands (wiring only)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.streams.bootstrap import load_settings
from outcome_pulse.streams.settings import PulseSettings

ingest_app = typer.Typer(
    help="Live feeds: a webhook receiver and API pollers producing events to Kafka.",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="feeds YAML (default: PULSE_FEEDS_CONFIG)")
]


def _feeds_path(settings: PulseSettings, config: Path | None) -> Path:
    path = config or settings.feeds_config
    if path is None:
        raise ConfigError("no feeds file: pass --config FILE or set PULSE_FEEDS_CONFIG")
    return path


@ingest_app.command("http")
def ingest_http(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="default PULSE_INGEST_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default PULSE_INGEST_PORT")] = None,
    loglevel: Annotated[str, typer.Option(help="log level")] = "INFO",
) -> None:
    """Receive JSON change notifications on POST /hooks/<feed> and produce them as events."""
    import uvicorn

    from outcome_pulse.sinks.ingest_metrics import IngestMetrics
    from outcome_pulse.streams.kafka.topics import ensure_topics
    from outcome_pulse.streams.live.feeds import load_feeds_file, webhook_feeds
    from outcome_pulse.streams.live.producer import LiveProducer
    from outcome_pulse.streams.live.webhook_app import WebhookReceiver, create_app

    logging.basicConfig(level=loglevel, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings()
    feeds = webhook_feeds(load_feeds_file(_feeds_path(settings, config)), settings.feed_secrets)
    if not feeds:
        raise ConfigError("the feeds file has no feeds: section, nothing to receive")
    asyncio.run(ensure_topics(settings))
    metrics = IngestMetrics()
    producer = LiveProducer(settings)
    receiver = WebhookReceiver(settings, feeds, producer, metrics)
    app = create_app(receiver, producer, metrics)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host or settings.ingest_host,
            port=port or settings.ingest_port,
            log_level=loglevel.lower(),
            access_log=False,
            server_header=False,
        )
    )
    server.run()


@ingest_app.command("poll")
def ingest_poll(
    config: ConfigOption = None,
    name: Annotated[
        list[str] | None, typer.Option("--name", "-n", help="only this poll (repeatable)")
    ] = None,
    once: Annotated[bool, typer.Option(help="one cycle of each poll, then exit")] = False,
    metrics_port: Annotated[
        int | None, typer.Option(help="serve Prometheus metrics on 127.0.0.1:PORT")
    ] = None,
    loglevel: Annotated[str, typer.Option(help="log level")] = "INFO",
) -> None:
    """Poll ServiceNow's Table API or Jira's search for records changed since a checkpoint."""
    from prometheus_client import start_http_server

    from outcome_pulse.sinks.ingest_metrics import IngestMetrics
    from outcome_pulse.streams.kafka.topics import ensure_topics
    from outcome_pulse.streams.live.feeds import load_feeds_file
    from outcome_pulse.streams.live.polling import run_polls

    logging.basicConfig(level=loglevel, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings()
    polls = load_feeds_file(_feeds_path(settings, config)).polls
    if name:
        unknown = sorted(set(name) - set(polls))
        if unknown:
            raise ConfigError(f"no poll named {', '.join(unknown)}; configured: {', '.join(polls)}")
        polls = {n: p for n, p in polls.items() if n in name}
    if not polls:
        raise ConfigError("the feeds file has no polls: section, nothing to poll")
    asyncio.run(ensure_topics(settings))
    metrics = IngestMetrics()
    if metrics_port is not None:
        start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.registry)
    failed = asyncio.run(run_polls(settings, polls, metrics, once=once))
    if failed:
        raise typer.Exit(1)
