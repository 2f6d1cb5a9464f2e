"""Events on the wire: CloudEvents 1.0-shaped JSON, validated by pydantic v2.

    {"specversion": "1.0", "id": "...", "source": "bpic2013-volvo",
     "type": "pulse.incident.resolved", "time": "2012-05-02T10:00:00Z",
     "subject": "<item id>", "sequence": 42,
     "data": {"state": "Completed-Resolved", "priority": "Medium", "assignee": "...",
              "attributes": {"product": "PROD582"}}}

``type`` is ``pulse.<kind>.<lifecycle>`` (see ``outcome_pulse.processors.lifecycle``); ``subject``
is the item id and the Kafka key; ``sequence`` (the CloudEvents sequence extension) orders events of
one item that share a timestamp. ``decode_event`` turns bytes into an envelope or raises
``InvalidRecord`` with a stable reason code, which is what the dead-letter topic and the metrics
carry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from outcome_pulse.processors.errors import InvalidRecord
from outcome_pulse.processors.lifecycle import (
    ItemEvent,
    ItemKind,
    Lifecycle,
    event_type,
    parse_event_type,
)
from outcome_pulse.streams.wire.fast_decode import CanonicalEnvelope, read_canonical

# No NUL characters anywhere: PostgreSQL text cannot store them, so they are rejected here.
_NO_NUL = r"^[^\x00]*$"
Text = Annotated[
    str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True, pattern=_NO_NUL)
]
AttrValue = Annotated[str, StringConstraints(max_length=1024, pattern=_NO_NUL)]

EARLIEST_EVENT_TIME = datetime(1990, 1, 1, tzinfo=UTC)


def _as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a ValueError (a validation error) when UTC is outside years 1-9999.

    ``0001-01-01T00:00:00+01:00`` parses, but converting it raises OverflowError, which pydantic
    does not turn into a validation error: it escaped the decoder and stopped the worker.
    """
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is out of range once converted to UTC") from None


class WorkItemData(BaseModel):
    """What an incident or ticket looks like after the event; ``due_at`` is its deadline, when
    the export carries one per item (a case's resolve-by date)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    state: Text | None = None
    priority: Text | None = None
    assignee: Text | None = None
    due_at: AwareDatetime | None = None
    attributes: dict[Text, AttrValue] = Field(default_factory=dict, max_length=64)

    @field_validator("due_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _as_utc(value)


class OrderData(BaseModel):
    """What an order looks like after the event; ``due_at`` is the promised delivery."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    state: Text | None = None
    priority: Text | None = None
    due_at: AwareDatetime | None = None
    attributes: dict[Text, AttrValue] = Field(default_factory=dict, max_length=64)

    @field_validator("due_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _as_utc(value)


_REQUIRED: dict[Lifecycle, str] = {
    Lifecycle.STATE_CHANGED: "state",
    Lifecycle.PRIORITY_CHANGED: "priority",
    Lifecycle.ASSIGNED: "assignee",
}


class EventEnvelope(BaseModel):
    """A CloudEvents 1.0 envelope around one lifecycle event."""

    model_config = ConfigDict(extra="allow", frozen=True)
    specversion: Literal["1.0"]
    id: Text
    source: Text
    type: str
    time: AwareDatetime
    subject: Text
    datacontenttype: Literal["application/json"] = "application/json"
    sequence: int = Field(0, ge=0, le=2**63 - 1)
    data: WorkItemData | OrderData

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        parse_event_type(value)
        return value

    @field_validator("time")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return _as_utc(value)

    @field_validator("data", mode="before")
    @classmethod
    def _data_for_type(cls, data: Any, info: ValidationInfo) -> Any:
        """Validate ``data`` against the model of the event's kind; errors name data.<field>."""
        event_type_ = info.data.get("type")
        if not isinstance(event_type_, str) or not isinstance(data, dict):
            return data
        model = OrderData if parse_event_type(event_type_)[0] is ItemKind.ORDER else WorkItemData
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise ValueError(f"{where}: {first.get('msg', 'invalid')}") from None

    @model_validator(mode="after")
    def _required_fields(self) -> EventEnvelope:
        _, lifecycle = parse_event_type(self.type)
        needed = _REQUIRED.get(lifecycle)
        if needed and getattr(self.data, needed, None) is None:
            raise ValueError(f"a {lifecycle.value} event needs data.{needed}")
        return self

    @property
    def kind(self) -> ItemKind:
        return parse_event_type(self.type)[0]

    @property
    def lifecycle(self) -> Lifecycle:
        return parse_event_type(self.type)[1]

    def to_item_event(self) -> ItemEvent:
        kind, lifecycle = parse_event_type(self.type)
        data = self.data
        return ItemEvent(
            event_id=self.id,
            source=self.source,
            item_id=self.subject,
            kind=kind,
            lifecycle=lifecycle,
            time=self.time,
            state=data.state,
            priority=data.priority,
            assignee=getattr(data, "assignee", None),
            due_at=data.due_at,
            attributes=dict(data.attributes),
        )


def build_envelope(
    *,
    event_id: str,
    source: str,
    kind: ItemKind,
    lifecycle: Lifecycle,
    time: datetime,
    item_id: str,
    sequence: int = 0,
    **data: Any,
) -> EventEnvelope:
    """Build and validate an envelope from domain values (used by replay and tests)."""
    return EventEnvelope.model_validate(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": source,
            "type": event_type(kind, lifecycle),
            "time": time,
            "subject": item_id,
            "sequence": sequence,
            "data": {k: v for k, v in data.items() if v is not None and v != {}},
        }
    )


