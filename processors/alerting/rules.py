"""Alert rules as typed data: built-in defaults, overridden per contract and per KPI.

A contract's optional ``alerts:`` section::

    alerts:
      dashboard_url: https://grafana.example.com/d/pulse-{contract}?var-kpi={kpi}
      defaults:                     # every KPI of this contract
        burn_rate: {severity_page: page}
        item_breach: {probability: 0.7}
      kpis:                         # one KPI
        resolution-time:
          forecast_miss: {enabled: false}

Every rule exists for every KPI it applies to, with the built-in defaults below; a field given
in ``defaults`` replaces the built-in value, a field given under ``kpis.<id>`` replaces both.
No per-client rule needs writing: the thresholds come from the KPI itself (its target level,
its at-risk share, its period).

The rules (alert names in brackets):

* ``item_breach`` [PulseItemAboutToBreach]: an open item is about to breach its target: its
  breach probability reaches ``probability`` when predictions exist, else it is past the KPI's
  ``at_risk_share`` of its target (the KPI's own field) and not yet breached.
* ``forecast_miss`` [PulseKpiForecastToMiss]: the running period is forecast to miss the target:
  ``p_meet_target`` below ``p_meet_target_below`` when period forecasts exist, else the naive
  forecast (misses so far plus running items that will breach before the period ends if nothing
  changes) exceeds the period's error budget.
* ``burn_rate`` [PulseErrorBudgetBurn]: the SRE workbook's multiwindow, multi-burn-rate rules on
  the KPI's count-based error budget (1 - target of the period's items), as Sloth and Pyrra
  generate them: each window pair fires when both the long and the short window burn faster
  than ``factor``; windows are for a 30-day period and scale with the KPI's period length.
* ``budget_exhausted`` [PulseErrorBudgetExhausted]: the period's misses exceed its error budget.
* ``indicator_drift`` [PulseIndicatorDrift]: a leading indicator drifted from its seasonal
  baseline by at least ``min_size``; the alert holds for ``hold`` after the latest signal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from outcome_pulse.processors.quantities import parse_duration, parse_share

Severity = Literal["page", "ticket"]
RuleName = Literal[
    "item_breach", "forecast_miss", "burn_rate", "budget_exhausted", "indicator_drift"
]
RULE_NAMES: tuple[RuleName, ...] = (
    "item_breach",
    "forecast_miss",
    "burn_rate",
    "budget_exhausted",
    "indicator_drift",
)
ALERT_NAMES: dict[str, str] = {
    "item_breach": "PulseItemAboutToBreach",
    "forecast_miss": "PulseKpiForecastToMiss",
    "burn_rate": "PulseErrorBudgetBurn",
    "budget_exhausted": "PulseErrorBudgetExhausted",
    "indicator_drift": "PulseIndicatorDrift",
}
NOMINAL_PERIOD = timedelta(days=30)
"""The period length the workbook's burn-rate windows are written for."""


def _duration(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a duration with a unit, such as 1h, 5m or 3d")
    parse_duration(value)
    return value.strip()


def _share(value: Any) -> float:
    return parse_share(value)


DurationText = Annotated[str, BeforeValidator(_duration)]
Share = Annotated[float, BeforeValidator(_share)]


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError(f"expected a burn-rate factor above 0 (got {value:g})")
    return value


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True


class ItemBreachRule(_Rule):
    severity: Severity = "ticket"
    probability: Share = 0.8


class ForecastMissRule(_Rule):
    severity: Severity = "ticket"
    p_meet_target_below: Share = 0.5


class BurnWindow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    long: DurationText
    short: DurationText
    factor: Annotated[float, AfterValidator(_positive)]
    severity: Severity

    @model_validator(mode="after")
    def _short_within_long(self) -> BurnWindow:
        if parse_duration(self.short) >= parse_duration(self.long):
            raise ValueError(
                f"expected the short window ({self.short}) shorter than the long one ({self.long})"
            )
        return self


WORKBOOK_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow(long="1h", short="5m", factor=14.4, severity="page"),
    BurnWindow(long="6h", short="30m", factor=6.0, severity="page"),
    BurnWindow(long="1d", short="2h", factor=3.0, severity="ticket"),
    BurnWindow(long="3d", short="6h", factor=1.0, severity="ticket"),
)
"""The SRE workbook's recommended windows for a 30-day SLO (and Sloth's defaults)."""


