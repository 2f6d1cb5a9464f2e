"""Mapping files: the built-ins load, and every mistake names the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.streams.file_import.mapping import (
    LongRecordMapping,
    WideRecordMapping,
    builtin_mappings,
    load_mapping,
    mapping_from_dict,
)


def long_mapping(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "source": "test-log",
        "item_kind": "incident",
        "layout": "long",
        "item_id": {"column": "id"},
        "timestamp": {"column": "when"},
        "state": {"column": "status", "events": {"Resolved": "resolved"}},
    }
    base.update(overrides)
    return base


def wide_mapping(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "source": "test-orders",
        "item_kind": "order",
        "layout": "wide",
        "item_id": {"column": "id"},
        "milestones": [
            {"column": "placed", "lifecycle": "placed", "format": "%Y-%m-%d", "timezone": "UTC"}
        ],
    }
    base.update(overrides)
    return base


def write(tmp_path: Path, data: Any, name: str = "my-export.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def config_error(tmp_path: Path, data: Any) -> str:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    message = str(caught.value)
    assert str(path) in message
    return message


# -- the built-in mappings --------------------------------------------------------------------


def test_builtin_names() -> None:
    assert builtin_mappings() == ["bpic2013", "helpdesk", "scms"]


def test_builtins_load_by_name() -> None:
    bpic = load_mapping("bpic2013")
    assert isinstance(bpic, LongRecordMapping)
    assert bpic.item_kind is ItemKind.INCIDENT
    assert bpic.first_event is Lifecycle.CREATED
    assert bpic.state.lifecycle_of("Accepted-Wait - User") is Lifecycle.PAUSED
    assert bpic.state.lifecycle_of("Something new") is None

    helpdesk = load_mapping("helpdesk")
    assert isinstance(helpdesk, LongRecordMapping)
    assert helpdesk.timestamp.timezone == "Europe/Rome"
    assert helpdesk.state.lifecycle_of("Something new") is Lifecycle.STATE_CHANGED
    assert helpdesk.assignee_on(Lifecycle.ASSIGNED)
    assert not helpdesk.assignee_on(Lifecycle.CLOSED)

    scms = load_mapping("scms")
    assert isinstance(scms, WideRecordMapping)
    assert [m.lifecycle for m in scms.milestones] == [
        Lifecycle.PLACED,
        Lifecycle.APPROVED,
        Lifecycle.DELIVERED,
    ]
    assert scms.attributes["order"].column == "PO / SO #"


def test_a_mapping_loads_from_a_path(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, long_mapping()))
    assert mapping.source == "test-log"
    assert mapping.layout == "long"
    assert mapping.csv.encoding == "utf-8-sig"


def test_layout_defaults_to_long(tmp_path: Path) -> None:
    data = long_mapping()
    del data["layout"]
    assert isinstance(load_mapping(write(tmp_path, data)), LongRecordMapping)


# -- finding the file -------------------------------------------------------------------------


def test_unknown_builtin_name_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError, match=r"'servicenow'.*bpic2013, helpdesk, scms"):
        load_mapping("servicenow")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_mapping(tmp_path / "absent.yaml")


def test_invalid_yaml_names_the_file_and_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("source: x\nitem_id: {column: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML.*line"):
        load_mapping(path)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert "expected a YAML mapping" in config_error(tmp_path, ["source", "x"])


# -- field errors name the path and what was expected -----------------------------------------


def test_bad_timestamp_format(tmp_path: Path) -> None:
    message = config_error(tmp_path, long_mapping(timestamp={"column": "when", "format": "%Q"}))
    assert "timestamp.format: expected one of: iso8601, or a strptime format such as" in message
    assert "%Y/%m/%d %H:%M:%S.%f" in message
    assert "(got '%Q')" in message


@pytest.mark.parametrize("fmt", ["%H:%M", "dd/mm/yyyy", "%Y"])
def test_a_format_must_carry_a_date(tmp_path: Path, fmt: str) -> None:
    data = long_mapping(timestamp={"column": "when", "format": fmt, "timezone": "UTC"})
    assert "timestamp.format: expected one of: iso8601" in config_error(tmp_path, data)


def test_bad_timezone(tmp_path: Path) -> None:
    data = long_mapping(timestamp={"column": "when", "timezone": "Mars/Olympus"})
    message = config_error(tmp_path, data)
    assert "timestamp.timezone: expected an IANA time zone name" in message
    assert "'Mars/Olympus'" in message


def test_local_time_format_needs_a_timezone(tmp_path: Path) -> None:
    data = long_mapping(timestamp={"column": "when", "format": "%Y/%m/%d %H:%M"})
    assert "timestamp.timezone: required because format" in config_error(tmp_path, data)


def test_a_format_with_an_offset_needs_no_timezone(tmp_path: Path) -> None:
    data = long_mapping(timestamp={"column": "when", "format": "%Y-%m-%d %H:%M%z"})
    assert isinstance(load_mapping(write(tmp_path, data)), LongRecordMapping)


def test_unknown_key_lists_the_keys_expected_there(tmp_path: Path) -> None:
    data = long_mapping(timestamp={"column": "when", "fromat": "iso8601"})
    message = config_error(tmp_path, data)
    assert "timestamp.fromat: unknown key; expected one of: column, format, timezone" in message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = config_error(tmp_path, long_mapping(sorce="x"))
    assert "sorce: unknown key; expected one of: source, item_kind, layout" in message


def test_missing_required_field(tmp_path: Path) -> None:
    data = long_mapping()
    del data["item_id"]
    assert "item_id: required, but missing" in config_error(tmp_path, data)


def test_bad_item_kind_says_what_is_expected(tmp_path: Path) -> None:
    message = config_error(tmp_path, long_mapping(item_kind="problem"))
    assert "item_kind: expected 'incident', 'ticket' or 'order' (got 'problem')" in message


def test_unknown_layout(tmp_path: Path) -> None:
    assert "layout: expected 'long' or 'wide'" in config_error(tmp_path, long_mapping(layout="x"))


def test_unknown_lifecycle_name_in_events(tmp_path: Path) -> None:
    data = long_mapping(state={"column": "status", "events": {"Done": "finished"}})
    message = config_error(tmp_path, data)
    assert "state.events.Done: expected 'created'" in message
    assert "(got 'finished')" in message


def test_order_lifecycle_in_an_incident_mapping(tmp_path: Path) -> None:
    data = long_mapping(state={"column": "status", "events": {"Sent out": "shipped"}})
    message = config_error(tmp_path, data)
    assert "state.events['Sent out']: 'shipped' is not an incident lifecycle" in message
    assert "expected one of: assigned, closed, created" in message


def test_work_item_lifecycle_in_an_order_mapping(tmp_path: Path) -> None:
    data = wide_mapping(
        milestones=[
            {"column": "p", "lifecycle": "placed", "format": "%Y-%m-%d", "timezone": "UTC"},
            {"column": "r", "lifecycle": "resolved", "format": "%Y-%m-%d", "timezone": "UTC"},
        ]
    )
    message = config_error(tmp_path, data)
    assert "milestones[1].lifecycle: 'resolved' is not an order lifecycle" in message
    assert "expected one of: approved, cancelled, delivered, placed, shipped" in message


def test_milestone_field_errors_name_the_index(tmp_path: Path) -> None:
    data = wide_mapping(milestones=[{"column": "p", "lifecycle": "placed", "format": "%m/%d/%y"}])
    assert "milestones[0].timezone: required" in config_error(tmp_path, data)


def test_first_event_must_open_the_item(tmp_path: Path) -> None:
    message = config_error(tmp_path, long_mapping(first_event="resolved"))
    assert "first_event: an incident's first event can only be 'created'" in message


def test_orders_have_no_assignee_but_every_kind_may_have_a_due_date(tmp_path: Path) -> None:
    assert "assignee: orders have no assignee" in config_error(
        tmp_path, wide_mapping(assignee={"column": "who"})
    )
    incident = wide_mapping(
        item_kind="incident",
        milestones=[{"column": "c", "lifecycle": "created"}],
        due={"column": "due"},
    )
    assert mapping_from_dict(incident).due is not None
    assert mapping_from_dict(long_mapping(due={"column": "due"})).due is not None


def test_assigned_events_need_an_assignee_column(tmp_path: Path) -> None:
    data = long_mapping(state={"column": "status", "events": {"Taken": "assigned"}})
    message = config_error(tmp_path, data)
    assert "state.events.Taken: an assigned event needs an assignee" in message
    limited = long_mapping(
        state={"column": "status", "events": {"Taken": "assigned"}},
        assignee={"column": "who", "lifecycles": ["closed"]},
    )
    assert "state.events.Taken: an assigned event needs an assignee" in config_error(
        tmp_path, limited
    )


def test_each_whole_mapping_problem_is_on_its_own_line(tmp_path: Path) -> None:
    data = long_mapping(
        item_kind="order",
        state={"column": "s", "events": {"Sent": "shipped", "X": "resolved"}},
        assignee={"column": "who"},
    )
    lines = config_error(tmp_path, data).splitlines()
    assert lines[1:] == [
        "  state.events.X: 'resolved' is not an order lifecycle; expected one of: "
        "approved, cancelled, delivered, placed, shipped",
        "  assignee: orders have no assignee; remove it or use attributes",
    ]


def test_too_many_milestones(tmp_path: Path) -> None:
    one = {"column": "p", "lifecycle": "placed", "timezone": "UTC"}
    message = config_error(tmp_path, wide_mapping(milestones=[one] * 17))
    assert "milestones: List should have at most 16 items" in message


def test_csv_options_are_checked(tmp_path: Path) -> None:
    data = long_mapping(csv={"delimiter": ";;", "encoding": "klingon"})
    message = config_error(tmp_path, data)
    assert "csv.delimiter:" in message
    assert "csv.encoding: expected a Python codec name" in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = long_mapping(item_kind="problem", timestamp={"column": "when", "format": "%Q"})
    message = config_error(tmp_path, data)
    assert "item_kind:" in message and "timestamp.format:" in message


def test_mapping_from_dict_names_its_origin() -> None:
    with pytest.raises(ConfigError, match=r"mapping <inline> is invalid:\n  source:"):
        mapping_from_dict(long_mapping(source="has spaces"), origin="<inline>")
