"""Tens of thousands of bad records, interleaved with a real replay (the help-desk log), produced
straight to the events topic of a running worker. The worker must survive all of them (the same
PID from start to end), dead-letter exactly the bad ones, each with the reason it was made with
and its original bytes, store every good event exactly once (hostile-but-valid values byte for
byte), and its /metrics must say the same.

The records come from a seeded fuzzer (``tests.e2e.bad_records``); a failure prints the seed's
category and reason for the records that went wrong.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from prometheus_client.parser import text_string_to_metric_families

from outcome_pulse.streams.cli.processes import running_worker
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.deadletter import decode_dead_letter
from outcome_pulse.streams.wire.events import encode_event
from outcome_pulse.streams.wire.item_key import event_key
from tests.datasets import dataset
from tests.e2e.bad_records import REASONS, BadRecord, Fuzzer, GoodRecord
from tests.support.lag import wait_caught_up
from tests.support.sandbox import Pipeline, isolated_pipeline

pytestmark = pytest.mark.e2e

SEED = 20261121
BAD_RECORDS = 22_000
HOSTILE_VALID = 1_500

ROW_COLUMNS = (
    "event_id, event_time, source, item_id, event_type, sequence, state, priority, assignee, "
    "due_at, attributes"
)


@dataclass(frozen=True)
class Produced:
    key: bytes | None
    value: bytes | None
    bad: BadRecord | None = None
    good: GoodRecord | None = None
    event_type: str = ""


def interleave(rng: random.Random, replay: list[Produced], fuzz: list[Produced]) -> list[Produced]:
    """Both lists merged at random; the replay keeps its (event-time) order."""
    out: list[Produced] = []
    i = j = 0
    while i < len(replay) or j < len(fuzz):
        left, right = len(replay) - i, len(fuzz) - j
        if rng.random() * (left + right) < left:
            out.append(replay[i])
            i += 1
        else:
            out.append(fuzz[j])
            j += 1
    return out


async def produce_all(settings: PulseSettings, records: list[Produced]) -> list[tuple[int, int]]:
    """Send every record as it is (keys and values as bytes); return (partition, offset) each."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_request_size=2_000_000,
    )
    await producer.start()
    where: list[tuple[int, int]] = []
    try:
        for start in range(0, len(records), 5000):
            futures = [
                await producer.send(settings.events_topic, key=r.key, value=r.value)
                for r in records[start : start + 5000]
            ]
            for meta in await asyncio.gather(*futures):
                where.append((meta.partition, meta.offset))
    finally:
        await producer.stop()
    return where


async def read_topic(settings: PulseSettings, topic: str) -> list[ConsumerRecord[Any, Any]]:
    """Every record in ``topic``, from the beginning to the end offsets read first."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        out: list[ConsumerRecord[Any, Any]] = []
        async with asyncio.timeout(120):
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
                for messages in batches.values():
                    out.extend(messages)
        return out
    finally:
        await consumer.stop()


def scrape(settings: PulseSettings) -> bytes:
    url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())


def counters(exposition: bytes) -> dict[str, Counter[str]]:
    """``{"pulse_events_total": Counter(type -> n), "pulse_dead_letters_total": ...}``."""
    out: dict[str, Counter[str]] = {
        "pulse_events_total": Counter(),
        "pulse_dead_letters_total": Counter(),
    }
    for family in text_string_to_metric_families(exposition.decode()):
        for sample in family.samples:
            if sample.name == "pulse_events_total":
                out[sample.name][sample.labels["type"]] += int(sample.value)
            elif sample.name == "pulse_dead_letters_total":
                out[sample.name][sample.labels["reason"]] += int(sample.value)
    return out


def processed(pipe: Pipeline, pid: int) -> int:
    """Records the worker has counted (events + dead letters); fails at once if it died."""
    if running_worker(pipe.settings, f"{pipe.settings.app_id}-worker") != pid:
        raise AssertionError(f"the worker (pid {pid}) is gone\n{pipe.worker_log(lines=80)}")
    try:
        found = counters(scrape(pipe.settings))
    except (urllib.error.URLError, ConnectionError):
        return 0
    return sum(found["pulse_events_total"].values()) + sum(
        found["pulse_dead_letters_total"].values()
    )


def build_records(now: datetime) -> tuple[list[Produced], list[str]]:
    """The help-desk replay, interleaved with the fuzzer's bad and hostile-valid records."""
    fuzzer = Fuzzer(SEED, now)
    mapped = map_file(dataset("helpdesk"), load_mapping("helpdesk"))
    replay = [Produced(event_key(e), encode_event(e), event_type=e.type) for e in mapped.events]
    fuzz: list[Produced] = []
    for bad in (fuzzer.bad() for _ in range(BAD_RECORDS)):
        fuzz.append(Produced(bad.key, bad.value, bad=bad))
    goods = [fuzzer.hostile_valid() for _ in range(HOSTILE_VALID)]
    goods.append(fuzzer.exactly_at_the_size_limit())
    for good in goods:
        fuzz.append(Produced(good.key, good.value, good=good, event_type=good.row["event_type"]))
    fuzzer.rng.shuffle(fuzz)
    return interleave(fuzzer.rng, replay, fuzz), [e.id for e in mapped.events]


