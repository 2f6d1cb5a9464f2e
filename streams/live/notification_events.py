"""One JSON change notification -> its lifecycle events, or ``InvalidRecord`` with the file
import's reason codes (``RejectReason``, streams/file_import/record_events.py, plus the decoder's
``malformed_json`` / ``not_an_object``).

The per-field work (state map, priority, assignee, attributes, timestamps, envelope validation)
is the file import's ``LongRecordEvents``, fed a dict of path -> text instead of column -> text.
What differs is identity: a notification has no file line, so event ids are
``uuid5(LIVE_NAMESPACE, source, item, lifecycle, time, data)``: a sender's retry, a poller's
overlapping page and a webhook and poller seeing the same change all give the same id, and the
worker and the database deduplicate on it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from outcome_pulse.processors.errors import InvalidRecord
from outcome_pulse.processors.lifecycle import Lifecycle
from outcome_pulse.streams.file_import.mapping import OPENING_LIFECYCLE
from outcome_pulse.streams.file_import.record_events import (
    LongRecordEvents,
    RejectReason,
    validation_detail,
)
from outcome_pulse.streams.file_import.timestamps import TimestampParser
from outcome_pulse.streams.live.json_mapping import LiveMapping
from outcome_pulse.streams.live.json_path import MISSING
from outcome_pulse.streams.wire.events import (
    EventDecoder,
    EventEnvelope,
    build_envelope,
    encode_event,
)

# uuid5(NAMESPACE_URL, "urn:outcome-pulse:live"); fixed forever, or retries change their ids.
LIVE_NAMESPACE = uuid.UUID("5d0cc3e1-0b2c-5c3a-9e8b-3f6a4b6f0e11")
MAX_SEQUENCE = 2**62


@dataclass(frozen=True, slots=True)
class NotificationEvents:
    """The events of one notification; ``ignored`` says why a notification has none."""

    events: list[EventEnvelope] = field(default_factory=list)
    ignored: str | None = None


class NotificationMapper:
    """Maps notifications with one live mapping (built once per source)."""

    def __init__(self, mapping: LiveMapping) -> None:
        self._mapping = mapping
        self._shared = mapping.shared
        self._rows = LongRecordEvents(mapping.shared)
        self._time = TimestampParser(
            mapping.shared.timestamp.format, mapping.shared.timestamp.timezone
        )
        self._times = {
            lc: (spec, TimestampParser(spec.format, spec.timezone))
            for lc, spec in mapping.options.times.items()
        }
        created = mapping.options.created
        self._created = (
            None if created is None else TimestampParser(created.format, created.timezone)
        )

    def events(self, payload: Any) -> NotificationEvents:
        if not isinstance(payload, dict):
            raise InvalidRecord(
                "not_an_object", f"expected a JSON object, got {type(payload).__name__}"
            )
        ignored = self._not_accepted(payload)
        if ignored:
            return NotificationEvents(ignored=ignored)
        fields = {
            path: _text(path, compiled.lookup(payload))
            for path, compiled in self._mapping.paths.items()
        }
        lifecycle = self._lifecycle(payload, fields)
        if lifecycle is None:
            return NotificationEvents(ignored="none of the state, priority or assignee changed")
        observed = self._observation(fields, lifecycle)
        opening = self._milestone(fields, observed, OPENING_LIFECYCLE[self._shared.item_kind])
        events = [] if opening is None else [opening]
        for lc in self._times:
            if lc is not observed.lifecycle:
                milestone = self._milestone(fields, observed, lc)
                if milestone is not None:
                    events.append(milestone)
        events.append(observed)
        return NotificationEvents(events)

    # -- which notifications, which lifecycle ---------------------------------------------------

    def _not_accepted(self, payload: dict[str, Any]) -> str | None:
        accept = self._mapping.options.accept
        if accept is None or self._mapping.accept_path is None:
            return None
        value = self._mapping.accept_path.lookup(payload)
        if isinstance(value, str) and value in accept.values:
            return None
        shown = None if value is MISSING else value
        return (
            f"{accept.path} {shown!r} is not one the mapping accepts ({', '.join(accept.values)})"
        )

    def _lifecycle(self, payload: dict[str, Any], fields: dict[str, str]) -> Lifecycle | None:
        """``None``: the notification changed nothing measured. ``STATE_CHANGED`` stands for
        "whatever the state map says" (decided by the shared row mapper)."""
        changes = self._mapping.options.changes
        if changes is None or self._mapping.changes_path is None:
            return Lifecycle.STATE_CHANGED
        listed = self._mapping.changes_path.lookup(payload)
        if listed is MISSING or listed == []:
            return Lifecycle.STATE_CHANGED  # no change list (a creation): a full observation
        names = {n for n in listed if isinstance(n, str)}
        if changes.state in names:
            return Lifecycle.STATE_CHANGED
        shared = self._shared
        if changes.assignee in names and shared.assignee and fields.get(shared.assignee.column):
            return Lifecycle.ASSIGNED
        if changes.priority in names and shared.priority and fields.get(shared.priority.column):
            return Lifecycle.PRIORITY_CHANGED
        return None

    # -- building the events -------------------------------------------------------------------

    def _observation(self, fields: dict[str, str], lifecycle: Lifecycle) -> EventEnvelope:
        if lifecycle is Lifecycle.STATE_CHANGED:
            envelope = self._rows.events(0, fields).events[0]
        else:
            envelope = self._side_change(fields, lifecycle)
        update: dict[str, Any] = {"sequence": 1 + self._sequence(fields)}
        own_time = self._own_time(fields, envelope.lifecycle)
        if own_time is not None:
            update["time"] = own_time
        envelope = envelope.model_copy(update=update)
        return envelope.model_copy(update={"id": observation_id(envelope)})

    def _own_time(self, fields: dict[str, str], lifecycle: Lifecycle) -> datetime | None:
        """The lifecycle's own time (``times``), when the mapping names one and it is filled."""
        found = self._times.get(lifecycle)
        if found is None:
            return None
        spec, parser = found
        text = fields.get(spec.column, "")
        if not text:
            return None
        try:
            return parser.parse(text)
        except (ValueError, OverflowError) as exc:
            raise InvalidRecord(
                RejectReason.BAD_TIMESTAMP, f"times.{lifecycle.value} ({spec.column!r}): {exc}"
            ) from None

    def _side_change(self, fields: dict[str, str], lifecycle: Lifecycle) -> EventEnvelope:
        """An assignment or priority change: the row mapper's envelope with no state."""
        rows = self._rows
        item_id = rows._item_id(fields)
        spec = self._shared.timestamp
        text = fields.get(spec.column, "")
        if not text:
            raise InvalidRecord(
                RejectReason.MISSING_TIMESTAMP, f"timestamp path {spec.column!r} is empty"
            )
        try:
            time = self._time.parse(text)
        except (ValueError, OverflowError) as exc:
            raise InvalidRecord(
                RejectReason.BAD_TIMESTAMP, f"timestamp ({spec.column!r}): {exc}"
            ) from None
        data = rows._data(fields, lifecycle)
        return rows._envelope(
            line=0, k=0, item_id=item_id, lifecycle=lifecycle, time=time, data=data
        )

    def _sequence(self, fields: dict[str, str]) -> int:
        spec = self._mapping.options.sequence
        if spec is None:
            return 0
        text = fields.get(spec.path, "")
        if not text:
            return 0
        try:
            value = int(text)
        except ValueError:
            raise InvalidRecord(
                RejectReason.MALFORMED_RECORD, f"sequence {spec.path!r}: {text!r} is not an integer"
            ) from None
        if not 0 <= value < MAX_SEQUENCE:
            raise InvalidRecord(
                RejectReason.MALFORMED_RECORD, f"sequence {spec.path!r}: {value} is out of range"
            )
        return value

    def _milestone(
        self, fields: dict[str, str], observed: EventEnvelope, lifecycle: Lifecycle
    ) -> EventEnvelope | None:
        """The item's ``created`` (``created``) or a ``times`` lifecycle at its own time, when
        the notification has that time: what a notification or a polled record says happened
        before, even if its own observation is later (a record polled once it was closed still
        says when it was resolved). It carries no data, so every repeat has the same id."""
        time = (
            self._opening_time(fields)
            if lifecycle is OPENING_LIFECYCLE[self._shared.item_kind]
            else self._own_time(fields, lifecycle)
        )
        if time is None:
            return None
        try:
            envelope = build_envelope(
                event_id="pending",
                source=observed.source,
                kind=self._shared.item_kind,
                lifecycle=lifecycle,
                time=time,
                item_id=observed.subject,
                sequence=0,
            )
        except ValidationError as exc:
            raise InvalidRecord(RejectReason.INVALID_EVENT, validation_detail(exc)) from None
        return envelope.model_copy(update={"id": observation_id(envelope)})

    def _opening_time(self, fields: dict[str, str]) -> datetime | None:
        spec = self._mapping.options.created
        if spec is None or self._created is None:
            return None
        text = fields.get(spec.column, "")
        if not text:
            return None
        try:
            return self._created.parse(text)
        except (ValueError, OverflowError) as exc:
            raise InvalidRecord(
                RejectReason.BAD_TIMESTAMP, f"created ({spec.column!r}): {exc}"
            ) from None


