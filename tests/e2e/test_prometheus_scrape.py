"""The test stack's Prometheus scrapes a worker and evaluates the pipeline-health rules.

A worker of an isolated pipeline is added as a scrape target (a file in the Prometheus target
directory ``deploy/local/stack.sh`` configures), part of the help desk log is replayed, and
Prometheus, queried over its HTTP API, holds the worker's event counter at the number of events
produced; the generated rule group is loaded and every rule evaluates without error.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from typing import Any

import pytest

from outcome_pulse.sinks.pipeline_rules import JOB, rules
from outcome_pulse.streams.drivers.replay import produce
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.settings import PulseSettings
from tests.datasets import dataset
from tests.support.alertmanager import wait_for
from tests.support.sandbox import isolated_pipeline


def prometheus(settings: PulseSettings, path: str, **params: str) -> Any:
    url = f"http://127.0.0.1:{settings.prometheus_port}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]


def scalar(settings: PulseSettings, query: str) -> float | None:
    result = prometheus(settings, "/api/v1/query", query=query)["result"]
    return float(result[0]["value"][1]) if result else None


@pytest.mark.timeout(600)
def test_prometheus_scrapes_the_worker_and_evaluates_the_health_rules(
    settings: PulseSettings,
) -> None:
    mapped = map_file(dataset("helpdesk"), load_mapping("helpdesk"), limit=3000)
    targets = settings.state_dir / "prometheus" / "targets"
    assert targets.is_dir(), f"{targets} missing: is the test stack's Prometheus up?"
    with isolated_pipeline(settings) as pipeline:
        port = pipeline.settings.metrics_port
        instance = f"127.0.0.1:{port}"
        target_file = targets / f"{pipeline.settings.app_id}.json"
        target_file.write_text(json.dumps([{"targets": [instance]}]), encoding="utf-8")
        try:
            pipeline.start_worker()
            asyncio.run(produce(pipeline.settings, mapped.events, []))
            selector = f'{{job="{JOB}", instance="{instance}"}}'
            counted = wait_for(
                lambda: (
                    scalar(settings, f"sum(pulse_events_total{selector})") == len(mapped.events)
                    and scalar(settings, f"up{selector}") == 1.0
                ),
                240,
                f"Prometheus to scrape {len(mapped.events):,} events from {instance}",
            )
            assert counted
        finally:
            target_file.unlink(missing_ok=True)
    groups = prometheus(settings, "/api/v1/rules")["groups"]
    (group,) = [g for g in groups if g["name"] == "outcome-pulse-pipeline"]
    loaded = {r["name"]: r for r in group["rules"]}
    assert set(loaded) == {r.alert for r in rules()}
    assert all(r["health"] == "ok" for r in loaded.values()), loaded
