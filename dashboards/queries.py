"""The SQL of every panel and variable, in one place (the tests run each of them).

Template variables are multi-value with "All", so Grafana substitutes them as a list of quoted,
quote-doubled literals: ``IN ($client)`` is always a list of strings, never raw SQL. Contract and
KPI ids in generated SQL come from validated contract files ([a-z0-9-]) and are quoted anyway.
"""

from __future__ import annotations

from collections.abc import Mapping

from outcome_pulse.dashboards.panels import literal

Zones = Mapping[str, str]
"""Each contract's client time zone (contract id -> IANA zone), from the contract files."""


def _zone_of(alias: str, zones: Zones) -> str:
    cases = " ".join(f"WHEN {literal(c)} THEN {literal(z)}" for c, z in sorted(zones.items()))
    return f"(CASE {alias}.contract {cases} ELSE 'UTC' END)" if cases else "'UTC'"


def period_label(alias: str, zones: Zones) -> str:
    """How people name a period (``outcome_pulse.processors.periods.period_label``), from its
    bounds in the client's time zone: 2012-05, 2012-Q2, 28d to 2012-05-31. The ``period`` column
    holds the KPI's period kind (month, quarter, rolling Nd); anything else is shown as it is."""
    z = _zone_of(alias, zones)
    a = alias
    return f"""CASE
           WHEN {a}.period = 'month' THEN to_char({a}.period_start AT TIME ZONE {z}, 'YYYY-MM')
           WHEN {a}.period = 'quarter'
               THEN to_char({a}.period_start AT TIME ZONE {z}, 'YYYY-"Q"Q')
           WHEN {a}.period LIKE 'rolling %'
               THEN round(extract(epoch FROM {a}.period_end - {a}.period_start) / 86400)
                    || 'd to '
                    || to_char(({a}.period_end AT TIME ZONE {z}) - interval '1 day', 'YYYY-MM-DD')
           ELSE {a}.period
       END"""


def settled_month(alias: str, zones: Zones) -> str:
    """The calendar month (client's zone) a period settles in: the month of its last day."""
    z = _zone_of(alias, zones)
    return f"to_char(({alias}.period_end AT TIME ZONE {z}) - interval '1 day', 'YYYY-MM')"


# -- provider-side filters (the provider's datasource sees every client) -------------------------

CONTRACTS_OF_CLIENTS = "SELECT contract FROM pulse_contracts WHERE client IN ($client)"

CLIENT_VARIABLE = "SELECT DISTINCT client FROM pulse_contracts ORDER BY 1"
SERVICE_VARIABLE = f"""
SELECT DISTINCT service FROM pulse_period_outcomes
WHERE contract IN ({CONTRACTS_OF_CLIENTS})
ORDER BY 1
"""
KPI_VARIABLE = f"""
SELECT DISTINCT kpi FROM pulse_period_outcomes
WHERE contract IN ({CONTRACTS_OF_CLIENTS}) AND service IN ($service)
ORDER BY 1
"""

# -- wall screen -------------------------------------------------------------------------------


# The running (latest) period of every KPI with its forecast, open items at risk, drift since
# the period began and firing alerts; worst first by margin = (measure - target) / (target -
# minimum), negative below target, at most -1 below the minimum, for either direction of KPI.
def worst_first(zones: Zones) -> str:
    return f"""
WITH latest AS (
    SELECT DISTINCT ON (contract, kpi)
           contract, kpi, service, period, period_start, period_end, measure, target_level,
           minimum_level,
           status, credit, currency
    FROM pulse_period_outcomes
    ORDER BY contract, kpi, period_start DESC
)
SELECT c.client,
       l.contract,
       l.kpi,
       {period_label("l", zones)} AS period,
       l.measure AS attainment,
       l.target_level AS target,
       l.minimum_level AS minimum,
       (l.measure - l.target_level) / nullif(l.target_level - l.minimum_level, 0) AS margin,
       f.expected_attainment AS forecast,
       f.p_meet_target AS "P(meet target)",
       f.budget_left_target AS "budget left",
       (SELECT count(*) FROM pulse_open_item_clocks k
        WHERE k.contract = l.contract AND k.kpi = l.kpi AND (k.at_risk OR k.breached))
           AS "at risk now",
       (SELECT count(*) FROM pulse_drift_signals d
        WHERE d.contract = l.contract AND d.service = l.service
          AND d.detected_at >= l.period_start) AS drift,
       (SELECT count(*) FROM pulse_alerts a
        WHERE a.contract = l.contract AND a.resolved_at IS NULL
          AND (a.kpi = l.kpi OR (a.kpi IS NULL AND a.service = l.service))) AS "firing alerts",
       l.status
FROM latest l
JOIN pulse_contracts c ON c.contract = l.contract
LEFT JOIN pulse_period_forecasts f
       ON f.contract = l.contract AND f.kpi = l.kpi AND f.period_start = l.period_start
ORDER BY margin ASC NULLS LAST, c.client, l.contract, l.kpi
"""


