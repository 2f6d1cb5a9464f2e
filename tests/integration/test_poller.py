"""The poller against a local HTTP server serving ServiceNow Table API and Jira search pages
(paging, 429 with Retry-After, 5xx, a body that is not a page, 401), producing to real Kafka:
every record's events arrive, the checkpoint moves only after Kafka acknowledged, a failed page
keeps it, and re-reads (overlap, boundaries, retried cycles) repeat the same ids."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from outcome_pulse.sinks.ingest_metrics import IngestMetrics
from outcome_pulse.streams.errors import BrokerError, SourceApiError
from outcome_pulse.streams.kafka.topics import ensure_topics
from outcome_pulse.streams.live.checkpoint import CheckpointFile
from outcome_pulse.streams.live.json_mapping import load_live_mapping
from outcome_pulse.streams.live.notification_events import NotificationMapper
from outcome_pulse.streams.live.poll_apis import JiraSearch, PolledApi, ServiceNowTable
from outcome_pulse.streams.live.poller import Poller, RetryPolicy
from outcome_pulse.streams.live.producer import LiveProducer
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.deadletter import decode_dead_letter
from tests.support.fake_itsm_api import FakeApi, Fault, serving
from tests.support.live_payloads import Change, histories, jira_webhook, servicenow_record
from tests.support.live_receiver import read_topic

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 10, tzinfo=UTC)


@pytest.fixture
def topics(settings: PulseSettings) -> PulseSettings:
    suffix = uuid.uuid4().hex[:10]
    isolated = settings.model_copy(
        update={
            "events_topic": f"test.{suffix}.events",
            "dead_letter_topic": f"test.{suffix}.deadletter",
            "app_id": f"pulse-test-{suffix}",
            "partitions": 2,
        }
    )
    asyncio.run(ensure_topics(isolated))
    return isolated


def final_changes(items: int, seed: int) -> list[Change]:
    last: dict[int, Change] = {}
    for change in histories(items, seed):
        last[change.item] = change
    return list(last.values())


class Sleeps:
    """The poller's injected sleep: records each wait instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def expected_ids(mapping_name: str, source: str, records: list[dict]) -> set[str]:  # type: ignore[type-arg]
    mapper = NotificationMapper(load_live_mapping(mapping_name, source=source))
    return {e.id for r in records for e in mapper.events(r).events}


def produced_ids(settings: PulseSettings) -> list[str]:
    return [json.loads(v)["id"] for _, v in read_topic(settings, settings.events_topic)]


async def run_cycles(
    settings: PulseSettings,
    url: str,
    api: PolledApi,
    mapping: str,
    checkpoint: Path,
    cycles: int = 1,
    *,
    sleeps: Sleeps | None = None,
    send_timeout: float = 15.0,
    authorization: str | None = None,
) -> list[object]:
    producer = LiveProducer(settings, send_timeout=send_timeout)
    await producer.start()
    headers = {"Authorization": authorization} if authorization else {}
    out: list[object] = []
    try:
        async with httpx.AsyncClient(base_url=url, headers=headers) as client:
            poller = Poller(
                "sn-poll",
                api,
                load_live_mapping(mapping, source="sn-poll"),
                producer,
                CheckpointFile(checkpoint),
                client,
                start=datetime(2026, 1, 1, tzinfo=UTC),
                overlap=timedelta(minutes=5),
                metrics=IngestMetrics(),
                retry=RetryPolicy(attempts=4),
                clock=lambda: NOW,
                sleep=sleeps or Sleeps(),
            )
            for _ in range(cycles):
                try:
                    out.append(await poller.cycle())
                except (SourceApiError, BrokerError) as exc:
                    out.append(exc)
    finally:
        await producer.stop()
    return out


