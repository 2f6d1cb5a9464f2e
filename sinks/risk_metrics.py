"""The open items most likely to breach, as a Prometheus gauge collected at scrape time.

``ItemRiskGauges`` is a ``prometheus_client`` collector on the injected registry, like
``indicator_metrics.IndicatorGauges``. The contract monitor hands it each contract's open clocks
after a round (``update``); it keeps only the ``top`` riskiest of each contract (highest breach
probability first, then least business time left: ``forecast.signals.clock_risks``), and renders
``pulse_item_breach_probability{client, contract, service, kpi, item}`` when Prometheus scrapes.
Items already past their target, and items without a probability yet (the model has not
learned enough), are not exported. Only the top N per contract: the label set stays bounded
however many items are open.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from outcome_pulse.processors.forecast.signals import ClockRisk, clock_risks
from outcome_pulse.processors.measurements import OpenClock

NAME = "pulse_item_breach_probability"
HELP = (
    "Probability, 0..1, that the open item breaches its target (online breach model, as known "
    "at the latest event time); only the riskiest open items of each contract."
)
LABELS = ["client", "contract", "service", "kpi", "item"]


class ItemRiskGauges(Collector):
    def __init__(self, registry: CollectorRegistry, top: int) -> None:
        if top < 0:
            raise ValueError(f"top must be 0 or more, not {top}")
        self.top = top
        self._lock = threading.Lock()
        self._risks: dict[str, tuple[str, list[ClockRisk]]] = {}
        registry.register(self)

    def update(self, client: str, contract: str, clocks: Iterable[OpenClock]) -> None:
        """The contract's open clocks now (all of them: the top ones are picked here)."""
        known = [c for c in clocks if c.breach_probability is not None]
        risks = clock_risks(known, self.top)
        with self._lock:
            self._risks[contract] = (client, risks)

    def forget(self, contract: str) -> None:
        with self._lock:
            self._risks.pop(contract, None)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            held = dict(self._risks)
        family = GaugeMetricFamily(NAME, HELP, labels=LABELS)
        for contract in sorted(held):
            client, risks = held[contract]
            for risk in risks:
                assert risk.probability is not None
                labels = [client, contract, risk.service, risk.kpi, risk.item_id]
                family.add_metric(labels, risk.probability)
        yield family

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(NAME, HELP, labels=LABELS)
