"""``pulse contract ...``: validate a contract file and say in plain words what it measures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.contract_text import explain
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.openslo import to_openslo
from outcome_pulse.streams.cli.output import output_console
from outcome_pulse.streams.contract_files import load_contract

contract_app = typer.Typer(
    help="Outcome contracts: validate them and read back what they promise.",
    no_args_is_help=True,
)

ContractFile = Annotated[
    Path,
    typer.Argument(
        help="The contract's YAML file, or an example by name: bpic2013_incidents, "
        "helpdesk_tickets, scms_orders."
    ),
]

_out = output_console()
_err = output_console(stderr=True)


def load_or_exit(file: Path) -> Contract:
    """The contract in ``file``, or its errors on stderr and exit status 1."""
    try:
        return load_contract(file)
    except ConfigError as exc:
        _err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


COVERAGE_EXIT = 4


@contract_app.command("check")
def check(
    file: ContractFile,
    against: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="also check the contract against this export (CSV or JSON lines, .gz ok)",
        ),
    ] = None,
    mapping: Annotated[
        str | None, typer.Option(help="the mapping of the --against export (name or YAML file)")
    ] = None,
    max_dead_letters: Annotated[
        str | None,
        typer.Option(help="with --against: the share of dead letters that stops (default 1%)"),
    ] = None,
) -> None:
    """Validate FILE and explain, in plain words, what it measures.

    With --against DATA --mapping M, evaluate it over DATA and report coverage: priorities in
    targets that never occur, priorities that occur without a target, clock states and events
    never seen, KPIs that measure nothing (notes, such as a reopen trigger this data never fires,
    do not count). Exit status 4 when there is any such warning, 3 when
    the export is mostly dead letters, 1 when the contract or mapping is invalid.
    """
    contract = load_or_exit(file)
    _out.print(f"{file}: valid", style="bold green", markup=False, highlight=False)
    _out.print(explain(contract), markup=False, highlight=False, soft_wrap=True)
    if against is None:
        if mapping is not None:
            raise typer.BadParameter("--mapping goes with --against DATA", param_hint="--mapping")
        return
    if mapping is None:
        raise typer.BadParameter("--against needs --mapping (the export's mapping)")
    from outcome_pulse.streams.cli.backtest import print_coverage, print_input, run_backtest

    result = run_backtest(against, mapping, contract, max_dead_letters=max_dead_letters)
    print_input(result)
    print_coverage(result)
    severe = [w for w in result.coverage if w.severe]
    if severe:
        _err.print(
            f"{file}: {len(severe)} coverage warning(s) against {against.name}",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(COVERAGE_EXIT)
    _out.print(
        f"{file}: every priority, clock trigger and KPI is covered by {against.name}",
        markup=False,
        highlight=False,
    )


@contract_app.command("openslo")
def openslo(file: ContractFile) -> None:
    """Print FILE's service levels as OpenSLO v1 documents (trend KPIs and money are left out)."""
    contract = load_or_exit(file)
    typer.echo(yaml.safe_dump_all(to_openslo(contract), sort_keys=False, allow_unicode=True))
