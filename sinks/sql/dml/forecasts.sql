-- The forecasting rows the contract monitor writes (schema v4), each replaced as a whole per
-- contract in the monitor's tick: the running periods' forecasts at the latest event time, and
-- the drift signals of the leading indicators. Column lists come from the dataclasses
-- (outcome_pulse.sinks.forecast_statements).

-- name: delete_forecasts
DELETE FROM pulse_period_forecasts WHERE contract = %s

-- name: insert_forecast
INSERT INTO pulse_period_forecasts ({{forecast_columns}}) VALUES ({{forecast_params}})

-- name: select_forecasts
SELECT {{forecast_columns}} FROM pulse_period_forecasts
WHERE contract = %s
ORDER BY kpi, period_start

-- name: delete_drift_signals
DELETE FROM pulse_drift_signals WHERE contract = %s

-- name: insert_drift_signal
INSERT INTO pulse_drift_signals ({{drift_columns}}) VALUES ({{drift_params}})

-- name: select_drift_signals
SELECT {{drift_columns}} FROM pulse_drift_signals
WHERE contract = %s
ORDER BY detected_at, service, indicator
