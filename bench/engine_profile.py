"""Where the engine's time goes: a cProfile of one monitor round, or of the start from a
checkpoint, on a history of ``bench.engine_scaling`` (same synthesis, same contract).

    .venv/bin/python -m bench.engine_profile --size "10x denser" --what round
    .venv/bin/python -m bench.engine_profile --size "10x longer" --what checkpoint

As ``bench.engine_scaling``'s monitor child: it rebuilds the engine from all events but the last
6,000 (as the monitor's start does), applies one round of 2,000 events to warm up, then profiles
the next round of 2,000 (``round``), or compacts the engine and profiles the load of its
checkpoint (``checkpoint``), and prints the top entries by own time and by cumulative time (CPU of
this process; the profiler's overhead inflates the total).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

from bench.engine_scaling import CONTRACTS, LOGS, ROUND, SIZES, real_events, synthesise
from outcome_pulse.processors.engine import ContractEngine
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.engine_checkpoint import fingerprint, freeze, thaw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", choices=sorted(LOGS), default="bpic2013")
    parser.add_argument("--size", choices=SIZES, default="1x")
    parser.add_argument("--what", choices=("round", "checkpoint"), default="round")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    contract = load_contract(CONTRACTS / LOGS[args.log][1])
    history = synthesise(real_events(args.log), args.size)
    head, tails = history[: -3 * ROUND], history[-3 * ROUND :]
    engine = ContractEngine(contract)
    engine.rebuild(head)
    engine.step(tails[:ROUND])
    profile = cProfile.Profile(time.process_time)
    if args.what == "round":
        profile.runcall(engine.step, tails[ROUND : 2 * ROUND])
    else:
        engine.compact()
        state = freeze(engine)
        print(f"checkpoint: {len(state) / 2**20:.1f} MB compressed")
        thawed = profile.runcall(thaw, contract, (fingerprint(contract), state))
        assert thawed.evaluation is not None
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats(order).print_stats(args.top)
        print(f"== {args.log} {args.size} {args.what}, by {order}")
        print(out.getvalue())


if __name__ == "__main__":
    main()
