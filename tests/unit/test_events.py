"""The CloudEvents envelope: what is valid, and the reason code for what is not."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from outcome_pulse.processors.errors import InvalidRecord
from outcome_pulse.processors.lifecycle import (
    ALL_EVENT_TYPES,
    ItemKind,
    Lifecycle,
    parse_event_type,
)
from outcome_pulse.streams.wire.events import EventDecoder, build_envelope, encode_event

NOW = datetime(2026, 11, 21, tzinfo=UTC)
decoder = EventDecoder(lambda: NOW, max_bytes=4096)


def good(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "servicenow-prod",
        "type": "pulse.incident.state_changed",
        "time": "2012-05-02T10:00:00+02:00",
        "subject": "INC0001",
        "data": {"state": "In Progress", "priority": "P2", "attributes": {"group": "db"}},
    }
    base.update(overrides)
    return base


def decode(obj: object) -> object:
    return decoder.decode(json.dumps(obj).encode())


def test_valid_event_round_trips_and_is_utc() -> None:
    env = decode(good())
    assert env.time == datetime(2012, 5, 2, 8, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    assert decoder.decode(encode_event(env)) == env  # type: ignore[arg-type]
    item = env.to_item_event()  # type: ignore[attr-defined]
    assert (item.kind, item.lifecycle, item.item_id) == (
        ItemKind.INCIDENT,
        Lifecycle.STATE_CHANGED,
        "INC0001",
    )


def test_every_lifecycle_type_is_known() -> None:
    assert len(ALL_EVENT_TYPES) == 2 * 9 + 5
    for t in ALL_EVENT_TYPES:
        parse_event_type(t)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"\xff\xfe{", "not_utf8"),
        (b'{"id": ', "malformed_json"),
        (b"[1, 2]", "not_an_object"),
        (b"x" * 5000, "oversized"),
    ],
)
def test_bytes_that_are_not_events(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidRecord) as bad:
        decoder.decode(raw)
    assert bad.value.reason == reason


def test_a_number_python_will_not_read_is_malformed_json() -> None:
    """Valid JSON, but over int's 4300-digit limit: json.loads raised a bare ValueError."""
    raw = json.dumps(good()).encode().replace(b'"id"', b'"n": ' + b"9" * 4400 + b', "id"')
    with pytest.raises(InvalidRecord) as bad:
        EventDecoder(lambda: NOW).decode(raw)
    assert bad.value.reason == "malformed_json"
    assert "4300 digits" in bad.value.detail


@pytest.mark.parametrize(
    ("change", "reason", "names"),
    [
        ({"time": "yesterday"}, "bad_timestamp", "time"),
        ({"time": "2012-05-02T10:00:00"}, "bad_timestamp", "time"),  # no offset
        ({"time": "1900-01-01T00:00:00Z"}, "too_old", "1900"),
        ({"time": "2031-01-01T00:00:00Z"}, "in_future", "2031"),
        ({"id": ""}, "missing_id", "id"),
        ({"subject": None}, "missing_id", "subject"),
        ({"type": "pulse.incident.exploded"}, "unknown_type", "exploded"),
        ({"type": "pulse.spaceship.created"}, "unknown_type", "spaceship"),
        ({"specversion": "0.3"}, "not_cloudevents", "specversion"),
        ({"data": {"state": "x", "colour": "red"}}, "invalid_data", "colour"),
        ({"data": {"state": "a\x00b"}}, "invalid_data", "state"),
        ({"type": "pulse.incident.assigned", "data": {}}, "invalid_event", "assignee"),
        ({"data": {"state": "s" * 300}}, "invalid_data", "state"),
        # parse, but are outside datetime's range once converted to UTC (were OverflowError)
        ({"time": "0001-01-01T00:00:00+01:00"}, "bad_timestamp", "out of range"),
        ({"time": "9999-12-31T23:59:59-10:00"}, "bad_timestamp", "out of range"),
        (
            {"type": "pulse.order.placed", "data": {"due_at": "0001-01-01T00:00:00+05:00"}},
            "invalid_data",
            "due_at",
        ),
    ],
)
def test_invalid_envelopes_name_the_problem(
    change: dict[str, object], reason: str, names: str
) -> None:
    with pytest.raises(InvalidRecord) as bad:
        decode(good(**change))
    assert bad.value.reason == reason
    assert names in bad.value.detail


def test_order_event_carries_its_due_date() -> None:
    env = build_envelope(
        event_id="o1",
        source="scms",
        kind=ItemKind.ORDER,
        lifecycle=Lifecycle.PLACED,
        time=datetime(2010, 1, 1, tzinfo=UTC),
        item_id="42",
        due_at=datetime(2010, 2, 1, tzinfo=UTC),
    )
    assert env.to_item_event().due_at == datetime(2010, 2, 1, tzinfo=UTC)
