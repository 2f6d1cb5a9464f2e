"""The decoder's msgspec fast path accepts and rejects exactly what pydantic alone does.

``EventDecoder`` reads canonical envelopes with msgspec (``streams/wire/fast_decode.py``) and
hands everything else to pydantic; ``fast_path=False`` is pydantic alone, the reference. For
every input here both must agree: the same envelope (equal, same data model, same fields given,
same domain event, same bytes re-encoded) or the same dead-letter reason and detail.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcome_pulse.processors.errors import InvalidRecord
from outcome_pulse.processors.lifecycle import ALL_EVENT_TYPES, ItemKind, parse_event_type
from outcome_pulse.streams.wire.events import EventDecoder, EventEnvelope, encode_event
from outcome_pulse.streams.wire.fast_decode import read_canonical
from tests.e2e.bad_records import CHARS, Fuzzer

NOW = datetime(2026, 11, 21, tzinfo=UTC)
FAST = EventDecoder(lambda: NOW)
REFERENCE = EventDecoder(lambda: NOW, fast_path=False)


def verdict(decoder: EventDecoder, raw: bytes | None) -> EventEnvelope | tuple[str, ...]:
    try:
        return decoder.decode(raw)
    except InvalidRecord as bad:
        return ("rejected", bad.reason, bad.detail)
    except Exception as exc:  # a decoder bug: both paths must show the same one
        return ("error", type(exc).__name__, str(exc))


def assert_same(raw: bytes | None) -> EventEnvelope | tuple[str, ...]:
    fast, reference = verdict(FAST, raw), verdict(REFERENCE, raw)
    if isinstance(fast, tuple) or isinstance(reference, tuple):
        assert fast == reference, raw
        return fast
    assert fast == reference, raw
    assert type(fast.data) is type(reference.data)
    assert fast.__pydantic_fields_set__ == reference.__pydantic_fields_set__
    assert fast.data.__pydantic_fields_set__ == reference.data.__pydantic_fields_set__
    assert fast.__pydantic_extra__ == reference.__pydantic_extra__
    assert fast.time.utcoffset() == reference.time.utcoffset()
    assert fast.to_item_event() == reference.to_item_event()
    assert encode_event(fast) == encode_event(reference)
    return fast


# -- the fast path is taken where it should be ----------------------------------------------


def test_our_own_encoding_takes_the_fast_path() -> None:
    fuzzer = Fuzzer(seed=1, now=NOW)
    for event_type in sorted(ALL_EVENT_TYPES):
        envelope = REFERENCE.decode(json.dumps(fuzzer.plain_event(event_type)).encode())
        raw = encode_event(envelope)
        assert read_canonical(raw) is not None, raw
        assert assert_same(raw) == envelope


# -- the fuzzer of the bad-input e2e test: every dead-letter reason, and hostile valid events --


@pytest.mark.parametrize("seed", range(3))
def test_fuzzed_bad_records_get_the_same_reason(seed: int) -> None:
    fuzzer = Fuzzer(seed=seed, now=NOW)
    reasons: set[str] = set()
    for _ in range(1500):
        record = fuzzer.bad()
        got = assert_same(record.value)
        if record.reason != "wrong_key":  # the key is the handler's rule, not the decoder's
            assert isinstance(got, tuple) and got[1] == record.reason, (record, got)
            reasons.add(record.reason)
    assert len(reasons) >= 13  # every decoder reason was met


@pytest.mark.parametrize("seed", range(3))
def test_fuzzed_hostile_valid_events_decode_the_same(seed: int) -> None:
    fuzzer = Fuzzer(seed=seed, now=NOW)
    fast = 0
    for _ in range(400):
        record = fuzzer.hostile_valid()
        got = assert_same(record.value)
        assert not isinstance(got, tuple), (record, got)
        fast += read_canonical(record.value) is not None
        reencoded = encode_event(got)
        # re-encoded, it is canonical, unless it has extension attributes (pydantic's extras)
        assert (read_canonical(reencoded) is not None) is not bool(got.__pydantic_extra__)
        assert assert_same(reencoded) == got
    assert fast > 100  # most of them take the fast path themselves


# -- edge cases written out -----------------------------------------------------------------


def base(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "servicenow-prod",
        "type": "pulse.incident.state_changed",
        "time": "2012-05-02T10:00:00+02:00",
        "subject": "INC0001",
        "sequence": 3,
        "data": {"state": "In Progress", "priority": "P2", "attributes": {"group": "db"}},
    }
    for name, value in changes.items():
        top, _, sub = name.partition("__")
        if sub:
            if value is _DROP:
                obj[top].pop(sub, None)
            else:
                obj[top][sub] = value
        elif value is _DROP:
            obj.pop(top, None)
        else:
            obj[top] = value
    return obj


_DROP = object()
TIMES = [
    "2012-05-02T10:00:00Z",
    "2012-05-02T10:00:00z",
    "2012-05-02t10:00:00Z",
    "2012-05-02 10:00:00Z",
    "2012-05-02T10:00:00.5Z",
    "2012-05-02T10:00:00.123456Z",
    "2012-05-02T10:00:00.1234567Z",
    "2012-05-02T10:00:00,5Z",
    "2012-05-02T10:00Z",
    "2012-05-02T10:00:00+0200",
    "2012-05-02T10:00:00+02",
    "2012-05-02T10:00:00-00:00",
    "2012-05-02T10:00:00+23:59",
    "2012-05-02T10:00:00+24:00",
    "2012-05-02T10:00:00+00:60",
    "2012-05-02T24:00:00Z",
    "2012-05-02T23:59:60Z",
    "2012-02-30T10:00:00Z",
    "2012-05-02T10:00:00",
    "2012-05-02",
    "20120502T100000Z",
    "2012-W18-3T10:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0000-01-01T00:00:00Z",
    "\u0662012-05-02T10:00:00Z",
    " 2012-05-02T10:00:00Z",
    "2012-05-02T10:00:00Z ",
    "1336000000",
]
EDGES: list[dict[str, Any]] = [
    base(),
    base(sequence=_DROP),
    base(sequence=0),
    base(sequence=2**63 - 1),
    base(sequence=2**63),
    base(sequence=-1),
    base(sequence=True),
    base(sequence=1.0),
    base(sequence="7"),
    base(sequence=None),
    base(datacontenttype="application/json"),
    base(datacontenttype="text/xml"),
    base(datacontenttype=None),
    base(specversion="1.0 "),
    base(specversion=1.0),
    base(id=" evt-1"),
    base(id="evt-1\x1f"),
    base(id="evt-1\u3000"),
    base(id="\u200bevt"),
    base(id="x" * 256),
    base(id="x" * 257),
    base(id="x" * 255 + " "),
    base(subject="I\x00"),
    base(source="é" * 256),
    base(traceparent="00-abc"),
    base(type="pulse.order.placed"),
    base(type="pulse.order.placed", data__assignee=None),
    base(type="pulse.order.placed", data__assignee="x"),
    base(type="pulse.order.placed", data__due_at="2012-05-03T00:00:00+05:30"),
    base(type="pulse.order.placed", data__due_at=None),
    base(type="pulse.order.placed", data__due_at="2012-05-03"),
    base(data__state=None),
    base(data__state=_DROP),
    base(type="pulse.incident.created", data__state=None),
    base(type="pulse.incident.assigned"),
    base(type="pulse.incident.assigned", data__assignee=" "),
    base(type="pulse.incident.priority_changed", data__priority=None),
    base(data__assignee=None),
    base(data__attributes=None),
    base(data__attributes=_DROP),
    base(data__attributes={}),
    base(data__attributes={f"k{i}": "v" for i in range(64)}),
    base(data__attributes={f"k{i}": "v" for i in range(65)}),
    base(data__attributes={"k": "v" * 1024}),
    base(data__attributes={"k": "v" * 1025}),
    base(data__attributes={"k": " padded "}),
    base(data__attributes={" k": "v"}),
    base(data__attributes={"k": ""}),
    base(data__attributes={"": "v"}),
    base(data__attributes={"k": "a\x00"}),
    base(data__extra="x"),
    base(data=[]),
    base(data=None),
    *[base(time=t) for t in TIMES],
    *[base(type="pulse.order.placed", data__due_at=t) for t in TIMES],
]


@pytest.mark.parametrize("obj", EDGES, ids=[str(i) for i in range(len(EDGES))])
def test_edge_cases_agree(obj: dict[str, Any]) -> None:
    assert_same(json.dumps(obj).encode())
    assert_same(json.dumps(obj, ensure_ascii=False).encode())


@pytest.mark.parametrize(
    "raw",
    [
        b'{"specversion":"1.0","id":"a","id":"b","source":"s","type":"pulse.ticket.created",'
        b'"time":"2012-05-02T10:00:00Z","subject":"x","data":{}}',
        b'{"specversion":"1.0","id":"a","source":"s","type":"pulse.ticket.created",'
        b'"time":"2012-05-02T10:00:00Z","subject":"x","data":{"state":"a","state":"b"}}',
        b'{"specversion":"1.0","id":"a\\ud800","source":"s","type":"pulse.ticket.created",'
        b'"time":"2012-05-02T10:00:00Z","subject":"x","data":{}}',
        b'{"specversion":"1.0","id":"a\\ud83d\\ude00","source":"s","type":"pulse.ticket.created",'
        b'"time":"2012-05-02T10:00:00Z","subject":"x","data":{}}',
        b' {"specversion":"1.0","id":"a","source":"s","type":"pulse.ticket.created",'
        b'"time":"2012-05-02T10:00:00Z","subject":"x","data":{}}\n',
        b'{"specversion":"1.0","id":"a","source":"s","type":"pulse.ticket.created",'
        b'"time":"2012-05-02T10:00:00Z","subject":"x","data":{},"sequence":1e2}',
        b"[]",
        b"null",
        b"{}",
        b"",
        None,
    ],
)
def test_raw_edge_cases_agree(raw: bytes | None) -> None:
    assert_same(raw)


# -- hypothesis: generated envelopes, then mutated ------------------------------------------

chars = st.sampled_from([*CHARS, "\x00", " ", "\t", "\x1c", "\u3000", "\u2029"])
texts = st.one_of(
    st.text(chars, min_size=0, max_size=8),
    st.text(chars, min_size=250, max_size=260),
    st.sampled_from(["a", "INC0001", "x" * 256, "x" * 257]),
)
times = st.one_of(
    st.sampled_from(TIMES),
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.timezones(),
    ).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1)).map(
        lambda d: d.isoformat() + "Z"
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    event_type = draw(st.sampled_from(sorted(ALL_EVENT_TYPES)))
    order = parse_event_type(event_type)[0] is ItemKind.ORDER
    data: dict[str, Any] = {}
    names = ["state", "priority"] + ([] if order else ["assignee"])
    for name in names:
        if draw(st.booleans()):
            data[name] = draw(st.none() | texts)
    if draw(st.booleans()):
        data["due_at"] = draw(st.none() | times)
    if draw(st.booleans()):
        data["attributes"] = draw(
            st.dictionaries(texts, texts, max_size=3)
            | st.dictionaries(st.text(max_size=3), st.text(max_size=3), min_size=63, max_size=66)
        )
    obj: dict[str, Any] = {
        "specversion": "1.0",
        "id": draw(texts),
        "source": draw(texts),
        "type": event_type,
        "time": draw(times),
        "subject": draw(texts),
        "data": data,
    }
    if draw(st.booleans()):
        obj["sequence"] = draw(st.integers(min_value=-2, max_value=2**64) | json_values)
    if draw(st.booleans()):
        obj["datacontenttype"] = draw(st.sampled_from(["application/json", "text/plain", None]))
    return obj


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    obj = draw(envelopes())
    for _ in range(draw(st.integers(0, 2))):
        inside = draw(st.booleans()) and isinstance(obj.get("data"), dict)
        target = obj["data"] if inside else obj
        action = draw(st.sampled_from(["drop", "replace", "add"]))
        if action == "drop" and target:
            target.pop(draw(st.sampled_from(sorted(target))))
        elif action == "replace" and target:
            target[draw(st.sampled_from(sorted(target)))] = draw(json_values)
        else:
            target[draw(texts)] = draw(json_values)
    return obj


@settings(max_examples=700, deadline=None)
@given(envelopes(), st.booleans())
def test_generated_envelopes_agree(obj: dict[str, Any], ascii_only: bool) -> None:
    assert_same(json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass"))


@settings(max_examples=700, deadline=None)
@given(mutated(), st.booleans())
def test_mutated_envelopes_agree(obj: dict[str, Any], ascii_only: bool) -> None:
    assert_same(json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass"))


@settings(max_examples=400, deadline=None)
@given(envelopes(), st.data())
def test_byte_level_mutations_agree(obj: dict[str, Any], data: st.DataObject) -> None:
    raw = bytearray(json.dumps(obj).encode())
    at = data.draw(st.integers(0, len(raw) - 1))
    action = data.draw(st.sampled_from(["cut", "flip", "insert"]))
    if action == "cut":
        del raw[at:]
    elif action == "flip":
        raw[at] = data.draw(st.integers(0, 255))
    else:
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=3))
    assert_same(bytes(raw))
