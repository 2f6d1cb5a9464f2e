"""What the contract evaluation produces: indicator points, period outcomes, late events.

These are plain rows, the same whichever driver computed them: the backtest writes them to the
terminal, CSV or Parquet; the streaming monitor upserts them into PostgreSQL and exports the
latest points as Prometheus gauges. Keys (``key``) identify a row across re-evaluations, so a
driver can write only what changed (``diff``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

SERVICE_WIDE = ""
"""The ``kpi`` of indicators that describe a whole service (backlog, arrivals), not one KPI."""


@dataclass(frozen=True, slots=True)
class IndicatorPoint:
    """One sample of one indicator: ``value`` at instant ``at`` (UTC) of the event-time grid.

    ``kpi`` is ``SERVICE_WIDE`` for service indicators (open backlog, ages, arrivals, ...).
    ``final``: the watermark has passed ``at`` by the allowed lateness; later changes are
    corrections.
    """

    contract: str
    service: str
    kpi: str
    indicator: str
    at: datetime
    value: float
    final: bool

    @property
    def key(self) -> tuple[str, str, str, str, datetime]:
        return (self.contract, self.service, self.kpi, self.indicator, self.at)


@dataclass(frozen=True, slots=True)
class PeriodOutcome:
    """A KPI's result for one contract period ``[period_start, period_end)`` (UTC instants of
    the client's calendar boundaries), and the money it moves.

    ``measured``/``good``: items stopped and those within target (time_to_target), total and
    good events (ratio), samples taken and those within the bound (threshold), events counted
    (trend; ``baseline`` holds the baseline period's count). ``measure`` is the attainment
    (share) or, for trend KPIs, the relative change; ``None`` when nothing was measured.
    ``status``: ``met`` (at or better than target), ``below_target``, ``below_minimum``,
    ``no_data``, ``low_volume`` (fewer measured than the KPI's ``minimum_volume``) or
    ``no_baseline``. Money is in ``currency`` (``None`` without commercial terms):
    ``credit_due`` before caps, ``credit`` after the monthly and yearly caps, ``earned_back``
    (credit returned because the following periods beat the target), ``gain_share`` (bonus).
    """

    contract: str
    kpi: str
    service: str
    period: str
    period_start: datetime
    period_end: datetime
    measured: int
    good: int
    baseline: int | None
    measure: float | None
    target_level: float
    minimum_level: float
    status: str
    credit_due: Decimal
    credit: Decimal
    earned_back: Decimal
    gain_share: Decimal
    currency: str | None
    final: bool

    @property
    def key(self) -> tuple[str, str, datetime]:
        return (self.contract, self.kpi, self.period_start)

    @property
    def net_credit(self) -> Decimal:
        return self.credit - self.earned_back


@dataclass(frozen=True, slots=True)
class LateEvent:
    """An event that arrived after the watermark had passed its time by more than the allowed
    lateness: it was still applied (nothing is lost), as a correction of final rows.

    ``changed`` lists the final rows it changed, as ``kpi@period_start`` or
    ``kpi/indicator@at`` strings (empty when it changed nothing final).
    """

    contract: str
    source: str
    event_id: str
    event_time: datetime
    watermark: datetime
    changed: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str, str]:
        """An event is (source, event id): ids are unique only within their source."""
        return (self.contract, self.source, self.event_id)


K = TypeVar("K")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Delta(Generic[K, R]):
    """What changed between two evaluations of the same rows: rows to upsert, keys to delete."""

    upserts: tuple[R, ...]
    deletes: tuple[K, ...]

    def __bool__(self) -> bool:
        return bool(self.upserts or self.deletes)


def diff(before: Mapping[K, R], after: Mapping[K, R]) -> Delta[K, R]:
    """Rows of ``after`` that are new or differ from ``before``, and keys gone from it."""
    upserts = tuple(row for key, row in after.items() if before.get(key) != row)
    deletes = tuple(key for key in before if key not in after)
    return Delta(upserts, deletes)


@dataclass(frozen=True, slots=True)
class OpenClock:
    """An open item's SLA clock for one time-to-target KPI, read at ``as_of`` (the latest event
    time): how much of its target it has used, whether it is at risk or breached, and when it
    will breach if nothing changes (``None`` while paused short of its target).
    ``breach_probability``: P(it breaches), from the online breach model as known at ``as_of``
    (``outcome_pulse.processors.forecast``); ``None`` before the model has learned enough."""

    contract: str
    kpi: str
    service: str
    source: str  # the service's source: with item_id, the item (ids are unique per source)
    item_id: str
    priority: str | None
    status: str
    started_at: datetime | None
    elapsed_seconds: float
    target_seconds: float
    share_used: float
    at_risk: bool
    breached: bool
    breach_at: datetime | None
    as_of: datetime
    breach_probability: float | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.contract, self.kpi, self.item_id)
