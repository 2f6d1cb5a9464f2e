"""The monthly evidence report as data: every figure of it, assembled from the evaluation's rows.

``assemble(EvidenceInput) -> EvidenceReport`` is pure. Its input is what either driver has: the
contract, the period outcomes, the indicator points of the period, late events, alerts, the
histories of the items that were active in the period, and the provenance of the data. Nothing is
recomputed that the evaluation already computed: attainment and money are the period outcomes'
own; what the report adds is arrangement (the money step by step, totals for the period and the
contract year), the items behind the misses (``processors.item_misses``, checked against the
outcomes' counts), and summaries of the leading indicators.

The *contract year* is the calendar year in the client's time zone, as for the yearly cap; its
totals run to the end of the report's period. The report's period is a calendar month; a KPI
settled quarterly shows the quarter that contains the month, a rolling KPI the window ending with
the month.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from outcome_pulse.processors.contract import (
    Commercial,
    Contract,
    FixedCredit,
    KpiBase,
    RatioKpi,
    TimeToTargetKpi,
)
from outcome_pulse.processors.contract_text import explain
from outcome_pulse.processors.data_quality import SourceQuality
from outcome_pulse.processors.errors import ConfigError, EvidenceError
from outcome_pulse.processors.item_history import ItemHistory
from outcome_pulse.processors.item_misses import KpiMisses, Miss, check_against, misses_in_period
from outcome_pulse.processors.measurements import (
    SERVICE_WIDE,
    IndicatorPoint,
    LateEvent,
    PeriodOutcome,
)
from outcome_pulse.processors.periods import Period, calendar_period, local_midnight, period_label
from outcome_pulse.processors.settlement import ZERO_MONEY

WORST_LISTED = 10
HISTORY_PERIODS = 12

SERVICE_INDICATORS = (
    "open_backlog",
    "backlog_age_p90_seconds",
    "arrivals",
    "completions",
    "overdue_backlog",
)
CLOCK_INDICATORS = ("items_at_risk", "breaches_forecast", "breached_open")


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert that fired (``pulse_alerts``, or carried by a backtest result)."""

    alertname: str
    severity: str
    fired_at: datetime
    resolved_at: datetime | None
    service: str | None
    kpi: str | None
    item_id: str | None
    value: float | None
    summary: str


