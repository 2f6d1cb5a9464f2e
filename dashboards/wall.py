"""The wall screen: every client's KPIs on one dark kiosk page, worst first, refreshed every 30 s.

Layout (24 columns): the worst-first table across the top (one row per client KPI, status cells
coloured); then one tile per client KPI (attainment to date and forecast coloured against the
KPI's minimum and target, P(meet target), budget left, items at risk now), three to a line in
contract order; firing alerts and drift signals at the bottom.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import stat
from grafana_foundation_sdk.models.dashboard import (
    DashboardLinkType,
    DynamicConfigValue,
    ValueMap,
    ValueMappingResult,
)

from outcome_pulse.dashboards import datasources as ds
from outcome_pulse.dashboards import queries as q
from outcome_pulse.dashboards.common import dashboard
from outcome_pulse.dashboards.panels import (
    Grid,
    fixed_thresholds,
    level_thresholds,
    stat_panel,
    table_panel,
)
from outcome_pulse.dashboards.sql import Sql
from outcome_pulse.processors.contract import Contract

UID = "pulse-wall"
TITLE = "Outcome Pulse: wall screen"

STATUS_COLOURS = {
    "below_minimum": "red",
    "below_target": "orange",
    "met": "green",
    "low_volume": "blue",
    "no_data": "text",
    "no_baseline": "text",
}


def status_colours() -> list[DynamicConfigValue]:
    mapping = ValueMap(
        options={
            status: ValueMappingResult(color=colour, index=i)
            for i, (status, colour) in enumerate(STATUS_COLOURS.items())
        }
    )
    return [
        DynamicConfigValue(id_val="mappings", value=[mapping]),
        DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"}),
    ]


def _share_against(target: float, minimum: float) -> list[DynamicConfigValue]:
    return [
        DynamicConfigValue(id_val="unit", value="percentunit"),
        DynamicConfigValue(id_val="thresholds", value=level_thresholds(target, minimum).build()),
    ]


def _kpi_tile(
    contract: Contract, kpi_id: str, target: float, minimum: float, grid: Grid
) -> stat.Panel:
    provider = ds.provider()
    return (
        stat_panel(
            f"{contract.client_id}: {kpi_id}",
            provider,
            Sql(q.kpi_tile(contract.contract, kpi_id), provider),
            grid.place(8, 6),
            description=f"{contract.title} ({contract.contract}). KPI {kpi_id} in its running "
            f"period: target {target:.0%}, minimum {minimum:.0%}.",
        )
        .text(common_b.VizTextDisplayOptions().title_size(18).value_size(40))
        .thresholds(fixed_thresholds("blue"))
        .override_by_name("attainment", _share_against(target, minimum))
        .override_by_name("forecast", _share_against(target, minimum))
        .override_by_name(
            "P(meet target)", [DynamicConfigValue(id_val="unit", value="percentunit")]
        )
        .no_value("no data")
    )


def build(contracts: Sequence[Contract]) -> dash_b.Dashboard:
    provider = ds.provider()
    grid = Grid()
    board = (
        dashboard(
            UID,
            TITLE,
            "Every client's KPIs in their running period, worst first. For the wall: open with "
            "?kiosk&theme=dark (30 s refresh).",
            tags=["wall-screen"],
        )
        .refresh("30s")
        .time("now-30d", "now")
        .link(
            dash_b.DashboardLink("Kiosk mode (dark)")
            .type(DashboardLinkType.LINK)
            .url(f"/d/{UID}?kiosk&theme=dark&refresh=30s")
            .icon("dashboard")
        )
    )
    worst = (
        table_panel(
            "KPIs, worst first",
            provider,
            Sql(q.worst_first({c.contract: c.client.time_zone for c in contracts}), provider),
            grid.place(24, 9),
            description="Each client KPI's running period; margin is (attainment - target) / "
            "(target - minimum): below 0 misses the target, at or below -1 the minimum.",
        )
        .override_by_name("status", status_colours())
        .override_by_regexp(
            r"^(attainment|target|minimum|forecast|P\(meet target\))$",
            [DynamicConfigValue(id_val="unit", value="percentunit")],
        )
    )
    board = board.with_panel(worst)
    grid.newline()
    for contract in contracts:
        for kpi in contract.kpis:
            board = board.with_panel(
                _kpi_tile(contract, kpi.id, kpi.target_level, kpi.minimum_level, grid)
            )
    grid.newline()
    board = board.with_panel(
        table_panel("Firing alerts", provider, Sql(q.FIRING_ALERTS, provider), grid.place(12, 8))
    ).with_panel(
        table_panel("Drift signals", provider, Sql(q.RECENT_DRIFT, provider), grid.place(12, 8))
    )
    return board
