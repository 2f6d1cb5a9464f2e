"""``pulse stack``, ``pulse topics``, ``pulse db``: the local stack, Kafka topics, the schema."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from outcome_pulse.streams.bootstrap import load_settings
from outcome_pulse.streams.cli.console import console

stack_app = typer.Typer(
    help="The local stack: Kafka and PostgreSQL on 127.0.0.1.", no_args_is_help=True
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)

Service = Annotated[str, typer.Argument(help="kafka, postgres, alertmanager, prometheus or all")]


def _stack(action: str, service: str) -> None:
    from outcome_pulse.streams.cli.processes import run_stack_script, stop_worker

    settings = load_settings()
    if action in ("down", "reset") and service == "all" and stop_worker(settings):
        console.print("worker    stopped")
    code = run_stack_script(settings, action, service)
    if code:
        raise typer.Exit(code)


@stack_app.command("up")
def stack_up(service: Service = "all") -> None:
    """Install what is missing and start Kafka, PostgreSQL, Alertmanager and Prometheus."""
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


@topics_app.command("create")
def topics_create() -> None:
    """Create the events, dead-letter and changelog topics (idempotent)."""
    from outcome_pulse.streams.kafka.topics import ensure_topics

    settings = load_settings()
    created = asyncio.run(ensure_topics(settings))
    console.print(
        f"topics ready ({settings.partitions} partitions); created: {', '.join(created) or 'none'}"
    )


@db_app.command("migrate")
def db_migrate() -> None:
    """Create or update the schema (hypertables with TimescaleDB, partitions otherwise)."""
    from outcome_pulse.sinks.schema import migrate
    from outcome_pulse.sinks.shard_fence import ensure_shards

    settings = load_settings()
    report = migrate(settings.dsn, retention=settings.retention_policy)
    ensure_shards(settings.dsn, settings.evaluation_partitions)
    flavour = "TimescaleDB" if report.timescaledb else "plain PostgreSQL"
    console.print(
        f"schema version {report.version} on {flavour}; "
        f"{settings.evaluation_partitions} evaluation shard(s)"
    )
    for action in report.actions:
        console.print(f"  {action}")
