"""What-if scenarios: a change to the history (or the contract) applied before evaluating it.

A scenario file is YAML validated like a contract (``parse_scenario``; errors name the field,
``changes[1].factor``). Its ``changes`` apply in order:

* ``scale_resolution``: the business time to resolve of the selected items is multiplied by
  ``factor``. Every event after the item's opening moves to the instant whose business time
  since the opening is ``factor`` times its own, on the calendar of the contract's clock KPI for
  the item's service (24x7 when it has none, e.g. orders), so every running stretch of the clock,
  and with it the elapsed business time at each stop, scales by exactly ``factor``. Due dates do
  not move.
* ``remove_waits``: waits of a kind (events of the given lifecycle kinds and/or export states)
  are taken out: each becomes a plain state change (keeping its priority, assignee and
  attributes; an order's is dropped), and an item's opening event is never touched.
  ``mode: shift`` (default): the wait never happened, so each later event of the item moves
  earlier by the waits before it (a wait lasts until the item's next event); ``mode: count``:
  time is not taken out, so a wait that paused the clock simply no longer does.
* ``scale_arrivals``: the number of items is multiplied by ``factor`` by resampling items with a
  seeded generator (``seed``): fewer by keeping a random subset, more by adding copies of random
  items (ids suffixed ``~1``, ``~2``, ...). There is no queueing model: a copy keeps its
  original's handling times.
* ``change_contract``: targets, levels or calendars of the contract changed (``kpi``,
  ``target_level``, ``minimum_level``, ``targets``, ``default_target``, ``calendar``; or
  ``calendars`` to redefine business hours). The changed contract is validated again.

Selections (``select``) match an item by its priorities (any it had) and attributes (any event's).
The result depends only on the scenario, the events and the seed.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from outcome_pulse.processors.calendar import ALWAYS, BusinessCalendar
from outcome_pulse.processors.contract import (
    CalendarSpec,
    Contract,
    DurationText,
    Level,
    Text,
    TimeToTargetKpi,
    parse_contract,
)
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind, Lifecycle
from outcome_pulse.processors.validation_messages import describe_errors

Events = list[tuple[ItemEvent, int]]
_OPENING = frozenset({Lifecycle.CREATED, Lifecycle.PLACED})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selection(_Model):
    """Items to change: with any of these priorities and/or attribute values (all items if
    empty)."""

    priorities: list[Text] | None = None
    attributes: dict[str, list[str]] = Field(default_factory=dict)


class ScaleResolution(_Model):
    kind: Literal["scale_resolution"]
    factor: float = Field(gt=0, le=100)
    select: Selection = Field(default_factory=Selection)


class RemoveWaits(_Model):
    kind: Literal["remove_waits"]
    events: list[Lifecycle] = Field(default_factory=list)
    states: list[Text] = Field(default_factory=list)
    mode: Literal["shift", "count"] = "shift"
    select: Selection = Field(default_factory=Selection)

    @model_validator(mode="after")
    def _something(self) -> RemoveWaits:
        if not self.events and not self.states:
            raise ValueError("expected the waits to remove: events and/or states")
        return self


class ScaleArrivals(_Model):
    kind: Literal["scale_arrivals"]
    factor: float = Field(gt=0, le=10)
    seed: int = 0


class ChangeContract(_Model):
    kind: Literal["change_contract"]
    kpi: str | None = None
    target_level: Level | None = None
    minimum_level: Level | None = None
    targets: dict[Text, DurationText] | None = None
    default_target: DurationText | None = None
    calendar: str | None = None
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict)


Change = Annotated[
    ScaleResolution | RemoveWaits | ScaleArrivals | ChangeContract, Field(discriminator="kind")
]


class Scenario(_Model):
    name: Text
    description: Text | None = None
    changes: list[Change] = Field(min_length=1)


def parse_scenario(data: Any, *, origin: str = "<scenario>") -> Scenario:
    if not isinstance(data, dict):
        raise ConfigError(
            f"scenario {origin}: expected a YAML mapping with name and changes, "
            f"got {type(data).__name__}"
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = describe_errors(exc, Scenario)
        raise ConfigError(f"scenario {origin} is invalid:\n  " + "\n  ".join(lines)) from None


@dataclass(frozen=True, slots=True)
class Applied:
    contract: Contract
    events: Events
    notes: tuple[str, ...]


def apply_scenario(scenario: Scenario, contract: Contract, events: Events) -> Applied:
    """The scenario's history and contract (events sorted by time, stably)."""
    notes: list[str] = []
    for index, change in enumerate(scenario.changes):
        where = f"changes[{index}]"
        if isinstance(change, ScaleResolution):
            events, note = _scale_resolution(change, contract, events)
        elif isinstance(change, RemoveWaits):
            events, note = _remove_waits(change, events)
        elif isinstance(change, ScaleArrivals):
            events, note = _scale_arrivals(change, events)
        else:
            contract, note = _change_contract(change, contract, where)
        notes.append(f"{where} ({change.kind}): {note}")
    ordered = sorted(events, key=lambda pair: pair[0].time)
    return Applied(contract, ordered, tuple(notes))


# -- history -------------------------------------------------------------------------------------


def _by_item(events: Events) -> dict[tuple[str, str], Events]:
    items: dict[tuple[str, str], Events] = defaultdict(list)
    for pair in events:
        items[(pair[0].source, pair[0].item_id)].append(pair)
    for pairs in items.values():
        pairs.sort(key=lambda p: (p[0].time, p[1], p[0].event_id))
    return items


