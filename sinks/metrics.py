"""Prometheus metrics on an injected registry: about the pipeline itself (``PipelineMetrics``)
and the contracts' indicators and outcomes (``IndicatorGauges``).

Pipeline labels stay low-cardinality: event ``type`` (a closed set), dead-letter ``reason`` (a
closed set of codes) and ``partition`` (bounded by the topic's partition count). Indicator gauges
are labelled by client, service and KPI, bounded by the contracts loaded. Names follow Prometheus
conventions and are linted by ``promtool check metrics`` in the tests.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.exposition import generate_latest

from outcome_pulse.processors.measurements import IndicatorPoint, PeriodOutcome
from outcome_pulse.processors.vocabulary import OutcomeStatus

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000)


class PipelineMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "pulse_events", "Valid events processed, by CloudEvents type.", ["type"], registry=r
        )
        self.dead_letters = Counter(
            "pulse_dead_letters",
            "Records sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=r,
        )
        self.processing_latency = Histogram(
            "pulse_event_processing_latency_seconds",
            "Time from the Kafka record's timestamp to its rows being committed to the database.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "pulse_consumer_lag_messages",
            "Messages in the events topic not yet processed by this worker, per partition.",
            ["partition"],
            registry=r,
        )
        self.flush_seconds = Histogram(
            "pulse_sink_flush_seconds",
            "Duration of one database flush (COPY into staging and upsert).",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_rows = Histogram(
            "pulse_sink_batch_rows",
            "Event rows written per database flush.",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.items_tracked = Gauge(
            "pulse_items_tracked", "Items whose state this worker holds.", registry=r
        )

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


_LABELS = ("client", "service", "kpi")
_INDICATOR_NAME = re.compile(r"[a-z][a-z0-9_]*")
_GENERIC_HELP = "Contract indicator {name} (latest point on the event-time grid)."
_OUTCOME_GAUGES = {
    "period_attainment": "Measure (attainment share, or change for trend KPIs) of the KPI's "
    "latest contract period.",
    "period_credit": "Service credit (after caps, in the contract's currency) of the KPI's "
    "latest contract period.",
    "period_met": "1 when the KPI's latest contract period met its target, else 0.",
}

Series = tuple[str, str, str, str]  # client, service, kpi, indicator (or _PERIOD)
_PERIOD = "period_*"  # the series of a KPI's period outcome gauges; no indicator name has a '*'


class IndicatorGauges:
    """Gauges ``pulse_kpi_<indicator>{client, service, kpi}`` (kpi "" for service-wide ones),
    plus ``pulse_kpi_period_attainment``, ``pulse_kpi_period_credit`` and ``pulse_kpi_period_met``
    from the latest period of each KPI.

    ``count_late`` counts late events (``pulse_late_events_total``).

    ``update`` may be given every row or only changed rows (a tick's upserts): each series keeps
    the value of the latest ``at`` (``period_start`` for outcomes) seen across calls, so a
    correction of an older point never moves a gauge back. ``forget(client)`` drops a client's
    series (contract removed or rebuilt from scratch). Gauges are created the first time an
    indicator name is seen, with help from ``help`` (indicator name -> text) or a generic one.
    """

    def __init__(self, registry: CollectorRegistry, help: Mapping[str, str] | None = None) -> None:
        self.registry = registry
        self._help = dict(help or {})
        self._gauges: dict[str, Gauge] = {}
        self._latest: dict[Series, datetime] = {}
        self.late_events = Counter(
            "pulse_late_events",
            "Events that arrived after the watermark had passed their time by more than the "
            "allowed lateness, applied as corrections (counted once per contract they touched).",
            registry=registry,
        )
        self.round_seconds = Histogram(
            "pulse_monitor_round_seconds",
            "Duration of one contract monitor round (read the inbox, evaluate, write).",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )

    def update(
        self,
        client: str,
        points: Iterable[IndicatorPoint],
        outcomes: Iterable[PeriodOutcome] = (),
    ) -> None:
        latest_points: dict[Series, IndicatorPoint] = {}
        for point in points:
            series = (client, point.service, point.kpi, point.indicator)
            best = latest_points.get(series)
            if best is None or point.at >= best.at:
                latest_points[series] = point
        for series, point in latest_points.items():
            if self._is_latest(series, point.at):
                self._gauge(point.indicator).labels(*series[:3]).set(point.value)

        latest_outcomes: dict[Series, PeriodOutcome] = {}
        for outcome in outcomes:
            series = (client, outcome.service, outcome.kpi, _PERIOD)
            best_outcome = latest_outcomes.get(series)
            if best_outcome is None or outcome.period_start >= best_outcome.period_start:
                latest_outcomes[series] = outcome
        for series, outcome in latest_outcomes.items():
            if not self._is_latest(series, outcome.period_start):
                continue
            labels = series[:3]
            attainment = self._gauge("period_attainment")
            if outcome.measure is None:  # nothing measured yet: no value rather than a stale one
                with contextlib.suppress(KeyError):
                    attainment.remove(*labels)
            else:
                attainment.labels(*labels).set(outcome.measure)
            self._gauge("period_credit").labels(*labels).set(float(outcome.credit))
            self._gauge("period_met").labels(*labels).set(
                1 if outcome.status == OutcomeStatus.MET else 0
            )

    def count_late(self, events: int) -> None:
        """Count late events applied by a monitor tick (``pulse_late_events_total``)."""
        if events:
            self.late_events.inc(events)

    def forget(self, client: str) -> None:
        """Remove every series of ``client`` from every gauge."""
        for series in [s for s in self._latest if s[0] == client]:
            del self._latest[series]
            names = tuple(_OUTCOME_GAUGES) if series[3] == _PERIOD else (series[3],)
            for name in names:
                with contextlib.suppress(KeyError):
                    self._gauges[name].remove(*series[:3])

    def _is_latest(self, series: Series, at: datetime) -> bool:
        """Remember ``at`` for ``series`` unless a later one was seen; True if it is the latest."""
        seen = self._latest.get(series)
        if seen is not None and at < seen:
            return False
        self._latest[series] = at
        return True

    def _gauge(self, name: str) -> Gauge:
        gauge = self._gauges.get(name)
        if gauge is None:
            if not _INDICATOR_NAME.fullmatch(name):
                raise ValueError(f"indicator name {name!r} is not snake_case ([a-z][a-z0-9_]*)")
            text = self._help.get(name) or _OUTCOME_GAUGES.get(name)
            gauge = Gauge(
                f"pulse_kpi_{name}",
                text or _GENERIC_HELP.format(name=name),
                _LABELS,
                registry=self.registry,
            )
            self._gauges[name] = gauge
        return gauge
