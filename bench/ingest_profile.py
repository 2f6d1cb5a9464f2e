"""Where one worker's time goes per batch: the batch handler (decode, fold, database flush) on
the BPIC 2013 events, in process against the real PostgreSQL (no Kafka).

    .venv/bin/python -m bench.ingest_profile            (needs PostgreSQL: `pulse stack up`)
    .venv/bin/python -m bench.ingest_profile --events 30000 --batch 2000 --cprofile

The events are encoded to their wire bytes before the clock starts; each batch of ``--batch``
records goes through ``BatchHandler.handle`` as the worker's batch drain hands it over, into a
freshly migrated database. Two configurations run in the same process, each into its own fresh
database: *before* (every record validated by pydantic, Python's default garbage-collector
thresholds) and *after* (the decoder's msgspec fast path, the worker's collector settings,
``streams/kafka/gc_tuning.py``). For each it prints events/s and the time per event of decode,
sink (the database write) and the rest (key check, fold, state rows, metrics), and the ratio
after/before. A third run, *pipelined*, is *after* with the batch drain's overlap (each batch
prepared while the previous one is written, ``BatchHandler.prepare``/``write``): its events/s
and pipelined/after. ``--cprofile`` adds the top of a cProfile of the *after* run (cProfile inflates
Python-level calls several times; the timings above are taken without it). ``--no-sink``
replaces the database by a sink that only builds the rows (no PostgreSQL needed).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry

from outcome_pulse.sinks.event_sink import PostgresSink
from outcome_pulse.sinks.metrics import PipelineMetrics
from outcome_pulse.sinks.rows import event_row, state_tuple
from outcome_pulse.sinks.schema import migrate
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.kafka.gc_tuning import tune_garbage_collector
from outcome_pulse.streams.kafka.ingest import BatchHandler, Record
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import EventDecoder, encode_event
from outcome_pulse.streams.wire.item_key import event_key

BPIC = "bpic2013_volvo_incidents.csv.gz"


class _Timed:
    """Wraps a callable and adds the seconds spent in it to ``total``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.total = 0.0

    def decode(self, raw: bytes | None) -> Any:
        started = time.perf_counter()
        try:
            return self.inner.decode(raw)
        finally:
            self.total += time.perf_counter() - started

    async def write(self, events: Any, states: Any, progress: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return await self.inner.write(events, states, progress)
        finally:
            self.total += time.perf_counter() - started

    async def stored_events(self, keys: Any) -> Any:
        started = time.perf_counter()
        try:
            return await self.inner.stored_events(keys)
        finally:
            self.total += time.perf_counter() - started


class _RowsOnly:
    """A sink that builds the rows ``PostgresSink`` would COPY, and writes nothing."""

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def write(self, events: Any, states: Any, progress: Any = None) -> Any:
        for event in events:
            event_row(event)
        for state in states:
            state_tuple(state)

    async def stored_events(self, keys: Any) -> Any:
        return {}  # nothing is stored


async def run(
    dsn: str | None,
    records: list[Record],
    batch: int,
    *,
    fast_path: bool,
    profile: cProfile.Profile | None,
    pipelined: bool = False,
) -> dict[str, float]:
    sink: Any = _RowsOnly() if dsn is None else PostgresSink(dsn)
    await sink.open()
    clock = lambda: datetime.now(UTC)  # noqa: E731
    decoder = _Timed(EventDecoder(clock, fast_path=fast_path))
    timed_sink = _Timed(sink)
    items: dict[tuple[str, str], Any] = {}

    async def no_dead_letters(letter: Any) -> None:
        raise AssertionError(f"unexpected dead letter {letter}")

    handler = BatchHandler(
        decoder=decoder,  # type: ignore[arg-type]
        items=items,
        sink=timed_sink,
        send_dead_letter=no_dead_letters,
        metrics=PipelineMetrics(CollectorRegistry()),
        clock=clock,
    )
    started = time.perf_counter()
    if profile is not None:
        profile.enable()
    writing: asyncio.Future[tuple[int, int]] | None = None
    for start in range(0, len(records), batch):
        chunk = records[start : start + batch]
        if not pipelined:
            await handler.handle([(r, None) for r in chunk], lambda _: nullcontext())
            continue
        # as the batch drain does: prepare this batch while the previous one is written
        prepared = handler.prepare([(r, None) for r in chunk], lambda _: nullcontext())
        if writing is not None:
            await writing
        writing = asyncio.ensure_future(handler.write(prepared))
    if writing is not None:
        await writing
    if profile is not None:
        profile.disable()
    elapsed = time.perf_counter() - started
    await sink.close()
    return {"seconds": elapsed, "decode": decoder.total, "sink": timed_sink.total}


@contextmanager
def fresh_database(settings: PulseSettings, wanted: bool) -> Iterator[str | None]:
    if not wanted:
        yield None
        return
    database = f"pulse_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    dsn = settings.dsn.rsplit("/", 1)[0] + f"/{database}"
    try:
        migrate(dsn)
        yield dsn
    finally:
        with psycopg.connect(settings.dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def show(name: str, got: dict[str, float], n: int) -> None:
    rest = got["seconds"] - got["decode"] - got["sink"]
    print(f"{name:<8} {n / got['seconds']:10,.0f} events/s ({n:,} events)")
    for part in ("decode", "sink"):
        print(f"  {part:<17} {got[part] / n * 1e6:8.1f} us/event")
    print(f"  {'fold and rest':<17} {rest / n * 1e6:8.1f} us/event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--no-sink", action="store_true")
    args = parser.parse_args()
    settings = PulseSettings()
    mapped = map_file(settings.data_dir / BPIC, load_mapping("bpic2013"), limit=args.events)
    records = [
        Record("events", 0, n, event_key(e), encode_event(e), time.time())
        for n, e in enumerate(mapped.events)
    ]
    del mapped
    n = len(records)
    with fresh_database(settings, not args.no_sink) as dsn:
        before = asyncio.run(run(dsn, records, args.batch, fast_path=False, profile=None))
    gc.collect()
    tune_garbage_collector(settings.gc_gen0_threshold)
    profile = cProfile.Profile() if args.cprofile else None
    with fresh_database(settings, not args.no_sink) as dsn:
        after = asyncio.run(run(dsn, records, args.batch, fast_path=True, profile=profile))
    with fresh_database(settings, not args.no_sink) as dsn:
        piped = asyncio.run(
            run(dsn, records, args.batch, fast_path=True, profile=None, pipelined=True)
        )
    where = "no database" if args.no_sink else "PostgreSQL"
    print(f"batch handler, BPIC 2013, batches of {args.batch}, {where}")
    show("before", before, n)
    show("after", after, n)
    print(f"after/before {before['seconds'] / after['seconds']:.2f}")
    print(
        f"pipelined {n / piped['seconds']:9,.0f} events/s (as after, each batch prepared while "
        f"the previous one is written; its decode and sink times overlap)"
    )
    print(f"pipelined/after {after['seconds'] / piped['seconds']:.2f}")
    if profile is not None:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())


if __name__ == "__main__":
    main()
