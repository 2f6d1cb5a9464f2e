"""One source record -> its lifecycle events, or ``InvalidRecord`` with a stable reason code.

This is the per-row half of ingestion; ``outcome_pulse.streams.file_import.mapped_file`` does the
per-file half (reading, ordering, the first event of each item). A ``LongRecordEvents`` turns a row
of a one-row-per- change export into one event; a ``WideRecordEvents`` turns a row with a date per
milestone into one event per filled-in milestone. Both raise ``InvalidRecord(reason, detail)`` for a
row that cannot become events; the reason is one of ``RejectReason`` (a metric label, so the set is
small and fixed) and the detail names the column and value at fault.

Event ids are ``uuid5(EVENT_NAMESPACE, "<source>:<line>:<k>")`` and sequences
``line * MAX_MILESTONES + k`` (k: the milestone index, 0 in the long layout), so replaying a
file again produces the same ids (downstream deduplicates on them) and the same order. With a
``tie_break`` column the sequence is ``tie * 2**36 + line * MAX_MILESTONES + k``: rows of one
instant are ordered by the export's update counter first. ``line`` is the record's number (1 =
the first record under the CSV header); the dead letter's origin names the file's own line.

Placeholders (``missing``) are read as empty cells before anything else looks at a row, and
value maps (``priority.values``, ``attributes.<name>.values``) translate what remains.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from outcome_pulse.processors.errors import InvalidRecord
from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.streams.file_import.mapping import (
    MAX_MILESTONES,
    DueColumn,
    LongRecordMapping,
    RecordMapping,
    TimeColumn,
    ValueColumn,
    WideRecordMapping,
)
from outcome_pulse.streams.file_import.timestamps import TimestampParser
from outcome_pulse.streams.wire.events import EARLIEST_EVENT_TIME, EventEnvelope, build_envelope

# uuid5(NAMESPACE_URL, "urn:outcome-pulse:replay"); fixed forever, or replays change their ids.
EVENT_NAMESPACE = uuid.UUID("2f89bff3-83a5-591d-83ed-769d13f83316")
_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes


class RejectReason(StrEnum):
    """Why a record became a dead letter. Stable: dashboards and alerts use these labels."""

    MISSING_ID = "missing_id"
    BAD_TIMESTAMP = "bad_timestamp"
    MISSING_TIMESTAMP = "missing_timestamp"
    UNKNOWN_STATE = "unknown_state"
    MALFORMED_RECORD = "malformed_record"
    INVALID_EVENT = "invalid_event"
    NO_EVENTS = "no_events"
    UNKNOWN_VALUE = "unknown_value"
    BAD_TIE_BREAK = "bad_tie_break"
    CONFLICTING_MILESTONE = "conflicting_milestone"


# A tie-break value shifts the sequence left of ``line * MAX_MILESTONES + k`` (lines < 2**32).
_TIE_SHIFT = 36
MAX_TIE_BREAK = 2**26 - 1


def event_id(source: str, line: int, k: int) -> str:
    """``str(uuid.uuid5(EVENT_NAMESPACE, f"{source}:{line}:{k}"))``, computed without building a
    ``UUID`` object (twice as fast; a replay makes one per event). Tests check they agree."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{source}:{line}:{k}".encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def event_sequence(line: int, k: int, tie: int | None = None) -> int:
    base = line * MAX_MILESTONES + k
    return base if tie is None else (tie << _TIE_SHIFT) + base


@dataclass(frozen=True, slots=True)
class RecordEvents:
    """The events of one record, how many of its milestones were absent (wide layout), and the
    item's creation time when the mapping has an ``opened_at`` column holding one."""

    events: list[EventEnvelope]
    absent_milestones: int = 0
    opened_at: datetime | None = None


