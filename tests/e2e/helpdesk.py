"""The helpdesk log through an isolated pipeline: the shared steps of the fault and scaling tests.

A faulted run is judged against a clean run of the same input: row count and an md5 over every
row of ``pulse_events`` (by event id) and ``pulse_item_states`` (by item id) must be equal.
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg
from aiokafka import AIOKafkaProducer

from outcome_pulse.sinks.queries import table_fingerprint
from outcome_pulse.streams.cli.processes import WorkerProcess
from outcome_pulse.streams.drivers.replay import ReplayReport, produce, replay_file
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import RecordMapping, load_mapping
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import EventEnvelope, encode_event
from outcome_pulse.streams.wire.item_key import event_key
from tests.datasets import dataset
from tests.support.lag import group_lag, wait_caught_up
from tests.support.sandbox import Pipeline, isolated_pipeline

# 21,348 rows; 77 tickets' earliest row is not a plain state change (74 assigned, 2 resolved,
# 1 paused): they keep it and get a created event before it.
HELPDESK_EVENTS = 21_425
HELPDESK_TICKETS = 4_580

Fingerprints = dict[str, tuple[int, str]]


def mapping() -> RecordMapping:
    return load_mapping("helpdesk")


def log_path() -> Path:
    return dataset("helpdesk")


def replay(settings: PulseSettings) -> ReplayReport:
    report = replay_file(settings, log_path(), mapping())
    assert (report.events_produced, report.dead_letters) == (HELPDESK_EVENTS, 0)
    return report


@functools.cache
def mapped_events() -> tuple[EventEnvelope, ...]:
    """The helpdesk log mapped to events once per session, in replay (event-time) order."""
    mapped = map_file(log_path(), mapping())
    assert (len(mapped.events), len(mapped.dead_letters)) == (HELPDESK_EVENTS, 0)
    return tuple(mapped.events)


def produce_events(settings: PulseSettings, events: Sequence[EventEnvelope]) -> None:
    """Produce part of the log (``replay`` produces all of it)."""
    asyncio.run(produce(settings, events, []))


class PacedReplay:
    """The helpdesk log produced in the background, never past a bound the test sets.

    Used by the kill test to guarantee by condition what it needs at each kill: events produced
    never exceed ``limit`` (so some are still unproduced, hence unprocessed, whatever the worker's
    speed), nor run more than ``backlog`` ahead of what is stored (so a restarting worker finds a
    bounded backlog and stays busy with it), and they arrive at ``rate`` events/s at most, so the
    worker is fed while the test pauses before a kill.
    """

    def __init__(
        self,
        settings: PulseSettings,
        events: Sequence[EventEnvelope],
        *,
        rate: float = 1_000.0,
        backlog: int = 500,
        chunk: int = 50,
    ) -> None:
        self._settings = settings
        self._events = events
        self._rate, self._backlog, self._chunk = rate, backlog, chunk
        self._limit = 0
        self._produced = 0
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="paced-replay", daemon=True)

    @property
    def produced(self) -> int:
        """Events acknowledged by the broker so far."""
        with self._cond:
            return self._produced

    def allow(self, limit: int) -> None:
        """Let the producer go on up to ``limit`` events in all (it never goes back)."""
        with self._cond:
            self._limit = max(self._limit, min(limit, len(self._events)))
            self._cond.notify_all()

    def __enter__(self) -> PacedReplay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Produce the rest unbounded and unpaced, and wait until the broker has it all."""
        with self._cond:
            self._backlog, self._rate = len(self._events), float("inf")
        self.allow(len(self._events))
        self._thread.join()
        if self._error is not None:
            raise AssertionError("the paced replay failed") from self._error

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # surfaced by __exit__
            self._error = exc

    async def _run(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            while self.produced < len(self._events):
                end = await asyncio.to_thread(self._next_end)
                started = time.monotonic()
                sends = [
                    await producer.send(
                        self._settings.events_topic,
                        key=event_key(e),
                        value=encode_event(e),
                    )
                    for e in self._events[self.produced : end]
                ]
                await asyncio.gather(*sends)
                with self._cond:
                    self._produced = end
                # Pacing the feed (not synchronisation): at most `rate` events/s.
                spare = len(sends) / self._rate - (time.monotonic() - started)
                await asyncio.sleep(max(0.0, spare))
        finally:
            await producer.stop()

    def _next_end(self) -> int:
        """Block until the bounds let at least one more event go; return the chunk's end."""
        while True:
            stored = events_stored(self._settings.dsn) or 0
            with self._cond:
                end = min(self._produced + self._chunk, self._limit, stored + self._backlog)
                if end > self._produced:
                    return end
                self._cond.wait(timeout=0.1)


def fingerprints(dsn: str) -> Fingerprints:
    return {
        "events": table_fingerprint(dsn, "pulse_events", "event_id"),
        "items": table_fingerprint(dsn, "pulse_item_states", "item_id"),
    }


def assert_exact(dsn: str, clean: Fingerprints) -> Fingerprints:
    """Exact counts, then row-for-row equality with the clean run."""
    got = fingerprints(dsn)
    assert got["events"][0] == HELPDESK_EVENTS, got
    assert got["items"][0] == HELPDESK_TICKETS, got
    assert got == clean
    return got


def events_stored(dsn: str) -> int | None:
    """Rows in pulse_events, or None while the database cannot be reached."""
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            row = conn.execute("SELECT count(*) FROM pulse_events").fetchone()
    except psycopg.OperationalError:
        return None
    return int(row[0]) if row else 0


def wait_until_stored(pipe: Pipeline, at_least: int, timeout: float = 120.0) -> int:
    """Poll the database until ``at_least`` events are stored; return the count seen."""
    found = pipe.wait_for(
        lambda: (n := events_stored(pipe.settings.dsn)) is not None and n >= at_least and n,
        timeout=timeout,
        what=f"{at_least} events in the database",
    )
    return int(found)


def finish(pipe: Pipeline, timeout: float = 180.0) -> None:
    """Wait until every event is stored and the group has committed every offset."""
    try:
        wait_until_stored(pipe, HELPDESK_EVENTS, timeout)
        wait_caught_up(pipe.settings, timeout=timeout)
    except (AssertionError, TimeoutError) as exc:
        lag = asyncio.run(group_lag(pipe.settings))
        stored = events_stored(pipe.settings.dsn)
        message = f"{stored} of {HELPDESK_EVENTS} events stored, group lag {lag}"
        raise AssertionError(message) from exc


def clean_run(settings: PulseSettings) -> Fingerprints:
    """The helpdesk log through one worker, no faults: the reference for every faulted run."""
    with isolated_pipeline(settings) as pipe:
        pipe.start_worker()
        replay(pipe.settings)
        finish(pipe)
        clean = fingerprints(pipe.settings.dsn)
    assert (clean["events"][0], clean["items"][0]) == (HELPDESK_EVENTS, HELPDESK_TICKETS), clean
    return clean


def seeded_random(name: str) -> random.Random:
    """A Random whose seed is printed (and settable with PULSE_FAULT_SEED) to replay a failure."""
    seed = int(os.environ.get("PULSE_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    print(f"{name}: seed {seed} (rerun with PULSE_FAULT_SEED={seed})")
    return random.Random(seed)


def alive(pid: int) -> bool:
    """``pid`` is a running ``pulse worker`` (an exited child of ours is reaped here)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        running = " Z " not in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return running and b"outcome_pulse.streams.cli.main" in cmdline and b"worker" in cmdline


def kill_hard(proc: WorkerProcess, timeout: float = 10.0) -> None:
    """SIGKILL the worker by the PID recorded when it was started, and wait until it is gone."""
    assert alive(proc.pid), f"pid {proc.pid} is not a running worker"
    os.kill(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while alive(proc.pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"worker pid {proc.pid} survived SIGKILL")
        time.sleep(0.05)


def watch(predicate: Callable[[], bool], seconds: float, poll: float = 0.5) -> bool:
    """True if ``predicate`` held at every poll for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(poll)
    return predicate()
