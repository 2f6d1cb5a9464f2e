-- Open items' SLA clocks per time-to-target KPI, read at the latest event time
-- (processors.measurements.OpenClock): the service owner's "what will breach next" list.
-- Replaced as a whole per contract on every monitor round that changed it.
CREATE TABLE pulse_open_item_clocks (
    contract        text             NOT NULL,
    kpi             text             NOT NULL,
    service         text             NOT NULL,
    item_id         text             NOT NULL,
    priority        text,
    status          text             NOT NULL,
    started_at      timestamptz,
    elapsed_seconds double precision NOT NULL,
    target_seconds  double precision NOT NULL,
    share_used      double precision NOT NULL,
    at_risk         boolean          NOT NULL,
    breached        boolean          NOT NULL,
    breach_at       timestamptz,
    as_of           timestamptz      NOT NULL,
    PRIMARY KEY (contract, kpi, item_id)
);

-- The next breaches first.
CREATE INDEX pulse_open_item_clocks_breach ON pulse_open_item_clocks (contract, breach_at);

COMMENT ON TABLE pulse_open_item_clocks IS
    'Every open item''s SLA clock per time-to-target KPI, read at the latest event time of its '
    'contract (as_of); replaced per contract by the contract monitor (streams/monitor.py).';
COMMENT ON COLUMN pulse_open_item_clocks.contract IS 'Contract id (the contract file''s `contract`).';
COMMENT ON COLUMN pulse_open_item_clocks.kpi IS 'Id of the time_to_target KPI whose clock this is.';
COMMENT ON COLUMN pulse_open_item_clocks.service IS 'Service id in the contract.';
COMMENT ON COLUMN pulse_open_item_clocks.item_id IS 'The item (incident, ticket or order).';
COMMENT ON COLUMN pulse_open_item_clocks.priority IS
    'The item''s priority at as_of, whose target applies; NULL when never given.';
COMMENT ON COLUMN pulse_open_item_clocks.status IS 'running or paused.';
COMMENT ON COLUMN pulse_open_item_clocks.started_at IS
    'When the clock first started, timestamptz, UTC (the opening time with retroactive start).';
COMMENT ON COLUMN pulse_open_item_clocks.elapsed_seconds IS
    'Business time used so far, seconds, on the KPI''s calendar (pauses excluded).';
COMMENT ON COLUMN pulse_open_item_clocks.target_seconds IS 'The target, business seconds.';
COMMENT ON COLUMN pulse_open_item_clocks.share_used IS 'elapsed_seconds / target_seconds.';
COMMENT ON COLUMN pulse_open_item_clocks.at_risk IS
    'True when share_used has reached the KPI''s at_risk_share and the target is not exceeded.';
COMMENT ON COLUMN pulse_open_item_clocks.breached IS 'True when the elapsed time exceeds the target.';
COMMENT ON COLUMN pulse_open_item_clocks.breach_at IS
    'When the whole target is (or was) used up if nothing changes, timestamptz, UTC; NULL while '
    'paused short of the target.';
COMMENT ON COLUMN pulse_open_item_clocks.as_of IS
    'The instant the clock was read: the latest event time of the contract''s events, UTC.';
