"""What the engine hands its drivers: the rows of an evaluation, and what one step changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.processors.measurements import (
    Delta,
    IndicatorPoint,
    LateEvent,
    OpenClock,
    PeriodOutcome,
)

PointKey = tuple[str, str, str, str, datetime]
OutcomeKey = tuple[str, str, datetime]
ClockKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Evaluation:
    points: dict[PointKey, IndicatorPoint]
    outcomes: dict[OutcomeKey, PeriodOutcome]
    open_clocks: dict[ClockKey, OpenClock] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Observed:
    """What one ``observe`` call did with its events."""

    new: int
    duplicates: int
    unmonitored: int
    late: tuple[ItemEvent, ...]
    watermark: datetime | None


@dataclass(frozen=True, slots=True)
class Step:
    """The rows one batch of events changed, ready to write."""

    observed: Observed
    points: Delta[PointKey, IndicatorPoint]
    outcomes: Delta[OutcomeKey, PeriodOutcome]
    late: tuple[LateEvent, ...]
    open_clocks: tuple[OpenClock, ...] | None = None
    """Every open clock now, when they changed (None: unchanged since the previous step)."""
