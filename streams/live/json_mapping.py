"""Live mappings: how one JSON change notification (a webhook body, a record of a polled page)
becomes lifecycle events, in the file import's mapping language with field paths for columns.

A live mapping is the shared long-layout mapping (``LongRecordMapping``, in
streams/file_import/mapping.py: the same state map, lifecycle rules, value checks and error
messages) whose ``column`` entries are written ``path`` (see ``streams/live/json_path.py``),
plus what only a live feed needs:

* ``created``: where the item's creation time is. Every notification then also carries the
  item's ``created`` event (``placed`` for orders), with an id made of the item and that time,
  so repeating it in every notification is harmless.
* ``accept``: which notifications are measured (``{path: webhookEvent, values: [...]}``); others
  are answered and counted as ignored, never produced.
* ``changes``: where a notification lists the fields it changed (Jira's ``changelog``), and
  their names for the state, priority and assignee. A notification that lists changes but not the
  state's is not a state observation: it becomes ``assigned`` or ``priority_changed`` (which leave
  the item's status alone), or is ignored when neither changed. Without ``changes`` (ServiceNow's
  outbound REST, a polled record) every notification observes the state, as a row of an export.
* ``times``: per lifecycle, where its own time is (``resolved: {path: resolved_at}``). A resolved
  incident notified again after a later comment is then observed resolved at its resolution time,
  not at the comment's, so its resolution does not move. And whenever that time is filled, the
  notification also carries that lifecycle's event at that time (a milestone, like ``created``):
  a record polled once it is closed still says when it was resolved.
* ``sequence``: an update counter (ServiceNow's ``sys_mod_count``) ordering notifications that
  share a timestamp.

The file import's ``first_event`` cannot apply (an item's first notification is not known to be
its first), nor can ``layout: wide``, ``format`` or ``csv``: they are refused by name.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.lifecycle import Lifecycle
from outcome_pulse.processors.validation_messages import describe_errors
from outcome_pulse.streams.file_import.mapping import (
    LongRecordMapping,
    TimeColumn,
    mapping_from_dict,
    yaml_where,
)
from outcome_pulse.streams.live.json_path import JsonPath, compile_path

# The built-in live mappings are package data, read through importlib.resources (also from a wheel).
LIVE_MAPPINGS_DIR: Traversable = resources.files("outcome_pulse.streams.live") / "mappings"

_LIVE_ONLY = ("created", "accept", "changes", "sequence", "times")
_REFUSED = {
    "layout": "a live mapping is always one notification -> one observation (layout long)",
    "first_event": "an item's first notification is not known to be its first; set created",
    "format": "notifications are always JSON",
    "csv": "notifications are always JSON",
    "milestones": "a live mapping is always layout long",
    "opened_at": "a live mapping gives the creation time with created",
    "tie_break": "a live mapping orders same-instant notifications with sequence",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Accept(_Section):
    """Measure only notifications whose ``path`` holds one of ``values``."""

    path: str
    values: list[str] = Field(min_length=1)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        compile_path(value)
        return value


class Changes(_Section):
    """Where a notification lists the names of the fields it changed, and which names count."""

    path: str = Field(description="a path that fans out, e.g. changelog.items[*].field")
    state: str
    priority: str | None = None
    assignee: str | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not compile_path(value).fans_out:
            raise ValueError(
                f"{value!r} must select a list of names, e.g. changelog.items[*].field"
            )
        return value


class SequencePath(_Section):
    path: str


class LiveOptions(_Section):
    created: TimeColumn | None = None
    accept: Accept | None = None
    changes: Changes | None = None
    sequence: SequencePath | None = None
    times: dict[Lifecycle, TimeColumn] = Field(default_factory=dict)


class LiveMapping:
    """A validated live mapping: the shared part, the live options and the compiled paths."""

    def __init__(self, shared: LongRecordMapping, options: LiveOptions, origin: str) -> None:
        self.shared = shared
        self.options = options
        self.origin = origin
        paths = set(shared.columns().values())
        if options.created is not None:
            paths.add(options.created.column)
        if options.sequence is not None:
            paths.add(options.sequence.path)
        paths.update(spec.column for spec in options.times.values())
        self.paths: dict[str, JsonPath] = {p: compile_path(p) for p in sorted(paths)}
        self.accept_path = None if options.accept is None else compile_path(options.accept.path)
        self.changes_path = None if options.changes is None else compile_path(options.changes.path)

    @property
    def source(self) -> str:
        return self.shared.source


def live_mapping_from_dict(data: Any, *, origin: str = "<mapping>") -> LiveMapping:
    """Validate a parsed live mapping; every problem is a ``ConfigError`` naming ``origin``."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"live mapping {origin}: expected a YAML mapping of keys (source, item_kind, ...), "
            f"got {type(data).__name__}"
        )
    refused = [f"{key}: {why}" for key, why in _REFUSED.items() if key in data]
    if refused:
        raise ConfigError(f"live mapping {origin} is invalid:\n  " + "\n  ".join(refused))
    # every section naming a field (item_id, timestamp, state, priority, assignee, and whatever
    # the shared model grows) is written with ``path`` where the file import has ``column``
    shared = {k: _paths_as_columns(v) for k, v in data.items() if k not in _LIVE_ONLY}
    live = {k: data[k] for k in _LIVE_ONLY if k in data}
    if isinstance(live.get("created"), dict):
        live["created"] = _paths_as_columns(live["created"])
    if isinstance(live.get("times"), dict):
        live["times"] = {k: _paths_as_columns(v) for k, v in live["times"].items()}
    try:
        mapping = mapping_from_dict({**shared, "layout": "long"}, origin=origin)
    except ConfigError as exc:
        raise ConfigError(_as_paths(str(exc)).replace("mapping ", "live mapping ", 1)) from None
    assert isinstance(mapping, LongRecordMapping)
    try:
        options = LiveOptions.model_validate(live)
    except ValidationError as exc:
        lines = [_as_paths(line) for line in describe_errors(exc, LiveOptions)]
        raise ConfigError(f"live mapping {origin} is invalid:\n  " + "\n  ".join(lines)) from None
    try:
        return LiveMapping(mapping, options, origin)
    except ValueError as exc:
        raise ConfigError(f"live mapping {origin} is invalid: {exc}") from None