class BurnRateRule(_Rule):
    windows: tuple[BurnWindow, ...] = Field(default=WORKBOOK_WINDOWS, min_length=1)
    scale_to_period: bool = True
    """Scale the windows by the KPI's period length over 30 days (a quarter: three times)."""
    min_events: int = Field(default=1, ge=1)
    """Items (samples) the long window must hold before its burn rate counts."""


class BudgetExhaustedRule(_Rule):
    severity: Severity = "page"


class DriftRule(_Rule):
    severity: Severity = "ticket"
    min_size: Share = 0.2
    hold: DurationText = "24h"


class RuleSet(BaseModel):
    """The rules of one KPI (or the overrides of a contract or KPI: only the fields given)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    item_breach: ItemBreachRule = Field(default_factory=ItemBreachRule)
    forecast_miss: ForecastMissRule = Field(default_factory=ForecastMissRule)
    burn_rate: BurnRateRule = Field(default_factory=BurnRateRule)
    budget_exhausted: BudgetExhaustedRule = Field(default_factory=BudgetExhaustedRule)
    indicator_drift: DriftRule = Field(default_factory=DriftRule)

    def overridden_by(self, other: RuleSet) -> RuleSet:
        """These rules with every field ``other`` gives explicitly put in place."""
        update: dict[str, Any] = {}
        for name in other.model_fields_set:
            mine: _Rule = getattr(self, name)
            theirs: _Rule = getattr(other, name)
            update[name] = mine.model_copy(
                update={field: getattr(theirs, field) for field in theirs.model_fields_set}
            )
        return self.model_copy(update=update)


class AlertSettings(BaseModel):
    """The contract's ``alerts:`` section (see the module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dashboard_url: str = "http://127.0.0.1:3000/d/outcome-pulse-{contract}?var-kpi={kpi}"
    defaults: RuleSet = Field(default_factory=RuleSet)
    kpis: dict[str, RuleSet] = Field(default_factory=dict)

    def rules_for(self, kpi_id: str) -> RuleSet:
        rules = RuleSet().overridden_by(self.defaults)
        override = self.kpis.get(kpi_id)
        return rules if override is None else rules.overridden_by(override)

    def dashboard_link(self, contract: str, kpi: str) -> str:
        return self.dashboard_url.replace("{contract}", contract).replace("{kpi}", kpi)

    def problems(self, kpi_ids: Iterable[str]) -> Iterator[str]:
        """Cross-reference problems (KPI ids that do not exist), as ``field: message`` lines."""
        known = list(kpi_ids)
        for kpi_id in self.kpis:
            if kpi_id not in known:
                yield (
                    f"alerts.kpis.{kpi_id}: unknown KPI {kpi_id!r}; expected one of: "
                    + ", ".join(known)
                )


def scaled(
    window: BurnWindow, period_length: timedelta, scale: bool
) -> tuple[timedelta, timedelta]:
    """The long and short window lengths of ``window`` for a KPI period of ``period_length``."""
    factor = period_length / NOMINAL_PERIOD if scale else 1.0
    return parse_duration(window.long) * factor, parse_duration(window.short) * factor


__all__ = [
    "ALERT_NAMES",
    "RULE_NAMES",
    "WORKBOOK_WINDOWS",
    "AlertSettings",
    "BudgetExhaustedRule",
    "BurnRateRule",
    "BurnWindow",
    "DriftRule",
    "ForecastMissRule",
    "ItemBreachRule",
    "RuleName",
    "RuleSet",
    "Severity",
    "scaled",
]
