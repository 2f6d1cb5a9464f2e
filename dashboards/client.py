"""A client's own dashboard, read through the client's PostgreSQL datasource (its database role:
row-level security shows it only its contracts). Nothing of the pipeline's internals.

Variables: contract, KPI (the client's only). Layout: monthly attainment against target and
minimum (bars, with the two levels as lines) and the money totals of the time range; the running
period with its forecast and the attainment-to-date curve; the periods with credits, earn-back
and gain-share; the evidence reports of final months (a link per contract and month).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue

from outcome_pulse.dashboards import datasources as ds
from outcome_pulse.dashboards import queries as q
from outcome_pulse.dashboards.common import dashboard, sql_variable
from outcome_pulse.dashboards.panels import (
    Grid,
    fixed_thresholds,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from outcome_pulse.dashboards.sql import Sql
from outcome_pulse.dashboards.wall import status_colours
from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.tenancy import client_dashboard_uid

DEFAULT_EVIDENCE_URL = "/public/outcome-pulse/evidence"
EVIDENCE_LINK = "${evidence_url}/${__data.fields.contract}/${__data.fields.month}.html"


def uid(client_id: str) -> str:
    return client_dashboard_uid(client_id)


def build(client_id: str, contracts: list[Contract], evidence_url: str) -> dash_b.Dashboard:
    source = ds.client(client_id)
    zones = {c.contract: c.client.time_zone for c in contracts}
    name = contracts[0].client.name
    currency = sorted({c.commercial.currency for c in contracts if c.commercial} or {"EUR"})[0]
    money = f"currency{currency}"
    grid = Grid()
    board = (
        dashboard(
            uid(client_id),
            f"{name}: contract outcomes",
            f"Outcomes of {name}'s contracts ({', '.join(c.contract for c in contracts)}) per "
            "contract period, the money they moved, and the running period's forecast.",
            tags=["client", client_id],
        )
        .refresh("5m")
        .time("now-1y", "now")
        .with_variable(
            sql_variable("contract", "Contract", q.client_contracts_variable(client_id), source)
        )
        .with_variable(sql_variable("kpi", "KPI", q.client_kpi_variable(client_id), source))
        .with_variable(
            dash_b.ConstantVariable("evidence_url").value(evidence_url)  # constants are hidden
        )
    )
    board = board.with_panel(
        timeseries_panel(
            "Monthly attainment against target and minimum",
            source,
            [Sql(q.client_attainment(client_id), source, fmt="time_series")],
            grid.place(16, 9),
            unit="percentunit",
        ).override_by_regexp(
            "attainment$",
            [
                DynamicConfigValue(id_val="custom.drawStyle", value="bars"),
                DynamicConfigValue(id_val="custom.fillOpacity", value=60),
            ],
        )
    )
    board = board.with_panel(
        stat_panel(
            "Credits, earn-back and gain-share in the time range",
            source,
            Sql(q.client_money_totals(client_id), source),
            grid.place(8, 9),
            unit=money,
        ).thresholds(fixed_thresholds("blue"))
    )
    grid.newline()
    board = board.with_panel(
        stat_panel(
            "Running period and its forecast",
            source,
            Sql(q.client_running_period(client_id), source),
            grid.place(12, 8),
            unit="percentunit",
            all_values=True,
        )
        .thresholds(fixed_thresholds("blue"))
        .override_by_name("budget left", [DynamicConfigValue(id_val="unit", value="none")])
        .override_by_name("expected credit", [DynamicConfigValue(id_val="unit", value=money)])
    )
    board = board.with_panel(
        timeseries_panel(
            "Attainment to date in the running period",
            source,
            [Sql(q.client_attainment_to_date(client_id), source, fmt="time_series")],
            grid.place(12, 8),
            unit="percentunit",
        )
    )
    grid.newline()
    board = board.with_panel(
        table_panel(
            "Periods: attainment, credits, earn-back, gain-share",
            source,
            Sql(q.client_money(client_id, zones), source),
            grid.place(24, 10),
        )
        .override_by_name("status", status_colours())
        .override_by_regexp(
            "^(attainment|target|minimum)$",
            [DynamicConfigValue(id_val="unit", value="percentunit")],
        )
    )
    board = board.with_panel(
        table_panel(
            "Evidence reports",
            source,
            Sql(q.client_evidence(client_id, zones), source),
            grid.place(24, 8),
            description="The evidence report of each final contract month (HTML, with the "
            "items behind every figure): click the month.",
        )
        .override_by_name(
            "month",
            [
                DynamicConfigValue(
                    id_val="links",
                    value=[
                        {
                            "title": "Evidence report",
                            "url": EVIDENCE_LINK,
                            "targetBlank": True,
                        }
                    ],
                )
            ],
        )
        .override_by_name("credit", [DynamicConfigValue(id_val="unit", value=money)])
    )
    return board
