"""Items about to breach their target: from breach probabilities, or from the at-risk share.

With breach predictions (the forecasting model's probability for each open item at each sample
instant) an item's alert fires at the first sample whose probability reaches the rule's
threshold and resolves at the first later sample below it, or one sample step after the item's
last prediction (its clock stopped). A sample without a probability (no model has learned
enough yet) fires when the item is past the KPI's at-risk share, as without predictions.

Without predictions it fires when the item's clock passes the KPI's at-risk share of its target
and resolves when the clock stops or the target is used up (the at-risk span of the engine's
clock measures), exactly in event time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from outcome_pulse.processors.alerting.inputs import ItemRiskSpan, Prediction


@dataclass(frozen=True, slots=True)
class ItemEpisode:
    service: str
    kpi: str
    item_id: str
    fired_at: datetime
    resolved_at: datetime | None
    value: float
    facts: dict[str, object]


def from_risk_spans(
    spans: Iterable[ItemRiskSpan], now: datetime, at_risk_share: float
) -> Iterator[ItemEpisode]:
    for span in spans:
        if span.start > now:
            continue  # the clock will pass its risk share later, if nothing changes
        resolved = span.end if span.end is not None and span.end <= now else None
        yield ItemEpisode(
            span.service,
            span.kpi,
            span.item_id,
            span.start,
            resolved,
            at_risk_share,
            {
                "priority": span.priority,
                "share": at_risk_share,
                "target_seconds": span.target_seconds,
                "breach_at": span.breach_at,
            },
        )


def from_predictions(
    predictions: Iterable[Prediction],
    now: datetime,
    threshold: float,
    step: timedelta,
    at_risk_share: float = 1.0,
) -> Iterator[ItemEpisode]:
    by_item: dict[tuple[str, str, str], list[Prediction]] = defaultdict(list)
    for p in predictions:
        by_item[(p.service, p.kpi, p.item_id)].append(p)

    def fires(p: Prediction) -> bool:
        if p.probability is None:
            return p.elapsed_share >= at_risk_share
        return p.probability >= threshold

    for _, rows in sorted(by_item.items()):
        rows.sort(key=lambda p: p.at)
        first: Prediction | None = None
        previous: Prediction | None = None
        for row in rows:
            gap = previous is not None and row.at - previous.at > step
            if first is not None and previous is not None and (gap or not fires(row)):
                yield _episode(first, previous.at + step if gap else row.at)
                first = None
            if first is None and fires(row):
                first = row
            previous = row
        if first is not None and previous is not None:
            left = previous.at + step
            yield _episode(first, left if left <= now else None)


def _episode(first: Prediction, resolved: datetime | None) -> ItemEpisode:
    value = first.probability if first.probability is not None else first.elapsed_share
    return ItemEpisode(
        first.service,
        first.kpi,
        first.item_id,
        first.at,
        resolved,
        value,
        {"probability": first.probability, "share_used": first.elapsed_share},
    )


__all__ = ["ItemEpisode", "from_predictions", "from_risk_spans"]
