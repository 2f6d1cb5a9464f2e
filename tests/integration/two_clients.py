"""A database holding two clients' replays, for the dashboard and isolation tests.

The real help desk log is mapped by the built-in mapping, written by the real sink
(``PostgresSink``: pulse_events, pulse_item_states) and evaluated by the real contract monitor
(``ContractMonitor``: indicator points, period outcomes, open clocks, pulse_contracts) for two
contracts: the example ``contracts/helpdesk_tickets.yaml`` (client ``software-house``) and a copy
with another id, client (``rival-client``) and monthly charge, so its money differs. One event
is then sent far behind the watermark, so the monitor records a real late correction.

The schema-v4 tables the pipeline on this branch does not fill yet (period forecasts, alerts,
drift signals, breach probabilities) get rows derived from the replayed results in the shapes the
migration defines, for both contracts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg.conninfo import make_conninfo

from outcome_pulse.processors.contract import Contract, parse_contract
from outcome_pulse.processors.item_state import ItemState, apply_event, state_row
from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.sinks.event_sink import PostgresSink
from outcome_pulse.sinks.monitor_store import MonitorStore
from outcome_pulse.sinks.schema import migrate
from outcome_pulse.sinks.tenants import add_provider, add_tenant
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.monitor import ContractMonitor
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.wire.events import EventEnvelope, build_envelope
from tests.datasets import dataset

REPO = Path(__file__).resolve().parents[2]
CLIENT_A = "software-house"
CLIENT_B = "rival-client"


@dataclass(frozen=True)
class TwoClients:
    dsn: str
    a: Contract
    b: Contract
    roles: dict[str, str]  # client id (or "provider") -> role

    def as_role(self, who: str) -> str:
        return make_conninfo(self.dsn, user=self.roles[who])


def contract_b(path: Path) -> Contract:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["contract"] = "helpdesk-tickets-rival"
    data["title"] = "Rival's copy of the help desk contract"
    data["client"] = {**data["client"], "id": CLIENT_B, "name": "Rival client (test copy)"}
    data["commercial"]["monthly_charge"] = 55000
    return parse_contract(data, origin="contract B (test copy)")


def _states(events: list[EventEnvelope]) -> list[dict[str, Any]]:
    states: dict[str, ItemState] = {}
    for envelope in events:
        states[envelope.subject] = apply_event(
            states.get(envelope.subject), envelope.to_item_event(), envelope.sequence
        )
    return [state_row(s) for s in states.values()]


async def _replay(dsn: str, contracts: list[Contract], events: list[EventEnvelope]) -> None:
    async with PostgresSink(dsn) as sink:
        for start in range(0, len(events), 5000):
            chunk = events[start : start + 5000]
            await sink.write(chunk, _states(chunk) if start == 0 else [])
        await sink.write([], _states(events))
    monitor = ContractMonitor(contracts, MonitorStore(dsn, owner="two-clients"))
    try:
        report = await monitor.tick()
        assert report.rebuilt and report.outcomes_written > 0
        late = _late_event(events)
        async with PostgresSink(dsn) as sink:
            await sink.write([late], [])
        report = await monitor.tick()
        assert report.late_events == len(contracts), report
    finally:
        await monitor.close()


def _late_event(events: list[EventEnvelope]) -> EventEnvelope:
    """A status change of a real early ticket, sent after the whole log: a correction."""
    first = events[len(events) // 10]
    return build_envelope(
        event_id="late-correction-1",
        source=first.source,
        kind=ItemKind.TICKET,
        lifecycle=Lifecycle.STATE_CHANGED,
        time=first.time + timedelta(minutes=1),
        item_id=first.subject,
        state="Late correction",
    )


def _fill_v4(conn: psycopg.Connection) -> None:
    # The running (latest) period of each KPI: a forecast in the migration's shape, where the
    # monitor wrote none (it writes its own for the KPIs its breach model forecasts).
    conn.execute(
        """
        INSERT INTO pulse_period_forecasts
        SELECT DISTINCT ON (contract, kpi)
               contract, kpi, service, period, period_start, period_end,
               period_start + (period_end - period_start) / 2, measured, good, measure,
               least(1.0, coalesce(measure, 0) * 1.01), 0.4, 0.8,
               greatest(0, measured / 10 - (measured - good)), measured / 5,
               credit_due * 0.5, currency
        FROM pulse_period_outcomes
        ORDER BY contract, kpi, period_start DESC
        ON CONFLICT (contract, kpi, period_start) DO NOTHING
        """
    )
    conn.execute(
        "UPDATE pulse_open_item_clocks SET breach_probability = least(1.0, share_used * 0.9)"
    )
    conn.execute(
        """
        INSERT INTO pulse_alerts
        SELECT DISTINCT ON (k.contract)
               k.contract, md5(k.contract || k.kpi || k.item_id), k.as_of - interval '2 hours',
               NULL, 'ItemAboutToBreach', 'page', k.service, k.kpi, k.item_id,
               k.breach_probability,
               jsonb_build_object('alertname', 'ItemAboutToBreach', 'contract', k.contract),
               jsonb_build_object('summary', k.item_id || ' is about to breach its target')
        FROM pulse_open_item_clocks k
        ORDER BY k.contract, k.share_used DESC
        """
    )
    conn.execute(
        """
        INSERT INTO pulse_alerts
        SELECT DISTINCT ON (contract)
               contract, md5(contract || 'burn'), period_start + interval '3 days',
               period_start + interval '5 days', 'ErrorBudgetBurn', 'ticket', service, kpi,
               NULL, 6.0, jsonb_build_object('alertname', 'ErrorBudgetBurn'),
               jsonb_build_object('summary', 'budget burning 6x')
        FROM pulse_period_outcomes
        ORDER BY contract, period_start DESC
        """
    )
    conn.execute(
        """
        INSERT INTO pulse_drift_signals
        SELECT DISTINCT ON (contract, service)
               contract, service, 'arrivals', period_start + interval '1 day',
               period_start + interval '12 hours', 'up', 0.4, 10.0, 14.0
        FROM pulse_period_outcomes
        ORDER BY contract, service, period_start DESC
        """
    )


def build(admin_dsn: str, dsn: str) -> Iterator[TwoClients]:
    """Fill the empty database ``dsn`` (see the module doc) and yield it."""
    migrate(dsn)
    path = REPO / "contracts" / "helpdesk_tickets.yaml"
    a, b = load_contract(path), contract_b(path)
    events = map_file(dataset("helpdesk"), load_mapping("helpdesk")).events
    asyncio.run(_replay(dsn, [a, b], events))
    with psycopg.connect(dsn, autocommit=True) as conn:
        _fill_v4(conn)
    roles = {
        CLIENT_A: add_tenant(dsn, CLIENT_A).role,
        CLIENT_B: add_tenant(dsn, CLIENT_B).role,
        "provider": add_provider(dsn).role,
    }
    del admin_dsn
    yield TwoClients(dsn, a, b, roles)


def newest(dsn: str, sql: str) -> datetime:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None and row[0] is not None
    return row[0]  # type: ignore[no-any-return]
