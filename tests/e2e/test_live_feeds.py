"""Live feeds end to end: signed Jira and ServiceNow notifications over real HTTP, through the
receiver, real Kafka and the worker into PostgreSQL, give the same items and states as a file
import of the same changes; wrong signatures, oversized and malformed bodies, a flood beyond a
feed's rate and replays of notifications are mixed in, and the database holds exactly the
events the receiver acknowledged, once each."""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from outcome_pulse.streams.drivers.replay import replay_file
from outcome_pulse.streams.file_import.mapping import mapping_from_dict
from outcome_pulse.streams.live.auth import sign
from outcome_pulse.streams.live.json_mapping import load_live_mapping
from outcome_pulse.streams.live.notification_events import NotificationMapper
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.deadletter import decode_dead_letter
from tests.support.fake_itsm_api import FakeApi, Fault, serving
from tests.support.lag import wait_caught_up
from tests.support.live_payloads import (
    Change,
    export_mapping,
    histories,
    jira_webhook,
    servicenow_record,
    signed,
    write_export,
)
from tests.support.live_receiver import PULSE, read_topic, running_receiver
from tests.support.sandbox import isolated_pipeline

pytestmark = pytest.mark.e2e

ITEMS = 120
SEED = 1402
JIRA_SECRET = "e2e-jira-secret"
SN_TOKEN = "e2e-servicenow-token"
FEEDS = {
    "jira-test": {
        "mapping": "jira",
        "auth": {"scheme": "hmac_sha256"},
        "rate": {"per_second": 10000, "burst": 10000},
    },
    "servicenow-test": {
        "mapping": "servicenow",
        "auth": {"scheme": "bearer"},
        "rate": {"per_second": 10000, "burst": 10000},
    },
    "flood-test": {
        "mapping": "servicenow",
        "auth": {"scheme": "bearer"},
        "rate": {"per_second": 0.001, "burst": 10},
    },
}
SECRETS = {"jira-test": JIRA_SECRET, "servicenow-test": SN_TOKEN, "flood-test": SN_TOKEN}

STATE_COLUMNS = (
    "item_id, item_kind, source, status, state, priority, assignee, opened_at, resolved_at, "
    "closed_at, paused_since, due_at, last_event_at, attributes"
)


def item_states(dsn: str, sources: tuple[str, ...]) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            f"SELECT {STATE_COLUMNS} FROM pulse_item_states "
            "WHERE source = ANY(%s) ORDER BY item_id",
            (list(sources),),
        ).fetchall()


