"""``pulse contract ...``: validate a contract file and say in plain words what it measures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.contract_text import explain
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.openslo import to_openslo
from outcome_pulse.streams.contract_files import load_contract

contract_app = typer.Typer(
    help="Outcome contracts: validate them and read back what they promise.",
    no_args_is_help=True,
)

ContractFile = Annotated[Path, typer.Argument(help="The contract's YAML file.")]

_out = Console()
_err = Console(stderr=True)


def load_or_exit(file: Path) -> Contract:
    """The contract in ``file``, or its errors on stderr and exit status 1."""
    try:
        return load_contract(file)
    except ConfigError as exc:
        _err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@contract_app.command("check")
def check(file: ContractFile) -> None:
    """Validate FILE and explain, in plain words, what it measures."""
    contract = load_or_exit(file)
    _out.print(f"{file}: valid", style="bold green", markup=False, highlight=False)
    _out.print(explain(contract), markup=False, highlight=False, soft_wrap=True)


@contract_app.command("openslo")
def openslo(file: ContractFile) -> None:
    """Print FILE's service levels as OpenSLO v1 documents (trend KPIs and money are left out)."""
    contract = load_or_exit(file)
    typer.echo(yaml.safe_dump_all(to_openslo(contract), sort_keys=False, allow_unicode=True))
