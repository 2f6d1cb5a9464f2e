"""All alert rules of a contract over the engine's outputs: ``AlertEpisode`` rows.

A pure function of the contract and ``AlertInputs``: the same inputs give the same episodes, in
the backtest and in the streaming monitor. Labels are what Alertmanager routes and groups on
(alertname, client (the client id that keys tenancy), contract, service, kpi, severity, owner;
item_id for item alerts, period for the period rules, indicator for drift); the fingerprint is
their hash. Annotations carry the numbers (summary), what the rule means (description), the
client's name and a dashboard link.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from outcome_pulse.processors.alerting import budget, burn_rate, drift, forecast_miss, item_breach
from outcome_pulse.processors.alerting.episodes import AlertEpisode, Sample, fingerprint, runs
from outcome_pulse.processors.alerting.inputs import AlertInputs, KpiCounts
from outcome_pulse.processors.alerting.rules import ALERT_NAMES, NOMINAL_PERIOD, RuleSet
from outcome_pulse.processors.contract import Contract, KpiBase, TimeToTargetKpi, TrendKpi
from outcome_pulse.processors.periods import period_label
from outcome_pulse.processors.quantities import format_duration, parse_duration

DESCRIPTIONS = {
    "item_breach": "An open item is about to breach its target: act on it before the target runs "
    "out.",
    "forecast_miss": "The running period is forecast to end below the KPI's target level, which "
    "costs a service credit.",
    "burn_rate": "The KPI's error budget (the share of the period's items allowed to miss) is "
    "being spent faster than the period allows, in a long and a short window "
    "(multiwindow, multi-burn-rate).",
    "budget_exhausted": "The period's misses exceed its error budget: it is below target unless "
    "many more items are measured on time.",
    "indicator_drift": "A leading indicator moved away from its usual level for this weekday and "
    "hour; outcomes usually follow.",
}


def period_length(kpi: KpiBase) -> timedelta:
    if kpi.period.is_rolling and kpi.period.days is not None:
        return timedelta(days=kpi.period.days)
    return NOMINAL_PERIOD * (3 if kpi.period.kind == "quarter" else 1)


def _when(moment: object) -> str:
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return "-"


def _span(value: object) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(0)


class _Builder:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.zone = ZoneInfo(contract.client.time_zone)

    def labels(self, rule: str, severity: str, service: str, kpi: str | None) -> dict[str, str]:
        owner = self.contract.services[service].owner.name
        labels = {
            "alertname": ALERT_NAMES[rule],
            "client": self.contract.client_id,
            "contract": self.contract.contract,
            "service": service,
            "severity": severity,
            "owner": owner,
        }
        if kpi is not None:
            labels["kpi"] = kpi
        return labels

    def episode(
        self,
        rule: str,
        labels: dict[str, str],
        fired_at: datetime,
        resolved_at: datetime | None,
        value: float | None,
        summary: str,
        item_id: str | None = None,
    ) -> AlertEpisode:
        kpi = labels.get("kpi")
        annotations = {
            "summary": summary,
            "description": DESCRIPTIONS[rule],
            "client_name": self.contract.client.name,
            "dashboard": self.contract.alerts.dashboard_link(self.contract.contract, kpi or ""),
        }
        return AlertEpisode(
            contract=self.contract.contract,
            fingerprint=fingerprint(labels),
            fired_at=fired_at,
            resolved_at=resolved_at,
            alertname=labels["alertname"],
            severity=labels["severity"],
            service=labels["service"],
            kpi=kpi,
            item_id=item_id,
            value=value,
            labels=labels,
            annotations=annotations,
        )

    def from_samples(
        self,
        rule: str,
        labels: dict[str, str],
        samples: Iterable[Sample],
        say: _Say,
        period_kind: str | None = None,
    ) -> Iterator[AlertEpisode]:
        """Episodes of the firing runs; with ``period_kind`` (period rules) each carries its
        period as a label, so two months' alerts are two alerts to Alertmanager too."""
        for run in runs(samples):
            mine = labels
            facts = run.first.facts or {}
            start, end = facts.get("period_start"), facts.get("period_end")
            if period_kind and isinstance(start, datetime) and isinstance(end, datetime):
                mine = labels | {"period": period_label(period_kind, start, end, self.zone)}
            yield self.episode(
                rule, mine, run.first.at, run.resolved_at, run.first.value, say(run.first)
            )