class _RecordEventsBase:
    """What both layouts share: the item id, the descriptive fields and envelope building."""

    def __init__(self, mapping: RecordMapping) -> None:
        self._mapping = mapping
        self._kind: ItemKind = mapping.item_kind
        self._placeholders = mapping.placeholders - {""}
        due = mapping.due
        self._due = None if due is None else (due, _parser(due), frozenset(due.missing))

    def _clean(self, fields: dict[str, str]) -> dict[str, str]:
        """``fields`` with every placeholder cell read as empty."""
        if not self._placeholders:
            return fields
        holders = self._placeholders
        return {k: ("" if v.strip() in holders else v) for k, v in fields.items()}

    def _tie_break(self, fields: dict[str, str]) -> int | None:
        spec = self._mapping.tie_break
        if spec is None:
            return None
        text = fields.get(spec.column, "").strip()
        if not text:
            return 0  # no counter: before every counted change of the same instant
        try:
            value = int(text)
        except ValueError:
            value = -1
        if not 0 <= value <= MAX_TIE_BREAK:
            raise InvalidRecord(
                RejectReason.BAD_TIE_BREAK,
                f"tie_break column {spec.column!r}: expected a whole number from 0 to "
                f"{MAX_TIE_BREAK} (an update counter), got {text!r}",
            )
        return value

    def _due_at(self, fields: dict[str, str]) -> datetime | None:
        if self._due is None:
            return None
        spec, parser, missing = self._due
        text = fields.get(spec.column, "").strip()
        if not text or text in missing:
            return None
        return _parse(parser, text, "due", spec.column)

    def _item_id(self, fields: dict[str, str]) -> str:
        column = self._mapping.item_id.column
        value = fields.get(column, "").strip()
        if not value:
            raise InvalidRecord(RejectReason.MISSING_ID, f"item_id column {column!r} is empty")
        return value

    def _data(self, fields: dict[str, str], lifecycle: Lifecycle) -> dict[str, Any]:
        mapping = self._mapping
        attributes: dict[str, str] = {}
        for name, spec in mapping.attributes.items():
            value = _mapped(fields, spec, f"attributes.{name}")
            if value:
                attributes[name] = value
        data: dict[str, Any] = {
            "priority": None
            if mapping.priority is None
            else _mapped(fields, mapping.priority, "priority"),
            "attributes": attributes,
        }
        if mapping.assignee is not None and mapping.assignee_on(lifecycle):
            data["assignee"] = _value(fields, mapping.assignee.column)
        return data

    def _envelope(
        self,
        *,
        line: int,
        k: int,
        item_id: str,
        lifecycle: Lifecycle,
        time: datetime,
        data: dict[str, Any],
        tie: int | None = None,
    ) -> EventEnvelope:
        if time < EARLIEST_EVENT_TIME:
            raise InvalidRecord(
                RejectReason.BAD_TIMESTAMP,
                f"{time.isoformat()} is before {EARLIEST_EVENT_TIME.date()}, "
                "the earliest time the pipeline accepts",
            )
        try:
            return build_envelope(
                event_id=event_id(self._mapping.source, line, k),
                source=self._mapping.source,
                kind=self._kind,
                lifecycle=lifecycle,
                time=time,
                item_id=item_id,
                sequence=event_sequence(line, k, tie),
                **data,
            )
        except ValidationError as exc:
            raise InvalidRecord(RejectReason.INVALID_EVENT, validation_detail(exc)) from None


class LongRecordEvents(_RecordEventsBase):
    """One row, one event: the row's state value picks the lifecycle."""

    def __init__(self, mapping: LongRecordMapping) -> None:
        super().__init__(mapping)
        self._long = mapping
        self._time = _parser(mapping.timestamp)
        opened = mapping.opened_at
        self._opened = None if opened is None else (opened, _parser(opened))

    def events(self, line: int, fields: dict[str, str]) -> RecordEvents:
        fields = self._clean(fields)
        item_id = self._item_id(fields)
        tie = self._tie_break(fields)
        time = _required_time(fields, "timestamp", self._long.timestamp, self._time)
        opened_at = None
        if self._opened is not None:
            spec, parser = self._opened
            text = fields.get(spec.column, "").strip()
            opened_at = _parse(parser, text, "opened_at", spec.column) if text else None
            if opened_at is not None and opened_at < EARLIEST_EVENT_TIME:
                raise InvalidRecord(
                    RejectReason.BAD_TIMESTAMP,
                    f"opened_at ({spec.column!r}): {opened_at.isoformat()} is before "
                    f"{EARLIEST_EVENT_TIME.date()}, the earliest time the pipeline accepts",
                )
        state_spec = self._long.state
        state = fields.get(state_spec.column, "").strip()
        lifecycle = state_spec.lifecycle_of(state)
        if lifecycle is None:
            raise InvalidRecord(
                RejectReason.UNKNOWN_STATE,
                f"state {state!r} (column {state_spec.column!r}) is not in state.events "
                "and the mapping has no state.default",
            )
        data = self._data(fields, lifecycle)
        data["state"] = state or None
        data["due_at"] = self._due_at(fields)
        envelope = self._envelope(
            line=line, k=0, item_id=item_id, lifecycle=lifecycle, time=time, data=data, tie=tie
        )
        return RecordEvents([envelope], opened_at=opened_at)


