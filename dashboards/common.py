"""What every generated dashboard shares: SQL template variables and dashboard defaults."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    VariableRefresh,
    VariableSort,
)

from outcome_pulse.dashboards.sql import clean

TAG = "outcome-pulse"


def sql_variable(name: str, label: str, sql: str, ds: DataSourceRef) -> dash_b.QueryVariable:
    """A multi-value variable with "All" (so Grafana quotes every value as a SQL literal)."""
    return (
        dash_b.QueryVariable(name)
        .label(label)
        .datasource(ds)
        .query(clean(sql))
        .multi(True)
        .include_all(True)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def dashboard(uid: str, title: str, description: str, *, tags: list[str]) -> dash_b.Dashboard:
    return (
        dash_b.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG, *tags])
        .timezone("utc")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .readonly()
    )