class _Say:
    """Writes a summary from a firing sample's facts."""

    def __init__(self, kpi: KpiBase, rule: str) -> None:
        self.kpi, self.rule = kpi, rule

    def __call__(self, sample: Sample) -> str:
        f = dict(sample.facts or {})
        name = self.kpi.id
        if self.rule == "burn_rate":
            return (
                f"{name}: error budget burning {f['long_rate']:.1f}x over "
                f"{format_duration(_span(f['long']))} and {f['short_rate']:.1f}x over "
                f"{format_duration(_span(f['short']))} (threshold {f['factor']:g}x); {f['bad']} of "
                f"{f['total']} missed in the long window, budget "
                f"{(1 - self.kpi.target_level) * 100:g}% of items"
            )
        if self.rule == "budget_exhausted":
            return (
                f"{name}: {f['bad']} misses of {f['measured']} measured in the period ending "
                f"{_when(f['period_end'])}, over the budget of {f['allowed']:.1f} "
                f"({(1 - self.kpi.target_level) * 100:g}% of {f['expected']} expected); "
                f"below the {self.kpi.target_level * 100:g}% target"
            )
        if "p_meet_target" in f:
            expected = f["expected_attainment"]
            p = f["p_meet_target"]
            return (
                f"{name}: forecast "
                + (f"{expected * 100:.1f}%" if isinstance(expected, float) else "-")
                + (f" (p(meet) = {p:.2f})" if isinstance(p, float) else "")
                + f" against a {self.kpi.target_level * 100:g}% target for the period ending "
                f"{_when(f['period_end'])}"
                + ("" if f["budget_left"] is None else f"; {f['budget_left']} more misses allowed")
            )
        return (
            f"{name}: {f['bad']} missed so far and {f['forecast_bad']} running items will breach "
            f"before {_when(f['period_end'])} if nothing changes: {f['projected_bad']} misses "
            f"against a budget of {f['allowed']:.1f}; forecast "
            f"{(sample.value or 0.0) * 100:.1f}% against a {self.kpi.target_level * 100:g}% target"
        )


def evaluate_alerts(contract: Contract, inputs: AlertInputs) -> list[AlertEpisode]:
    """Every alert episode of ``contract`` up to ``inputs.now``, ordered by key."""
    build = _Builder(contract)
    counts = {c.kpi: c for c in inputs.counts}
    out: list[AlertEpisode] = []
    for kpi in contract.kpis:
        if isinstance(kpi, TrendKpi):
            continue  # no good/bad items, so no budget to burn
        rules = contract.alerts.rules_for(kpi.id)
        mine = counts.get(kpi.id)
        if mine is not None:
            out.extend(_kpi_alerts(build, kpi, rules, mine, inputs))
        if isinstance(kpi, TimeToTargetKpi) and rules.item_breach.enabled:
            out.extend(_item_alerts(build, kpi, rules, inputs))
    out.extend(_drift_alerts(build, inputs))
    out.sort(key=lambda e: e.key)
    return out


def _kpi_alerts(
    build: _Builder, kpi: KpiBase, rules: RuleSet, counts: KpiCounts, inputs: AlertInputs
) -> Iterator[AlertEpisode]:
    target = kpi.target_level
    if rules.burn_rate.enabled:
        for severity, samples in burn_rate.burn_samples(
            counts, target, period_length(kpi), rules.burn_rate
        ):
            labels = build.labels("burn_rate", severity, kpi.service, kpi.id)
            yield from build.from_samples("burn_rate", labels, samples, _Say(kpi, "burn_rate"))
    if rules.budget_exhausted.enabled and not kpi.period.is_rolling:
        samples = budget.exhausted_samples(counts, target, kpi.minimum_volume)
        labels = build.labels(
            "budget_exhausted", rules.budget_exhausted.severity, kpi.service, kpi.id
        )
        yield from build.from_samples(
            "budget_exhausted", labels, samples, _Say(kpi, "budget_exhausted"), kpi.period.kind
        )
    if rules.forecast_miss.enabled and not kpi.period.is_rolling:
        if inputs.forecasts is not None:
            samples = forecast_miss.forecast_samples(
                inputs.forecasts, kpi.id, target, rules.forecast_miss.p_meet_target_below
            )
        elif counts.forecast_bad is not None:
            samples = budget.naive_forecast_samples(counts, target, kpi.minimum_volume)
        else:
            samples = []
        labels = build.labels("forecast_miss", rules.forecast_miss.severity, kpi.service, kpi.id)
        yield from build.from_samples(
            "forecast_miss", labels, samples, _Say(kpi, "forecast_miss"), kpi.period.kind
        )


