-- The statements of pulse_alerts (schema v4): the alert episodes the contract monitor evaluates.
-- Loaded by name by outcome_pulse.sinks.sql_text. {{alert_columns}} and {{alert_values}} are
-- the column list of sinks/alert_statements.py (the fields of AlertEpisode, in their order) and
-- one %s per column; {{alert_updates}} sets every column after the key from EXCLUDED.
--
-- Rows are keyed (contract, fingerprint, fired_at); an episode's later state (resolved, its
-- value) replaces the row. Episodes a later evaluation no longer has (a late event changed
-- history within the allowed lateness) are deleted by key.

-- name: upsert_alert
INSERT INTO pulse_alerts ({{alert_columns}})
VALUES ({{alert_values}})
ON CONFLICT (contract, fingerprint, fired_at) DO UPDATE SET {{alert_updates}}

-- name: delete_alerts
-- The keys given as three arrays of the same length.
DELETE FROM pulse_alerts a
USING unnest(%s::text[], %s::text[], %s::timestamptz[]) AS k(contract, fingerprint, fired_at)
WHERE a.contract = k.contract AND a.fingerprint = k.fingerprint AND a.fired_at = k.fired_at

-- name: delete_contract_alerts
DELETE FROM pulse_alerts WHERE contract = %s

-- name: select_alerts
SELECT {{alert_columns}} FROM pulse_alerts WHERE contract = %s ORDER BY fingerprint, fired_at
