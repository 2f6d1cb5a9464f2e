"""Outcome contracts: what the client was promised, as a validated model.

A contract names the client (and its time zone), the business calendars its clocks run on, the
services (each with an owner and where that owner's alerts go), and business objectives broken
down into outcomes, each measured by KPIs. Commercial terms put money on the KPIs: the share of
the monthly charge at risk, its allocation across KPIs, the credit formula, caps, earn-back and
gain-share. ``parse_contract`` validates a parsed YAML document and raises ``ConfigError`` naming
the origin, the field path (``objectives[0].outcomes[1].kpis[0].targets.P2``) and what was
expected. Reading the file is the caller's job (``outcome_pulse.streams.contract_files``); this
module does no I/O. The optional ``alerts:`` section overrides the alert rules' defaults per
contract and per KPI (``outcome_pulse.processors.alerting.rules``).

KPI kinds, and how each maps to OpenSLO (``outcome_pulse.processors.openslo`` exports them):

* ``time_to_target``: a per-item SLA clock (which lifecycle events or states start, pause,
  resume, stop and reopen it), a business-time target per priority on a business calendar or
  24x7, optional retroactive start. Measure: the share of items whose clock stopped in the period
  that met their target. OpenSLO: a *ratio* SLI (good = items stopped within target, total =
  items stopped) with *Occurrences* budgeting; the clock itself has no OpenSLO equivalent and
  travels as annotations.
* ``ratio``: good events over total events, each chosen by an event selector. OpenSLO: a ratio
  SLI with Occurrences budgeting.
* ``threshold``: a gauge (open backlog, backlog age, ...) compared with a bound, sampled every
  ``sample_every``. Measure: the share of samples (time slices) in the period that were within the
  bound. OpenSLO: a *threshold* SLI with *Timeslices* budgeting (``timeSliceWindow`` =
  ``sample_every``).
* ``trend``: the volume of selected events in the period against a baseline period (previous
  period or the same period a year earlier). Measure: the relative change (``-20%``). OpenSLO has
  no equivalent; it is not exported.
* ``data_quality``: how complete the input is. Measure: the share of the period's events (or of
  the items opened in it) that carry a field (``priority_present``, ``assignee_present``).
  OpenSLO: a ratio SLI with Occurrences budgeting.

Periods map to OpenSLO time windows: ``month`` and ``quarter`` are calendar-aligned windows in the
client's time zone (``1M``/``1Q``, ``isRolling: false``); ``rolling Nd`` is a rolling window.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from outcome_pulse.processors.alerting.rules import AlertSettings
from outcome_pulse.processors.calendar import (
    ALWAYS,
    BusinessCalendar,
    WorkingInterval,
    weekday_keys,
)
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.lifecycle import LIFECYCLE_BY_KIND, ItemEvent, ItemKind, Lifecycle
from outcome_pulse.processors.quantities import counts_days, parse_duration, parse_share
from outcome_pulse.processors.sla_clock import ClockAction, ClockPolicy
from outcome_pulse.processors.validation_messages import describe_errors

ALWAYS_NAME = "24x7"
"""The calendar name meaning "every hour of every day" (no calendar needs defining)."""

# -- scalar types ------------------------------------------------------------------------------

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
]
"""A lowercase DNS label (``resolution-p1``): usable as an OpenSLO name and a metric label."""
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            "expected an IANA time zone name such as UTC, Europe/Brussels or America/New_York"
        ) from None
    return value


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value.strip()


def _duration_text(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("expected a duration with a unit, such as 8h, 90m, 4h30m or PT8H")
    return value


def _share(value: Any) -> float:
    return parse_share(value)


def _change(value: Any) -> float:
    return parse_share(value, signed=True)


def _month_day(value: str) -> str:
    try:
        date.fromisoformat(f"2000-{value.strip()}")  # a leap year: 02-29 is allowed
    except ValueError:
        raise ValueError("expected a yearly date as MM-DD, such as 12-25") from None
    return value.strip()


def _bound_text(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_zone)]
DurationText = Annotated[str, BeforeValidator(_duration_text), AfterValidator(_check_duration)]
Share = Annotated[float, BeforeValidator(_share)]
Level = Annotated[float, BeforeValidator(_change)]
"""A target or minimum level: a share (``95%``), or a signed change for trend KPIs (``-20%``)."""
Money = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- client, calendars, services -----------------------------------------------------------------


class Client(_Model):
    """Who the contract is for. ``id`` keys tenancy (database role, Grafana folder and team);
    contracts of one client share it. Without one, the contract is its own client."""

    name: Text
    time_zone: TimeZoneName
    id: Identifier | None = None


class CalendarSpec(_Model):
    """Working hours per weekday (``mon-fri: [09:00-17:00]``), holidays, and the time zone
    (default: the client's). ``holidays`` are dates; ``every_year`` are ``MM-DD`` dates that are
    holidays every year (``12-25``)."""

    time_zone: TimeZoneName | None = None
    hours: dict[str, list[str]] = Field(min_length=1)
    holidays: list[date] = Field(default_factory=list)
    every_year: list[Annotated[str, AfterValidator(_month_day)]] = Field(default_factory=list)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: dict[int, str] = {}
        for key, intervals in value.items():
            for day in weekday_keys(key):
                if day in seen:
                    raise ValueError(
                        f"{key!r} repeats a weekday already given by {seen[day]!r}; "
                        "expected each weekday once"
                    )
                seen[day] = key
            for text in intervals:
                WorkingInterval.parse(text)
        BusinessCalendar.weekly("UTC", cls._weekly(value))  # sorted, not overlapping, not empty
        return value

    @staticmethod
    def _weekly(hours: dict[str, list[str]]) -> dict[int | str, list[str]]:
        return {day: intervals for key, intervals in hours.items() for day in weekday_keys(key)}

    def to_calendar(self, default_zone: str, name: str = "") -> BusinessCalendar:
        zone = self.time_zone or default_zone
        yearly = [(int(text[:2]), int(text[3:])) for text in self.every_year]
        return BusinessCalendar.weekly(
            zone, self._weekly(self.hours), self.holidays, name, yearly_holidays=yearly
        )


class AlertDestination(_Model):
    """Exactly one of: an email address, a Slack channel or webhook, a webhook URL."""

    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    slack: Annotated[str, StringConstraints(pattern=r"^(#[\w.-]+|https://\S+)$")] | None = None
    webhook: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> AlertDestination:
        given = [name for name in ("email", "slack", "webhook") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "expected exactly one of email, slack or webhook "
                f"(got {', '.join(given) or 'none'})"
            )
        return self

    @property
    def channel(self) -> str:
        return "email" if self.email else "slack" if self.slack else "webhook"

    @property
    def address(self) -> str:
        return str(self.email or self.slack or self.webhook)


class Owner(_Model):
    name: Text
    alerts: list[AlertDestination] = Field(min_length=1)


class Service(_Model):
    """A measured service: the event ``source`` it reads and the kind of items it handles."""

    name: Text
    source: Annotated[str, StringConstraints(pattern=r"^\S+$", max_length=256)]
    item_kind: ItemKind
    owner: Owner


# -- what KPIs select ----------------------------------------------------------------------------


def _trigger_shorthand(value: Any) -> Any:
    """``start: created`` or ``start: [created, reopened]`` mean lifecycle events."""
    if isinstance(value, str):
        return {"events": [value]}
    if isinstance(value, list):
        return {"events": value}
    return value


class ClockTrigger(_Model):
    """Lifecycle events and/or item states (the export's status values) that move a clock."""

    events: list[Lifecycle] = Field(default_factory=list)
    states: list[Text] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> ClockTrigger:
        if not self.events and not self.states:
            raise ValueError("expected at least one lifecycle event (events) or state (states)")
        return self

    def matches(self, event: ItemEvent) -> bool:
        return event.lifecycle in self.events or (
            event.state is not None and event.state in self.states
        )


Trigger = Annotated[ClockTrigger, BeforeValidator(_trigger_shorthand)]


class ClockSpec(_Model):
    """Which events start, pause, resume, stop, reopen and cancel the clock of an item.

    ``cancel``: the item is called off (cancelled, a duplicate): its clock ends and measures
    nothing (no resolution, not in the KPI's count). ``on_close`` is what a ``closed`` event
    does to a clock still open when no trigger names ``closed``: ``stop`` (the default) measures
    the item at its close, so an item closed without a resolution still answers for its time
    (closing unresolved items cannot hide a breach); ``cancel`` leaves it out. An order's
    ``cancelled`` event, when no trigger names it, always cancels: there is no delivery to
    measure.
    """

    start: Trigger
    stop: Trigger
    pause: Trigger | None = None
    resume: Trigger | None = None
    reopen: Trigger | None = None
    cancel: Trigger | None = None
    on_close: Literal["stop", "cancel"] = "stop"
    retroactive_start: bool = False

    @model_validator(mode="after")
    def _pairs(self) -> ClockSpec:
        if (self.pause is None) != (self.resume is None):
            missing = "resume" if self.resume is None else "pause"
            raise ValueError(f"{missing}: required when the other of pause/resume is given")
        return self

    def triggers(self) -> Iterator[tuple[ClockAction, ClockTrigger]]:
        for action in ClockAction:
            trigger = getattr(self, action.value)
            if trigger is not None:
                yield action, trigger

    def actions_for(self, event: ItemEvent) -> tuple[ClockAction, ...]:
        """The clock transitions one lifecycle event causes (often none, sometimes several)."""
        by_event_table, by_state_table = self._action_tables
        by_event = by_event_table.get(event.lifecycle, ())
        if event.state is None or event.state not in by_state_table:
            return by_event
        by_state = by_state_table[event.state]
        return tuple(a for a in ClockAction if a in by_event or a in by_state)

    @cached_property
    def _action_tables(
        self,
    ) -> tuple[dict[Lifecycle, tuple[ClockAction, ...]], dict[str, tuple[ClockAction, ...]]]:
        """The actions each lifecycle event and each state triggers (looked up per event)."""
        by_event: dict[Lifecycle, list[ClockAction]] = {}
        by_state: dict[str, list[ClockAction]] = {}
        for action, trigger in self.triggers():
            for lifecycle in trigger.events:
                by_event.setdefault(lifecycle, []).append(action)
            for state in trigger.states:
                by_state.setdefault(state, []).append(action)
        closing = ClockAction.STOP if self.on_close == "stop" else ClockAction.CANCEL
        by_event.setdefault(Lifecycle.CLOSED, [closing])
        by_event.setdefault(Lifecycle.CANCELLED, [ClockAction.CANCEL])
        return (
            {key: tuple(actions) for key, actions in by_event.items()},
            {key: tuple(actions) for key, actions in by_state.items()},
        )


def _selector_shorthand(value: Any) -> Any:
    if isinstance(value, str | list):
        return {"events": [value] if isinstance(value, str) else value}
    return value


class EventSelectorSpec(_Model):
    """Which lifecycle events count: of these kinds, optionally narrowed down.

    ``on_time``: only events at or before the item's due date (or, with ``false``, after it);
    ``within``: only events within this (wall-clock) time of the item's opening.
    """

    events: list[Lifecycle] = Field(min_length=1)
    priorities: list[Text] | None = None
    attributes: dict[str, list[str]] = Field(default_factory=dict)
    on_time: bool | None = None
    within: DurationText | None = None

    def matches(
        self,
        event: ItemEvent,
        *,
        opened_at: datetime | None = None,
        due_at: datetime | None = None,
        priority: str | None = None,
    ) -> bool:
        """Whether ``event`` of an item (opened, due and prioritised as given) is selected."""
        if event.lifecycle not in self.events:
            return False
        if self.priorities is not None and (priority or event.priority) not in self.priorities:
            return False
        for name, allowed in self.attributes.items():
            if event.attributes.get(name) not in allowed:
                return False
        if self.on_time is not None:
            due = due_at or event.due_at
            if due is None or (event.time <= due) is not self.on_time:
                return False
        return self.within is None or (
            opened_at is not None and event.time - opened_at <= parse_duration(self.within)
        )


EventSelector = Annotated[EventSelectorSpec, BeforeValidator(_selector_shorthand)]


def _period(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("month", "quarter"):
            return {"kind": text}
        words = text.split()
        if len(words) == 2 and words[0] == "rolling" and re.fullmatch(r"\d+d", words[1]):
            return {"kind": "rolling", "days": int(words[1][:-1])}
        raise ValueError(
            f"expected month, quarter or rolling Nd such as 'rolling 28d' (got {value!r})"
        )
    return value


class PeriodSpec(_Model):
    """A calendar month or quarter in the client's time zone, or a rolling window of N days."""

    kind: Literal["month", "quarter", "rolling"]
    days: int | None = Field(default=None, ge=1, le=731)

    @model_validator(mode="after")
    def _days(self) -> PeriodSpec:
        if (self.kind == "rolling") != (self.days is not None):
            raise ValueError("expected days for a rolling period, and only for one")
        return self

    @property
    def is_rolling(self) -> bool:
        return self.kind == "rolling"


Period = Annotated[PeriodSpec, BeforeValidator(_period)]


# -- KPIs ----------------------------------------------------------------------------------------


class KpiBase(_Model):
    """What every KPI has. Levels are shares (``95%``) except for trend KPIs (changes).

    ``minimum_volume``: a period with fewer items (events, samples) measured is not judged:
    no status but ``low_volume``, no credit, no bonus (one late incident in a quiet month is
    not a 0% month).
    """

    id: Identifier
    name: Text
    service: Identifier
    indicator: Literal["leading", "lagging"]
    period: Period
    target_level: Level
    minimum_level: Level
    minimum_volume: int = Field(default=0, ge=0, le=1_000_000)
    description: Text | None = None

    # Whether a higher measure is better; trend KPIs decide per contract (``better``).
    @property
    def higher_is_better(self) -> bool:
        return True

    @property
    def levels_are_shares(self) -> bool:
        return True

    def is_better(self, a: float, b: float) -> bool:
        """Whether measure ``a`` is strictly better than ``b``."""
        return a > b if self.higher_is_better else a < b


class TimeToTargetKpi(KpiBase):
    """Per-item SLA clocks against a business-time target per priority (see the module doc).

    ``targets`` are keyed by the items' priority values; ``default_target`` applies to other
    priorities (without it, items of other priorities are not measured). The target of an item
    is the one of its latest priority. ``calendars`` gives some priorities their own calendar
    (``{P1: 24x7, P2: 24x7}``); the others count time on ``calendar``. Like the target, the
    calendar is the one of the priority at the moment measured: at the stop for a resolution,
    at each instant for the at-risk and breached spans.
    """

    kind: Literal["time_to_target"]
    clock: ClockSpec
    calendar: str = ALWAYS_NAME
    calendars: dict[Text, str] = Field(default_factory=dict)
    targets: dict[Text, DurationText] = Field(min_length=1)
    default_target: DurationText | None = None
    at_risk_share: Share = 0.8

    def target_text(self, priority: str | None) -> str | None:
        if priority is not None and priority in self.targets:
            return self.targets[priority]
        return self.default_target

    def calendar_name(self, priority: str | None) -> str:
        """The calendar an item of this priority counts its time on."""
        if priority is not None and priority in self.calendars:
            return self.calendars[priority]
        return self.calendar

    def target_for(self, priority: str | None) -> timedelta | None:
        text = self.target_text(priority)
        return None if text is None else parse_duration(text)

    def policy_for(self, priority: str | None, calendar: BusinessCalendar) -> ClockPolicy | None:
        """The clock policy for an item of this priority (None: the item is not measured)."""
        target = self.target_for(priority)
        if target is None:
            return None
        return ClockPolicy(target, calendar, self.at_risk_share, self.clock.retroactive_start)


class RatioKpi(KpiBase):
    """Good events over total events in the period (e.g. orders delivered on time / orders)."""

    kind: Literal["ratio"]
    good: EventSelector
    total: EventSelector


Gauge = Literal[
    "open_backlog",
    "overdue_backlog",
    "backlog_age_p50",
    "backlog_age_p90",
    "items_at_risk",
    "arrival_completion_ratio",
]
AGE_GAUGES = frozenset({"backlog_age_p50", "backlog_age_p90"})
GAUGE_WORDS = {
    "open_backlog": "the number of open items",
    "overdue_backlog": "the number of open items past their due date",
    "backlog_age_p50": "the median age of open items",
    "backlog_age_p90": "the 90th-percentile age of open items",
    "items_at_risk": "the number of open items at risk of breaching their target",
    "arrival_completion_ratio": "items arriving per item completed",
}


def _op(value: Any) -> Any:
    return {"lte": "<=", "gte": ">=", "le": "<=", "ge": ">="}.get(value, value)


class ThresholdKpi(KpiBase):
    """A gauge compared with a bound, sampled every ``sample_every`` (a time slice).

    The measure is the share of samples in the period within the bound. ``bound`` is a number,
    or a duration for the age gauges. ``items_at_risk`` counts the at-risk items of the
    time-to-target KPI named by ``clock_kpi``.
    """

    kind: Literal["threshold"]
    gauge: Gauge
    op: Annotated[Literal["<=", ">="], BeforeValidator(_op)]
    bound: Annotated[str, BeforeValidator(_bound_text)]
    sample_every: DurationText = "1h"
    priorities: list[Text] | None = None
    clock_kpi: Identifier | None = None

    @property
    def bound_is_duration(self) -> bool:
        return self.gauge in AGE_GAUGES

    def bound_value(self) -> float | timedelta:
        if self.bound_is_duration:
            return parse_duration(self.bound)
        return float(self.bound)


class TrendKpi(KpiBase):
    """The volume of selected events against a baseline period; levels are relative changes.

    With ``better: lower`` (the default) ``target_level: -20%`` promises 20% fewer events than
    the baseline; ``minimum_level`` is the least acceptable change (e.g. ``-10%``).
    """

    kind: Literal["trend"]
    count: EventSelector
    baseline: Literal["previous_period", "same_period_last_year"] = "previous_period"
    better: Literal["lower", "higher"] = "lower"

    @property
    def higher_is_better(self) -> bool:
        return self.better == "higher"

    @property
    def levels_are_shares(self) -> bool:
        return False


QualityMeasure = Literal["priority_present", "assignee_present"]
QUALITY_FIELDS: dict[str, str] = {"priority_present": "priority", "assignee_present": "assignee"}


class DataQualityKpi(KpiBase):
    """How complete the input is: the share of the period's events (``of: events``, by event
    time) or of the items opened in it (``of: items``) that carry ``priority`` or ``assignee``.

    An event carries a field when its ``priority`` (``assignee``) is set; an item carries it
    when any of its events does. ``at least 98% of incidents carry a priority`` is
    ``measure: priority_present, of: items, target_level: 98%``. Over items, an item carries the
    field when one of its events before the end of the month (quarter) it was opened in does,
    so a period's measure is final once the watermark has passed its end.
    """

    kind: Literal["data_quality"]
    measure: QualityMeasure
    of: Literal["events", "items"] = "events"

    @property
    def field(self) -> str:
        """The event field measured: ``priority`` or ``assignee``."""
        return QUALITY_FIELDS[self.measure]


AnyKpi = TimeToTargetKpi | RatioKpi | ThresholdKpi | TrendKpi | DataQualityKpi
Kpi = Annotated[AnyKpi, Field(discriminator="kind")]
KPI_KINDS = ("time_to_target", "ratio", "threshold", "trend", "data_quality")


class Outcome(_Model):
    name: Text
    description: Text | None = None
    kpis: list[Kpi] = Field(min_length=1)


class Objective(_Model):
    name: Text
    description: Text | None = None
    outcomes: list[Outcome] = Field(min_length=1)


# -- commercial terms ----------------------------------------------------------------------------


class LinearCredit(_Model):
    """No credit at or above the target level; the KPI's whole allocation at or below the
    minimum level; in between, proportional to the shortfall from the target."""

    formula: Literal["linear"]


class FixedCredit(_Model):
    """A fixed credit for each period below the minimum level: ``share`` of the KPI's
    allocation, or a fixed ``amount``."""

    formula: Literal["fixed"]
    share: Share | None = None
    amount: Money | None = None

    @model_validator(mode="after")
    def _one(self) -> FixedCredit:
        if (self.share is None) == (self.amount is None):
            raise ValueError("expected exactly one of share (of the allocation) or amount")
        return self


CreditFormula = Annotated[LinearCredit | FixedCredit, Field(discriminator="formula")]


class CreditCap(_Model):
    """Most credit owed: per month (share of the monthly charge), per year (of 12 charges)."""

    monthly: Share | None = None
    yearly: Share | None = None


class EarnBack(_Model):
    """A KPI's credit is returned when it beats its target level in each of the next
    ``periods`` periods."""

    periods: int = Field(ge=1, le=12)


class GainShareBand(_Model):
    """A bonus (share of the monthly charge) for a measure at least ``at_least`` (at most, for
    lower-is-better KPIs)."""

    at_least: Level
    bonus: Share


class GainShareRule(_Model):
    kpi: Identifier
    bands: list[GainShareBand] = Field(min_length=1)


class Commercial(_Model):
    """Money attached to the KPIs.

    ``at_risk`` is the share of the monthly charge that credits can claw back each month;
    ``allocation`` divides that at-risk amount across KPIs (shares adding up to at most 100%).
    A KPI measured per quarter is settled per quarter on three monthly allocations; a rolling
    KPI is settled monthly on the window ending at the month's end.
    """

    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    monthly_charge: Money
    at_risk: Share
    allocation: dict[Identifier, Share] = Field(min_length=1)
    credit: CreditFormula
    cap: CreditCap | None = None
    earn_back: EarnBack | None = None
    gain_share: list[GainShareRule] = Field(default_factory=list)

    @property
    def at_risk_amount(self) -> Decimal:
        return (self.monthly_charge * Decimal(str(self.at_risk))).quantize(Decimal("0.01"))

    def allocated_amount(self, kpi_id: str) -> Decimal:
        share = Decimal(str(self.allocation.get(kpi_id, 0.0)))
        return (self.at_risk_amount * share).quantize(Decimal("0.01"))


# -- monitoring ----------------------------------------------------------------------------------


class Monitoring(_Model):
    """How the contract is evaluated in event time.

    ``sample_every``: the step of the service indicators' series (open backlog, ages, ...).
    ``allowed_lateness``: how far behind the latest event time an event may arrive and still
    count as on time; rows older than that (the watermark) are final, and a later change to them
    is recorded as a correction.
    """

    sample_every: DurationText = "1h"
    allowed_lateness: DurationText = "1h"

    @property
    def step(self) -> timedelta:
        return parse_duration(self.sample_every)

    @property
    def lateness(self) -> timedelta:
        return parse_duration(self.allowed_lateness)


# -- the contract --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlacedKpi:
    """A KPI with where it sits in the contract."""

    path: str
    objective: Objective
    outcome: Outcome
    kpi: AnyKpi


class Contract(_Model):
    """An outcome contract (see the module doc); cross-references are checked on validation."""

    contract: Identifier
    title: Text
    client: Client
    calendars: dict[Identifier, CalendarSpec] = Field(default_factory=dict)
    services: dict[Identifier, Service] = Field(min_length=1)
    objectives: list[Objective] = Field(min_length=1)
    commercial: Commercial | None = None
    monitoring: Monitoring = Field(default_factory=Monitoring)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    # -- navigation -----------------------------------------------------------------------------

    @property
    def client_id(self) -> str:
        """The client's id: ``client.id``, or the contract id when the file names none."""
        return self.client.id or self.contract

    def placed_kpis(self) -> list[PlacedKpi]:
        return [
            PlacedKpi(f"objectives[{i}].outcomes[{j}].kpis[{k}]", objective, outcome, kpi)
            for i, objective in enumerate(self.objectives)
            for j, outcome in enumerate(objective.outcomes)
            for k, kpi in enumerate(outcome.kpis)
        ]

    @property
    def kpis(self) -> list[AnyKpi]:
        return [placed.kpi for placed in self.placed_kpis()]

    def kpi(self, kpi_id: str) -> AnyKpi:
        for kpi in self.kpis:
            if kpi.id == kpi_id:
                return kpi
        raise KeyError(kpi_id)

    def service_of(self, kpi: KpiBase) -> Service:
        return self.services[kpi.service]

    @cached_property
    def business_calendars(self) -> dict[str, BusinessCalendar]:
        """Every calendar by name, plus ``24x7`` (in the client's time zone)."""
        zone = self.client.time_zone
        built = {name: spec.to_calendar(zone, name) for name, spec in self.calendars.items()}
        return {ALWAYS_NAME: BusinessCalendar.always(zone, ALWAYS_NAME), **built}

    def calendar_of(self, kpi: TimeToTargetKpi, priority: str | None = None) -> BusinessCalendar:
        """The calendar of ``kpi`` for items of ``priority`` (its own, or the KPI's)."""
        return self.business_calendars.get(kpi.calendar_name(priority), ALWAYS)

    # -- cross-reference checks -----------------------------------------------------------------

    @model_validator(mode="after")
    def _consistent(self) -> Contract:
        problems = list(self._problems())
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _problems(self) -> Iterator[str]:
        seen: dict[str, str] = {}
        for placed in self.placed_kpis():
            kpi, path = placed.kpi, placed.path
            if kpi.id in seen:
                first = seen[kpi.id]
                yield f"{path}.id: {kpi.id!r} is already the id of {first}; expected unique ids"
            seen.setdefault(kpi.id, path)
            yield from self._kpi_problems(kpi, path)
        if self.commercial is not None:
            yield from self._commercial_problems(self.commercial)
        yield from self.alerts.problems(seen)

    def _kpi_problems(self, kpi: KpiBase, path: str) -> Iterator[str]:
        yield from _level_problems(kpi, path)
        if isinstance(kpi, TimeToTargetKpi):
            yield from self._clock_problems(kpi, path)
        service = self.services.get(kpi.service)
        if service is None:
            yield f"{path}.service: unknown service {kpi.service!r}; expected one of: " + (
                ", ".join(self.services)
            )
            return
        allowed = LIFECYCLE_BY_KIND[service.item_kind]
        for where, events in _events_named(kpi):
            for index, event in enumerate(events):
                if event not in allowed:
                    yield (
                        f"{path}.{where}[{index}]: {event.value!r} is not an event of "
                        f"{service.item_kind.value}s (service {kpi.service!r}); expected one of: "
                        + ", ".join(sorted(lc.value for lc in allowed))
                    )
        if isinstance(kpi, RatioKpi):
            yield from _ratio_problems(kpi, path, service)
        if isinstance(kpi, ThresholdKpi):
            yield from self._threshold_problems(kpi, path, service)
        if isinstance(kpi, DataQualityKpi) and kpi.of == "items" and kpi.period.is_rolling:
            yield (
                f"{path}.period: a data_quality KPI over items counts each item in the month or "
                "quarter it was opened in; expected month or quarter with of: items "
                f"(got rolling {kpi.period.days}d), or of: events"
            )

    def _clock_problems(self, kpi: TimeToTargetKpi, path: str) -> Iterator[str]:
        names = ", ".join([ALWAYS_NAME, *self.calendars])
        named = {"calendar": kpi.calendar}
        named.update({f"calendars.{_key(p)}": c for p, c in kpi.calendars.items()})
        for where, name in named.items():
            if name != ALWAYS_NAME and name not in self.calendars:
                yield f"{path}.{where}: unknown calendar {name!r}; expected one of: {names}"
        written: dict[str, tuple[str | None, str]] = {
            f"targets.{_key(p)}": (p, t) for p, t in kpi.targets.items()
        }
        if kpi.default_target is not None:
            written["default_target"] = (None, kpi.default_target)
        for where, (priority, text) in written.items():
            calendar = kpi.calendar_name(priority)
            if calendar != ALWAYS_NAME and counts_days(text):
                yield (
                    f"{path}.{where}: {text!r} counts days, but a business day's length "
                    f"depends on calendar {calendar!r}; expected business hours "
                    "(e.g. 40h)"
                )

    def _threshold_problems(self, kpi: ThresholdKpi, path: str, service: Service) -> Iterator[str]:
        try:
            kpi.bound_value()
        except ValueError:
            expected = "a duration such as 48h" if kpi.bound_is_duration else "a number"
            yield f"{path}.bound: expected {expected} for gauge {kpi.gauge} (got {kpi.bound!r})"
        if kpi.gauge == "items_at_risk":
            target = next((k for k in self.kpis if k.id == kpi.clock_kpi), None)
            if not isinstance(target, TimeToTargetKpi):
                clocks = ", ".join(k.id for k in self.kpis if isinstance(k, TimeToTargetKpi))
                yield (
                    f"{path}.clock_kpi: expected the id of a time_to_target KPI whose at-risk "
                    f"items are counted (one of: {clocks or 'none defined'}; "
                    f"got {kpi.clock_kpi!r})"
                )
        elif kpi.clock_kpi is not None:
            yield f"{path}.clock_kpi: only the items_at_risk gauge uses a clock KPI"

    def _commercial_problems(self, terms: Commercial) -> Iterator[str]:
        by_id = {kpi.id: kpi for kpi in self.kpis}
        ids = ", ".join(by_id)
        for kpi_id in terms.allocation:
            kpi = by_id.get(kpi_id)
            if kpi is None:
                yield f"commercial.allocation.{kpi_id}: unknown KPI; expected one of: {ids}"
            elif kpi.indicator == "leading":
                yield (
                    f"commercial.allocation.{kpi_id}: {kpi_id!r} is a leading indicator; "
                    "credits attach to lagging KPIs"
                )
        total = sum(terms.allocation.values())
        if total > 1.0 + 1e-9:
            shares = " + ".join(f"{v * 100:g}%" for v in terms.allocation.values())
            yield (
                f"commercial.allocation: the shares add up to {total * 100:g}% ({shares}); "
                "expected at most 100% of the at-risk amount"
            )
        for index, rule in enumerate(terms.gain_share):
            where = f"commercial.gain_share[{index}]"
            kpi = by_id.get(rule.kpi)
            if kpi is None:
                yield f"{where}.kpi: unknown KPI {rule.kpi!r}; expected one of: {ids}"
                continue
            previous = kpi.target_level
            for b, band in enumerate(rule.bands):
                if not kpi.is_better(band.at_least, previous) and not (
                    b == 0 and band.at_least == previous
                ):
                    side = "above" if kpi.higher_is_better else "below"
                    yield (
                        f"{where}.bands[{b}].at_least: expected bands ordered from the KPI's "
                        f"target level outwards, each {side} the one before "
                        f"(got {band.at_least:g} after {previous:g})"
                    )
                previous = band.at_least


def _key(name: str) -> str:
    return name if name.isidentifier() else repr(name).join("[]")


def _level_problems(kpi: KpiBase, path: str) -> Iterator[str]:
    if kpi.levels_are_shares:
        for name in ("target_level", "minimum_level"):
            value = getattr(kpi, name)
            if not 0.0 <= value <= 1.0:
                yield f"{path}.{name}: expected a share between 0% and 100% (got {value:g})"
    if kpi.is_better(kpi.minimum_level, kpi.target_level):
        word = "at most" if kpi.higher_is_better else "at least"
        yield (
            f"{path}.minimum_level: expected {word} the target level {kpi.target_level:g} "
            f"(got {kpi.minimum_level:g}); the minimum is the floor below the target"
        )


def _events_named(kpi: KpiBase) -> Iterator[tuple[str, list[Lifecycle]]]:
    if isinstance(kpi, TimeToTargetKpi):
        for action, trigger in kpi.clock.triggers():
            yield f"clock.{action.value}.events", trigger.events
    elif isinstance(kpi, RatioKpi):
        yield "good.events", kpi.good.events
        yield "total.events", kpi.total.events
    elif isinstance(kpi, TrendKpi):
        yield "count.events", kpi.count.events


def _ratio_problems(kpi: RatioKpi, path: str, service: Service) -> Iterator[str]:
    extra = [e.value for e in kpi.good.events if e not in kpi.total.events]
    if extra:
        yield (
            f"{path}.good.events: {', '.join(extra)} not among total.events; expected every "
            "good event to be counted in the total too"
        )


# -- parsing -------------------------------------------------------------------------------------


def parse_contract(data: Any, *, origin: str = "<contract>") -> Contract:
    """Validate a parsed contract document; ``origin`` (the file) names it in error messages."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"contract {origin}: expected a YAML mapping of keys (contract, title, client, "
            f"services, objectives, ...), got {type(data).__name__}"
        )
    try:
        return Contract.model_validate(data)
    except ValidationError as exc:
        lines = describe_errors(exc, Contract)
        raise ConfigError(f"contract {origin} is invalid:\n  " + "\n  ".join(lines)) from None
