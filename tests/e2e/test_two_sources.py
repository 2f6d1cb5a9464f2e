"""Two sources with the same item ids and the same event ids stay two sets, end to end.

The help desk log is mapped twice: as ``acme-jira``, and as ``beta-snow`` with acme's event ids
(CloudEvents ids are only unique within their source), every second ticket three days and five
hours later, and the last event of every fifth ticket left out. So both sources have every
ticket id and every event id, and most beta events also share their time with acme's namesake
(what a key without the source took for a duplicate), while the shifted and cut tickets have other
states in each. Both are produced interleaved in event-time order (an item's two namesakes meet in
the same fetch batches) through Kafka and a worker into PostgreSQL, with one contract per source.
Each source's events, items, states and contract rows must be what that source alone gives: every
event it sent, its item states folded on their own, and the backtest of its contract over its own
events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.item_state import ItemState, apply_event, state_row
from outcome_pulse.sinks.queries import indicator_points, open_item_clocks, period_outcomes
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_events, item_events
from outcome_pulse.streams.drivers.replay import produce
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import EventEnvelope
from tests.datasets import dataset
from tests.support.sandbox import isolated_pipeline

pytestmark = pytest.mark.e2e

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "helpdesk_tickets.yaml"
SOURCES = ("acme-jira", "beta-snow")
SHIFT = timedelta(days=3, hours=5)
ZERO = timedelta(0)


def source_events(source: str) -> list[EventEnvelope]:
    # Both mapped as the first source, so beta's event ids are acme's (its source set after).
    mapping = load_mapping("helpdesk").model_copy(update={"source": SOURCES[0]})
    events = map_file(dataset("helpdesk"), mapping).events
    if source == SOURCES[0]:
        return events
    last: dict[str, EventEnvelope] = {}
    seen: dict[str, int] = {}
    for e in events:
        last[e.subject] = e
        seen[e.subject] = seen.get(e.subject, 0) + 1
    tickets = sorted(t for t, n in seen.items() if n > 1)
    dropped = {last[t].id for t in tickets[::5]}
    shifted = set(sorted(seen)[1::2])
    return [
        e.model_copy(
            update={"source": source, "time": e.time + (SHIFT if e.subject in shifted else ZERO)}
        )
        for e in events
        if e.id not in dropped
    ]


def source_contract(source: str, directory: Path) -> Path:
    text = CONTRACT.read_text(encoding="utf-8")
    text = text.replace("contract: helpdesk-tickets", f"contract: helpdesk-{source}")
    text = text.replace("    source: helpdesk-tickets", f"    source: {source}")
    path = directory / f"{source}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def folded(events: Sequence[EventEnvelope]) -> dict[str, dict[str, Any]]:
    states: dict[str, ItemState] = {}
    for e in events:
        states[e.subject] = apply_event(states.get(e.subject), e.to_item_event(), e.sequence)
    return {item: state_row(state) for item, state in states.items()}


def stored_states(dsn: str, source: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        cur = conn.execute("SELECT * FROM pulse_item_states WHERE source = %s", [source])
        names = [c.name for c in cur.description or ()]
        return {row[names.index("item_id")]: dict(zip(names, row, strict=True)) for row in cur}


def stored_events(dsn: str, source: str) -> dict[tuple[datetime, str], tuple[Any, ...]]:
    """(event time, id) -> the row's item, lifecycle, sequence and state, of one source."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        cur = conn.execute(
            "SELECT event_time, event_id, item_id, lifecycle, sequence, state FROM pulse_events "
            "WHERE source = %s",
            [source],
        )
        return {(row[0], row[1]): row[2:] for row in cur}


def sent_events(events: Sequence[EventEnvelope]) -> dict[tuple[datetime, str], tuple[Any, ...]]:
    rows = {}
    for e in events:
        item = e.to_item_event()
        rows[(e.time, e.id)] = (e.subject, item.lifecycle.value, e.sequence, item.state)
    return rows


