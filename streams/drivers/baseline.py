"""``pulse baseline DATA --mapping M [--draft CONTRACT]``: targets history supports.

Maps the export once, folds each item's clock (``processors.baseline``), and with a draft
contract backtests it (``streams.drivers.backtest``, the same evaluation as ``pulse backtest``): the
credits its terms would have cost each year, and the levels its KPIs met in past months. The
attainment the baseline computes for the draft's own time-to-target targets is checked month by
month against the backtest's outcomes (``EvidenceError`` if they differ), so the two cannot drift.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from outcome_pulse.processors.baseline import (
    NO_PRIORITY,
    Candidate,
    Distribution,
    Resolved,
    Suggestion,
    candidate,
    default_candidates,
    distributions,
    level_met_by,
    month_label,
    months_between,
    resolutions,
    suggest,
)
from outcome_pulse.processors.calendar import BusinessCalendar, WorkingInterval
from outcome_pulse.processors.contract import ALWAYS_NAME, Contract, TimeToTargetKpi, parse_contract
from outcome_pulse.processors.contract_text import describe_calendar
from outcome_pulse.processors.errors import ConfigError, EvidenceError
from outcome_pulse.processors.evidence import settlement_year
from outcome_pulse.processors.item_misses import build_histories
from outcome_pulse.processors.lifecycle import ItemKind
from outcome_pulse.processors.settlement import ZERO_MONEY
from outcome_pulse.streams.drivers.backtest import BacktestResult, backtest_events, item_events
from outcome_pulse.streams.file_import.mapped_file import MappedFile, map_file
from outcome_pulse.streams.file_import.mapping import RecordMapping
from outcome_pulse.streams.file_import.rejections import check_rejections

_UNBOUNDED = "1000000h"  # a target no item reaches: every stop is measured, none judged
WORK_ITEM_CLOCK: dict[str, Any] = {
    "start": "created",
    "pause": "paused",
    "resume": ["resumed", "state_changed", "assigned"],
    "stop": "resolved",
    "reopen": "reopened",
}
ORDER_CLOCK: dict[str, Any] = {"start": ["placed", "approved"], "stop": "delivered"}


@dataclass(frozen=True, slots=True)
class BaselineOptions:
    calendar: str | None = None
    """A calendar of the draft, or ``24x7``; default the draft's clock KPI's, else 24x7."""
    office_hours: str | None = None
    """``08:00-18:00``: a Monday-to-Friday calendar (no holidays) instead."""
    time_zone: str | None = None
    targets: dict[str, list[timedelta]] = field(default_factory=dict)
    """Candidate targets per priority; default the p50, p80 and p90 of each priority."""
    confidence: float = 0.8
    minimum_confidence: float = 0.95
    minimum_volume: int = 20


@dataclass(frozen=True, slots=True)
class DraftYear:
    year: int
    credit: Decimal
    earned_back: Decimal
    gain_share: Decimal

    @property
    def net(self) -> Decimal:
        return self.credit - self.earned_back


@dataclass(frozen=True, slots=True)
class DraftLevels:
    """A draft KPI's monthly measures in the past, and the levels they support."""

    kpi: str
    shares: bool
    periods_judged: int
    target_level: float
    minimum_level: float
    met_target: int
    suggested_target: float | None
    suggested_minimum: float | None


@dataclass(frozen=True, slots=True)
class DraftBaseline:
    contract: Contract
    result: BacktestResult
    years: tuple[DraftYear, ...]
    levels: tuple[DraftLevels, ...]


@dataclass(frozen=True, slots=True)
class BaselineResult:
    source: str
    kind: str
    zone: str
    calendar: str
    clock: str
    mapped: MappedFile
    resolved: tuple[Resolved, ...]
    distributions: tuple[Distribution, ...]
    candidates: tuple[Candidate, ...]
    suggestions: tuple[Suggestion, ...]
    options: BaselineOptions
    draft: DraftBaseline | None = None


