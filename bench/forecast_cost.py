"""What forecasting costs the engine: ``pulse backtest`` of a log with the breach model, period
forecasts and drift on, against the same backtest with the breach model switched off, in one run.

    .venv/bin/python -m bench.forecast_cost [--log bpic2013] [--rounds 2000] [--repeat 2]

Two drivers, each timed both ways (CPU seconds of this process, ``time.process_time``, so other
processes on a shared machine weigh less; the best of ``--repeat``):

* ``backtest``: ``backtest_events`` over the whole log (batches of 5,000, one evaluation at the
  end), as ``pulse backtest`` runs it;
* ``monitor rounds``: the engine stepped in rounds of ``--rounds`` events in time order,
  compacting after each, plus the monitor's forecasting rows per round (``ForecastRows``), as
  the streaming monitor runs it.

"off" replaces the engine's ``OpenClockForecast.update``/``annotate`` by pass-throughs (and skips
the rows): the engine without forecasting. The ratio on/off is the price of forecasting.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from outcome_pulse.processors.engine import ContractEngine
from outcome_pulse.processors.forecast.open_clocks import OpenClockForecast
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_events, item_events
from outcome_pulse.streams.drivers.forecast_rows import ForecastRows
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping

ROOT = Path(__file__).resolve().parents[1]
LOGS = {
    "bpic2013": ("bpic2013_volvo_incidents.csv.gz", "bpic2013_incidents.yaml"),
    "helpdesk": ("helpdesk_tickets.csv.gz", "helpdesk_tickets.yaml"),
    "scms": ("scms_shipments.csv.gz", "scms_orders.yaml"),
}


@contextmanager
def forecasting_off() -> Iterator[None]:
    update, annotate = OpenClockForecast.update, OpenClockForecast.annotate

    def no_update(self: OpenClockForecast, *args: Any) -> None:
        return None

    def no_annotate(self: OpenClockForecast, clocks: Any, *args: Any) -> Any:
        return dict(clocks)

    OpenClockForecast.update = no_update  # type: ignore[method-assign,assignment]
    OpenClockForecast.annotate = no_annotate  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        OpenClockForecast.update = update  # type: ignore[method-assign]
        OpenClockForecast.annotate = annotate  # type: ignore[method-assign]


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", choices=sorted(LOGS), default="bpic2013")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    data, contract_file = LOGS[args.log]
    contract = load_contract(ROOT / "contracts" / contract_file)
    events = item_events(map_file(args.data / data, load_mapping(args.log)).events)
    in_order = sorted(events, key=lambda e: e[0].time)

    def backtest() -> None:
        backtest_events(contract, events)

    def rounds(with_rows: bool) -> None:
        engine = ContractEngine(contract)
        rows = ForecastRows(contract)
        seen: list[Any] = []
        for start in range(0, len(in_order), args.rounds):
            batch = in_order[start : start + args.rounds]
            missing = set(engine.missing_histories(batch))
            if missing:
                engine.restore(e for e in seen if (e[0].source, e[0].item_id) in missing)
            step = engine.step(batch)
            seen.extend(batch)
            engine.compact()
            if with_rows:
                rows.compute(engine, corrected=bool(step.late))

    print(f"{args.log}: {len(events):,} events; best of {args.repeat}, CPU seconds")
    print(f"{'driver':<16} {'forecasting on':>15} {'off':>8} {'on / off':>9}")
    for name, on, off in (
        ("backtest", backtest, backtest),
        ("monitor rounds", lambda: rounds(True), lambda: rounds(False)),
    ):
        with_ = best_of(args.repeat, on)
        with forecasting_off():
            without = best_of(args.repeat, off)
        print(f"{name:<16} {with_:>15.1f} {without:>8.1f} {with_ / without:>9.2f}")


if __name__ == "__main__":
    main()
