"""The report's charts, drawn by matplotlib as inline SVG (text kept as text, so it can be read).

Every chart is a function from report data to an ``<svg>`` string, deterministic for the same
data (fixed hash salt, no date in the metadata), so a report renders byte for byte the same.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib as mpl
import matplotlib.dates as mdates
from matplotlib.figure import Figure

from outcome_pulse.processors.evidence import IndicatorSummary, KpiEvidence
from outcome_pulse.processors.item_misses import Miss

STATUS_COLOURS = {
    "met": "#2e7d32",
    "below_target": "#f9a825",
    "below_minimum": "#c62828",
}
OTHER = "#9e9e9e"
_HEADER = re.compile(r"^.*?(<svg\b)", re.DOTALL)
_STYLE: Any = {
    "svg.fonttype": "none",
    "svg.hashsalt": "outcome-pulse",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    with mpl.rc_context(_STYLE):
        fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return _HEADER.sub(r"\1", buffer.getvalue(), count=1)


def _figure(width: float, height: float) -> Figure:
    with mpl.rc_context(_STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def kpi_history(kpi: KpiEvidence) -> str:
    """Bars of the measure over the last periods, coloured by status; target and minimum lines."""
    with mpl.rc_context(_STYLE):
        fig = _figure(6.4, 2.2)
        ax = fig.subplots()
        labels = [label for label, _ in kpi.history]
        scale = 100.0
        values = [(o.measure * scale) if o.measure is not None else 0.0 for _, o in kpi.history]
        colours = [STATUS_COLOURS.get(o.status, OTHER) for _, o in kpi.history]
        ax.bar(range(len(labels)), values, color=colours, width=0.7)
        if kpi.history:
            last = kpi.history[-1][1]
            ax.axhline(last.target_level * scale, color="#1565c0", lw=1, ls="--", label="target")
            ax.axhline(last.minimum_level * scale, color="#6a1b9a", lw=1, ls=":", label="minimum")
            ax.legend(loc="lower left", fontsize=7, frameon=False, ncols=2)
        for index, (_, o) in enumerate(kpi.history):
            if o.measure is None:
                ax.text(
                    index,
                    0.02,
                    o.status.replace("_", " "),
                    ha="center",
                    va="bottom",
                    fontsize=6,
                    rotation=90,
                    color="#616161",
                    transform=ax.get_xaxis_transform(),
                )
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("%" if kpi.shares else "change, %")
        if kpi.shares and kpi.history:
            lowest = [v for v in values if v > 0] + [kpi.history[-1][1].minimum_level * scale]
            ax.set_ylim(max(0.0, min(lowest) - 10), 100.5)
        return _svg(fig)


def indicator_chart(summary: IndicatorSummary, zone: ZoneInfo, title: str, unit: str) -> str:
    """One leading indicator over the period (ages in days; counts as they are)."""
    with mpl.rc_context(_STYLE):
        fig = _figure(6.4, 1.7)
        ax = fig.subplots()
        divisor = 86_400.0 if unit == "days" else 1.0
        ys = [v / divisor for v in summary.values]
        xs = [_num(at) for at in summary.at]
        ax.plot(xs, ys, color="#37474f", lw=1)
        ax.fill_between(xs, ys, color="#90a4ae", alpha=0.35, lw=0)
        ax.set_title(title, loc="left", fontsize=8)
        ax.set_ylabel(unit)
        ax.xaxis.set_major_locator(_days(zone))
        ax.xaxis.set_major_formatter(_day_format(zone))
        ax.set_ylim(bottom=0)
        return _svg(fig)


def arrivals_completions(
    arrivals: IndicatorSummary, completions: IndicatorSummary, zone: ZoneInfo
) -> str:
    """Arrivals against completions per local day of the period."""
    with mpl.rc_context(_STYLE):
        fig = _figure(6.4, 1.8)
        ax = fig.subplots()
        days_a = _per_day(arrivals, zone)
        days_c = _per_day(completions, zone)
        days = sorted(set(days_a) | set(days_c))
        xs = range(len(days))
        ax.bar(
            [x - 0.2 for x in xs],
            [days_a.get(d, 0) for d in days],
            width=0.4,
            color="#1565c0",
            label="arrivals",
        )
        ax.bar(
            [x + 0.2 for x in xs],
            [days_c.get(d, 0) for d in days],
            width=0.4,
            color="#2e7d32",
            label="completions",
        )
        step = max(1, len(days) // 10)
        ax.set_xticks(list(xs)[::step], [d[5:] for d in days][::step], fontsize=7)
        ax.legend(fontsize=7, frameon=False, ncols=2, loc="upper right")
        ax.set_title("Arrivals against completions per day", loc="left", fontsize=8)
        return _svg(fig)


def _per_day(summary: IndicatorSummary, zone: ZoneInfo) -> dict[str, float]:
    out: dict[str, float] = {}
    for at, value in zip(summary.at, summary.values, strict=True):
        # A slice (previous sample, sample] belongs to the day its end falls in (microsecond
        # before, so a sample at local midnight counts for the day that ended).
        day = (at - timedelta(microseconds=1)).astimezone(zone).date().isoformat()
        out[day] = out.get(day, 0.0) + value
    return out


def breach_timelines(misses: Sequence[Miss], zone: ZoneInfo) -> str:
    """Each listed miss's clock: running (dark) and paused (light), from open to stop."""
    with mpl.rc_context(_STYLE):
        fig = _figure(6.4, 0.35 * max(len(misses), 1) + 0.8)
        ax = fig.subplots()
        for row, miss in enumerate(reversed(misses)):
            for stretch in miss.stretches:
                start = _num(stretch.start)
                width = _num(stretch.end) - start
                colour = "#c62828" if stretch.state == "running" else "#ffcc80"
                ax.broken_barh([(start, max(width, 1e-4))], (row - 0.35, 0.7), color=colour)
        ax.set_yticks(range(len(misses)), [m.item_id for m in reversed(misses)], fontsize=7)
        ax.xaxis_date(tz=zone)
        ax.xaxis.set_major_formatter(_day_format(zone))
        ax.set_title("Clock timelines: running (red), paused (orange)", loc="left", fontsize=8)
        return _svg(fig)


def _num(moment: object) -> float:
    return float(mdates.date2num(moment))  # type: ignore[no-untyped-call]


def _day_format(zone: ZoneInfo) -> Any:
    return mdates.DateFormatter("%d %b", tz=zone)  # type: ignore[no-untyped-call]


def _days(zone: ZoneInfo) -> Any:
    return mdates.AutoDateLocator(tz=zone, minticks=4, maxticks=8)  # type: ignore[no-untyped-call]
