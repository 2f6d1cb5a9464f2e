"""A contract in plain words: what it measures, against what, and what money is attached.

``explain(contract)`` is what ``pulse contract check FILE`` prints after validating a contract,
so a service-delivery manager can read back what the file says before anything runs on it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from outcome_pulse.processors.calendar import WEEKDAY_NAMES, BusinessCalendar
from outcome_pulse.processors.contract import (
    ALWAYS_NAME,
    GAUGE_WORDS,
    ClockTrigger,
    Commercial,
    Contract,
    DataQualityKpi,
    EventSelectorSpec,
    FixedCredit,
    KpiBase,
    PeriodSpec,
    RatioKpi,
    ThresholdKpi,
    TimeToTargetKpi,
    TrendKpi,
)
from outcome_pulse.processors.lifecycle import Lifecycle
from outcome_pulse.processors.quantities import (
    format_duration,
    format_money,
    format_share,
    parse_duration,
)


def explain(contract: Contract) -> str:
    """Several paragraphs of plain text describing everything the contract promises."""
    lines = [
        f"Contract {contract.contract}: {contract.title}",
        f"Client: {contract.client.name}. Periods and dates are in {contract.client.time_zone}.",
        "",
    ]
    for i, objective in enumerate(contract.objectives, 1):
        lines.append(f"Objective {i}: {objective.name}")
        for j, outcome in enumerate(objective.outcomes, 1):
            lines.append(f"  Outcome {i}.{j}: {outcome.name}")
            for kpi in outcome.kpis:
                lines.extend("    " + line for line in _kpi(contract, kpi))
        lines.append("")
    lines.append("Services and who is alerted:")
    for name, service in contract.services.items():
        alerts = ", ".join(f"{a.channel} {a.address}" for a in service.owner.alerts)
        lines.append(
            f"  {name} ({service.name}): {service.item_kind.value}s from source "
            f"{service.source}; owner {service.owner.name}, alerted by {alerts}."
        )
    if contract.calendars:
        lines.append("")
        lines.append("Business calendars:")
        for name, calendar in contract.business_calendars.items():
            if name != ALWAYS_NAME:
                lines.append(f"  {name}: {describe_calendar(calendar)}")
    if contract.commercial is not None:
        lines.append("")
        lines.extend(_commercial(contract, contract.commercial))
    return "\n".join(lines).rstrip() + "\n"


# -- KPIs ----------------------------------------------------------------------------------------


def _kpi(contract: Contract, kpi: KpiBase) -> list[str]:
    service = contract.services[kpi.service]
    items = f"{service.item_kind.value}s"
    head = f"KPI {kpi.id} - {kpi.name} ({kpi.indicator}, {_period(kpi.period, contract)})"
    if isinstance(kpi, TimeToTargetKpi):
        body = _time_to_target(contract, kpi, items)
    elif isinstance(kpi, RatioKpi):
        body = _ratio(kpi, items)
    elif isinstance(kpi, ThresholdKpi):
        body = _threshold(kpi, items)
    elif isinstance(kpi, DataQualityKpi):
        body = _data_quality(kpi, items)
    else:
        assert isinstance(kpi, TrendKpi)
        body = _trend(kpi, items)
    return [head, *("  " + line for line in [*body, _levels(kpi)])]


def _time_to_target(contract: Contract, kpi: TimeToTargetKpi, items: str) -> list[str]:
    clock = kpi.clock
    item = items[:-1]
    business = kpi.calendar != ALWAYS_NAME
    unit = "business" if business else ""
    targets = "; ".join(
        f"{priority}: "
        + format_duration(
            parse_duration(text),
            unit_word="business" if kpi.calendar_name(priority) != ALWAYS_NAME else "",
        )
        for priority, text in kpi.targets.items()
    )
    lines = [
        f"Measures the share of {items} whose clock stopped in the period within their target.",
        f"The clock starts {_trigger(clock.start, item)}"
        + (" (counted from the moment the item was opened)" if clock.retroactive_start else "")
        + f" and stops {_trigger(clock.stop, item)}.",
    ]
    if clock.pause is not None and clock.resume is not None:
        lines.append(
            f"It pauses {_trigger(clock.pause, item)} and runs again "
            f"{_trigger(clock.resume, item)}; paused time does not count."
        )
    if clock.reopen is not None:
        lines.append(
            f"It runs again {_trigger(clock.reopen, item)}, keeping the time already used."
        )
    if clock.cancel is not None:
        lines.append(f"It is cancelled {_trigger(clock.cancel, item)}: the {item} is not measured.")
    if not any(Lifecycle.CLOSED in t.events for _, t in clock.triggers()):
        lines.append(
            ("An" if item[:1] in "aeiou" else "A")
            + f" {item} closed while its clock runs "
            + (
                "is measured at the close (stopped there)."
                if clock.on_close == "stop"
                else "is not measured (its clock is cancelled)."
            )
        )
    if business:
        calendar = contract.business_calendars[kpi.calendar]
        lines.append(
            f"Time counts only during calendar {kpi.calendar}: {describe_calendar(calendar)}."
        )
    else:
        lines.append("Time counts around the clock (24x7).")
    for priority, name in kpi.calendars.items():
        own = contract.business_calendars[name]
        lines.append(f"Except priority {priority}: calendar {name}, {describe_calendar(own)}.")
    lines.append(f"Target by priority: {targets}.")
    if kpi.default_target is not None:
        other = format_duration(parse_duration(kpi.default_target), unit_word=unit)
        lines.append(f"Any other priority: {other}.")
    else:
        lines.append(f"{items.capitalize()} of any other priority are not measured.")
    lines.append(
        f"An open {item} is at risk once it has used {format_share(kpi.at_risk_share)} "
        "of its target."
    )
    return lines


def _ratio(kpi: RatioKpi, items: str) -> list[str]:
    return [
        f"Measures {_selector(kpi.good, items)} as a share of {_selector(kpi.total, items)}.",
    ]


def _threshold(kpi: ThresholdKpi, items: str) -> list[str]:
    bound = kpi.bound_value()
    bound_text = format_duration(bound) if not isinstance(bound, float) else f"{bound:g}"
    op = "at most" if kpi.op == "<=" else "at least"
    gauge = GAUGE_WORDS[kpi.gauge].replace("items", items)
    sample = _every(parse_duration(kpi.sample_every))
    lines = [
        f"Samples {gauge} {sample} and measures the share of samples in the period "
        f"at which it was {op} {bound_text}.",
    ]
    if kpi.clock_kpi is not None:
        lines.append(f"At risk as defined by KPI {kpi.clock_kpi}.")
    if kpi.priorities:
        lines.append(f"Only {items} of priority {', '.join(kpi.priorities)} count.")
    return lines


def _data_quality(kpi: DataQualityKpi, items: str) -> list[str]:
    field = kpi.field
    article = "an" if field[:1] in "aeiou" else "a"
    if kpi.of == "items":
        return [
            f"Measures the share of {items} opened in the period that carry {article} {field} "
            "on one of their events before the period ends.",
        ]
    return [
        f"Measures the share of the period's events about {items} (by event time) that carry "
        f"{article} {field}.",
        "Records rejected as dead letters and corrections arriving late are not counted "
        "(the evidence report lists both).",
    ]


def _trend(kpi: TrendKpi, items: str) -> list[str]:
    baseline = {
        "previous_period": "the previous period",
        "same_period_last_year": "the same period a year earlier",
    }[kpi.baseline]
    direction = "fewer is better" if kpi.better == "lower" else "more is better"
    return [
        f"Measures the change in the number of {_selector(kpi.count, items)} against "
        f"{baseline} ({direction}).",
    ]


def _levels(kpi: KpiBase) -> str:
    signed = not kpi.levels_are_shares
    target = format_share(kpi.target_level, signed=signed)
    minimum = format_share(kpi.minimum_level, signed=signed)
    at, beyond = ("at or above", "below") if kpi.higher_is_better else ("at or below", "above")
    text = (
        f"Target level {target} (met {at} it); minimum level {minimum} (missed {beyond} it; "
        "in between, short of target)."
    )
    if kpi.minimum_volume:
        text += f" Periods with fewer than {kpi.minimum_volume} measured are not judged."
    return text


def _period(period: PeriodSpec, contract: Contract) -> str:
    if period.kind == "rolling":
        return f"over a rolling {period.days}-day window"
    return f"per calendar {period.kind} in {contract.client.time_zone}"


def _trigger(trigger: ClockTrigger, item: str) -> str:
    parts = [_VERBS.get(event.value, f"is {event.value}") for event in trigger.events]
    parts += [f"enters state {state!r}" for state in trigger.states]
    return f"when the {item} {_or(parts)}"


_VERBS = {
    "state_changed": "changes state",
    "priority_changed": "changes priority",
    "created": "is created",
    "assigned": "is assigned",
}


def _past(event: str) -> str:
    return {"state_changed": "changing state", "priority_changed": "reprioritised"}.get(
        event, event.replace("_", " ")
    )


def _selector(selector: EventSelectorSpec, items: str) -> str:
    text = f"{items} {_or([_past(e.value) for e in selector.events])}"
    if selector.on_time is True:
        text += " on or before their due date"
    elif selector.on_time is False:
        text += " after their due date"
    if selector.within is not None:
        text += f" within {format_duration(parse_duration(selector.within))} of opening"
    if selector.priorities:
        text += f" (priority {', '.join(selector.priorities)})"
    for name, values in selector.attributes.items():
        text += f" (with {name} {_or(values)})"
    return text


def _every(step: timedelta) -> str:
    text = format_duration(step)
    return "every " + (text[2:] if text.startswith("1 ") and " " not in text[2:] else text)


def _or(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def describe_calendar(calendar: BusinessCalendar) -> str:
    """``Europe/Brussels, mon-fri 08:00-18:00, 9 dated holidays and 7 every year``."""
    if calendar.is_always:
        return f"{calendar.time_zone}, around the clock"
    groups: list[tuple[int, int, str]] = []
    for index, day in enumerate(calendar.week):
        hours = ", ".join(str(interval) for interval in day)
        if groups and groups[-1][2] == hours and groups[-1][1] == index - 1:
            groups[-1] = (groups[-1][0], index, hours)
        else:
            groups.append((index, index, hours))
    days = "; ".join(
        f"{WEEKDAY_NAMES[a]}{'-' + WEEKDAY_NAMES[b] if b > a else ''} {hours}"
        for a, b, hours in groups
        if hours
    )
    holidays = []
    if calendar.holidays:
        holidays.append(f"{len(calendar.holidays)} dated holidays")
    if calendar.yearly_holidays:
        holidays.append(f"{len(calendar.yearly_holidays)} holidays every year")
    tail = f"; closed on {' and '.join(holidays)}" if holidays else ""
    return f"{calendar.time_zone}, {days}{tail}"


# -- money ---------------------------------------------------------------------------------------


def _commercial(contract: Contract, terms: Commercial) -> list[str]:
    money = terms.currency
    at_risk = terms.at_risk_amount
    lines = [
        "Commercial terms:",
        f"  Monthly charge {format_money(terms.monthly_charge, money)}; "
        f"{format_share(terms.at_risk)} of it ({format_money(at_risk, money)}) is at risk "
        "each month.",
    ]
    for kpi_id, share in terms.allocation.items():
        lines.append(
            f"  KPI {kpi_id} carries {format_share(share)} of the at-risk amount "
            f"({format_money(terms.allocated_amount(kpi_id), money)})."
        )
    unallocated = Decimal(1) - sum(Decimal(str(s)) for s in terms.allocation.values())
    if unallocated > 0:
        lines.append(f"  {format_share(float(unallocated))} of the at-risk amount is unallocated.")
    if isinstance(terms.credit, FixedCredit):
        amount = (
            format_money(terms.credit.amount, money)
            if terms.credit.amount is not None
            else f"{format_share(terms.credit.share or 0.0)} of the KPI's allocation"
        )
        lines.append(f"  Credit: {amount} for each period a KPI ends below its minimum level.")
    else:
        lines.append(
            "  Credit: nothing at or above a KPI's target level; its whole allocation at or "
            "below its minimum level; in between, in proportion to the shortfall."
        )
    if terms.cap is not None:
        if terms.cap.monthly is not None:
            lines.append(
                f"  Credits in a month are capped at {format_share(terms.cap.monthly)} of the "
                "monthly charge."
            )
        if terms.cap.yearly is not None:
            lines.append(
                f"  Credits in a year are capped at {format_share(terms.cap.yearly)} of the "
                "year's charges."
            )
    if terms.earn_back is not None:
        n = terms.earn_back.periods
        lines.append(
            f"  Earn-back: a KPI's credit is returned if it beats its target level in each of "
            f"the following {n} period{'s' if n != 1 else ''}."
        )
    for rule in terms.gain_share:
        kpi = contract.kpi(rule.kpi)
        signed = not kpi.levels_are_shares
        word = "at least" if kpi.higher_is_better else "at most"
        bands = "; ".join(
            f"{word} {format_share(band.at_least, signed=signed)}: "
            f"{format_share(band.bonus)} of the monthly charge"
            for band in rule.bands
        )
        lines.append(f"  Gain-share on KPI {rule.kpi} (the highest band reached pays): {bands}.")
    return lines
