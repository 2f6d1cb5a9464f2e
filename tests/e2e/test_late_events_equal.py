"""Late events: the backtest records each one with the final rows it corrected, exactly as the
streaming monitor writes it to ``pulse_late_events``.

The helpdesk log's first events go through the pipeline in time order on one partition (so
none of them is late), then three events dated days behind the watermark, each sent once the
previous one is applied (each is one monitor round). The backtest gets the same events in the
same rounds: its late events, with their ``changed`` lists, equal the table's rows."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_events, item_events
from outcome_pulse.streams.drivers.replay import produce
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.settings import PulseSettings
from tests.datasets import dataset
from tests.support.sandbox import isolated_pipeline

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "helpdesk_tickets.yaml"


def _stored(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        events = conn.execute("SELECT count(*) FROM pulse_events").fetchone()
        inbox = conn.execute("SELECT count(*) FROM pulse_monitor_inbox").fetchone()
    assert events is not None and inbox is not None
    return int(events[0]), int(inbox[0])


@pytest.mark.timeout(900)
def test_backtest_late_events_equal_the_streaming_rows(settings: PulseSettings) -> None:
    contract = load_contract(CONTRACT)
    mapped = map_file(dataset("helpdesk"), load_mapping("helpdesk"), limit=3000)
    on_time = sorted(mapped.events, key=lambda e: (e.time, e.sequence, e.id))
    # Copies of the creation of tickets already seen, dated 10, 20 and 30 days earlier: new
    # events far behind the watermark that open the tickets earlier, revising final rows.
    created = [e for e in on_time if e.type.endswith(".created")]
    picks = [created[-100], created[-300], created[-500]]
    late = [
        e.model_copy(update={"id": f"{e.id}-late", "time": e.time - timedelta(days=10 * (n + 1))})
        for n, e in enumerate(picks)
    ]
    rounds = [item_events(on_time)] + [item_events([e]) for e in late]

    with isolated_pipeline(settings, partitions=1) as pipeline:
        pipeline.start_worker(contracts=str(CONTRACT), monitor_interval=0.5)
        dsn = pipeline.settings.dsn
        asyncio.run(produce(pipeline.settings, on_time, []))
        # The reference, computed while the worker processes the on-time events (they overlap).
        # One event a round: the on-time ones are in order (none late), each late one alone.
        expected = backtest_events(contract, [e for r in rounds for e in r], batch=1)
        assert len(expected.late) == 3
        assert all(e.changed for e in expected.late), "each late event corrects final rows"
        pipeline.wait_for(
            lambda: _stored(dsn) == (len(on_time), 0),
            what="the on-time events stored and applied",
        )
        for number, event in enumerate(late, start=1):
            asyncio.run(produce(pipeline.settings, [event], []))
            pipeline.wait_for(
                lambda n=number: _stored(dsn) == (len(on_time) + n, 0),
                what=f"late event {number} stored and applied",
            )
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(
                "SELECT contract, event_id, event_time, watermark, changed "
                "FROM pulse_late_events ORDER BY event_id"
            ).fetchall()
    got = [(c, i, t, w, tuple(ch)) for c, i, t, w, ch in rows]
    want = sorted(
        (e.contract, e.event_id, e.event_time, e.watermark, e.changed) for e in expected.late
    )
    assert got == want
