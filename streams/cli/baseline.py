"""``pulse baseline DATA --mapping M [--draft CONTRACT]``: a baseline to negotiate targets from."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from outcome_pulse.processors.errors import ConfigError, PulseError
from outcome_pulse.processors.quantities import format_share, parse_duration, parse_share
from outcome_pulse.streams.cli.contract import load_or_exit
from outcome_pulse.streams.cli.output import output_console
from outcome_pulse.streams.drivers.baseline import BaselineOptions, BaselineResult, run_baseline
from outcome_pulse.streams.file_import.mapping import load_mapping

_out = output_console()
_err = output_console(stderr=True)


def baseline(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON-lines export (.gz ok)")
    ],
    mapping: Annotated[str, typer.Option(help="built-in mapping name or a mapping YAML file")],
    draft: Annotated[
        Path | None, typer.Option(help="a draft contract: its clock, calendar and credits")
    ] = None,
    calendar: Annotated[
        str | None, typer.Option(help="24x7 or a calendar of the draft (default: the draft's)")
    ] = None,
    office_hours: Annotated[
        str | None, typer.Option(help="HH:MM-HH:MM: a Monday-to-Friday calendar instead")
    ] = None,
    time_zone: Annotated[
        str | None, typer.Option(help="months and office hours in this zone (default UTC/draft)")
    ] = None,
    target: Annotated[
        list[str] | None,
        typer.Option(help="candidate targets of a priority, PRIORITY=8h,16h (repeatable)"),
    ] = None,
    confidence: Annotated[
        str, typer.Option(help="suggested target level: met by this share of past months")
    ] = "80%",
    minimum_confidence: Annotated[
        str, typer.Option(help="suggested minimum level: met by this share of past months")
    ] = "95%",
    minimum_volume: Annotated[
        int, typer.Option(help="months with fewer resolutions are not judged")
    ] = 20,
    csv_dir: Annotated[
        Path | None, typer.Option("--csv", help="also write the tables as CSV files here")
    ] = None,
) -> None:
    """Distribution of business time to resolve, candidate targets' monthly attainment,
    suggested levels, and with --draft the credits its terms would have cost each year."""
    terms = load_or_exit(draft) if draft is not None else None
    try:
        options = BaselineOptions(
            calendar=calendar,
            office_hours=office_hours,
            time_zone=time_zone,
            targets=_targets(target or []),
            confidence=_share("--confidence", confidence),
            minimum_confidence=_share("--minimum-confidence", minimum_confidence),
            minimum_volume=minimum_volume,
        )
        with _err.status(f"reading {file.name}"):
            result = run_baseline(file, load_mapping(mapping), options, terms)
    except PulseError as exc:
        _err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    print_baseline(result)
    if csv_dir is not None:
        for path in write_csv(result, csv_dir):
            _out.print(f"wrote {path}", markup=False, highlight=False)


def _share(option: str, text: str) -> float:
    try:
        return parse_share(text)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def _targets(values: list[str]) -> dict[str, list[timedelta]]:
    out: dict[str, list[timedelta]] = {}
    for value in values:
        priority, sep, durations = value.rpartition("=")
        if not sep or not priority.strip() or not durations.strip():
            raise ConfigError(f"--target: expected PRIORITY=DURATION[,DURATION...] (got {value!r})")
        try:
            out[priority.strip()] = [parse_duration(d.strip()) for d in durations.split(",")]
        except ValueError as exc:
            raise ConfigError(f"--target {value!r}: {exc}") from None
    return out


def _hours(value: timedelta) -> str:
    return f"{value.total_seconds() / 3600:,.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else format_share(value)


def print_baseline(result: BaselineResult) -> None:
    opts = result.options
    mapped = result.mapped
    _out.print(
        f"{mapped.records_read:,} records read, {len(mapped.events):,} events, "
        f"{len(mapped.dead_letters):,} dead letters; {len(result.resolved):,} clock stops of "
        f"{result.kind}s from {result.source}",
        markup=False,
        highlight=False,
    )
    _out.print(f"calendar {result.calendar}", markup=False, highlight=False)
    _out.print(f"clock {result.clock}; months in {result.zone}", markup=False, highlight=False)
    table = Table(title="Business time to resolve, hours (nearest rank)", title_justify="left")
    for column in ("kind", "priority", "stops", "p50", "p80", "p90", "p95", "longest"):
        table.add_column(column, justify="left" if column in ("kind", "priority") else "right")
    for d in result.distributions:
        table.add_row(
            d.kind,
            d.priority,
            f"{d.count:,}",
            *(_hours(v) for _, v in d.quantiles),
            _hours(d.longest),
        )
    _out.print(table)
    table = Table(
        title=f"Candidate targets: monthly attainment (months with at least "
        f"{result.candidates[0].minimum_volume if result.candidates else opts.minimum_volume} "
        "stops)",
        title_justify="left",
    )
    for column in ("kind", "priority", "target h", "months", "median", "worst"):
        table.add_column(column, justify="left" if column in ("kind", "priority") else "right")
    table.add_column(f"met by {format_share(opts.confidence)}", justify="right")
    table.add_column(f"met by {format_share(opts.minimum_confidence)}", justify="right")
    for s in result.suggestions:
        table.add_row(
            s.kind,
            s.priority,
            _hours(s.target),
            str(s.months_judged),
            _pct(s.median),
            _pct(s.worst),
            _pct(s.target_level),
            _pct(s.minimum_level),
        )
    _out.print(table)
    _out.print(
        f"'met by {format_share(opts.confidence)}': the highest attainment level that at least "
        f"{format_share(opts.confidence)} of the judged months reached (a target level to "
        f"suggest); 'met by {format_share(opts.minimum_confidence)}': a minimum level.",
        markup=False,
        highlight=False,
    )
    if result.draft is None:
        return
    draft = result.draft
    currency = draft.contract.commercial.currency if draft.contract.commercial else ""
    table = Table(
        title=f"Draft {draft.contract.contract}: credits its terms would have cost ({currency})",
        title_justify="left",
    )
    for column in ("year", "credit", "earned back", "net credit", "gain-share"):
        table.add_column(column, justify="right")
    for y in draft.years:
        table.add_row(
            str(y.year),
            f"{y.credit:,.2f}",
            f"{y.earned_back:,.2f}",
            f"{y.net:,.2f}",
            f"{y.gain_share:,.2f}",
        )
    _out.print(table)
    table = Table(
        title=f"Draft {draft.contract.contract}: levels its KPIs met", title_justify="left"
    )
    for column in ("kpi", "periods", "met target", "target", "minimum"):
        table.add_column(column, justify="left" if column == "kpi" else "right")
    table.add_column(f"suggested target (met by {format_share(opts.confidence)})", justify="right")
    table.add_column(
        f"suggested minimum (met by {format_share(opts.minimum_confidence)})", justify="right"
    )
    for lv in draft.levels:
        signed = not lv.shares
        levels = (lv.target_level, lv.minimum_level, lv.suggested_target, lv.suggested_minimum)
        table.add_row(
            lv.kpi,
            str(lv.periods_judged),
            str(lv.met_target),
            *(_level(v, signed) for v in levels),
        )
    _out.print(table)


def write_csv(result: BaselineResult, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []

    def table(name: str, header: list[str], rows: list[list[object]]) -> None:
        path = directory / name
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(rows)
        written.append(path)

    table(
        "distribution.csv",
        [
            "kind",
            "priority",
            "stops",
            *(f"p{round(q * 100)}_hours" for q in (0.5, 0.8, 0.9, 0.95)),
            "longest_hours",
        ],
        [
            [
                d.kind,
                d.priority,
                d.count,
                *(v.total_seconds() / 3600 for _, v in d.quantiles),
                d.longest.total_seconds() / 3600,
            ]
            for d in result.distributions
        ],
    )
    table(
        "candidates.csv",
        ["kind", "priority", "target_hours", "month", "measured", "good", "attainment"],
        [
            [
                c.kind,
                c.priority,
                c.target.total_seconds() / 3600,
                m.month,
                m.measured,
                m.good,
                "" if m.attainment is None else m.attainment,
            ]
            for c in result.candidates
            for m in c.months
        ],
    )
    table(
        "suggestions.csv",
        [
            "kind",
            "priority",
            "target_hours",
            "months_judged",
            "median",
            "worst",
            "suggested_target_level",
            "suggested_minimum_level",
        ],
        [
            [
                s.kind,
                s.priority,
                s.target.total_seconds() / 3600,
                s.months_judged,
                _blank(s.median),
                _blank(s.worst),
                _blank(s.target_level),
                _blank(s.minimum_level),
            ]
            for s in result.suggestions
        ],
    )
    if result.draft is not None:
        table(
            "draft_credits.csv",
            ["year", "credit", "earned_back", "net_credit", "gain_share"],
            [[y.year, y.credit, y.earned_back, y.net, y.gain_share] for y in result.draft.years],
        )
        table(
            "draft_levels.csv",
            [
                "kpi",
                "periods_judged",
                "met_target",
                "target_level",
                "minimum_level",
                "suggested_target_level",
                "suggested_minimum_level",
            ],
            [
                [
                    lv.kpi,
                    lv.periods_judged,
                    lv.met_target,
                    lv.target_level,
                    lv.minimum_level,
                    _blank(lv.suggested_target),
                    _blank(lv.suggested_minimum),
                ]
                for lv in result.draft.levels
            ],
        )
    return written


def _level(value: float | None, signed: bool) -> str:
    return "-" if value is None else format_share(value, signed=signed)


def _blank(value: float | None) -> object:
    return "" if value is None else value
