"""Day-one mistakes on the command line: loud, with exit codes and messages that say what to fix.

* a date format with day and month swapped: half the rows rejected -> exit 3, top reasons;
* a contract whose priorities are not the export's: `contract check --against` exits 4;
* tables written to a pipe are never cut.
"""

from __future__ import annotations

import copy
import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from outcome_pulse.streams.cli.main import app
from tests.unit.test_clock_specs import CONTRACT

runner = CliRunner()

MAPPING: dict[str, Any] = {
    "source": "snow",
    "item_kind": "incident",
    "item_id": {"column": "number"},
    "timestamp": {"column": "updated", "format": "%d/%m/%Y %H:%M", "timezone": "UTC"},
    "state": {"column": "state", "events": {"New": "state_changed", "Resolved": "resolved"}},
    "first_event": "created",
    "priority": {
        "column": "priority",
        "values": {"1 - Critical": "P1", "2 - High": "P2", "3 - Moderate": "P3", "4 - Low": "P4"},
    },
}


def export(path: Path) -> Path:
    """Sixty incidents over January to March 2024, opened and resolved two hours later, with
    European dates (day first): days 1-28, so 12 of every 28 also read as month-first dates."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["number", "state", "priority", "updated"])
    start = datetime(2024, 1, 1, 10, 0)
    priorities = list(MAPPING["priority"]["values"])
    for n in range(60):
        opened = start + timedelta(days=n % 28, hours=n % 5) + timedelta(days=28 * (n // 28))
        for state, at in (("New", opened), ("Resolved", opened + timedelta(hours=2))):
            writer.writerow(
                [f"INC{n:03d}", state, priorities[n % 4], at.strftime("%d/%m/%Y %H:%M")]
            )
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def files(tmp_path: Path, mapping: dict[str, Any] | None = None) -> tuple[Path, Path, Path]:
    data = export(tmp_path / "incidents.csv")
    mapping_file = tmp_path / "snow.yaml"
    mapping_file.write_text(yaml.safe_dump(mapping or MAPPING))
    contract_file = tmp_path / "desk.yaml"
    contract_file.write_text(yaml.safe_dump(CONTRACT))
    return data, mapping_file, contract_file


def swapped(mapping: dict[str, Any]) -> dict[str, Any]:
    wrong = copy.deepcopy(mapping)
    wrong["timestamp"]["format"] = "%m/%d/%Y %H:%M"
    return wrong


def test_day_and_month_swapped_stops_the_backtest_with_the_top_reasons(tmp_path: Path) -> None:
    data, mapping, contract = files(tmp_path, swapped(MAPPING))
    result = runner.invoke(
        app, ["backtest", str(data), "--mapping", str(mapping), "--contract", str(contract)]
    )
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "dead letters, more than the 1% allowed" in text
    assert "bad_timestamp:" in text
    assert "e.g. line 2:" not in text  # 01/01 reads fine month-first; the first bad one is later
    assert "does not match %m/%d/%Y %H:%M" in text
    assert "day and month swapped?" in text
    assert "stopped before using any of it" in text


def test_the_same_mistake_stops_a_replay_before_it_produces_anything(tmp_path: Path) -> None:
    data, mapping, _ = files(tmp_path, swapped(MAPPING))
    # No broker is needed: the check runs before the producer is created.
    result = runner.invoke(app, ["replay", str(data), "--mapping", str(mapping)])
    assert result.exit_code == 3, result.output
    assert "bad_timestamp" in result.output


def test_a_higher_threshold_lets_it_through_and_the_summary_counts_dead_letters(
    tmp_path: Path,
) -> None:
    data, mapping, contract = files(tmp_path, swapped(MAPPING))
    for extra in ([], ["--matrix"]):
        result = runner.invoke(
            app,
            [
                "backtest",
                str(data),
                "--mapping",
                str(mapping),
                "--contract",
                str(contract),
                "--max-dead-letters",
                "90%",
                *extra,
            ],
        )
        assert result.exit_code == 0, result.output
        assert "120 records read from incidents.csv" in result.output
        assert " dead letters (kept with --out)" in result.output
        assert "bad_timestamp:" in result.output


def test_a_bad_threshold_is_a_usage_error(tmp_path: Path) -> None:
    data, mapping, contract = files(tmp_path)
    result = runner.invoke(
        app,
        [
            "backtest",
            str(data),
            "--mapping",
            str(mapping),
            "--contract",
            str(contract),
            "--max-dead-letters",
            "lots",
        ],
    )
    assert result.exit_code == 2
    assert "expected a share such as 1% or 0.01" in result.output


def test_contract_check_against_data_reports_priorities_without_targets(tmp_path: Path) -> None:
    no_value_map = copy.deepcopy(MAPPING)
    del no_value_map["priority"]["values"]
    data, mapping, contract = files(tmp_path, no_value_map)
    result = runner.invoke(
        app,
        ["contract", "check", str(contract), "--against", str(data), "--mapping", str(mapping)],
    )
    assert result.exit_code == 4, result.output
    text = " ".join(result.output.split())
    assert "kpis[0].targets: priority 'P1' never occurs in the data; priorities seen: " in text
    assert "'1 - Critical', '2 - High', '3 - Moderate', '4 - Low'" in text
    assert (
        "priority '1 - Critical' occurs (15 items) but has no target and there is no "
        "default_target: those items are not measured" in text
    )
    assert "kpis[0]: KPI 'restore' measured nothing in any period" in text
    assert "clock.cancel: never fires on this data" in text  # a note only
    assert "coverage warning(s) against incidents.csv" in text


def test_contract_check_against_data_that_fits(tmp_path: Path) -> None:
    data, mapping, contract = files(tmp_path)
    result = runner.invoke(
        app,
        ["contract", "check", str(contract), "--against", str(data), "--mapping", str(mapping)],
    )
    assert result.exit_code == 0, result.output
    assert "every priority, clock trigger and KPI is covered by incidents.csv" in result.output
    assert "note: " in result.output  # the cancel state never occurs: said, but not fatal


def test_backtest_prints_the_same_warnings(tmp_path: Path) -> None:
    no_value_map = copy.deepcopy(MAPPING)
    del no_value_map["priority"]["values"]
    data, mapping, contract = files(tmp_path, no_value_map)
    result = runner.invoke(
        app, ["backtest", str(data), "--mapping", str(mapping), "--contract", str(contract)]
    )
    assert result.exit_code == 0, result.output
    assert "warning: objectives[0].outcomes[0].kpis[0].targets: priority 'P1' never occurs" in (
        result.output
    )


def test_tables_are_not_cut_when_stdout_is_not_a_terminal(tmp_path: Path) -> None:
    data, mapping, contract = files(tmp_path)
    result = runner.invoke(
        app,
        ["backtest", str(data), "--mapping", str(mapping), "--contract", str(contract), "--matrix"],
    )
    assert result.exit_code == 0, result.output
    assert "…" not in result.output
    header = next(line for line in result.output.splitlines() if "Jan" in line)
    assert all(month in header for month in ("Jan", "Feb", "Mar", "Dec", "net credit"))
    assert len(header) > 80


def test_rules_keep_a_readable_width_when_stdout_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from outcome_pulse.streams.cli.output import RULE_WIDTH, output_console

    console = output_console()
    console.rule("5. contract")
    line = capsys.readouterr().out.rstrip("\n")
    assert "5. contract" in line and len(line) == RULE_WIDTH
    assert console.width > 1000
