"""Database sink throughput: PostgresSink (COPY into staging + one upsert) against RowByRowSink.

    .venv/bin/python -m bench.sink_throughput           (needs PostgreSQL: `pulse stack up`)
    .venv/bin/python -m bench.sink_throughput --events 20000 --batch 2000 --rounds 3

Both sinks write the same batches, prepared before any clock starts: the first ``--events``
(20,000) BPIC 2013 events in batches of ``--batch`` (2,000), each batch with the states of the
items it touched, folded as the worker folds them (``apply_event``, ``state_row``). Each sink
writes into a freshly migrated database of its own on the same server, timed from the first
``write`` to the last commit (the connection is opened before). ``--rounds`` repeats both,
alternating which goes first; the medians are compared. The two databases must end up equal,
row for row (``table_fingerprint``), or the benchmark fails: both did the same work.

It prints events/s for both, and PostgresSink/RowByRowSink.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg

from outcome_pulse.processors.item_state import ItemState, apply_event, state_row
from outcome_pulse.sinks.event_sink import PostgresSink
from outcome_pulse.sinks.queries import table_fingerprint
from outcome_pulse.sinks.row_by_row import RowByRowSink
from outcome_pulse.sinks.schema import migrate
from outcome_pulse.sinks.tables import Table
from outcome_pulse.streams.bootstrap import load_settings
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import EventEnvelope

BPIC = "bpic2013_volvo_incidents.csv.gz"
Batch = tuple[list[EventEnvelope], list[dict[str, Any]]]


class Sink(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def write(
        self, events: Sequence[EventEnvelope], states: Sequence[dict[str, Any]]
    ) -> Any: ...


def batches(settings: PulseSettings, events: int, size: int) -> list[Batch]:
    """The worker's batches: events in order, and the latest state of each item touched."""
    mapped = map_file(settings.data_dir / BPIC, load_mapping("bpic2013"), limit=events)
    table: dict[tuple[str, str], ItemState] = {}
    out: list[Batch] = []
    for start in range(0, len(mapped.events), size):
        chunk = mapped.events[start : start + size]
        touched: dict[tuple[str, str], ItemState] = {}
        for envelope in chunk:
            item = (envelope.source, envelope.subject)
            state = apply_event(table.get(item), envelope.to_item_event(), envelope.sequence)
            table[item] = touched[item] = state
        out.append((chunk, [state_row(s) for s in touched.values()]))
    return out


@contextmanager
def scratch_database(base_dsn: str, label: str) -> Iterator[str]:
    name = f"pulse_bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = base_dsn.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(dsn)
        yield dsn
    finally:
        with psycopg.connect(base_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def timed_writes(sink: Sink, work: list[Batch]) -> float:
    await sink.open()
    try:
        started = time.perf_counter()
        for events, states in work:
            await sink.write(events, states)
        return time.perf_counter() - started
    finally:
        await sink.close()


def fingerprint(dsn: str) -> tuple[Any, ...]:
    return (
        table_fingerprint(dsn, Table.EVENTS, "event_id"),
        table_fingerprint(dsn, Table.ITEM_STATES, "item_id"),
    )


def one_round(base_dsn: str, work: list[Batch], copy_first: bool) -> dict[str, float]:
    seconds: dict[str, float] = {}
    prints: dict[str, tuple[Any, ...]] = {}
    order = ["copy", "row_by_row"] if copy_first else ["row_by_row", "copy"]
    for label in order:
        with scratch_database(base_dsn, label) as dsn:
            sink: Sink = PostgresSink(dsn) if label == "copy" else RowByRowSink(dsn)
            seconds[label] = asyncio.run(timed_writes(sink, work))
            prints[label] = fingerprint(dsn)
    if prints["copy"] != prints["row_by_row"]:
        raise SystemExit(f"the two sinks wrote different rows: {prints}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings()
    work = batches(settings, args.events, args.batch)
    events = sum(len(e) for e, _ in work)
    states = sum(len(s) for _, s in work)
    rounds = [one_round(settings.dsn, work, copy_first=r % 2 == 0) for r in range(args.rounds)]
    copy_rate = events / statistics.median(r["copy"] for r in rounds)
    row_rate = events / statistics.median(r["row_by_row"] for r in rounds)
    print(
        f"data: {events:,} BPIC 2013 events in {len(work)} batches of {args.batch:,} "
        f"(+ {states:,} item-state upserts), {args.rounds} rounds, medians"
    )
    for label, rate, key in (
        ("PostgresSink (COPY + upsert)", copy_rate, "copy"),
        ("RowByRowSink (INSERT per row)", row_rate, "row_by_row"),
    ):
        each = ", ".join(f"{r[key]:.2f}" for r in rounds)
        print(f"{label:<31}{rate:10,.0f} events/s   (s per round: {each})")
    print(f"ratio COPY/row-by-row          {copy_rate / row_rate:10.2f}")


if __name__ == "__main__":
    main()
