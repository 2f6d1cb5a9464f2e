"""Latency at a steady offered load: produce -> row visible in PostgreSQL, p50 and p99, against
produce -> consumed by a bare aiokafka consumer on the same broker at the same load.

    .venv/bin/python -m bench.latency                   (needs `pulse stack up`; about 2 min)
    .venv/bin/python -m bench.latency --rates 200,1000,2000 --seconds 30 --poll-ms 20
    .venv/bin/python -m bench.latency --rates 1000,5000 --seconds 15 --find-sustained

For each rate (default 200 and 1,000 events/s, ``--seconds`` 20 each), in one process:

* pipeline: a warmed-up `pulse worker` (isolated topics and database, its default batching:
  what one fetch returns, at most ``PULSE_SINK_BATCH_SIZE`` 2,000 events, nothing waits for a
  batch to fill) consumes the events topic. A pacer sends event i at start + i/rate (ticket state
  changes over 1,000 items, event times 1 ms apart) and notes the time just before ``send``.
  A poller, on its own connection, every ``--poll-ms`` (20 ms) reads the ids of the rows whose
  event time lies between the oldest event not yet seen and the newest sent (a primary-key range
  scan, as cheap when the pipeline lags as when it keeps up), and stamps each new one with the
  time the query was sent. PostgreSQL takes the statement's snapshot when it starts, so a row
  found was committed before that stamp and after the previous poll's: each figure is an upper
  bound, late by at most one poll interval plus one query (the median query time is printed).
* baseline: the same pacer and producer settings on a topic of its own with the same number of
  partitions; an AIOKafkaConsumer (assigned, at the end of the topic) stamps each message when
  ``getmany`` hands it over, after ``json.loads`` of its value.

Both producers batch for up to ``LINGER_MS`` (5 ms), as `pulse replay` does. Pacer and observer
share one asyncio loop. An event never seen within ``--drain`` seconds of the last send counts
as infinitely late. It prints p50 and p99 of both, the achieved send rate, pipeline/baseline
for each percentile, and, as a cross-check, the quantile buckets of the worker's own
``pulse_event_processing_latency_seconds`` histogram over the run.

``--find-sustained`` then climbs ``--ladder`` (pipeline only, ``--seconds`` each) until a load is
not sustained (an event unseen within ``--drain``, or p99 at or over 1 s: issue 9's goal) and
prints the highest sustained load with its p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import time
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from bench.e2e_throughput import warm_up
from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.streams.bootstrap import load_settings
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import build_envelope, encode_event
from outcome_pulse.streams.wire.item_key import event_key
from tests.support.sandbox import isolated_pipeline

# The month the warm-up event opened; each run has its own day in it (at most 20 s of events).
EVENT_TIME = datetime(2020, 1, 2, tzinfo=UTC)
ITEMS = 1000
# As `pulse replay` sends: up to 5 ms of batching per partition instead of one produce request
# per event, which at 1,000 events/s would load the broker the worker shares the two cores with.
LINGER_MS = 5


@dataclass
class Run:
    """What one paced run sent and saw: event id -> perf_counter() seconds."""

    sent: dict[str, float] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)
    pending: dict[str, datetime] = field(default_factory=dict)  # sent, not seen: id -> time
    send_seconds: float = 0.0
    poll_seconds: list[float] = field(default_factory=list)

    def latencies_ms(self) -> list[float]:
        """Every event sent, sorted; one never seen counts as infinitely late."""
        return sorted(
            1000 * (self.seen[i] - sent) if i in self.seen else math.inf
            for i, sent in self.sent.items()
        )


def payloads(tag: str, count: int, day: int) -> list[tuple[str, datetime, bytes, bytes]]:
    """``count`` events, 1 ms of event time apart, from ``day`` days after EVENT_TIME."""
    base = EVENT_TIME + timedelta(days=day)
    out = []
    for i in range(count):
        item = f"lat-{tag}-item-{i % ITEMS}"
        envelope = build_envelope(
            event_id=f"lat-{tag}-{i:07d}",
            source=f"bench-latency-{tag}",
            kind=ItemKind.TICKET,
            lifecycle=Lifecycle.STATE_CHANGED,
            time=base + timedelta(milliseconds=i),
            item_id=item,
            sequence=i,
            state=f"step {i}",
        )
        out.append((envelope.id, envelope.time, event_key(envelope), encode_event(envelope)))
    return out


async def pace(
    settings: PulseSettings,
    topic: str,
    work: list[tuple[str, datetime, bytes, bytes]],
    rate: float,
    run: Run,
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=LINGER_MS,
    )
    await producer.start()
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        futures = []
        for i, (event_id, event_time, key, value) in enumerate(work):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            run.pending[event_id] = event_time
            run.sent[event_id] = time.perf_counter()
            futures.append(await producer.send(topic, key=key, value=value))
        run.send_seconds = loop.time() - start
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def poll_database(
    dsn: str, run: Run, total: int, interval: float, deadline: float, ready: asyncio.Event
) -> None:
    """Every ``interval``, find the rows of events sent and not yet seen.

    Event times increase with send order, one millisecond apart, so the rows not yet seen all
    lie at or after the oldest pending event's time: one primary-key range scan from there
    returns the new rows (and any seen ones committed after a straggler, skipped here). Its cost
    follows the rows committed since that event, not the number pending, so a pipeline that
    falls behind is not slowed further by being watched.
    """
    query = "SELECT event_id FROM pulse_events WHERE event_time >= %s AND event_time <= %s"
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        ready.set()
        while len(run.seen) < total and time.perf_counter() < deadline:
            started = time.perf_counter()
            if run.pending:
                oldest = next(iter(run.pending.values()))  # dicts keep insertion (send) order
                newest = next(reversed(run.pending.values()))
                cur = await conn.execute(query, (oldest, newest))
                for (event_id,) in await cur.fetchall():
                    if run.pending.pop(event_id, None) is not None:
                        run.seen[event_id] = started
                run.poll_seconds.append(time.perf_counter() - started)
            await asyncio.sleep(max(0.0, started + interval - time.perf_counter()))


async def consume_bare(
    settings: PulseSettings,
    topic: str,
    run: Run,
    total: int,
    deadline: float,
    ready: asyncio.Event,
) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        ready.set()
        while len(run.seen) < total and time.perf_counter() < deadline:
            batches = await consumer.getmany(timeout_ms=100)
            for messages in batches.values():
                for message in messages:
                    event_id = json.loads(message.value)["id"]
                    run.seen[event_id] = time.perf_counter()
    finally:
        await consumer.stop()


Observer = Callable[[Run, float, asyncio.Event], Coroutine[Any, Any, None]]


async def paced_run(
    settings: PulseSettings,
    topic: str,
    work: list[tuple[str, datetime, bytes, bytes]],
    rate: float,
    observe: Observer,
    drain: float,
) -> Run:
    """Start the observer, wait until it is ready to see events, then pace the sends."""
    run = Run()
    ready = asyncio.Event()
    deadline = time.perf_counter() + len(work) / rate + drain
    observer = asyncio.create_task(observe(run, deadline, ready))
    await ready.wait()
    await pace(settings, topic, work, rate, run)
    await observer
    return run


async def create_topic(settings: PulseSettings, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, settings.partitions, replication_factor=1)])
    finally:
        await admin.close()


def worker_histogram(settings: PulseSettings) -> dict[float, float]:
    """The worker's own pulse_event_processing_latency_seconds: upper bound -> cumulative count."""
    url = f"http://{settings.metrics_host}:{settings.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    out: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "pulse_event_processing_latency_seconds_bucket":
                out[float(sample.labels["le"])] = sample.value
    return out


