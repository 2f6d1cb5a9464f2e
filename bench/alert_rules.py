"""What the alert rules add to a contract monitor round, against the engine's own step.

    .venv/bin/python -m bench.alert_rules                      (BPIC 2013, its example contract)
    .venv/bin/python -m bench.alert_rules --dataset helpdesk --rounds 5

A monitor round applies a batch of new events (``ContractEvaluation.step``) and then evaluates
every alert rule of the contract over the whole evaluation (``alert_inputs`` +
``evaluate_alerts``). Both are timed here on the same log, in the same process: all but the last
``--batch`` (500) events are applied first, then the step of the last batch and the alert rules
after it are timed, ``--rounds`` times on a fresh evaluation. Prints the medians and the ratio
alert rules / engine step (what the alerts cost a round, relative to what the round costs
without them).
"""

from __future__ import annotations

import argparse
import statistics
import time
from importlib import resources

from outcome_pulse.processors.alerting.engine_inputs import alert_inputs
from outcome_pulse.processors.alerting.evaluate import evaluate_alerts
from outcome_pulse.processors.evaluation import ContractEvaluation
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import item_events
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.settings import PulseSettings

FILES = {
    "bpic2013": ("bpic2013_volvo_incidents.csv.gz", "bpic2013_incidents.yaml"),
    "helpdesk": ("helpdesk_tickets.csv.gz", "helpdesk_tickets.yaml"),
    "scms": ("scms_shipments.csv.gz", "scms_orders.yaml"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(FILES), default="bpic2013")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    log, contract_file = FILES[args.dataset]
    settings = PulseSettings()
    contract = load_contract(str(resources.files("outcome_pulse.contracts") / contract_file))
    events = item_events(map_file(settings.data_dir / log, load_mapping(args.dataset)).events)
    head, tail = events[: -args.batch], events[-args.batch :]
    steps: list[float] = []
    rules: list[float] = []
    episodes = 0
    for _ in range(args.rounds):
        evaluation = ContractEvaluation(contract)
        evaluation.rebuild(head)
        started = time.perf_counter()
        evaluation.step(tail)
        stepped = time.perf_counter()
        inputs = alert_inputs(evaluation)
        assert inputs is not None
        episodes = len(evaluate_alerts(contract, inputs))
        done = time.perf_counter()
        steps.append(stepped - started)
        rules.append(done - stepped)
    step, rule = statistics.median(steps), statistics.median(rules)
    print(
        f"{args.dataset}: engine step of {len(tail):,} events over {len(head):,}: {step:.2f} s; "
        f"alert rules over the whole evaluation ({episodes:,} episodes): {rule:.2f} s; "
        f"ratio alert rules / engine step {rule / step:.2f} (medians of {args.rounds})"
    )


if __name__ == "__main__":
    main()
