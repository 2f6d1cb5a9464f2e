"""What each indicator series means (the help text of its Prometheus gauge)."""

from __future__ import annotations

INDICATOR_HELP: dict[str, str] = {
    "open_backlog": "Open items at the sample instant.",
    "overdue_backlog": "Open items past their due date at the sample instant.",
    "backlog_age_p50_seconds": "Median age of open items, seconds since opening.",
    "backlog_age_p90_seconds": "90th-percentile age of open items, seconds since opening.",
    "arrivals": "Items opened since the previous sample.",
    "completions": "Items that stopped being open since the previous sample.",
    "arrival_completion_ratio": "Arrivals per completion since the previous sample "
    "(arrivals when nothing completed).",
    "reassignments": "Assignee changes since the previous sample.",
    "items_at_risk": "Open items past the at-risk share of their target, not yet breached.",
    "share_past_risk": "Share of measured open items past the at-risk share of their target.",
    "breached_open": "Open items already past their target.",
    "breaches_forecast": "Running items whose target will be used up before the current period "
    "ends if nothing changes (a forecast of misses).",
    "met_to_date": "Items resolved within target in the current period so far.",
    "missed_to_date": "Items resolved past target in the current period so far.",
    "attainment_to_date": "The KPI's measure in the current period so far.",
    "mttr_seconds": "Mean business time to resolve, seconds, in the current period so far.",
    "good_to_date": "Good events in the current period so far.",
    "total_to_date": "Total events in the current period so far.",
    "gauge_value": "The threshold KPI's gauge at its sample instant.",
    "within_bound": "1 when the threshold KPI's gauge is within its bound, else 0.",
    "volume_to_date": "Events counted in the current period so far.",
    "events": "Events received since the previous sample (by event time).",
    "share_missing_priority": "Share of the events since the previous sample that carry no "
    "priority.",
    "share_missing_assignee": "Share of the events since the previous sample that carry no "
    "assignee.",
}
