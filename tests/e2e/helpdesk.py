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
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg

from outcome_pulse.sinks.queries import table_fingerprint
from outcome_pulse.streams.cli.processes import WorkerProcess
from outcome_pulse.streams.drivers.replay import ReplayReport, produce, replay_file
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import RecordMapping, load_mapping
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import EventEnvelope
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
