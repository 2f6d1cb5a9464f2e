"""``pulse worker`` and ``pulse replay``: run a worker; produce an export to Kafka."""

from __future__ import annotations

import logging
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from outcome_pulse.processors.errors import SuspiciousInput
from outcome_pulse.streams.bootstrap import load_settings, run_worker
from outcome_pulse.streams.cli.backtest import (
    SUSPICIOUS_INPUT_EXIT,
    MaxDeadLetters,
    max_share_or_exit,
)
from outcome_pulse.streams.cli.console import console, err, progress
from outcome_pulse.streams.settings import PulseSettings

if TYPE_CHECKING:
    from outcome_pulse.streams.drivers.replay import ReplayReport


class Role(StrEnum):
    all = "all"
    ingest = "ingest"
    evaluate = "evaluate"


def worker(
    loglevel: Annotated[str, typer.Option(help="faust/worker log level")] = "WARNING",
    contract: Annotated[
        list[Path] | None,
        typer.Option(help="monitor this contract (repeatable; default: PULSE_CONTRACTS)"),
    ] = None,
    deliver_historic: Annotated[
        bool,
        typer.Option(
            "--deliver-historic",
            help="also post alerts of replayed history to Alertmanager (default: recorded in "
            "pulse_alerts only, nobody is paged for the past)",
        ),
    ] = False,
    role: Annotated[
        Role | None,
        typer.Option(
            help="all: ingest and evaluate in this process; ingest: store the events only; "
            "evaluate: evaluate the contracts only, beside ingest workers (default: "
            "PULSE_WORKER_ROLE, else all)",
        ),
    ] = None,
) -> None:
    """Run a faust worker: validate events, keep item states, write them to the database,
    evaluate the monitored contracts and their alert rules, and post alerts to Alertmanager
    (``--role`` splits the ingestion and the evaluation over processes)."""
    logging.basicConfig(level=loglevel, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings()
    if role is not None:
        settings = settings.model_copy(update={"worker_role": role.value})
    if contract:
        settings = settings.model_copy(update={"contracts": ",".join(str(p) for p in contract)})
    if deliver_historic:
        settings = settings.model_copy(update={"alert_deliver_historic": True})
    run_worker(settings, loglevel=loglevel)


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
    settings = load_settings()
    if max_dead_letters is not None:
        share = max_share_or_exit(max_dead_letters)
        settings = settings.model_copy(update={"max_dead_letter_share": share})
    try:
        replay_with_progress(settings, file, mapping, _parse_speed(speed), limit)
    except SuspiciousInput as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(SUSPICIOUS_INPUT_EXIT) from None


def replay_with_progress(
    settings: PulseSettings, file: Path, mapping_name: str, speed: float | None, limit: int | None
) -> ReplayReport:
    from outcome_pulse.streams.drivers.replay import replay_file
    from outcome_pulse.streams.file_import.mapping import load_mapping

    mapping = load_mapping(mapping_name)
    with progress() as shown:
        reading = shown.add_task("reading", total=None, rate="")
        producing = shown.add_task("producing", total=None, rate="")
        started = time.monotonic()

        def on_read(n: int) -> None:
            shown.update(reading, completed=n)

        def on_produced(n: int) -> None:
            elapsed = time.monotonic() - started
            shown.update(producing, completed=n, rate=f"{n / elapsed:,.0f} ev/s" if elapsed else "")

        report = replay_file(
            settings,
            file,
            mapping,
            limit=limit,
            speed=speed,
            on_read=on_read,
            on_produced=on_produced,
        )
        shown.update(reading, total=report.records_read, completed=report.records_read)
        shown.update(producing, total=report.events_produced)
    console.print(
        f"read {report.records_read:,} records from {file.name}: "
        f"produced {report.events_produced:,} events for {report.items:,} items to "
        f"{settings.events_topic!r}, {report.dead_letters:,} dead letters to "
        f"{settings.dead_letter_topic!r}"
        + (f", {report.absent_milestones:,} absent milestones" if report.absent_milestones else "")
        + f" ({report.events_per_second:,.0f} events/s)"
    )
    return report
