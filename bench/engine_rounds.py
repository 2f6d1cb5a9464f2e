"""A monitor round's cost at each history size, for this checkout and a baseline checkout
measured beside it in the same run (issue 15.1: flat per event at 10x denser, within 1.5x at
10x longer).

    .venv/bin/python -m bench.engine_rounds --baseline /work/wt-base --sizes 1x "10x denser"
    .venv/bin/python -m bench.engine_rounds --gc worker worker+freeze

Each child process (so memory and the collector are its own) synthesises the history as
``bench.engine_scaling`` does, rebuilds the engine from all events but the last 6,000 (the
monitor's start), then applies those in three rounds of 2,000 and reports the median round
(CPU seconds of the child). ``--baseline DIR``: the same children run by ``DIR``'s own venv in
``DIR`` (another checkout; this file is copied there if it has none), alternating with this
checkout's, so both see the same machine load. ``--gc``: the collector's settings in the child:
``default`` (Python's), ``worker`` (the worker's thresholds, ``tune_garbage_collector``: young
passes every 50,000 allocations, what is alive before the rebuild frozen), ``worker+freeze``
(also frozen after the rebuild, as the monitor driver does after a start).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.engine_scaling import CONTRACTS, LOGS, ROUND, SIZES, load_events, real_events, synthesise

GC_MODES = ("default", "worker", "worker+freeze")
HERE = Path(__file__).resolve().parents[1]


def child(log: str, size: str, events: Path, mode: str) -> dict[str, float]:
    from outcome_pulse.processors.engine import ContractEngine
    from outcome_pulse.streams.contract_files import load_contract

    if mode != "default":
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 10)
    contract = load_contract(CONTRACTS / LOGS[log][1])
    history = synthesise(load_events(events), size)
    head, tails = history[: -3 * ROUND], history[-3 * ROUND :]
    del history
    engine = ContractEngine(contract)
    started = time.process_time()
    engine.rebuild(head)
    start = time.process_time() - started
    if mode == "worker+freeze":
        gc.collect()
        gc.freeze()
    rounds = []
    for first in range(0, 3 * ROUND, ROUND):
        started = time.process_time()
        engine.step(tails[first : first + ROUND])
        rounds.append(time.process_time() - started)
    return {"start_s": start, "round_s": sorted(rounds)[1], "rounds": rounds}  # type: ignore[dict-item]


def run(checkout: Path, log: str, size: str, events: Path, mode: str) -> dict[str, float]:
    command = [str(checkout / ".venv/bin/python"), "-m", "bench.engine_rounds", "--child"]
    command += ["--log", log, "--size", size, "--events", str(events), "--gc", mode]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=checkout)
    if done.returncode != 0:
        raise SystemExit(f"child {checkout} {size} {mode} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", choices=sorted(LOGS), default="bpic2013")
    parser.add_argument("--sizes", nargs="+", choices=SIZES, default=list(SIZES))
    parser.add_argument("--baseline", type=Path, help="another checkout, measured beside")
    parser.add_argument("--gc", nargs="+", choices=GC_MODES, default=["default"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", choices=SIZES, help=argparse.SUPPRESS)
    parser.add_argument("--events", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.log, args.size, args.events, args.gc[0])))
        return
    checkouts = {"this": HERE}
    if args.baseline is not None:
        base = args.baseline.resolve()
        if not (base / "bench/engine_rounds.py").exists():
            shutil.copy(Path(__file__), base / "bench/engine_rounds.py")
        checkouts["baseline"] = base
    print(f"load average at the start: {os.getloadavg()}", flush=True)
    figures: dict[tuple[str, str, str], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        events = Path(scratch) / "events.pickle"
        with events.open("wb") as handle:
            pickle.dump(real_events(args.log), handle)
        for size in args.sizes:
            for mode in args.gc:
                for name, checkout in checkouts.items():
                    row = figures[(size, mode, name)] = run(checkout, args.log, size, events, mode)
                    rounds = ", ".join(f"{r:.2f}" for r in row["rounds"])  # type: ignore[attr-defined]
                    print(
                        f"{args.log} {size:>10} gc {mode:>13} {name:>8}: start "
                        f"{row['start_s']:7.2f} s  round of {ROUND:,} {row['round_s']:6.3f} s "
                        f"(rounds {rounds})",
                        flush=True,
                    )
    print()
    for (size, mode, name), row in figures.items():
        one = figures.get(("1x", mode, name))
        base = figures.get((size, mode, "baseline"))
        print(
            f"{size:>10} gc {mode:>13} {name:>8}: round {row['round_s']:.3f} s"
            + (f", {row['round_s'] / one['round_s']:.2f}x of 1x" if one else "")
            + (
                f", {row['round_s'] / base['round_s']:.2f}x of the baseline"
                if base and name != "baseline"
                else ""
            )
            + (
                f", {row['round_s'] / figures[(size, 'default', name)]['round_s']:.2f}x of gc "
                "default"
                if mode != "default" and (size, "default", name) in figures
                else ""
            )
        )
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
