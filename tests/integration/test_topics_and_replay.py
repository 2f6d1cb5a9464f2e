"""Topics and replay against the real broker: creation is idempotent, a partition mismatch is a
clear error, and a replay puts every event (keyed by item) and every dead letter (with file and
line) on its topic: records read = events produced + dead letters, exactly."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.streams.drivers.replay import replay_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.kafka.topics import ensure_topics
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.deadletter import decode_dead_letter
from outcome_pulse.streams.wire.events import EventDecoder
from tests.datasets import dataset

pytestmark = pytest.mark.integration


def fresh(settings: PulseSettings, partitions: int = 3) -> PulseSettings:
    suffix = uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={
            "app_id": f"it-{suffix}",
            "events_topic": f"it.{suffix}.events",
            "dead_letter_topic": f"it.{suffix}.deadletter",
            "evaluation_topic": f"it.{suffix}.evaluation",
            "partitions": partitions,
        }
    )


async def consume_all(bootstrap: str, topic: str, count: int) -> list:  # type: ignore[type-arg]
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    messages = []
    try:
        async with asyncio.timeout(120):
            while len(messages) < count:
                batches = await consumer.getmany(timeout_ms=1000)
                for batch in batches.values():
                    messages.extend(batch)
    finally:
        await consumer.stop()
    return messages


def test_topics_are_created_once_and_a_partition_mismatch_is_explained(
    settings: PulseSettings, kafka_bootstrap: str
) -> None:
    s = fresh(settings)
    created = asyncio.run(ensure_topics(s))
    changelog = f"{s.app_id}-source-item-states-changelog"
    assert set(created) == {s.events_topic, s.dead_letter_topic, changelog, s.evaluation_topic}
    assert asyncio.run(ensure_topics(s)) == []
    with pytest.raises(ConfigError, match=r"has 3 partitions but PULSE_PARTITIONS is 5"):
        asyncio.run(ensure_topics(s.model_copy(update={"partitions": 5})))
    with pytest.raises(
        ConfigError, match=r"evaluation' has 1 partitions but PULSE_EVALUATION_PARTITIONS is 2"
    ):
        asyncio.run(ensure_topics(s.model_copy(update={"evaluation_partitions": 2})))


def test_replay_counts_add_up_and_dead_letters_name_file_and_line(
    settings: PulseSettings, kafka_bootstrap: str, tmp_path: Path
) -> None:
    # the first 300 BPIC rows, with three rows broken in different ways
    with gzip.open(dataset("bpic2013"), "rt", encoding="utf-8-sig", newline="") as f:
        lines = f.read().splitlines()[:301]
    lines[10] = lines[10].replace("2010-", "20X0-", 1)  # bad timestamp (data row 10)
    lines[20] = "," + lines[20].split(",", 1)[1]  # missing SR Number (data row 20)
    lines[30] = lines[30].replace("Accepted-In Progress", "Exploded-Sideways", 1)  # unknown state
    export = tmp_path / "export.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")

    s = fresh(settings)
    asyncio.run(ensure_topics(s))
    report = replay_file(s, export, load_mapping("bpic2013"))
    assert report.records_read == 300
    assert report.records_read == report.events_produced + report.dead_letters
    assert report.dead_letters >= 2

    events = asyncio.run(consume_all(s.bootstrap, s.events_topic, report.events_produced))
    assert len(events) == report.events_produced
    decoder = EventDecoder(lambda: __import__("datetime").datetime.now(__import__("datetime").UTC))
    for message in events:
        envelope = decoder.decode(message.value)
        assert message.key == envelope.source.encode() + b"\x00" + envelope.subject.encode()

    letters = [
        decode_dead_letter(m.value)
        for m in asyncio.run(consume_all(s.bootstrap, s.dead_letter_topic, report.dead_letters))
    ]
    by_line = {d["origin"]["line"]: d for d in letters}
    # The file's own line numbers: lines[10] is line 11 (the header is line 1).
    assert by_line[11]["reason"] == "bad_timestamp"
    assert by_line[21]["reason"] == "missing_id"
    assert all(d["origin"]["file"].endswith("export.csv") for d in letters)
    assert b"20X0-" in by_line[11]["original"]
