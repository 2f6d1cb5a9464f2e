"""The at-risk indicators of a time-to-target KPI: items at risk, breached open items, the share
of measured open items past their risk share, and the forecast of breaches (running items whose
target runs out before the period ends). Each item's clock spans are its contribution."""

from __future__ import annotations

from datetime import datetime

from outcome_pulse.processors.engine.contribution import clock_family
from outcome_pulse.processors.engine.indicators.backlog import count_spans
from outcome_pulse.processors.engine.multisets import SpanMultiset


def at_risk_series(
    kpi_id: str, grid: list[datetime], lo: int, spans: dict[tuple[str, ...], SpanMultiset]
) -> list[tuple[str, list[float | None]]]:
    start = grid[lo]

    def counted(name: str) -> list[int]:
        return count_spans(grid, lo, spans[clock_family(name, kpi_id)].reaching(start))

    measured = counted("measured")
    past = counted("past_risk")
    return [
        ("items_at_risk", _floats(counted("at_risk"))),
        ("breached_open", _floats(counted("breached"))),
        (
            "share_past_risk",
            [p / n if n else 0.0 for p, n in zip(past, measured, strict=True)],
        ),
        ("breaches_forecast", _floats(counted("forecast"))),
    ]


def _floats(values: list[int]) -> list[float | None]:
    return [float(v) for v in values]
