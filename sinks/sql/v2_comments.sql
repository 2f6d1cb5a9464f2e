-- What every table and column of schema version 2 holds (the contract monitor's rows). Times
-- are timestamptz: stored as UTC instants, shown in the session's TimeZone (UTC for the
-- pipeline's sessions).
COMMENT ON TABLE pulse_monitor_inbox IS
    'Events newly inserted into pulse_events that the contract monitor has not evaluated yet. '
    'The sink adds a row in the same statement that inserts the event (a replayed duplicate adds '
    'none); the monitor deletes rows once their effects are written.';
COMMENT ON COLUMN pulse_monitor_inbox.event_time IS
    'event_time of the pending event (timestamptz, UTC); with event_id the key of its pulse_events '
    'row.';
COMMENT ON COLUMN pulse_monitor_inbox.event_id IS
    'event_id (CloudEvents id) of the pending event.';

COMMENT ON TABLE pulse_monitor_lease IS
    'Which contract monitor process evaluates contracts: a single row (id 1), locked FOR UPDATE '
    'for the length of each monitor tick, so ticks of several monitors never overlap. A monitor '
    'that finds another owner here rebuilds its state from all events.';
COMMENT ON COLUMN pulse_monitor_lease.id IS
    'Always 1: the table holds exactly one row.';
COMMENT ON COLUMN pulse_monitor_lease.owner IS
    'Unique token of the monitor process that ran the latest tick; NULL before any tick.';
COMMENT ON COLUMN pulse_monitor_lease.taken_at IS
    'When that tick began (timestamptz, UTC; database server clock); NULL before any tick.';

COMMENT ON TABLE pulse_indicator_points IS
    'Leading indicators of each contract''s services and KPIs (open backlog, backlog age, items at '
    'risk, attainment to date, ...) sampled on the event-time grid: one row per contract, service, '
    'kpi, indicator and instant. Written by the contract monitor, only when a value changes.';
COMMENT ON COLUMN pulse_indicator_points.contract IS
    'Contract id (from the contract file).';
COMMENT ON COLUMN pulse_indicator_points.service IS
    'Service of the contract the indicator describes.';
COMMENT ON COLUMN pulse_indicator_points.kpi IS
    'KPI the indicator belongs to; empty string for service-wide indicators (backlog, arrivals).';
COMMENT ON COLUMN pulse_indicator_points.indicator IS
    'Indicator name, snake_case, e.g. open_backlog, backlog_age_p90_hours, items_at_risk; also '
    'the Prometheus gauge pulse_kpi_<indicator>.';
COMMENT ON COLUMN pulse_indicator_points.at IS
    'Instant of the event-time grid the value holds at (timestamptz, UTC).';
COMMENT ON COLUMN pulse_indicator_points.value IS
    'The indicator''s value at that instant, in the unit its name says (count, hours, share 0..1).';
COMMENT ON COLUMN pulse_indicator_points.final IS
    'True once the watermark has passed the instant by the allowed lateness; a later change is a '
    'correction caused by a late event (see pulse_late_events).';

COMMENT ON TABLE pulse_period_outcomes IS
    'Each KPI''s result per contract period [period_start, period_end) and the money it moves: '
    'service credit, earn-back, gain-share. Written by the contract monitor, only when a value '
    'changes; revision counts corrections of final rows.';
COMMENT ON COLUMN pulse_period_outcomes.contract IS
    'Contract id (from the contract file).';
COMMENT ON COLUMN pulse_period_outcomes.kpi IS
    'KPI id within the contract.';
COMMENT ON COLUMN pulse_period_outcomes.service IS
    'Service of the contract the KPI measures.';
COMMENT ON COLUMN pulse_period_outcomes.period IS
    'Human label of the contract period, e.g. 2024-03 or 2024-Q1.';
COMMENT ON COLUMN pulse_period_outcomes.period_start IS
    'Start of the period, inclusive (timestamptz, UTC instant of the client calendar''s boundary).';
COMMENT ON COLUMN pulse_period_outcomes.period_end IS
    'End of the period, exclusive (timestamptz, UTC instant of the client calendar''s boundary).';
COMMENT ON COLUMN pulse_period_outcomes.measured IS
    'What was measured: items stopped (time-to-target), total events (ratio), samples taken '
    '(threshold) or events counted (trend).';
COMMENT ON COLUMN pulse_period_outcomes.good IS
    'Of measured: items within target, good events, or samples within the bound.';
COMMENT ON COLUMN pulse_period_outcomes.baseline IS
    'Trend KPIs: the baseline period''s event count; NULL otherwise or without a baseline.';
COMMENT ON COLUMN pulse_period_outcomes.measure IS
    'Attainment (share 0..1) or, for trend KPIs, relative change against the baseline; NULL when '
    'nothing was measured.';
COMMENT ON COLUMN pulse_period_outcomes.target_level IS
    'The level the contract promises (same unit as measure).';
COMMENT ON COLUMN pulse_period_outcomes.minimum_level IS
    'The minimum service level below which the contract''s harsher terms apply (same unit as '
    'measure).';
COMMENT ON COLUMN pulse_period_outcomes.status IS
    'met (at or better than target), below_target, below_minimum, no_data or no_baseline.';
COMMENT ON COLUMN pulse_period_outcomes.credit_due IS
    'Service credit owed for this period before the monthly and yearly caps, in currency.';
COMMENT ON COLUMN pulse_period_outcomes.credit IS
    'Service credit owed for this period after the caps, in currency.';
COMMENT ON COLUMN pulse_period_outcomes.earned_back IS
    'Part of credit returned to the provider because following periods beat the target, in '
    'currency.';
COMMENT ON COLUMN pulse_period_outcomes.gain_share IS
    'Bonus owed to the provider for beating the target, in currency.';
COMMENT ON COLUMN pulse_period_outcomes.currency IS
    'ISO 4217 currency of the money columns; NULL when the contract has no commercial terms (the '
    'money columns are then 0).';
COMMENT ON COLUMN pulse_period_outcomes.final IS
    'True once the watermark has passed period_end by the allowed lateness; a later change is a '
    'correction.';
COMMENT ON COLUMN pulse_period_outcomes.revision IS
    '1 when first written; incremented by every change to the row made while it was final (a '
    'correction by late events).';
COMMENT ON COLUMN pulse_period_outcomes.updated_at IS
    'When the row last changed (timestamptz, UTC; database server clock).';

COMMENT ON TABLE pulse_late_events IS
    'Events that arrived after the watermark had passed their event time by more than the allowed '
    'lateness. They were applied anyway (nothing is lost); this is the evidence of the corrections '
    'they caused. One row per contract and event.';
COMMENT ON COLUMN pulse_late_events.contract IS
    'Contract id whose evaluation the event arrived late for.';
COMMENT ON COLUMN pulse_late_events.event_id IS
    'event_id (CloudEvents id) of the late event (see pulse_events).';
COMMENT ON COLUMN pulse_late_events.event_time IS
    'When the event happened (timestamptz, UTC).';
COMMENT ON COLUMN pulse_late_events.watermark IS
    'The contract''s watermark when the event arrived (timestamptz, UTC).';
COMMENT ON COLUMN pulse_late_events.changed IS
    'Final rows the event changed, as kpi@period_start or kpi/indicator@at; empty when none.';
COMMENT ON COLUMN pulse_late_events.recorded_at IS
    'When the late event was recorded (timestamptz, UTC; database server clock).';
