"""What ``pulse demo`` shows after the outcomes: the running periods' forecasts, the alerts the
contract raised, and where the dashboards and the evidence report are (tables for a terminal
that read as plain text in a pipe)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from outcome_pulse.processors.alerting.episodes import AlertEpisode
from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.processors.periods import period_label
from outcome_pulse.processors.quantities import format_share


def print_forecasts(console: Console, contract: Contract, rows: Sequence[PeriodForecast]) -> None:
    """The latest forecast of each KPI's running period (``pulse_period_forecasts``)."""
    if not rows:
        console.print("  no period forecast stored (no KPI has a running period with items)")
        return
    latest: dict[tuple[str, str], PeriodForecast] = {}
    for row in rows:
        held = latest.get((row.kpi, row.service))
        if held is None or (row.period_start, row.as_of) > (held.period_start, held.as_of):
            latest[(row.kpi, row.service)] = row
    zone = ZoneInfo(contract.client.time_zone)
    table = Table(title="period forecasts (latest running period per KPI)", title_justify="left")
    for column in ("kpi", "period", "as of", "to date", "expected", "p(meet target)"):
        table.add_column(column)
    for column in ("misses left", "expected credit"):
        table.add_column(column, justify="right")
    for (kpi, _), row in sorted(latest.items()):
        table.add_row(
            kpi,
            period_label(row.period.split()[0], row.period_start, row.period_end, zone),
            row.as_of.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            _share(row.attainment_to_date),
            _share(row.expected_attainment),
            f"{row.p_meet_target:.2f}",
            _budget(row.budget_left_target),
            f"{row.expected_credit:,.2f} {row.currency or ''}".rstrip(),
        )
    console.print(table)


def print_alerts(console: Console, episodes: Sequence[AlertEpisode]) -> None:
    """The alert episodes recorded (``pulse_alerts``), counted by rule, with the latest fired."""
    if not episodes:
        console.print("  no alert fired")
        return
    by_rule = Counter((e.alertname, e.severity) for e in episodes)
    firing = Counter((e.alertname, e.severity) for e in episodes if e.resolved_at is None)
    table = Table(title="alerts (episodes in event time)", title_justify="left")
    table.add_column("alert")
    table.add_column("severity")
    table.add_column("episodes", justify="right")
    table.add_column("still firing", justify="right")
    for (name, severity), count in sorted(by_rule.items()):
        table.add_row(name, severity, f"{count:,}", f"{firing[(name, severity)]:,}")
    console.print(table)
    latest = max(episodes, key=lambda e: e.fired_at)
    summary = latest.annotations.get("summary", "")
    console.print(f"  latest: {latest.alertname} at {latest.fired_at:%Y-%m-%d %H:%M} UTC {summary}")


def print_where_to_look(
    console: Console, contract: Contract, contract_path: Path, alertmanager: str, pg: str
) -> None:
    """Where the dashboards and the evidence report are, and how to get them."""
    repo = Path(__file__).resolve().parents[2]
    client = repo / "dashboards" / "generated" / "clients" / contract.client_id
    provider = repo / "dashboards" / "generated" / "provider"
    console.print("Dashboards (Grafana JSON, generated from the contracts):")
    console.print(f"  client's own: {client}/")
    console.print(f"  provider's wall screen, service owner, pipeline health: {provider}/")
    console.print(f"  publish to a Grafana: pulse grafana publish --url URL (database at {pg})")
    console.print("Evidence report of a month (HTML and PDF, from the database):")
    console.print(f"  pulse report {contract_path} --period YYYY-MM --out reports")
    console.print(f"Alerts as Alertmanager holds them: {alertmanager}/#/alerts")


def _budget(left: int) -> str:
    """Misses still allowed before the target is lost; past it, by how many it is over."""
    return f"{left:,}" if left >= 0 else f"none ({-left:,} over)"


def _share(value: float | None) -> str:
    return "-" if value is None else format_share(value)


__all__ = ["print_alerts", "print_forecasts", "print_where_to_look"]
