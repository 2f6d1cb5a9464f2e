"""Render an ``EvidenceReport`` as one self-contained HTML page (Jinja2 templates, inline SVG).

The templates are package data (``templates/*.j2``), loaded through ``importlib.resources``, so
an installed wheel renders the same as a source checkout. Undefined template variables raise
(``StrictUndefined``): a template that names a missing figure fails loudly, never prints blank.
Figures the browser test reads back carry ``data-kpi``/``data-field`` attributes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FunctionLoader, StrictUndefined

from outcome_pulse.processors.evidence import EvidenceReport, IndicatorSummary
from outcome_pulse.processors.quantities import format_share
from outcome_pulse.streams.report import charts

STATUS_WORDS = {
    "met": "met",
    "below_target": "below target",
    "below_minimum": "below minimum",
    "no_data": "no data",
    "low_volume": "too few to judge",
    "no_baseline": "no baseline",
}
INDICATOR_WORDS = {
    "open_backlog": ("Open backlog", "items"),
    "backlog_age_p90_seconds": ("Age of the oldest tenth of open items (p90)", "days"),
    "overdue_backlog": ("Open items past their due date", "items"),
    "items_at_risk": ("Open items at risk of missing their target", "items"),
    "breaches_forecast": ("Running items forecast to breach before the period ends", "items"),
    "breached_open": ("Open items already past their target", "items"),
}


def _template(name: str) -> str:
    return (resources.files(__package__) / "templates" / name).read_text(encoding="utf-8")


_ENV = Environment(
    loader=FunctionLoader(_template),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render_html(report: EvidenceReport) -> str:
    zone = ZoneInfo(report.contract.client.time_zone)
    env = _ENV.overlay()
    env.filters.update(
        share=_share,
        signed=lambda v: "-" if v is None else format_share(v, signed=True),
        money=_money,
        when=lambda v: _when(v, zone),
        day=lambda v: "-" if v is None else v.astimezone(zone).strftime("%Y-%m-%d"),
        hours=_hours,
        status=lambda s: STATUS_WORDS.get(s, s.replace("_", " ")),
        number=lambda v: f"{v:,.0f}" if isinstance(v, int | float) else str(v),
    )
    template = env.get_template("report.html.j2")
    return template.render(
        report=report,
        contract=report.contract,
        zone=zone.key,
        kpi_charts={k.kpi: charts.kpi_history(k) for k in report.kpis if k.history},
        miss_charts={
            k.kpi: charts.breach_timelines(k.worst, zone)
            for k in report.kpis
            if k.worst and any(m.stretches for m in k.worst)
        },
        indicators=_indicator_views(report, zone),
        flow=_flow_chart(report, zone),
        status_class=lambda s: s if s in charts.STATUS_COLOURS else "other",
    )


def _share(value: float | None) -> str:
    return "-" if value is None else format_share(value)


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _when(value: datetime | None, zone: ZoneInfo) -> str:
    return "-" if value is None else value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _hours(value: timedelta | None) -> str:
    if value is None:
        return "-"
    return f"{value.total_seconds() / 3600:,.1f} h"


def _indicator_views(report: EvidenceReport, zone: ZoneInfo) -> list[dict[str, Any]]:
    views = []
    for summary in report.indicators:
        if summary.indicator not in INDICATOR_WORDS:
            continue
        title, unit = INDICATOR_WORDS[summary.indicator]
        if summary.kpi:
            title = f"{title} ({summary.kpi})"
        divisor = 86_400.0 if unit == "days" else 1.0
        views.append(
            {
                "title": title,
                "unit": unit,
                "start": summary.first / divisor,
                "end": summary.last / divisor,
                "peak": summary.peak / divisor,
                "svg": charts.indicator_chart(summary, zone, title, unit),
            }
        )
    return views


def _flow_chart(report: EvidenceReport, zone: ZoneInfo) -> dict[str, Any] | None:
    by_name: dict[str, IndicatorSummary] = {s.indicator: s for s in report.indicators if not s.kpi}
    arrivals, completions = by_name.get("arrivals"), by_name.get("completions")
    if arrivals is None or completions is None:
        return None
    return {
        "arrivals": arrivals.total,
        "completions": completions.total,
        "svg": charts.arrivals_completions(arrivals, completions, zone),
    }
