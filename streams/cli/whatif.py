"""``pulse whatif DATA --mapping M --contract C --scenario S.yaml``: baseline against scenario."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from outcome_pulse.processors.errors import PulseError
from outcome_pulse.processors.measurements import PeriodOutcome
from outcome_pulse.processors.quantities import format_share
from outcome_pulse.streams.cli.contract import load_or_exit
from outcome_pulse.streams.cli.output import output_console
from outcome_pulse.streams.drivers.whatif import WhatIfResult, load_scenario, run_whatif
from outcome_pulse.streams.file_import.mapping import load_mapping

_out = output_console()
_err = output_console(stderr=True)


def whatif(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON-lines export (.gz ok)")
    ],
    mapping: Annotated[str, typer.Option(help="built-in mapping name or a mapping YAML file")],
    contract: Annotated[Path, typer.Option(help="the contract YAML file", dir_okay=False)],
    scenario: Annotated[Path, typer.Option(help="the scenario YAML file", dir_okay=False)],
    all_periods: Annotated[
        bool, typer.Option("--all", help="every period, not only those the scenario changed")
    ] = False,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="also write every period side by side as CSV")
    ] = None,
) -> None:
    """Evaluate CONTRACT over FILE as it was and as the scenario changes it, side by side."""
    terms = load_or_exit(contract)
    try:
        plan = load_scenario(scenario)
        with _err.status(f"evaluating {file.name} twice"):
            result = run_whatif(file, load_mapping(mapping), terms, plan)
    except PulseError as exc:
        _err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    print_whatif(result, all_periods)
    if csv_file is not None:
        write_csv(result, csv_file)
        _out.print(f"wrote {csv_file}", markup=False, highlight=False)


def _measure(o: PeriodOutcome | None, signed: bool) -> str:
    if o is None or o.measure is None:
        return "-"
    return format_share(o.measure, signed=signed)


def _status(o: PeriodOutcome | None) -> str:
    return "-" if o is None else o.status.replace("_", " ").replace("below ", "< ")


def _net(o: PeriodOutcome | None) -> Decimal:
    return Decimal(0) if o is None else o.credit - o.earned_back


def print_whatif(result: WhatIfResult, all_periods: bool = False) -> None:
    contract = result.baseline.contract
    currency = contract.commercial.currency if contract.commercial else ""
    _out.print(f"scenario: {result.scenario.name}", markup=False, highlight=False)
    for note in result.notes:
        _out.print(f"  {note}", markup=False, highlight=False)
    rows = [r for r in result.rows if all_periods or r.differs]
    table = Table(
        title=f"Period outcomes, baseline -> scenario ({'all' if all_periods else 'changed'} "
        f"periods; money net of earn-back, {currency})",
        title_justify="left",
    )
    for column in ("kpi", "period", "measure", "scenario", "change", "status", "scenario status"):
        table.add_column(column)
    for column in ("credit", "scenario credit", "change"):
        table.add_column(column, justify="right", no_wrap=True)
    for r in rows:
        signed = not contract.kpi(r.kpi).levels_are_shares
        change = r.measure_change
        table.add_row(
            r.kpi,
            r.period,
            _measure(r.baseline, signed),
            _measure(r.scenario, signed),
            "-" if change is None else f"{change * 100:+.2f} pp",
            _status(r.baseline),
            _status(r.scenario),
            f"{_net(r.baseline):,.2f}",
            f"{_net(r.scenario):,.2f}",
            f"{r.credit_change:+,.2f}",
        )
    _out.print(table)
    if not rows:
        _out.print("the scenario changed no period outcome", markup=False, highlight=False)
    table = Table(title=f"Net credits per year ({currency})", title_justify="left")
    for column in ("year", "baseline", "scenario", "change"):
        table.add_column(column, justify="right")
    for y in result.years:
        table.add_row(str(y.year), f"{y.baseline:,.2f}", f"{y.scenario:,.2f}", f"{y.change:+,.2f}")
    total_base = sum((y.baseline for y in result.years), Decimal(0))
    total_scen = sum((y.scenario for y in result.years), Decimal(0))
    table.add_row(
        "all", f"{total_base:,.2f}", f"{total_scen:,.2f}", f"{total_scen - total_base:+,.2f}"
    )
    _out.print(table)


def write_csv(result: WhatIfResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "kpi",
                "period",
                "period_start",
                "baseline_measured",
                "baseline_good",
                "baseline_measure",
                "baseline_status",
                "baseline_net_credit",
                "scenario_measured",
                "scenario_good",
                "scenario_measure",
                "scenario_status",
                "scenario_net_credit",
                "measure_change",
                "credit_change",
            ]
        )
        for r in result.rows:
            sides: list[object] = []
            for o in (r.baseline, r.scenario):
                sides.extend(
                    ["", "", "", "", ""]
                    if o is None
                    else [
                        o.measured,
                        o.good,
                        "" if o.measure is None else o.measure,
                        o.status,
                        o.credit - o.earned_back,
                    ]
                )
            change = r.measure_change
            writer.writerow(
                [
                    r.kpi,
                    r.period,
                    r.period_start.isoformat(),
                    *sides,
                    "" if change is None else change,
                    r.credit_change,
                ]
            )
