"""The service owner's dashboard: what is at risk now and how the indicators are moving.

Variables: client, service, KPI (multi-value, "All"). Layout: open items at risk or breached
(time left, breach probability, assignee, priority) across the top; indicator time series
(open backlog, backlog age p90, arrivals against completions, share past risk) two to a line,
annotated with alerts and late corrections; period history (attainment per period, and the
period table with credits) at the bottom.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue

from outcome_pulse.dashboards import datasources as ds
from outcome_pulse.dashboards import queries as q
from outcome_pulse.dashboards.common import dashboard, sql_variable
from outcome_pulse.dashboards.panels import Grid, table_panel, timeseries_panel
from outcome_pulse.dashboards.sql import Sql, SqlAnnotation
from outcome_pulse.dashboards.wall import status_colours

UID = "pulse-service-owner"
TITLE = "Outcome Pulse: service owner"

INDICATOR_PANELS: tuple[tuple[str, tuple[str, ...], bool, str, str], ...] = (
    # title, indicators, per KPI, unit, aggregate within a bucket
    ("Open backlog", ("open_backlog",), False, "none", "avg"),
    ("Backlog age, 90th percentile", ("backlog_age_p90_seconds",), False, "s", "avg"),
    ("Arrivals against completions", ("arrivals", "completions"), False, "none", "sum"),
    (
        "Share of open items past their risk threshold",
        ("share_past_risk",),
        True,
        "percentunit",
        "avg",
    ),
)


def build(zones: q.Zones) -> dash_b.Dashboard:
    """``zones``: each contract's client time zone, for the periods' names."""
    provider = ds.provider()
    grid = Grid()
    board = (
        dashboard(
            UID,
            TITLE,
            "Open items at risk, leading indicators and period history per client, service and "
            "KPI (event time).",
            tags=["service-owner"],
        )
        .refresh("1m")
        .time("now-90d", "now")
        .with_variable(sql_variable("client", "Client", q.CLIENT_VARIABLE, provider))
        .with_variable(sql_variable("service", "Service", q.SERVICE_VARIABLE, provider))
        .with_variable(sql_variable("kpi", "KPI", q.KPI_VARIABLE, provider))
        .annotation(
            dash_b.AnnotationQuery()
            .name("Alerts")
            .datasource(provider)
            .enable(True)
            .icon_color("red")
            .target(SqlAnnotation(q.ALERT_ANNOTATIONS, provider))
        )
        .annotation(
            dash_b.AnnotationQuery()
            .name("Late corrections")
            .datasource(provider)
            .enable(True)
            .icon_color("purple")
            .target(SqlAnnotation(q.LATE_ANNOTATIONS, provider))
        )
    )
    board = board.with_panel(
        table_panel(
            "Open items at risk",
            provider,
            Sql(q.AT_RISK_ITEMS, provider),
            grid.place(24, 10),
            description="Open items past their KPI's at-risk share or already breached, the next "
            "breach first; time left in business time of the KPI's calendar.",
        )
        .override_by_name("time left", [DynamicConfigValue(id_val="unit", value="s")])
        .override_by_regexp(
            "^(share used|breach probability)$",
            [DynamicConfigValue(id_val="unit", value="percentunit")],
        )
    )
    grid.newline()
    for title, indicators, per_kpi, unit, aggregate in INDICATOR_PANELS:
        sql = q.indicator_series(indicators, per_kpi=per_kpi, aggregate=aggregate)
        board = board.with_panel(
            timeseries_panel(
                title,
                provider,
                [Sql(sql, provider, fmt="time_series")],
                grid.place(12, 8),
                unit=unit,
            )
        )
    grid.newline()
    board = board.with_panel(
        timeseries_panel(
            "Attainment per period",
            provider,
            [Sql(q.PERIOD_HISTORY, provider, fmt="time_series")],
            grid.place(24, 8),
            unit="percentunit",
            bars=True,
        )
    )
    board = board.with_panel(
        table_panel(
            "Period history", provider, Sql(q.period_table(zones), provider), grid.place(24, 10)
        )
        .override_by_name("status", status_colours())
        .override_by_regexp(
            "^(attainment|target|minimum)$",
            [DynamicConfigValue(id_val="unit", value="percentunit")],
        )
    )
    return board
