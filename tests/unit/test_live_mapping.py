"""Live mappings: field paths, the built-in Jira and ServiceNow mappings on example payloads,
deterministic ids, ignored notifications and the reasons of bad ones."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from outcome_pulse.processors.errors import ConfigError, InvalidRecord
from outcome_pulse.processors.lifecycle import Lifecycle
from outcome_pulse.streams.file_import.timestamps import TimestampParser
from outcome_pulse.streams.live.json_mapping import live_mapping_from_dict, load_live_mapping
from outcome_pulse.streams.live.json_path import MISSING, compile_path
from outcome_pulse.streams.live.notification_events import NotificationMapper, parse_notification
from tests.support.live_payloads import histories, jira_webhook, servicenow_record

JIRA_CREATED = {
    "timestamp": 1772438400000,  # 2026-03-02T08:00:00Z
    "webhookEvent": "jira:issue_created",
    "issue_event_type_name": "issue_created",
    "user": {"displayName": "Ann Lee"},
    "issue": {
        "id": "10002",
        "key": "OPS-7",
        "fields": {
            "summary": "VPN down",
            "status": {"name": "To Do"},
            "priority": {"name": "High"},
            "assignee": None,
            "created": "2026-03-02T09:00:00.000+0100",
            "resolutiondate": None,
            "project": {"key": "OPS"},
            "issuetype": {"name": "Incident"},
        },
    },
}

SERVICENOW_RESOLVED = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
SERVICENOW = {
    "number": "INC0010001",
    "state": "6",
    "priority": "2",
    "assigned_to": "Bo Park",
    "assignment_group": "Network",
    "category": "network",
    "opened_at": "2026-03-02 08:00:00",
    "sys_updated_on": "2026-03-02 12:30:00",
    "resolved_at": "2026-03-02 11:00:00",
    "closed_at": "",
    "sys_mod_count": "4",
}


def jira() -> NotificationMapper:
    return NotificationMapper(load_live_mapping("jira", source="jira-acme"))


def test_paths_walk_keys_indexes_filters_and_fan_out() -> None:
    doc = {"a": {"b": [{"f": "x", "v": 1}, {"f": "status", "v": "Done"}]}}
    assert compile_path("a.b[1].v").lookup(doc) == "Done"
    assert compile_path("a.b[f=status].v").lookup(doc) == "Done"
    assert compile_path("a.b[*].f").lookup(doc) == ["x", "status"]
    assert compile_path("a.b[5].v").lookup(doc) is MISSING
    assert compile_path("a.c.d").lookup(doc) is MISSING
    assert compile_path("a.b.f").lookup(doc) is MISSING  # a key step into a list
    for bad in ["", "a..b", "a[x", "a[=1]", " a"]:
        with pytest.raises(ValueError):
            compile_path(bad)


def test_epoch_milliseconds_are_exact() -> None:
    parse = TimestampParser("epoch_millis").parse
    assert parse("1772438400123") == datetime(2026, 3, 2, 8, 0, 0, 123000, tzinfo=UTC)
    assert TimestampParser("epoch_seconds").parse("1772438400.5").microsecond == 500000
    with pytest.raises(ValueError, match="epoch_millis"):
        parse("soon")


def test_jira_created_gives_created_and_the_observed_state() -> None:
    created, observed = jira().events(JIRA_CREATED).events
    assert created.type == "pulse.incident.created"
    assert created.time == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # +0100 read as such
    assert created.sequence == 0 and created.source == "jira-acme"
    assert observed.type == "pulse.incident.state_changed"
    assert observed.subject == "OPS-7" and observed.sequence == 1
    assert observed.data.state == "To Do" and observed.data.priority == "High"
    assert observed.data.attributes == {"project": "OPS", "issue_type": "Incident"}


def test_retries_and_repeats_have_the_same_ids() -> None:
    first = [e.id for e in jira().events(JIRA_CREATED).events]
    again = [e.id for e in jira().events(copy.deepcopy(JIRA_CREATED)).events]
    assert first == again and len(set(first)) == 2
    later = copy.deepcopy(JIRA_CREATED)
    later["webhookEvent"] = "jira:issue_updated"
    later["timestamp"] += 60_000
    later["issue"]["fields"]["status"] = {"name": "In Progress"}
    later["changelog"] = {"items": [{"field": "status", "toString": "In Progress"}]}
    created, observed = jira().events(later).events
    assert created.id == first[0]  # the creation repeated in every notification: one event
    assert observed.id not in first


def test_jira_update_without_status_change_leaves_the_status_alone() -> None:
    update = copy.deepcopy(JIRA_CREATED)
    update["webhookEvent"] = "jira:issue_updated"
    update["issue"]["fields"]["status"] = {"name": "Done"}
    update["issue"]["fields"]["assignee"] = {"displayName": "Cy Diaz"}
    update["changelog"] = {"items": [{"field": "assignee", "toString": "Cy Diaz"}]}
    observed = jira().events(update).events[-1]
    assert observed.lifecycle is Lifecycle.ASSIGNED and observed.data.state is None
    update["changelog"] = {"items": [{"field": "priority"}]}
    assert jira().events(update).events[-1].lifecycle is Lifecycle.PRIORITY_CHANGED
    update["changelog"] = {"items": [{"field": "comment"}]}
    result = jira().events(update)
    assert result.events == [] and "none of the state" in (result.ignored or "")


def test_jira_resolution_keeps_its_own_time() -> None:
    update = copy.deepcopy(JIRA_CREATED)
    update["webhookEvent"] = "jira:issue_updated"
    update["timestamp"] += 3_600_000
    update["issue"]["fields"]["status"] = {"name": "Done"}
    update["issue"]["fields"]["resolutiondate"] = "2026-03-02T08:30:00.000+0000"
    update["changelog"] = {"items": [{"field": "status"}]}
    resolved = jira().events(update).events[-1]
    assert resolved.lifecycle is Lifecycle.RESOLVED
    assert resolved.time == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def test_jira_events_not_accepted_are_ignored() -> None:
    deleted = {**JIRA_CREATED, "webhookEvent": "jira:issue_deleted"}
    result = jira().events(deleted)
    assert result.events == [] and "jira:issue_deleted" in (result.ignored or "")


def test_a_closed_record_still_says_when_it_was_resolved() -> None:
    mapper = NotificationMapper(load_live_mapping("servicenow"))
    record = {**SERVICENOW, "state": "7", "closed_at": "2026-03-02 12:30:00"}
    created, resolved, closed = mapper.events(record).events
    assert created.lifecycle is Lifecycle.CREATED
    assert (resolved.lifecycle, resolved.time) == (Lifecycle.RESOLVED, SERVICENOW_RESOLVED)
    assert closed.lifecycle is Lifecycle.CLOSED and closed.sequence > resolved.sequence
    again = mapper.events({**record, "sys_mod_count": "5", "priority": "1"}).events
    assert again[1].id == resolved.id  # milestones carry no data: every repeat is one event


def test_servicenow_record() -> None:
    mapper = NotificationMapper(load_live_mapping("servicenow"))
    created, resolved = mapper.events(SERVICENOW).events
    assert created.type == "pulse.incident.created"
    assert created.time == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert resolved.type == "pulse.incident.resolved"
    assert resolved.time == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)  # resolved_at, not updated
    assert resolved.sequence == 5  # 1 + sys_mod_count
    assert resolved.data.assignee == "Bo Park" and resolved.data.priority == "2"
    assert resolved.data.attributes == {"group": "Network", "category": "network"}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"number": ""}, "missing_id"),
        ({"sys_updated_on": ""}, "missing_timestamp"),
        ({"sys_updated_on": "yesterday"}, "bad_timestamp"),
        ({"opened_at": "2026-13-01 00:00:00"}, "bad_timestamp"),
        ({"sys_mod_count": "many"}, "malformed_record"),
        ({"priority": {"value": "2"}}, "malformed_record"),
        ({"state": "6", "resolved_at": "2026/03/02"}, "bad_timestamp"),
    ],
)
def test_bad_servicenow_records_name_their_reason(change: dict, reason: str) -> None:  # type: ignore[type-arg]
    mapper = NotificationMapper(load_live_mapping("servicenow"))
    with pytest.raises(InvalidRecord) as caught:
        mapper.events({**SERVICENOW, **change})
    assert caught.value.reason == reason


def test_unknown_state_without_default() -> None:
    mapping = live_mapping_from_dict(
        {
            "source": "s",
            "item_kind": "ticket",
            "item_id": {"path": "id"},
            "timestamp": {"path": "at"},
            "state": {"path": "status", "events": {"open": "state_changed"}},
        }
    )
    with pytest.raises(InvalidRecord) as caught:
        NotificationMapper(mapping).events(
            {"id": "T1", "at": "2026-03-02T08:00:00Z", "status": "x"}
        )
    assert caught.value.reason == "unknown_state"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"\xff\xfe", "not_utf8"),
        (b'{"issue": ', "malformed_json"),
        (b"[" * 100_000, "malformed_json"),
        (b"1" * 5000, "malformed_json"),
    ],
)
def test_bodies_that_are_not_json(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        parse_notification(raw)
    assert caught.value.reason == reason


def test_a_body_that_is_not_an_object() -> None:
    with pytest.raises(InvalidRecord) as caught:
        jira().events(parse_notification(b"[1, 2]"))
    assert caught.value.reason == "not_an_object"


def test_mapping_errors_name_the_path_and_what_is_refused() -> None:
    base = {
        "source": "s",
        "item_kind": "incident",
        "item_id": {"path": "id"},
        "timestamp": {"path": "at"},
        "state": {"path": "status", "events": {"open": "state_changed"}},
    }
    with pytest.raises(ConfigError, match="first_event"):
        live_mapping_from_dict({**base, "first_event": "created"})
    # the file import's opened_at and tie_break have live counterparts: said, not ignored
    with pytest.raises(ConfigError, match="opened_at: a live mapping gives the creation time"):
        live_mapping_from_dict({**base, "opened_at": {"path": "created"}})
    with pytest.raises(ConfigError, match=r"tie_break: .* with sequence"):
        live_mapping_from_dict({**base, "tie_break": {"path": "n"}})
    with pytest.raises(ConfigError, match=r"item_id\.path"):
        live_mapping_from_dict({**base, "item_id": {"path": ""}})
    with pytest.raises(ConfigError, match=r"changes\.path"):
        live_mapping_from_dict(
            {**base, "changes": {"path": "changelog.items[0].field", "state": "status"}}
        )
    with pytest.raises(ConfigError, match="is not a field"):
        live_mapping_from_dict({**base, "priority": {"path": "a..b"}})
    with pytest.raises(ConfigError, match="placed"):
        live_mapping_from_dict({**base, "state": {"path": "s", "events": {"x": "placed"}}})
    with pytest.raises(ConfigError, match="built-in"):
        load_live_mapping("no-such-mapping")


def test_generated_histories_map_without_a_dead_letter() -> None:
    jira_mapper = jira()
    sn = NotificationMapper(load_live_mapping("servicenow"))
    changes = histories(60, seed=3)
    jira_events = [e for c in changes for e in jira_mapper.events(jira_webhook(c)).events]
    sn_events = [e for c in changes for e in sn.events(servicenow_record(c)).events]
    # one creation per item (repeated with the same id), one observation per change, and the
    # resolution milestone that notifications of closed items carry (resolved_at is filled)
    closed = len({c.item for c in changes if c.status == "closed"})
    assert closed > 0
    assert len({e.id for e in sn_events}) == len(changes) + 60 + closed
    assert len({e.id for e in jira_events if e.lifecycle is Lifecycle.CREATED}) == 60