def test_servicenow_pages_with_429_and_5xx(topics: PulseSettings, tmp_path: Path) -> None:
    records = [servicenow_record(c) for c in final_changes(40, seed=5)]
    api = FakeApi(
        incidents=records,
        faults={
            2: Fault(429, headers={"Retry-After": "7"}),
            4: Fault(503),
            5: Fault(502, b"<html>Bad gateway</html>"),
            7: Fault(200, b"<html>maintenance</html>"),  # a 200 that is not a page
        },
        authorization="Bearer sn-token",
    )
    sleeps = Sleeps()
    checkpoint = tmp_path / "sn.json"
    with serving(api) as url:
        (report,) = asyncio.run(
            run_cycles(
                topics,
                url,
                ServiceNowTable("incident", page_size=7),
                "servicenow",
                checkpoint,
                sleeps=sleeps,
                authorization="Bearer sn-token",
            )
        )
        assert sleeps.waits == [7.0, 1.0, 2.0, 1.0]  # Retry-After honoured, else backoff
        newest = max(r["sys_updated_on"] for r in records)
        saved = CheckpointFile(checkpoint).load()
        assert saved is not None
        assert saved.since == datetime.fromisoformat(newest + "+00:00") == report.since  # type: ignore[attr-defined]
        want = expected_ids("servicenow", "sn-poll", records)
        assert set(produced_ids(topics)) == want
        # a cycle with nothing new re-reads the overlap: the same ids, the same checkpoint
        asyncio.run(
            run_cycles(
                topics,
                url,
                ServiceNowTable("incident", 7),
                "servicenow",
                checkpoint,
                authorization="Bearer sn-token",
            )
        )
        assert set(produced_ids(topics)) == want
        again = CheckpointFile(checkpoint).load()
        assert again is not None and again.since == saved.since
        # records changed since: the next cycle brings them, and the checkpoint moves to them
        changed = [
            {**r, "sys_updated_on": "2026-03-09 10:00:00", "priority": "1", "sys_mod_count": "99"}
            for r in records[:5]
        ]
        api.incidents = records[5:] + changed
        asyncio.run(
            run_cycles(
                topics,
                url,
                ServiceNowTable("incident", 7),
                "servicenow",
                checkpoint,
                authorization="Bearer sn-token",
            )
        )
        assert set(produced_ids(topics)) == want | expected_ids("servicenow", "sn-poll", changed)
        moved = CheckpointFile(checkpoint).load()
        assert moved is not None and moved.since == datetime(2026, 3, 9, 10, tzinfo=UTC)


