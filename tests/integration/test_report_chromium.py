"""The evidence report of each example contract, rendered in real headless Chromium: the page is
not blank (pixel variance of a screenshot, the status colour of the headline KPI on screen), and
the DOM Chromium rendered shows the period's attainment and credit exactly as ``pulse backtest``
computed them on the same log; the PDF is a PDF."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from outcome_pulse.processors.measurements import PeriodOutcome
from outcome_pulse.processors.quantities import format_share
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import BacktestResult, backtest_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.report import browser
from outcome_pulse.streams.report.charts import STATUS_COLOURS
from outcome_pulse.streams.report.file_source import evidence_from_backtest
from outcome_pulse.streams.report.writer import write_report
from tests.datasets import dataset

pytestmark = pytest.mark.integration

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
CASES = {
    # dataset: (contract file, month with a credit, its headline KPI)
    "bpic2013": ("bpic2013_incidents.yaml", "2012-04", "resolution-time"),
    "helpdesk": ("helpdesk_tickets.yaml", "2012-10", "resolution-time"),
    "scms": ("scms_orders.yaml", "2011-05", "on-time-delivery"),
}


class _Fields(HTMLParser):
    """Text of every element carrying ``data-field`` (keyed by data-kpi and data-field)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[tuple[str, str], list[str]] = {}
        self._open: list[tuple[str, str] | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        field = named.get("data-field")
        key = (named.get("data-kpi") or "", field) if field else None
        self._open.append(key)
        if key is not None:
            self.found.setdefault(key, []).append("")

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for key in self._open:
            if key is not None:
                self.found[key][-1] += data


def _backtest(name: str) -> BacktestResult:
    contract_file, _, _ = CASES[name]
    return backtest_file(
        dataset(name), load_mapping(name), load_contract(CONTRACTS / contract_file)
    )


def _settled(result: BacktestResult, month: str) -> list[PeriodOutcome]:
    """Outcomes settled at the end of ``month`` (their period ends with it)."""
    return [o for o in result.outcomes() if _label(o, result) == month and o.period == "month"]


def _label(outcome: PeriodOutcome, result: BacktestResult) -> str:
    from zoneinfo import ZoneInfo

    local = outcome.period_start.astimezone(ZoneInfo(result.contract.client.time_zone))
    return f"{local.year}-{local.month:02d}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_report_renders_in_chromium_with_the_backtest_figures(name: str, tmp_path: Path) -> None:
    _, month, headline = CASES[name]
    result = _backtest(name)
    written = write_report(evidence_from_backtest(result, dataset(name), month), tmp_path, pdf=True)
    html, pdf = written
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000

    # What pulse backtest computed for the month.
    settled = _settled(result, month)
    assert settled, f"no monthly outcome settled in {month}"
    by_kpi = {o.kpi: o for o in settled}
    credit = sum(
        (
            o.credit - o.earned_back
            for o in result.outcomes()
            if o.period_end == settled[0].period_end
        ),
        Decimal(0),
    )
    assert by_kpi[headline].credit > 0, "the chosen month must carry a credit"

    # What Chromium rendered.
    parser = _Fields()
    parser.feed(browser.dump_dom(html))
    fields = parser.found
    for kpi, outcome in by_kpi.items():
        assert outcome.measure is not None
        assert fields[(kpi, "attainment")] == [format_share(outcome.measure)], kpi
        assert fields[(kpi, "credit")] == [f"{outcome.credit:,.2f}"], kpi
    currency = result.contract.commercial.currency  # type: ignore[union-attr]
    assert fields[("", "period-credit")] == [f"{currency} {credit:,.2f}"]
    assert fields[("", "period")] == [month]
    assert len(fields[("", "sha256")][0]) == 64

    png = browser.screenshot(html, tmp_path / "report.png", width=1280, height=1600)
    image = Image.open(png).convert("RGB")
    assert image.size == (1280, 1600)
    grey = ImageStat.Stat(image.convert("L"))
    assert grey.stddev[0] > 25, f"screenshot looks blank (stddev {grey.stddev[0]:.1f})"
    colours = image.getcolors(maxcolors=1 << 20) or []
    status = by_kpi[headline].status
    wanted = tuple(int(STATUS_COLOURS[status][i : i + 2], 16) for i in (1, 3, 5))
    shown = sum(n for n, rgb in colours if rgb == wanted)
    assert shown > 2_000, f"the {status} colour {wanted} of {headline} is not on screen"
