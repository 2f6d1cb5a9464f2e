"""``pulse demo``: bring the stack up, start a worker, replay a real log, show what arrived."""

from __future__ import annotations

import time
import urllib.request
from datetime import datetime
from typing import Annotated

import typer
from prometheus_client.parser import text_string_to_metric_families
from rich.table import Table

from outcome_pulse.processors.errors import PulseError
from outcome_pulse.streams.bootstrap import load_settings, prepare_stack
from outcome_pulse.streams.cli.console import console, progress
from outcome_pulse.streams.settings import PulseSettings

DEMO_FILES = {
    "bpic2013": "bpic2013_volvo_incidents.csv.gz",
    "helpdesk": "helpdesk_tickets.csv.gz",
    "scms": "scms_shipments.csv.gz",
}
# The example contract of each data set (package data: contracts/ in the repository).
DEMO_CONTRACTS = {
    "bpic2013": "bpic2013_incidents",
    "helpdesk": "helpdesk_tickets",
    "scms": "scms_orders",
}


def demo(
    dataset: Annotated[
        str, typer.Option(help="built-in data set: bpic2013, helpdesk or scms")
    ] = "bpic2013",
    timeout: Annotated[
        float, typer.Option(help="seconds to wait for the worker to catch up")
    ] = 600,
) -> None:
    """Bring the stack up, start a worker, replay a real log, and show what arrived."""
    from outcome_pulse.sinks.queries import (
        alert_episodes,
        monitor_progress,
        period_forecasts,
        period_outcomes,
        source_summary,
    )
    from outcome_pulse.streams.cli.backtest import print_outcomes
    from outcome_pulse.streams.cli.demo_views import (
        print_alerts,
        print_forecasts,
        print_where_to_look,
    )
    from outcome_pulse.streams.cli.pipeline import replay_with_progress
    from outcome_pulse.streams.cli.processes import run_stack_script, start_worker, stop_worker
    from outcome_pulse.streams.contract_files import example_contract_path, load_contract
    from outcome_pulse.streams.file_import.mapping import load_mapping

    settings = load_settings()
    if dataset not in DEMO_FILES:
        raise typer.BadParameter(
            f"unknown data set {dataset!r}; choose one of {', '.join(DEMO_FILES)}"
        )
    path = settings.data_dir / DEMO_FILES[dataset]
    contract_path = example_contract_path(DEMO_CONTRACTS[dataset])
    contract = load_contract(contract_path)
    if not path.exists():
        raise PulseError(
            f"{path} not found; set PULSE_DATA_DIR to the folder holding the real logs"
        )
    console.rule("1. local stack")
    if run_stack_script(settings, "up", "all"):
        raise typer.Exit(1)
    console.rule("2. schema, topics, worker")
    prepare_stack(settings)
    stop_worker(settings)  # a worker left running may monitor other contracts
    since, _, _ = monitor_progress(settings.dsn)
    proc = start_worker(settings, env={"PULSE_CONTRACTS": str(contract_path)})
    console.print(f"worker pid {proc.pid}, log {proc.log}, contract {contract_path.name}")
    source = load_mapping(dataset).source
    before = source_summary(settings.dsn, source)["events"]
    console.rule(f"3. replay {path.name}")
    started = time.monotonic()
    report = replay_with_progress(settings, path, dataset, None, None)
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
    console.rule(f"6. contract {contract.contract}: forecasts and alerts from the database")
    print_forecasts(console, contract, period_forecasts(settings.dsn, contract.contract))
    print_alerts(console, alert_episodes(settings.dsn, contract.contract))
    console.rule("7. dashboards and the evidence report")
    print_where_to_look(
        console,
        contract,
        contract_path,
        settings.alertmanager,
        f"127.0.0.1:{settings.pg_port}",
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
    with progress() as shown:
        task = shown.add_task("stored", total=expected, rate="")
        while True:
            summary = source_summary(settings.dsn, source)
            shown.update(task, completed=summary["events"])
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
