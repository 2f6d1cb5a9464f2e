"""The worker's metrics, populated as a run populates them, pass `promtool check metrics`."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime

import pytest

from outcome_pulse.processors.measurements import SERVICE_WIDE, IndicatorPoint
from outcome_pulse.processors.vocabulary import INDICATOR_HELP
from outcome_pulse.sinks.indicator_metrics import IndicatorGauges
from outcome_pulse.sinks.metrics import PipelineMetrics

pytestmark = pytest.mark.integration


def test_metrics_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: deploy/local/install.sh installs Debian's prometheus"
    metrics = PipelineMetrics()
    metrics.events.labels(type="pulse.incident.created").inc(3)
    metrics.dead_letters.labels(reason="malformed_json").inc()
    metrics.processing_latency.observe(0.2)
    metrics.consumer_lag.labels(partition="0").set(12)
    metrics.flush_seconds.observe(0.05)
    metrics.batch_rows.observe(2000)
    metrics.items_tracked.set(7554)
    gauges = IndicatorGauges(metrics.registry, help=INDICATOR_HELP)
    at = datetime(2024, 3, 1, tzinfo=UTC)
    gauges.update(
        "acme", [IndicatorPoint("c1", "desk", SERVICE_WIDE, "open_backlog", at, 7, False)]
    )
    gauges.count_late(2)
    result = subprocess.run(
        [promtool, "check", "metrics"], input=metrics.exposition(), capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
