-- Version 4: what the pipeline tells people before a period is lost, all evaluated in event time
-- by the contract engine (the same rows from `pulse backtest` and from the streaming monitor):
-- per-item breach probabilities, period forecasts, alerts, drift signals; and the contract
-- registry that client isolation (row-level security by client) is keyed on.

ALTER TABLE pulse_open_item_clocks ADD COLUMN breach_probability double precision;

COMMENT ON COLUMN pulse_open_item_clocks.breach_probability IS
    'Probability, 0..1, that this item breaches its target, from the online model learned from '
    'items completed behind the watermark, as known at as_of; NULL before the model has learned.';

CREATE TABLE pulse_contracts (
    contract   text        PRIMARY KEY,
    client     text        NOT NULL,
    title      text,
    currency   text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX pulse_contracts_client ON pulse_contracts (client);

COMMENT ON TABLE pulse_contracts IS
    'Each contract the pipeline evaluates and the client it belongs to; row-level security on the '
    'result tables is keyed on this mapping (contract -> client).';
COMMENT ON COLUMN pulse_contracts.contract IS 'Contract id (the contract file''s `contract`).';
COMMENT ON COLUMN pulse_contracts.client IS 'Client id (the contract file''s `client`).';
COMMENT ON COLUMN pulse_contracts.title IS 'Human title of the contract, when given.';
COMMENT ON COLUMN pulse_contracts.currency IS 'Currency of the contract''s credits (ISO 4217).';
COMMENT ON COLUMN pulse_contracts.updated_at IS 'When the row was last written (server time, UTC).';

CREATE TABLE pulse_period_forecasts (
    contract            text             NOT NULL,
    kpi                 text             NOT NULL,
    service             text             NOT NULL,
    period              text             NOT NULL,
    period_start        timestamptz      NOT NULL,
    period_end          timestamptz      NOT NULL,
    as_of               timestamptz      NOT NULL,
    measured_to_date    bigint           NOT NULL,
    good_to_date        bigint           NOT NULL,
    attainment_to_date  double precision,
    expected_attainment double precision,
    p_meet_target       double precision,
    p_meet_minimum      double precision,
    budget_left_target  bigint,
    budget_left_minimum bigint,
    expected_credit     numeric(18, 2),
    currency            text,
    PRIMARY KEY (contract, kpi, period_start)
);

COMMENT ON TABLE pulse_period_forecasts IS
    'The latest forecast of each running (not final) contract period, per KPI, read at as_of.';
COMMENT ON COLUMN pulse_period_forecasts.as_of IS
    'Event time the forecast was made at (the contract''s watermark), UTC.';
COMMENT ON COLUMN pulse_period_forecasts.measured_to_date IS 'Items measured in the period so far.';
COMMENT ON COLUMN pulse_period_forecasts.good_to_date IS 'Of those, items that met the target.';
COMMENT ON COLUMN pulse_period_forecasts.attainment_to_date IS 'good / measured so far, 0..1.';
COMMENT ON COLUMN pulse_period_forecasts.expected_attainment IS
    'Expected attainment at the period end, 0..1.';
COMMENT ON COLUMN pulse_period_forecasts.p_meet_target IS
    'Probability that the period ends at or above the target level.';
COMMENT ON COLUMN pulse_period_forecasts.p_meet_minimum IS
    'Probability that the period ends at or above the minimum level.';
COMMENT ON COLUMN pulse_period_forecasts.budget_left_target IS
    'Misses still allowed before the target is lost (expected period volume); negative when lost.';
COMMENT ON COLUMN pulse_period_forecasts.budget_left_minimum IS
    'Misses still allowed before the minimum is lost; negative when lost.';
COMMENT ON COLUMN pulse_period_forecasts.expected_credit IS
    'Expected service credit for the period under the forecast distribution.';

CREATE TABLE pulse_alerts (
    contract    text             NOT NULL,
    fingerprint text             NOT NULL,
    fired_at    timestamptz      NOT NULL,
    resolved_at timestamptz,
    alertname   text             NOT NULL,
    severity    text             NOT NULL,
    service     text,
    kpi         text,
    item_id     text,
    value       double precision,
    labels      jsonb            NOT NULL,
    annotations jsonb            NOT NULL,
    PRIMARY KEY (contract, fingerprint, fired_at)
);

CREATE INDEX pulse_alerts_open ON pulse_alerts (contract, resolved_at);

COMMENT ON TABLE pulse_alerts IS
    'Alerts evaluated in event time from the contract (item about to breach, KPI forecast to miss, '
    'error-budget burn, budget exhausted, indicator drift); one row per firing episode.';
COMMENT ON COLUMN pulse_alerts.fingerprint IS
    'Stable id of the alert''s label set (the same alert over its episodes).';
COMMENT ON COLUMN pulse_alerts.fired_at IS 'Event time the alert started firing, UTC.';
COMMENT ON COLUMN pulse_alerts.resolved_at IS 'Event time it resolved, UTC; NULL while firing.';
COMMENT ON COLUMN pulse_alerts.alertname IS 'The alert rule''s name.';
COMMENT ON COLUMN pulse_alerts.severity IS 'page or ticket.';
COMMENT ON COLUMN pulse_alerts.item_id IS 'The item, for per-item alerts; NULL otherwise.';
COMMENT ON COLUMN pulse_alerts.value IS 'The number the rule compared (probability, burn rate...).';
COMMENT ON COLUMN pulse_alerts.labels IS 'Alertmanager labels (alertname, client, contract, ...).';
COMMENT ON COLUMN pulse_alerts.annotations IS 'Alertmanager annotations (summary, description, ...).';

CREATE TABLE pulse_drift_signals (
    contract    text             NOT NULL,
    service     text             NOT NULL,
    indicator   text             NOT NULL,
    detected_at timestamptz      NOT NULL,
    started_at  timestamptz      NOT NULL,
    direction   text             NOT NULL CHECK (direction IN ('up', 'down')),
    size        double precision NOT NULL,
    baseline    double precision,
    observed    double precision,
    PRIMARY KEY (contract, service, indicator, detected_at)
);

COMMENT ON TABLE pulse_drift_signals IS
    'Drift of a leading indicator against its own seasonal baseline (same weekday and hour over '
    'the previous weeks), detected in event time.';
COMMENT ON COLUMN pulse_drift_signals.detected_at IS 'Event time the detector signalled, UTC.';
COMMENT ON COLUMN pulse_drift_signals.started_at IS 'Estimated start of the change, UTC.';
COMMENT ON COLUMN pulse_drift_signals.direction IS 'up or down against the baseline.';
COMMENT ON COLUMN pulse_drift_signals.size IS 'Relative size of the change (0.4 = 40% above).';
