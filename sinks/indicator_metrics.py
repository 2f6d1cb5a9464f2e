"""The contracts' indicators and period outcomes as Prometheus gauges, collected at scrape time.

``IndicatorGauges`` is a ``prometheus_client`` collector registered on the injected registry.
The contract monitor hands it each tick's results (``update``); it keeps only the latest value
of each series, and renders the gauges when Prometheus scrapes. A series leaves the exposition
when its client is forgotten or when its value stops existing (a period with nothing measured
has no attainment), so nothing stale is ever scraped.

Labels are client, service and KPI, bounded by the contracts loaded.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from outcome_pulse.processors.measurements import IndicatorPoint, PeriodOutcome
from outcome_pulse.processors.vocabulary import OutcomeStatus
from outcome_pulse.sinks.metrics import LATENCY_BUCKETS

_LABELS = ["client", "service", "kpi"]
_INDICATOR_NAME = re.compile(r"[a-z][a-z0-9_]*")
_GENERIC_HELP = "Contract indicator {name} (latest point on the event-time grid)."
_OUTCOME_GAUGES = {
    "period_attainment": "Measure (attainment share, or change for trend KPIs) of the KPI's "
    "latest contract period.",
    "period_credit": "Service credit (after caps, in the contract's currency) of the KPI's "
    "latest contract period.",
    "period_met": "1 when the KPI's latest contract period met its target, else 0.",
}

Labels = tuple[str, str, str]  # client, service, kpi ("" for service-wide series)


@dataclass(frozen=True, slots=True)
class _Latest:
    """The latest value of one series and the event time it belongs to."""

    at: datetime
    value: float | None


class IndicatorGauges(Collector):
    """Gauges ``pulse_kpi_<indicator>{client, service, kpi}`` (kpi "" for service-wide ones),
    plus ``pulse_kpi_period_attainment``, ``pulse_kpi_period_credit`` and ``pulse_kpi_period_met``
    from the latest period of each KPI.

    ``count_late`` counts late events (``pulse_late_events_total``); ``round_seconds`` times the
    monitor's rounds (``pulse_monitor_round_seconds``).

    ``update`` may be given every row or only changed rows (a tick's upserts): each series keeps
    the value of the latest ``at`` (``period_start`` for outcomes) seen across calls, so a
    correction of an older point never moves a gauge back. ``forget(client)`` drops a client's
    series (contract removed or rebuilt from scratch). A gauge appears once its indicator name
    has been seen, with help from ``help`` (indicator name -> text) or a generic one.
    """

    def __init__(self, registry: CollectorRegistry, help: Mapping[str, str] | None = None) -> None:
        self.registry = registry
        self._help = {**_OUTCOME_GAUGES, **(help or {})}
        self._lock = threading.Lock()  # update() runs in the monitor, collect() in the scraper
        self._series: dict[str, dict[Labels, _Latest]] = {}
        self.late_events = Counter(
            "pulse_late_events",
            "Events that arrived after the watermark had passed their time by more than the "
            "allowed lateness, applied as corrections (counted once per contract they touched).",
            registry=registry,
        )
        self.round_seconds = Histogram(
            "pulse_monitor_round_seconds",
            "Duration of one contract monitor round (read the inbox, evaluate, write).",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        registry.register(self)

    def update(
        self,
        client: str,
        points: Iterable[IndicatorPoint],
        outcomes: Iterable[PeriodOutcome] = (),
    ) -> None:
        values: list[tuple[str, Labels, datetime, float | None]] = []
        for point in points:
            _check_name(point.indicator)
            labels = (client, point.service, point.kpi)
            values.append((point.indicator, labels, point.at, point.value))
        for outcome in outcomes:
            labels = (client, outcome.service, outcome.kpi)
            met = 1.0 if outcome.status == OutcomeStatus.MET else 0.0
            values.append(("period_attainment", labels, outcome.period_start, outcome.measure))
            values.append(("period_credit", labels, outcome.period_start, float(outcome.credit)))
            values.append(("period_met", labels, outcome.period_start, met))
        with self._lock:
            for name, labels, at, value in values:
                series = self._series.setdefault(name, {})
                seen = series.get(labels)
                if seen is None or at >= seen.at:
                    series[labels] = _Latest(at, value)

    def count_late(self, events: int) -> None:
        """Count late events applied by a monitor tick (``pulse_late_events_total``)."""
        if events:
            self.late_events.inc(events)

    def forget(self, client: str) -> None:
        """Remove every series of ``client`` from every gauge."""
        with self._lock:
            for series in self._series.values():
                for labels in [labels for labels in series if labels[0] == client]:
                    del series[labels]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            snapshot = {name: dict(series) for name, series in self._series.items()}
        for name, series in sorted(snapshot.items()):
            family = GaugeMetricFamily(
                f"pulse_kpi_{name}",
                self._help.get(name) or _GENERIC_HELP.format(name=name),
                labels=_LABELS,
            )
            for labels, latest in series.items():
                if latest.value is not None:  # nothing measured yet: no value, not a stale one
                    family.add_metric(list(labels), latest.value)
            yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())  # the names depend on the results; nothing to check at registration


def _check_name(name: str) -> None:
    if not _INDICATOR_NAME.fullmatch(name):
        raise ValueError(f"indicator name {name!r} is not snake_case ([a-z][a-z0-9_]*)")
