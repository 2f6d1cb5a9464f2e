"""Record mappings: how a user's own export (ServiceNow, Jira, a spreadsheet) becomes events.

A mapping is a small YAML file, so ingesting a new export needs no code. It names the columns
that hold the item id, the time and the status, and says which status values are which lifecycle
events. Two layouts cover the exports we meet:

* ``long``: one row per status change (an audit log, an event log). ``timestamp`` and ``state``
  name the columns; ``state.events`` maps each status value to a lifecycle event, and
  ``first_event: created`` turns each item's earliest row into its ``created`` event, because
  exports rarely carry an explicit "created" row.
* ``wide``: one row per item, with a date column per milestone (an order list with "PO sent" and
  "delivered" dates). Each filled-in ``milestones`` cell is one event; cells holding a declared
  placeholder (``missing``) are absent, not errors. A case log that repeats the item's columns on
  one row per event is read the same way: a milestone already seen for the item is not repeated.

What real ITSM exports (ServiceNow, Jira, Zendesk, Remedy) need, in both layouts:

* ``missing``: placeholders (``?``, ``NULL``, ``(empty)``) that mean "no value" in any column;
* ``values`` on ``priority`` and on any attribute: translate the export's words into the
  contract's (``"1 - Critical": P1``); ``others: reject`` dead-letters a value not listed;
* ``due``: a per-item deadline column, for every item kind (becomes ``data.due_at``);
* ``tie_break``: an integer column (an update counter such as ``sys_mod_count``) ordering rows
  of one instant, so replay follows the export's order of changes, not the file's;
* long layout only, ``opened_at``: the item's creation time from its own column. Every item then
  gets a ``created`` event at that time, before its rows, and each row keeps its own event.
  Without it, ``first_event: created`` opens each item at its earliest row: a row that is a plain
  ``state_changed`` becomes the created event (carrying its state), any other row (already
  "Resolved", say) keeps its event and a created event is added at the same instant before it.

Built-in mappings for the three reference logs live in ``streams/file_import/mappings/<name>.yaml``.
``load_mapping`` reads either; every problem raises ``ConfigError`` naming the file, the field
path and what was expected.
"""

from __future__ import annotations

import codecs
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.lifecycle import LIFECYCLE_BY_KIND, ItemKind, Lifecycle
from outcome_pulse.processors.validation_messages import describe_errors, field_path
from outcome_pulse.streams.file_import.sources import CsvDialect
from outcome_pulse.streams.file_import.timestamps import (
    carries_offset,
    check_format,
    check_timezone,
)

# The built-in mappings are package data, read through importlib.resources (also from a wheel).
MAPPINGS_DIR: Traversable = resources.files("outcome_pulse.streams.file_import") / "mappings"