def run_baseline(
    path: Path, mapping: RecordMapping, options: BaselineOptions, draft: Contract | None = None
) -> BaselineResult:
    _check_options(options, draft)  # before reading the file: bad options fail fast
    mapped = map_file(path, mapping)
    check_rejections(mapped)  # mostly dead letters: a wrong mapping, not a baseline
    events = [(e, s) for e, s in item_events(mapped.events) if e.source == mapping.source]
    if not events:
        raise ConfigError(f"{path}: no events of source {mapping.source!r} to build a baseline on")
    histories = list(build_histories(events).values())
    kind = histories[0].kind
    clock_kpi = _draft_clock_kpi(draft, mapping) if draft is not None else None
    probe, calendar, zone = _probe(mapping.source, kind, draft, clock_kpi, options)
    resolved = resolutions(histories, probe, calendar)
    dists = distributions(resolved)
    times = [e.time for e, _ in events]
    months = months_between(min(times), max(times), zone)
    volume = clock_kpi.minimum_volume if clock_kpi is not None else options.minimum_volume
    candidates = []
    for dist in dists:
        wanted = options.targets.get(dist.priority) or default_candidates(dist)
        for target in wanted:
            candidates.append(
                candidate(resolved, dist.kind, dist.priority, target, zone, months, volume)
            )
    suggestions = [suggest(c, options.confidence, options.minimum_confidence) for c in candidates]
    draft_baseline = None
    if draft is not None:
        result = backtest_events(draft, events)
        if clock_kpi is not None:
            _check_draft(resolved_for(histories, clock_kpi, draft), clock_kpi, draft, result)
        draft_baseline = DraftBaseline(
            draft, result, tuple(_years(draft, result)), tuple(_levels(draft, result, options))
        )
    return BaselineResult(
        source=mapping.source,
        kind=kind.value,
        zone=zone.key,
        calendar=f"{calendar.name or ALWAYS_NAME}: {describe_calendar(calendar)}",
        clock=_clock_words(probe),
        mapped=mapped,
        resolved=tuple(resolved),
        distributions=tuple(dists),
        candidates=tuple(candidates),
        suggestions=tuple(suggestions),
        options=options,
        draft=draft_baseline,
    )


def resolved_for(histories: list[Any], kpi: TimeToTargetKpi, draft: Contract) -> list[Resolved]:
    return resolutions(histories, kpi, draft.calendar_of(kpi))


# -- the clock and calendar measured -----------------------------------------------------------


def _draft_clock_kpi(draft: Contract, mapping: RecordMapping) -> TimeToTargetKpi | None:
    for kpi in draft.kpis:
        if isinstance(kpi, TimeToTargetKpi) and draft.service_of(kpi).source == mapping.source:
            return kpi
    return None


def _probe(
    source: str,
    kind: ItemKind,
    draft: Contract | None,
    clock_kpi: TimeToTargetKpi | None,
    options: BaselineOptions,
) -> tuple[TimeToTargetKpi, BusinessCalendar, ZoneInfo]:
    """A time-to-target KPI that measures every stop (unbounded targets) on the chosen calendar
    and clock, inside a contract validated like any other (errors name the option)."""
    zone = options.time_zone or (draft.client.time_zone if draft is not None else "UTC")
    calendars: dict[str, Any] = {}
    if options.office_hours is not None:
        calendars["office"] = {"hours": {"mon-fri": [options.office_hours]}}
        chosen = "office"
    elif options.calendar is not None:
        chosen = options.calendar
    elif clock_kpi is not None:
        chosen = clock_kpi.calendar
    else:
        chosen = ALWAYS_NAME
    if draft is not None:
        for name, spec in draft.calendars.items():
            calendars.setdefault(name, spec.model_dump(mode="json", exclude_none=True))
    if clock_kpi is not None:
        clock = clock_kpi.clock.model_dump(mode="json", exclude_none=True)
    else:
        clock = ORDER_CLOCK if kind is ItemKind.ORDER else WORK_ITEM_CLOCK
    document = {
        "contract": "baseline",
        "title": "Baseline",
        "client": {"name": "baseline", "time_zone": zone},
        "calendars": calendars,
        "services": {
            "measured": {
                "name": "measured",
                "source": source,
                "item_kind": kind.value,
                "owner": {"name": "-", "alerts": [{"email": "baseline@example.invalid"}]},
            }
        },
        "objectives": [
            {
                "name": "baseline",
                "outcomes": [
                    {
                        "name": "baseline",
                        "kpis": [
                            {
                                "id": "time-to-resolve",
                                "name": "Business time to resolve",
                                "service": "measured",
                                "kind": "time_to_target",
                                "indicator": "lagging",
                                "period": "month",
                                "target_level": "90%",
                                "minimum_level": "80%",
                                "calendar": chosen,
                                "clock": clock,
                                "targets": {"any": _UNBOUNDED},
                                "default_target": _UNBOUNDED,
                            }
                        ],
                    }
                ],
            }
        ],
    }
    origin = "the baseline options (--calendar, --office-hours, --time-zone)"
    contract = parse_contract(document, origin=origin)
    kpi = contract.kpis[0]
    assert isinstance(kpi, TimeToTargetKpi)
    return kpi, contract.calendar_of(kpi), ZoneInfo(zone)


