"""``pulse``: the command line. The wiring point: settings are built here and passed down."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import urllib.request
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from prometheus_client.parser import text_string_to_metric_families
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from outcome_pulse.processors.errors import PulseError, SuspiciousInput
from outcome_pulse.streams.cli.backtest import (
    SUSPICIOUS_INPUT_EXIT,
    MaxDeadLetters,
    backtest,
    max_share_or_exit,
)
from outcome_pulse.streams.cli.baseline import baseline
from outcome_pulse.streams.cli.contract import contract_app
from outcome_pulse.streams.cli.grafana import register as register_grafana
from outcome_pulse.streams.cli.ingest import ingest_app
from outcome_pulse.streams.cli.output import output_console
from outcome_pulse.streams.cli.report import report as report_command
from outcome_pulse.streams.cli.whatif import whatif
from outcome_pulse.streams.settings import PulseSettings

if TYPE_CHECKING:
    from outcome_pulse.streams.drivers.replay import ReplayReport

app = typer.Typer(
    help="Outcome Pulse: monitor outcome-based service contracts.", no_args_is_help=True
)
stack_app = typer.Typer(
    help="The local stack: Kafka and PostgreSQL on 127.0.0.1.", no_args_is_help=True
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(db_app, name="db")
app.add_typer(topics_app, name="topics")
app.add_typer(contract_app, name="contract")
app.add_typer(ingest_app, name="ingest")
app.command("backtest")(backtest)
register_grafana(app)
app.command("report")(report_command)
app.command("baseline")(baseline)
app.command("whatif")(whatif)

console = output_console()
err = output_console(stderr=True)

Service = Annotated[str, typer.Argument(help="kafka, postgres or all")]

DEMO_FILES = {
    "bpic2013": "bpic2013_volvo_incidents.csv.gz",
    "helpdesk": "helpdesk_tickets.csv.gz",
    "scms": "scms_shipments.csv.gz",
}
# The example contracts are package data (``contracts/`` in the repository).
EXAMPLE_CONTRACTS = resources.files("outcome_pulse.contracts")
DEMO_CONTRACTS = {
    "bpic2013": "bpic2013_incidents.yaml",
    "helpdesk": "helpdesk_tickets.yaml",
    "scms": "scms_orders.yaml",
}


def _settings() -> PulseSettings:
    return PulseSettings()


# -- stack -------------------------------------------------------------------------------------


def _stack(action: str, service: str) -> None:
    from outcome_pulse.streams.cli.processes import run_stack_script, stop_worker

    settings = _settings()
    if action in ("down", "reset") and service == "all" and stop_worker(settings):
        console.print("worker    stopped")
    code = run_stack_script(settings, action, service)
    if code:
        raise typer.Exit(code)


@stack_app.command("up")
def stack_up(service: Service = "all") -> None:
    """Install what is missing and start Kafka and PostgreSQL (idempotent)."""
    _stack("up", service)


@stack_app.command("down")
def stack_down(service: Service = "all") -> None:
    """Stop exactly the processes the stack started (and a background worker)."""
    _stack("down", service)


@stack_app.command("status")
def stack_status(service: Service = "all") -> None:
    """Show each service's PID, address and health."""
    _stack("status", service)


@stack_app.command("restart")
def stack_restart(service: Service = "all") -> None:
    """Stop and start a service."""
    _stack("restart", service)


@stack_app.command("reset")
def stack_reset() -> None:
    """Stop everything and delete the stack's data for a fresh start."""
    _stack("reset", "all")


# -- topics and schema -------------------------------------------------------------------------


@topics_app.command("create")
def topics_create() -> None:
    """Create the events, dead-letter and changelog topics (idempotent)."""
    from outcome_pulse.streams.kafka.topics import ensure_topics

    settings = _settings()
    created = asyncio.run(ensure_topics(settings))
    console.print(
        f"topics ready ({settings.partitions} partitions); created: {', '.join(created) or 'none'}"
    )


@db_app.command("migrate")
def db_migrate() -> None:
    """Create or update the schema (hypertables with TimescaleDB, partitions otherwise)."""
    from outcome_pulse.sinks.schema import migrate

    settings = _settings()
    report = migrate(settings.dsn, retention=settings.retention_policy)
    flavour = "TimescaleDB" if report.timescaledb else "plain PostgreSQL"
    console.print(f"schema version {report.version} on {flavour}")
    for action in report.actions:
        console.print(f"  {action}")


# -- worker and replay -------------------------------------------------------------------------


