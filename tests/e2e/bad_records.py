"""A seeded fuzzer of records for the events topic: bad ones, each with the reason code the worker
must dead-letter it with, and hostile but valid ones, each with the row it must become.

Every bad record is a valid event with exactly one defect (or bytes that are no event at all),
so its reason is known from how it was made, not from asking the decoder. The reason codes are
written out here, independently of ``outcome_pulse.streams.wire.events``: a new or renamed code
fails the test.

Hostile valid events put SQL, Prometheus-exposition breakers, control characters, non-BMP and
bidi characters, COPY text-format markers and the like into every text column; they must be
stored verbatim. Text fields (stripped by the envelope) never start or end with whitespace here,
so "verbatim" is exact; attribute values are not stripped and may.
"""

from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from outcome_pulse.processors.lifecycle import ALL_EVENT_TYPES, ItemKind, parse_event_type
from outcome_pulse.streams.wire.item_key import item_key

REASONS = frozenset(
    {
        "empty",
        "oversized",
        "not_utf8",
        "malformed_json",
        "not_an_object",
        "not_cloudevents",
        "missing_id",
        "missing_source",
        "unknown_type",
        "bad_timestamp",
        "too_old",
        "in_future",
        "invalid_data",
        "invalid_event",
        "wrong_key",
    }
)
# Which reason a defect in each top-level field gives (the first invalid field names it).
FIELD_REASON = {
    "specversion": "not_cloudevents",
    "id": "missing_id",
    "subject": "missing_id",
    "source": "missing_source",
    "type": "unknown_type",
    "time": "bad_timestamp",
    "sequence": "invalid_event",
    "datacontenttype": "invalid_event",
    "data": "invalid_data",
}
MAX_EVENT_BYTES = 64 * 1024
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)

SQL = [
    "'; DROP TABLE pulse_events; --",
    "Robert'); DROP TABLE pulse_item_states;--",
    "1' OR '1'='1",
    "$$; SELECT pg_sleep(30); $$",
    "x'::text); COPY pulse_events TO PROGRAM 'id'; --",
    "E'\\\\x00'",
    "\\.",  # COPY text-format end-of-data marker
    "\\N",  # COPY text-format NULL
    "a\tb\nc\\d",
    "/* */ UNION SELECT * FROM pg_shadow --",
]
PROMETHEUS = [
    'a"b',
    'x{y="z"} 1',
    "line1\nline2",
    'back\\slash\\"',
    '} 1\n# HELP pulse_events_total fake\npulse_events_total{type="x"} 1e9',
    '{le="+Inf"}',
    "# TYPE x counter",
    'reason="wrong_key",',
]
ODD = [
    "\u202eevil\u202c",
    "e\u0301\u0301",
    "zero\u200bwidth",
    "\ufeffbom",
    "\U0001d518\U0001d52b\U0001d526",
    "😀🔥💥",
    "中文テスト한국어",
    "\uffff\ufffe\ufffd",
    "\x01\x02\x1b[31mred\x1b[0m\x7f",
    "\u2028sep\u2029",
    '{"nested": [1, {"a": null}]}',
    "null",
    "\\u0000",  # a backslash, not a NUL
    "<script>alert(1)</script>",
    "%s%n%x{0}${jndi:ldap://x/a}",
]
CHARS = (
    [chr(c) for c in range(0x20, 0x7F)]
    + [chr(c) for c in range(0x01, 0x20)]
    + ["\x7f", "\x85", "\xa0", "é", "ß", "Ω", "中", "😀", "\u200b", "\u202e", "\ufeff"]
    + ["\u2028", "\U0001d518", "\uffff", "\ufffd", "\u0301", "\U0010fffd"]
)


@dataclass(frozen=True)
class BadRecord:
    category: str
    key: bytes | None
    value: bytes | None
    reason: str


@dataclass(frozen=True)
class GoodRecord:
    key: bytes
    value: bytes
    row: dict[str, Any]  # the pulse_events columns it must be stored with


def _unsafe_end(c: str) -> bool:
    return unicodedata.category(c)[0] in "ZC" or c.isspace()


