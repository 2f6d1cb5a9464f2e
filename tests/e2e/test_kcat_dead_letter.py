"""A third-party client (kcat, Debian's package) writes malformed messages to the events topic;
the worker keeps running, and each one is in the dead-letter topic with its reason and origin."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer

from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.sinks.queries import source_summary
from outcome_pulse.streams.wire.deadletter import decode_dead_letter
from outcome_pulse.streams.wire.events import build_envelope, encode_event
from tests.support.sandbox import isolated_pipeline

pytestmark = pytest.mark.e2e


def kcat_produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    """One record; the key is read from stdin (-K), so it may hold the NUL of an item key."""
    kcat = shutil.which("kcat")
    assert kcat, "kcat is missing: deploy/local/install.sh installs it"
    subprocess.run(
        [kcat, "-P", "-b", bootstrap, "-t", topic, "-K", "\t"],
        input=key + b"\t" + value + b"\n",
        check=True,
        timeout=30,
    )


async def read_dead_letters(bootstrap: str, topic: str, want: int) -> list[dict]:  # type: ignore[type-arg]
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    out: list[dict] = []  # type: ignore[type-arg]
    try:
        async with asyncio.timeout(120):
            async for message in consumer:
                out.append(decode_dead_letter(message.value))
                if len(out) >= want:
                    break
    finally:
        await consumer.stop()
    return out


def test_malformed_messages_from_kcat_reach_the_dead_letter_topic(settings) -> None:  # type: ignore[no-untyped-def]
    with isolated_pipeline(settings, partitions=1) as pipe:
        s = pipe.settings
        pipe.start_worker()
        good = build_envelope(
            event_id="kcat-good-1",
            source="kcat-test",
            kind=ItemKind.TICKET,
            lifecycle=Lifecycle.CREATED,
            time=datetime(2013, 5, 1, 12, 0, tzinfo=UTC),
            item_id="T-1",
            priority="P2",
        )
        kcat_produce(s.bootstrap, s.events_topic, b"T-1", b'{"specversion": "1.0", "id": ')
        no_subject = {
            "specversion": "1.0",
            "id": "x",
            "source": "kcat-test",
            "type": "pulse.ticket.created",
            "time": "2013-05-01T00:00:00Z",
            "data": {},
        }
        kcat_produce(s.bootstrap, s.events_topic, b"T-2", json.dumps(no_subject).encode())
        kcat_produce(s.bootstrap, s.events_topic, b"kcat-test\x00T-1", encode_event(good))

        letters = asyncio.run(read_dead_letters(s.bootstrap, s.dead_letter_topic, 2))
        by_offset = {d["origin"]["offset"]: d for d in letters}
        assert by_offset[0]["reason"] == "malformed_json"
        assert by_offset[0]["original"] == b'{"specversion": "1.0", "id": '
        assert by_offset[0]["origin"] == {"topic": s.events_topic, "partition": 0, "offset": 0}
        assert by_offset[1]["reason"] == "missing_id"
        assert by_offset[1]["detail"].startswith("subject:")
        # the worker survived and still processes good events after bad ones
        pipe.wait_for(
            lambda: source_summary(s.dsn, "kcat-test")["events"] == 1,
            timeout=120,
            what="the good event after the malformed ones",
        )
