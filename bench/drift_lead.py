"""Was drift signalled before a KPI started missing, and how early?

    .venv/bin/python -m bench.drift_lead DATA --mapping M --contract C [--days 60]

Runs the backtest, then the drift detection on the final indicator series
(``forecast.drift``). A *deterioration* is a judged period that missed its target
right after at least two met ones. For each, it lists the warning signals (up for arrivals,
reassignments, backlog age p90 and share past risk; down for completions) detected in the
``--days`` before the period's end, with their lead time before the period's start and end.
For scale it also prints how many warning signals came in all, per 30 days of history.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from outcome_pulse.processors.forecast.drift import DriftSignal
from outcome_pulse.processors.periods import period_label
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import backtest_file
from outcome_pulse.streams.drivers.forecast_files import drift_of
from outcome_pulse.streams.file_import.mapping import load_mapping

JUDGED = ("met", "below_target", "below_minimum")


def is_warning(signal: DriftSignal) -> bool:
    worse_when_down = signal.indicator.endswith("completions")
    return (signal.direction == "down") == worse_when_down


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drift_lead", description=__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("--mapping", required=True)
    parser.add_argument("--contract", required=True, type=Path)
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args(argv)
    contract = load_contract(args.contract)
    result = backtest_file(args.data, load_mapping(args.mapping), contract)
    signals = drift_of(result)
    warnings = [s for s in signals if is_warning(s)]
    zone = ZoneInfo(contract.client.time_zone)
    engine = result.engine
    assert engine is not None and engine.min_time is not None and engine.max_time is not None
    months = (engine.max_time - engine.min_time) / timedelta(days=30)
    print(
        f"{len(signals)} drift signals, {len(warnings)} of them warnings "
        f"({len(warnings) / months:.1f} per 30 days of history)"
    )
    for kpi in contract.kpis:
        periods = [
            o
            for o in result.outcomes()
            if o.kpi == kpi.id and o.final and o.status in JUDGED and kpi.levels_are_shares
        ]
        for before2, before, period in zip(periods, periods[1:], periods[2:], strict=False):
            if period.status == "met" or before.status != "met" or before2.status != "met":
                continue
            label = period_label(period.period, period.period_start, period.period_end, zone)
            print(
                f"\n{kpi.id}: {label} missed "
                f"({period.measure:.1%} against {period.target_level:.0%}) after met periods"
            )
            print(
                "| detected | indicator | direction | size | started | lead before start "
                "| lead before end |"
            )
            print("|---|---|---|---:|---|---:|---:|")
            window = period.period_end - timedelta(days=args.days)
            for s in warnings:
                if window <= s.detected_at < period.period_end:
                    start_lead = (period.period_start - s.detected_at) / timedelta(days=1)
                    end_lead = (period.period_end - s.detected_at) / timedelta(days=1)
                    print(
                        f"| {s.detected_at:%Y-%m-%d %H:%M} | {s.indicator} | {s.direction} | "
                        f"{s.size:+.0%} | {s.started_at:%Y-%m-%d} | {start_lead:.1f} d | "
                        f"{end_lead:.1f} d |"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
