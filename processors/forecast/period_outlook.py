"""Today's adapter for period forecasts: from item histories to ``forecast_period`` inputs.

At each requested instant and for each forecastable KPI with calendar periods (month,
quarter; rolling KPIs are not forecast yet), it reads the running period's met and missed
items so far (the clocks' settlements in ``[period start, instant]``), the open clocks with
their breach probabilities as the online model gave them at that instant
(``training.predictions_over_time``), the time-to-settle of the items settled before the
instant, the arrival rates by weekday and hour, and the breach rate of the latest
``RECENT_CASES`` settled items (for the arrivals still to come).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from outcome_pulse.processors.contract import Contract, KpiBase
from outcome_pulse.processors.forecast.item_clocks import ItemClock, all_item_clocks, settled_cases
from outcome_pulse.processors.forecast.period_forecast import (
    ArrivalRates,
    OpenItemOutlook,
    PeriodForecast,
    PeriodState,
    SettleTimes,
    forecast_period,
)
from outcome_pulse.processors.forecast.training import predictions_over_time
from outcome_pulse.processors.item_history import ItemHistory
from outcome_pulse.processors.periods import calendar_period, local_midnight

RECENT_CASES = 500


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """What a period forecast needs of one item's clock for one KPI, kept after the engine
    drops the item's events: when it opened, and each stop of its clock (when, breached)."""

    item_key: tuple[str, str]
    opened_at: datetime
    settlements: tuple[tuple[datetime, bool], ...]

    @classmethod
    def of(cls, clock: ItemClock) -> ItemRecord:
        return cls(clock.item.key, clock.item.opened_at, tuple(clock.settlements()))


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An item's clock open at the forecast instant, with its breach probability then."""

    item_key: tuple[str, str]
    opened_at: datetime
    probability: float | None


def forecast_running_period(
    contract: Contract,
    kpi: KpiBase,
    records: Sequence[ItemRecord],
    open_items: Iterable[OpenItem],
    at: datetime,
) -> PeriodForecast:
    """The forecast of ``kpi``'s period running at ``at`` (see the module doc): one function
    for the backtest's instants (``period_forecasts``) and the engine's latest event time
    (``OpenClockForecast.period_forecasts``)."""
    zone = ZoneInfo(contract.client.time_zone)
    settled = sorted(
        (when, breached, when - r.opened_at) for r in records for when, breached in r.settlements
    )
    opened = [r.opened_at for r in records]
    return _forecast(
        contract, kpi, settled, opened, sorted(open_items, key=lambda o: o.item_key), at, zone
    )


def _forecast(
    contract: Contract,
    kpi: KpiBase,
    settled: list[tuple[datetime, bool, timedelta]],
    opened: list[datetime],
    open_items: list[OpenItem],
    at: datetime,
    zone: ZoneInfo,
) -> PeriodForecast:
    times = [s[0] for s in settled]
    period = calendar_period(at, kpi.period.kind, zone)
    lo, hi = bisect.bisect_left(times, period.start), bisect.bisect_right(times, at)
    missed = sum(1 for s in settled[lo:hi] if s[1])
    known = settled[:hi]
    durations = SettleTimes([s[2] for s in known])
    recent = known[-RECENT_CASES:]
    rate = sum(1 for s in recent if s[1]) / len(recent) if recent else 0.0
    left = period.end - at
    outlooks = [
        OpenItemOutlook(
            rate if item.probability is None else item.probability,
            durations.settled_within(at - item.opened_at, left),
        )
        for item in open_items
    ]
    expected_new = ArrivalRates(opened, zone).expected(at, period.end, durations)
    return forecast_period(
        contract,
        kpi,
        period,
        kpi.period.kind,
        at,
        PeriodState(hi - lo - missed, missed),
        outlooks,
        expected_new,
        rate,
    )


def period_forecasts(
    contract: Contract,
    service_items: Mapping[str, Sequence[ItemHistory]],
    instants: Sequence[datetime],
) -> list[PeriodForecast]:
    """The forecast of every forecastable KPI's running period at each instant."""
    clocks = all_item_clocks(contract, service_items)
    by_kpi: dict[str, list[ItemClock]] = defaultdict(list)
    for clock in clocks:
        if not clock.kpi.period.is_rolling:
            by_kpi[clock.kpi.id].append(clock)
    if not by_kpi:
        return []
    instants = sorted(set(instants))
    queries = [
        s
        for clock in clocks
        if clock.kpi.id in by_kpi
        for at in instants
        if (s := clock.snapshot(at)) is not None
    ]
    answers = predictions_over_time(queries, settled_cases(clocks), contract.monitoring.lateness)
    probability = {s.key: p for s, p in answers}
    out: list[PeriodForecast] = []
    for kpi_id in sorted(by_kpi):
        kpi_clocks = by_kpi[kpi_id]
        records = [ItemRecord.of(c) for c in kpi_clocks]
        for at in instants:
            open_items = [
                OpenItem(c.item.key, c.item.opened_at, probability.get(snapshot.key))
                for c in kpi_clocks
                if (snapshot := c.snapshot(at)) is not None
            ]
            out.append(
                forecast_running_period(contract, kpi_clocks[0].kpi, records, open_items, at)
            )
    return out


def daily_instants(first: datetime, last: datetime, zone: ZoneInfo) -> list[datetime]:
    """Local midnights from the day after ``first`` to ``last``, and ``last`` itself."""
    day = first.astimezone(zone).date() + timedelta(days=1)
    out: list[datetime] = []
    while True:
        moment = local_midnight(day, zone)
        if moment > last:
            break
        out.append(moment)
        day += timedelta(days=1)
    out.append(last)
    return out
