"""The words the results are written in: period outcome statuses and indicator names.

Each is an enumeration of strings (``StrEnum``), so a value compares equal to its text in the
database, in Prometheus labels and in files, while code spells it once. The other closed sets
have their one place too: lifecycle events and item kinds in ``processors/lifecycle.py``, table
names in ``sinks/tables.py``, topic names in ``streams/settings.py`` (defaults) and
``streams/kafka/topics.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class OutcomeStatus(StrEnum):
    """How a KPI's period came out against its levels (``PeriodOutcome.status``)."""

    MET = "met"  # at or better than the target level
    BELOW_TARGET = "below_target"  # short of target, at or better than the minimum level
    BELOW_MINIMUM = "below_minimum"  # short of the minimum level
    NO_DATA = "no_data"  # nothing measured
    LOW_VOLUME = "low_volume"  # fewer measured than the KPI's minimum_volume
    NO_BASELINE = "no_baseline"  # a trend KPI whose baseline period counted nothing


class IndicatorName(StrEnum):
    """The indicator series the evaluation samples (``IndicatorPoint.indicator``)."""

    OPEN_BACKLOG = "open_backlog"
    OVERDUE_BACKLOG = "overdue_backlog"
    BACKLOG_AGE_P50_SECONDS = "backlog_age_p50_seconds"
    BACKLOG_AGE_P90_SECONDS = "backlog_age_p90_seconds"
    ARRIVALS = "arrivals"
    COMPLETIONS = "completions"
    ARRIVAL_COMPLETION_RATIO = "arrival_completion_ratio"
    REASSIGNMENTS = "reassignments"
    ITEMS_AT_RISK = "items_at_risk"
    SHARE_PAST_RISK = "share_past_risk"
    BREACHED_OPEN = "breached_open"
    BREACHES_FORECAST = "breaches_forecast"
    MET_TO_DATE = "met_to_date"
    MISSED_TO_DATE = "missed_to_date"
    ATTAINMENT_TO_DATE = "attainment_to_date"
    MTTR_SECONDS = "mttr_seconds"
    GOOD_TO_DATE = "good_to_date"
    TOTAL_TO_DATE = "total_to_date"
    GAUGE_VALUE = "gauge_value"
    WITHIN_BOUND = "within_bound"
    VOLUME_TO_DATE = "volume_to_date"
    EVENTS = "events"
    SHARE_MISSING_PRIORITY = "share_missing_priority"
    SHARE_MISSING_ASSIGNEE = "share_missing_assignee"


# The help text of each indicator lives with the engine that computes it; a unit test holds the
# two lists equal. Read on first use (PEP 562): importing the engine here would make every
# module that imports this leaf (settlement does) import the whole engine first, a cycle.
def __getattr__(name: str) -> Mapping[str, str]:
    if name == "INDICATOR_HELP":
        from outcome_pulse.processors.engine.help import INDICATOR_HELP

        return INDICATOR_HELP
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["INDICATOR_HELP", "IndicatorName", "OutcomeStatus"]  # noqa: F822 (PEP 562)
