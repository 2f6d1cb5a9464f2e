"""Wiring of ``pulse ingest poll``: one ``Poller`` per configured poll, run every ``interval``.

A failed cycle (the API, or Kafka) is logged and counted and leaves the checkpoint where it was;
the next cycle starts from it. With ``once``, each poll runs one cycle and the failures are
returned (the command exits non-zero).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import httpx

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.sinks.ingest_metrics import IngestMetrics
from outcome_pulse.streams.errors import BrokerError, SourceApiError
from outcome_pulse.streams.live.checkpoint import CheckpointFile
from outcome_pulse.streams.live.feeds import PollConfig, read_secret
from outcome_pulse.streams.live.json_mapping import load_live_mapping
from outcome_pulse.streams.live.poll_apis import JiraSearch, PolledApi, ServiceNowTable
from outcome_pulse.streams.live.poller import Poller
from outcome_pulse.streams.live.producer import LiveProducer
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import EARLIEST_EVENT_TIME

log = logging.getLogger(__name__)


def polled_api(spec: PollConfig) -> PolledApi:
    if spec.api == "servicenow_table":
        return ServiceNowTable(spec.table, spec.page_size)
    return JiraSearch(spec.jql, spec.page_size)


def http_client(name: str, spec: PollConfig, settings: PulseSettings) -> httpx.AsyncClient:
    auth: httpx.Auth | None = None
    headers = {"Accept": "application/json"}
    if spec.auth is not None:
        secret = read_secret(name, spec.auth.secret_file, settings.feed_secrets)
        if spec.auth.scheme == "basic":
            if not spec.auth.user:
                raise ConfigError(f"poll {name}: auth.user is required with scheme basic")
            auth = httpx.BasicAuth(spec.auth.user, secret.get_secret_value())
        else:
            headers["Authorization"] = f"Bearer {secret.get_secret_value()}"
    return httpx.AsyncClient(base_url=spec.url, auth=auth, headers=headers, timeout=60.0)


def start_time(name: str, spec: PollConfig) -> datetime:
    if spec.start is None:
        return EARLIEST_EVENT_TIME
    try:
        start = datetime.fromisoformat(spec.start)
    except ValueError:
        raise ConfigError(f"poll {name}: start {spec.start!r} is not an ISO 8601 time") from None
    if start.tzinfo is None:
        raise ConfigError(f"poll {name}: start {spec.start!r} needs a UTC offset")
    return start


async def run_polls(
    settings: PulseSettings,
    polls: dict[str, PollConfig],
    metrics: IngestMetrics,
    *,
    once: bool,
) -> list[str]:
    mappings = {name: load_live_mapping(spec.mapping, source=name) for name, spec in polls.items()}
    starts = {name: start_time(name, spec) for name, spec in polls.items()}
    clients = {name: http_client(name, spec, settings) for name, spec in polls.items()}
    producer = LiveProducer(settings)
    try:
        await producer.start()
        pollers = [
            (
                Poller(
                    name,
                    polled_api(spec),
                    mappings[name],
                    producer,
                    CheckpointFile(spec.checkpoint),
                    clients[name],
                    start=starts[name],
                    overlap=spec.overlap,
                    metrics=metrics,
                    max_event_bytes=settings.max_event_bytes,
                ),
                spec.interval.total_seconds(),
            )
            for name, spec in polls.items()
        ]
        results = await asyncio.gather(*(_run(p, every, once) for p, every in pollers))
        return [name for name, ok in zip(polls, results, strict=True) if not ok]
    finally:
        for client in clients.values():
            await client.aclose()
        await producer.stop()


async def _run(poller: Poller, every: float, once: bool) -> bool:
    while True:
        try:
            report = await poller.cycle()
            log.info(
                "poll %s: %d pages, %d records, %d events, %d dead letters; checkpoint %s",
                poller.name,
                report.pages,
                report.records,
                report.events,
                report.dead_letters,
                report.since.isoformat(),
            )
            ok = True
        except (SourceApiError, BrokerError) as exc:
            log.error("poll %s: cycle failed, checkpoint kept: %s", poller.name, exc)
            ok = False
        if once:
            return ok
        await asyncio.sleep(every)