@app.command()
def worker(
    loglevel: Annotated[str, typer.Option(help="faust/worker log level")] = "WARNING",
    contract: Annotated[
        list[Path] | None,
        typer.Option(help="monitor this contract (repeatable; default: PULSE_CONTRACTS)"),
    ] = None,
) -> None:
    """Run a faust worker: validate events, keep item states, write them to the database, and
    evaluate the monitored contracts."""
    from outcome_pulse.streams.kafka.worker import run_worker

    logging.basicConfig(level=loglevel, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = _settings()
    if contract:
        settings = settings.model_copy(update={"contracts": ",".join(str(p) for p in contract)})
    run_worker(settings, loglevel=loglevel)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _parse_speed(speed: str) -> float | None:
    if speed in ("max", "0", ""):
        return None
    try:
        value = float(speed.rstrip("x"))
    except ValueError:
        raise typer.BadParameter(
            f"--speed takes 'max' or a number such as 60, not {speed!r}"
        ) from None
    if value <= 0:
        raise typer.BadParameter("--speed must be positive")
    return value


@app.command()
def replay(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON-lines export (.gz ok)")
    ],
    mapping: Annotated[
        str,
        typer.Option(
            "--mapping", "-m", help="mapping YAML, or a built-in name: bpic2013, helpdesk, scms"
        ),
    ],
    speed: Annotated[str, typer.Option(help="'max', or N times real time for a live demo")] = "max",
    limit: Annotated[int | None, typer.Option(help="read at most this many records")] = None,
    max_dead_letters: MaxDeadLetters = None,
) -> None:
    """Turn an export into lifecycle events and produce them to Kafka in event-time order.

    Produces nothing and exits with status 3 when more than --max-dead-letters of the records
    are dead letters (default PULSE_MAX_DEAD_LETTER_SHARE, 1%), naming the top reasons.
    """
    settings = _settings()
    if max_dead_letters is not None:
        share = max_share_or_exit(max_dead_letters)
        settings = settings.model_copy(update={"max_dead_letter_share": share})
    try:
        _replay(settings, file, mapping, _parse_speed(speed), limit)
    except SuspiciousInput as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(SUSPICIOUS_INPUT_EXIT) from None


def _replay(
    settings: PulseSettings, file: Path, mapping_name: str, speed: float | None, limit: int | None
) -> ReplayReport:
    from outcome_pulse.streams.drivers.replay import replay_file
    from outcome_pulse.streams.file_import.mapping import load_mapping

    mapping = load_mapping(mapping_name)
    with _progress() as progress:
        reading = progress.add_task("reading", total=None, rate="")
        producing = progress.add_task("producing", total=None, rate="")
        started = time.monotonic()

        def on_read(n: int) -> None:
            progress.update(reading, completed=n)

        def on_produced(n: int) -> None:
            elapsed = time.monotonic() - started
            progress.update(
                producing, completed=n, rate=f"{n / elapsed:,.0f} ev/s" if elapsed else ""
            )

        report = replay_file(
            settings,
            file,
            mapping,
            limit=limit,
            speed=speed,
            on_read=on_read,
            on_produced=on_produced,
        )
        progress.update(reading, total=report.records_read, completed=report.records_read)
        progress.update(producing, total=report.events_produced)
    console.print(
        f"read {report.records_read:,} records from {file.name}: "
        f"produced {report.events_produced:,} events for {report.items:,} items to "
        f"{settings.events_topic!r}, {report.dead_letters:,} dead letters to "
        f"{settings.dead_letter_topic!r}"
        + (f", {report.absent_milestones:,} absent milestones" if report.absent_milestones else "")
        + f" ({report.events_per_second:,.0f} events/s)"
    )
    return report


# -- demo --------------------------------------------------------------------------------------


@app.command()
def demo(
    dataset: Annotated[
        str, typer.Option(help="built-in data set: bpic2013, helpdesk or scms")
    ] = "bpic2013",
    timeout: Annotated[
        float, typer.Option(help="seconds to wait for the worker to catch up")
    ] = 600,
) -> None:
    """Bring the stack up, start a worker, replay a real log, and show what arrived."""
    from outcome_pulse.sinks.queries import monitor_progress, period_outcomes, source_summary
    from outcome_pulse.sinks.schema import migrate
    from outcome_pulse.streams.cli.backtest import print_outcomes
    from outcome_pulse.streams.cli.processes import run_stack_script, start_worker, stop_worker
    from outcome_pulse.streams.contract_files import load_contract
    from outcome_pulse.streams.file_import.mapping import load_mapping
    from outcome_pulse.streams.kafka.topics import ensure_topics

    settings = _settings()
    if dataset not in DEMO_FILES:
        raise typer.BadParameter(
            f"unknown data set {dataset!r}; choose one of {', '.join(DEMO_FILES)}"
        )
    path = settings.data_dir / DEMO_FILES[dataset]
    contract_path = Path(str(EXAMPLE_CONTRACTS / DEMO_CONTRACTS[dataset]))
    contract = load_contract(contract_path)
    if not path.exists():
        raise PulseError(
            f"{path} not found; set PULSE_DATA_DIR to the folder holding the real logs"
        )
    console.rule("1. local stack")
    if run_stack_script(settings, "up", "all"):
        raise typer.Exit(1)
    console.rule("2. schema, topics, worker")
    migrate(settings.dsn, retention=settings.retention_policy)
    asyncio.run(ensure_topics(settings))
    stop_worker(settings)  # a worker left running may monitor other contracts
    since, _, _ = monitor_progress(settings.dsn)
    proc = start_worker(settings, env={"PULSE_CONTRACTS": str(contract_path)})
    console.print(f"worker pid {proc.pid}, log {proc.log}, contract {contract_path.name}")
    source = load_mapping(dataset).source
    before = source_summary(settings.dsn, source)["events"]
    console.rule(f"3. replay {path.name}")
    started = time.monotonic()
    report = _replay(settings, path, dataset, None, None)
    console.rule("4. waiting for the worker to write every event")
    summary = _wait_for_rows(settings, source, report.events_produced, timeout, proc.pid)
    elapsed = time.monotonic() - started
    _print_summary(settings, dataset, report, summary, before, elapsed)
    console.rule(f"5. contract {contract.contract}: period outcomes from the database")
    _wait_for_monitor(settings, since, timeout, proc.pid)
    print_outcomes(contract, period_outcomes(settings.dsn, contract.contract))
    console.print(
        f"  the same, with no Kafka and no database: pulse backtest {path} --mapping {dataset} "
        f"--contract {contract_path}"
    )


