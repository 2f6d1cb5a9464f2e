"""A digest of everything the engine emits on a log: a rebuild and three rounds, as
``bench.engine_scaling``'s monitor child runs them, to check that a change to the engine's
speed leaves its output byte for byte as it was (run it on two checkouts, compare the lines).

    PYTHONHASHSEED=0 .venv/bin/python -m bench.engine_digest --log bpic2013 --size 1x

Prints one sha256 per part (the rebuild's rows, each round's delta in the order emitted:
points, outcomes, late events, open clocks; the final rows) and one over all of them.
"""

from __future__ import annotations

import argparse
import hashlib

from bench.engine_scaling import CONTRACTS, LOGS, ROUND, SIZES, real_events, synthesise
from outcome_pulse.processors.engine import ContractEngine
from outcome_pulse.processors.engine.results import Evaluation
from outcome_pulse.streams.contract_files import load_contract


def _digest(value: object) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()


def _rows(evaluation: Evaluation) -> object:
    return (
        sorted(evaluation.points.items()),
        sorted(evaluation.outcomes.items()),
        sorted(evaluation.open_clocks.items()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", choices=sorted(LOGS), default="bpic2013")
    parser.add_argument("--size", choices=SIZES, default="1x")
    args = parser.parse_args()
    contract = load_contract(CONTRACTS / LOGS[args.log][1])
    history = synthesise(real_events(args.log), args.size)
    head, tails = history[: -3 * ROUND], history[-3 * ROUND :]
    engine = ContractEngine(contract)
    parts = {"rebuild": _digest(_rows(engine.rebuild(head)))}
    for n, first in enumerate(range(0, 3 * ROUND, ROUND), 1):
        step = engine.step(tails[first : first + ROUND])
        parts[f"round {n}"] = _digest(
            (
                step.observed,
                step.points,
                step.outcomes,
                step.late,
                step.open_clocks,
            )
        )
    parts["final"] = _digest(_rows(engine.last))
    parts["forecasts"] = _digest(engine.period_forecasts())
    for name, digest in parts.items():
        print(f"{args.log} {args.size} {name}: {digest}")
    print(f"{args.log} {args.size} all: {_digest(sorted(parts.items()))}")


if __name__ == "__main__":
    main()
