"""End-to-end throughput of one worker against a bare aiokafka consume-and-decode loop.

    .venv/bin/python -m bench.e2e_throughput            (needs `pulse stack up`)

All run in the same process run, on the same broker, over the same topic holding the BPIC 2013
replay (65,533 events):

* pipeline: a `pulse worker` process, warmed up (group joined, schema ready), then the timed
  replay; measured from the first event produced to the last row visible in PostgreSQL (so the
  replay's producer is part of it);
* worker alone: a second isolated pipeline whose topic holds the whole replay before its worker
  starts; measured from the first of its rows visible to the last (rows counted every 0.2 s, the
  rows already there at the first count are not counted): what one worker drains per second;
* baseline: a plain AIOKafkaConsumer that reads the same topic from the start and json-decodes
  each value: the ceiling any Kafka consumer in Python reaches on this machine;
* second baseline: kafka-python's synchronous KafkaConsumer doing the same (bench extra);
* faust ceiling (for reference): a faust agent that only counts the same topic's events with
  ``take_events``, as the worker does: the cost of faust's per-event machinery alone.

It prints the rates and pipeline/baseline (and faust-ceiling/baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.kafka_python_baseline import kafka_python_consume
from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.sinks.queries import source_summary
from outcome_pulse.streams.bootstrap import load_settings
from outcome_pulse.streams.drivers.replay import produce
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import build_envelope
from tests.support.sandbox import Pipeline, isolated_pipeline

DATASETS = {"bpic2013": "bpic2013_volvo_incidents.csv.gz", "helpdesk": "helpdesk_tickets.csv.gz"}


def warm_up(pipe: Pipeline) -> float:
    """Start the worker and wait until one event has gone all the way through."""
    started = time.monotonic()
    pipe.start_worker()
    ping = build_envelope(
        event_id="bench-warm-up",
        source="bench-warm-up",
        kind=ItemKind.INCIDENT,
        lifecycle=Lifecycle.CREATED,
        time=datetime(2020, 1, 1, tzinfo=UTC),
        item_id="warm-up",
    )
    asyncio.run(produce(pipe.settings, [ping], []))
    pipe.wait_for(
        lambda: source_summary(pipe.settings.dsn, "bench-warm-up")["events"] == 1,
        timeout=300,
        what="the warm-up event",
    )
    return time.monotonic() - started


def timed_pipeline(pipe: Pipeline, dataset: str) -> tuple[int, float]:
    settings = pipe.settings
    mapping = load_mapping(dataset)
    mapped = map_file(settings.data_dir / DATASETS[dataset], mapping)
    expected = len({e.id for e in mapped.events})
    started = time.monotonic()
    asyncio.run(produce(settings, mapped.events, []))
    pipe.wait_for(
        lambda: source_summary(settings.dsn, mapping.source)["events"] >= expected,
        timeout=1800,
        what="every event in the database",
    )
    return expected, time.monotonic() - started


def timed_drain(pipe: Pipeline, dataset: str, start: Callable[[], object]) -> tuple[int, float]:
    """Events/seconds of what ``start`` starts, draining a topic already holding the replay."""
    settings = pipe.settings
    mapping = load_mapping(dataset)
    mapped = map_file(settings.data_dir / DATASETS[dataset], mapping)
    expected = len({e.id for e in mapped.events})
    asyncio.run(produce(settings, mapped.events, []))
    start()
    first = _poll(pipe, lambda: source_summary(settings.dsn, mapping.source)["events"], 600)
    started = time.monotonic()
    _poll(pipe, lambda: source_summary(settings.dsn, mapping.source)["events"] >= expected, 1800)
    return expected - first, time.monotonic() - started


def _poll(pipe: Pipeline, value: Callable[[], int], timeout: float) -> int:
    """``value()`` as soon as it is truthy, asked every 0.2 s."""
    deadline = time.monotonic() + timeout
    while not (got := value()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for rows\n{pipe.worker_log()}")
        time.sleep(0.2)
    return got


async def bare_consume(settings: PulseSettings, expected: int) -> float:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(settings.events_topic, p) for p in range(settings.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        started = time.monotonic()
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for messages in batches.values():
                for message in messages:
                    json.loads(message.value)
                    seen += 1
        return time.monotonic() - started
    finally:
        await consumer.stop()


def bare_confluent(settings: PulseSettings, expected: int) -> float:
    """Seconds a bare confluent-kafka consumer needs to read and json-decode ``expected``."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer
    from confluent_kafka import TopicPartition as CTopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap,
            "group.id": f"bench-bare-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.assign(
            [
                CTopicPartition(settings.events_topic, p, OFFSET_BEGINNING)
                for p in range(settings.partitions)
            ]
        )
        seen = 0
        started = time.monotonic()
        while seen < expected:
            for message in consumer.consume(num_messages=10_000, timeout=1.0):
                if message.error() is None:
                    json.loads(message.value())
                    seen += 1
        return time.monotonic() - started
    finally:
        consumer.close()


