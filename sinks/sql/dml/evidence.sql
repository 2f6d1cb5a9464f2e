-- The evidence report's reads (sinks/evidence_queries.py), all in one REPEATABLE READ READ ONLY
-- transaction. Loaded by name by outcome_pulse.sinks.sql_text.

-- name: schema_version
SELECT max(version) FROM pulse_schema_version

-- name: events_of_active_items
-- Every event of each item with an event in [lo, hi): the whole history of the items the
-- report's window touches, in the order the engine replays them.
SELECT e.event_id, e.source, e.item_id, e.item_kind, e.lifecycle, e.event_time,
       e.state, e.priority, e.assignee, e.due_at, e.attributes, e.sequence
FROM pulse_events e
WHERE e.source = ANY(%(sources)s::text[])
  AND (e.source, e.item_id) IN (
      SELECT DISTINCT source, item_id FROM pulse_events
      WHERE source = ANY(%(sources)s::text[])
        AND event_time >= %(lo)s AND event_time < %(hi)s)
ORDER BY e.event_time, e.sequence, e.event_id, e.source

-- name: totals
SELECT count(*), count(DISTINCT (source, item_id)), min(event_time), max(event_time)
FROM pulse_events WHERE source = ANY(%s::text[])

-- name: quality
-- Per source and month (in the contract's zone): events, and those without a priority or an
-- assignee.
SELECT source, date_trunc('month', event_time, %(zone)s), count(*),
       count(*) FILTER (WHERE priority IS NULL), count(*) FILTER (WHERE assignee IS NULL)
FROM pulse_events
WHERE source = ANY(%(sources)s::text[])
  AND event_time >= %(first)s AND event_time < %(hi)s
GROUP BY 1, 2

-- name: points
SELECT {{point_columns}} FROM pulse_indicator_points
WHERE contract = %(contract)s AND at >= %(lo)s AND at < %(hi)s

-- name: revised
SELECT kpi, period_start, revision, updated_at FROM pulse_period_outcomes
WHERE contract = %s AND revision > 1 ORDER BY kpi, period_start

-- name: late
SELECT contract, source, event_id, event_time, watermark, changed FROM pulse_late_events
WHERE contract = %s ORDER BY event_time, event_id, source

-- name: alerts
SELECT alertname, severity, fired_at, resolved_at, service, kpi, item_id, value,
       coalesce(annotations ->> 'summary', '')
FROM pulse_alerts
WHERE contract = %(contract)s AND fired_at < %(hi)s
  AND (resolved_at IS NULL OR resolved_at >= %(lo)s)
ORDER BY fired_at, alertname, item_id
