"""The generated dashboards and provisioning: golden files, structure, Grafana's macros."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from outcome_pulse.dashboards import client as client_dashboard
from outcome_pulse.dashboards import macros
from outcome_pulse.dashboards.generate import by_client, dashboards, differences, dump
from outcome_pulse.dashboards.provisioning import DASHBOARDS, DATASOURCES
from outcome_pulse.dashboards.provisioning import files as provisioning_files
from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.streams.contract_files import load_contract

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "dashboards" / "generated"
DEPLOY = REPO / "deploy" / "grafana"


@pytest.fixture(scope="module")
def contracts() -> list[Contract]:
    return [load_contract(p) for p in sorted((REPO / "contracts").glob("*.yaml"))]


@pytest.fixture(scope="module")
def boards(contracts: list[Contract]) -> dict[str, dict[str, Any]]:
    return dashboards(contracts)


def test_committed_dashboards_are_what_the_contracts_generate(
    boards: dict[str, dict[str, Any]], contracts: list[Contract]
) -> None:
    rendered = {rel: dump(data) for rel, data in boards.items()}
    assert differences(rendered, GENERATED) == [], "run `pulse dashboards build`"
    provision = provisioning_files(contracts, timescaledb=False)
    assert differences(provision, DEPLOY) == [], "run `pulse dashboards build`"


def test_generation_is_deterministic(contracts: list[Contract]) -> None:
    once = {k: dump(v) for k, v in dashboards(contracts).items()}
    again = {k: dump(v) for k, v in dashboards(list(reversed(contracts))).items()}
    assert once == again


def test_one_dashboard_per_client_plus_the_three_provider_dashboards(
    boards: dict[str, dict[str, Any]],
) -> None:
    assert sorted(boards) == [
        "clients/software-house/contract-outcomes.json",
        "clients/usaid-scms/contract-outcomes.json",
        "clients/volvo-it/contract-outcomes.json",
        "provider/pipeline-health.json",
        "provider/service-owner.json",
        "provider/wall-screen.json",
    ]


def test_a_contract_id_twice_is_refused(contracts: list[Contract]) -> None:
    with pytest.raises(ConfigError, match="appears in two contract files"):
        by_client([contracts[0], contracts[0]])


def _panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _datasource_uids(board: dict[str, Any]) -> set[str]:
    refs = []
    for panel in _panels(board):
        refs.append(panel.get("datasource"))
        refs += [target.get("datasource") for target in panel.get("targets", [])]
    refs += [v.get("datasource") for v in board.get("templating", {}).get("list", [])]
    for annotation in board.get("annotations", {}).get("list", []):
        refs += [annotation.get("datasource"), annotation.get("target", {}).get("datasource")]
    return {ref["uid"] for ref in refs if ref}


def test_uids_are_unique_and_short(boards: dict[str, dict[str, Any]]) -> None:
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids)
    assert all(0 < len(uid) <= 40 for uid in uids)
    for board in boards.values():
        ids = [panel["id"] for panel in _panels(board)]
        assert len(set(ids)) == len(ids), board["uid"]


def test_no_two_panels_overlap_and_all_fit_the_grid(boards: dict[str, dict[str, Any]]) -> None:
    for board in boards.values():
        cells: dict[tuple[int, int], str] = {}
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["y"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, (
                        f"{board['uid']}: {panel['title']!r} overlaps {cells[(x, y)]!r}"
                    )
                    cells[(x, y)] = panel["title"]


def test_every_datasource_and_folder_is_provisioned(
    boards: dict[str, dict[str, Any]], contracts: list[Contract]
) -> None:
    provision = provisioning_files(contracts, timescaledb=False)
    datasources = yaml.safe_load(provision[DATASOURCES])["datasources"]
    provisioned = {ds["uid"] for ds in datasources}
    for rel, board in boards.items():
        missing = _datasource_uids(board) - provisioned
        assert not missing, f"{rel} reads unprovisioned datasources {missing}"
    providers = yaml.safe_load(provision[DASHBOARDS])["providers"]
    paths = {p["options"]["path"].split("}/", 1)[1] for p in providers}
    assert {rel.rsplit("/", 1)[0] for rel in boards} == paths
    assert len({p["folderUid"] for p in providers}) == len(providers)
    assert not {p["folderUid"] for p in providers} & {b["uid"] for b in boards.values()}


def test_client_dashboards_read_only_their_client_datasource(
    boards: dict[str, dict[str, Any]],
) -> None:
    for rel, board in boards.items():
        if rel.startswith("clients/"):
            client = rel.split("/")[1]
            assert _datasource_uids(board) == {f"pulse-client-{client}"}, rel
            sql = " ".join(
                t["rawSql"] for p in _panels(board) for t in p.get("targets", []) if "rawSql" in t
            )
            for internal in ("pulse_events", "pulse_item_states", "pulse_open_item_clocks"):
                assert internal not in sql, f"{rel} reads {internal}"


def test_client_datasources_use_the_client_role_and_passwords_come_from_the_environment(
    contracts: list[Contract],
) -> None:
    provision = provisioning_files(contracts, timescaledb=True)
    for ds in yaml.safe_load(provision[DATASOURCES])["datasources"]:
        if ds["type"] == "grafana-postgresql-datasource":
            assert ds["jsonData"]["timescaledb"] is True
            assert ds["secureJsonData"]["password"].startswith("${PULSE_GRAFANA_PASSWORD_")
            if ds["uid"].startswith("pulse-client-"):
                assert ds["user"] == "pulse_c_" + ds["uid"].removeprefix("pulse-client-").replace(
                    "-", "_"
                )
    example = [line.split("=", 1) for line in provision["grafana.env.example"].splitlines()]
    passwords = [value for name, *value in example if name.startswith("PULSE_GRAFANA_PASSWORD_")]
    assert len(passwords) == 4 and all(value == [""] for value in passwords)


def test_wall_screen_has_a_tile_per_client_kpi_and_refreshes_every_30s(
    boards: dict[str, dict[str, Any]], contracts: list[Contract]
) -> None:
    wall = boards["provider/wall-screen.json"]
    assert wall["refresh"] == "30s"
    tiles = [p for p in wall["panels"] if p["type"] == "stat"]
    assert len(tiles) == sum(len(c.kpis) for c in contracts)
    first = tiles[0]["fieldConfig"]["overrides"][0]
    assert first["matcher"] == {"id": "byName", "options": "attainment"}
    steps = next(p["value"]["steps"] for p in first["properties"] if p["id"] == "thresholds")
    assert [s["color"] for s in steps] == ["red", "orange", "green"]


def test_evidence_link_names_contract_and_period(contracts: list[Contract]) -> None:
    volvo = by_client(contracts)["volvo-it"]
    board = dashboards(contracts, evidence_url="https://reports.example.org/e")[
        "clients/volvo-it/contract-outcomes.json"
    ]
    constants = [v for v in board["templating"]["list"] if v["type"] == "constant"]
    assert constants[0]["query"] == "https://reports.example.org/e"
    assert client_dashboard.EVIDENCE_LINK in dump(board)
    assert "${__data.fields.month}" in client_dashboard.EVIDENCE_LINK
    assert volvo[0].contract in board["description"]


# -- Grafana's macros --------------------------------------------------------------------------

SPAN = macros.TimeRange(datetime(2012, 3, 1, tzinfo=UTC), datetime(2012, 4, 1, 12, tzinfo=UTC))


def test_macros_expand_as_grafana_does() -> None:
    sql = "SELECT $__timeGroupAlias(at, $__interval), 1 FROM t WHERE $__timeFilter(at)"
    assert macros.render(sql, SPAN, interval="1h") == (
        'SELECT floor(extract(epoch from at)/3600)*3600 AS "time", 1 FROM t '
        "WHERE at BETWEEN '2012-03-01T00:00:00Z' AND '2012-04-01T12:00:00Z'"
    )
    assert macros.render("$__timeGroup(at, '5m')", SPAN, timescaledb=True) == (
        "time_bucket('300.000s',at)"
    )
    assert macros.render("$__timeGroup(at, 1d), x", SPAN) == (
        'floor(extract(epoch from at)/86400)*86400 AS "time", x'
    )
    assert macros.render("$__timeFrom() $__timeTo()", SPAN) == (
        "'2012-03-01T00:00:00Z' '2012-04-01T12:00:00Z'"
    )


def test_variables_are_quoted_literals_and_unknown_macros_fail() -> None:
    hostile = macros.Variable(("a'b", "x"))
    assert macros.render("IN ($v) ${v}", SPAN, {"v": hostile}) == "IN ('a''b','x') 'a''b','x'"
    assert macros.render("'$v'", SPAN, {"v": macros.Variable(("a'b",), multi=False)}) == "'a''b'"
    with pytest.raises(macros.MacroError, match="unknown macro"):
        macros.render("$__nope(x)", SPAN)
    with pytest.raises(macros.MacroError, match="interval"):
        macros.render("$__timeGroup(at, soon)", SPAN)