class WideRecordEvents(_RecordEventsBase):
    """One row, one event per milestone column that holds a date."""

    def __init__(self, mapping: WideRecordMapping) -> None:
        super().__init__(mapping)
        self._wide = mapping
        self._milestones = [(m, _parser(m), frozenset(m.missing)) for m in mapping.milestones]

    def events(self, line: int, fields: dict[str, str]) -> RecordEvents:
        fields = self._clean(fields)
        item_id = self._item_id(fields)
        tie = self._tie_break(fields)
        due_at = self._due_at(fields)
        dated: list[tuple[int, Lifecycle, str, datetime]] = []
        absent = 0
        for k, (milestone, parser, missing) in enumerate(self._milestones):
            text = fields.get(milestone.column, "").strip()
            if not text or text in missing:
                absent += 1
                continue
            time = _parse(parser, text, f"milestones[{k}]", milestone.column)
            dated.append((k, milestone.lifecycle, milestone.state, time))
        if not dated:
            columns = ", ".join(repr(m.column) for m in self._wide.milestones)
            raise InvalidRecord(RejectReason.NO_EVENTS, f"no milestone has a date ({columns})")
        envelopes = []
        for k, lifecycle, state, time in dated:
            data = self._data(fields, lifecycle)
            data["state"] = state
            if due_at is not None:
                data["due_at"] = due_at
            envelopes.append(
                self._envelope(
                    line=line,
                    k=k,
                    item_id=item_id,
                    lifecycle=lifecycle,
                    time=time,
                    data=data,
                    tie=tie,
                )
            )
        return RecordEvents(envelopes, absent)


def record_events_for(mapping: RecordMapping) -> LongRecordEvents | WideRecordEvents:
    if isinstance(mapping, LongRecordMapping):
        return LongRecordEvents(mapping)
    if isinstance(mapping, WideRecordMapping):
        return WideRecordEvents(mapping)
    raise TypeError(f"no record mapper for layout {mapping.layout!r}")


# -- helpers ----------------------------------------------------------------------------------


def _value(fields: dict[str, str], column: str | None) -> str | None:
    if column is None:
        return None
    return fields.get(column, "").strip() or None


def _mapped(fields: dict[str, str], spec: ValueColumn, where: str) -> str | None:
    """The column's value translated by its value map (None: empty)."""
    value = fields.get(spec.column, "").strip()
    if not value:
        return None
    if not spec.values:
        return value
    mapped = spec.values.get(value)
    if mapped is not None:
        return mapped
    if spec.others == "reject":
        listed = ", ".join(repr(v) for v in list(spec.values)[:10])
        raise InvalidRecord(
            RejectReason.UNKNOWN_VALUE,
            f"{where} ({spec.column!r}): {value!r} is not in {where}.values ({listed}) "
            "and others is reject",
        )
    return value


def _parser(spec: TimeColumn | DueColumn) -> TimestampParser:
    return TimestampParser(spec.format, spec.timezone)


def _required_time(
    fields: dict[str, str], where: str, spec: TimeColumn, parser: TimestampParser
) -> datetime:
    text = fields.get(spec.column, "").strip()
    if not text:
        raise InvalidRecord(
            RejectReason.MISSING_TIMESTAMP, f"{where} column {spec.column!r} is empty"
        )
    return _parse(parser, text, where, spec.column)


def _parse(parser: TimestampParser, text: str, where: str, column: str) -> datetime:
    try:
        return parser.parse(text)
    except (ValueError, OverflowError) as exc:
        raise InvalidRecord(RejectReason.BAD_TIMESTAMP, f"{where} ({column!r}): {exc}") from None


def validation_detail(exc: ValidationError) -> str:
    """The first problem of an envelope as ``field.path: message`` (e.g. ``data.priority: ...``)."""
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if where == "data" and ": " in message:
        inner, _, message = message.partition(": ")
        where = f"data.{inner}"
    detail = f"{where}: {message}" if where else message
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more problem(s))"
    return detail
