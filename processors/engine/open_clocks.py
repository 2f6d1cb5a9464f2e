"""Open SLA clocks read at an instant: the state of every item whose time-to-target clock is
open then (elapsed, share of target used, at risk, breached, predicted breach).

``read_open_clocks`` is what the engine writes as ``pulse_open_item_clocks`` (read at the
latest event time); the forecasting work reads the same at each sample instant."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from outcome_pulse.processors.clock_measures import read_open_clock
from outcome_pulse.processors.contract import Contract, TimeToTargetKpi
from outcome_pulse.processors.engine.contribution import calendar_for
from outcome_pulse.processors.item_history import ItemHistory
from outcome_pulse.processors.measurements import OpenClock


def read_open_clocks(
    contract: Contract,
    service_id: str,
    kpi: TimeToTargetKpi,
    items: Iterable[ItemHistory],
    at: datetime,
) -> Iterator[OpenClock]:
    """The clocks of ``kpi`` open at ``at`` among ``items``, read then."""
    calendar = calendar_for(contract, kpi)
    for item in items:
        reading = read_open_clock(item, kpi, calendar, at)
        if reading is None:
            continue
        priority = item.priorities.value_at(at)
        yield OpenClock(
            contract=contract.contract,
            kpi=kpi.id,
            service=service_id,
            source=item.source,
            item_id=item.item_id,
            priority=None if priority is None else str(priority),
            status=reading.status.value,
            started_at=reading.started_at,
            elapsed_seconds=reading.elapsed.total_seconds(),
            target_seconds=reading.target.total_seconds(),
            share_used=reading.share_used,
            at_risk=reading.at_risk,
            breached=reading.breached,
            breach_at=reading.breach_at,
            as_of=at,
        )
