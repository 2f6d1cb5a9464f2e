"""The worker's metrics, populated as a run populates them, pass `promtool check metrics`."""

from __future__ import annotations

import shutil
import subprocess

import pytest

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
    result = subprocess.run(
        [promtool, "check", "metrics"], input=metrics.exposition(), capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
