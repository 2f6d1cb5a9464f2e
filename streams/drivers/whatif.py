"""``pulse whatif DATA --mapping M --contract C --scenario S.yaml``: history changed, re-evaluated.

Both sides run the backtest's evaluation (``streams.drivers.backtest.backtest_events``) over
the same mapped events in the same order; the scenario (``processors.scenario``) changes the
events or the contract in between. The baseline side is therefore exactly ``pulse backtest``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.evidence import settlement_year
from outcome_pulse.processors.measurements import PeriodOutcome
from outcome_pulse.processors.periods import period_label
from outcome_pulse.processors.scenario import Scenario, apply_scenario, parse_scenario
from outcome_pulse.processors.settlement import ZERO_MONEY
from outcome_pulse.streams.drivers.backtest import BacktestResult, backtest_events, item_events
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import RecordMapping, yaml_where
from outcome_pulse.streams.file_import.rejections import check_rejections


@dataclass(frozen=True, slots=True)
class SideBySide:
    kpi: str
    period: str
    period_start: datetime
    baseline: PeriodOutcome | None
    scenario: PeriodOutcome | None

    @property
    def measure_change(self) -> float | None:
        a = None if self.baseline is None else self.baseline.measure
        b = None if self.scenario is None else self.scenario.measure
        return None if a is None or b is None else b - a

    @property
    def credit_change(self) -> Decimal:
        return _net(self.scenario) - _net(self.baseline)

    @property
    def differs(self) -> bool:
        def view(o: PeriodOutcome | None) -> tuple[object, ...]:
            if o is None:
                return ()
            return (o.measured, o.good, o.measure, o.status, o.credit, o.earned_back, o.gain_share)

        return view(self.baseline) != view(self.scenario)


@dataclass(frozen=True, slots=True)
class YearMoney:
    year: int
    baseline: Decimal
    scenario: Decimal

    @property
    def change(self) -> Decimal:
        return self.scenario - self.baseline


@dataclass(frozen=True, slots=True)
class WhatIfResult:
    scenario: Scenario
    baseline: BacktestResult
    changed: BacktestResult
    notes: tuple[str, ...]
    rows: tuple[SideBySide, ...]
    years: tuple[YearMoney, ...]


def load_scenario(path: Path) -> Scenario:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"scenario {path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"scenario {path}: not valid YAML{yaml_where(exc)}") from None
    return parse_scenario(data, origin=str(path))


def run_whatif(
    path: Path, mapping: RecordMapping, contract: Contract, scenario: Scenario
) -> WhatIfResult:
    mapped = map_file(path, mapping)
    check_rejections(mapped)  # mostly dead letters: a wrong mapping, not a scenario
    sources = {svc.source for svc in contract.services.values()}
    if mapping.source not in sources:
        raise ConfigError(
            f"the mapping produces events of source {mapping.source!r}, but contract "
            f"{contract.contract!r} measures sources {', '.join(sorted(sources))}"
        )
    events = item_events(mapped.events)
    base = backtest_events(contract, events)
    applied = apply_scenario(scenario, contract, events)
    changed = backtest_events(applied.contract, applied.events)
    rows = _side_by_side(contract, base.outcomes(), changed.outcomes())
    return WhatIfResult(
        scenario,
        BacktestResult(
            base.contract,
            base.evaluation,
            base.events,
            base.duplicates,
            base.unmonitored,
            base.late,
            mapped,
        ),
        changed,
        applied.notes,
        tuple(rows),
        tuple(_years(contract, base.outcomes(), changed.outcomes())),
    )


def _side_by_side(
    contract: Contract, base: list[PeriodOutcome], changed: list[PeriodOutcome]
) -> list[SideBySide]:
    zone = ZoneInfo(contract.client.time_zone)
    left = {(o.kpi, o.period_start): o for o in base}
    right = {(o.kpi, o.period_start): o for o in changed}
    rows = []
    for key in sorted(set(left) | set(right)):
        either = left.get(key) or right[key]
        rows.append(
            SideBySide(
                key[0],
                period_label(
                    either.period.split()[0], either.period_start, either.period_end, zone
                ),
                key[1],
                left.get(key),
                right.get(key),
            )
        )
    return rows


def _years(
    contract: Contract, base: list[PeriodOutcome], changed: list[PeriodOutcome]
) -> list[YearMoney]:
    zone = ZoneInfo(contract.client.time_zone)
    money: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO_MONEY, ZERO_MONEY])
    for side, rows in ((0, base), (1, changed)):
        for o in rows:
            money[settlement_year(o.period_end, zone)][side] += _net(o)
    return [YearMoney(year, *money[year]) for year in sorted(money)]


def _net(outcome: PeriodOutcome | None) -> Decimal:
    return ZERO_MONEY if outcome is None else outcome.credit - outcome.earned_back