def stored_ids(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT event_id FROM pulse_events").fetchall()]


def event_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM pulse_events").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture(scope="module")
def file_import(
    settings: PulseSettings, tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[object, ...]]:
    """The item states a file import of the changes gives (one run for the module)."""
    return file_import_states(settings, tmp_path_factory.mktemp("export"))


def file_import_states(settings: PulseSettings, tmp_path: Path) -> list[tuple[object, ...]]:
    changes = histories(ITEMS, seed=SEED)
    with isolated_pipeline(settings, partitions=2) as pipe:
        pipe.start_worker()
        produced = 0
        for shape, source in (("jira", "jira-test"), ("servicenow", "servicenow-test")):
            path = tmp_path / f"{shape}.csv"
            write_export(path, changes, shape)
            report = replay_file(
                pipe.settings, path, mapping_from_dict(export_mapping(shape, source))
            )
            assert report.dead_letters == 0
            produced += report.events_produced
        pipe.wait_for(lambda: event_count(pipe.settings.dsn) == produced, what="the file import")
        return item_states(pipe.settings.dsn, ("jira-test", "servicenow-test"))


@pytest.mark.timeout(900)
def test_webhooks_give_the_items_and_states_of_a_file_import(
    settings: PulseSettings, file_import: list[tuple[object, ...]], tmp_path: Path
) -> None:
    expected = file_import
    assert len(expected) == 2 * ITEMS
    assert {row[3] for row in expected} >= {"open", "paused", "resolved", "closed"}

    rng = random.Random(SEED)
    changes = histories(ITEMS, seed=SEED)
    acknowledged: set[str] = set()
    bad = 0
    with isolated_pipeline(settings, partitions=2) as pipe:
        pipe.start_worker()
        s = pipe.settings.model_copy(update={"ingest_max_body_bytes": 32 * 1024})
        with (
            running_receiver(s, FEEDS, SECRETS, tmp_path) as rx,
            httpx.Client(base_url=rx.url, timeout=30) as http,
        ):

            def post(feed: str, body: bytes, headers: dict[str, str], status: int = 200) -> None:
                r = http.post(f"/hooks/{feed}", content=body, headers=headers)
                assert r.status_code == status, r.text
                if status == 200:
                    acknowledged.update(r.json()["ids"])

            sn_auth = {"Authorization": f"Bearer {SN_TOKEN}", "Content-Type": "application/json"}
            for n, change in enumerate(changes):
                jira_body, jira_headers = signed(JIRA_SECRET, jira_webhook(change))
                sn_body = json.dumps(servicenow_record(change)).encode()
                post("jira-test", jira_body, jira_headers)
                post("servicenow-test", sn_body, sn_auth)
                if rng.random() < 0.1:  # the sender retries (it missed our answer)
                    post("jira-test", jira_body, jira_headers)
                    post("servicenow-test", sn_body, sn_auth)
                if n % 25 == 0:  # hostile or broken requests between the real ones
                    forged = {
                        **jira_headers,
                        "X-Hub-Signature-256": "sha256=" + sign("x", jira_body),
                    }
                    post("jira-test", jira_body, forged, 401)
                    post("servicenow-test", sn_body, {"Authorization": "Bearer guess"}, 401)
                    tampered = jira_body.replace(b"Done", b"Open")
                    if tampered != jira_body:
                        post("jira-test", tampered, jira_headers, 401)
                    post("servicenow-test", sn_body + b" " * 40_000, sn_auth, 413)
                    post("servicenow-test", sn_body[: len(sn_body) // 2], sn_auth, 400)
                    bad += 1

            # a flood on another feed: the burst is stored, the rest is refused with 429
            flooded = []
            for change in changes[:30]:
                record = {**servicenow_record(change), "number": f"FLD{change.item:07d}"}
                r = http.post("/hooks/flood-test", json=record, headers=sn_auth)
                flooded.append(r.status_code)
                if r.status_code == 200:
                    acknowledged.update(r.json()["ids"])
            assert flooded == [200] * 10 + [429] * 20

        dsn = pipe.settings.dsn
        pipe.wait_for(
            lambda: event_count(dsn) >= len(acknowledged), what="every acknowledged event"
        )
        wait_caught_up(pipe.settings)
        ids = stored_ids(dsn)
        assert len(ids) == len(set(ids))  # retries stored once
        assert set(ids) == acknowledged  # nothing the receiver refused, nothing lost
        got = item_states(dsn, ("jira-test", "servicenow-test"))
        letters = [
            decode_dead_letter(v)
            for _, v in read_topic(pipe.settings, pipe.settings.dead_letter_topic)
        ]

    assert len(letters) == bad and {d["reason"] for d in letters} == {"malformed_json"}
    assert got == expected


@pytest.mark.timeout(900)
def test_polling_gives_the_items_and_states_of_a_file_import(
    settings: PulseSettings, file_import: list[tuple[object, ...]], tmp_path: Path
) -> None:
    """What a poll sees is each item's latest state; with its created and resolution times,
    that is enough for the same item states as the file import of every change."""
    last: dict[int, Change] = {}
    for change in histories(ITEMS, seed=SEED):
        last[change.item] = change
    records = [servicenow_record(c) for c in last.values()]
    issues = [jira_webhook(c)["issue"] for c in last.values()]
    sn_api = FakeApi(
        incidents=records,
        faults={2: Fault(429, headers={"Retry-After": "1"}), 4: Fault(503)},
        authorization="Basic " + base64.b64encode(b"pulse-reader:sn-password").decode(),
    )
    jira_api = FakeApi(
        issues=issues,
        faults={3: Fault(500)},
        authorization="Basic " + base64.b64encode(b"bot@acme.example:jira-api-token").decode(),
    )
    expected_ids = {
        e.id
        for name, source, rows in (
            ("servicenow", "servicenow-test", records),
            ("jira-search", "jira-test", issues),
        )
        for row in rows
        for e in NotificationMapper(load_live_mapping(name, source=source)).events(row).events
    }
    with (
        isolated_pipeline(settings, partitions=2) as pipe,
        serving(sn_api) as sn_url,
        serving(jira_api) as jira_url,
    ):
        pipe.start_worker()
        polls = {
            "servicenow-test": {
                "api": "servicenow_table",
                "url": sn_url,
                "mapping": "servicenow",
                "auth": {"scheme": "basic", "user": "pulse-reader"},
                "page_size": 25,
                "start": "2026-01-01T00:00:00+00:00",
                "checkpoint": str(tmp_path / "servicenow.json"),
            },
            "jira-test": {
                "api": "jira_search",
                "url": jira_url,
                "mapping": "jira-search",
                "auth": {"scheme": "basic", "user": "bot@acme.example"},
                "page_size": 20,
                "start": "2026-01-01T00:00:00+00:00",
                "checkpoint": str(tmp_path / "jira.json"),
            },
        }
        config = tmp_path / "feeds.yaml"
        config.write_text(yaml.safe_dump({"polls": polls}))
        env = {
            **os.environ,
            **pipe.settings.as_env(),
            "PULSE_FEED_SECRETS": json.dumps(
                {"servicenow-test": "sn-password", "jira-test": "jira-api-token"}
            ),
        }
        for _ in range(2):  # the second cycle re-reads the overlap: duplicates, same ids
            run = subprocess.run(
                [PULSE, "ingest", "poll", "--config", str(config), "--once"],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert run.returncode == 0, run.stdout + run.stderr
            assert "sn-password" not in run.stderr and "jira-api-token" not in run.stderr
        dsn = pipe.settings.dsn
        pipe.wait_for(lambda: event_count(dsn) >= len(expected_ids), what="the polled events")
        wait_caught_up(pipe.settings)
        ids = stored_ids(dsn)
        got = item_states(dsn, ("jira-test", "servicenow-test"))
    assert len(ids) == len(set(ids)) and set(ids) == expected_ids
    assert got == file_import
