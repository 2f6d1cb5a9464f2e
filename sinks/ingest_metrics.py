"""Prometheus metrics of the live feeds (``pulse ingest http`` and ``pulse ingest poll``), on an
injected registry.

Labels stay bounded: ``feed`` is a configured feed or poll name (an unknown one is counted as
``unknown``), ``outcome`` and ``reason`` are closed sets of codes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

# Every outcome of a webhook request, so each can be counted from zero.
REQUEST_OUTCOMES = (
    "accepted",  # events produced and acknowledged by Kafka (2xx)
    "ignored",  # authenticated and valid, but nothing to measure (2xx)
    "rejected",  # malformed or unmappable body: 4xx with a reason, and a dead letter
    "unauthorized",  # 401: no or wrong signature or token; nothing produced
    "too_large",  # 413: body over the limit; nothing read past it, nothing produced
    "rate_limited",  # 429 with Retry-After
    "unknown_feed",  # 404
    "unavailable",  # 503: Kafka did not acknowledge; the sender should retry
)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "pulse_ingest_requests",
            "Webhook requests, by feed and outcome.",
            ["feed", "outcome"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "pulse_ingest_request_seconds",
            "Time from a webhook request's arrival to its response, by feed.",
            ["feed"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.events = Counter(
            "pulse_ingest_events",
            "Events produced to Kafka and acknowledged, by feed.",
            ["feed"],
            registry=r,
        )
        self.dead_letters = Counter(
            "pulse_ingest_dead_letters",
            "Notifications or records sent to the dead-letter topic, by feed and reason.",
            ["feed", "reason"],
            registry=r,
        )
        self.poll_pages = Counter(
            "pulse_poll_pages",
            "Pages fetched by a poller, by poll and outcome (produced, failed).",
            ["poll", "outcome"],
            registry=r,
        )
        self.poll_checkpoint = Gauge(
            "pulse_poll_checkpoint_timestamp_seconds",
            "The update time a poller has durably reached (Unix seconds), by poll.",
            ["poll"],
            registry=r,
        )

    def declare_feed(self, feed: str) -> None:
        """Create every outcome series of ``feed`` at zero, so rates work from the first one."""
        for outcome in REQUEST_OUTCOMES:
            self.requests.labels(feed, outcome)
        self.events.labels(feed)
        self.request_seconds.labels(feed)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
