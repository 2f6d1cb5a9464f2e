"""``pulse backtest FILE --mapping M --contract C``: what-if on history, in the terminal."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.errors import ConfigError, SuspiciousInput
from outcome_pulse.processors.forecast.drift import DriftSignal
from outcome_pulse.processors.forecast.open_clocks import BreachPrediction, grid_predictions
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.processors.measurements import PeriodOutcome
from outcome_pulse.processors.periods import period_label
from outcome_pulse.processors.quantities import format_share
from outcome_pulse.processors.vocabulary import OutcomeStatus
from outcome_pulse.streams.bootstrap import load_settings
from outcome_pulse.streams.cli.alerts_report import print_alert_quality, write_alerts
from outcome_pulse.streams.cli.contract import load_or_exit
from outcome_pulse.streams.cli.output import output_console
from outcome_pulse.streams.drivers.backtest import (
    BacktestResult,
    OutputFormat,
    backtest_file,
    write_outputs,
)
from outcome_pulse.streams.drivers.backtest_spool import spool_directory
from outcome_pulse.streams.drivers.forecast_files import drift_of, forecasts_of, write_rows
from outcome_pulse.streams.file_import.mapping import RecordMapping, load_mapping
from outcome_pulse.streams.file_import.rejections import parse_max_share, top_reasons

_out = output_console()
_err = output_console(stderr=True)


MaxDeadLetters = Annotated[
    str | None,
    typer.Option(
        help="stop when more than this share of the records are dead letters, e.g. 1% or 0.05 "
        "(default: PULSE_MAX_DEAD_LETTER_SHARE, 1%)"
    ),
]
SUSPICIOUS_INPUT_EXIT = 3


def backtest(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON-lines export (.gz ok)")
    ],
    mapping: Annotated[str, typer.Option(help="built-in mapping name or a mapping YAML file")],
    contract: Annotated[
        Path,
        typer.Option(
            help="the contract YAML file, or an example by name (bpic2013_incidents, ...)",
            dir_okay=False,
        ),
    ],
    out: Annotated[
        Path | None, typer.Option(help="write outcomes and indicator series to this directory")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    limit: Annotated[int | None, typer.Option(help="read at most this many records")] = None,
    matrix: Annotated[
        bool, typer.Option(help="monthly KPIs as a year x month grid, with credits per year")
    ] = False,
    max_dead_letters: MaxDeadLetters = None,
    alerts: Annotated[
        bool,
        typer.Option(
            "--alerts",
            help="evaluate the alert rules and print their quality per KPI (first alert of each "
            "rule before every missed period, its lead time, false alarms, precision, recall)",
        ),
    ] = False,
    alerts_file: Annotated[
        Path | None,
        typer.Option(
            help="evaluate the alert rules and write their episodes to this file (CSV)",
            dir_okay=False,
        ),
    ] = None,
    model_alerts: Annotated[
        bool,
        typer.Option(
            "--model-alerts",
            help="with --alerts/--alerts-file: the item and forecast rules read the breach "
            "model's probabilities at every sample instant and the period forecasts once a day "
            "(reads every item's history, no compaction; the streaming monitor keeps no such "
            "history, so its item and forecast alerts are the engine-based ones)",
        ),
    ] = False,
    predictions: Annotated[
        Path | None,
        typer.Option(
            help="write each open clock's breach probability at every sample instant (CSV)",
            dir_okay=False,
        ),
    ] = None,
    forecasts: Annotated[
        Path | None,
        typer.Option(
            help="write each KPI's running-period forecast once a day (CSV)", dir_okay=False
        ),
    ] = None,
    drift: Annotated[
        Path | None,
        typer.Option(
            help="write the drift signals of the leading indicators (CSV)", dir_okay=False
        ),
    ] = None,
) -> None:
    """Evaluate CONTRACT over FILE with no Kafka and no database (the embedded mode).

    Stops with exit status 3 when more than --max-dead-letters of the records are dead letters
    (default PULSE_MAX_DEAD_LETTER_SHARE, 1%); prints coverage warnings (priorities, states and
    events the contract names but the data lacks, KPIs that measure nothing).
    """
    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter(f"--format: expected csv or parquet, got {fmt!r}")
    if model_alerts and not (alerts or alerts_file is not None):
        raise typer.BadParameter("--model-alerts needs --alerts or --alerts-file")
    terms = load_or_exit(contract)
    result = run_backtest(
        file,
        mapping,
        terms,
        limit=limit,
        max_dead_letters=max_dead_letters,
        alerts=alerts or alerts_file is not None,
        spool=ctx.with_resource(spool_directory()),  # removed when the command ends
        # the predictions and forecasts read every item's history: no compaction then
        keep_histories=predictions is not None or forecasts is not None,
        model_history=model_alerts,
    )
    print_input(result)
    if matrix:
        print_matrix(result.contract, result.outcomes())
    elif not alerts:
        print_result(result)
    if alerts:
        print_alert_quality(_out, result.contract, result.outcomes(), result.alerts)
    if alerts_file is not None:
        written = write_alerts(alerts_file, result.alerts)
        _out.print(f"wrote {len(result.alerts):,} alerts to {written}", markup=False)
    print_coverage(result)
    if predictions is not None:
        write_predictions(result, predictions)
    if forecasts is not None:
        _write(forecasts, PeriodForecast, forecasts_of(result, timedelta(days=1)), "forecasts")
    if drift is not None:
        _write(drift, DriftSignal, drift_of(result), "drift signals")
    if out is not None:
        fmt_: OutputFormat = "parquet" if fmt == "parquet" else "csv"
        for path in write_outputs(result, out, fmt_):
            _out.print(f"wrote {path}", markup=False, highlight=False)


def max_share_or_exit(text: str | None) -> float:
    """The dead-letter threshold: ``text`` if given, else the setting."""
    if text is None:
        return load_settings().max_dead_letter_share
    try:
        return parse_max_share(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--max-dead-letters") from None


def run_backtest(
    file: Path,
    mapping: str,
    terms: Contract,
    *,
    limit: int | None = None,
    max_dead_letters: str | None = None,
    alerts: bool = False,
    spool: Path | None = None,
    keep_histories: bool = False,
    model_history: bool = False,
) -> BacktestResult:
    """Map FILE and evaluate; errors on stderr with exit 1 (config) or 3 (suspicious input).
    ``spool``: where the events and points go instead of memory (``backtest_file``)."""
    max_share = max_share_or_exit(max_dead_letters)
    try:
        record_mapping = load_mapping(mapping)
    except ConfigError as exc:
        _err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    try:
        return _evaluate(
            file,
            record_mapping,
            terms,
            limit,
            max_share,
            alerts=alerts,
            spool=spool,
            keep_histories=keep_histories,
            model_history=model_history,
        )
    except SuspiciousInput as exc:
        _err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(SUSPICIOUS_INPUT_EXIT) from None
    except ConfigError as exc:
        _err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _evaluate(
    file: Path,
    record_mapping: RecordMapping,
    terms: Contract,
    limit: int | None,
    max_share: float,
    *,
    alerts: bool = False,
    spool: Path | None = None,
    keep_histories: bool = False,
    model_history: bool = False,
) -> BacktestResult:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err,
        transient=True,
    ) as progress:
        reading = progress.add_task(f"reading {file.name}", total=None)
        evaluating = progress.add_task("evaluating", total=None, visible=False)

        def on_read(n: int) -> None:
            progress.update(reading, completed=n)

        def on_progress(n: int) -> None:
            progress.update(evaluating, completed=n, visible=True)

        return backtest_file(
            file,
            record_mapping,
            terms,
            limit=limit,
            on_read=on_read,
            on_progress=on_progress,
            max_dead_letter_share=max_share,
            alerts=alerts,
            spool=spool,
            keep_histories=keep_histories,
            model_history=model_history,
        )


def print_input(result: BacktestResult) -> None:
    """What the file gave: records, events, dead letters (with the top reasons when any)."""
    mapped = result.mapped
    if mapped is None:
        return
    _out.print(
        f"{mapped.records_read:,} records read from {mapped.path.name}, "
        f"{len(mapped.events):,} events, {len(mapped.dead_letters):,} dead letters"
        + (" (kept with --out)" if mapped.dead_letters else ""),
        markup=False,
        highlight=False,
    )
    for reason in top_reasons(mapped, top=3):
        _out.print(f"  {reason.describe()}", markup=False, highlight=False, soft_wrap=True)


def print_coverage(result: BacktestResult) -> None:
    """The coverage warnings, one per line (nothing when the contract fits the data)."""
    for warning in result.coverage:
        label = "warning" if warning.severe else "note"
        _out.print(f"{label}: {warning}", markup=False, highlight=False, soft_wrap=True)


def write_predictions(result: BacktestResult, path: Path) -> None:
    assert result.engine is not None
    rows = grid_predictions(result.contract, result.engine.service_items())
    _write(path, BreachPrediction, rows, "predictions")


def _write(path: Path, kind: type, rows: Iterable[Any], what: str) -> None:
    try:
        count = write_rows(path, kind, rows)
    except ConfigError as exc:
        _err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    _out.print(f"wrote {path} ({count:,} {what})", markup=False, highlight=False)


def print_result(result: BacktestResult) -> None:
    contract = result.contract
    _out.print(
        f"{result.events:,} events evaluated ({result.duplicates:,} duplicates ignored, "
        f"{result.unmonitored:,} of other services, {len(result.late):,} late beyond the allowed "
        f"lateness), {result.point_count():,} indicator points",
        markup=False,
        highlight=False,
    )
    clocks = list(result.evaluation.open_clocks.values())
    if clocks:
        at_risk = sum(1 for c in clocks if c.at_risk)
        breached = sum(1 for c in clocks if c.breached)
        _out.print(
            f"{len(clocks):,} clocks open at the latest event "
            f"({clocks[0].as_of.isoformat()}): {at_risk:,} at risk, {breached:,} breached",
            markup=False,
            highlight=False,
        )
    print_outcomes(contract, result.outcomes())


def print_outcomes(contract: Contract, rows: list[PeriodOutcome]) -> None:
    """One table per KPI (periods with nothing measured left out), then the money in total."""
    zone = ZoneInfo(contract.client.time_zone)
    currency = contract.commercial.currency if contract.commercial else ""
    by_kpi: dict[str, list[PeriodOutcome]] = defaultdict(list)
    for outcome in sorted(rows, key=lambda o: (o.kpi, o.period_start)):
        by_kpi[outcome.kpi].append(outcome)
    for kpi_id, outcomes in by_kpi.items():
        kpi = contract.kpi(kpi_id)
        signed = not kpi.levels_are_shares
        target = format_share(kpi.target_level, signed=signed)
        minimum = format_share(kpi.minimum_level, signed=signed)
        table = Table(
            title=f"{kpi_id}: {kpi.name}; money in {currency or '-'} "
            f"(target {target}, minimum {minimum})",
            title_justify="left",
        )
        for column in ("period", "n", "good", "measure", "status"):
            table.add_column(column, justify="right" if column in ("n", "good") else "left")
        for column in ("credit", "back", "bonus"):
            table.add_column(column, justify="right", no_wrap=True)
        for o in outcomes:
            if o.status == OutcomeStatus.NO_DATA:
                continue
            table.add_row(
                period_label(o.period.split()[0], o.period_start, o.period_end, zone)
                + ("" if o.final else "*"),
                f"{o.measured:,}",
                f"{o.good:,}"
                if kpi.levels_are_shares
                else f"{o.baseline if o.baseline is not None else '-'}",
                format_share(o.measure, signed=not kpi.levels_are_shares)
                if o.measure is not None
                else "-",
                o.status.replace("_", " ").replace("below ", "< ").replace("minimum", "min"),
                f"{o.credit:,.2f}",
                f"{o.earned_back:,.2f}",
                f"{o.gain_share:,.2f}",
            )
        _out.print(table)
    _out.print("* period still open: the watermark has not passed its end", highlight=False)
    if contract.commercial is not None:
        credit = sum((o.credit for o in rows), Decimal(0))
        back = sum((o.earned_back for o in rows), Decimal(0))
        bonus = sum((o.gain_share for o in rows), Decimal(0))
        _out.print(
            f"Total credits {credit:,.2f} {currency}, earned back {back:,.2f}, "
            f"net {credit - back:,.2f}; gain-share {bonus:,.2f} {currency}",
            markup=False,
            highlight=False,
        )


# How a month's cell of ``--matrix`` marks its status.
_MATRIX_MARKS: dict[str, str] = {
    OutcomeStatus.MET: "",
    OutcomeStatus.BELOW_TARGET: "-",
    OutcomeStatus.BELOW_MINIMUM: "!",
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def print_matrix(contract: Contract, rows: list[PeriodOutcome]) -> None:
    """Each monthly KPI's measure as a year x month grid; credits net of earn-back per year."""
    zone = ZoneInfo(contract.client.time_zone)
    currency = contract.commercial.currency if contract.commercial else ""
    for kpi in contract.kpis:
        if kpi.period.kind != "month":
            continue
        cells: dict[int, dict[int, str]] = defaultdict(dict)
        money: dict[int, Decimal] = defaultdict(Decimal)
        for o in rows:
            if o.kpi != kpi.id:
                continue
            local = o.period_start.astimezone(zone)
            mark = _MATRIX_MARKS.get(o.status, "")
            if o.measure is not None:
                cells[local.year][local.month] = f"{o.measure * 100:.0f}{mark}"
            money[local.year] += o.credit - o.earned_back
        if not cells:
            continue
        table = Table(
            title=f"{kpi.id}: measure per month, % (- short of target, ! below minimum)",
            title_justify="left",
        )
        table.add_column("year")
        for name in _MONTHS:
            table.add_column(name, justify="right")
        table.add_column(f"net credit {currency}".strip(), justify="right", no_wrap=True)
        for year in sorted(cells):
            table.add_row(
                str(year),
                *(cells[year].get(month, "") for month in range(1, 13)),
                f"{money[year]:,.2f}",
            )
        _out.print(table)
