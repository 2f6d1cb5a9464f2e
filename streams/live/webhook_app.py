"""``pulse ingest http``: the webhook receiver, a Starlette ASGI app served by uvicorn.

    POST /hooks/{feed}   a JSON change notification for a configured feed
    GET  /healthz        the process is up
    GET  /readyz         Kafka answers and has the events topic (503 otherwise)
    GET  /metrics        Prometheus exposition (outcome_pulse.sinks.ingest_metrics)

A notification goes through, in this order: the feed must exist (404); the body must fit
``PULSE_INGEST_MAX_BODY_BYTES`` (413, nothing read past the limit); the signature or token must
be right (401, counted, nothing produced); the feed's rate must allow it (429 with Retry-After);
then it is mapped (``streams/live/notification_events.py``) and every event is checked by the
worker's own decoder. A body that cannot become valid events gets a 4xx with its reason and
detail, and a dead letter with its original bytes. Events are answered 200 only after Kafka
acknowledged all of them; if it did not, 503 with Retry-After, so the sender retries, and the
retry's events have the same ids.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from outcome_pulse.processors.errors import InvalidRecord
from outcome_pulse.sinks.ingest_metrics import IngestMetrics
from outcome_pulse.streams.errors import BrokerError
from outcome_pulse.streams.live.feeds import Feed
from outcome_pulse.streams.live.notification_events import (
    NotificationMapper,
    checked_events,
    parse_notification,
)
from outcome_pulse.streams.live.producer import LiveProducer
from outcome_pulse.streams.live.rate_limit import TokenBucket
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.deadletter import DeadLetter
from outcome_pulse.streams.wire.events import EventDecoder

log = logging.getLogger(__name__)

# 400: the body is not a JSON object; 422: it is, but cannot become valid events.
_SYNTAX_REASONS = frozenset({"empty", "not_utf8", "malformed_json", "not_an_object"})
RETRY_AFTER_UNAVAILABLE = 5


@dataclass
class _Outcome:
    status: int
    outcome: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class _TooLarge(Exception):
    pass


class WebhookReceiver:
    """The request handling, independent of the ASGI wiring (``create_app``)."""

    def __init__(
        self,
        settings: PulseSettings,
        feeds: dict[str, Feed],
        producer: LiveProducer,
        metrics: IngestMetrics,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._feeds = feeds
        self._producer = producer
        self._metrics = metrics
        self._clock = clock
        self._mappers = {name: NotificationMapper(f.mapping) for name, f in feeds.items()}
        self._buckets = {
            name: TokenBucket(f.rate.per_second, f.rate.burst, monotonic)
            for name, f in feeds.items()
        }
        self._decoder = EventDecoder(clock, max_bytes=settings.max_event_bytes)
        for name in feeds:
            metrics.declare_feed(name)

    async def hook(self, request: Request) -> Response:
        started = time.perf_counter()
        name = request.path_params["feed"]
        feed = self._feeds.get(name)
        label = name if feed is not None else "unknown"
        result = await self._handle(feed, request)
        self._metrics.requests.labels(label, result.outcome).inc()
        self._metrics.request_seconds.labels(label).observe(time.perf_counter() - started)
        if result.outcome not in ("accepted", "ignored"):
            log.info("feed %s: %s %s %s", label, result.status, result.outcome, result.body)
        return JSONResponse(result.body, status_code=result.status, headers=result.headers)

    async def _handle(self, feed: Feed | None, request: Request) -> _Outcome:
        if feed is None:
            return _Outcome(404, "unknown_feed", {"error": "no such feed"})
        limit = self._settings.ingest_max_body_bytes
        try:
            body = await _read_body(request, limit)
        except _TooLarge:
            return _Outcome(413, "too_large", {"error": f"the body is over {limit} bytes"})
        decision = feed.auth.check(request.headers, body)
        if not decision.ok:
            return _Outcome(401, "unauthorized", {"error": decision.problem})
        rate = self._buckets[feed.name].take()
        if not rate.allowed:
            return _Outcome(
                429,
                "rate_limited",
                {"error": f"over {feed.rate.per_second:g} requests/s for feed {feed.name}"},
                {"Retry-After": str(rate.retry_after)},
            )
        try:
            return await self._produce(feed, body)
        except BrokerError as exc:
            return _Outcome(
                503,
                "unavailable",
                {"error": f"not stored, retry: {exc}"},
                {"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
            )

    async def _produce(self, feed: Feed, body: bytes) -> _Outcome:
        try:
            payload = parse_notification(body)
            mapped = checked_events(self._mappers[feed.name], self._decoder, payload)
            events = mapped.events
        except InvalidRecord as exc:
            letter = DeadLetter(
                reason=exc.reason,
                detail=exc.detail,
                origin={
                    "feed": feed.name,
                    "channel": "http",
                    "body_sha256": hashlib.sha256(body).hexdigest(),
                },
                original=body,
            )
            await self._producer.send_dead_letters([letter])
            self._metrics.dead_letters.labels(feed.name, exc.reason).inc()
            status = 400 if exc.reason in _SYNTAX_REASONS else 422
            return _Outcome(status, "rejected", {"reason": exc.reason, "detail": exc.detail})
        if not events:
            return _Outcome(200, "ignored", {"events": 0, "ignored": mapped.ignored})
        await self._producer.send_events(events)
        self._metrics.events.labels(feed.name).inc(len(events))
        return _Outcome(200, "accepted", {"events": len(events), "ids": [e.id for e in events]})

    async def ready(self, request: Request) -> Response:
        if await self._producer.reachable():
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "kafka unreachable"}, status_code=503)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


def create_app(
    receiver: WebhookReceiver, producer: LiveProducer, metrics: IngestMetrics
) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await producer.start()
        try:
            yield
        finally:
            await producer.stop()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    routes = [
        Route("/hooks/{feed}", receiver.hook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", receiver.ready, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
