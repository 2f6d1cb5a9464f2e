"""Alert episodes: the rows of ``pulse_alerts``, and how a rule's samples become episodes.

An episode is one firing of one alert (one label set, hence one ``fingerprint``): from the event
time its condition first held (``fired_at``) to the event time it first stopped holding
(``resolved_at``; None while it still holds at the evaluation instant). Rules that judge a
contract period (budget, forecast) end their episodes at the period's end, so an episode always
belongs to one period.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class AlertEpisode:
    contract: str
    fingerprint: str
    fired_at: datetime
    resolved_at: datetime | None
    alertname: str
    severity: str
    service: str | None
    kpi: str | None
    item_id: str | None
    value: float | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]

    @property
    def key(self) -> tuple[str, str, datetime]:
        return (self.contract, self.fingerprint, self.fired_at)

    @property
    def rule(self) -> str:
        return f"{self.alertname}/{self.severity}"

    def firing_at(self, moment: datetime) -> bool:
        return self.fired_at <= moment and (self.resolved_at is None or moment < self.resolved_at)


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable id of a label set: the first 16 hex digits of SHA-256 over the sorted labels."""
    text = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Sample(NamedTuple):
    """A rule's verdict at one instant: firing or not, the number compared, and (for period
    rules) the end of the period the instant belongs to; ``facts`` feed the summary. (A named
    tuple: rules make one per grid instant, tens of thousands per KPI.)"""

    at: datetime
    firing: bool
    value: float | None
    period_end: datetime | None = None
    facts: Mapping[str, object] | None = None


@dataclass(frozen=True, slots=True)
class Run:
    first: Sample
    resolved_at: datetime | None


def runs(samples: Iterable[Sample]) -> Iterator[Run]:
    """Consecutive firing samples as runs: resolved at the first later sample that does not
    fire, or at the period's end when the next sample is in another period."""
    current: Sample | None = None
    for sample in samples:
        if (
            current is not None
            and current.period_end is not None
            and (sample.period_end != current.period_end)
        ):
            yield Run(current, current.period_end)
            current = None
        if sample.firing:
            if current is None:
                current = sample
        elif current is not None:
            yield Run(current, sample.at)
            current = None
    if current is not None:
        yield Run(current, None)


# The columns of ``pulse_alerts`` and of ``pulse backtest --alerts-file``: the episode's fields.
ALERT_COLUMNS = tuple(f.name for f in fields(AlertEpisode))

__all__ = ["ALERT_COLUMNS", "AlertEpisode", "Run", "Sample", "fingerprint", "runs"]
