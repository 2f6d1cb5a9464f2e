"""A service's load at any instant, read from the engine's aggregators: what the breach model's
load features (``forecast.features.ServiceLoad``) are made of. The aggregators keep the
contributions of compacted items, so the features stay right after their events are dropped."""

from __future__ import annotations

from datetime import datetime, timedelta

from outcome_pulse.processors.engine.contribution import ARRIVALS, open_family
from outcome_pulse.processors.engine.multisets import CountedSpanMultiset, InstantMultiset
from outcome_pulse.processors.engine.service import ServiceState
from outcome_pulse.processors.forecast.features import ServiceLoad

_DAY = timedelta(days=1)


class ServiceLoadReader:
    """Open items (backlog) and openings in the last 24 hours at an instant, of one service."""

    def __init__(self, service: ServiceState) -> None:
        self.service = service

    def at(self, moment: datetime) -> ServiceLoad:
        spans = self.service.spans.get(open_family(None))
        backlog = spans.count_containing(moment) if isinstance(spans, CountedSpanMultiset) else 0
        arrivals = self.service.instants.get(ARRIVALS) or InstantMultiset()
        recent = arrivals.count_through(moment) - arrivals.count_through(moment - _DAY)
        return ServiceLoad(backlog, recent)
