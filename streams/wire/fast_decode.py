"""The fast path of ``EventDecoder``: msgspec reads a canonical envelope; pydantic judges the rest.

``read_canonical(raw)`` returns the validated values of an envelope only when it is sure that
``EventEnvelope.model_validate_json(raw)`` accepts the same bytes *and* yields the same values;
in every other case it returns None, and the decoder takes the pydantic path, which gives the
verdict and, for a bad record, its dead-letter reason. So this path can only accept *less*, never
differently, and no reason code comes from it. "Sure" means every rule of
``outcome_pulse.streams.wire.events`` holds without any of pydantic's lax conversions:

* the top level is a JSON object with only the envelope's fields (no CloudEvents extensions:
  those go to pydantic, which keeps them as extras), ``data`` an object with only its kind's
  fields (``OrderData`` has no ``assignee``);
* ``specversion`` is ``"1.0"``, ``datacontenttype`` (if present) ``"application/json"``,
  ``type`` one of ``ALL_EVENT_TYPES``, ``sequence`` (if present) a JSON integer in
  ``0 .. 2**63 - 1`` (a string, float or boolean goes to pydantic, which may convert it);
* every text (``id``, ``source``, ``subject``, ``data.state``/``priority``/``assignee``,
  attribute names) has 1 to 256 characters, no NUL, and nothing to strip (Python's ``strip``
  removes a superset of the Unicode White_Space characters pydantic-core strips, so an unchanged
  ``strip`` means pydantic changes nothing either); attribute values at most 1024 characters
  and no NUL; at most 64 attributes;
* ``time`` and ``data.due_at`` are ``YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM)`` (ASCII
  digits, an offset of hours 00-23 and minutes 00-59: ``fromisoformat`` takes ``+00:60``,
  pydantic does not), read by ``datetime.fromisoformat`` and converted to UTC;
* a ``state_changed``, ``priority_changed`` or ``assigned`` event carries its field.

msgspec itself refuses what is not UTF-8, not JSON, a wrong JSON type, a missing field or an
unknown one; all of that falls back. ``tests/unit/test_fast_decode.py`` checks with hypothesis,
over valid and mutated envelopes and every dead-letter reason, that the decoder with this path
accepts and rejects exactly what the pydantic path alone does, with equal envelopes and reasons.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from outcome_pulse.processors.lifecycle import (
    ALL_EVENT_TYPES,
    ItemKind,
    Lifecycle,
    parse_event_type,
)

_MAX_TEXT = 256
_MAX_ATTR_VALUE = 1024
_MAX_ATTRIBUTES = 64
_MAX_SEQUENCE = 2**63 - 1

_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
_TYPES: dict[str, tuple[ItemKind, Lifecycle]] = {t: parse_event_type(t) for t in ALL_EVENT_TYPES}
_REQUIRED: dict[Lifecycle, str] = {
    Lifecycle.STATE_CHANGED: "state",
    Lifecycle.PRIORITY_CHANGED: "priority",
    Lifecycle.ASSIGNED: "assignee",
}


class _Data(msgspec.Struct, forbid_unknown_fields=True):
    state: str | UnsetType | None = UNSET
    priority: str | UnsetType | None = UNSET
    assignee: str | UnsetType | None = UNSET
    due_at: str | UnsetType | None = UNSET
    attributes: dict[str, str] | UnsetType = UNSET


class _Envelope(msgspec.Struct, forbid_unknown_fields=True):
    specversion: str
    id: str
    source: str
    type: str
    time: str
    subject: str
    data: _Data
    datacontenttype: str | UnsetType = UNSET
    sequence: int | UnsetType = UNSET


_DECODER = msgspec.json.Decoder(_Envelope)


# kind, EventEnvelope's field values (without ``data``), the fields the JSON gave, the data
# model's field values, the data fields the JSON gave
CanonicalEnvelope = tuple[ItemKind, dict[str, Any], set[str], dict[str, Any], set[str]]

_ALWAYS_SET = frozenset({"specversion", "id", "source", "type", "time", "subject", "data"})


def read_canonical(raw: bytes) -> CanonicalEnvelope | None:
    """The envelope in ``raw`` when it is canonical (module doc), else None: ask pydantic."""
    try:
        env = _DECODER.decode(raw)
    except Exception:  # not JSON, not UTF-8 (UnicodeDecodeError), too deep, wrong shape...
        return None  # ...pydantic judges it and names the reason
    known = _TYPES.get(env.type)
    if known is None or env.specversion != "1.0":
        return None
    kind, lifecycle = known
    if not (_text(env.id) and _text(env.source) and _text(env.subject)):
        return None
    time = _utc(env.time)
    if time is None:
        return None
    fields_set = set(_ALWAYS_SET)
    if env.datacontenttype is not UNSET:
        if env.datacontenttype != "application/json":
            return None
        fields_set.add("datacontenttype")
    sequence = env.sequence
    if sequence is UNSET:
        sequence = 0
    elif 0 <= sequence <= _MAX_SEQUENCE:
        fields_set.add("sequence")
    else:
        return None
    data = _data(env.data, kind is ItemKind.ORDER)
    if data is None:
        return None
    values, data_fields_set = data
    needed = _REQUIRED.get(lifecycle)
    if needed is not None and values[needed] is None:
        return None
    fields = {
        "specversion": "1.0",
        "id": env.id,
        "source": env.source,
        "type": env.type,
        "time": time,
        "subject": env.subject,
        "datacontenttype": "application/json",
        "sequence": sequence,
    }
    return kind, fields, fields_set, values, data_fields_set


def _data(data: _Data, order: bool) -> tuple[dict[str, Any], set[str]] | None:
    """The data model's values and the fields given, or None."""
    given: set[str] = set()
    state = data.state
    if state is UNSET:
        state = None
    else:
        given.add("state")
        if state is not None and not _text(state):
            return None
    priority = data.priority
    if priority is UNSET:
        priority = None
    else:
        given.add("priority")
        if priority is not None and not _text(priority):
            return None
    assignee = data.assignee
    if assignee is UNSET:
        assignee = None
    elif order:
        return None  # OrderData forbids it
    else:
        given.add("assignee")
        if assignee is not None and not _text(assignee):
            return None
    due_at: datetime | None = None
    if data.due_at is not UNSET:
        given.add("due_at")
        if data.due_at is not None:
            due_at = _utc(data.due_at)
            if due_at is None:
                return None
    attributes = data.attributes
    if attributes is UNSET:
        attributes = {}
    else:
        given.add("attributes")
        if len(attributes) > _MAX_ATTRIBUTES:
            return None
        for name, value in attributes.items():
            if not _text(name) or len(value) > _MAX_ATTR_VALUE or "\x00" in value:
                return None
    values: dict[str, Any] = {"state": state, "priority": priority}
    if not order:
        values["assignee"] = assignee
    values["due_at"] = due_at
    values["attributes"] = attributes
    return values, given


def _text(value: str) -> bool:
    return 0 < len(value) <= _MAX_TEXT and "\x00" not in value and value == value.strip()


def _utc(text: str) -> datetime | None:
    if _TIME.fullmatch(text) is None:
        return None
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