def test_bad_input_at_volume(settings: PulseSettings) -> None:
    started = time.monotonic()
    records, replay_ids = build_records(datetime.now(UTC))
    bad = [r for r in records if r.bad is not None]
    hostile = [r.good for r in records if r.good is not None]
    good_types = Counter(r.event_type for r in records if r.bad is None)
    expected_reasons = Counter(r.bad.reason for r in bad if r.bad is not None)
    assert len(bad) >= 20_000 and set(expected_reasons) <= REASONS

    with isolated_pipeline(settings, partitions=4) as pipe:
        s = pipe.settings
        pid = pipe.start_worker().pid
        where = asyncio.run(produce_all(s, records))
        pipe.wait_for(
            lambda: processed(pipe, pid) >= len(records),
            timeout=240,
            what=f"the worker to count all {len(records):,} records",
        )
        wait_caught_up(s, timeout=60)

        # 1. the worker survived: the same process from start to end
        assert running_worker(s, f"{s.app_id}-worker") == pid, pipe.worker_log(lines=80)

        # 2. exactly the bad records are dead letters, each with its reason and original bytes
        by_origin = {place: r for place, r in zip(where, records, strict=True)}
        letters = [
            decode_dead_letter(m.value) for m in asyncio.run(read_topic(s, s.dead_letter_topic))
        ]
        assert len(letters) == len(bad)
        wrong: list[str] = []
        seen: set[tuple[int, int]] = set()
        for letter in letters:
            origin = letter["origin"]
            place = (origin["partition"], origin["offset"])
            assert origin["topic"] == s.events_topic and place not in seen
            seen.add(place)
            sent = by_origin[place]
            if sent.bad is None:
                wrong.append(f"good record dead-lettered: {letter['reason']}: {letter['detail']}")
                continue
            if letter["reason"] != sent.bad.reason:
                wrong.append(
                    f"{sent.bad.category}: expected {sent.bad.reason}, got {letter['reason']} "
                    f"({letter['detail'][:200]})"
                )
            original = sent.value or b""
            if letter.get("original_truncated"):
                assert letter["original_sha256"] == hashlib.sha256(original).hexdigest()
                assert original.startswith(letter["original"])
            else:
                assert letter["original"] == original
        assert not wrong, f"{len(wrong)} misclassified, e.g.:\n" + "\n".join(wrong[:15])

        # 3. every good event is stored exactly once; hostile values byte for byte
        with psycopg.connect(s.dsn) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            total = conn.execute("SELECT count(*) FROM pulse_events").fetchone()
            stored_replay = [
                row[0]
                for row in conn.execute(
                    "SELECT event_id FROM pulse_events WHERE source = 'helpdesk-tickets'"
                )
            ]
            cur = conn.cursor(row_factory=psycopg.rows.dict_row)
            ids = [g.row["event_id"] for g in hostile]
            stored = {
                row["event_id"]: row
                for row in cur.execute(
                    f"SELECT {ROW_COLUMNS} FROM pulse_events WHERE event_id = ANY(%s)", (ids,)
                )
            }
            states = {
                row["item_id"]: row
                for row in cur.execute(
                    "SELECT item_id, state, priority, assignee, attributes, event_count "
                    "FROM pulse_item_states WHERE item_id = ANY(%s)",
                    ([g.row["item_id"] for g in hostile],),
                )
            }
        assert total == (len(replay_ids) + len(hostile),)
        assert sorted(stored_replay) == sorted(replay_ids)
        assert len(stored) == len(hostile)
        different = [
            (g.row, stored[g.row["event_id"]])
            for g in hostile
            if stored[g.row["event_id"]] != g.row
        ]
        assert not different, f"{len(different)} rows differ, e.g. {different[:3]!r}"
        for g in hostile:
            state = states[g.row["item_id"]]
            assert state == {
                "item_id": g.row["item_id"],
                "state": g.row["state"],
                "priority": g.row["priority"],
                "assignee": g.row["assignee"],
                "attributes": g.row["attributes"],
                "event_count": 1,
            }

        # 4. the worker's metrics say the same, and hostile input did not break the exposition
        exposition = scrape(s)
        found = counters(exposition)
        assert found["pulse_dead_letters_total"] == expected_reasons
        assert sum(found["pulse_dead_letters_total"].values()) == len(bad)
        assert found["pulse_events_total"] == good_types
        assert sum(found["pulse_events_total"].values()) == len(records) - len(bad)
        promtool = shutil.which("promtool")
        assert promtool, "promtool is missing: deploy/local/install.sh installs it"
        lint = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True)
        assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()

    categories = Counter(r.bad.category for r in bad if r.bad is not None)
    print(
        f"\n{len(records):,} records in {time.monotonic() - started:.0f} s: "
        f"{len(bad):,} bad, {len(replay_ids):,} replayed + {len(hostile):,} hostile valid events"
        f"\nby reason: {dict(expected_reasons.most_common())}"
        f"\nby category: {dict(categories.most_common())}"
    )