def observation_id(envelope: EventEnvelope) -> str:
    """The id of what an event observed: source, item, lifecycle, time and data."""
    data = envelope.data.model_dump(mode="json", exclude_none=True)
    identity = json.dumps(
        [envelope.source, envelope.subject, envelope.type, envelope.time.isoformat(), data],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return str(uuid.uuid5(LIVE_NAMESPACE, identity))


def _text(path: str, value: Any) -> str:
    """A field's value as the row mapper's text: missing and null are empty."""
    if value is MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    kind = "an object" if isinstance(value, dict) else "a list"
    raise InvalidRecord(
        RejectReason.MALFORMED_RECORD,
        f"{path}: expected text or a number, got {kind}; name a field inside it",
    )


def parse_notification(raw: bytes) -> Any:
    """A notification's bytes as JSON, or ``InvalidRecord`` with the decoder's reason codes."""
    if not raw.strip():
        raise InvalidRecord("empty", "the body is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRecord("not_utf8", f"byte {exc.start} is not UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRecord(
            "malformed_json", f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidRecord("malformed_json", "nesting too deep") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InvalidRecord("malformed_json", f"unreadable value: {exc}") from None


def checked_events(
    mapper: NotificationMapper, decoder: EventDecoder, payload: Any
) -> NotificationEvents:
    """``mapper.events(payload)``, each event read back by the worker's own decoder: what the
    worker would dead-letter (an event in the future, over the size limit) is refused here."""
    mapped = mapper.events(payload)
    for envelope in mapped.events:
        decoder.decode(encode_event(envelope))
    return mapped
