"""Export a contract's service-level part as OpenSLO v1 documents.

What maps, and how (see also ``outcome_pulse.processors.contract``):

* each service -> a ``Service``; each owner's alert destination -> an
  ``AlertNotificationTarget``;
* ``time_to_target`` and ``ratio`` KPIs -> an ``SLO`` with an inline *ratio* SLI
  (``ratioMetric``: good and total counts) and ``budgetingMethod: Occurrences``. For a clock KPI
  good = items whose clock stopped within target, total = items whose clock stopped; the clock
  itself (triggers, calendar, targets per priority) has no OpenSLO field and is carried in
  ``metadata.annotations`` under ``outcome-pulse/*``;
* ``data_quality`` KPIs -> the same ratio SLO: good = events (items) carrying the field,
  total = events (items opened), the field in the good source's ``carries``;
* ``threshold`` KPIs -> an ``SLO`` with an inline *threshold* SLI (``thresholdMetric``) and
  ``budgetingMethod: Timeslices``: ``op``/``value`` are the bound, ``timeSliceWindow`` the
  sampling step (one sample per slice, so ``timeSliceTarget: 1``), ``target`` the level;
* periods -> ``timeWindow``: month ``1M`` / quarter ``1Q`` calendar-aligned in the client's time
  zone (``isRolling: false``), ``rolling Nd`` -> ``Nd`` with ``isRolling: true``;
* ``trend`` KPIs and commercial terms have no OpenSLO equivalent and are not exported.

The metric sources are of type ``outcome-pulse``: their ``spec`` says which series of this
pipeline holds the numbers, so an importer knows where to read them.
"""

from __future__ import annotations

from typing import Any

from outcome_pulse.processors.contract import (
    ALWAYS_NAME,
    Contract,
    DataQualityKpi,
    EventSelectorSpec,
    KpiBase,
    PeriodSpec,
    RatioKpi,
    ThresholdKpi,
    TimeToTargetKpi,
)
from outcome_pulse.processors.quantities import parse_duration

API_VERSION = "openslo/v1"
SOURCE_TYPE = "outcome-pulse"
_CALENDAR_START = "2000-01-01 00:00:00"  # any period start: months and quarters align to it


def to_openslo(contract: Contract) -> list[dict[str, Any]]:
    """OpenSLO documents (as plain dicts, ready for ``yaml.safe_dump_all``)."""
    docs: list[dict[str, Any]] = []
    for name, service in contract.services.items():
        docs.append(
            _doc(
                "Service",
                name,
                service.name,
                {"description": f"{service.item_kind.value}s from source {service.source}"},
            )
        )
        for index, alert in enumerate(service.owner.alerts):
            docs.append(
                _doc(
                    "AlertNotificationTarget",
                    f"{name}-owner-{index}",
                    f"{service.owner.name} ({alert.channel})",
                    {
                        "description": f"{alert.channel} {alert.address}",
                        "target": alert.channel,
                    },
                )
            )
    for kpi in contract.kpis:
        if isinstance(kpi, TimeToTargetKpi | RatioKpi | ThresholdKpi | DataQualityKpi):
            docs.append(_slo(contract, kpi))
    return docs


def _doc(kind: str, name: str, display: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "displayName": display},
        "spec": spec,
    }


def _slo(
    contract: Contract, kpi: TimeToTargetKpi | RatioKpi | ThresholdKpi | DataQualityKpi
) -> dict[str, Any]:
    objective: dict[str, Any] = {"displayName": kpi.name, "target": kpi.target_level}
    if isinstance(kpi, ThresholdKpi):
        indicator = {"thresholdMetric": _source(contract, kpi, "gauge", gauge=kpi.gauge)}
        budgeting = "Timeslices"
        bound = kpi.bound_value()
        objective |= {
            "op": "lte" if kpi.op == "<=" else "gte",
            "value": bound if isinstance(bound, float) else bound.total_seconds(),
            "timeSliceTarget": 1.0,
            "timeSliceWindow": _window(kpi.sample_every),
        }
    else:
        indicator = {
            "ratioMetric": {
                "counter": True,
                "good": _source(contract, kpi, "good"),
                "total": _source(contract, kpi, "total"),
            }
        }
        budgeting = "Occurrences"
    doc = _doc(
        "SLO",
        kpi.id,
        kpi.name,
        {
            "description": f"{kpi.indicator} KPI of contract {contract.contract}",
            "service": kpi.service,
            "indicator": {"metadata": {"name": f"{kpi.id}-sli"}, "spec": indicator},
            "timeWindow": [_time_window(kpi.period, contract.client.time_zone)],
            "budgetingMethod": budgeting,
            "objectives": [objective],
        },
    )
    doc["metadata"]["annotations"] = _annotations(kpi)
    return doc


def _source(contract: Contract, kpi: KpiBase, side: str, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"contract": contract.contract, "kpi": kpi.id, "series": side, **extra}
    if isinstance(kpi, RatioKpi):
        selector: EventSelectorSpec = getattr(kpi, side)
        spec["events"] = [event.value for event in selector.events]
        if selector.on_time is not None:
            spec["on_time"] = selector.on_time
    if isinstance(kpi, DataQualityKpi):
        spec["of"] = kpi.of
        if side == "good":
            spec["carries"] = kpi.field
    return {"metricSource": {"type": SOURCE_TYPE, "spec": spec}}


def _time_window(period: PeriodSpec, time_zone: str) -> dict[str, Any]:
    if period.is_rolling:
        return {"duration": f"{period.days}d", "isRolling": True}
    return {
        "duration": "1M" if period.kind == "month" else "1Q",
        "isRolling": False,
        "calendar": {"startTime": _CALENDAR_START, "timeZone": time_zone},
    }


def _window(text: str) -> str:
    minutes = int(parse_duration(text).total_seconds() // 60)
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def _annotations(kpi: KpiBase) -> dict[str, str]:
    notes = {
        "outcome-pulse/indicator": kpi.indicator,
        "outcome-pulse/minimum-level": f"{kpi.minimum_level:g}",
    }
    if isinstance(kpi, TimeToTargetKpi):
        clock = kpi.clock
        for action, trigger in clock.triggers():
            notes[f"outcome-pulse/clock-{action.value}"] = ",".join(
                [e.value for e in trigger.events] + [f"state:{s}" for s in trigger.states]
            )
        notes["outcome-pulse/calendar"] = kpi.calendar if kpi.calendar else ALWAYS_NAME
        notes["outcome-pulse/targets"] = ",".join(f"{p}={t}" for p, t in kpi.targets.items())
        notes["outcome-pulse/retroactive-start"] = str(clock.retroactive_start).lower()
    return notes
