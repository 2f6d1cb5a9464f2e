"""Assemble, render and print one evidence report into a directory."""

from __future__ import annotations

from pathlib import Path

from outcome_pulse.processors.evidence import EvidenceInput, assemble
from outcome_pulse.streams.report.browser import print_pdf
from outcome_pulse.streams.report.html import render_html


def write_report(data: EvidenceInput, directory: Path, *, pdf: bool = True) -> list[Path]:
    """``<contract>/<YYYY-MM>.html`` (the path the client dashboard's evidence links point at,
    ``dashboards/client.py``) and, with ``pdf``, its ``.pdf``; the paths written."""
    evidence = assemble(data)
    folder = directory / evidence.contract.contract
    folder.mkdir(parents=True, exist_ok=True)
    html = folder / f"{evidence.period.label}.html"
    html.write_text(render_html(evidence), encoding="utf-8")
    written = [html]
    if pdf:
        written.append(print_pdf(html, folder / f"{evidence.period.label}.pdf"))
    return written