def kpi_tile(contract: str, kpi: str) -> str:
    """One KPI's running period: attainment to date, forecast, budget left, items at risk."""
    c, k = literal(contract), literal(kpi)
    return f"""
SELECT o.measure AS attainment,
       f.expected_attainment AS forecast,
       f.p_meet_target AS "P(meet target)",
       f.budget_left_target AS "budget left",
       (SELECT count(*) FROM pulse_open_item_clocks i
        WHERE i.contract = {c} AND i.kpi = {k} AND (i.at_risk OR i.breached)) AS "at risk now"
FROM (SELECT contract, kpi, period_start, measure FROM pulse_period_outcomes
      WHERE contract = {c} AND kpi = {k}
      ORDER BY period_start DESC LIMIT 1) o
LEFT JOIN pulse_period_forecasts f
       ON f.contract = o.contract AND f.kpi = o.kpi AND f.period_start = o.period_start
"""


FIRING_ALERTS = """
SELECT a.fired_at AS "fired at (event time)", c.client, a.contract, a.alertname, a.severity,
       a.service, a.kpi, a.item_id AS item, a.value,
       a.annotations ->> 'summary' AS summary
FROM pulse_alerts a
JOIN pulse_contracts c ON c.contract = a.contract
WHERE a.resolved_at IS NULL
ORDER BY CASE a.severity WHEN 'page' THEN 0 ELSE 1 END, a.fired_at DESC
LIMIT 50
"""

RECENT_DRIFT = """
SELECT d.detected_at AS "detected at (event time)", c.client, d.contract, d.service,
       d.indicator, d.direction, d.size, d.baseline, d.observed
FROM pulse_drift_signals d
JOIN pulse_contracts c ON c.contract = d.contract
ORDER BY d.detected_at DESC
LIMIT 50
"""

# -- service owner -----------------------------------------------------------------------------

AT_RISK_ITEMS = """
SELECT k.item_id AS item,
       c.client,
       k.contract,
       k.kpi,
       k.priority,
       s.assignee,
       k.status,
       k.target_seconds - k.elapsed_seconds AS "time left",
       k.share_used AS "share used",
       k.breach_probability AS "breach probability",
       k.breach_at AS "breaches at",
       k.breached
FROM pulse_open_item_clocks k
JOIN pulse_contracts c ON c.contract = k.contract
LEFT JOIN pulse_item_states s ON s.source = k.source AND s.item_id = k.item_id
WHERE c.client IN ($client) AND k.service IN ($service) AND k.kpi IN ($kpi)
  AND (k.at_risk OR k.breached)
ORDER BY k.breach_at ASC NULLS LAST, k.item_id
LIMIT 500
"""


def indicator_series(indicators: tuple[str, ...], *, per_kpi: bool, aggregate: str = "avg") -> str:
    """Indicator points bucketed by Grafana's interval, one series per contract/service
    (and indicator when several)."""
    names = ", ".join(literal(name) for name in indicators)
    series = "p.contract || ' ' || p.service"
    if per_kpi:
        series += " || ' ' || p.kpi"
    if len(indicators) > 1:
        series += " || ' ' || p.indicator"
    kpi_filter = "AND p.kpi IN ($kpi)" if per_kpi else "AND p.kpi = ''"
    return f"""
SELECT $__timeGroupAlias(p.at, $__interval),
       {series} AS metric,
       {aggregate}(p.value) AS value
FROM pulse_indicator_points p
WHERE $__timeFilter(p.at)
  AND p.indicator IN ({names})
  AND p.contract IN ({CONTRACTS_OF_CLIENTS})
  AND p.service IN ($service)
  {kpi_filter}
GROUP BY 1, 2
ORDER BY 1, 2
"""


ALERT_ANNOTATIONS = f"""
SELECT a.fired_at AS time,
       a.resolved_at AS timeend,
       a.alertname || ' (' || a.severity || ') ' || a.contract || coalesce(' ' || a.kpi, '')
           || coalesce(' ' || a.item_id, '') AS text,
       a.alertname || ',' || a.severity AS tags
FROM pulse_alerts a
WHERE $__timeFilter(a.fired_at)
  AND a.contract IN ({CONTRACTS_OF_CLIENTS})
ORDER BY 1
"""

LATE_ANNOTATIONS = f"""
SELECT l.event_time AS time,
       'late event ' || l.event_id || ' from ' || l.source
           || ' (watermark ' || l.watermark || ') corrected '
           || cardinality(l.changed) || ' final row(s)' AS text,
       'late-correction' AS tags
FROM pulse_late_events l
WHERE $__timeFilter(l.event_time)
  AND l.contract IN ({CONTRACTS_OF_CLIENTS})
ORDER BY 1
"""

PERIOD_HISTORY = f"""
SELECT o.period_start AS time,
       o.contract || ' ' || o.kpi AS metric,
       o.measure AS attainment
FROM pulse_period_outcomes o
WHERE $__timeFilter(o.period_start)
  AND o.contract IN ({CONTRACTS_OF_CLIENTS})
  AND o.service IN ($service) AND o.kpi IN ($kpi)
ORDER BY 1, 2
"""