@dataclass(frozen=True, slots=True)
class RevisedRow:
    """A period outcome that was corrected after it was final (``revision`` > 1)."""

    kpi: str
    period_start: datetime
    revision: int
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where the figures come from, and how much of the input was usable."""

    origin: str
    """``file <path>`` or ``database <name>``."""
    sources: tuple[str, ...]
    events: int
    items: int
    first_event: datetime | None
    last_event: datetime | None
    watermark: datetime | None
    schema_version: int
    engine_version: str
    input_sha256: str | None = None
    records_read: int | None = None
    dead_letters: Mapping[str, int] | None = None
    """By reason; ``None`` when the origin does not record them (then ``dead_letters_note``)."""
    dead_letters_note: str = ""
    duplicates: int | None = None
    unmonitored: int | None = None
    quality: tuple[SourceQuality, ...] = ()
    """Per source, for each of the months ``quality_months`` gives (the report's month last)."""
    alerts_note: str = ""


@dataclass(frozen=True, slots=True)
class EvidenceInput:
    contract: Contract
    period: str
    """``YYYY-MM``: the month reported on, in the client's time zone."""
    outcomes: Sequence[PeriodOutcome]
    points: Sequence[IndicatorPoint]
    """At least the points inside the period (others are ignored)."""
    histories: Iterable[ItemHistory]
    """At least every item with an event in the period (for the misses)."""
    provenance: Provenance
    late: Sequence[LateEvent] = ()
    revised: Sequence[RevisedRow] = ()
    alerts: Sequence[AlertRecord] = ()


@dataclass(frozen=True, slots=True)
class MoneyLine:
    """One KPI's money in the period, step by step."""

    kpi: str
    period: str
    status: str
    measure: float | None
    target_level: float
    minimum_level: float
    allocation_share: float
    allocation: Decimal
    shortfall_share: float
    credit_due: Decimal
    cap_reduction: Decimal
    credit: Decimal
    earned_back: Decimal
    gain_share: Decimal

    @property
    def net(self) -> Decimal:
        return self.credit - self.earned_back


@dataclass(frozen=True, slots=True)
class MoneyTotals:
    credit_due: Decimal = ZERO_MONEY
    credit: Decimal = ZERO_MONEY
    earned_back: Decimal = ZERO_MONEY
    gain_share: Decimal = ZERO_MONEY

    @property
    def net_credit(self) -> Decimal:
        return self.credit - self.earned_back

    @property
    def net_to_client(self) -> Decimal:
        """Credits net of earn-back, less the gain-share the provider earned."""
        return self.credit - self.earned_back - self.gain_share


@dataclass(frozen=True, slots=True)
class Money:
    currency: str
    monthly_charge: Decimal
    at_risk_share: float
    at_risk_amount: Decimal
    formula: str
    cap_monthly: float | None
    cap_yearly: float | None
    earn_back_periods: int | None
    lines: tuple[MoneyLine, ...]
    period: MoneyTotals
    year: MoneyTotals
    year_label: str


@dataclass(frozen=True, slots=True)
class KpiEvidence:
    kpi: str
    name: str
    kind: str
    indicator: str
    shares: bool
    """Levels are shares (attainment); False for trend KPIs (signed changes)."""
    outcome: PeriodOutcome | None
    period_label: str
    history: tuple[tuple[str, PeriodOutcome], ...]
    """Up to ``HISTORY_PERIODS`` periods ending with this one: (label, outcome)."""
    misses: KpiMisses | None = None
    worst: tuple[Miss, ...] = ()


@dataclass(frozen=True, slots=True)
class IndicatorSummary:
    service: str
    kpi: str
    indicator: str
    at: tuple[datetime, ...]
    values: tuple[float, ...]

    @property
    def first(self) -> float:
        return self.values[0]

    @property
    def last(self) -> float:
        return self.values[-1]

    @property
    def peak(self) -> float:
        return max(self.values)

    @property
    def total(self) -> float:
        return sum(self.values)


@dataclass(frozen=True, slots=True)
class QualityRow:
    """One source in one month: completeness of its events, and late corrections."""

    month: str
    quality: SourceQuality
    late_events: int


@dataclass(frozen=True, slots=True)
class EvidenceReport:
    contract: Contract
    period: Period
    final: bool
    """The watermark has passed the period's end: its figures are final."""
    kpis: tuple[KpiEvidence, ...]
    money: Money | None
    indicators: tuple[IndicatorSummary, ...]
    alerts: tuple[AlertRecord, ...]
    late: tuple[LateEvent, ...]
    revised: tuple[RevisedRow, ...]
    provenance: Provenance
    terms: str
    quality: tuple[QualityRow, ...] = ()
    """Per month (the last ``HISTORY_PERIODS``, ending with the report's) and source."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def quality_now(self) -> tuple[QualityRow, ...]:
        return tuple(q for q in self.quality if q.month == self.period.label)

    @property
    def title(self) -> str:
        return f"{self.contract.title}: service review {self.period.label}"


def report_period(contract: Contract, text: str) -> Period:
    """The month ``YYYY-MM`` in the client's time zone; ``ConfigError`` names a bad value."""
    zone = ZoneInfo(contract.client.time_zone)
    parts = text.strip().split("-")
    try:
        if len(parts) != 2 or len(parts[0]) != 4 or len(parts[1]) != 2:
            raise ValueError
        year, month = int(parts[0]), int(parts[1])
        first = local_midnight(datetime(year, month, 1).date(), zone)
    except ValueError:
        raise ConfigError(
            f"--period: expected a month as YYYY-MM, such as 2012-04 (got {text!r})"
        ) from None
    return calendar_period(first, "month", zone)


def quality_months(contract: Contract, period_text: str) -> list[Period]:
    """The ``HISTORY_PERIODS`` months ending with the report's month, oldest first."""
    zone = ZoneInfo(contract.client.time_zone)
    months = [report_period(contract, period_text)]
    while len(months) < HISTORY_PERIODS:
        months.insert(0, calendar_period(months[0].start - timedelta(days=1), "month", zone))
    return months


def assemble(data: EvidenceInput) -> EvidenceReport:
    contract = data.contract
    period = report_period(contract, data.period)
    zone = ZoneInfo(contract.client.time_zone)
    outcomes = sorted(data.outcomes, key=lambda o: (o.kpi, o.period_start))
    histories = list(data.histories)
    kpis = tuple(
        _kpi_evidence(contract, kpi, outcomes, histories, period, zone) for kpi in contract.kpis
    )
    if all(k.outcome is None for k in kpis):
        first, last = data.provenance.first_event, data.provenance.last_event
        span = (
            f"events run from {first.astimezone(zone):%Y-%m-%d} to {last.astimezone(zone):%Y-%m-%d}"
            if first and last
            else "there are no events"
        )
        raise ConfigError(
            f"--period {data.period}: contract {contract.contract} has no outcome for that month "
            f"({span}); choose a month inside the data"
        )
    watermark = data.provenance.watermark
    return EvidenceReport(
        contract=contract,
        period=period,
        final=watermark is not None and period.end <= watermark,
        kpis=kpis,
        money=_money(contract, outcomes, period, zone),
        indicators=tuple(_indicators(contract, data.points, period)),
        alerts=tuple(
            sorted(
                (a for a in data.alerts if _overlaps(a.fired_at, a.resolved_at, period)),
                key=lambda a: (a.fired_at, a.alertname, a.item_id or ""),
            )
        ),
        late=tuple(_corrections(data.late, outcomes, period)),
        revised=tuple(r for r in data.revised if r.period_start < period.end),
        provenance=data.provenance,
        terms=explain(contract),
        quality=tuple(_quality(data, zone)),
    )


# -- KPIs ------------------------------------------------------------------------------------------


def _kpi_evidence(
    contract: Contract,
    kpi: KpiBase,
    outcomes: list[PeriodOutcome],
    histories: list[ItemHistory],
    period: Period,
    zone: ZoneInfo,
) -> KpiEvidence:
    mine = [o for o in outcomes if o.kpi == kpi.id]
    chosen = outcome_for_month(mine, period)
    history: list[tuple[str, PeriodOutcome]] = []
    if chosen is not None:
        earlier = [o for o in mine if o.period_start <= chosen.period_start]
        history = [
            (period_label(o.period.split()[0], o.period_start, o.period_end, zone), o)
            for o in earlier[-HISTORY_PERIODS:]
        ]
    label = history[-1][0] if history else period.label
    misses: KpiMisses | None = None
    worst: tuple[Miss, ...] = ()
    if chosen is not None and isinstance(kpi, TimeToTargetKpi | RatioKpi):
        misses = misses_in_period(contract, kpi, histories, chosen.period_start, chosen.period_end)
        check_against(misses, chosen)
        worst = tuple(misses.worst(WORST_LISTED))
    return KpiEvidence(
        kpi=kpi.id,
        name=kpi.name,
        kind=getattr(kpi, "kind", ""),
        indicator=kpi.indicator,
        shares=kpi.levels_are_shares,
        outcome=chosen,
        period_label=label,
        history=tuple(history),
        misses=misses,
        worst=worst,
    )


def outcome_for_month(outcomes: list[PeriodOutcome], period: Period) -> PeriodOutcome | None:
    """The KPI's period settled at the month's end, else the one containing the month."""
    for outcome in outcomes:
        if outcome.period_end == period.end:
            return outcome
    for outcome in outcomes:
        if outcome.period_start <= period.start < outcome.period_end:
            return outcome
    return None


# -- money -----------------------------------------------------------------------------------------


def _money(
    contract: Contract, outcomes: list[PeriodOutcome], period: Period, zone: ZoneInfo
) -> Money | None:
    terms = contract.commercial
    if terms is None:
        return None
    settled = [o for o in outcomes if o.period_end == period.end]
    lines = []
    for outcome in settled:
        kpi = contract.kpi(outcome.kpi)
        share = terms.allocation.get(kpi.id, 0.0)
        months = 3 if outcome.period == "quarter" else 1
        allocation = terms.allocated_amount(kpi.id) * months
        if outcome.credit_due > 0 and allocation > 0:
            shortfall = float(outcome.credit_due / allocation)
        else:
            shortfall = 0.0
        if outcome.credit > outcome.credit_due:
            raise EvidenceError(
                f"KPI {kpi.id}, {period.label}: credit after caps {outcome.credit} exceeds the "
                f"credit due {outcome.credit_due}; refusing to report it"
            )
        lines.append(
            MoneyLine(
                kpi=kpi.id,
                period=outcome.period,
                status=outcome.status,
                measure=outcome.measure,
                target_level=outcome.target_level,
                minimum_level=outcome.minimum_level,
                allocation_share=share,
                allocation=allocation,
                shortfall_share=shortfall,
                credit_due=outcome.credit_due,
                cap_reduction=outcome.credit_due - outcome.credit,
                credit=outcome.credit,
                earned_back=outcome.earned_back,
                gain_share=outcome.gain_share,
            )
        )
    year = period.start.astimezone(zone).year
    in_year = [
        o
        for o in outcomes
        if o.period_end <= period.end and settlement_year(o.period_end, zone) == year
    ]
    cap = terms.cap
    return Money(
        currency=terms.currency,
        monthly_charge=terms.monthly_charge,
        at_risk_share=terms.at_risk,
        at_risk_amount=terms.at_risk_amount,
        formula=_formula_words(terms),
        cap_monthly=None if cap is None else cap.monthly,
        cap_yearly=None if cap is None else cap.yearly,
        earn_back_periods=None if terms.earn_back is None else terms.earn_back.periods,
        lines=tuple(lines),
        period=_totals(settled),
        year=_totals(in_year),
        year_label=f"{year} to the end of {period.label}",
    )


def _formula_words(terms: Commercial) -> str:
    credit = terms.credit
    if isinstance(credit, FixedCredit):
        if credit.share is not None:
            return f"fixed: {credit.share * 100:g}% of the allocation below the minimum"
        return f"fixed: {terms.currency} {credit.amount} below the minimum"
    return "linear: the shortfall's share of the distance from target to minimum"


def _totals(rows: Iterable[PeriodOutcome]) -> MoneyTotals:
    rows = list(rows)
    return MoneyTotals(
        credit_due=sum((o.credit_due for o in rows), ZERO_MONEY),
        credit=sum((o.credit for o in rows), ZERO_MONEY),
        earned_back=sum((o.earned_back for o in rows), ZERO_MONEY),
        gain_share=sum((o.gain_share for o in rows), ZERO_MONEY),
    )


def settlement_year(period_end: datetime, zone: ZoneInfo) -> int:
    """The year of the month a period is settled in (the month ending at ``period_end``)."""
    local = period_end.astimezone(zone)
    return local.year if local.month > 1 else local.year - 1


# -- leading indicators, alerts, corrections ------------------------------------------------


def _indicators(
    contract: Contract, points: Sequence[IndicatorPoint], period: Period
) -> Iterable[IndicatorSummary]:
    clock_kpis = [k.id for k in contract.kpis if isinstance(k, TimeToTargetKpi)]
    wanted = [(SERVICE_WIDE, name) for name in SERVICE_INDICATORS] + [
        (kpi, name) for kpi in clock_kpis for name in CLOCK_INDICATORS
    ]
    series: dict[tuple[str, str, str], list[IndicatorPoint]] = {}
    for point in points:
        if period.start <= point.at < period.end and (point.kpi, point.indicator) in wanted:
            series.setdefault((point.service, point.kpi, point.indicator), []).append(point)
    order = {key: index for index, key in enumerate(wanted)}
    for (service, kpi, indicator), rows in sorted(
        series.items(), key=lambda item: (item[0][0], order[(item[0][1], item[0][2])])
    ):
        rows.sort(key=lambda p: p.at)
        yield IndicatorSummary(
            service, kpi, indicator, tuple(p.at for p in rows), tuple(p.value for p in rows)
        )


def _quality(data: EvidenceInput, zone: ZoneInfo) -> Iterable[QualityRow]:
    late: dict[str, int] = {}
    for event in data.late:
        label = calendar_period(event.event_time, "month", zone).label
        late[label] = late.get(label, 0) + 1
    for q in data.provenance.quality:
        label = calendar_period(q.start, "month", zone).label
        yield QualityRow(label, q, late.get(label, 0))


def _overlaps(start: datetime, end: datetime | None, period: Period) -> bool:
    return start < period.end and (end is None or end >= period.start)


def _corrections(
    late: Sequence[LateEvent], outcomes: list[PeriodOutcome], period: Period
) -> Iterable[LateEvent]:
    """Late events with their time in the period, or that changed one of its rows."""
    mine = {f"{o.kpi}@{o.period_start.isoformat()}" for o in outcomes if o.period_end == period.end}
    for event in sorted(late, key=lambda e: (e.event_time, e.event_id, e.source)):
        if period.start <= event.event_time < period.end or mine.intersection(event.changed):
            yield event
