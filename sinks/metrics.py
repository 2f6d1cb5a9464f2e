"""Prometheus metrics about the pipeline itself (``PipelineMetrics``), on an injected registry.

The contracts' indicators and outcomes are collected at scrape time by
``outcome_pulse.sinks.indicator_metrics.IndicatorGauges``.

Pipeline labels stay low-cardinality: event ``type`` (a closed set), dead-letter ``reason`` (a
closed set of codes) and ``partition`` (bounded by the topic's partition count). Names follow
Prometheus conventions and are linted by ``promtool check metrics`` in the tests.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.exposition import generate_latest

from outcome_pulse.sinks.health_metrics import HealthMetrics

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000)


class PipelineMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "pulse_events", "Valid events processed, by CloudEvents type.", ["type"], registry=r
        )
        self.dead_letters = Counter(
            "pulse_dead_letters",
            "Records sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=r,
        )
        self.processing_latency = Histogram(
            "pulse_event_processing_latency_seconds",
            "Time from the Kafka record's timestamp to its rows being committed to the database.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "pulse_consumer_lag_messages",
            "Messages in the events topic not yet processed by this worker, per partition.",
            ["partition"],
            registry=r,
        )
        self.flush_seconds = Histogram(
            "pulse_sink_flush_seconds",
            "Duration of one database flush (COPY into staging and upsert).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_rows = Histogram(
            "pulse_sink_batch_rows",
            "Event rows written per database flush.",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.items_tracked = Gauge(
            "pulse_items_tracked", "Items whose state this worker holds.", registry=r
        )
        self.health = HealthMetrics(r)

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