# Event sequence numbers are ``line * MAX_MILESTONES + milestone index`` (see
# outcome_pulse.streams.file_import.mapped_file).
MAX_MILESTONES = 16

ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
AttributeName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")
]
SourceName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^\S+$")]
# The lifecycle that opens an item of each kind; ``first_event`` must be that one.
OPENING_LIFECYCLE = {
    ItemKind.INCIDENT: Lifecycle.CREATED,
    ItemKind.TICKET: Lifecycle.CREATED,
    ItemKind.ORDER: Lifecycle.PLACED,
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvOptions(_Section):
    """How the CSV file is written; the default encoding strips a UTF-8 byte-order mark."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    encoding: str = "utf-8-sig"

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError("expected a Python codec name such as utf-8-sig or cp1252") from None
        return value

    def dialect(self) -> CsvDialect:
        return CsvDialect(self.delimiter, self.quotechar, self.encoding)


class ColumnRef(_Section):
    column: ColumnName


class ValueColumn(ColumnRef):
    """A column whose values may be translated: ``values`` maps the export's words to the
    contract's (``"1 - Critical": P1``). A value not listed is kept as written, or, with
    ``others: reject``, dead-lettered as ``unknown_value`` (a typo in the map is then seen)."""

    values: dict[str, Annotated[str, StringConstraints(min_length=1, max_length=256)]] = Field(
        default_factory=dict
    )
    others: Literal["keep", "reject"] = "keep"

    @model_validator(mode="after")
    def _reject_needs_values(self) -> ValueColumn:
        if self.others == "reject" and not self.values:
            raise ValueError("others: reject needs values (the list of accepted values)")
        return self


def _column_shorthand(value: Any) -> Any:
    """``team: assignment_group`` means ``team: {column: assignment_group}``."""
    return {"column": value} if isinstance(value, str) else value


AttributeColumn = Annotated[ValueColumn, BeforeValidator(_column_shorthand)]


class AssigneeColumn(ColumnRef):
    """The assignee column; ``lifecycles`` limits it to some events (default: every event).

    Some exports record who *acted* on every row (the help desk's auto-closer) but who the item
    is *assigned to* only on assignment rows.
    """

    lifecycles: list[Lifecycle] | None = None


class TimeColumn(_Section):
    """A column of timestamps: ``format`` is iso8601 or a strptime pattern; ``timezone`` is the
    IANA zone of values that carry no UTC offset (required when the format cannot carry one)."""

    column: ColumnName
    format: str = "iso8601"
    timezone: str | None = Field(default=None, validate_default=True)

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        return check_format(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            return check_timezone(value)
        fmt = info.data.get("format")
        if isinstance(fmt, str) and not carries_offset(fmt):
            raise ValueError(
                f"required because format {fmt!r} has no UTC offset (%z); "
                "expected an IANA time zone name such as UTC or Europe/Rome"
            )
        return None


class DueColumn(TimeColumn):
    """An item's deadline (becomes ``data.due_at``), for any item kind; an empty cell or one of
    the placeholders means no due date."""

    missing: list[str] = Field(default_factory=list)


class Milestone(TimeColumn):
    """One date column of a wide row, and the lifecycle event its date means.

    ``name`` becomes the event's ``data.state`` (default: the column name). A cell that is empty
    or equal to one of ``missing`` is an absent milestone, counted but not an error.
    """

    lifecycle: Lifecycle
    name: str | None = Field(default=None, min_length=1, max_length=256)
    missing: list[str] = Field(default_factory=list)

    @property
    def state(self) -> str:
        return self.name or self.column


class StateColumn(_Section):
    """The status column of a long export and the lifecycle event of each of its values.

    A value not in ``events`` becomes ``default``; with no default it is dead-lettered as
    ``unknown_state``, so a status the mapping never heard of is seen, not guessed.
    """

    column: ColumnName
    events: dict[str, Lifecycle] = Field(min_length=1)
    default: Lifecycle | None = None

    def lifecycle_of(self, value: str) -> Lifecycle | None:
        return self.events.get(value, self.default)


class RecordMapping(_Section):
    """What every mapping has: where the id is, what kind of item, how the file is written."""

    source: SourceName
    item_kind: ItemKind
    layout: Literal["long", "wide"]
    format: Literal["csv", "jsonl"] | None = None
    csv: CsvOptions = CsvOptions()
    item_id: ColumnRef
    priority: ValueColumn | None = None
    assignee: AssigneeColumn | None = None
    attributes: dict[AttributeName, AttributeColumn] = Field(default_factory=dict, max_length=64)
    missing: list[Annotated[str, StringConstraints(max_length=256)]] = Field(
        default_factory=list, max_length=64
    )
    due: DueColumn | None = None
    tie_break: ColumnRef | None = None

    def emitted_lifecycles(self) -> dict[str, Lifecycle]:
        """The lifecycles this mapping can put on an event, keyed by the field path naming it."""
        return {}

    def used_lifecycles(self) -> dict[str, Lifecycle]:
        """Every lifecycle the mapping names, keyed by the field path that names it."""
        found = self.emitted_lifecycles()
        if self.assignee and self.assignee.lifecycles:
            for i, lc in enumerate(self.assignee.lifecycles):
                found[f"assignee.lifecycles[{i}]"] = lc
        return found

    def columns(self) -> dict[str, str]:
        """Every column the mapping reads, keyed by the field path that names it."""
        cols = {"item_id.column": self.item_id.column}
        if self.priority:
            cols["priority.column"] = self.priority.column
        if self.assignee:
            cols["assignee.column"] = self.assignee.column
        cols.update({f"attributes.{name}": col.column for name, col in self.attributes.items()})
        if self.due is not None:
            cols["due.column"] = self.due.column
        if self.tie_break is not None:
            cols["tie_break.column"] = self.tie_break.column
        return cols

    @property
    def placeholders(self) -> frozenset[str]:
        """Cell values that mean "no value" in every column (stripped; always the empty one)."""
        return frozenset(v.strip() for v in self.missing) | {""}

    def assignee_on(self, lifecycle: Lifecycle) -> bool:
        if self.assignee is None:
            return False
        return self.assignee.lifecycles is None or lifecycle in self.assignee.lifecycles

    @model_validator(mode="after")
    def _consistent(self) -> RecordMapping:
        problems = self._problems()
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _problems(self) -> list[str]:
        kind = self.item_kind
        allowed = LIFECYCLE_BY_KIND[kind]
        expected = ", ".join(sorted(lc.value for lc in allowed))
        problems = [
            f"{path}: {lc.value!r} is not {_a(kind.value)} lifecycle; expected one of: {expected}"
            for path, lc in self.used_lifecycles().items()
            if lc not in allowed
        ]
        if kind is ItemKind.ORDER and self.assignee is not None:
            problems.append("assignee: orders have no assignee; remove it or use attributes")
        for path, lc in self.emitted_lifecycles().items():
            if lc is Lifecycle.ASSIGNED and not self.assignee_on(lc):
                problems.append(f"{path}: an assigned event needs an assignee; set assignee.column")
            if lc is Lifecycle.PRIORITY_CHANGED and self.priority is None:
                problems.append(
                    f"{path}: a priority_changed event needs a priority; set priority.column"
                )
        return problems


class LongRecordMapping(RecordMapping):
    """One row is one event (see the module doc)."""

    layout: Literal["long"] = "long"
    timestamp: TimeColumn
    state: StateColumn
    first_event: Lifecycle | None = None
    opened_at: TimeColumn | None = None

    @property
    def opening(self) -> Lifecycle | None:
        """The lifecycle each item is opened with (``opened_at`` implies the kind's opening)."""
        if self.first_event is not None:
            return self.first_event
        return OPENING_LIFECYCLE[self.item_kind] if self.opened_at is not None else None

    def emitted_lifecycles(self) -> dict[str, Lifecycle]:
        found = {field_path(("state", "events", v)): lc for v, lc in self.state.events.items()}
        if self.state.default is not None:
            found["state.default"] = self.state.default
        if self.first_event is not None:
            found["first_event"] = self.first_event
        return found

    def columns(self) -> dict[str, str]:
        cols = super().columns()
        cols["timestamp.column"] = self.timestamp.column
        cols["state.column"] = self.state.column
        if self.opened_at is not None:
            cols["opened_at.column"] = self.opened_at.column
        return cols

    def _problems(self) -> list[str]:
        problems = super()._problems()
        opening = OPENING_LIFECYCLE[self.item_kind]
        if self.first_event is not None and self.first_event is not opening:
            problems.append(
                f"first_event: {_a(self.item_kind.value)}'s first event can only be "
                f"{opening.value!r} (got {self.first_event.value!r})"
            )
        return problems


class WideRecordMapping(RecordMapping):
    """One row is several events, one per filled-in milestone (see the module doc)."""

    layout: Literal["wide"]
    milestones: list[Milestone] = Field(min_length=1, max_length=MAX_MILESTONES)

    def emitted_lifecycles(self) -> dict[str, Lifecycle]:
        return {f"milestones[{i}].lifecycle": m.lifecycle for i, m in enumerate(self.milestones)}

    def columns(self) -> dict[str, str]:
        cols = super().columns()
        for i, milestone in enumerate(self.milestones):
            cols[f"milestones[{i}].column"] = milestone.column
        return cols


_LAYOUTS: dict[str, type[RecordMapping]] = {
    "long": LongRecordMapping,
    "wide": WideRecordMapping,
}


# -- loading ----------------------------------------------------------------------------------


def builtin_mappings() -> list[str]:
    """Names of the mappings shipped in ``streams/file_import/mappings``."""
    return sorted(
        p.name.removesuffix(".yaml") for p in MAPPINGS_DIR.iterdir() if p.name.endswith(".yaml")
    )


def load_mapping(name_or_path: str | Path) -> RecordMapping:
    """Read a mapping from a YAML file, or a built-in one by name (``bpic2013``).

    Raises ``ConfigError`` naming the file, the field path and what was expected.
    """
    path = _resolve(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"mapping {path}: cannot read it: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"mapping {path}: not valid YAML{yaml_where(exc)}") from None
    return mapping_from_dict(data, origin=str(path))


def mapping_from_dict(data: Any, *, origin: str = "<mapping>") -> RecordMapping:
    """Validate an already-parsed mapping; ``origin`` names it in error messages."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"mapping {origin}: expected a YAML mapping of keys (source, item_kind, ...), "
            f"got {type(data).__name__}"
        )
    layout = data.get("layout", "long")
    model = _LAYOUTS.get(layout) if isinstance(layout, str) else None
    if model is None:
        raise ConfigError(f"mapping {origin}: layout: expected 'long' or 'wide' (got {layout!r})")
    try:
        return model.model_validate({**data, "layout": layout})
    except ValidationError as exc:
        lines = describe_errors(exc, model)
        raise ConfigError(f"mapping {origin} is invalid:\n  " + "\n  ".join(lines)) from None


def yaml_where(exc: yaml.YAMLError) -> str:
    """`` at line 3, column 1: expected the node content, ...`` from a PyYAML error."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f": {problem}"
    return f" at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _resolve(name_or_path: str | Path) -> Path | Traversable:
    path = Path(name_or_path)
    if path.is_file():
        return path
    text = str(name_or_path)
    looks_like_name = "/" not in text and "\\" not in text and path.suffix not in (".yaml", ".yml")
    if looks_like_name:
        builtin = MAPPINGS_DIR / f"{text}.yaml"
        if builtin.is_file():
            return builtin
        available = ", ".join(builtin_mappings())
        raise ConfigError(
            f"mapping {text!r}: no such file and no built-in mapping of that name; "
            f"available built-in mappings: {available} (or give the path of a YAML file)"
        )
    raise ConfigError(f"mapping {path}: no such file")


# -- error messages ---------------------------------------------------------------------------


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"
