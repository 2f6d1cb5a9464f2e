"""Prometheus alerting rules for the pipeline's own health, as typed data (in the spirit of Sloth).

``pipeline_rules()`` is the content of ``deploy/prometheus/pulse_pipeline_rules.yml`` (written by
``pulse alerts rules``, committed, regenerated and compared in the tests, and unit-tested with
``promtool test rules`` against ``deploy/prometheus/pulse_pipeline_rules.test.yml``). They watch
the metrics ``sinks.metrics`` and ``sinks.health_metrics`` export, as scraped from the workers
by the job ``pulse-worker``; contracts are watched by the contract alert rules
(``outcome_pulse.processors.alerting``), not by these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JOB = "pulse-worker"


@dataclass(frozen=True, slots=True)
class PipelineRule:
    alert: str
    expr: str
    duration: str
    severity: str
    summary: str
    description: str


@dataclass(frozen=True, slots=True)
class Thresholds:
    consumer_lag_messages: int = 10_000
    dead_letter_share: float = 0.05
    monitor_stale_seconds: int = 300
    monitor_failures_10m: int = 3


def rules(t: Thresholds = Thresholds()) -> list[PipelineRule]:
    job = f'job="{JOB}"'
    return [
        PipelineRule(
            "PulseWorkerDown",
            f"up{{{job}}} == 0",
            "1m",
            "page",
            "Worker {{ $labels.instance }} does not answer its metrics scrape",
            "The worker process is down or hung: events are not consumed and contracts are not "
            "evaluated while it stays so.",
        ),
        PipelineRule(
            "PulseConsumerLagHigh",
            f"sum by (instance) (pulse_consumer_lag_messages{{{job}}}) > {t.consumer_lag_messages}",
            "5m",
            "ticket",
            "Worker {{ $labels.instance }} is {{ $value | humanize }} events behind",
            "Events wait in Kafka longer than usual: the worker cannot keep up (scale out "
            "partitions and workers) or is stuck on the database.",
        ),
        PipelineRule(
            "PulseDeadLetterRateHigh",
            f"sum by (instance) (rate(pulse_dead_letters_total{{{job}}}[5m])) / "
            f"(sum by (instance) (rate(pulse_events_total{{{job}}}[5m])) + "
            f"sum by (instance) (rate(pulse_dead_letters_total{{{job}}}[5m]))) > "
            f"{t.dead_letter_share}",
            "10m",
            "ticket",
            "{{ $value | humanizePercentage }} of the records on {{ $labels.instance }} are "
            "dead letters",
            "A producer or an export mapping sends bad records; the dead-letter topic names the "
            "reason and keeps the original bytes.",
        ),
        PipelineRule(
            "PulseMonitorStale",
            f"time() - max by (instance) "
            f"(pulse_monitor_last_success_timestamp_seconds{{{job}}}) > "
            f"{t.monitor_stale_seconds}",
            "2m",
            "page",
            "The contract monitor on {{ $labels.instance }} has not completed a round for "
            "{{ $value | humanizeDuration }}",
            "Contract indicators, outcomes and alerts are not being updated: check the monitor "
            "lease and the database.",
        ),
        PipelineRule(
            "PulseMonitorRoundsFailing",
            f'increase(pulse_monitor_rounds_total{{{job},result="failed"}}[10m]) > '
            f"{t.monitor_failures_10m}",
            "0m",
            "ticket",
            "{{ $value | humanize }} contract monitor rounds failed in 10 minutes on "
            "{{ $labels.instance }}",
            "Each failed round rebuilds from the stored events; repeated failures mean the "
            "database or a contract is in trouble (see the worker log).",
        ),
        PipelineRule(
            "PulseSinkErrors",
            f"increase(pulse_sink_errors_total{{{job}}}[10m]) > 0",
            "0m",
            "ticket",
            "The database refused {{ $value | humanize }} event batches on {{ $labels.instance }}",
            "Batches the database refused are written event by event and the refused events "
            "become dead letters with reason rejected_by_database.",
        ),
        PipelineRule(
            "PulseAlertDeliveryFailing",
            f'increase(pulse_alert_deliveries_total{{{job},outcome="failed"}}[10m]) > 0 '
            f"and on (instance) pulse_alert_delivery_queue{{{job}}} > 0",
            "5m",
            "page",
            "Alerts cannot reach Alertmanager from {{ $labels.instance }}",
            "Contract alerts are queued in the worker and retried, but service owners are not "
            "being told: check Alertmanager.",
        ),
    ]


def pipeline_rules(t: Thresholds = Thresholds()) -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": "outcome-pulse-pipeline",
                "rules": [
                    {
                        "alert": r.alert,
                        "expr": r.expr,
                        "for": r.duration,
                        "labels": {"severity": r.severity, "component": "pipeline"},
                        "annotations": {"summary": r.summary, "description": r.description},
                    }
                    for r in rules(t)
                ],
            }
        ]
    }


HEADER = (
    "# Generated by `pulse alerts rules` (sinks/pipeline_rules.py); do not edit: the tests\n"
    "# regenerate it and compare. Unit tests: promtool test rules pulse_pipeline_rules.test.yml\n"
)


def render_rules() -> str:
    import yaml

    return HEADER + yaml.safe_dump(pipeline_rules(), sort_keys=False, width=100)


__all__ = ["JOB", "PipelineRule", "Thresholds", "pipeline_rules", "render_rules", "rules"]