@contextmanager
def quix_peer(pipe: Pipeline) -> Iterator[Callable[[], object]]:
    """A starter for the Quix Streams peer (bench.peers.quix_ingest) on ``pipe``; stops it."""
    settings = pipe.settings
    state_dir = settings.state_dir / "quix" / settings.app_id
    log = settings.state_dir / "quix" / f"{settings.app_id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        args = [settings.bootstrap, settings.events_topic, settings.dsn]
        args += [f"{settings.app_id}-quix", str(state_dir)]
        with log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.peers.quix_ingest", *args],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )

    try:
        yield start
    finally:
        for proc in procs:  # ours, by PID
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def faust_ceiling(settings: PulseSettings, expected: int, batch: int) -> float:
    """Seconds a counting-only faust agent needs for ``expected`` events (child process)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.faust_ceiling",
            settings.bootstrap,
            settings.events_topic,
            str(settings.partitions),
            str(expected),
            str(batch),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    found = re.search(r"seconds=([0-9.]+)", out.stdout)  # faust may prefix terminal escapes
    if found:
        return float(found.group(1))
    raise RuntimeError(f"faust ceiling run failed:\n{out.stdout}\n{out.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="bpic2013")
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    with isolated_pipeline(load_settings(), partitions=args.partitions) as pipe:
        warm = warm_up(pipe)
        events, seconds = timed_pipeline(pipe, args.dataset)
        baseline_seconds = asyncio.run(bare_consume(pipe.settings, events + 1))
        kafka_python_seconds = kafka_python_consume(pipe.settings, events + 1)
        ceiling_seconds = faust_ceiling(pipe.settings, events + 1, pipe.settings.sink_batch_size)
        confluent_seconds = bare_confluent(pipe.settings, events + 1)
    with isolated_pipeline(PulseSettings(), partitions=args.partitions) as alone:
        drained, drain_seconds = timed_drain(alone, args.dataset, alone.start_worker)
    with (
        isolated_pipeline(PulseSettings(), partitions=args.partitions) as peer,
        quix_peer(peer) as start_peer,
    ):
        peer_drained, peer_seconds = timed_drain(peer, args.dataset, start_peer)
    pipeline_rate = events / seconds
    baseline_rate = (events + 1) / baseline_seconds
    print(
        f"dataset                 {args.dataset} ({events:,} events, {args.partitions} partitions)"
    )
    print(f"worker warm-up          {warm:6.1f} s (not counted)")
    print(
        f"pipeline end-to-end     {pipeline_rate:10,.0f} events/s  "
        f"({seconds:.2f} s, produce -> rows in PostgreSQL)"
    )
    worker_rate = drained / drain_seconds
    print(
        f"worker alone            {worker_rate:10,.0f} events/s  "
        f"({drained:,} events in {drain_seconds:.2f} s, topic filled before the worker started)"
    )
    print(
        f"baseline consume+decode {baseline_rate:10,.0f} events/s  "
        f"({baseline_seconds:.2f} s, bare aiokafka + json.loads)"
    )
    print(
        f"baseline kafka-python   {(events + 1) / kafka_python_seconds:10,.0f} events/s  "
        f"({kafka_python_seconds:.2f} s, kafka-python KafkaConsumer + json.loads)"
    )
    confluent_rate = (events + 1) / confluent_seconds
    print(
        f"bare confluent-kafka    {confluent_rate:10,.0f} events/s  "
        f"({confluent_seconds:.2f} s, consume(10,000) + json.loads)"
    )
    peer_rate = peer_drained / peer_seconds
    print(
        f"Quix Streams peer       {peer_rate:10,.0f} events/s  "
        f"({peer_drained:,} events in {peer_seconds:.2f} s, same decode/fold/sink, pre-filled)"
    )
    ceiling_rate = (events + 1) / ceiling_seconds
    print(
        f"faust ceiling           {ceiling_rate:10,.0f} events/s  "
        f"({ceiling_seconds:.2f} s, faust agent that only counts)"
    )
    print(f"ratio pipeline/baseline {pipeline_rate / baseline_rate:10.3f}")
    print(f"ratio worker-alone/baseline {worker_rate / baseline_rate:7.3f}")
    print(f"ratio confluent/baseline    {confluent_rate / baseline_rate:7.3f}")
    print(f"ratio quix-peer/baseline    {peer_rate / baseline_rate:7.3f}")
    print(f"ratio worker-alone/quix-peer {worker_rate / peer_rate:6.3f}")
    print(f"ratio faust-ceiling/baseline {ceiling_rate / baseline_rate:5.3f}")


if __name__ == "__main__":
    main()
