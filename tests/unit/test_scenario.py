"""What-if scenarios: validated with errors naming the field; each change does exactly what it
says on small histories (business time scaled exactly, waits taken out, seeded resampling); and on
a real log the baseline side is ``pulse backtest`` and a contract change equals a backtest of the
changed contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from outcome_pulse.processors.baseline import resolutions
from outcome_pulse.processors.contract import Contract, parse_contract
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.item_misses import build_histories
from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind, Lifecycle
from outcome_pulse.processors.scenario import apply_scenario, parse_scenario
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_file
from outcome_pulse.streams.drivers.whatif import load_scenario, run_whatif
from outcome_pulse.streams.file_import.mapping import load_mapping
from tests.datasets import dataset

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday, 09:00


def office_contract() -> Contract:
    kpi = {
        "id": "resolution",
        "name": "Resolution",
        "service": "desk",
        "kind": "time_to_target",
        "indicator": "lagging",
        "period": "month",
        "target_level": "90%",
        "minimum_level": "50%",
        "calendar": "office",
        "clock": {"start": "created", "stop": "resolved", "pause": "paused", "resume": "resumed"},
        "targets": {"P1": "4h", "P2": "16h"},
    }
    return parse_contract(
        {
            "contract": "acme-desk",
            "title": "ACME desk",
            "client": {"name": "ACME", "time_zone": "UTC"},
            "calendars": {"office": {"hours": {"mon-fri": ["09:00-17:00"]}}},
            "services": {
                "desk": {
                    "name": "Desk",
                    "source": "acme",
                    "item_kind": "incident",
                    "owner": {"name": "Lead", "alerts": [{"email": "lead@acme.example"}]},
                }
            },
            "objectives": [{"name": "Fast", "outcomes": [{"name": "In time", "kpis": [kpi]}]}],
        }
    )


def ev(
    item: str, lifecycle: Lifecycle, hours: float, n: int, **fields: Any
) -> tuple[ItemEvent, int]:
    return (
        ItemEvent(
            f"{item}-{n}",
            "acme",
            item,
            ItemKind.INCIDENT,
            lifecycle,
            T0 + timedelta(hours=hours),
            **fields,
        ),
        n,
    )


def history() -> list[tuple[ItemEvent, int]]:
    return [
        ev("a", Lifecycle.CREATED, 0, 0, priority="P2", attributes={"team": "red"}),
        ev("a", Lifecycle.PAUSED, 2, 1, state="Wait - Vendor"),
        ev("a", Lifecycle.RESUMED, 5, 2),
        ev("a", Lifecycle.RESOLVED, 30, 3),  # Tue 15:00: 2h + (Mon 14-17 3h + Tue 9-15 6h) = 11h
        ev("b", Lifecycle.CREATED, 1, 0, priority="P1", attributes={"team": "blue"}),
        ev("b", Lifecycle.RESOLVED, 4, 1),
    ]


def elapsed(contract: Contract, events: list[tuple[ItemEvent, int]]) -> dict[str, timedelta]:
    kpi = contract.kpis[0]
    assert kpi.kind == "time_to_target"
    found = resolutions(build_histories(events).values(), kpi, contract.calendar_of(kpi))  # type: ignore[arg-type]
    return {r.item_id: r.elapsed for r in found}


def test_scale_resolution_scales_business_time_exactly_and_only_for_the_selection() -> None:
    contract = office_contract()
    assert elapsed(contract, history()) == {"a": timedelta(hours=11), "b": timedelta(hours=3)}
    scenario = parse_scenario(
        {
            "name": "faster red",
            "changes": [
                {
                    "kind": "scale_resolution",
                    "factor": 0.5,
                    "select": {"attributes": {"team": ["red"]}},
                }
            ],
        }
    )
    applied = apply_scenario(scenario, contract, history())
    assert elapsed(contract, applied.events) == {"a": timedelta(hours=5.5), "b": timedelta(hours=3)}


def test_remove_waits_shift_takes_the_wait_out_and_count_keeps_the_clock_running() -> None:
    contract = office_contract()
    shift = parse_scenario(
        {
            "name": "no vendor waits",
            "changes": [{"kind": "remove_waits", "states": ["Wait - Vendor"], "mode": "shift"}],
        }
    )
    applied = apply_scenario(shift, contract, history())
    resolved = [
        e for e, _ in applied.events if e.item_id == "a" and e.lifecycle is Lifecycle.RESOLVED
    ]
    assert resolved[0].time == T0 + timedelta(hours=27)  # 3 h earlier
    # The 3 h wait (paused) did not count; now it never happened: still 11 business hours.
    assert elapsed(contract, applied.events)["a"] == timedelta(hours=11)
    count = parse_scenario(
        {
            "name": "no pauses",
            "changes": [{"kind": "remove_waits", "events": ["paused"], "mode": "count"}],
        }
    )
    applied = apply_scenario(count, contract, history())
    assert elapsed(contract, applied.events)["a"] == timedelta(hours=14)  # the wait now counts
    assert len(applied.events) == len(history())  # the wait became a plain state change


def test_scale_arrivals_is_seeded_and_exact_in_count() -> None:
    contract = office_contract()
    events = [
        pair
        for n in range(50)
        for pair in (
            ev(f"i{n}", Lifecycle.CREATED, n, 0, priority="P1"),
            ev(f"i{n}", Lifecycle.RESOLVED, n + 1, 1),
        )
    ]
    more = parse_scenario(
        {"name": "more", "changes": [{"kind": "scale_arrivals", "factor": 1.3, "seed": 7}]}
    )
    first = apply_scenario(more, contract, events).events
    assert first == apply_scenario(more, contract, events).events
    items = {e.item_id for e, _ in first}
    assert len(items) == 65 and len({e.event_id for e, _ in first}) == 130
    fewer = parse_scenario(
        {"name": "fewer", "changes": [{"kind": "scale_arrivals", "factor": 0.5, "seed": 7}]}
    )
    assert len({e.item_id for e, _ in apply_scenario(fewer, contract, events).events}) == 25


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"name": "x", "changes": [{"kind": "scale_resolution", "factor": -1}]},
            r"changes\[0\]\.factor",
        ),
        ({"name": "x", "changes": [{"kind": "faster"}]}, r"changes\[0\]"),
        (
            {"name": "x", "changes": [{"kind": "scale_arrivals", "factor": 2, "sed": 1}]},
            r"changes\[0\]\.sed",
        ),
        ({"name": "x", "changes": [{"kind": "remove_waits"}]}, r"changes\[0\]: .*waits to remove"),
        ({"name": "x", "changes": []}, r"changes"),
    ],
)
def test_scenario_errors_name_the_field(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_scenario(document, origin="s.yaml")


def test_contract_changes_are_validated_and_name_the_kpi() -> None:
    contract = office_contract()
    bad_kpi = parse_scenario(
        {
            "name": "x",
            "changes": [{"kind": "change_contract", "kpi": "speed", "target_level": "95%"}],
        }
    )
    with pytest.raises(ConfigError, match=r"changes\[0\]\.kpi: unknown KPI 'speed'"):
        apply_scenario(bad_kpi, contract, history())
    below = parse_scenario(
        {
            "name": "x",
            "changes": [{"kind": "change_contract", "kpi": "resolution", "target_level": "40%"}],
        }
    )
    with pytest.raises(ConfigError, match="minimum_level: expected at most the target level"):
        apply_scenario(below, contract, history())


@pytest.mark.parametrize("name", ["bpic2013_incidents", "helpdesk_tickets", "scms_orders"])
def test_example_contracts_survive_the_round_trip_a_change_makes(name: str) -> None:
    contract = load_contract(REPO / "contracts" / f"{name}.yaml")
    assert parse_contract(contract.model_dump(mode="json", exclude_none=True)) == contract


def test_whatif_sides_agree_with_pulse_backtest_on_the_help_desk_log() -> None:
    contract_file = REPO / "contracts" / "helpdesk_tickets.yaml"
    contract = load_contract(contract_file)
    scenario = load_scenario(REPO / "contracts" / "scenarios" / "helpdesk_no_customer_pause.yaml")
    result = run_whatif(dataset("helpdesk"), load_mapping("helpdesk"), contract, scenario)
    backtest = backtest_file(dataset("helpdesk"), load_mapping("helpdesk"), contract)
    assert result.baseline.outcomes() == backtest.outcomes()
    # Only the contract change: the scenario side is a backtest of the changed contract.
    document = yaml.safe_load(contract_file.read_text())
    document["objectives"][0]["outcomes"][0]["kpis"][0]["target_level"] = "90%"
    only_target = parse_scenario(
        {"name": "target 90%", "changes": [scenario.changes[1].model_dump()]}
    )
    changed = run_whatif(dataset("helpdesk"), load_mapping("helpdesk"), contract, only_target)
    expected = backtest_file(
        dataset("helpdesk"), load_mapping("helpdesk"), parse_contract(document)
    )
    assert changed.changed.outcomes() == expected.outcomes()
    assert any(r.differs for r in result.rows)
    assert sum(y.change for y in result.years) > 0  # pauses no longer stop the clock: more credit
