"""Live feeds end to end: signed Jira and ServiceNow notifications over real HTTP, through the
receiver, real Kafka and the worker into PostgreSQL, give the same items and states as a file
import of the same changes; wrong signatures, oversized and malformed bodies, a flood beyond a
feed's rate and replays of notifications are mixed in, and the database holds exactly the
events the receiver acknowledged, once each."""

from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import psycopg
import pytest

from streams.deadletter import decode_dead_letter
from streams.lag import wait_caught_up
from streams.live.auth import sign
from streams.mapping import mapping_from_dict
from streams.replay import replay_file
from streams.sandbox import isolated_pipeline
from streams.settings import PulseSettings
from tests.live_payloads import (
    export_mapping,
    histories,
    jira_webhook,
    servicenow_record,
    signed,
    write_export,
)
from tests.live_receiver import read_topic, running_receiver

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
    settings: PulseSettings, tmp_path: Path
) -> None:
    expected = file_import_states(settings, tmp_path)
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
