"""``pulse backtest --alerts``: the alerts a contract would have raised, and how well they did.

Prints, per KPI, every judged period with the first alert of each rule (lead time before the
period's end on missed periods, the number of alerts on met periods: false alarms), then one
line per KPI and rule with precision, recall and median lead time
(``outcome_pulse.processors.alerting.quality``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from outcome_pulse.processors.alerting.episodes import ALERT_COLUMNS, AlertEpisode
from outcome_pulse.processors.alerting.quality import QualityReport, RuleQuality, alert_quality
from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.measurements import PeriodOutcome
from outcome_pulse.processors.periods import period_label


def short_rule(rule: str) -> str:
    """``PulseErrorBudgetBurn/page`` -> ``burn page``."""
    name, severity = rule.split("/")
    word = {
        "PulseItemAboutToBreach": "item",
        "PulseKpiForecastToMiss": "forecast",
        "PulseErrorBudgetBurn": "burn",
        "PulseErrorBudgetExhausted": "exhausted",
        "PulseIndicatorDrift": "drift",
    }.get(name, name)
    return f"{word} {severity}"


def lead_text(lead: timedelta | None) -> str:
    if lead is None:
        return "-"
    hours = lead.total_seconds() / 3600
    return f"{hours / 24:.1f}d" if hours >= 48 else f"{hours:.1f}h"


def share_text(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def write_alerts(path: Path, alerts: Sequence[AlertEpisode]) -> Path:
    """The episodes as CSV (labels and annotations as JSON), one row per episode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(ALERT_COLUMNS)
        for a in alerts:
            writer.writerow(
                [
                    a.contract,
                    a.fingerprint,
                    a.fired_at.isoformat(),
                    "" if a.resolved_at is None else a.resolved_at.isoformat(),
                    a.alertname,
                    a.severity,
                    a.service or "",
                    a.kpi or "",
                    a.item_id or "",
                    "" if a.value is None else repr(a.value),
                    json.dumps(dict(a.labels), ensure_ascii=False, sort_keys=True),
                    json.dumps(dict(a.annotations), ensure_ascii=False, sort_keys=True),
                ]
            )
    return path


def print_alert_quality(
    console: Console,
    contract: Contract,
    outcomes: Sequence[PeriodOutcome],
    alerts: Sequence[AlertEpisode],
    *,
    periods: bool = True,
) -> QualityReport:
    report = alert_quality(contract, outcomes, alerts)
    zone = ZoneInfo(contract.client.time_zone)
    by_kpi: dict[str, list[RuleQuality]] = {}
    for q in report.rules:
        by_kpi.setdefault(q.kpi, []).append(q)
    for kpi_id, qualities in by_kpi.items():
        kpi = contract.kpi(kpi_id)
        rules = [q.rule for q in qualities]
        if periods:
            table = Table(
                title=f"{kpi_id}: first alert of each rule per judged period; missed periods: "
                "lead time before the period's end, met periods: alerts (false alarms)",
                title_justify="left",
            )
            table.add_column("period")
            table.add_column("measure", justify="right")
            table.add_column("status")
            for rule in rules:
                table.add_column(short_rule(rule), justify="right")
            for row in (r for r in report.periods if r.kpi == kpi_id):
                cells = []
                for rule in rules:
                    if row.missed:
                        cells.append(lead_text(row.lead(rule)))
                    else:
                        count = row.fired.get(rule, 0)
                        cells.append(f"{count} false" if count else "")
                table.add_row(
                    period_label(kpi.period.kind, row.period_start, row.period_end, zone),
                    share_text(row.measure),
                    row.status.replace("_", " "),
                    *cells,
                )
            console.print(table)
    summary = Table(
        title=f"{contract.contract}: alert quality per KPI and rule (periods judged: final, "
        "enough volume)",
        title_justify="left",
    )
    for column in (
        "kpi",
        "rule",
        "alerts",
        "missed alerted",
        "met alerted",
        "false alarms",
        "precision",
        "recall",
        "median lead",
    ):
        summary.add_column(column, justify="left" if column in ("kpi", "rule") else "right")
    for q in report.rules:
        summary.add_row(
            q.kpi,
            short_rule(q.rule),
            f"{q.episodes:,}",
            f"{q.missed_alerted}/{q.missed}",
            f"{q.met_alerted}/{q.met}",
            f"{q.false_alarms:,}",
            share_text(q.precision),
            share_text(q.recall),
            lead_text(q.median_lead),
        )
    console.print(summary)
    return report


__all__ = ["ALERT_COLUMNS", "print_alert_quality", "write_alerts"]
