"""``pulse``: the command line. Settings and adapters come from ``streams.bootstrap``."""

from __future__ import annotations

import sys

import typer

from outcome_pulse.processors.errors import PulseError
from outcome_pulse.streams.cli.alerts import alerts_app
from outcome_pulse.streams.cli.backtest import backtest
from outcome_pulse.streams.cli.baseline import baseline
from outcome_pulse.streams.cli.console import err
from outcome_pulse.streams.cli.contract import contract_app
from outcome_pulse.streams.cli.demo import demo
from outcome_pulse.streams.cli.grafana import register as register_grafana
from outcome_pulse.streams.cli.ingest import ingest_app
from outcome_pulse.streams.cli.pipeline import replay, worker
from outcome_pulse.streams.cli.report import report as report_command
from outcome_pulse.streams.cli.stack import db_app, stack_app, topics_app
from outcome_pulse.streams.cli.whatif import whatif

app = typer.Typer(
    help="Outcome Pulse: monitor outcome-based service contracts.", no_args_is_help=True
)
app.add_typer(stack_app, name="stack")
app.add_typer(db_app, name="db")
app.add_typer(topics_app, name="topics")
app.add_typer(contract_app, name="contract")
app.add_typer(ingest_app, name="ingest")
app.add_typer(alerts_app, name="alerts")
app.command("backtest")(backtest)
app.command()(worker)
app.command()(replay)
app.command()(demo)
register_grafana(app)
app.command("report")(report_command)
app.command("baseline")(baseline)
app.command("whatif")(whatif)


def main() -> None:
    try:
        app()
    except PulseError as exc:
        err.print("error:", style="bold red", end=" ")
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