def watermark(dsn: str, contract: str) -> datetime | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT watermark FROM pulse_contract_watermarks WHERE contract = %s", [contract]
        ).fetchone()
    return None if row is None else row[0]


def counts(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM pulse_events), (SELECT count(*) FROM pulse_monitor_inbox)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@pytest.mark.timeout(900)
def test_two_sources_sharing_item_ids_are_separate_and_each_equals_its_backtest(
    settings: PulseSettings, tmp_path: Path
) -> None:
    events = {source: source_events(source) for source in SOURCES}
    contracts: dict[str, Contract] = {}
    paths: list[str] = []
    for source in SOURCES:
        path = source_contract(source, tmp_path)
        contracts[source] = load_contract(path)
        paths.append(str(path))
    acme_ids = {e.subject for e in events["acme-jira"]}
    assert acme_ids == {e.subject for e in events["beta-snow"]}, "every ticket id in both"
    acme_events = {(e.time, e.id) for e in events["acme-jira"]}
    beta_events = [(e.time, e.id) for e in events["beta-snow"]]
    assert {e.id for e in events["beta-snow"]} <= {e.id for e in events["acme-jira"]}
    twins = sum(key in acme_events for key in beta_events)
    assert len(beta_events) / 3 < twins < len(beta_events), "many, not all, share id and time"
    expected = {
        source: backtest_events(contracts[source], item_events(events[source])).evaluation
        for source in SOURCES
    }
    assert expected["acme-jira"].outcomes != expected["beta-snow"].outcomes
    sent = sorted(
        [*events["acme-jira"], *events["beta-snow"]], key=lambda e: (e.time, e.sequence, e.id)
    )
    total = len(sent)

    with isolated_pipeline(settings) as pipeline:
        pipeline.start_worker(
            contracts=",".join(paths), monitor_interval=1.0, idle_partition_seconds=10.0
        )
        asyncio.run(produce(pipeline.settings, sent, []))
        dsn = pipeline.settings.dsn
        pipeline.wait_for(
            lambda: counts(dsn) == (total, 0),
            timeout=600,
            what=f"all {total:,} events of both sources stored and applied by the monitor",
        )
        # The monitor's watermark is the slowest partition's; once every partition is idle it is
        # each contract's backtest watermark (its latest event time minus the lateness), and
        # only then are the same rows final.
        for source in SOURCES:
            lateness = contracts[source].monitoring.lateness
            final = max(e.time for e in events[source]) - lateness
            pipeline.wait_for(
                lambda c=contracts[source].contract, f=final: watermark(dsn, c) == f,
                timeout=120,
                what=f"the {source} contract's watermark at its backtest's (every partition idle)",
            )
        for source in SOURCES:
            assert stored_events(dsn, source) == sent_events(events[source]), source
            want = folded(events[source])
            got = stored_states(dsn, source)
            assert len(got) == len(want) == len(acme_ids), source
            assert got == want, source
            contract = contracts[source].contract
            assert {r.key: r for r in period_outcomes(dsn, contract)} == expected[source].outcomes
            assert {r.key: r for r in indicator_points(dsn, contract)} == expected[source].points
            clocks = {r.key: r for r in open_item_clocks(dsn, contract)}
            assert clocks == expected[source].open_clocks
            assert {c.source for c in clocks.values()} <= {source}
        # the same id, two items: a ticket beta-snow shifted or cut short differs, and the
        # rest (every event a twin of acme's) are still two rows, equal but for the source
        acme, beta = stored_states(dsn, "acme-jira"), stored_states(dsn, "beta-snow")
        differ = {t for t in acme_ids if acme[t] != {**beta[t], "source": "acme-jira"}}
        shifted = {e.subject for e in events["beta-snow"] if (e.time, e.id) not in acme_events}
        beta_ids = {e.id for e in events["beta-snow"]}
        cut = {e.subject for e in events["acme-jira"] if e.id not in beta_ids}
        assert differ == shifted | cut
        assert 0 < len(differ) < len(acme_ids)
