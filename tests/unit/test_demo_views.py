"""What ``pulse demo`` prints after the outcomes: the latest forecast of each KPI's running period,
the alerts counted by rule, and where the dashboards and the report are."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from outcome_pulse.processors.alerting.episodes import AlertEpisode
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.streams.cli.demo_views import print_alerts, print_forecasts, print_where_to_look
from outcome_pulse.streams.contract_files import load_contract

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "bpic2013_incidents.yaml"
T = datetime(2012, 5, 1, tzinfo=UTC)


def _forecast(as_of_hours: int, p: float, start: datetime = T) -> PeriodForecast:
    return PeriodForecast(
        contract="volvo",
        kpi="resolution-time",
        service="incidents",
        period="month",
        period_start=start,
        period_end=start + timedelta(days=31),
        as_of=start + timedelta(hours=as_of_hours),
        measured_to_date=120,
        good_to_date=101,
        attainment_to_date=101 / 120,
        expected_attainment=0.8,
        p_meet_target=p,
        p_meet_minimum=0.5,
        budget_left_target=3,
        budget_left_minimum=9,
        expected_credit=Decimal("1234.5"),
        currency="EUR",
    )


def _episode(name: str, hours: int, resolved: bool) -> AlertEpisode:
    fired = T + timedelta(hours=hours)
    return AlertEpisode(
        contract="volvo",
        fingerprint=f"{name}{hours}",
        fired_at=fired,
        resolved_at=fired + timedelta(hours=1) if resolved else None,
        alertname=name,
        severity="ticket",
        service="incidents",
        kpi="resolution-time",
        item_id=None,
        value=None,
        labels={},
        annotations={"summary": f"{name} summary {hours}"},
    )


def _text(draw) -> str:  # type: ignore[no-untyped-def]
    console = Console(record=True, width=160, color_system=None)
    draw(console)
    return console.export_text()


def test_the_latest_forecast_of_the_latest_period_is_shown() -> None:
    contract = load_contract(CONTRACT)
    april = T - timedelta(days=30)
    rows = [_forecast(5, 0.61), _forecast(30, 0.22), _forecast(700, 0.99, start=april)]
    text = _text(lambda c: print_forecasts(c, contract, rows))
    assert "0.22" in text and "0.61" not in text and "0.99" not in text
    assert "2012-05" in text and "84.17%" in text and "80%" in text
    assert "1,234.50 EUR" in text and "│           3 │" in text
    over = replace(rows[1], budget_left_target=-281)
    assert "none (281 over)" in _text(lambda c: print_forecasts(c, contract, [over]))
    assert "no period forecast" in _text(lambda c: print_forecasts(c, contract, []))


def test_alerts_are_counted_by_rule_with_the_ones_still_firing() -> None:
    episodes = [
        _episode("PulseErrorBudgetBurn", 1, True),
        _episode("PulseErrorBudgetBurn", 2, False),
        _episode("PulseKpiForecastToMiss", 3, False),
    ]
    text = _text(lambda c: print_alerts(c, episodes))
    burn = next(line for line in text.splitlines() if "PulseErrorBudgetBurn" in line)
    assert re.findall(r"\b\d+\b", burn) == ["2", "1"]
    assert "latest: PulseKpiForecastToMiss" in text and "summary 3" in text
    assert "no alert fired" in _text(lambda c: print_alerts(c, []))


def test_where_to_look_names_the_contracts_dashboards_and_the_report_command() -> None:
    contract = load_contract(CONTRACT)
    text = _text(
        lambda c: print_where_to_look(c, contract, CONTRACT, "http://127.0.0.1:19095", "pg")
    )
    client_folder = (
        CONTRACT.parents[1] / "dashboards" / "generated" / "clients" / contract.client_id
    )
    assert client_folder.is_dir() and str(client_folder) in text
    assert f"pulse report {CONTRACT} --period YYYY-MM" in text
    assert "http://127.0.0.1:19095/#/alerts" in text