def _item_alerts(
    build: _Builder, kpi: TimeToTargetKpi, rules: RuleSet, inputs: AlertInputs
) -> Iterator[AlertEpisode]:
    rule = rules.item_breach
    episodes: Iterable[item_breach.ItemEpisode]
    if inputs.predictions is not None:
        step = timedelta(seconds=inputs.sample_every.get(kpi.id, 3600.0))
        mine = (p for p in inputs.predictions if p.kpi == kpi.id)
        episodes = item_breach.from_predictions(
            mine, inputs.now, rule.probability, step, kpi.at_risk_share
        )
    else:
        spans = (s for s in inputs.risk_spans if s.kpi == kpi.id)
        episodes = item_breach.from_risk_spans(spans, inputs.now, kpi.at_risk_share)
    business = "business " if kpi.calendar != "24x7" else ""
    for e in episodes:
        labels = build.labels("item_breach", rule.severity, e.service, kpi.id)
        labels["item_id"] = e.item_id
        f = e.facts
        if isinstance(f.get("probability"), float):
            summary = (
                f"{e.item_id} ({kpi.id}) will breach its target: p = {f['probability']:.2f}, "
                f"{float(f['share_used']) * 100:.0f}% of the target used"  # type: ignore[arg-type]
            )
        elif "probability" in f:
            summary = (
                f"{e.item_id} ({kpi.id}) has used {float(f['share_used']) * 100:.0f}% of its "  # type: ignore[arg-type]
                f"target (at-risk share {kpi.at_risk_share * 100:g}%; no breach model yet)"
            )
        else:
            target = timedelta(seconds=float(f["target_seconds"]))  # type: ignore[arg-type]
            priority = f" ({f['priority']})" if f["priority"] is not None else ""
            summary = (
                f"{e.item_id}{priority} has used {kpi.at_risk_share * 100:g}% of its "
                f"{format_duration(target, unit_word=business.strip())} target on {kpi.id}; it "
                f"breaches at {_when(f['breach_at'])} if nothing changes"
            )
        yield build.episode(
            "item_breach", labels, e.fired_at, e.resolved_at, e.value, summary, e.item_id
        )


def _drift_alerts(build: _Builder, inputs: AlertInputs) -> Iterator[AlertEpisode]:
    if not inputs.drift:
        return
    contract = build.contract
    rule = contract.alerts.rules_for("").indicator_drift  # drift is per service: the defaults
    if not rule.enabled:
        return
    for service in contract.services:
        mine = [s for s in inputs.drift if s.service == service]
        for e in drift.drift_episodes(mine, inputs.now, rule.min_size, parse_duration(rule.hold)):
            s = e.first
            labels = build.labels("indicator_drift", rule.severity, service, None)
            labels["indicator"] = s.indicator
            observed = "" if s.observed is None else f" ({s.observed:g}"
            if observed and s.baseline is not None:
                observed += f" against {s.baseline:g})"
            elif observed:
                observed += ")"
            summary = (
                f"{s.indicator} on {service} is {s.size * 100:+.0f}% against its seasonal "
                f"baseline{observed}, since {_when(s.started_at)}"
            )
            yield build.episode(
                "indicator_drift", labels, s.detected_at, e.resolved_at, s.size, summary
            )


__all__ = ["DESCRIPTIONS", "evaluate_alerts", "period_length"]
