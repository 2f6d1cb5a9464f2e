"""An isolated pipeline on the real stack, for tests and benchmarks.

Each one gets its own topics, consumer group (app id), database and metrics port, so tests do
not see each other's data. Workers run as real ``pulse worker`` processes, stopped by PID.
"""

from __future__ import annotations

import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg

from outcome_pulse.processors.shards import ShardFence
from outcome_pulse.sinks.shard_fence import fences
from outcome_pulse.streams.bootstrap import prepare_stack
from outcome_pulse.streams.cli.processes import WorkerProcess, start_worker, stop_worker
from outcome_pulse.streams.settings import PulseSettings

# Ports for the servers a test starts (a worker's metrics, a private PostgreSQL or Kafka, an
# Alertmanager, a receiver), taken below Linux's ephemeral range (32768-60999 here,
# /proc/sys/net/ipv4/ip_local_port_range). A port the kernel gives ``bind(0)`` comes from that
# range, and so do the source ports of outgoing connections: between the test choosing it and its
# server binding it, any client (Kafka's reconnect all the time) may take it as its source port, and
# a client reconnecting to a stopped server on such a port can be given that very port and connect
# to itself, holding it (seen with a restarted broker in CI). Each test process (pytest-xdist
# worker) draws from its own slice of 30000-32767, starting at a random place in it so that two
# runs on one machine rarely meet, and skips ports something is bound to.
_PORTS_LOW, _PORTS_HIGH = 30000, 32768
_SLICES = 3  # the serial run, and xdist's gw0 and gw1 (further workers share these slices)
_handed_out: set[int] = set()


def _port_slice() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) % (_SLICES - 1) + 1 if worker[2:].isdigit() else 0
    width = (_PORTS_HIGH - _PORTS_LOW) // _SLICES
    return range(_PORTS_LOW + index * width, _PORTS_LOW + (index + 1) * width)


def free_port() -> int:
    """A port on 127.0.0.1 nothing is bound to now, outside the ephemeral range."""
    ports = _port_slice()
    start = random.randrange(len(ports))
    for step in range(len(ports)):
        port = ports[(start + step) % len(ports)]
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port left in {ports.start}-{ports.stop - 1} for this test process")


@dataclass
class Pipeline:
    settings: PulseSettings
    workers: dict[str, WorkerProcess] = field(default_factory=dict)

    def start_worker(self, name: str = "worker", **overrides: object) -> WorkerProcess:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        proc = start_worker(settings, name=self._name(name), env=settings.as_env())
        self.workers[name] = proc
        return proc

    def stop_worker(self, name: str = "worker") -> None:
        stop_worker(self.settings, name=self._name(name))
        self.workers.pop(name, None)

    def worker_log(self, name: str = "worker", lines: int = 40) -> str:
        proc = self.workers.get(name)
        if proc is None or not proc.log.exists():
            return "(no log)"
        return "\n".join(proc.log.read_text(errors="replace").splitlines()[-lines:])

    def _name(self, name: str) -> str:
        return f"{self.settings.app_id}-{name}"

    def wait_for(self, predicate, timeout: float = 300, what: str = "condition"):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.worker_log()}")
            time.sleep(0.5)


@contextmanager
def isolated_pipeline(
    base: PulseSettings, *, partitions: int = 4, evaluation_partitions: int = 1
) -> Iterator[Pipeline]:
    suffix = uuid.uuid4().hex[:10]
    database = f"pulse_test_{suffix}"
    with psycopg.connect(base.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    settings = base.model_copy(
        update={
            "app_id": f"pulse-test-{suffix}",
            "events_topic": f"test.{suffix}.events",
            "dead_letter_topic": f"test.{suffix}.deadletter",
            "evaluation_topic": f"test.{suffix}.evaluation",
            "partitions": partitions,
            "evaluation_partitions": evaluation_partitions,
            "database_url": base.dsn.rsplit("/", 1)[0] + f"/{database}",
            "metrics_port": free_port(),
        }
    )
    prepare_stack(settings)
    pipeline = Pipeline(settings)
    try:
        yield pipeline
    finally:
        for name in list(pipeline.workers):
            pipeline.stop_worker(name)
        with psycopg.connect(base.dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def shard_owners(pipe: Pipeline, workers: dict[str, WorkerProcess]) -> dict[int, str | None]:
    """Which worker (by name) holds each evaluation shard's fence, by its owner token's pid."""
    by_pid = {f"monitor-pid{proc.pid}-": name for name, proc in workers.items()}

    def name(fence: ShardFence) -> str | None:
        return next((n for p, n in by_pid.items() if (fence.owner or "").startswith(p)), None)

    return {fence.shard: name(fence) for fence in fences(pipe.settings.dsn)}
