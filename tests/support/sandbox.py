"""An isolated pipeline on the real stack, for tests and benchmarks.

Each one gets its own topics, consumer group (app id), database and metrics port, so tests do
not see each other's data. Workers run as real ``pulse worker`` processes, stopped by PID.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg

from outcome_pulse.streams.bootstrap import prepare_stack
from outcome_pulse.streams.cli.processes import WorkerProcess, start_worker, stop_worker
from outcome_pulse.streams.settings import PulseSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