def histogram_quantile(before: dict[float, float], after: dict[float, float], q: float) -> str:
    """The bucket holding quantile ``q`` of the observations between two scrapes, as "<= x s"."""
    counts = {le: after[le] - before.get(le, 0.0) for le in sorted(after)}
    total = counts[math.inf]
    for le, cumulative in counts.items():
        if total and cumulative >= q * total:
            return f"<= {le:g} s"
    return "n/a"


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(q / 100 * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def report(
    rate: float, seconds: float, pipeline: Run, baseline: Run, worker: tuple[str, str]
) -> None:
    p, b = pipeline.latencies_ms(), baseline.latencies_ms()
    print(f"offered load {rate:,.0f} events/s for {seconds:.0f} s ({len(p):,} events)")
    for label, run, values in (
        ("pipeline: produce -> row visible in PostgreSQL", pipeline, p),
        ("baseline: produce -> consumed by bare aiokafka", baseline, b),
    ):
        print(
            f"  {label:<48} p50 {percentile(values, 50):8.1f} ms  p99 "
            f"{percentile(values, 99):8.1f} ms  ({len(run.seen):,} seen; sent at "
            f"{len(values) / run.send_seconds:,.0f}/s)"
        )
    print(
        f"  {'ratio pipeline/baseline':<48} p50 {percentile(p, 50) / percentile(b, 50):8.1f}"
        f"     p99 {percentile(p, 99) / percentile(b, 99):8.1f}"
    )
    poll = 1000 * statistics.median(pipeline.poll_seconds) if pipeline.poll_seconds else math.nan
    print(
        f"  (median poll query {poll:.1f} ms; the worker's own histogram, Kafka timestamp -> "
        f"commit: p50 {worker[0]}, p99 {worker[1]})"
    )


SUSTAINED_P99_MS = 1000.0
"""A load is sustained when every event is seen and the p99 is under this (issue 9's goal)."""
LADDER = "1000,1500,2000,2500,3000,3500,4000,5000,6000,8000,10000"


def sustained(run: Run) -> bool:
    values = run.latencies_ms()
    return bool(values) and percentile(values, 99) < SUSTAINED_P99_MS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="200,1000", help="events/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="per rate")
    parser.add_argument("--poll-ms", type=float, default=20.0)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--drain", type=float, default=30.0, help="max wait after the last send")
    parser.add_argument(
        "--find-sustained",
        action="store_true",
        help="after --rates, climb the rates of --ladder (pipeline only) until one is not "
        f"sustained (an event unseen or p99 >= {SUSTAINED_P99_MS:.0f} ms) and print the "
        "highest sustained",
    )
    parser.add_argument("--ladder", default=LADDER, help="events/s for --find-sustained")
    args = parser.parse_args()
    with isolated_pipeline(load_settings(), partitions=args.partitions) as pipe:
        s = pipe.settings
        baseline_topic = f"{s.events_topic}.baseline"
        asyncio.run(create_topic(s, baseline_topic))
        warm = warm_up(pipe)
        print(
            f"worker warm-up {warm:.1f} s (not counted); {args.partitions} partitions; sink "
            f"batches of one fetch, at most {s.sink_batch_size:,} events; "
            f"database polled every {args.poll_ms:.0f} ms"
        )
        day = 0

        def pipeline_run(rate: float, tag: str) -> tuple[Run, tuple[str, str]]:
            nonlocal day
            total = round(rate * args.seconds)

            async def poll(run: Run, deadline: float, ready: asyncio.Event) -> None:
                await poll_database(s.dsn, run, total, args.poll_ms / 1000, deadline, ready)

            before = worker_histogram(s)
            run = asyncio.run(
                paced_run(s, s.events_topic, payloads(tag, total, day), rate, poll, args.drain)
            )
            after = worker_histogram(s)
            day += 1
            quantiles = (
                histogram_quantile(before, after, 0.5),
                histogram_quantile(before, after, 0.99),
            )
            return run, quantiles

        for rate in (float(r) for r in args.rates.split(",")):
            total = round(rate * args.seconds)
            tag = f"{rate:.0f}"

            async def bare(
                run: Run, deadline: float, ready: asyncio.Event, total: int = total
            ) -> None:
                await consume_bare(s, baseline_topic, run, total, deadline, ready)

            pipeline, worker = pipeline_run(rate, tag)
            baseline = asyncio.run(
                paced_run(s, baseline_topic, payloads(tag, total, day), rate, bare, args.drain)
            )
            report(rate, args.seconds, pipeline, baseline, worker)
        if args.find_sustained:
            find_sustained(args, pipeline_run)


def find_sustained(
    args: argparse.Namespace, pipeline_run: Callable[[float, str], tuple[Run, tuple[str, str]]]
) -> None:
    """Climb the ladder until a load is not sustained; print each step and the highest."""
    best: tuple[float, float] | None = None
    print(f"highest sustained load (p99 under {SUSTAINED_P99_MS:.0f} ms, every event seen):")
    for rate in (float(r) for r in args.ladder.split(",")):
        run, _ = pipeline_run(rate, f"climb-{rate:.0f}")
        values = run.latencies_ms()
        ok = sustained(run)
        print(
            f"  {rate:>8,.0f} events/s offered (sent at {len(values) / run.send_seconds:,.0f}/s): "
            f"p50 {percentile(values, 50):8.1f} ms  p99 {percentile(values, 99):8.1f} ms  "
            f"{'sustained' if ok else 'NOT sustained'}"
        )
        if not ok:
            break
        best = (rate, percentile(values, 99))
    if best is None:
        print("  none of the ladder's loads was sustained")
    else:
        print(f"  highest sustained: {best[0]:,.0f} events/s (p99 {best[1]:.1f} ms)")


if __name__ == "__main__":
    main()
