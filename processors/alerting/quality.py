"""How a contract's alerts did on history: lead time before the missed periods, false alarms.

For every judged period of a KPI (final, and met, below target or below minimum; periods with no
data or too little volume are not judged) and every rule (alert name and severity), the first
episode of that rule that fired in the period, for that KPI (drift alerts: for the KPI's
service). On a missed period its *lead time* is the period's end minus its firing time; on a met
period every such episode is a *false alarm*. Per rule:

* precision: the periods it alerted on that were missed, over all periods it alerted on;
* recall: the missed periods it alerted on, over all missed periods;
* median lead time over the missed periods it alerted on.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from outcome_pulse.processors.alerting.episodes import AlertEpisode
from outcome_pulse.processors.alerting.rules import ALERT_NAMES, RuleSet
from outcome_pulse.processors.contract import Contract, KpiBase, TimeToTargetKpi, TrendKpi
from outcome_pulse.processors.measurements import PeriodOutcome

JUDGED = ("met", "below_target", "below_minimum")


@dataclass(frozen=True, slots=True)
class PeriodAlerts:
    kpi: str
    period_start: datetime
    period_end: datetime
    status: str
    measure: float | None
    first: dict[str, AlertEpisode] = field(default_factory=dict)
    """Per rule, its first episode fired in the period."""
    fired: dict[str, int] = field(default_factory=dict)
    """Per rule, the episodes fired in the period."""

    @property
    def missed(self) -> bool:
        return self.status != "met"

    def lead(self, rule: str) -> timedelta | None:
        first = self.first.get(rule)
        return None if first is None else self.period_end - first.fired_at


@dataclass(frozen=True, slots=True)
class RuleQuality:
    kpi: str
    rule: str
    episodes: int
    missed: int
    missed_alerted: int
    met: int
    met_alerted: int
    false_alarms: int
    median_lead: timedelta | None

    @property
    def precision(self) -> float | None:
        alerted = self.missed_alerted + self.met_alerted
        return self.missed_alerted / alerted if alerted else None

    @property
    def recall(self) -> float | None:
        return self.missed_alerted / self.missed if self.missed else None


@dataclass(frozen=True, slots=True)
class QualityReport:
    periods: list[PeriodAlerts]
    rules: list[RuleQuality]


def rule_keys(kpi: KpiBase, rules: RuleSet) -> list[str]:
    """The rules (``alertname/severity``) a KPI raises from the engine's own measures, in a
    fixed order: forecasts only for time-to-target KPIs (the naive forecast counts running
    items), drift only with drift signals (a rule that raised alerts is always reported)."""
    keys: list[str] = []
    if isinstance(kpi, TimeToTargetKpi) and rules.item_breach.enabled:
        keys.append(f"{ALERT_NAMES['item_breach']}/{rules.item_breach.severity}")
    if not kpi.period.is_rolling:
        if rules.forecast_miss.enabled and isinstance(kpi, TimeToTargetKpi):
            keys.append(f"{ALERT_NAMES['forecast_miss']}/{rules.forecast_miss.severity}")
        if rules.burn_rate.enabled:
            for severity in ("page", "ticket"):
                if any(w.severity == severity for w in rules.burn_rate.windows):
                    keys.append(f"{ALERT_NAMES['burn_rate']}/{severity}")
        if rules.budget_exhausted.enabled:
            keys.append(f"{ALERT_NAMES['budget_exhausted']}/{rules.budget_exhausted.severity}")
    return keys


def alert_quality(
    contract: Contract, outcomes: Iterable[PeriodOutcome], alerts: Iterable[AlertEpisode]
) -> QualityReport:
    by_kpi: dict[str, list[AlertEpisode]] = defaultdict(list)
    for alert in alerts:
        if alert.kpi:
            by_kpi[alert.kpi].append(alert)
        else:  # service-wide (drift): it concerns every KPI of the service
            for kpi in contract.kpis:
                if kpi.service == alert.service:
                    by_kpi[kpi.id].append(alert)
    periods: list[PeriodAlerts] = []
    rules: list[RuleQuality] = []
    judged = sorted(
        (o for o in outcomes if o.final and o.status in JUDGED), key=lambda o: o.period_start
    )
    for kpi in contract.kpis:
        if isinstance(kpi, TrendKpi):
            continue
        mine = sorted(by_kpi.get(kpi.id, []), key=lambda a: a.fired_at)
        rows = [_period(o, mine) for o in judged if o.kpi == kpi.id]
        periods.extend(rows)
        keys = rule_keys(kpi, contract.alerts.rules_for(kpi.id))
        keys += sorted({a.rule for a in mine} - set(keys))
        for key in keys:
            rules.append(_quality(kpi.id, key, rows, sum(1 for a in mine if a.rule == key)))
    return QualityReport(periods, rules)


def _period(outcome: PeriodOutcome, alerts: list[AlertEpisode]) -> PeriodAlerts:
    first: dict[str, AlertEpisode] = {}
    fired: dict[str, int] = defaultdict(int)
    for alert in alerts:
        if outcome.period_start <= alert.fired_at < outcome.period_end:
            first.setdefault(alert.rule, alert)
            fired[alert.rule] += 1
    return PeriodAlerts(
        outcome.kpi,
        outcome.period_start,
        outcome.period_end,
        outcome.status,
        outcome.measure,
        first,
        dict(fired),
    )


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


def _quality(kpi: str, rule: str, rows: list[PeriodAlerts], episodes: int) -> RuleQuality:
    missed = [r for r in rows if r.missed]
    met = [r for r in rows if not r.missed]
    leads = [lead for r in missed if (lead := r.lead(rule)) is not None]
    return RuleQuality(
        kpi=kpi,
        rule=rule,
        episodes=episodes,
        missed=len(missed),
        missed_alerted=len(leads),
        met=len(met),
        met_alerted=sum(1 for r in met if rule in r.first),
        false_alarms=sum(r.fired.get(rule, 0) for r in met),
        median_lead=_median(leads),
    )


__all__ = ["JUDGED", "PeriodAlerts", "QualityReport", "RuleQuality", "alert_quality", "rule_keys"]
