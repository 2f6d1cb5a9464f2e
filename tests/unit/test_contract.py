"""Contract files: the examples load and explain themselves; every mistake names the file, the
field path and what was expected."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from outcome_pulse.processors.contract import Contract, TimeToTargetKpi, parse_contract
from outcome_pulse.processors.contract_text import explain
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind, Lifecycle
from outcome_pulse.processors.openslo import to_openslo
from outcome_pulse.processors.sla_clock import ClockAction
from outcome_pulse.streams.cli.contract import contract_app
from outcome_pulse.streams.contract_files import load_contract

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
EXAMPLES = sorted(CONTRACTS.glob("*.yaml"))
KPI = "objectives[0].outcomes[0].kpis[0]"


def minimal() -> dict[str, Any]:
    return {
        "contract": "acme-desk",
        "title": "ACME service desk",
        "client": {"name": "ACME", "time_zone": "Europe/Brussels"},
        "calendars": {"office": {"hours": {"mon-fri": ["09:00-17:00"]}}},
        "services": {
            "desk": {
                "name": "Service desk",
                "source": "acme-itsm",
                "item_kind": "incident",
                "owner": {"name": "Desk lead", "alerts": [{"email": "lead@acme.example"}]},
            }
        },
        "objectives": [
            {
                "name": "Users keep working",
                "outcomes": [
                    {
                        "name": "Incidents are fixed fast",
                        "kpis": [
                            {
                                "id": "restore",
                                "name": "Time to restore",
                                "service": "desk",
                                "kind": "time_to_target",
                                "indicator": "lagging",
                                "period": "month",
                                "target_level": "95%",
                                "minimum_level": 0.9,
                                "calendar": "office",
                                "clock": {
                                    "start": "created",
                                    "pause": {"states": ["Awaiting customer"]},
                                    "resume": ["state_changed", "assigned"],
                                    "stop": "resolved",
                                },
                                "targets": {"P1": "4h", "P2": "8h"},
                            },
                            {
                                "id": "first-time-fix",
                                "name": "Resolved within a day",
                                "service": "desk",
                                "kind": "ratio",
                                "indicator": "lagging",
                                "period": "rolling 28d",
                                "target_level": "80%",
                                "minimum_level": "70%",
                                "good": {"events": ["resolved"], "within": "24h"},
                                "total": "resolved",
                            },
                        ],
                    }
                ],
            }
        ],
        "commercial": {
            "currency": "EUR",
            "monthly_charge": 10000,
            "at_risk": "10%",
            "allocation": {"restore": "60%", "first-time-fix": "40%"},
            "credit": {"formula": "linear"},
        },
    }


def write(tmp_path: Path, data: Any, name: str = "acme.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def error_of(tmp_path: Path, data: Any) -> str:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_contract(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def kpi0(data: dict[str, Any]) -> dict[str, Any]:
    kpi: dict[str, Any] = data["objectives"][0]["outcomes"][0]["kpis"][0]
    return kpi


# -- the examples ------------------------------------------------------------------------------


def test_there_is_an_example_per_log() -> None:
    assert [p.name for p in EXAMPLES] == [
        "bpic2013_incidents.yaml",
        "helpdesk_tickets.yaml",
        "scms_orders.yaml",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_load_and_explain_every_kpi(path: Path) -> None:
    contract = load_contract(path)
    text = explain(contract)
    assert contract.title in text
    for kpi in contract.kpis:
        assert f"KPI {kpi.id}" in text and kpi.name in text
    if contract.commercial is not None:
        assert contract.commercial.currency in text
    slos = [doc for doc in to_openslo(contract) if doc["kind"] == "SLO"]
    exported = {doc["metadata"]["name"] for doc in slos}
    assert exported == {kpi.id for kpi in contract.kpis if kpi.__class__.__name__ != "TrendKpi"}
    for doc in slos:
        assert doc["spec"]["budgetingMethod"] in ("Occurrences", "Timeslices")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_name_the_sources_of_the_builtin_mappings(path: Path) -> None:
    from outcome_pulse.streams.file_import.mapping import builtin_mappings, load_mapping

    sources = {load_mapping(name).source for name in builtin_mappings()}
    for service in load_contract(path).services.values():
        assert service.source in sources


def test_bpic_calendar_skips_belgian_holidays() -> None:
    contract = load_contract(CONTRACTS / "bpic2013_incidents.yaml")
    kpi = contract.kpi("resolution-time")
    assert isinstance(kpi, TimeToTargetKpi)
    calendar = contract.calendar_of(kpi)
    ascension = datetime(2012, 5, 17, tzinfo=UTC)
    assert calendar.business_time_between(ascension, ascension + timedelta(days=1)) == timedelta(0)
    national_day = datetime(2011, 7, 21, tzinfo=UTC)  # a Thursday, every year
    assert calendar.is_holiday(national_day.date()) and calendar.is_holiday(date(2010, 7, 21))
    assert calendar.day_total(date(2012, 5, 16)) == timedelta(hours=10)
    assert kpi.target_for("High") == timedelta(hours=10)
    assert kpi.target_for("Unknown") is None


def test_clock_triggers_turn_events_into_transitions() -> None:
    contract = parse_contract(minimal())
    kpi = contract.kpi("restore")
    assert isinstance(kpi, TimeToTargetKpi)

    def event(lifecycle: Lifecycle, state: str | None = None) -> ItemEvent:
        return ItemEvent(
            "e1", "acme-itsm", "INC1", ItemKind.INCIDENT, lifecycle, datetime.now(UTC), state
        )

    assert kpi.clock.actions_for(event(Lifecycle.CREATED)) == (ClockAction.START,)
    assert kpi.clock.actions_for(event(Lifecycle.STATE_CHANGED, "Awaiting customer")) == (
        ClockAction.PAUSE,
        ClockAction.RESUME,
    )
    assert kpi.clock.actions_for(event(Lifecycle.RESOLVED)) == (ClockAction.STOP,)
    # No trigger names `closed`: by default a close stops a clock still open (documented).
    assert kpi.clock.actions_for(event(Lifecycle.CLOSED)) == (ClockAction.STOP,)


def test_on_time_selector_compares_with_the_due_date() -> None:
    contract = load_contract(CONTRACTS / "scms_orders.yaml")
    kpi = contract.kpi("on-time-delivery")
    due = datetime(2012, 5, 1, tzinfo=UTC)

    def delivered(day: int) -> ItemEvent:
        return ItemEvent(
            "e", "scms-shipments", "1", ItemKind.ORDER, Lifecycle.DELIVERED,
            datetime(2012, 5, day, tzinfo=UTC), due_at=due,
        )  # fmt: skip

    assert kpi.good.matches(delivered(1)) and not kpi.good.matches(delivered(2))  # type: ignore[union-attr]
    assert kpi.total.matches(delivered(2))  # type: ignore[union-attr]


# -- errors name the file, the field path and what was expected ---------------------------------


def test_bad_target_duration(tmp_path: Path) -> None:
    data = minimal()
    kpi0(data)["targets"]["P2"] = "eight hours"
    message = error_of(tmp_path, data)
    assert f"{KPI}.targets.P2: expected a duration such as 8h" in message
    assert "'eight hours'" in message


def test_target_as_bare_number(tmp_path: Path) -> None:
    data = minimal()
    kpi0(data)["targets"]["P1"] = 4
    assert f"{KPI}.targets.P1: expected a duration with a unit" in error_of(tmp_path, data)


def test_allocation_over_100_percent_is_rejected(tmp_path: Path) -> None:
    data = minimal()
    data["commercial"]["allocation"] = {"restore": "70%", "first-time-fix": "40%"}
    message = error_of(tmp_path, data)
    assert "commercial.allocation: the shares add up to 110%" in message
    assert "expected at most 100%" in message


def test_allocation_names_existing_lagging_kpis(tmp_path: Path) -> None:
    data = minimal()
    data["commercial"]["allocation"] = {"restor": "50%"}
    message = error_of(tmp_path, data)
    assert (
        "commercial.allocation.restor: unknown KPI; expected one of: restore, first-time-fix"
        in (message)
    )
    data = minimal()
    kpi0(data)["indicator"] = "leading"
    assert "'restore' is a leading indicator" in error_of(tmp_path, data)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: kpi0(d).update(calendar="ofice"),
            f"{KPI}.calendar: unknown calendar 'ofice'; expected one of: 24x7, office",
        ),
        (
            lambda d: kpi0(d).update(service="dsk"),
            f"{KPI}.service: unknown service 'dsk'; expected one of: desk",
        ),
        (
            lambda d: kpi0(d).update(kind="latency"),
            f"{KPI}.kind: expected one of: time_to_target, ratio, threshold, trend, "
            "data_quality (got 'latency')",
        ),
        (
            lambda d: kpi0(d).pop("kind"),
            f"{KPI}.kind: required, but missing; expected one of: time_to_target, ratio, "
            "threshold, trend",
        ),
        (
            lambda d: kpi0(d).update(colour="blue"),
            f"{KPI}.colour: unknown key; expected one of: id, name, service",
        ),
        (lambda d: kpi0(d).pop("targets"), f"{KPI}.targets: required, but missing"),
        (
            lambda d: kpi0(d)["targets"].update(P3="2d"),
            f"{KPI}.targets.P3: '2d' counts days, but a business day's length depends on "
            "calendar 'office'; expected business hours",
        ),
        (
            lambda d: kpi0(d).update(minimum_level="97%"),
            f"{KPI}.minimum_level: expected at most the target level 0.95 (got 0.97)",
        ),
        (
            lambda d: kpi0(d).update(target_level=95),
            f"{KPI}.target_level: expected a share between 0% and 100% (got 95)",
        ),
        (
            lambda d: kpi0(d).update(period="fortnight"),
            f"{KPI}.period: expected month, quarter or rolling Nd",
        ),
        (
            lambda d: kpi0(d)["clock"].update(stop="delivered"),
            f"{KPI}.clock.stop.events[0]: 'delivered' is not an event of incidents",
        ),
        (
            lambda d: kpi0(d)["clock"].update(stop="fixed"),
            f"{KPI}.clock.stop.events[0]: expected 'created', 'state_changed'",
        ),
        (
            lambda d: kpi0(d)["clock"].pop("resume"),
            f"{KPI}.clock: resume: required when the other of pause/resume is given",
        ),
        (
            lambda d: d["client"].update(time_zone="Europe/Brussel"),
            "client.time_zone: expected an IANA time zone name",
        ),
        (
            lambda d: d["calendars"]["office"]["hours"].update(fri=["10:00-12:00"]),
            "calendars.office.hours: 'fri' repeats a weekday already given by 'mon-fri'",
        ),
        (
            lambda d: d["calendars"]["office"]["hours"].update({"mon-fri": ["9-5"]}),
            "calendars.office.hours: expected a time of day as HH:MM",
        ),
        (
            lambda d: d["services"]["desk"]["owner"]["alerts"][0].update(slack="#desk"),
            "services.desk.owner.alerts[0]: expected exactly one of email, slack or webhook",
        ),
        (
            lambda d: d["commercial"].update(credit={"formula": "fixed"}),
            "commercial.credit: expected exactly one of share (of the allocation) or amount",
        ),
        (
            lambda d: d["commercial"].update(
                gain_share=[{"kpi": "restore", "bands": [{"at_least": "90%", "bonus": "1%"}]}]
            ),
            "commercial.gain_share[0].bands[0].at_least: expected bands ordered from the KPI's "
            "target level outwards",
        ),
        (
            lambda d: d["objectives"][0]["outcomes"][0]["kpis"][1].update(id="restore"),
            "objectives[0].outcomes[0].kpis[1].id: 'restore' is already the id of "
            f"{KPI}; expected unique ids",
        ),
    ],
)
def test_errors_say_where_and_what_was_expected(tmp_path: Path, change: Any, expected: str) -> None:
    data = copy.deepcopy(minimal())
    change(data)
    assert expected in error_of(tmp_path, data)


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    data = minimal()
    kpi0(data).update(calendar="nope", service="nope")
    data["commercial"]["allocation"] = {"restore": "90%", "first-time-fix": "40%"}
    message = error_of(tmp_path, data)
    assert message.count("\n  ") >= 3


def test_yaml_problems(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("contract: x\n  title: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML at line"):
        load_contract(path)
    path.write_text("contract: a\ncontract: b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"key 'contract' appears twice \(first on line 1\)"):
        load_contract(path)
    path.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a YAML mapping of keys"):
        load_contract(path)
    with pytest.raises(ConfigError, match="no such file"):
        load_contract(tmp_path / "missing.yaml")


# -- the command -------------------------------------------------------------------------------


def test_check_prints_the_explanation() -> None:
    result = CliRunner().invoke(contract_app, ["check", str(CONTRACTS / "helpdesk_tickets.yaml")])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "KPI resolution-time" in result.output
    assert "Value 1: 40 business hours" in result.output


def test_check_fails_with_the_reason(tmp_path: Path) -> None:
    data = minimal()
    data["commercial"]["allocation"] = {"restore": "70%", "first-time-fix": "40%"}
    path = write(tmp_path, data)
    result = CliRunner().invoke(contract_app, ["check", str(path)])
    assert result.exit_code == 1
    assert "expected at most 100%" in result.output


def test_openslo_command_prints_documents() -> None:
    result = CliRunner().invoke(contract_app, ["openslo", str(CONTRACTS / "scms_orders.yaml")])
    assert result.exit_code == 0, result.output
    docs = list(yaml.safe_load_all(result.output))
    assert {d["kind"] for d in docs if d} == {"Service", "AlertNotificationTarget", "SLO"}


def test_contract_model_is_frozen() -> None:
    contract = parse_contract(minimal())
    assert isinstance(contract, Contract)
    with pytest.raises(ValueError):
        contract.title = "changed"  # type: ignore[misc]
