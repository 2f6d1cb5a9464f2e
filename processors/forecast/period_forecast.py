"""Where a KPI's running period will end: expected attainment, p(meet), budget left, credit.

For a share KPI (time-to-target, or on-time ratio) and a period ``[start, end)`` read at
``as_of``, from:

* what is settled so far in the period: ``met`` and ``missed`` items (``PeriodState``);
* the open items (``OpenItemOutlook``): each breaches with its model probability ``p_breach``
  and is settled within the period with ``p_settle`` (the share of earlier items of the same
  age that were settled within the time left, ``SettleTimes``);
* the items still to arrive: the arrival rate by weekday and hour over the previous weeks
  (``ArrivalRates``), each settled within the period as above and breaching at the recent rate.

The distribution of the period's final count is drawn ``DRAWS`` times with numpy's PCG64
generator seeded by a SHA-256 of the contract, KPI, period and ``as_of`` (so the same inputs
give the same forecast): ``p_meet_target`` and ``p_meet_minimum`` are the shares of draws at or
above the level (a draw with fewer items than the KPI's ``minimum_volume`` is not judged and
counts as not missing); ``expected_credit`` is the mean credit due (before caps and earn-back,
``settlement.credit_due``).
``budget_left_*``: misses still allowed before the level is lost on the expected period volume,
``floor((1 - level) * volume) - missed``; negative once lost.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np

from outcome_pulse.processors.contract import Contract, KpiBase
from outcome_pulse.processors.periods import Period
from outcome_pulse.processors.settlement import PeriodMeasure, credit_due, status_of

DRAWS = 1000
_HOUR = timedelta(hours=1)
_WEEK = timedelta(days=7)
BASELINE_WEEKS = 8


@dataclass(frozen=True, slots=True)
class OpenItemOutlook:
    p_breach: float
    p_settle: float


@dataclass(frozen=True, slots=True)
class PeriodState:
    met: int
    missed: int


@dataclass(frozen=True, slots=True)
class PeriodForecast:
    """A KPI's running period, forecast at ``as_of``: the row of ``pulse_period_forecasts``."""

    contract: str
    kpi: str
    service: str
    period: str
    period_start: datetime
    period_end: datetime
    as_of: datetime
    measured_to_date: int
    good_to_date: int
    attainment_to_date: float | None
    expected_attainment: float | None
    p_meet_target: float
    p_meet_minimum: float
    budget_left_target: int
    budget_left_minimum: int
    expected_credit: Decimal
    currency: str | None

    @property
    def key(self) -> tuple[str, str, datetime]:
        return (self.contract, self.kpi, self.period_start)


class ArrivalRates:
    """Items opened per hour, by weekday and hour (client's zone), over the weeks before."""

    def __init__(self, opened: Sequence[datetime], zone: ZoneInfo) -> None:
        self.opened = sorted(opened)
        self.zone = zone

    def expected(
        self, as_of: datetime, until: datetime, weight: SettleTimes | None = None
    ) -> float:
        """Expected arrivals in ``(as_of, until)``; each weighted by ``weight`` (its chance to
        be settled by ``until``) when given."""
        if until <= as_of or not self.opened or self.opened[0] >= as_of:
            return 0.0
        since = max(as_of - BASELINE_WEEKS * _WEEK, self.opened[0])
        weeks = max((as_of - since) / _WEEK, 1.0)
        counts: dict[tuple[int, int], int] = {}
        lo, hi = bisect.bisect_left(self.opened, since), bisect.bisect_right(self.opened, as_of)
        for moment in self.opened[lo:hi]:
            local = moment.astimezone(self.zone)
            slot = (local.weekday(), local.hour)
            counts[slot] = counts.get(slot, 0) + 1
        total = 0.0
        hour = as_of
        while hour < until:
            local = hour.astimezone(self.zone)
            rate = counts.get((local.weekday(), local.hour), 0) / weeks
            share = 1.0 if weight is None else weight.settled_within(timedelta(0), until - hour)
            total += rate * share * min((until - hour) / _HOUR, 1.0)
            hour += _HOUR
        return total


class SettleTimes:
    """Empirical time from opening to settling, of the items settled before ``as_of``."""

    def __init__(self, durations: Sequence[timedelta]) -> None:
        self.durations = sorted(durations)

    def settled_within(self, age: timedelta, left: timedelta) -> float:
        """P(settled by ``age + left`` | not settled at ``age``)."""
        alive = len(self.durations) - bisect.bisect_right(self.durations, age)
        if alive == 0:
            return 1.0 if not self.durations else 0.5
        done = bisect.bisect_right(self.durations, age + left) - bisect.bisect_right(
            self.durations, age
        )
        return done / alive


def forecast_period(
    contract: Contract,
    kpi: KpiBase,
    period: Period,
    period_name: str,
    as_of: datetime,
    state: PeriodState,
    open_items: Sequence[OpenItemOutlook],
    expected_new: float,
    new_breach_rate: float,
) -> PeriodForecast:
    """The forecast of one KPI's period (see the module doc)."""
    measured = state.met + state.missed
    seed = hashlib.sha256(
        f"{contract.contract}|{kpi.id}|{period.start.isoformat()}|{as_of.isoformat()}".encode()
    ).digest()
    rng = np.random.Generator(np.random.PCG64(int.from_bytes(seed[:8], "big")))
    p_settle = np.array([o.p_settle for o in open_items], dtype=float)
    p_breach = np.array([o.p_breach for o in open_items], dtype=float)
    settles = rng.random((DRAWS, len(open_items))) < p_settle
    breaches = rng.random((DRAWS, len(open_items))) < p_breach
    arrivals = rng.poisson(max(expected_new, 0.0), DRAWS)
    new_missed = rng.binomial(arrivals, min(max(new_breach_rate, 0.0), 1.0))
    totals = measured + settles.sum(axis=1) + arrivals
    goods = state.met + (settles & ~breaches).sum(axis=1) + arrivals - new_missed
    terms = contract.commercial
    meet_target = meet_minimum = 0
    credit = Decimal(0)
    shares: list[float] = []
    for total, good in zip(totals.tolist(), goods.tolist(), strict=True):
        share = good / total if total else None
        if share is not None:
            shares.append(share)
        judged = share if total >= max(kpi.minimum_volume, 1) else None
        status = status_of(kpi, judged, measured=total)
        meet_target += status not in ("below_target", "below_minimum")
        meet_minimum += status != "below_minimum"
        if terms is not None and status in ("below_target", "below_minimum"):
            draw = PeriodMeasure(
                kpi, kpi.service, period, period_name, total, good, None, judged, False
            )
            credit += credit_due(terms, draw, status)
    volume = float(totals.mean())
    return PeriodForecast(
        contract=contract.contract,
        kpi=kpi.id,
        service=kpi.service,
        period=period_name,
        period_start=period.start,
        period_end=period.end,
        as_of=as_of,
        measured_to_date=measured,
        good_to_date=state.met,
        attainment_to_date=state.met / measured if measured else None,
        expected_attainment=sum(shares) / len(shares) if shares else None,
        p_meet_target=meet_target / DRAWS,
        p_meet_minimum=meet_minimum / DRAWS,
        budget_left_target=math.floor((1 - kpi.target_level) * volume + 1e-9) - state.missed,
        budget_left_minimum=math.floor((1 - kpi.minimum_level) * volume + 1e-9) - state.missed,
        expected_credit=(credit / DRAWS).quantize(Decimal("0.01")),
        currency=None if terms is None else terms.currency,
    )