def load_live_mapping(name_or_path: str | Path, *, source: str | None = None) -> LiveMapping:
    """A live mapping from a YAML file, or a built-in one by name (``jira``, ``servicenow``);
    ``source`` replaces the mapping's own (a feed is named by its configuration)."""
    path = _resolve(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"live mapping {path}: cannot read it: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"live mapping {path}: not valid YAML{yaml_where(exc)}") from None
    if source is not None and isinstance(data, dict):
        data = {**data, "source": source}
    return live_mapping_from_dict(data, origin=str(path))


def builtin_live_mappings() -> list[str]:
    return sorted(
        p.name.removesuffix(".yaml")
        for p in LIVE_MAPPINGS_DIR.iterdir()
        if p.name.endswith(".yaml")
    )


def _resolve(name_or_path: str | Path) -> Path | Traversable:
    path = Path(name_or_path)
    if path.is_file():
        return path
    builtin = LIVE_MAPPINGS_DIR / f"{name_or_path}.yaml"
    if "/" not in str(name_or_path) and builtin.is_file():
        return builtin
    raise ConfigError(
        f"live mapping {str(name_or_path)!r}: no such file and no built-in live mapping of that "
        f"name; built-in: {', '.join(builtin_live_mappings())} (or give the path of a YAML file)"
    )


def _paths_as_columns(section: Any) -> Any:
    if isinstance(section, dict) and "path" in section and "column" not in section:
        section = {("column" if k == "path" else k): v for k, v in section.items()}
    return section


def _as_paths(message: str) -> str:
    """Shared error messages say ``column``; a live mapping's author wrote ``path``."""
    return message.replace(".column", ".path")