def hostile_text(rng: random.Random, max_len: int, *, strippable: bool = True) -> str:
    """A hostile string, non-empty, at most ``max_len`` characters, without NUL or surrogates.

    ``strippable``: the field is stripped by the envelope, so both ends are made non-blank.
    """
    pick = rng.random()
    if pick < 0.5:
        text = rng.choice(SQL + PROMETHEUS + ODD)
    elif pick < 0.8:
        text = "".join(rng.choice(CHARS) for _ in range(rng.randint(1, 40)))
    else:
        text = rng.choice(SQL + PROMETHEUS + ODD) + "".join(
            rng.choice(CHARS) for _ in range(rng.randint(1, 20))
        )
    if rng.random() < 0.05:
        text = (text * (max_len // max(1, len(text)) + 1))[:max_len]
    text = text[: max_len - 2]
    if strippable and (_unsafe_end(text[0]) or _unsafe_end(text[-1])):
        text = f"<{text}>"
    return text


def _fmt_time(rng: random.Random, moment: datetime) -> str:
    """``moment`` written with a random UTC offset (the envelope converts it back)."""
    minutes = rng.choice([0, 0, 60, -300, 330, 14 * 60 - 1, -(14 * 60 - 1)])
    if minutes == 0 and rng.random() < 0.5:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.astimezone(timezone(timedelta(minutes=minutes))).isoformat()


def _required(event_type: str) -> str | None:
    lifecycle = event_type.rsplit(".", 1)[1]
    return {"state_changed": "state", "priority_changed": "priority", "assigned": "assignee"}.get(
        lifecycle
    )


def _dumps(rng: random.Random, obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=rng.random() < 0.5).encode("utf-8")


class Fuzzer:
    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.n = 0

    def _next(self) -> int:
        self.n += 1
        return self.n

    # -- valid events --------------------------------------------------------------------------

    def plain_event(self, event_type: str | None = None) -> dict[str, Any]:
        """An ordinary valid event (the base the bad records get their one defect in)."""
        rng = self.rng
        n = self._next()
        event_type = event_type or rng.choice(sorted(ALL_EVENT_TYPES))
        data: dict[str, Any] = {"state": "In Progress", "priority": "P2"}
        if parse_event_type(event_type)[0] is not ItemKind.ORDER:
            data["assignee"] = "Sam Søndergaard"
        data["attributes"] = {"product": f"PROD{n % 97}", "note": "naïve café"}
        moment = datetime(2015, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 10**8))
        return {
            "specversion": "1.0",
            "id": f"fuzz-bad-{n}",
            "source": "fuzz-bad",
            "type": event_type,
            "time": _fmt_time(rng, moment),
            "subject": f"fuzz-item-{n}",
            "sequence": rng.randint(0, 10**6),
            "data": data,
        }

    def hostile_valid(self) -> GoodRecord:
        rng = self.rng
        n = self._next()
        event_type = rng.choice(sorted(ALL_EVENT_TYPES))
        is_order = parse_event_type(event_type)[0] is ItemKind.ORDER
        item_id = f"{hostile_text(rng, 200)}#{n}"
        event_id = f"{hostile_text(rng, 200)}#{n}"
        source = "h:" + hostile_text(rng, 200)
        span = (self.now + timedelta(hours=23) - EARLIEST).total_seconds()
        moment = EARLIEST + timedelta(seconds=rng.choice([0.0, rng.uniform(0, span), span]))
        moment = moment.replace(microsecond=rng.choice([0, moment.microsecond]))
        sequence = rng.choice([0, 1, 2**31, 2**63 - 1, rng.randint(0, 2**63 - 1)])
        data: dict[str, Any] = {}
        for name in ("state", "priority") + (() if is_order else ("assignee",)):
            if rng.random() < 0.7 or name == _required(event_type):
                data[name] = hostile_text(rng, 256)
        due_at = None
        if is_order and rng.random() < 0.7:
            due_at = datetime(rng.randint(1, 9998), 1, 1, tzinfo=UTC) + timedelta(
                seconds=rng.randint(0, 364 * 86400)
            )
            data["due_at"] = due_at.isoformat()
        attributes: dict[str, str] = {}
        for _ in range(rng.choice([0, 1, 5, 64])):
            attributes[hostile_text(rng, 256)] = hostile_text(rng, 1024, strippable=False)
        if attributes:
            data["attributes"] = attributes
        obj: dict[str, Any] = {
            "specversion": "1.0",
            "id": event_id,
            "source": source,
            "type": event_type,
            "time": _fmt_time(rng, moment),
            "subject": item_id,
            "sequence": sequence,
            "data": data,
        }
        if rng.random() < 0.1:  # a CloudEvents extension attribute, deeply nested: kept, not stored
            depth = rng.randint(1, 200)
            obj["x" + hostile_text(rng, 20)] = json.loads("[" * depth + "]" * depth)
        value = _dumps(rng, obj)
        if len(value) > MAX_EVENT_BYTES:  # 64 attributes of 1 KiB: trim to fit the limit
            return self.hostile_valid()
        row = {
            "event_id": event_id,
            "event_time": moment,
            "source": source,
            "item_id": item_id,
            "event_type": event_type,
            "sequence": sequence,
            "state": data.get("state"),
            "priority": data.get("priority"),
            "assignee": data.get("assignee"),
            "due_at": due_at,
            "attributes": attributes,
        }
        return GoodRecord(item_key(source, item_id), value, row)

    def exactly_at_the_size_limit(self) -> GoodRecord:
        """A valid event of exactly MAX_EVENT_BYTES (padded with an extension attribute)."""
        obj = self.plain_event("pulse.ticket.created")
        obj["source"] = "fuzz-limit"
        obj["time"] = "2016-02-29T12:00:00Z"
        obj["padding"] = ""
        obj["padding"] = "p" * (MAX_EVENT_BYTES - len(json.dumps(obj).encode()))
        value = json.dumps(obj).encode()
        assert len(value) == MAX_EVENT_BYTES
        data = obj["data"]
        row = {
            "event_id": obj["id"],
            "event_time": datetime(2016, 2, 29, 12, tzinfo=UTC),
            "source": "fuzz-limit",
            "item_id": obj["subject"],
            "event_type": obj["type"],
            "sequence": obj["sequence"],
            "state": data["state"],
            "priority": data["priority"],
            "assignee": data["assignee"],
            "due_at": None,
            "attributes": data["attributes"],
        }
        return GoodRecord(item_key(obj["source"], obj["subject"]), value, row)

    # -- bad records: one defect each ----------------------------------------------------------

    def bad(self) -> BadRecord:
        category, make = self.rng.choices(list(self._makers()), weights=_WEIGHTS)[0]
        key, value, reason = make()
        return BadRecord(category, key, value, reason)

    def _makers(self) -> list[tuple[str, Callable[[], tuple[bytes | None, bytes | None, str]]]]:
        return [
            ("truncated", self._truncated),
            ("malformed_json", self._malformed),
            ("deeply_nested", self._deeply_nested),
            ("not_utf8", self._not_utf8),
            ("oversized", self._oversized),
            ("wrong_type", self._wrong_type),
            ("future", self._future),
            ("far_past", self._far_past),
            ("hostile_invalid", self._hostile_invalid),
            ("huge_number", self._huge_number),
            ("unknown_type", self._unknown_type),
            ("empty", self._empty),
            ("wrong_key", self._wrong_key),
            ("missing_field", self._missing_field),
            ("not_an_object", self._not_an_object),
            ("wrong_data_for_kind", self._wrong_data_for_kind),
        ]

    def _keyed(self, obj: dict[str, Any]) -> bytes:
        """The key of the event's item, source NUL subject (``wire.item_key``), as far as the
        (possibly broken) event has them."""
        source, subject = obj.get("source"), obj.get("subject")
        if not isinstance(source, str) or not isinstance(subject, str):
            return b"k"
        return (
            source.encode("utf-8", "surrogatepass")
            + b"\x00"
            + subject.encode("utf-8", "surrogatepass")
        )

    def _truncated(self) -> tuple[bytes | None, bytes | None, str]:
        obj = self.plain_event()
        full = json.dumps(obj, ensure_ascii=False).encode()
        cut = full[: self.rng.randint(1, len(full) - 1)]
        try:
            cut.decode("utf-8")
        except UnicodeDecodeError:
            return self._keyed(obj), cut, "not_utf8"
        return self._keyed(obj), cut, "malformed_json"

    def _malformed(self) -> tuple[bytes | None, bytes | None, str]:
        rng = self.rng
        obj = self.plain_event()
        text = json.dumps(obj)
        variants = [
            lambda: text.replace('":', '" ', 1),  # a missing colon
            lambda: repr(obj),  # a Python dict: single quotes
            lambda: text[:-1] + ",}",  # a trailing comma
            lambda: text + text,  # two objects
            lambda: "\ufeff" + text,  # a byte-order mark
            lambda: text.replace('"1.0"', "'1.0'"),
            lambda: "{!" + "".join(rng.choice(CHARS[:95]) for _ in range(rng.randint(0, 300))),
            lambda: text.replace('"sequence": ', '"sequence": 0x'),
            lambda: text.replace('"data": {', '"data": {{', 1),
            lambda: text[: rng.randint(2, 20)] + "\x00" + text[20:],  # a raw NUL in the text
        ]
        value = rng.choice(variants)()
        return self._keyed(obj), value.encode("utf-8"), "malformed_json"

    def _deeply_nested(self) -> tuple[bytes | None, bytes | None, str]:
        rng = self.rng
        obj = self.plain_event()
        depth = rng.randint(2_000, 12_000)
        pick = rng.random()
        if pick < 0.3:
            value = "[" * depth + "]" * depth
        elif pick < 0.6:
            depth = min(depth, 10_000)  # 6 bytes a level: stay under the size limit
            value = '{"a":' * depth + "1" + "}" * depth
        elif pick < 0.8:  # too deep to parse, inside an otherwise valid event
            text = json.dumps(obj)
            value = text[:-1] + ', "ext": ' + "[" * depth + "]" * depth + "}"
        else:  # parses, but attribute values must be strings
            obj["data"]["attributes"]["deep"] = json.loads("[" * 50 + "]" * 50)
            return self._keyed(obj), json.dumps(obj).encode(), "invalid_data"
        return self._keyed(obj), value.encode(), "malformed_json"

    def _not_utf8(self) -> tuple[bytes | None, bytes | None, str]:
        rng = self.rng
        obj = self.plain_event()
        pick = rng.random()
        if pick < 0.15:
            return self._keyed(obj), json.dumps(obj).encode("utf-16"), "not_utf8"
        if pick < 0.3:
            latin1 = json.dumps(obj, ensure_ascii=False).encode("latin-1")
            return self._keyed(obj), latin1, "not_utf8"
        bad = rng.choice(
            [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80", b"\x80"]
        )
        raw = json.dumps(obj).encode().replace(b'"In Progress"', b'"In ' + bad + b'Progress"')
        return self._keyed(obj), raw, "not_utf8"

    def _oversized(self) -> tuple[bytes | None, bytes | None, str]:
        rng = self.rng
        obj = self.plain_event()
        base = len(json.dumps(obj).encode())
        size = rng.choice(
            [MAX_EVENT_BYTES + 1, rng.randint(MAX_EVENT_BYTES + 1, 300_000)]
            + ([rng.randint(900_000, 1_000_000)] if rng.random() < 0.05 else [])
        )
        obj["padding"] = ""
        obj["padding"] = "o" * (size - base - len(', "padding": ""'))
        value = json.dumps(obj).encode()
        assert len(value) == size, (len(value), size)
        return self._keyed(obj), value, "oversized"

    def _wrong_type(self) -> tuple[bytes | None, bytes | None, str]:
        rng = self.rng
        obj = self.plain_event("pulse.order.placed" if rng.random() < 0.2 else None)
        field, value = rng.choice(
            [
                ("sequence", "abc"),
                ("sequence", [1]),
                ("sequence", {}),
                ("sequence", -1),
                ("sequence", 1.5),
                ("time", [2013]),
                ("time", {}),
                ("time", None),
                ("time", ""),
                ("time", "2013-13-45T00:00:00Z"),
                ("time", "yesterday"),
                ("time", "2013-05-01T10:00:00"),  # no UTC offset
                ("id", 5),
                ("id", ["a"]),
                ("id", None),
                ("source", 5),
                ("source", {"a": "b"}),
                ("subject", 7),
                ("subject", ["x"]),
                ("type", 5),
                ("type", None),
                ("specversion", 1.0),
                ("specversion", "1"),
                ("datacontenttype", "text/xml"),
                ("data", "x"),
                ("data", []),
                ("data", 5),
                ("data.state", 5),
                ("data.priority", []),
                ("data.attributes", []),
                ("data.attributes", {"k": 5}),
                ("data.attributes", {"k": None}),
            ]
        )
        top, _, sub = field.partition(".")
        key = self._keyed(obj)
        if sub:
            obj["data"][sub] = value
        else:
            obj[top] = value
        return key, json.dumps(obj).encode(), FIELD_REASON[top]

    def _future(self) -> tuple[bytes | None, bytes | None, str]:
        rng = self.rng
        obj = self.plain_event()
        if rng.random() < 0.1:  # parses, but UTC is past year 9999
            obj["time"] = rng.choice(["9999-12-31T23:59:59-10:00", "9999-12-31T20:00:00-14:00"])
            return self._keyed(obj), json.dumps(obj).encode(), "bad_timestamp"
        limit = (datetime(9999, 12, 31, tzinfo=UTC) - self.now).total_seconds()
        ahead = rng.choice([86400 + 3600, rng.uniform(86400 + 3600, limit)])
        obj["time"] = _fmt_time(rng, self.now + timedelta(seconds=ahead))
        return self._keyed(obj), json.dumps(obj).encode(), "in_future"

    def _far_past(self) -> tuple[bytes | None, bytes | None, str]:
        rng = self.rng
        obj = self.plain_event()
        if rng.random() < 0.1:  # parses, but UTC is before year 1
            obj["time"] = rng.choice(["0001-01-01T00:00:00+01:00", "0001-01-01T13:59:00+14:00"])
            return self._keyed(obj), json.dumps(obj).encode(), "bad_timestamp"
        span = (EARLIEST - datetime(1, 1, 2, tzinfo=UTC)).total_seconds()
        before = rng.choice([1e-6, rng.uniform(1e-6, span)])
        moment = EARLIEST - timedelta(seconds=before)
        obj["time"] = moment.isoformat().replace("+00:00", "Z")
        return self._keyed(obj), json.dumps(obj).encode(), "too_old"

    def _hostile_invalid(self) -> tuple[bytes | None, bytes | None, str]:
        """Hostile values the envelope refuses: NUL, lone surrogates, overlong, too many."""
        rng = self.rng
        obj = self.plain_event("pulse.ticket.created")
        key = self._keyed(obj)
        field = rng.choice(["id", "source", "subject", "type", "data.state", "data.attr_key"])
        defect = rng.choice(["nul", "surrogate", "overlong"])
        poison = {
            "nul": "a\x00b",
            "surrogate": "x\ud800y",
            "overlong": "L" * 257,
        }[defect]
        if field == "type":
            poison = 'pulse.ticket.created"} 1\n' if defect == "overlong" else poison
            obj["type"] = poison
        elif field == "data.state":
            obj["data"]["state"] = poison
        elif field == "data.attr_key":
            if defect == "overlong" and rng.random() < 0.5:
                obj["data"]["attributes"] = {f"k{i}": "v" for i in range(65)}  # over 64
            else:
                obj["data"]["attributes"][poison] = "v"
        else:
            obj[field] = poison
        top = field.split(".")[0]
        return key, json.dumps(obj, ensure_ascii=True).encode(), FIELD_REASON[top]

    def _huge_number(self) -> tuple[bytes | None, bytes | None, str]:
        rng = self.rng
        obj = self.plain_event()
        pick = rng.random()
        if pick < 0.2:  # more digits than Python will convert
            obj["sequence"] = "SEQUENCE"
            text = json.dumps(obj).replace('"SEQUENCE"', "9" * rng.randint(4301, 6000))
            return self._keyed(obj), text.encode(), "malformed_json"
        obj["sequence"] = rng.choice(
            [2**70, 2**63, rng.randint(2**63, 2**70), 10**30, -(2**70), float("inf")]
        )
        text = json.dumps(obj)  # inf is written as Infinity, which json.loads reads back
        return self._keyed(obj), text.encode(), "invalid_event"

    def _unknown_type(self) -> tuple[bytes | None, bytes | None, str]:
        rng = self.rng
        obj = self.plain_event()
        obj["type"] = rng.choice(
            [
                "pulse.incident.exploded",
                "pulse.order.resolved",  # a work-item lifecycle on an order
                "pulse.ticket.placed",
                "PULSE.TICKET.CREATED",
                "pulse.ticket",
                "pulse.ticket.created.extra",
                "com.example.ticket.created",
                "",
                "pulse.spaceship.created",
                'pulse.ticket.created"} 1\n# fake',
                "".join(rng.choice(CHARS) for _ in range(rng.randint(1, 30))),
            ]
        )
        if obj["type"] in ALL_EVENT_TYPES:
            obj["type"] += "?"
        return self._keyed(obj), json.dumps(obj).encode(), "unknown_type"

    def _empty(self) -> tuple[bytes | None, bytes | None, str]:
        rng = self.rng
        obj = self.plain_event("pulse.ticket.created")
        key = self._keyed(obj)
        pick = rng.randrange(10)
        if pick == 0:
            return key, b"", "empty"
        if pick == 1:
            return key, None, "empty"  # a tombstone
        if pick == 2:
            return None, json.dumps(obj).encode(), "wrong_key"
        if pick == 3:
            return b"", json.dumps(obj).encode(), "wrong_key"
        if pick == 4:
            return key, b"{}", "not_cloudevents"
        field, value = [
            ("id", ""),
            ("id", "   "),
            ("subject", ""),
            ("source", ""),
            ("data.state", ""),
        ][pick - 5]
        top, _, sub = field.partition(".")
        if sub:
            obj["data"][sub] = value
        else:
            obj[top] = value
        return key, json.dumps(obj).encode(), FIELD_REASON[top]

    def _wrong_key(self) -> tuple[bytes | None, bytes | None, str]:
        rng = self.rng
        obj = self.plain_event()
        source, subject = obj["source"].encode(), obj["subject"].encode()
        right = self._keyed(obj)
        key = rng.choice(
            [
                b"someone-else",
                subject,  # the bare item id: the key format before (source, item)
                source,
                subject + b"\x00" + source,  # the parts swapped
                source + b"\x00" + subject.upper(),
                source.upper() + b"\x00" + subject,
                json.dumps([obj["source"], obj["subject"]]).encode(),
                right + b" ",
                b" " + right,
                right[:-1],
                b"\xff\xfe" + right,
                right * 5000,  # a long key
                right + b"\x00",
            ]
        )
        return key, json.dumps(obj).encode(), "wrong_key"

    def _missing_field(self) -> tuple[bytes | None, bytes | None, str]:
        obj = self.plain_event()
        key = self._keyed(obj)
        field = self.rng.choice(["specversion", "id", "source", "type", "time", "subject", "data"])
        del obj[field]
        return key, json.dumps(obj).encode(), FIELD_REASON[field]

    def _not_an_object(self) -> tuple[bytes | None, bytes | None, str]:
        obj = self.plain_event()
        value = self.rng.choice(
            [json.dumps([obj]), '"an event"', "42", "null", "true", "NaN", "[]", "-0.0e+3"]
        )
        return self._keyed(obj), value.encode(), "not_an_object"

    def _wrong_data_for_kind(self) -> tuple[bytes | None, bytes | None, str]:
        rng = self.rng
        pick = rng.randrange(4)
        if pick == 0:  # orders have no assignee
            obj = self.plain_event("pulse.order.shipped")
            obj["data"]["assignee"] = "Sam"
            reason = "invalid_data"
        elif pick == 1:  # a work item's due date that is not a time (any kind may have one)
            obj = self.plain_event("pulse.incident.created")
            obj["data"]["due_at"] = "by Friday"
            reason = "invalid_data"
        elif pick == 2:  # a field no event has
            obj = self.plain_event()
            obj["data"]["colour"] = "red"
            reason = "invalid_data"
        else:  # a lifecycle without the field it changes
            obj = self.plain_event(
                rng.choice(["pulse.ticket.assigned", "pulse.incident.priority_changed"])
            )
            del obj["data"]["assignee" if obj["type"].endswith("assigned") else "priority"]
            reason = "invalid_event"
        return self._keyed(obj), json.dumps(obj).encode(), reason


# Relative frequency of each bad category, in ``Fuzzer._makers`` order.
_WEIGHTS = [10, 10, 3, 8, 1, 14, 6, 6, 8, 5, 6, 6, 6, 5, 3, 5]
