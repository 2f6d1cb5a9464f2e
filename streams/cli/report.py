"""``pulse report CONTRACT --period YYYY-MM``: the monthly evidence report, HTML and PDF.

From the database (the tables the streaming monitor wrote), or with ``--from-file DATA
--mapping M`` from a backtest of an export, through the same evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from outcome_pulse.processors.errors import PulseError
from outcome_pulse.processors.evidence import EvidenceInput
from outcome_pulse.streams.cli.contract import load_or_exit
from outcome_pulse.streams.cli.output import output_console
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.report.writer import write_report

_out = output_console()
_err = output_console(stderr=True)


def report(
    contract: Annotated[Path, typer.Argument(help="the contract YAML file", dir_okay=False)],
    period: Annotated[str, typer.Option(help="the month reported on, YYYY-MM (client's zone)")],
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file", exists=True, dir_okay=False, help="backtest this export instead"
        ),
    ] = None,
    mapping: Annotated[
        str | None, typer.Option(help="built-in mapping name or mapping YAML (with --from-file)")
    ] = None,
    out: Annotated[Path, typer.Option(help="directory to write the report to")] = Path("reports"),
    pdf: Annotated[bool, typer.Option(help="also print a PDF with headless Chromium")] = True,
    screenshot: Annotated[
        Path | None, typer.Option(help="also save a PNG of the page's top (1280x1600)")
    ] = None,
) -> None:
    """Write the evidence report of CONTRACT for one month: HTML, and its PDF."""
    terms = load_or_exit(contract)
    try:
        if from_file is not None:
            if mapping is None:
                raise typer.BadParameter("--mapping is required with --from-file")
            data = _from_file(terms, from_file, mapping, period)
        else:
            if mapping is not None:
                raise typer.BadParameter("--mapping only goes with --from-file")
            data = _from_database(terms, period)
        written = write_report(data, out, pdf=pdf)
        if screenshot is not None:
            from outcome_pulse.streams.report.browser import screenshot as take

            written.append(take(written[0], screenshot, width=1280, height=1600))
    except PulseError as exc:
        _err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    for path in written:
        _out.print(f"wrote {path}", markup=False, highlight=False)


def _from_file(terms, path: Path, mapping: str, period: str) -> EvidenceInput:  # type: ignore[no-untyped-def]
    from outcome_pulse.streams.drivers.backtest import backtest_file
    from outcome_pulse.streams.report.file_source import evidence_from_backtest

    with _err.status(f"backtesting {path.name}"):
        result = backtest_file(path, load_mapping(mapping), terms)
    return evidence_from_backtest(result, path, period)


def _from_database(terms, period: str) -> EvidenceInput:  # type: ignore[no-untyped-def]
    from outcome_pulse.streams.bootstrap import load_settings
    from outcome_pulse.streams.report.db_source import evidence_from_database

    return evidence_from_database(load_settings(), terms, period)
