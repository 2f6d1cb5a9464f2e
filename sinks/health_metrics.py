"""Metrics about the pipeline's own health that its Prometheus rules watch
(``deploy/prometheus/pulse_pipeline_rules.yml``): the contract monitor's rounds, database sink
errors and alert deliveries to Alertmanager."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

DELIVERY_OUTCOMES = ("sent", "failed", "historic")


class HealthMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.monitor_rounds = Counter(
            "pulse_monitor_rounds",
            "Contract monitor rounds, by result (ok or failed).",
            ["result"],
            registry=r,
        )
        self.monitor_last_success = Gauge(
            "pulse_monitor_last_success_timestamp_seconds",
            "Unix time of the contract monitor's latest successful round (0: none yet).",
            registry=r,
        )
        self.contract_starts = Counter(
            "pulse_monitor_contract_starts",
            "Contracts the monitor started evaluating (a shard claimed, a restart, a failure), "
            "by how: checkpoint (loaded from its engine checkpoint) or rebuild (from all stored "
            "events).",
            ["how"],
            registry=r,
        )
        self.checkpoints_ignored = Counter(
            "pulse_engine_checkpoints_ignored",
            "Engine checkpoints found but not loaded (the contract rebuilt instead), by reason: "
            "fingerprint (another contract version or engine code), unreadable, or trimmed (an "
            "event applied since lies behind its trim's horizon: rebuilt from the applied events).",
            ["reason"],
            registry=r,
        )
        self.sink_errors = Counter(
            "pulse_sink_errors",
            "Event batches the database refused after the sink's own retries (the batch is then "
            "written event by event, refused events become dead letters).",
            registry=r,
        )
        self.alert_deliveries = Counter(
            "pulse_alert_deliveries",
            "Alert episodes posted to Alertmanager, by outcome: sent, failed (kept and retried), "
            "historic (recorded but not delivered: replayed history).",
            ["outcome"],
            registry=r,
        )
        self.alert_posts = Counter(
            "pulse_alert_delivery_requests",
            "POST /api/v2/alerts requests to Alertmanager, by result (ok or failed).",
            ["result"],
            registry=r,
        )
        self.alert_queue = Gauge(
            "pulse_alert_delivery_queue",
            "Alert states waiting to be (re)delivered to Alertmanager.",
            registry=r,
        )
        for outcome in DELIVERY_OUTCOMES:
            self.alert_deliveries.labels(outcome)
        for how in ("checkpoint", "rebuild"):
            self.contract_starts.labels(how)
        for reason in ("fingerprint", "unreadable", "trimmed"):
            self.checkpoints_ignored.labels(reason)
        for result in ("ok", "failed"):
            self.monitor_rounds.labels(result)
            self.alert_posts.labels(result)


__all__ = ["DELIVERY_OUTCOMES", "HealthMetrics"]
