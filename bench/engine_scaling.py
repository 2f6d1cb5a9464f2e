"""How the contract engine scales with history: the incremental engine against the reference
(the full re-derivation it replaced), in one run.

    .venv/bin/python -m bench.engine_scaling                 (no stack needed; ~10 min on BPIC)
    .venv/bin/python -m bench.engine_scaling --replay        (also the replay, needs the stack)
    .venv/bin/python -m bench.engine_scaling --log helpdesk --no-reference

Histories are synthesised from a real log (default BPIC 2013, with its example contract):

* ``1x``: the log itself;
* ``10x longer``: ten copies one after the other (each shifted by the log's span rounded up to
  whole weeks), with new item and event ids;
* ``10x denser``: ten copies over the same span (each shifted by a few minutes), new ids.

For each size and engine, a child process (so memory is its own) loads the log's events
(mapped once by the parent, pickled), synthesises the history, evaluates all events but the last
6,000 (in time order) as a monitor does when it starts (``start``: the rebuild), then applies
those in three rounds of 2,000 (``round``: the median); it reports the peak RSS, and (new
engine) the RSS held after compacting the items done with, and the size of the engine checkpoint
with the time to write it and to start from it (load it; the monitor then applies only the events
since it). Another child runs the backtest of
the whole history and reports its peak RSS (``input``: the RSS with only the events loaded).
Times are CPU seconds of the child (``time.process_time``), so that other processes on a shared
machine weigh less on them. Ratios are against ``1x`` of the same engine, and new/reference at
the same size, all measured in this run.

``--replay``: the BPIC replay through a real worker (Kafka, PostgreSQL), once without a contract
and once with its contract monitored, timed from the first event produced until every event is
stored (and, monitored, applied by the contract monitor).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from outcome_pulse.processors.alerting.engine_inputs import SERIES_READ
from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.engine import ContractEngine
from outcome_pulse.processors.engine.engine import TRIM_MARGIN
from outcome_pulse.processors.evaluation import ContractEvaluation
from outcome_pulse.processors.forecast.drift import WATCHED
from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind, Lifecycle
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_events, item_events
from outcome_pulse.streams.drivers.backtest_spool import EventSpool, PointSpool
from outcome_pulse.streams.drivers.engine_checkpoint import fingerprint, freeze, thaw
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import build_envelope

LOGS = {
    "bpic2013": ("bpic2013_volvo_incidents.csv.gz", "bpic2013_incidents.yaml"),
    "helpdesk": ("helpdesk_tickets.csv.gz", "helpdesk_tickets.yaml"),
    "scms": ("scms_shipments.csv.gz", "scms_orders.yaml"),
}
SIZES = ("1x", "10x longer", "10x denser")
TRIM_KEEP = SERIES_READ | frozenset(WATCHED)
"""The series a monitor reads over the whole history every round (the alert rules' counts, the
drift tracker's): a trimmed monitor checkpoint would have to keep them whole."""
ROUND = 2000
CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
Events = list[tuple[ItemEvent, int]]


def real_events(log: str) -> Events:
    settings = PulseSettings()
    mapped = map_file(settings.data_dir / LOGS[log][0], load_mapping(log))
    return item_events(mapped.events)


def load_events(path: Path) -> Events:
    with path.open("rb") as handle:
        events: Events = pickle.load(handle)
    return events


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _copy(events: Events, k: int, shift: timedelta) -> Events:
    out: Events = []
    for event, seq in events:
        out.append(
            (
                replace(
                    event,
                    event_id=f"{event.event_id}~{k}",
                    item_id=f"{event.item_id}~{k}",
                    time=event.time + shift,
                    due_at=None if event.due_at is None else event.due_at + shift,
                ),
                seq,
            )
        )
    return out


def synthesise(events: Events, size: str) -> Events:
    if size == "1x":
        out = list(events)
    else:
        times = [e.time for e, _ in events]
        span = max(times) - min(times)
        weeks = timedelta(weeks=-(-span // timedelta(weeks=1)))
        step = weeks if size == "10x longer" else timedelta(minutes=7)
        out = [e for k in range(10) for e in (events if k == 0 else _copy(events, k, step * k))]
    out.sort(key=lambda e: (e[0].time, e[1], e[0].event_id))
    return out


def _reset_peak() -> None:
    """Start the peak RSS (VmHWM) over from the current RSS (Linux: clear_refs 5)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- children ------------------------------------------------------------------------------------


def child_monitor(log: str, size: str, engine: str, events: Path) -> dict[str, float]:
    contract = load_contract(CONTRACTS / LOGS[log][1])
    history = synthesise(load_events(events), size)
    head, tails = history[: -3 * ROUND], history[-3 * ROUND :]
    del history
    if engine == "new":
        from outcome_pulse.processors.engine import ContractEngine as Engine
    else:
        from outcome_pulse.processors.reference_evaluation import ContractEvaluation as Engine  # type: ignore[assignment]
    evaluation = Engine(contract)
    gc.collect()
    _reset_peak()
    started = time.process_time()
    evaluation.rebuild(head)
    start = time.process_time() - started
    rounds = []
    for first in range(0, 3 * ROUND, ROUND):  # three rounds in a row; the median is reported
        started = time.process_time()
        evaluation.step(tails[first : first + ROUND])
        rounds.append(time.process_time() - started)
    round_time = sorted(rounds)[1]
    peak = _peak_rss_mb()
    held = checkpoint_mb = checkpoint_write = checkpoint_load = 0.0
    trimmed_mb = trimmed_write = trimmed_load = 0.0
    if isinstance(evaluation, ContractEngine):
        del head, tails
        evaluation.compact()
        gc.collect()
        held = _rss_mb()
        # The start from a checkpoint (streams/drivers/engine_checkpoint.py), as the monitor
        # writes it at a round's commit under the shard's claim, and its next owner loads it.
        checkpoint_write, checkpoint_mb, checkpoint_load = _checkpoint_cost(contract, evaluation)
        # Trimmed (``ContractEngine.trim``) with the series a monitor reads kept whole: what a
        # trimmed checkpoint weighs and costs to load (what the monitor writes).
        started = time.process_time()
        evaluation.trim(keep=TRIM_KEEP)
        trim_s = time.process_time() - started
        trimmed_write, trimmed_mb, trimmed_load = _checkpoint_cost(contract, evaluation)
        trimmed_write += trim_s
    return {
        "start_s": start,
        "round_s": round_time,
        "monitor_rss_mb": peak,
        "compacted_rss_mb": held,
        "checkpoint_mb": checkpoint_mb,
        "checkpoint_write_s": checkpoint_write,
        "checkpoint_load_s": checkpoint_load,
        "trimmed_mb": trimmed_mb,
        "trimmed_write_s": trimmed_write,
        "trimmed_load_s": trimmed_load,
    }


def child_spool(log: str, size: str, events: Path, spool: Path) -> dict[str, float]:
    """Write the synthesised history to an event spool (for ``child_backtest``'s spooled run)."""
    history = synthesise(load_events(events), size)
    EventSpool(spool).extend(history)
    return {"events": len(history)}


def child_backtest(
    log: str,
    size: str,
    engine: str,
    events: Path,
    keep_all: bool = False,
    spool: Path | None = None,
) -> dict[str, float]:
    contract = load_contract(CONTRACTS / LOGS[log][1])
    if spool is not None:  # the spooled backtest: input and points on disk, as pulse backtest
        return _spooled_backtest(contract, spool, not keep_all)
    history = synthesise(load_events(events), size)
    gc.collect()
    base = _rss_mb()
    _reset_peak()
    started = time.process_time()
    fed: list[float] = []
    if engine == "new":
        # keep_all: the backtest before it compacted as it goes (every event held to the end).
        result = backtest_events(
            contract,
            history,
            compact_every=None if keep_all else 50_000,
            on_progress=lambda n: fed.append(_rss_mb()) if n == len(history) else None,
        )
        points = len(result.evaluation.points)
    else:  # the backtest as it was: observe in batches, one full evaluation at the end
        from outcome_pulse.processors.reference_evaluation import ContractEvaluation

        evaluation = ContractEvaluation(contract)
        for start in range(0, len(history), 5000):
            evaluation.observe(history[start : start + 5000])
        points = len(evaluation.evaluate().points)
    return {
        "events": len(history),
        "backtest_s": time.process_time() - started,
        "backtest_rss_mb": _peak_rss_mb(),
        "input_rss_mb": base,
        "fed_rss_mb": fed[0] if fed else 0.0,
        "points": points,
    }


def _spooled_backtest(contract: Contract, spool: Path, trim: bool) -> dict[str, float]:
    """``trim``: as ``pulse backtest`` runs now (the evaluation trimmed at each compaction);
    without, as before the trim (``trim_margin=None``)."""
    events = EventSpool.reopen(spool)
    gc.collect()
    base = _rss_mb()
    _reset_peak()
    started = time.process_time()
    name = spool.stem + ("-points.sqlite" if trim else "-points-untrimmed.sqlite")
    points = PointSpool(spool.with_name(name))
    rebuilds: list[int] = []
    result = backtest_events(
        contract,
        events,
        points=points,
        trim_margin=TRIM_MARGIN if trim else None,
        rebuilds=rebuilds,
    )
    return {
        "events": len(events),
        "backtest_s": time.process_time() - started,
        "backtest_rss_mb": _peak_rss_mb(),
        "input_rss_mb": base,
        "points": result.point_count(),
        "rebuilds": len(rebuilds),
    }


def run_child(
    kind: str,
    log: str,
    size: str,
    engine: str,
    events: Path,
    keep_all: bool = False,
    spool: Path | None = None,
    checkout: Path | None = None,
) -> dict[str, float]:
    """One child process; ``checkout``: run it in another checkout (with its own venv), for a
    baseline measured beside this code."""
    python = sys.executable if checkout is None else str(checkout / ".venv" / "bin" / "python")
    command = [python, "-m", "bench.engine_scaling", "--child", kind]
    command += ["--log", log, "--size", size, "--engine", engine, "--events", str(events)]
    command += ["--keep-all"] if keep_all else []
    command += [] if spool is None else ["--spool", str(spool)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=checkout)
    if done.returncode != 0:
        raise SystemExit(f"child {kind} {size} {engine} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def backtest_figures(log: str, events: Path, scratch: Path, *, keep_all: bool) -> None:
    """The backtest's peak RSS at 1x and 10x longer: in memory (input and points held, as
    ``backtest_events`` over a list) and spooled (input and points on disk, as ``pulse
    backtest`` runs it); ``fed``: the RSS once every event is in, before the points are built."""
    rows: dict[str, dict[str, float]] = {}
    for size in SIZES[:2]:
        row = run_child("backtest", log, size, "new", events)
        spool = scratch / f"spool-{size.replace(' ', '-')}.sqlite"
        run_child("spool", log, size, "new", events, spool=spool)
        spooled = run_child("backtest", log, size, "new", events, spool=spool)
        row |= {f"spooled_{k}": v for k, v in spooled.items()}
        # The spooled backtest before the trim (``--keep-all`` with ``--spool``: untrimmed).
        untrimmed = run_child("backtest", log, size, "new", events, True, spool=spool)
        row |= {f"untrimmed_{k}": v for k, v in untrimmed.items()}
        if keep_all:
            row["kept_rss_mb"] = run_child("backtest", log, size, "new", events, True)[
                "backtest_rss_mb"
            ]
        rows[size] = row
        print(
            f"{log} {size:>10}: {int(row['events']):>8,} events, {int(row['points']):,} points  "
            f"in memory: {row['backtest_s']:6.1f} s, RSS peak {row['backtest_rss_mb']:5.0f} MB "
            f"(input {row['input_rss_mb']:.0f} MB, all fed {row['fed_rss_mb']:.0f} MB)"
            + (f" (keeping every event {row['kept_rss_mb']:.0f} MB)" if keep_all else "")
            + f"  spooled: {row['spooled_backtest_s']:6.1f} s, RSS peak "
            f"{row['spooled_backtest_rss_mb']:5.0f} MB (at start {row['spooled_input_rss_mb']:.0f}"
            f" MB; {int(row['spooled_rebuilds'])} rebuilds)  spooled before the trim: "
            f"{row['untrimmed_backtest_s']:6.1f} s, RSS peak "
            f"{row['untrimmed_backtest_rss_mb']:5.0f} MB",
            flush=True,
        )
        if row["spooled_points"] != row["points"]:
            raise SystemExit(f"{size}: the spooled backtest has {row['spooled_points']} points")
    one, ten = rows["1x"], rows["10x longer"]
    print(
        f"\n10x longer / 1x backtest RSS peak: in memory "
        f"{ten['backtest_rss_mb'] / one['backtest_rss_mb']:.2f}, spooled "
        f"{ten['spooled_backtest_rss_mb'] / one['spooled_backtest_rss_mb']:.2f} (goal 1.3)"
    )


# -- the replay ------------------------------------------------------------------------------------


def checkpoint_figures(log: str, events: Path, against: Path | None) -> None:
    """The monitor's engine checkpoint at 1x and 10x longer: its size and load time, whole
    and trimmed (as the monitor writes it); ``against``: the same children run in another
    checkout (the code before a change), printed beside, with the ratios."""
    rows: dict[tuple[str, str], dict[str, float]] = {}
    checkouts: list[tuple[str, Path | None]] = [("this", None)]
    if against is not None:
        checkouts.append(("against", against))
    for size in SIZES[:2]:
        for name, checkout in checkouts:
            row = run_child("monitor", log, size, "new", events, checkout=checkout)
            rows[(size, name)] = row
            print(
                f"{log} {size:>10} {name:>7}: checkpoint whole {row['checkpoint_mb']:6.1f} MB "
                f"(load {row['checkpoint_load_s']:6.2f} s), trimmed {row['trimmed_mb']:6.1f} MB "
                f"(load {row['trimmed_load_s']:6.2f} s; trimmed and written in "
                f"{row['trimmed_write_s']:6.2f} s); rebuild {row['start_s']:6.1f} s",
                flush=True,
            )
    for name, _ in checkouts:
        one, ten = rows[("1x", name)], rows[(SIZES[1], name)]
        print(
            f"{name:>7} 10x longer / 1x: trimmed checkpoint size "
            f"{ten['trimmed_mb'] / one['trimmed_mb']:5.2f}, load "
            f"{ten['trimmed_load_s'] / one['trimmed_load_s']:5.2f}"
        )
    if against is not None:
        for size in SIZES[:2]:
            new, old = rows[(size, "this")], rows[(size, "against")]
            print(
                f"this / against at {size}: trimmed checkpoint size "
                f"{new['trimmed_mb'] / old['trimmed_mb']:5.2f}, load "
                f"{new['trimmed_load_s'] / old['trimmed_load_s']:5.2f}"
            )


def replay(monitored: bool, evaluator: bool = False) -> float:
    """Seconds from the first event produced to every event stored and applied: one worker
    (role all) without or with the contract, or (``evaluator``) a worker of role ingest beside a
    process of role evaluate that evaluates the contract."""
    from outcome_pulse.streams.drivers.replay import produce
    from tests.support.sandbox import free_port, isolated_pipeline

    settings = PulseSettings()
    mapped = map_file(settings.data_dir / LOGS["bpic2013"][0], load_mapping("bpic2013"))
    total = len(mapped.events)
    contracts = str(CONTRACTS / LOGS["bpic2013"][1]) if monitored else ""

    def counts(dsn: str) -> tuple[int, int]:
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM pulse_events), "
                "(SELECT count(*) FROM pulse_monitor_inbox)"
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    with isolated_pipeline(settings) as pipe:
        if evaluator:
            pipe.start_worker(contracts=contracts, worker_role="ingest")
            pipe.start_worker(
                "evaluator",
                contracts=contracts,
                monitor_interval=1.0,
                worker_role="evaluate",
                metrics_port=free_port(),
            )
        else:
            pipe.start_worker(contracts=contracts, monitor_interval=1.0)
        # Warm up: one event of another source all the way through (group joined, monitor on).
        ping = build_envelope(
            event_id="bench-warm-up",
            source="bench-warm-up",
            kind=ItemKind.INCIDENT,
            lifecycle=Lifecycle.CREATED,
            time=datetime(2020, 1, 1, tzinfo=UTC),
            item_id="warm-up",
        )
        asyncio.run(produce(pipe.settings, [ping], []))
        pipe.wait_for(lambda: counts(pipe.settings.dsn) == (1, 0), what="the warm-up event")
        started = time.monotonic()
        asyncio.run(produce(pipe.settings, mapped.events, []))
        pipe.wait_for(
            lambda: counts(pipe.settings.dsn) == (total + 1, 0),
            timeout=1800,
            what="every event stored and applied",
        )
        return time.monotonic() - started


def replay_figures() -> None:
    print(f"load average before the replays: {os.getloadavg()[0]:.1f}", flush=True)
    without = replay(monitored=False)
    monitored = replay(monitored=True)
    split = replay(monitored=True, evaluator=True)
    print(
        f"\nBPIC replay: {without:.1f} s without a contract, {monitored:.1f} s with its "
        f"contract monitored in the worker (ratio {monitored / without:.2f}), {split:.1f} s "
        f"with it evaluated by a process of its own beside a worker of role ingest (ratio "
        f"{split / without:.2f}); load average after: {os.getloadavg()[0]:.1f}"
    )


# -- the report ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", choices=sorted(LOGS), default="bpic2013")
    parser.add_argument("--no-reference", action="store_true", help="only the new engine")
    parser.add_argument("--replay", action="store_true", help="also the BPIC replay (stack)")
    parser.add_argument(
        "--replay-only",
        action="store_true",
        help="only the BPIC replay: without a contract, with it in the worker, with it in a "
        "process of role evaluate (stack)",
    )
    parser.add_argument("--child", choices=("monitor", "backtest", "spool"), help=argparse.SUPPRESS)
    parser.add_argument("--size", choices=SIZES, default="1x", help=argparse.SUPPRESS)
    parser.add_argument("--spool", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--backtest-only",
        action="store_true",
        help="only the backtest children (held in memory, and spooled to disk as pulse "
        "backtest runs it), at 1x and 10x longer",
    )
    parser.add_argument(
        "--checkpoints-only",
        action="store_true",
        help="only the monitor children at 1x and 10x longer: the engine checkpoint's size "
        "and load time, whole and trimmed",
    )
    parser.add_argument(
        "--against",
        type=Path,
        help="with --checkpoints-only: also run the children in this other checkout (its own "
        ".venv; e.g. a worktree of the code before a change), printed beside",
    )
    parser.add_argument("--engine", choices=("new", "reference"), help=argparse.SUPPRESS)
    parser.add_argument("--events", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--backtest-keep-all",
        action="store_true",
        help="also the backtest that keeps every event to the end (no compaction), as before",
    )
    parser.add_argument("--keep-all", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "monitor":
        print(json.dumps(child_monitor(args.log, args.size, args.engine, args.events)))
        return
    if args.child == "backtest":
        row = child_backtest(
            args.log, args.size, args.engine, args.events, args.keep_all, args.spool
        )
        print(json.dumps(row))
        return
    if args.child == "spool":
        print(json.dumps(child_spool(args.log, args.size, args.events, args.spool)))
        return
    if args.replay_only:
        replay_figures()
        return
    engines = ("new",) if args.no_reference else ("new", "reference")
    figures: dict[tuple[str, str], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        events = Path(scratch) / "events.pickle"
        with events.open("wb") as handle:
            pickle.dump(real_events(args.log), handle)
        if args.backtest_only:
            backtest_figures(args.log, events, Path(scratch), keep_all=args.backtest_keep_all)
            return
        if args.checkpoints_only:
            checkpoint_figures(args.log, events, args.against)
            return
        for size in SIZES:
            for engine in engines:
                row = run_child("monitor", args.log, size, engine, events)
                row |= run_child("backtest", args.log, size, engine, events)
                if engine == "new" and args.backtest_keep_all:
                    kept = run_child("backtest", args.log, size, engine, events, keep_all=True)
                    row["kept_rss_mb"] = kept["backtest_rss_mb"]
                figures[(size, engine)] = row
                print(
                    f"{args.log} {size:>10} {engine:>9}: {int(row['events']):>8,} events  "
                    f"start {row['start_s']:7.2f} s  round of {ROUND:,} {row['round_s']:6.3f} s  "
                    f"monitor RSS peak {row['monitor_rss_mb']:5.0f} MB"
                    + (
                        f" ({row['compacted_rss_mb']:.0f} MB compacted)"
                        if row["compacted_rss_mb"]
                        else ""
                    )
                    + f"  backtest {row['backtest_s']:6.1f} s RSS {row['backtest_rss_mb']:5.0f} MB"
                    f" (input {row['input_rss_mb']:.0f} MB)"
                    + (
                        f" (keeping every event: {row['kept_rss_mb']:.0f} MB)"
                        if "kept_rss_mb" in row
                        else ""
                    )
                    + (
                        f"  checkpoint {row['checkpoint_mb']:.1f} MB: written in "
                        f"{row['checkpoint_write_s']:.2f} s, start from it "
                        f"{row['checkpoint_load_s']:.2f} s; trimmed {row['trimmed_mb']:.1f} MB: "
                        f"trimmed and written in {row['trimmed_write_s']:.2f} s, start from it "
                        f"{row['trimmed_load_s']:.2f} s"
                        if row["checkpoint_mb"]
                        else ""
                    ),
                    flush=True,
                )
    print()
    for engine in engines:
        one = figures[("1x", engine)]
        for size in SIZES[1:]:
            row = figures[(size, engine)]
            print(
                f"{engine:>9} {size} / 1x: round {row['round_s'] / one['round_s']:5.2f}  "
                f"start {row['start_s'] / one['start_s']:5.2f}  "
                f"backtest RSS {row['backtest_rss_mb'] / one['backtest_rss_mb']:5.2f}"
                + (
                    f"  start from checkpoint "
                    f"{row['checkpoint_load_s'] / one['checkpoint_load_s']:5.2f}"
                    f" (trimmed {row['trimmed_load_s'] / one['trimmed_load_s']:5.2f})"
                    if one["checkpoint_load_s"]
                    else ""
                )
            )
    if not args.no_reference:
        for size in SIZES:
            new, old = figures[(size, "new")], figures[(size, "reference")]
            print(
                f"new / reference at {size}: round {new['round_s'] / old['round_s']:5.2f}  "
                f"start {new['start_s'] / old['start_s']:5.2f}  "
                f"backtest RSS {new['backtest_rss_mb'] / old['backtest_rss_mb']:5.2f}"
            )
    if args.replay:
        replay_figures()


def _checkpoint_cost(
    contract: Contract, evaluation: ContractEvaluation
) -> tuple[float, float, float]:
    """``(write CPU s, size MB, load CPU s)`` of the evaluation's checkpoint."""
    started = time.process_time()
    state = freeze(evaluation)
    write = time.process_time() - started
    started = time.process_time()
    loaded = thaw(contract, (fingerprint(contract), state))
    load = time.process_time() - started
    assert loaded.evaluation is not None
    return write, len(state) / 2**20, load


if __name__ == "__main__":
    main()