def _check_options(options: BaselineOptions, draft: Contract | None) -> None:
    if options.time_zone is not None:
        try:
            ZoneInfo(options.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"--time-zone: expected an IANA time zone such as Europe/Brussels "
                f"(got {options.time_zone!r})"
            ) from None
    if options.office_hours is not None:
        try:
            WorkingInterval.parse(options.office_hours)
        except ValueError as exc:
            raise ConfigError(f"--office-hours: {exc}") from None
        if options.calendar is not None:
            raise ConfigError("--office-hours and --calendar: give one or the other")
    if options.calendar is not None:
        known = [ALWAYS_NAME, *(draft.calendars if draft is not None else [])]
        if options.calendar not in known:
            raise ConfigError(
                f"--calendar: unknown calendar {options.calendar!r}; expected one of: "
                f"{', '.join(known)} (the draft contract's calendars, with --draft)"
            )
    for name, share in (
        ("--confidence", options.confidence),
        ("--minimum-confidence", options.minimum_confidence),
    ):
        if not 0 < share <= 1:
            raise ConfigError(f"{name}: expected a share above 0% and at most 100% (got {share})")


def _clock_words(kpi: TimeToTargetKpi) -> str:
    parts = []
    for action, trigger in kpi.clock.triggers():
        names = [e.value for e in trigger.events] + [f"state {s}" for s in trigger.states]
        parts.append(f"{action.value}: {', '.join(names)}")
    return "; ".join(parts)


# -- the draft ------------------------------------------------------------------------------------


def _check_draft(
    resolved: list[Resolved], kpi: TimeToTargetKpi, draft: Contract, result: BacktestResult
) -> None:
    """The draft's monthly attainment from the baseline's clock stops equals the backtest's."""
    if kpi.period.kind != "month":
        return
    zone = ZoneInfo(draft.client.time_zone)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in resolved:
        target = kpi.target_for(None if r.priority == NO_PRIORITY else r.priority)
        assert target is not None  # measure_clock only yields stops with a target
        row = counts[month_label(r.at, zone)]
        row[0] += 1
        row[1] += r.elapsed <= target
    for outcome in result.outcomes():
        if outcome.kpi != kpi.id:
            continue
        month = month_label(outcome.period_start, zone)
        measured, good = counts.get(month, [0, 0])
        if (measured, good) != (outcome.measured, outcome.good):
            raise EvidenceError(
                f"baseline of KPI {kpi.id} in {month}: {good}/{measured} within target, but the "
                f"backtest says {outcome.good}/{outcome.measured}; refusing to report figures "
                "that disagree (a bug: please report it with the input)"
            )


def _years(draft: Contract, result: BacktestResult) -> list[DraftYear]:
    zone = ZoneInfo(draft.client.time_zone)
    money: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO_MONEY, ZERO_MONEY, ZERO_MONEY])
    for o in result.outcomes():
        row = money[settlement_year(o.period_end, zone)]
        row[0] += o.credit
        row[1] += o.earned_back
        row[2] += o.gain_share
    return [DraftYear(year, *money[year]) for year in sorted(money)]


def _levels(draft: Contract, result: BacktestResult, options: BaselineOptions) -> list[DraftLevels]:
    out = []
    for kpi in draft.kpis:
        if kpi.indicator != "lagging":
            continue
        measures = [
            o.measure for o in result.outcomes() if o.kpi == kpi.id and o.measure is not None
        ]
        sign = 1.0 if kpi.higher_is_better else -1.0
        flipped = [sign * m for m in measures]
        target = level_met_by(flipped, options.confidence)
        minimum = level_met_by(flipped, options.minimum_confidence)
        out.append(
            DraftLevels(
                kpi=kpi.id,
                shares=kpi.levels_are_shares,
                periods_judged=len(measures),
                target_level=kpi.target_level,
                minimum_level=kpi.minimum_level,
                met_target=sum(1 for m in measures if not kpi.is_better(kpi.target_level, m)),
                suggested_target=None if target is None else sign * target,
                suggested_minimum=None if minimum is None else sign * minimum,
            )
        )
    return out
