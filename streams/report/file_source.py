"""The evidence of a backtest: ``pulse report CONTRACT --from-file DATA --mapping M``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from outcome_pulse.processors.data_quality import monthly_quality
from outcome_pulse.processors.evidence import (
    AlertRecord,
    EvidenceInput,
    Provenance,
    quality_months,
    report_period,
)
from outcome_pulse.processors.item_misses import build_histories
from outcome_pulse.sinks.schema import SCHEMA_VERSION
from outcome_pulse.streams.drivers.backtest import BacktestResult, item_events
from outcome_pulse.streams.report.provenance import engine_version, sha256_of

NO_BACKTEST_ALERTS = (
    "The backtest does not evaluate alerts yet; alerts appear here once it carries them "
    "(a report from the database shows pulse_alerts)."
)


def evidence_from_backtest(result: BacktestResult, path: Path, period: str) -> EvidenceInput:
    """Everything ``processors.evidence.assemble`` needs, from one backtest of ``path``."""
    contract = result.contract
    mapped = result.mapped
    if mapped is None:
        raise ValueError("evidence_from_backtest needs a backtest of a file (result.mapped)")
    services = {(s.source, s.item_kind) for s in contract.services.values()}
    events = [
        (event, sequence)
        for event, sequence in item_events(mapped.events)
        if (event.source, event.kind) in services
    ]
    times = [event.time for event, _ in events]
    last = max(times) if times else None
    month = report_period(contract, period)
    alerts, note = _alerts(result)
    provenance = Provenance(
        origin=f"file {path.name}",
        sources=tuple(sorted({source for source, _ in services})),
        events=len(events),
        items=len({(e.source, e.item_id) for e, _ in events}),
        first_event=min(times) if times else None,
        last_event=last,
        watermark=None if last is None else last - contract.monitoring.lateness,
        schema_version=SCHEMA_VERSION,
        engine_version=engine_version(),
        input_sha256=sha256_of(path),
        records_read=mapped.records_read,
        dead_letters=dict(sorted(mapped.reasons().items())),
        duplicates=result.duplicates,
        unmonitored=result.unmonitored,
        quality=tuple(
            monthly_quality(
                (e for e, _ in events), {s for s, _ in services}, quality_months(contract, period)
            )
        ),
        alerts_note=note,
    )
    return EvidenceInput(
        contract=contract,
        period=period,
        outcomes=result.outcomes(),
        points=[p for p in result.evaluation.points.values() if month.start <= p.at < month.end],
        histories=build_histories(events).values(),
        provenance=provenance,
        late=result.late,
        alerts=alerts,
    )


def _alerts(result: BacktestResult) -> tuple[list[AlertRecord], str]:
    """Alerts the backtest result carries, when it carries them (``alerts`` rows with the
    ``pulse_alerts`` columns); else none and a note saying so."""
    rows: Any = getattr(result, "alerts", None)
    if rows is None:
        return [], NO_BACKTEST_ALERTS
    alerts = []
    for row in rows:
        annotations = getattr(row, "annotations", None) or {}
        alerts.append(
            AlertRecord(
                alertname=str(row.alertname),
                severity=str(row.severity),
                fired_at=row.fired_at,
                resolved_at=getattr(row, "resolved_at", None),
                service=getattr(row, "service", None),
                kpi=getattr(row, "kpi", None),
                item_id=getattr(row, "item_id", None),
                value=getattr(row, "value", None),
                summary=str(annotations.get("summary", ""))
                if isinstance(annotations, dict)
                else "",
            )
        )
    return alerts, "Alerts evaluated by the backtest, in event time."
