"""Faults while the helpdesk log streams through a worker: nothing lost, nothing duplicated.

Each test faults one pipeline (a worker SIGKILLed at random points, the Kafka broker restarted,
PostgreSQL stopped for 30 s), lets it catch up, and compares both tables row for row with a clean
run of the same input (``helpdesk_clean``). Random choices print their seed; set
``PULSE_FAULT_SEED`` to replay one.
"""

from __future__ import annotations

import time

import pytest

from outcome_pulse.streams.cli.processes import run_stack_script
from outcome_pulse.streams.settings import PulseSettings
from tests.e2e.helpdesk import (
    HELPDESK_EVENTS,
    Fingerprints,
    PacedReplay,
    alive,
    assert_exact,
    events_stored,
    finish,
    kill_hard,
    mapped_events,
    produce_events,
    replay,
    seeded_random,
    wait_until_stored,
    watch,
)
from tests.support.sandbox import isolated_pipeline

pytestmark = pytest.mark.e2e

KILLS = 3
KILL_LEAD = 2_000  # events the paced replay may produce beyond a kill point before that kill
OUTAGE_SECONDS = 30.0


# rocksdb: the item table survives each kill on local disk, and the restarted worker reads only
# the changelog after the offset its store persisted (README "Item store").
@pytest.mark.parametrize("item_store", ["memory", "rocksdb"])
def test_worker_killed_three_times_loses_and_duplicates_nothing(
    settings: PulseSettings, helpdesk_clean: Fingerprints, item_store: str
) -> None:
    rng = seeded_random("kill points")
    # One kill point in each third of [10%, 90%] of the log, so they are spread over the run;
    # then a random pause, so the kill lands anywhere in fold, flush or offset commit.
    low, high = int(0.1 * HELPDESK_EVENTS), int(0.9 * HELPDESK_EVENTS)
    step = (high - low) // KILLS
    points = [rng.randrange(low + i * step, low + (i + 1) * step) for i in range(KILLS)]
    pauses = [rng.uniform(0.0, 0.6) for _ in range(KILLS)]
    # The replay is paced and bounded (PacedReplay): before kill i no more than point + KILL_LEAD
    # events exist, so events are still unprocessed at every kill however fast the worker is.
    assert high + KILL_LEAD < HELPDESK_EVENTS
    with isolated_pipeline(settings.model_copy(update={"item_store": item_store})) as pipe:
        proc = pipe.start_worker()
        killed_at = []
        with PacedReplay(pipe.settings, mapped_events()) as feed:
            for point, pause in zip(points, pauses, strict=True):
                feed.allow(point + KILL_LEAD)
                wait_until_stored(pipe, point)
                time.sleep(pause)
                stored = events_stored(pipe.settings.dsn)
                assert alive(proc.pid), pipe.worker_log()
                kill_hard(proc)
                killed_at.append(stored)
                print(
                    f"SIGKILL pid {proc.pid} at {stored} events stored, {feed.produced} produced"
                    f" (point {point})"
                )
                proc = pipe.start_worker()
        # Every kill happened while events were still missing, i.e. during processing.
        assert all(n is not None and n < HELPDESK_EVENTS for n in killed_at), killed_at
        finish(pipe)
        assert alive(proc.pid), pipe.worker_log()
        assert_exact(pipe.settings.dsn, helpdesk_clean)


@pytest.mark.exclusive
def test_broker_restart_mid_replay_loses_and_duplicates_nothing(
    settings: PulseSettings, helpdesk_clean: Fingerprints
) -> None:
    """Half the log, a broker restart while the worker is busy with it, then the other half."""
    rng = seeded_random("broker restart")
    events = mapped_events()
    half = len(events) // 2
    restart_at = rng.randrange(int(0.15 * HELPDESK_EVENTS), int(0.35 * HELPDESK_EVENTS))
    with isolated_pipeline(settings) as pipe:
        # Small batches (20): a worker on an idle machine otherwise stores the whole first half
        # (10,712 events, all produced at once) within a poll of reaching the restart point.
        proc = pipe.start_worker(sink_batch_size=20)
        produce_events(pipe.settings, events[:half])
        wait_until_stored(pipe, restart_at)
        before = events_stored(pipe.settings.dsn)
        try:
            assert run_stack_script(pipe.settings, "restart", "kafka") == 0
        finally:
            run_stack_script(pipe.settings, "up", "kafka")  # never leave the stack without it
        print(f"broker restarted at {before} events stored (point {restart_at})")
        assert before is not None and before < half, "the restart did not land mid-processing"
        # The second half goes to the new broker, so the worker must have resumed fetching.
        produce_events(pipe.settings, events[half:])
        finish(pipe)
        # The same process throughout: nothing restarted it.
        assert alive(proc.pid), f"the worker died during the broker restart\n{pipe.worker_log()}"
        log = proc.log.read_text(errors="replace")
        assert "Connection at 127.0.0.1" in log or "Connect call failed" in log, "no outage seen"
        assert_exact(pipe.settings.dsn, helpdesk_clean)


@pytest.mark.exclusive
def test_database_outage_of_30_seconds_loses_and_duplicates_nothing(
    settings: PulseSettings, helpdesk_clean: Fingerprints
) -> None:
    rng = seeded_random("database outage")
    stop_at = rng.randrange(int(0.2 * HELPDESK_EVENTS), int(0.5 * HELPDESK_EVENTS))
    with isolated_pipeline(settings) as pipe:
        proc = pipe.start_worker()
        replay(pipe.settings)
        wait_until_stored(pipe, stop_at)
        try:
            assert run_stack_script(pipe.settings, "down", "postgres") == 0
            stopped = time.monotonic()
            survived = watch(lambda: alive(proc.pid), OUTAGE_SECONDS)
            assert events_stored(pipe.settings.dsn) is None, "PostgreSQL was still reachable"
        finally:
            assert run_stack_script(pipe.settings, "up", "postgres") == 0
        print(f"PostgreSQL down for {time.monotonic() - stopped:.0f} s from point {stop_at}")
        assert survived, f"the worker died while PostgreSQL was down\n{pipe.worker_log()}"
        finish(pipe)
        assert alive(proc.pid), pipe.worker_log()
        log = proc.log.read_text(errors="replace")
        assert "PostgreSQL unavailable while writing" in log, "the outage hit no write"
        assert_exact(pipe.settings.dsn, helpdesk_clean)
