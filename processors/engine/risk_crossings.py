"""When an item's clock passed its KPI's at-risk share, and when that ended: its *risk crossings*.

A time-to-target KPI's clock on one item is *at risk* from the instant its elapsed business time
reaches ``at_risk_share`` of its target until the target is used up (it breaches) or the clock
stops (``clock_measures.measure_clock``'s ``at_risk`` spans). One crossing is one unbroken stretch
of that: the at-risk spans that touch (a priority change splits a span at the change) are one
crossing, and a reopened item that becomes at risk again crosses again.

Crossings are part of the item's contribution (``contribution.Contribution.risk_crossings``), so
they survive compaction: the item rule ("about to breach") reads them for every item ever seen,
in event time, the same in the backtest and in the streaming monitor. ``until`` of a running
clock is its projected breach (when its target runs out if it keeps running), which may lie after
the latest event; a reader compares it with its evaluation instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from outcome_pulse.processors.clock_measures import ItemClockMeasures
from outcome_pulse.processors.contract import TimeToTargetKpi
from outcome_pulse.processors.item_history import ItemHistory, Span


@dataclass(frozen=True, slots=True)
class RiskCrossing:
    """One item at risk on one KPI over ``[at, until)``."""

    item_id: str
    priority: str | None
    """The item's priority when it crossed (its target is that priority's)."""
    at: datetime
    """The clock passed the at-risk share of its target (or the item got a priority whose share
    it had already passed)."""
    until: datetime | None
    """No longer at risk: it breached (``breached``), or its clock stopped or its priority
    changed to one it is not at risk on; None: still at risk (the clock is paused at risk)."""
    breached: bool
    target_seconds: float
    breach_at: datetime | None
    """When the target runs out if the clock keeps running, as known at ``at`` (None: the clock
    was not running then)."""


def risk_crossings(
    item: ItemHistory, kpi: TimeToTargetKpi, measures: ItemClockMeasures
) -> tuple[RiskCrossing, ...]:
    """The item's crossings on ``kpi``, in time order (see the module doc)."""
    merged: list[Span] = []
    for span in measures.at_risk:
        if merged and merged[-1].end == span.start:
            merged[-1] = Span(merged[-1].start, span.end)
        else:
            merged.append(span)
    breaches = {span.start for span in measures.breached}
    out = []
    for span in merged:
        value = item.priorities.value_at(span.start)
        priority = None if value is None else str(value)
        target = kpi.target_for(priority)
        out.append(
            RiskCrossing(
                item.item_id,
                priority,
                span.start,
                span.end,
                span.end is not None and span.end in breaches,
                0.0 if target is None else target.total_seconds(),
                _runs_out(measures, span.start),
            )
        )
    return tuple(out)


def _runs_out(measures: ItemClockMeasures, at: datetime) -> datetime | None:
    for span, used_up in measures.forecasts:
        if span.start <= at and (span.end is None or at < span.end):
            return used_up
    return None


__all__ = ["RiskCrossing", "risk_crossings"]
