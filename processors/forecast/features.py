"""What the breach model sees of one open clock at one instant, and what it learns from.

This is the small, explicit interface between the contract engine and the modelling: the engine
(today ``forecast.item_clocks`` over ``ItemHistory``; tomorrow the incremental engine)
produces ``ClockSnapshot`` rows, each describing an open clock *as known at* ``at`` (nothing
from after ``at``), and ``SettledCase`` rows, a snapshot together with how that clock ended.
``features`` turns a snapshot into the model's feature dictionary (numbers and categories).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

Features = dict[str, float | str]

_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class ServiceLoad:
    """The service around the item at the instant: open items and recent arrivals."""

    backlog: int
    """Items of the service open at the instant."""
    arrivals_24h: int
    """Items of the service opened in the 24 hours up to the instant."""


class LoadReader(Protocol):
    """A service's load at any instant: the incremental engine reads it from its aggregators
    (so it stays right after item histories are compacted), the reference evaluation and the
    benchmarks from the item histories (``item_clocks.ServiceLoadIndex``); both count the same
    spans and openings."""

    def at(self, moment: datetime) -> ServiceLoad: ...


@dataclass(frozen=True, slots=True)
class ClockSnapshot:
    """One open clock of one item for one KPI, as known at ``at`` (UTC).

    ``elapsed_seconds`` and ``target_seconds`` are business seconds for time-to-target KPIs, and
    wall-clock seconds from opening to the due date for deadline (on-time ratio) KPIs.
    ``status`` is ``running`` or ``paused``; ``pauses`` and ``reassignments`` count what
    happened to the item up to ``at``; ``hour`` and ``weekday`` (Monday 0) are read in the
    client's time zone; ``attributes`` are the item's mapped attributes as of ``at``.
    """

    service: str
    kpi: str
    item_id: str
    at: datetime
    opened_at: datetime
    priority: str | None
    status: str
    elapsed_seconds: float
    target_seconds: float
    pauses: int
    reassignments: int
    load: ServiceLoad
    hour: int
    weekday: int
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def share_used(self) -> float:
        return self.elapsed_seconds / self.target_seconds

    @property
    def breached(self) -> bool:
        """Past its target already: its elapsed time never goes down, so the item breaches."""
        return self.elapsed_seconds > self.target_seconds

    @property
    def remaining_seconds(self) -> float:
        return max(self.target_seconds - self.elapsed_seconds, 0.0)

    @property
    def age_seconds(self) -> float:
        return (self.at - self.opened_at).total_seconds()

    @property
    def key(self) -> tuple[str, str, str, datetime]:
        return (self.service, self.kpi, self.item_id, self.at)


@dataclass(frozen=True, slots=True)
class SettledCase:
    """A snapshot and how its clock ended: ``breached`` at ``settled_at`` (the next stop of the
    clock after the snapshot). A model may learn from it once the watermark passed
    ``settled_at``."""

    snapshot: ClockSnapshot
    breached: bool
    settled_at: datetime

    @property
    def order(self) -> tuple[datetime, str, str, str, datetime]:
        """The one learning order: settled time, then the snapshot's key."""
        s = self.snapshot
        return (self.settled_at, s.service, s.kpi, s.item_id, s.at)


def _log_hours(seconds: float) -> float:
    return math.log1p(max(seconds, 0.0) / _HOUR)


def features(snapshot: ClockSnapshot) -> Features:
    """The model's view of a snapshot: scaled numbers and categories (see the module doc)."""
    angle = 2 * math.pi * snapshot.hour / 24
    out: Features = {
        "share_used": min(snapshot.share_used, 2.0),
        "log_remaining_h": _log_hours(snapshot.remaining_seconds),
        "log_elapsed_h": _log_hours(snapshot.elapsed_seconds),
        "log_target_h": _log_hours(snapshot.target_seconds),
        "log_age_h": _log_hours(snapshot.age_seconds),
        "paused": 1.0 if snapshot.status == "paused" else 0.0,
        "pauses": float(min(snapshot.pauses, 10)),
        "reassignments": float(min(snapshot.reassignments, 10)),
        "log_backlog": math.log1p(snapshot.load.backlog),
        "log_arrivals_24h": math.log1p(snapshot.load.arrivals_24h),
        "hour_sin": math.sin(angle),
        "hour_cos": math.cos(angle),
        "kpi": snapshot.kpi,
        "priority": snapshot.priority or "-",
        "weekday": str(snapshot.weekday),
    }
    # Coarse bins and their crosses with the priority let the linear model bend: the breach
    # rate of a P1 at 60% of its target is not a P3's.
    share_bin = str(min(int(snapshot.share_used * 10), 10))
    age_bin = str(min(int(math.log2(1 + snapshot.age_seconds / _HOUR)), 12))
    priority = snapshot.priority or "-"
    out["share_bin"] = share_bin
    out["age_bin"] = age_bin
    out["priority_share"] = f"{priority}|{share_bin}"
    out["priority_age"] = f"{priority}|{age_bin}"
    out["priority_status"] = f"{priority}|{snapshot.status}"
    for name, value in snapshot.attributes:
        out[f"attr_{name}"] = value
    return out


NUMERIC_FEATURES = (
    "share_used",
    "log_remaining_h",
    "log_elapsed_h",
    "log_target_h",
    "log_age_h",
    "paused",
    "pauses",
    "reassignments",
    "log_backlog",
    "log_arrivals_24h",
    "hour_sin",
    "hour_cos",
)
"""The numeric features, in a fixed order (categorical ones are the other keys)."""