def period_table(zones: Zones) -> str:
    return f"""
SELECT {period_label("o", zones)} AS period,
       o.contract, o.kpi, o.status, o.measure AS attainment, o.target_level AS target,
       o.minimum_level AS minimum, o.measured, o.good, o.credit, o.earned_back AS "earned back",
       o.gain_share AS "gain share", o.currency, o.final, o.revision
FROM pulse_period_outcomes o
WHERE $__timeFilter(o.period_start)
  AND o.contract IN ({CONTRACTS_OF_CLIENTS})
  AND o.service IN ($service) AND o.kpi IN ($kpi)
ORDER BY o.period_start DESC, o.contract, o.kpi
"""


# -- client (read through the client's role: row-level security keeps other clients out) --------


def client_contracts_variable(client: str) -> str:
    return f"SELECT contract FROM pulse_contracts WHERE client = {literal(client)} ORDER BY 1"


def client_kpi_variable(client: str) -> str:
    return f"""
SELECT DISTINCT kpi FROM pulse_period_outcomes
WHERE contract IN ($contract)
  AND contract IN (SELECT contract FROM pulse_contracts WHERE client = {literal(client)})
ORDER BY 1
"""


def _client_outcomes(client: str) -> str:
    return f"""
FROM pulse_period_outcomes o
WHERE $__timeFilter(o.period_start)
  AND o.contract IN ($contract) AND o.kpi IN ($kpi)
  AND o.contract IN (SELECT contract FROM pulse_contracts WHERE client = {literal(client)})
"""


def client_attainment(client: str) -> str:
    return f"""
SELECT o.period_start AS time,
       o.kpi AS metric,
       o.measure AS attainment,
       o.target_level AS target,
       o.minimum_level AS minimum
{_client_outcomes(client).strip()}
ORDER BY 1, 2
"""


def client_money(client: str, zones: Zones) -> str:
    return f"""
SELECT {period_label("o", zones)} AS period,
       o.kpi, o.status, o.measure AS attainment, o.target_level AS target,
       o.minimum_level AS minimum, o.credit, o.earned_back AS "earned back",
       o.gain_share AS "gain share", o.currency, o.final
{_client_outcomes(client).strip()}
ORDER BY o.period_start DESC, o.kpi
"""


def client_money_totals(client: str) -> str:
    return f"""
SELECT coalesce(sum(o.credit), 0) AS credits,
       coalesce(sum(o.earned_back), 0) AS "earned back",
       coalesce(sum(o.gain_share), 0) AS "gain share"
{_client_outcomes(client).strip()}
"""


def client_running_period(client: str) -> str:
    return f"""
SELECT o.kpi AS metric,
       o.measure AS "attainment to date",
       f.expected_attainment AS forecast,
       f.p_meet_target AS "P(meet target)",
       f.p_meet_minimum AS "P(meet minimum)",
       f.budget_left_target AS "budget left",
       f.expected_credit AS "expected credit"
FROM (SELECT DISTINCT ON (contract, kpi) contract, kpi, period_start, measure
      FROM pulse_period_outcomes
      WHERE contract IN ($contract) AND kpi IN ($kpi)
        AND contract IN (SELECT contract FROM pulse_contracts WHERE client = {literal(client)})
      ORDER BY contract, kpi, period_start DESC) o
LEFT JOIN pulse_period_forecasts f
       ON f.contract = o.contract AND f.kpi = o.kpi AND f.period_start = o.period_start
ORDER BY o.contract, o.kpi
"""


def client_attainment_to_date(client: str) -> str:
    return f"""
SELECT $__timeGroupAlias(p.at, $__interval),
       p.kpi AS metric,
       avg(p.value) AS value
FROM pulse_indicator_points p
WHERE $__timeFilter(p.at)
  AND p.indicator = 'attainment_to_date'
  AND p.contract IN ($contract) AND p.kpi IN ($kpi)
  AND p.contract IN (SELECT contract FROM pulse_contracts WHERE client = {literal(client)})
GROUP BY 1, 2
ORDER BY 1, 2
"""


def client_evidence(client: str, zones: Zones) -> str:
    """One row per contract and final calendar month (the monthly evidence report's unit);
    rolling and quarterly periods have no report of their own."""
    return f"""
SELECT o.contract,
       {settled_month("o", zones)} AS month,
       count(*) AS kpis,
       count(*) FILTER (WHERE o.status = 'met') AS met,
       sum(o.credit) AS credit,
       max(o.currency) AS currency
FROM pulse_period_outcomes o
WHERE $__timeFilter(o.period_start)
  AND o.contract IN ($contract)
  AND o.contract IN (SELECT contract FROM pulse_contracts WHERE client = {literal(client)})
  AND o.final
GROUP BY 1, 2
ORDER BY 2 DESC, 1
"""
