"""From a KPI's measure in each period to its status and the money it moves.

* status: ``met`` when the measure is at or better than the target level, ``below_target`` when
  it is at or better than the minimum level, ``below_minimum`` otherwise (``no_data`` when
  nothing was measured, ``low_volume`` when fewer than the KPI's ``minimum_volume`` were,
  ``no_baseline`` for a trend without its baseline period);
* credit due (KPIs with an allocation only): ``linear`` credits nothing when met, the whole
  allocation at or below the minimum, and in between the share of the allocation that the
  shortfall from the target is of the distance from target to minimum; ``fixed`` credits its
  share of the allocation, or its amount, for each period below the minimum. A quarterly KPI is
  settled on three monthly allocations;
* caps: the credits settled in one month (at the end of their period) are scaled down together to
  at most ``cap.monthly`` of the monthly charge; then, month by month in order, the credits of a
  calendar year stop at ``cap.yearly`` of twelve monthly charges;
* earn-back: a period's credit (after caps) is returned when the KPI beats its target level in
  each of the next ``earn_back.periods`` periods;
* gain-share: the bonus of the best band the measure reaches, as a share of the monthly charge
  (three charges for a quarter).

Money is ``Decimal`` rounded to cents, half up; rounding residue of a scaled-down month goes to its
largest credit, so the month's total is exactly the cap.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from outcome_pulse.processors.contract import Commercial, Contract, FixedCredit, KpiBase
from outcome_pulse.processors.measurements import PeriodOutcome
from outcome_pulse.processors.periods import Period
from outcome_pulse.processors.vocabulary import OutcomeStatus

CENT = Decimal("0.01")
ZERO_MONEY = Decimal("0.00")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class PeriodMeasure:
    """What one KPI measured in one period, before any money."""

    kpi: KpiBase
    service: str
    period: Period
    period_name: str
    measured: int
    good: int
    baseline: int | None
    measure: float | None
    final: bool
    no_baseline: bool = False


def status_of(
    kpi: KpiBase, measure: float | None, no_baseline: bool = False, measured: int = 0
) -> OutcomeStatus:
    if measure is None:
        if no_baseline:
            return OutcomeStatus.NO_BASELINE
        return (
            OutcomeStatus.LOW_VOLUME if 0 < measured < kpi.minimum_volume else OutcomeStatus.NO_DATA
        )
    if not kpi.is_better(kpi.target_level, measure):
        return OutcomeStatus.MET
    if not kpi.is_better(kpi.minimum_level, measure):
        return OutcomeStatus.BELOW_TARGET
    return OutcomeStatus.BELOW_MINIMUM


def _months(period_name: str) -> int:
    return 3 if period_name == "quarter" else 1


def credit_due(terms: Commercial, measured: PeriodMeasure, status: str) -> Decimal:
    kpi = measured.kpi
    if kpi.id not in terms.allocation or measured.measure is None or status == OutcomeStatus.MET:
        return ZERO_MONEY
    allocation = terms.allocated_amount(kpi.id) * _months(measured.period_name)
    formula = terms.credit
    if isinstance(formula, FixedCredit):
        if status != OutcomeStatus.BELOW_MINIMUM:
            return ZERO_MONEY
        if formula.amount is not None:
            return money(formula.amount * _months(measured.period_name))
        return money(allocation * Decimal(str(formula.share)))
    if status == OutcomeStatus.BELOW_MINIMUM:
        return money(allocation)
    span = abs(kpi.target_level - kpi.minimum_level)
    shortfall = abs(kpi.target_level - measured.measure)
    if span == 0:
        return money(allocation)
    return money(allocation * Decimal(repr(shortfall)) / Decimal(repr(span)))


def gain_share(terms: Commercial, measured: PeriodMeasure) -> Decimal:
    if measured.measure is None:
        return ZERO_MONEY
    kpi, bonus = measured.kpi, Decimal(0)
    for rule in terms.gain_share:
        if rule.kpi != kpi.id:
            continue
        for band in rule.bands:
            if not kpi.is_better(band.at_least, measured.measure):  # reached the band
                bonus = Decimal(str(band.bonus))
    charge = terms.monthly_charge * _months(measured.period_name)
    return money(charge * bonus)


def settle(contract: Contract, measures: list[PeriodMeasure]) -> list[PeriodOutcome]:
    """Every measure as a ``PeriodOutcome`` with status and money (see the module doc)."""
    terms = contract.commercial
    zone = ZoneInfo(contract.client.time_zone)
    rows = [_unsettled(contract, terms, m) for m in measures]
    if terms is None:
        return rows
    rows = _apply_caps(terms, rows, zone)
    return _apply_earn_back(contract, terms, rows)


def _unsettled(contract: Contract, terms: Commercial | None, m: PeriodMeasure) -> PeriodOutcome:
    status = status_of(m.kpi, m.measure, m.no_baseline, m.measured)
    due = ZERO_MONEY if terms is None else credit_due(terms, m, status)
    bonus = ZERO_MONEY if terms is None else gain_share(terms, m)
    return PeriodOutcome(
        contract=contract.contract,
        kpi=m.kpi.id,
        service=m.service,
        period=m.period_name,
        period_start=m.period.start,
        period_end=m.period.end,
        measured=m.measured,
        good=m.good,
        baseline=m.baseline,
        measure=m.measure,
        target_level=m.kpi.target_level,
        minimum_level=m.kpi.minimum_level,
        status=status,
        credit_due=due,
        credit=due,
        earned_back=ZERO_MONEY,
        gain_share=bonus,
        currency=None if terms is None else terms.currency,
        final=m.final,
    )


def _scale(rows: list[PeriodOutcome], total: Decimal, limit: Decimal) -> dict[int, Decimal]:
    """Credits of ``rows`` scaled so they add up to exactly ``limit`` (< ``total``)."""
    scaled = {i: money(row.credit * limit / total) for i, row in enumerate(rows) if row.credit > 0}
    residue = limit - sum(scaled.values(), ZERO_MONEY)
    if scaled and residue:
        largest = max(scaled, key=lambda i: (rows[i].credit, -i))
        scaled[largest] += residue
    return scaled


def _apply_caps(
    terms: Commercial, rows: list[PeriodOutcome], zone: ZoneInfo
) -> list[PeriodOutcome]:
    cap = terms.cap
    if cap is None or (cap.monthly is None and cap.yearly is None):
        return rows
    by_month: dict[datetime, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_month[row.period_end].append(index)
    out = list(rows)
    used_in_year: dict[int, Decimal] = defaultdict(lambda: ZERO_MONEY)
    for month_end in sorted(by_month):
        indices = by_month[month_end]
        month_rows = [out[i] for i in indices]
        total = sum((r.credit for r in month_rows), ZERO_MONEY)
        limit = total
        if cap.monthly is not None:
            limit = min(limit, money(terms.monthly_charge * Decimal(str(cap.monthly))))
        year = _settlement_year(month_end, zone)
        if cap.yearly is not None:
            yearly = money(terms.monthly_charge * 12 * Decimal(str(cap.yearly)))
            limit = min(limit, max(yearly - used_in_year[year], ZERO_MONEY))
        if limit < total:
            scaled = _scale(month_rows, total, limit)
            for position, index in enumerate(indices):
                out[index] = replace(out[index], credit=scaled.get(position, ZERO_MONEY))
        used_in_year[year] += sum((out[i].credit for i in indices), ZERO_MONEY)
    return out


def _settlement_year(month_end: datetime, zone: ZoneInfo) -> int:
    # The settlement month is the one ending at month_end: its last day is the day before.
    local = month_end.astimezone(zone)
    return local.year if local.month > 1 else local.year - 1


def _apply_earn_back(
    contract: Contract, terms: Commercial, rows: list[PeriodOutcome]
) -> list[PeriodOutcome]:
    if terms.earn_back is None:
        return rows
    needed = terms.earn_back.periods
    by_kpi: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_kpi[row.kpi].append(index)
    out = list(rows)
    for kpi_id, indices in by_kpi.items():
        kpi = contract.kpi(kpi_id)
        ordered = sorted(indices, key=lambda i: rows[i].period_start)
        for position, index in enumerate(ordered):
            row = rows[index]
            following = [rows[i] for i in ordered[position + 1 : position + 1 + needed]]
            if (
                row.credit > 0
                and len(following) == needed
                and all(
                    f.measure is not None and kpi.is_better(f.measure, kpi.target_level)
                    for f in following
                )
            ):
                out[index] = replace(row, earned_back=row.credit)
    return out
