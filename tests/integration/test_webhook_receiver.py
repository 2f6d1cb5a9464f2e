"""``pulse ingest http`` over real HTTP on 127.0.0.1 (httpx) with real Kafka: signed payloads
of both shapes are produced with deterministic ids; wrong signatures, oversized, malformed and
unmappable bodies, floods and replays produce exactly what they should; /readyz and /metrics."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from outcome_pulse.streams.kafka.topics import ensure_topics
from outcome_pulse.streams.live.auth import sign
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.deadletter import decode_dead_letter
from outcome_pulse.streams.wire.item_key import item_key
from tests.support.live_payloads import histories, jira_webhook, servicenow_record, signed
from tests.support.live_receiver import read_topic, running_receiver, scrape

pytestmark = pytest.mark.integration

JIRA_SECRET = "jira-shared-secret-for-tests"
SN_TOKEN = "servicenow-bearer-token-for-tests"
FLOOD_SECRET = "flood-secret"
# rates far above what the test sends, except the flood feed's (one token per 1,000 s): no
# answer depends on how fast the machine is
UNLIMITED = {"per_second": 10_000, "burst": 10_000}
FEEDS = {
    "jira-acme": {"mapping": "jira", "auth": {"scheme": "hmac_sha256"}, "rate": UNLIMITED},
    "servicenow-prod": {"mapping": "servicenow", "auth": {"scheme": "bearer"}, "rate": UNLIMITED},
    "flood": {
        "mapping": "servicenow",
        "auth": {"scheme": "hmac_sha256"},
        "rate": {"per_second": 0.001, "burst": 5},
    },
}
SECRETS = {"jira-acme": JIRA_SECRET, "servicenow-prod": SN_TOKEN, "flood": FLOOD_SECRET}


@pytest.fixture
def topics(settings: PulseSettings) -> PulseSettings:
    suffix = uuid.uuid4().hex[:10]
    isolated = settings.model_copy(
        update={
            "events_topic": f"test.{suffix}.events",
            "dead_letter_topic": f"test.{suffix}.deadletter",
            "app_id": f"pulse-test-{suffix}",
            "partitions": 2,
            "ingest_max_body_bytes": 16 * 1024,
        }
    )
    asyncio.run(ensure_topics(isolated))
    return isolated


def ok(response: httpx.Response) -> dict:  # type: ignore[type-arg]
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def sn_headers(token: str = SN_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def test_the_receiver_produces_what_it_acknowledges_and_nothing_else(
    topics: PulseSettings, tmp_path: Path
) -> None:
    changes = histories(8, seed=14)
    acknowledged: list[str] = []  # event ids of every 2xx, replays included
    with (
        running_receiver(topics, FEEDS, SECRETS, tmp_path) as rx,
        httpx.Client(base_url=rx.url, timeout=30) as http,
    ):
        assert http.get("/healthz").json() == {"status": "ok"}
        for change in changes:
            body, headers = signed(JIRA_SECRET, jira_webhook(change))
            r = http.post("/hooks/jira-acme", content=body, headers=headers)
            assert r.status_code == 200, r.text
            acknowledged += r.json()["ids"]
            r = http.post(
                "/hooks/servicenow-prod", json=servicenow_record(change), headers=sn_headers()
            )
            assert r.status_code == 200, r.text
            acknowledged += r.json()["ids"]

        # a sender's retry of the same notification: the same ids
        body, headers = signed(JIRA_SECRET, jira_webhook(changes[3]))
        first = ok(http.post("/hooks/jira-acme", content=body, headers=headers))["ids"]
        again = ok(http.post("/hooks/jira-acme", content=body, headers=headers))["ids"]
        assert first == again
        acknowledged += first + again

        # not authenticated: 401, nothing produced
        unauthorized = [
            http.post(
                "/hooks/jira-acme", content=body, headers={"Content-Type": "application/json"}
            ),
            http.post(
                "/hooks/jira-acme",
                content=body,
                headers={"X-Hub-Signature-256": "sha256=" + sign("guessed", body)},
            ),
            http.post(
                "/hooks/jira-acme",
                content=body + b" ",  # signed bytes changed in transit
                headers=headers,
            ),
            http.post("/hooks/servicenow-prod", content=body, headers=sn_headers("wrong")),
            http.post(
                "/hooks/servicenow-prod",
                content=body,
                headers={"Authorization": f"Basic {SN_TOKEN}"},
            ),
        ]
        assert [r.status_code for r in unauthorized] == [401] * 5
        assert all(JIRA_SECRET not in r.text and SN_TOKEN not in r.text for r in unauthorized)

        # too large: 413 whether announced or streamed; nothing produced
        huge = json.dumps({**servicenow_record(changes[0]), "pad": "x" * 20_000}).encode()
        assert (
            http.post("/hooks/servicenow-prod", content=huge, headers=sn_headers()).status_code
            == 413
        )

        def chunks():  # no Content-Length: chunked transfer encoding
            for _ in range(40):
                yield b"x" * 1024

        assert (
            http.post("/hooks/servicenow-prod", content=chunks(), headers=sn_headers()).status_code
            == 413
        )

        # malformed and unmappable: 4xx with the reason, and a dead letter with the bytes
        bad_bodies = {
            b'{"number": "INC1", "state": ': (400, "malformed_json"),
            b"[1, 2, 3]": (400, "not_an_object"),
            json.dumps({**servicenow_record(changes[0]), "number": ""}).encode(): (
                422,
                "missing_id",
            ),
            json.dumps(
                {**servicenow_record(changes[0]), "sys_updated_on": "2099-01-01 00:00:00"}
            ).encode(): (
                422,
                "in_future",
            ),
        }
        for raw, (status, reason) in bad_bodies.items():
            r = http.post("/hooks/servicenow-prod", content=raw, headers=sn_headers())
            assert (r.status_code, r.json().get("reason")) == (status, reason), r.text

        # unknown feed, a notification the mapping does not measure
        assert http.post("/hooks/nope", json={}, headers=sn_headers()).status_code == 404
        deleted = {**jira_webhook(changes[0]), "webhookEvent": "jira:issue_deleted"}
        body, headers = signed(JIRA_SECRET, deleted)
        r = http.post("/hooks/jira-acme", content=body, headers=headers)
        assert (
            r.status_code == 200
            and r.json()["events"] == 0
            and "jira:issue_deleted" in r.json()["ignored"]
        )

        # a flood beyond the rate: the burst passes, the rest get 429 with Retry-After
        statuses = []
        for change in changes[:12]:
            body, headers = signed(FLOOD_SECRET, servicenow_record(change))
            r = http.post("/hooks/flood", content=body, headers=headers)
            statuses.append(r.status_code)
            if r.status_code == 200:
                acknowledged += r.json()["ids"]
            else:
                assert int(r.headers["Retry-After"]) >= 1
        assert statuses == [200] * 5 + [429] * 7

        metrics = scrape(rx.url)
    log = rx.log.read_text()
    assert "401 unauthorized" in log  # rejections are logged ...
    assert all(secret not in log for secret in SECRETS.values())  # ... secrets never

    events = read_topic(topics, topics.events_topic)
    produced = [json.loads(v)["id"] for _, v in events]
    assert sorted(produced) == sorted(acknowledged)  # exactly what was acknowledged
    # keyed by source and item (wire.item_key), as the worker's wrong_key rule wants
    assert all(k == item_key(json.loads(v)["source"], json.loads(v)["subject"]) for k, v in events)
    letters = [decode_dead_letter(v) for _, v in read_topic(topics, topics.dead_letter_topic)]
    assert sorted(d["reason"] for d in letters) == sorted(r for _, r in bad_bodies.values())
    assert {d["original"] for d in letters} == set(bad_bodies)
    assert all(d["origin"]["feed"] == "servicenow-prod" for d in letters)

    def count(feed: str, outcome: str) -> float:
        return metrics[("pulse_ingest_requests_total", (("feed", feed), ("outcome", outcome)))]

    assert count("jira-acme", "accepted") == len(changes) + 2
    assert count("jira-acme", "unauthorized") == 3
    assert count("servicenow-prod", "unauthorized") == 2
    assert count("servicenow-prod", "too_large") == 2
    assert count("servicenow-prod", "rejected") == 4
    assert count("jira-acme", "ignored") == 1
    assert count("unknown", "unknown_feed") == 1
    assert count("flood", "rate_limited") == 7
    assert metrics[("pulse_ingest_events_total", (("feed", "flood"),))] == 5 * 2


def test_ready_and_metrics_pass_promtool(topics: PulseSettings, tmp_path: Path) -> None:
    with running_receiver(topics, FEEDS, SECRETS, tmp_path) as rx:
        assert httpx.get(f"{rx.url}/readyz", timeout=5).json() == {"status": "ready"}
        text = httpx.get(f"{rx.url}/metrics", timeout=5).content
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: deploy/local/install.sh installs Debian's prometheus"
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