def _wait_for_monitor(
    settings: PulseSettings, since: datetime, timeout: float, worker_pid: int
) -> None:
    """Until the contract monitor has committed a round after ``since`` (its first one rebuilds
    from every stored event) and has applied every stored event (its inbox is empty)."""
    from outcome_pulse.sinks.queries import monitor_progress
    from outcome_pulse.streams.cli.processes import running_worker

    deadline = time.monotonic() + timeout
    with console.status("the contract monitor is evaluating the stored events"):
        while True:
            _, ticked, waiting = monitor_progress(settings.dsn)
            if ticked is not None and ticked > since and waiting == 0:
                return
            if running_worker(settings) != worker_pid:
                raise PulseError(f"the worker (pid {worker_pid}) stopped; see its log")
            if time.monotonic() > deadline:
                raise PulseError(f"the contract monitor did not finish in {timeout:.0f}s")
            time.sleep(0.5)


def _wait_for_rows(
    settings: PulseSettings, source: str, expected: int, timeout: float, worker_pid: int
) -> dict[str, int]:
    from outcome_pulse.sinks.queries import source_summary
    from outcome_pulse.streams.cli.processes import running_worker

    deadline = time.monotonic() + timeout
    with _progress() as progress:
        task = progress.add_task("stored", total=expected, rate="")
        while True:
            summary = source_summary(settings.dsn, source)
            progress.update(task, completed=summary["events"])
            if summary["events"] >= expected:
                return summary
            if running_worker(settings) != worker_pid:
                raise PulseError(
                    f"the worker (pid {worker_pid}) stopped after {summary['events']:,} of "
                    f"{expected:,} events; see {settings.state_dir / 'logs' / 'worker.log'}"
                )
            if time.monotonic() > deadline:
                raise PulseError(
                    f"only {summary['events']:,} of {expected:,} events reached the database in "
                    f"{timeout:.0f}s; see the worker log under {settings.state_dir / 'logs'}"
                )
            time.sleep(0.5)


def _scrape(settings: PulseSettings) -> dict[str, float]:
    url = f"http://{settings.metrics_host}:{settings.metrics_port}/metrics"
    try:
        text = urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return {}
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in ("pulse_events_total", "pulse_dead_letters_total"):
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def _print_summary(settings, dataset, report, summary, before, elapsed) -> None:  # type: ignore[no-untyped-def]
    metrics = _scrape(settings)
    table = Table(title=f"Outcome Pulse demo: {dataset}", show_header=False)
    table.add_row("records read", f"{report.records_read:,}")
    table.add_row("events produced to Kafka", f"{report.events_produced:,}")
    table.add_row(
        "events in the database",
        f"{summary['events']:,}" + (" (already there from an earlier run)" if before else ""),
    )
    table.add_row(
        "dead letters (replay / worker)",
        f"{report.dead_letters:,} / {metrics.get('pulse_dead_letters_total', 0):,.0f}",
    )
    table.add_row("items", f"{summary['items']:,}")
    for key in sorted(k for k in summary if k.startswith("items_")):
        table.add_row(f"  {key[6:]}", f"{summary[key]:,}")
    table.add_row("end-to-end time", f"{elapsed:,.1f} s")
    table.add_row("end-to-end throughput", f"{report.events_produced / elapsed:,.0f} events/s")
    console.print(table)
    console.print("Where to look next:")
    console.print(
        f"  psql -h 127.0.0.1 -p {settings.pg_port} -U {settings.pg_user} {settings.pg_database} "
        '-c "SELECT status, count(*) FROM pulse_item_states GROUP BY 1"'
    )
    console.print(
        f"  curl -s http://{settings.metrics_host}:{settings.metrics_port}/metrics | grep ^pulse_"
    )
    console.print(
        f"  kcat -C -b {settings.bootstrap} -t {settings.dead_letter_topic} -e   (dead letters)"
    )
    console.print("  pulse stack down   (stops the worker, Kafka and PostgreSQL)")


def main() -> None:
    try:
        app()
    except PulseError as exc:
        err.print("error:", style="bold red", end=" ")
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
