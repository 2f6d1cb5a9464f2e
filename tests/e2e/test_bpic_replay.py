"""The whole BPIC 2013 incident log through the real Kafka broker, a faust worker process and
PostgreSQL: exact counts, then a second replay that must change nothing."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from outcome_pulse.sinks.queries import source_summary, table_fingerprint
from outcome_pulse.streams.drivers.replay import replay_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from tests.datasets import dataset
from tests.support.lag import wait_caught_up
from tests.support.sandbox import isolated_pipeline

pytestmark = pytest.mark.e2e

BPIC_ROWS = 65_533
# 20 incidents' earliest row is not a plain state change: they keep it and get a created event.
BPIC_EVENTS = 65_553
BPIC_INCIDENTS = 7_554


def test_bpic_replay_is_exact_and_idempotent(settings) -> None:  # type: ignore[no-untyped-def]
    mapping = load_mapping("bpic2013")
    with isolated_pipeline(settings) as pipe:
        pipe.start_worker()
        report = replay_file(pipe.settings, dataset("bpic2013"), mapping)
        assert (report.records_read, report.events_produced, report.dead_letters) == (
            BPIC_ROWS,
            BPIC_EVENTS,
            0,
        )
        summary = pipe.wait_for(
            lambda: (
                (s := source_summary(pipe.settings.dsn, mapping.source))["events"] >= BPIC_EVENTS
                and s
            ),
            timeout=600,
            what="all BPIC events in the database",
        )
        wait_caught_up(pipe.settings)
        summary = source_summary(pipe.settings.dsn, mapping.source)
        assert summary["events"] == BPIC_EVENTS
        assert summary["items"] == BPIC_INCIDENTS
        first = {
            "events": table_fingerprint(pipe.settings.dsn, "pulse_events", "event_id"),
            "items": table_fingerprint(pipe.settings.dsn, "pulse_item_states", "item_id"),
        }

        again = replay_file(pipe.settings, dataset("bpic2013"), mapping)
        assert again.events_produced == BPIC_EVENTS
        wait_caught_up(pipe.settings, timeout=600)
        second = {
            "events": table_fingerprint(pipe.settings.dsn, "pulse_events", "event_id"),
            "items": table_fingerprint(pipe.settings.dsn, "pulse_item_states", "item_id"),
        }
        assert second == first
        assert first["events"][0] == BPIC_EVENTS and first["items"][0] == BPIC_INCIDENTS

        # the worker's own metrics agree (both replays were processed) and pass promtool
        url = f"http://127.0.0.1:{pipe.settings.metrics_port}/metrics"
        exposition = urllib.request.urlopen(url, timeout=10).read()
        totals = {"pulse_events_total": 0.0, "pulse_dead_letters_total": 0.0}
        for family in text_string_to_metric_families(exposition.decode()):
            for sample in family.samples:
                if sample.name in totals:
                    totals[sample.name] += sample.value
        assert totals == {"pulse_events_total": 2 * BPIC_EVENTS, "pulse_dead_letters_total": 0.0}
        promtool = shutil.which("promtool")
        assert promtool, "promtool is missing: deploy/local/install.sh installs it"
        lint = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True)
        assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()