def test_a_bad_page_keeps_the_checkpoint(topics: PulseSettings, tmp_path: Path) -> None:
    records = [servicenow_record(c) for c in final_changes(30, seed=6)]
    ordered = sorted(r["sys_updated_on"] for r in records)
    # request 1 is page 1; requests 2-5 (every attempt at page 2) are not pages
    bad = {n: Fault(200, b'{"error": {"message": "Transaction cancelled"}}') for n in (2, 3, 4, 5)}
    api = FakeApi(incidents=records, faults=bad)
    checkpoint = tmp_path / "sn.json"
    with serving(api) as url:
        failed, recovered = asyncio.run(
            run_cycles(
                topics, url, ServiceNowTable("incident", 10), "servicenow", checkpoint, cycles=2
            )
        )
    assert isinstance(failed, SourceApiError) and "failed 4 times" in str(failed)
    first_page_newest = datetime.fromisoformat(ordered[9] + "+00:00")
    # after the failure the checkpoint was page 1's (asserted through the recovery's start)
    second_cycle_start = [r for r in api.requests if r["path"].startswith("/api")][5]
    bound = (first_page_newest - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    assert second_cycle_start["sysparm_query"].startswith(f"sys_updated_on>={bound}^")
    assert recovered.since == datetime.fromisoformat(ordered[-1] + "+00:00")  # type: ignore[attr-defined]
    assert set(produced_ids(topics)) == expected_ids("servicenow", "sn-poll", records)


def test_jira_search_pages_through_a_crowded_minute(topics: PulseSettings, tmp_path: Path) -> None:
    changes = final_changes(45, seed=7)
    issues = [jira_webhook(c)["issue"] for c in changes]
    crowded = "2026-03-08T09:30:{:02d}.000+0000"
    for n, issue in enumerate(issues[:25]):  # 25 issues updated in one minute, pages of 10
        issue["fields"]["updated"] = crowded.format(n)
    api = FakeApi(issues=issues, faults={3: Fault(503, headers={"Retry-After": "2"})})
    with serving(api) as url:
        (report,) = asyncio.run(
            run_cycles(topics, url, JiraSearch(page_size=10), "jira-search", tmp_path / "j.json")
        )
    assert set(produced_ids(topics)) == expected_ids("jira-search", "sn-poll", issues)
    assert report.since == max(datetime.fromisoformat(i["fields"]["updated"]) for i in issues)  # type: ignore[attr-defined]
    starts = [int(r["startAt"]) for r in api.requests]
    assert max(starts) >= 10  # the crowded minute needed the offset


def test_an_api_refusing_us_fails_at_once(topics: PulseSettings, tmp_path: Path) -> None:
    api = FakeApi(
        incidents=[servicenow_record(histories(1, seed=1)[0])], authorization="Bearer right"
    )
    sleeps = Sleeps()
    with serving(api) as url:
        (failed,) = asyncio.run(
            run_cycles(
                topics,
                url,
                ServiceNowTable(),
                "servicenow",
                tmp_path / "c.json",
                sleeps=sleeps,
                authorization="Bearer wrong",
            )
        )
    assert isinstance(failed, SourceApiError) and "HTTP 401" in str(failed)
    assert sleeps.waits == [] and not (tmp_path / "c.json").exists()


def test_no_acknowledgement_no_checkpoint(topics: PulseSettings, tmp_path: Path) -> None:
    """The events topic does not exist (and the broker creates none): Kafka never acknowledges,
    so the checkpoint is not written."""
    missing = topics.model_copy(update={"events_topic": f"test.{uuid.uuid4().hex[:8]}.absent"})
    api = FakeApi(incidents=[servicenow_record(c) for c in final_changes(5, seed=8)])
    with serving(api) as url:
        (failed,) = asyncio.run(
            run_cycles(
                missing, url, ServiceNowTable(), "servicenow", tmp_path / "c.json", send_timeout=3
            )
        )
    assert isinstance(failed, BrokerError)
    assert not (tmp_path / "c.json").exists()


def test_an_unmappable_record_is_a_dead_letter_and_the_page_goes_on(
    topics: PulseSettings, tmp_path: Path
) -> None:
    records = [servicenow_record(c) for c in final_changes(12, seed=9)]
    broken = {**records[3], "state": "", "number": ""}  # no id
    bad_time = {**records[4], "opened_at": "not a time"}
    api = FakeApi(
        incidents=[r for r in records if r not in (records[3], records[4])] + [broken, bad_time]
    )
    with serving(api) as url:
        (report,) = asyncio.run(
            run_cycles(
                topics, url, ServiceNowTable("incident", 5), "servicenow", tmp_path / "c.json"
            )
        )
    letters = [decode_dead_letter(v) for _, v in read_topic(topics, topics.dead_letter_topic)]
    assert sorted(d["reason"] for d in letters) == ["bad_timestamp", "missing_id"]
    assert {json.loads(d["original"])["sys_updated_on"] for d in letters} == {
        broken["sys_updated_on"],
        bad_time["sys_updated_on"],
    }
    good = [r for r in api.incidents if r not in (broken, bad_time)]
    assert set(produced_ids(topics)) == expected_ids("servicenow", "sn-poll", good)
    newest = max(r["sys_updated_on"] for r in api.incidents)
    assert report.since == datetime.fromisoformat(newest + "+00:00")  # type: ignore[attr-defined]
