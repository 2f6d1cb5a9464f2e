"""Generated exports in the shapes real ITSM tools write (ServiceNow, Jira, Zendesk, Remedy),
through their mappings: creation time from its own column, value maps, placeholders, per-item
due dates, tie-breaks, and case logs that repeat the case's columns on every row."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from outcome_pulse.processors.lifecycle import Lifecycle
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import mapping_from_dict

SNOW_HEADER = [
    "number",
    "state",
    "priority",
    "opened_at",
    "sys_updated_on",
    "sys_mod_count",
    "assignment_group",
    "due_date",
]
SNOW: dict[str, Any] = {
    "source": "snow",
    "item_kind": "incident",
    "item_id": {"column": "number"},
    "timestamp": {"column": "sys_updated_on", "format": "%Y-%m-%d %H:%M:%S", "timezone": "UTC"},
    "opened_at": {"column": "opened_at", "format": "%Y-%m-%d %H:%M:%S", "timezone": "UTC"},
    "tie_break": {"column": "sys_mod_count"},
    "missing": ["?", "NULL"],
    "state": {
        "column": "state",
        "events": {
            "New": "state_changed",
            "In Progress": "state_changed",
            "On Hold": "paused",
            "Resolved": "resolved",
            "Closed": "closed",
        },
    },
    "priority": {
        "column": "priority",
        "values": {"1 - Critical": "P1", "2 - High": "P2", "3 - Moderate": "P3", "4 - Low": "P4"},
        "others": "reject",
    },
    "attributes": {
        "group": {"column": "assignment_group", "values": {"Service Desk": "desk"}},
    },
    "due": {"column": "due_date", "format": "%Y-%m-%d %H:%M:%S", "timezone": "UTC"},
}


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def by_item(events: list[Any]) -> dict[str, list[tuple[Lifecycle, datetime]]]:
    out: dict[str, list[tuple[Lifecycle, datetime]]] = {}
    for e in events:
        out.setdefault(e.subject, []).append((e.lifecycle, e.time))
    return out


def snow_rows() -> list[list[str]]:
    return [
        # INC1: a normal life, with a due date and "?" for an unknown group.
        ["INC1", "New", "1 - Critical", "2024-03-04 09:00:00", "2024-03-04 09:05:00", "0",
         "?", "2024-03-04 13:00:00"],
        ["INC1", "In Progress", "1 - Critical", "2024-03-04 09:00:00", "2024-03-04 09:30:00",
         "1", "Service Desk", "2024-03-04 13:00:00"],
        ["INC1", "Resolved", "1 - Critical", "2024-03-04 09:00:00", "2024-03-04 11:00:00", "2",
         "Service Desk", "2024-03-04 13:00:00"],
        # INC2: the export starts after the incident was already resolved.
        ["INC2", "Resolved", "3 - Moderate", "2024-03-05 08:00:00", "2024-03-05 10:00:00", "5",
         "Service Desk", "NULL"],
        # INC3: two updates in the same second, written in the wrong order.
        ["INC3", "Resolved", "2 - High", "2024-03-06 11:00:00", "2024-03-06 12:00:00", "4",
         "Network", "?"],
        ["INC3", "In Progress", "2 - High", "2024-03-06 11:00:00", "2024-03-06 12:00:00", "3",
         "Network", "?"],
        # line 8: a priority the value map does not know (others: reject).
        ["INC4", "New", "5 - Planning", "2024-03-07 08:00:00", "2024-03-07 08:00:00", "0",
         "Network", "?"],
    ]  # fmt: skip


def test_servicenow_export(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "incident.csv", SNOW_HEADER, snow_rows())
    result = map_file(path, mapping_from_dict(SNOW))
    items = by_item(result.events)

    # Creation time from opened_at; every row keeps its own event.
    assert items["INC1"] == [
        (Lifecycle.CREATED, at("2024-03-04 09:00")),
        (Lifecycle.STATE_CHANGED, at("2024-03-04 09:05")),
        (Lifecycle.STATE_CHANGED, at("2024-03-04 09:30")),
        (Lifecycle.RESOLVED, at("2024-03-04 11:00")),
    ]
    assert items["INC2"] == [
        (Lifecycle.CREATED, at("2024-03-05 08:00")),
        (Lifecycle.RESOLVED, at("2024-03-05 10:00")),
    ]
    # The update counter, not the file, orders the two rows of 12:00: the item ends resolved.
    assert [lc for lc, _ in items["INC3"]] == [
        Lifecycle.CREATED,
        Lifecycle.STATE_CHANGED,
        Lifecycle.RESOLVED,
    ]
    events = {e.subject: e for e in result.events if e.lifecycle is Lifecycle.CREATED}
    assert {k: e.data.priority for k, e in events.items()} == {
        "INC1": "P1",
        "INC2": "P3",
        "INC3": "P2",
    }
    inc1 = [e for e in result.events if e.subject == "INC1"]
    assert [e.data.attributes.get("group") for e in inc1] == [None, None, "desk", "desk"]
    assert {e.data.due_at for e in inc1} == {at("2024-03-04 13:00")}
    assert all(e.data.due_at is None for e in result.events if e.subject != "INC1")
    (dead,) = result.dead_letters
    assert (dead.reason, dead.line) == ("unknown_value", 8)  # the file's line, header counted
    assert "'5 - Planning' is not in priority.values" in dead.detail


def test_without_the_tie_break_the_file_order_decides(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "incident.csv", SNOW_HEADER, snow_rows()[4:6])
    no_tie = mapping_from_dict({k: v for k, v in SNOW.items() if k != "tie_break"})
    assert [e.lifecycle for e in map_file(path, no_tie).events][-1] is Lifecycle.STATE_CHANGED
    assert [e.lifecycle for e in map_file(path, mapping_from_dict(SNOW)).events][-1] is (
        Lifecycle.RESOLVED
    )


def test_an_opening_time_before_1990_is_a_dead_letter(tmp_path: Path) -> None:
    rows = [[*snow_rows()[0][:3], "1970-01-01 00:00:00", *snow_rows()[0][4:]]]
    result = map_file(write_csv(tmp_path / "i.csv", SNOW_HEADER, rows), mapping_from_dict(SNOW))
    (dead,) = result.dead_letters
    assert dead.reason == "bad_timestamp" and dead.detail.startswith("opened_at ('opened_at')")


def test_a_bad_update_counter_is_a_dead_letter(tmp_path: Path) -> None:
    rows = [[*snow_rows()[0][:5], "three", *snow_rows()[0][6:]]]
    result = map_file(write_csv(tmp_path / "i.csv", SNOW_HEADER, rows), mapping_from_dict(SNOW))
    (dead,) = result.dead_letters
    assert dead.reason == "bad_tie_break" and "'three'" in dead.detail


def test_jira_export_with_nested_fields_and_a_due_date(tmp_path: Path) -> None:
    def change(key: str, when: str, status: str, due: str | None) -> str:
        return json.dumps(
            {
                "key": key,
                "changed": when,
                "fields": {
                    "created": "2024-03-04T09:00:00.000+0100",
                    "status": {"name": status},
                    "priority": {"name": "Highest"},
                    "duedate": due,
                },
            }
        )

    path = tmp_path / "jira.jsonl"
    path.write_text(
        "\n".join(
            [
                change("SD-1", "2024-03-04T10:00:00.000+0100", "In Progress", "2024-03-08"),
                change("SD-1", "2024-03-05T10:00:00.000+0100", "Done", "2024-03-08"),
                change("SD-2", "2024-03-04T11:00:00.000+0100", "Waiting for customer", None),
            ]
        )
        + "\n"
    )
    jira = mapping_from_dict(
        {
            "source": "jira-sd",
            "item_kind": "ticket",
            "format": "jsonl",
            "item_id": {"column": "key"},
            "timestamp": {"column": "changed", "format": "%Y-%m-%dT%H:%M:%S.%f%z"},
            "opened_at": {"column": "fields.created", "format": "%Y-%m-%dT%H:%M:%S.%f%z"},
            "state": {
                "column": "fields.status.name",
                "events": {
                    "In Progress": "state_changed",
                    "Waiting for customer": "paused",
                    "Done": "resolved",
                },
            },
            "priority": {"column": "fields.priority.name", "values": {"Highest": "P1"}},
            "due": {"column": "fields.duedate", "format": "%Y-%m-%d", "timezone": "UTC"},
        }
    )
    result = map_file(path, jira)
    assert result.dead_letters == []
    items = by_item(result.events)
    assert items["SD-1"][0] == (Lifecycle.CREATED, at("2024-03-04 08:00"))
    assert items["SD-2"] == [
        (Lifecycle.CREATED, at("2024-03-04 08:00")),
        (Lifecycle.PAUSED, at("2024-03-04 10:00")),
    ]
    sd1 = [e for e in result.events if e.subject == "SD-1" and e.lifecycle is not Lifecycle.CREATED]
    assert {e.data.due_at for e in sd1} == {at("2024-03-08 00:00")}
    assert {e.data.priority for e in result.events} == {"P1"}


def test_zendesk_export_with_placeholders_in_any_column(tmp_path: Path) -> None:
    header = ["Id", "Status", "Priority", "Created at", "Updated at", "Group"]
    rows = [
        ["7", "new", "urgent", "2024-03-04 09:00", "2024-03-04 09:00", "-"],
        ["7", "solved", "urgent", "2024-03-04 09:00", "2024-03-04 10:00", "Tier 2"],
        ["8", "open", "-", "2024-03-04 09:30", "2024-03-04 09:30", "Tier 1"],
        ["8", "closed", "-", "2024-03-04 09:30", "2024-03-04 12:00", "-"],
        ["-", "open", "low", "2024-03-04 09:30", "2024-03-04 09:30", "Tier 1"],
    ]
    zendesk = mapping_from_dict(
        {
            "source": "zendesk",
            "item_kind": "ticket",
            "item_id": {"column": "Id"},
            "timestamp": {"column": "Updated at", "format": "%Y-%m-%d %H:%M", "timezone": "UTC"},
            "opened_at": {"column": "Created at", "format": "%Y-%m-%d %H:%M", "timezone": "UTC"},
            "missing": ["-"],
            "state": {
                "column": "Status",
                "events": {
                    "new": "state_changed",
                    "open": "state_changed",
                    "pending": "paused",
                    "solved": "resolved",
                    "closed": "closed",
                },
            },
            "priority": {"column": "Priority", "values": {"urgent": "P1", "low": "P4"}},
            "attributes": {"group": "Group"},
        }
    )
    result = map_file(write_csv(tmp_path / "z.csv", header, rows), zendesk)
    (dead,) = result.dead_letters
    assert (dead.reason, dead.line) == ("missing_id", 6)  # "-" is an empty id
    assert [e.data.attributes.get("group") for e in result.events if e.subject == "7"] == [
        None,
        None,
        "Tier 2",
    ]
    assert {e.data.priority for e in result.events if e.subject == "8"} == {None}
    assert [lc for lc, _ in by_item(result.events)["8"]] == [
        Lifecycle.CREATED,
        Lifecycle.STATE_CHANGED,
        Lifecycle.CLOSED,
    ]


REMEDY_HEADER = [
    "Incident ID",
    "Submit Date",
    "Resolved Date",
    "Closed Date",
    "Target Date",
    "Priority",
    "Work Log Date",
    "Work Log",
]
REMEDY: dict[str, Any] = {
    "source": "remedy",
    "item_kind": "incident",
    "layout": "wide",
    "item_id": {"column": "Incident ID"},
    "missing": ["NULL"],
    "milestones": [
        {"column": "Submit Date", "lifecycle": "created", "format": "%d/%m/%Y %H:%M",
         "timezone": "Europe/Paris"},
        {"column": "Resolved Date", "lifecycle": "resolved", "format": "%d/%m/%Y %H:%M",
         "timezone": "Europe/Paris"},
        {"column": "Closed Date", "lifecycle": "closed", "format": "%d/%m/%Y %H:%M",
         "timezone": "Europe/Paris"},
    ],
    "due": {"column": "Target Date", "format": "%d/%m/%Y %H:%M", "timezone": "Europe/Paris"},
    "priority": {"column": "Priority", "values": {"Critical": "P1", "Medium": "P3"}},
}  # fmt: skip


def test_remedy_case_log_repeating_case_columns_on_every_row(tmp_path: Path) -> None:
    case = ["INC9", "04/03/2024 09:00", "05/03/2024 10:00", "NULL", "06/03/2024 09:00", "Medium"]
    rows = [
        [*case, "04/03/2024 09:10", "called the user"],
        [*case, "04/03/2024 15:00", "waiting on a part"],
        [*case, "05/03/2024 10:00", "fixed"],
        # the case closes: a row that adds the close and repeats the rest
        [*case[:3], "08/03/2024 10:00", *case[4:], "08/03/2024 10:00", "closed"],
        # a row that contradicts an earlier one: loud, not a second resolution
        [*case[:2], "07/03/2024 10:00", *case[3:], "07/03/2024 10:00", "typo"],
    ]
    result = map_file(
        write_csv(tmp_path / "remedy.csv", REMEDY_HEADER, rows), mapping_from_dict(REMEDY)
    )
    assert [(lc, t) for lc, t in by_item(result.events)["INC9"]] == [
        (Lifecycle.CREATED, at("2024-03-04 08:00")),
        (Lifecycle.RESOLVED, at("2024-03-05 09:00")),
        (Lifecycle.CLOSED, at("2024-03-08 09:00")),
    ]
    assert result.repeated_milestones == 2 + 2 + 2  # rows 2 and 3 repeat two, row 4 two
    assert result.rows_with_events == 4
    (dead,) = result.dead_letters
    assert (dead.reason, dead.line) == ("conflicting_milestone", 6)
    assert "2024-03-07T09:00:00+00:00 here but 2024-03-05T09:00:00+00:00" in dead.detail
    assert {e.data.due_at for e in result.events} == {at("2024-03-06 08:00")}
    assert {e.data.priority for e in result.events} == {"P3"}


def readme_yaml_blocks() -> list[Any]:
    import yaml

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = text.split("```yaml\n")[1:]
    return [yaml.safe_load(block.split("```", 1)[0]) for block in blocks]


def test_the_readmes_servicenow_and_jira_mappings_and_contract_are_valid() -> None:
    from outcome_pulse.processors.contract import parse_contract

    blocks = {b.get("source") or b.get("contract"): b for b in readme_yaml_blocks()}
    snow = mapping_from_dict(blocks["servicenow-prod"], origin="README")
    jira = mapping_from_dict(blocks["jira-servicedesk"], origin="README")
    assert snow.tie_break is not None and snow.opened_at is not None and jira.due is not None
    contract = parse_contract(blocks["acme-desk"], origin="README")
    assert contract.kpi("restore-time") is not None