def encode_event(envelope: EventEnvelope) -> bytes:
    return envelope.model_dump_json(exclude_none=True, exclude_defaults=False).encode()


# -- decoding with reasons ---------------------------------------------------------------------

_FIELD_REASONS = {
    "time": "bad_timestamp",
    "id": "missing_id",
    "subject": "missing_id",
    "type": "unknown_type",
    "specversion": "not_cloudevents",
    "source": "missing_source",
    "data": "invalid_data",
}


def _reason_for(error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    loc = first.get("loc", ())
    top = str(loc[0]) if loc else ""
    reason = _FIELD_REASONS.get(top, "invalid_event")
    where = ".".join(str(p) for p in loc) or "event"
    detail = f"{where}: {first.get('msg', 'invalid')}"
    if len(error.errors()) > 1:
        detail += f" (and {len(error.errors()) - 1} more problem(s))"
    return reason, detail


class EventDecoder:
    """Bytes → validated ``EventEnvelope``, or ``InvalidRecord`` naming what is wrong.

    ``clock`` is injected so tests control what counts as "in the future".
    """

    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        max_bytes: int = 64 * 1024,
        earliest: datetime = EARLIEST_EVENT_TIME,
        max_future_skew_seconds: float = 24 * 3600,
        fast_path: bool = True,
    ) -> None:
        """``fast_path``: read canonical envelopes with msgspec (``fast_decode``); off, every
        record is validated by pydantic (the reference the fast path is tested against)."""
        self._fast_path = fast_path
        self._clock = clock
        self._max_bytes = max_bytes
        self._earliest = earliest
        self._skew = max_future_skew_seconds

    def decode(self, raw: bytes | None) -> EventEnvelope:
        if raw is None or len(raw) == 0:
            raise InvalidRecord("empty", "the message has no value")
        if len(raw) > self._max_bytes:
            raise InvalidRecord(
                "oversized", f"{len(raw)} bytes is over the {self._max_bytes}-byte limit"
            )
        # Fastest path (fast_decode.py): msgspec reads an envelope that pydantic would accept
        # with the same values; anything else is pydantic's to judge (``_validated``).
        canonical = read_canonical(raw) if self._fast_path else None
        envelope = self._validated(raw) if canonical is None else _constructed(canonical)
        self._check_time(envelope.time)
        return envelope

    def _validated(self, raw: bytes) -> EventEnvelope:
        try:
            # pydantic-core parses and validates the bytes in one pass (no dict of Python
            # objects first). Anything it refuses takes the path below, which gives the same
            # verdict with its precise reason, so bad input is judged exactly as before.
            return EventEnvelope.model_validate_json(raw)
        except ValueError:  # ValidationError included
            return self._decode_slowly(raw)

    def _decode_slowly(self, raw: bytes) -> EventEnvelope:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidRecord("not_utf8", f"byte {exc.start} is not UTF-8") from None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidRecord(
                "malformed_json", f"{exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        except RecursionError:
            raise InvalidRecord("malformed_json", "nesting too deep") from None
        except ValueError as exc:
            # Valid JSON that Python refuses to read: an integer of more than 4300 digits
            # (sys.get_int_max_str_digits). Before this clause it stopped the worker.
            raise InvalidRecord("malformed_json", f"unreadable value: {exc}") from None
        if not isinstance(obj, dict):
            raise InvalidRecord(
                "not_an_object", f"expected a JSON object, got {type(obj).__name__}"
            )
        try:
            return EventEnvelope.model_validate(obj)
        except ValidationError as exc:
            raise InvalidRecord(*_reason_for(exc)) from None

    def _check_time(self, time: datetime) -> None:
        if time < self._earliest:
            raise InvalidRecord(
                "too_old", f"time {time.isoformat()} is before {self._earliest.date()}"
            )
        now = self._clock()
        if (time - now).total_seconds() > self._skew:
            raise InvalidRecord(
                "in_future", f"time {time.isoformat()} is after now ({now.isoformat()})"
            )


def _constructed(canonical: CanonicalEnvelope) -> EventEnvelope:
    """The ``EventEnvelope`` pydantic would have built from the same bytes, without validating
    again (``read_canonical`` checked every rule): equal to it, fields set and extras included.

    Built as ``model_construct`` builds a model, without its per-field loop over defaults (the
    values are complete): about a fifth of its time.
    """
    kind, fields, fields_set, values, data_fields_set = canonical
    data = _new(OrderData if kind is ItemKind.ORDER else WorkItemData)
    _set(data, "__dict__", values)
    _set(data, "__pydantic_fields_set__", data_fields_set)
    _set(data, "__pydantic_extra__", None)
    _set(data, "__pydantic_private__", None)
    fields["data"] = data
    envelope = _new(EventEnvelope)
    _set(envelope, "__dict__", fields)
    _set(envelope, "__pydantic_fields_set__", fields_set)
    _set(envelope, "__pydantic_extra__", {})
    _set(envelope, "__pydantic_private__", None)
    return envelope


_new = object.__new__
_set = object.__setattr__
