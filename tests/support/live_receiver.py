"""A real ``pulse ingest http`` process on 127.0.0.1 for tests and the benchmark: started with
a feeds file and secrets, ready once /readyz answers, stopped by its PID."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from outcome_pulse.streams.settings import PulseSettings
from tests.support.sandbox import free_port

PULSE = str(Path(sys.executable).with_name("pulse"))


@dataclass
class Receiver:
    url: str
    pid: int
    log: Path


@contextmanager
def running_receiver(
    settings: PulseSettings,
    feeds: dict[str, Any],
    secrets: dict[str, str],
    workdir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[Receiver]:
    config = workdir / "feeds.yaml"
    config.write_text(yaml.safe_dump({"feeds": feeds}))
    port = free_port()
    env = {
        **os.environ,
        **settings.as_env(),
        "PULSE_FEED_SECRETS": json.dumps(secrets),
        **(extra_env or {}),
    }
    log = workdir / "receiver.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PULSE, "ingest", "http", "--config", str(config), "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    receiver = Receiver(f"http://127.0.0.1:{port}", proc.pid, log)
    try:
        _wait_ready(receiver, proc, timeout)
        yield receiver
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def _wait_ready(receiver: Receiver, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(
                f"the receiver exited ({proc.returncode}):\n{receiver.log.read_text()}"
            )
        try:
            if httpx.get(f"{receiver.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the receiver was not ready in {timeout}s:\n{receiver.log.read_text()}"
            )
        time.sleep(0.2)


async def _read_topic(bootstrap: str, topic: str, partitions: int) -> list[tuple[bytes, bytes]]:
    """Every record now in ``topic`` (key, value), reading up to the end offsets of now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[tuple[bytes, bytes]] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        async with asyncio.timeout(60):
            while remaining:
                batch = await consumer.getmany(*remaining, timeout_ms=1000)
                for tp, messages in batch.items():
                    out.extend((m.key or b"", m.value or b"") for m in messages)
                    if messages and messages[-1].offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return out
    finally:
        await consumer.stop()


def read_topic(settings: PulseSettings, topic: str) -> list[tuple[bytes, bytes]]:
    return asyncio.run(_read_topic(settings.bootstrap, topic, settings.partitions))


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