def _selected(selection: Selection, pairs: Events) -> bool:
    if selection.priorities is not None and not any(
        e.priority in selection.priorities for e, _ in pairs
    ):
        return False
    for name, allowed in selection.attributes.items():
        if not any(e.attributes.get(name) in allowed for e, _ in pairs):
            return False
    return True


def _calendars(contract: Contract) -> dict[tuple[str, str], BusinessCalendar]:
    """The calendar of the first clock KPI of each service, by (source, item kind)."""
    out: dict[tuple[str, str], BusinessCalendar] = {}
    for kpi in contract.kpis:
        if isinstance(kpi, TimeToTargetKpi):
            service = contract.service_of(kpi)
            out.setdefault((service.source, service.item_kind.value), contract.calendar_of(kpi))
    return out


def _scale_resolution(
    change: ScaleResolution, contract: Contract, events: Events
) -> tuple[Events, str]:
    calendars = _calendars(contract)
    out: Events = []
    changed = 0
    for (source, _), pairs in _by_item(events).items():
        if not _selected(change.select, pairs):
            out.extend(pairs)
            continue
        changed += 1
        calendar = calendars.get((source, pairs[0][0].kind.value), ALWAYS)
        opened = pairs[0][0].time
        for event, sequence in pairs:
            offset = calendar.business_time_between(opened, event.time)
            if change.factor == 1 or not offset:
                out.append((event, sequence))  # nothing to scale (before business time began)
                continue
            moved = calendar.add_business_time(opened, offset * change.factor)
            out.append((replace(event, time=moved), sequence))
    return out, f"{changed:,} items' business time to resolve x{change.factor:g}"


def _is_wait(change: RemoveWaits, event: ItemEvent) -> bool:
    if event.lifecycle in _OPENING:
        return False  # an item's opening is never taken out, whatever its state says
    return event.lifecycle in change.events or (
        event.state is not None and event.state in change.states
    )


def _neutral(event: ItemEvent) -> ItemEvent | None:
    """A waiting event without its wait: a plain state change keeping its priority, assignee and
    attributes (orders have no plain state change: the event goes)."""
    if event.kind is ItemKind.ORDER:
        return None
    return replace(event, lifecycle=Lifecycle.STATE_CHANGED, state=None)


def _remove_waits(change: RemoveWaits, events: Events) -> tuple[Events, str]:
    out: Events = []
    removed = 0
    total = timedelta(0)
    for pairs in _by_item(events).values():
        if not _selected(change.select, pairs):
            out.extend(pairs)
            continue
        shift = timedelta(0)
        for index, (event, sequence) in enumerate(pairs):
            moved = replace(event, time=event.time - shift) if shift else event
            if not _is_wait(change, event):
                out.append((moved, sequence))
                continue
            removed += 1
            neutral = _neutral(moved)
            if neutral is not None:
                out.append((neutral, sequence))
            if change.mode == "shift" and index + 1 < len(pairs):
                waited = pairs[index + 1][0].time - event.time
                shift += waited
                total += waited
    mode = (
        f"later events moved earlier by {total.total_seconds() / 3600:,.0f} h in all"
        if change.mode == "shift"
        else "the clock no longer pauses for them"
    )
    return out, f"{removed:,} waits taken out; {mode}"


def _scale_arrivals(change: ScaleArrivals, events: Events) -> tuple[Events, str]:
    items = _by_item(events)
    keys = sorted(items)
    rng = random.Random(change.seed)
    wanted = round(len(keys) * change.factor)
    if wanted <= len(keys):
        kept = set(rng.sample(keys, wanted))
        out = [pair for key in keys if key in kept for pair in items[key]]
        return out, f"{wanted:,} of {len(keys):,} items kept (seed {change.seed})"
    out = [pair for key in keys for pair in items[key]]
    copies: dict[tuple[str, str], int] = defaultdict(int)
    for _ in range(wanted - len(keys)):
        key = rng.choice(keys)
        copies[key] += 1
        suffix = f"~{copies[key]}"
        for event, sequence in items[key]:
            out.append(
                (
                    replace(
                        event,
                        item_id=event.item_id + suffix,
                        event_id=event.event_id + suffix,
                    ),
                    sequence,
                )
            )
    added = wanted - len(keys)
    return out, f"{added:,} resampled copies added to {len(keys):,} items (seed {change.seed})"


# -- the contract --------------------------------------------------------------------------------


def _change_contract(
    change: ChangeContract, contract: Contract, where: str
) -> tuple[Contract, str]:
    document = contract.model_dump(mode="json", exclude_none=True)
    said: list[str] = []
    for name, spec in change.calendars.items():
        document.setdefault("calendars", {})[name] = spec.model_dump(mode="json", exclude_none=True)
        said.append(f"calendar {name} redefined")
    fields = {
        "target_level": change.target_level,
        "minimum_level": change.minimum_level,
        "targets": change.targets,
        "default_target": change.default_target,
        "calendar": change.calendar,
    }
    given = {k: v for k, v in fields.items() if v is not None}
    if given:
        if change.kpi is None:
            raise ConfigError(f"scenario {where}.kpi: expected the id of the KPI to change")
        placed = [
            kpi
            for objective in document["objectives"]
            for outcome in objective["outcomes"]
            for kpi in outcome["kpis"]
            if kpi["id"] == change.kpi
        ]
        if not placed:
            ids = ", ".join(k.id for k in contract.kpis)
            raise ConfigError(
                f"scenario {where}.kpi: unknown KPI {change.kpi!r}; expected one of: {ids}"
            )
        placed[0].update(given)
        said.append(f"{change.kpi}: " + ", ".join(f"{k} {v}" for k, v in given.items()))
    changed = parse_contract(document, origin=f"{contract.contract} as changed by {where}")
    return changed, "; ".join(said) or "nothing changed"
