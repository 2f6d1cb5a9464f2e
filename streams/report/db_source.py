"""The evidence of the streaming pipeline: ``pulse report CONTRACT --period YYYY-MM`` reads the
rows the contract monitor wrote (outcomes, points, late events, alerts) and the stored events."""

from __future__ import annotations

from datetime import datetime, timedelta

from outcome_pulse.processors.contract import Contract, RatioKpi, TimeToTargetKpi
from outcome_pulse.processors.evidence import (
    EvidenceInput,
    Provenance,
    outcome_for_month,
    quality_months,
    report_period,
)
from outcome_pulse.processors.item_misses import build_histories
from outcome_pulse.processors.measurements import PeriodOutcome
from outcome_pulse.sinks.evidence_queries import describe_dsn, read_evidence
from outcome_pulse.streams.errors import BrokerError
from outcome_pulse.streams.report.dead_letters import count_dead_letters
from outcome_pulse.streams.report.provenance import engine_version
from outcome_pulse.streams.settings import PulseSettings

DB_ALERTS_NOTE = "Alerts are read from pulse_alerts."


def evidence_from_database(
    settings: PulseSettings, contract: Contract, period: str
) -> EvidenceInput:
    month = report_period(contract, period)
    sources = sorted({service.source for service in contract.services.values()})

    def items_from(outcomes: list[PeriodOutcome]) -> datetime:
        # The items behind the misses of an item-based KPI are those resolved in its reported
        # period, which for a quarterly or rolling KPI starts before the month.
        start = month.start
        for kpi in contract.kpis:
            if isinstance(kpi, TimeToTargetKpi | RatioKpi):
                chosen = outcome_for_month([o for o in outcomes if o.kpi == kpi.id], month)
                if chosen is not None:
                    start = min(start, chosen.period_start)
        return start

    stored = read_evidence(
        settings.dsn,
        contract.contract,
        sources,
        (month.start, month.end),
        items_from,
        quality_months(contract, period),
        contract.client.time_zone,
    )
    try:
        dead, note = count_dead_letters(settings.bootstrap, settings.dead_letter_topic), ""
    except BrokerError as exc:
        dead, note = None, f"not counted: {exc}"
    totals = stored.totals
    lateness: timedelta = contract.monitoring.lateness
    provenance = Provenance(
        origin=describe_dsn(settings.dsn),
        sources=tuple(sources),
        events=totals.events,
        items=totals.items,
        first_event=totals.first,
        last_event=totals.last,
        watermark=None if totals.last is None else totals.last - lateness,
        schema_version=stored.schema_version,
        engine_version=engine_version(),
        dead_letters=dead,
        dead_letters_note=note or f"all records on {settings.dead_letter_topic}, of any source",
        quality=tuple(stored.quality),
        alerts_note=DB_ALERTS_NOTE,
    )
    return EvidenceInput(
        contract=contract,
        period=period,
        outcomes=stored.outcomes,
        points=stored.points,
        histories=build_histories(stored.events).values(),
        provenance=provenance,
        late=stored.late,
        revised=stored.revised,
        alerts=stored.alerts,
    )
