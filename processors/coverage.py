"""Does a contract fit the data it is measured on? Coverage warnings for day-one mistakes.

A contract can be valid and still measure nothing the user meant: targets keyed by ``P1`` while
the export says ``1 - Critical``, a pause state spelt differently from the export's, a KPI that
selects an event the mapping never produces. Each of these gives confident, wrong figures (items
silently not measured, clocks that never pause). ``coverage_warnings`` compares a contract with
the events of a data set and the outcomes evaluated on them, and says, per KPI:

* priorities named in ``targets`` (or ``calendars``, ``priorities``) that never occur;
* priorities that occur but have no target and there is no ``default_target`` (those items are
  not measured at all);
* clock triggers that never fire on the data, and states they name that never occur (a pause
  state spelt differently from the export's); a lifecycle event listed among alternatives that
  do occur, and a ``reopen`` or ``cancel`` that never fires, are only notes (``severe`` False):
  a contract may well prepare for events this data set happens not to have;
* events selected by ratio and trend KPIs that never occur;
* KPIs that measured nothing in any period;
* services whose source has no events in the data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from outcome_pulse.processors.contract import (
    ClockTrigger,
    Contract,
    EventSelectorSpec,
    KpiBase,
    RatioKpi,
    ThresholdKpi,
    TimeToTargetKpi,
    TrendKpi,
)
from outcome_pulse.processors.lifecycle import ItemEvent, Lifecycle
from outcome_pulse.processors.measurements import PeriodOutcome
from outcome_pulse.processors.sla_clock import ClockAction

_LISTED = 8


@dataclass(frozen=True, slots=True)
class CoverageWarning:
    """One mismatch between a contract and the data; ``where`` is the contract's field path."""

    where: str
    message: str
    severe: bool = True

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(slots=True)
class _Seen:
    """What one source's events contain."""

    events: int = 0
    priorities: Counter[str] = field(default_factory=Counter)
    lifecycles: set[Lifecycle] = field(default_factory=set)
    states: set[str] = field(default_factory=set)
    items_by_priority: dict[str, set[str]] = field(default_factory=dict)

    def add(self, event: ItemEvent) -> None:
        self.events += 1
        self.lifecycles.add(event.lifecycle)
        if event.state is not None:
            self.states.add(event.state)
        if event.priority is not None:
            self.priorities[event.priority] += 1
            self.items_by_priority.setdefault(event.priority, set()).add(event.item_id)


def coverage_warnings(
    contract: Contract, events: Iterable[ItemEvent], outcomes: Iterable[PeriodOutcome]
) -> list[CoverageWarning]:
    """Every coverage warning of ``contract`` on ``events`` and their evaluated ``outcomes``."""
    seen: dict[str, _Seen] = {}
    for event in events:
        seen.setdefault(event.source, _Seen()).add(event)
    measured: Counter[str] = Counter()
    for outcome in outcomes:
        measured[outcome.kpi] += outcome.measured
    warnings: list[CoverageWarning] = []
    for service_id, service in contract.services.items():
        if service.source not in seen:
            warnings.append(
                CoverageWarning(
                    f"services.{service_id}.source",
                    f"no events of source {service.source!r} in the data; sources seen: "
                    + (_listed(sorted(seen)) or "none"),
                )
            )
    for placed in contract.placed_kpis():
        kpi = placed.kpi
        data = seen.get(contract.service_of(kpi).source)
        if data is None:
            continue
        warnings.extend(
            CoverageWarning(f"{placed.path}.{w}", m, severe) for w, m, severe in _kpi(kpi, data)
        )
        if measured[kpi.id] == 0:
            warnings.append(
                CoverageWarning(placed.path, f"KPI {kpi.id!r} measured nothing in any period")
            )
    return warnings


_OPTIONAL_ACTIONS = frozenset({ClockAction.REOPEN, ClockAction.CANCEL})


def _kpi(kpi: KpiBase, seen: _Seen) -> Iterator[tuple[str, str, bool]]:
    if isinstance(kpi, TimeToTargetKpi):
        yield from _priorities("targets", kpi.targets, seen)
        yield from _priorities("calendars", kpi.calendars, seen)
        if kpi.default_target is None:
            for priority in sorted(seen.priorities):
                if priority not in kpi.targets:
                    items = len(seen.items_by_priority[priority])
                    yield (
                        "targets",
                        f"priority {priority!r} occurs ({items:,} items) but has no target and "
                        "there is no default_target: those items are not measured",
                        True,
                    )
        for action, trigger in kpi.clock.triggers():
            yield from _trigger(action, trigger, seen)
    elif isinstance(kpi, RatioKpi):
        yield from _selector("good", kpi.good, seen)
        yield from _selector("total", kpi.total, seen)
    elif isinstance(kpi, TrendKpi):
        yield from _selector("count", kpi.count, seen)
    elif isinstance(kpi, ThresholdKpi) and kpi.priorities:
        yield from _priorities("priorities", {p: "" for p in kpi.priorities}, seen)


def _trigger(
    action: ClockAction, trigger: ClockTrigger, seen: _Seen
) -> Iterator[tuple[str, str, bool]]:
    fires = any(lc in seen.lifecycles for lc in trigger.events) or any(
        state in seen.states for state in trigger.states
    )
    where = f"clock.{action.value}"
    if not fires:
        named = [lc.value for lc in trigger.events] + list(trigger.states)
        yield (
            where,
            f"never fires on this data: none of {_listed(named)} occurs; events seen: "
            + _listed(sorted(lc.value for lc in seen.lifecycles)),
            action not in _OPTIONAL_ACTIONS,
        )
        return
    for lifecycle in trigger.events:
        if lifecycle not in seen.lifecycles:
            yield f"{where}.events", f"{lifecycle.value!r} never occurs in the data", False
    for state in trigger.states:
        if state not in seen.states:
            yield (
                f"{where}.states",
                f"state {state!r} never occurs in the data; states seen: "
                + _listed(sorted(seen.states)),
                True,
            )


def _selector(
    where: str, selector: EventSelectorSpec, seen: _Seen
) -> Iterator[tuple[str, str, bool]]:
    for lifecycle in selector.events:
        if lifecycle not in seen.lifecycles:
            yield (
                f"{where}.events",
                f"{lifecycle.value!r} never occurs in the data; events seen: "
                + _listed(sorted(lc.value for lc in seen.lifecycles)),
                True,
            )
    if selector.priorities:
        yield from _priorities(f"{where}.priorities", {p: "" for p in selector.priorities}, seen)


def _priorities(where: str, named: dict[str, str], seen: _Seen) -> Iterator[tuple[str, str, bool]]:
    for priority in named:
        if priority not in seen.priorities:
            yield (
                where,
                f"priority {priority!r} never occurs in the data; priorities seen: "
                + (_listed(sorted(seen.priorities)) or "none (the mapping sets no priority)"),
                True,
            )


def _listed(values: list[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:_LISTED])
    return shown + (f" and {len(values) - _LISTED} more" if len(values) > _LISTED else "")
