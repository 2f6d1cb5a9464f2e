"""Every PromQL expression of the pipeline-health dashboard against a real Prometheus (Debian's
``prometheus``, started here on a port of the test range, by PID, on 127.0.0.1), through its
HTTP API: each must parse and evaluate. Prometheus scrapes a real exposition of the pipeline's
metrics (``PipelineMetrics`` and ``IndicatorGauges``), so the ``pulse_*`` names the panels use
are checked against what the pipeline exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from outcome_pulse.dashboards import pipeline
from outcome_pulse.sinks.indicator_metrics import IndicatorGauges
from outcome_pulse.sinks.metrics import PipelineMetrics
from tests.support.sandbox import free_port

pytestmark = pytest.mark.integration

GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture(scope="module")
def exposition() -> tuple[int, CollectorRegistry]:
    registry = CollectorRegistry()
    metrics = PipelineMetrics(registry)
    gauges = IndicatorGauges(registry)
    metrics.events.labels("pulse.ticket.created").inc(3)
    metrics.dead_letters.labels("malformed_json").inc()
    metrics.consumer_lag.labels("0").set(5)
    metrics.flush_seconds.observe(0.02)
    metrics.processing_latency.observe(0.3)
    metrics.items_tracked.set(7)
    gauges.round_seconds.observe(0.4)
    gauges.count_late(1)
    port = free_port()
    start_http_server(port, addr="127.0.0.1", registry=registry)
    return port, registry


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, exposition: tuple[int, Any]
) -> Iterator[str]:
    binary = shutil.which("prometheus")
    assert binary, "Debian's prometheus is not installed (deploy/local/install.sh installs it)"
    root = tmp_path_factory.mktemp("prometheus")
    config = root / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: pulse\n    static_configs: [{{targets: ['127.0.0.1:{exposition[0]}']}}]\n"
    )
    port = free_port()
    log = (root / "log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _scraped(url):  # ready and one scrape of the exposition stored
            assert proc.poll() is None, Path(root / "log").read_text()
            assert time.monotonic() < deadline, "Prometheus did not scrape within 60 s"
            time.sleep(0.2)
        yield url
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def _scraped(url: str) -> bool:
    try:
        status, body = _get(
            f"{url}/api/v1/query?query=" + urllib.parse.quote("pulse_items_tracked")
        )
    except OSError:
        return False
    return status == 200 and bool(body["data"]["result"])


def _expand(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def test_every_expression_parses_and_evaluates(prometheus: str) -> None:
    expressions = pipeline.expressions()
    assert len(expressions) >= 12
    for expr in expressions:
        query = urllib.parse.quote(_expand(expr))
        status, body = _get(f"{prometheus}/api/v1/query?query={query}")
        assert status == 200 and body["status"] == "success", (expr, body)


def test_a_broken_expression_is_refused(prometheus: str) -> None:
    status, body = _get(f"{prometheus}/api/v1/query?query=" + urllib.parse.quote("sum(rate(x[1m])"))
    assert status == 400 and body["errorType"] == "bad_data"


def test_panels_name_metrics_the_pipeline_exports(
    exposition: tuple[int, CollectorRegistry],
) -> None:
    exported = {
        sample.name
        for family in text_string_to_metric_families(generate_latest(exposition[1]).decode())
        for sample in family.samples
    }
    used = {name for expr in pipeline.expressions() for name in re.findall(r"\bpulse_\w+", expr)}
    assert used and used <= exported, used - exported


def test_series_of_the_exposition_reach_the_panels(prometheus: str) -> None:
    expr = _expand("sum by (reason) (pulse_dead_letters_total)")
    status, body = _get(f"{prometheus}/api/v1/query?query=" + urllib.parse.quote(expr))
    assert status == 200
    assert [r["metric"]["reason"] for r in body["data"]["result"]] == ["malformed_json"]
