-- Leading indicators sampled on the event-time grid, one row per (contract, service, kpi,
-- indicator, instant). The monitor upserts only what changed, so rows are rewritten only when a
-- value or its finality changes.
CREATE TABLE pulse_indicator_points (
    contract  text             NOT NULL,
    service   text             NOT NULL,
    kpi       text             NOT NULL,
    indicator text             NOT NULL,
    at        timestamptz      NOT NULL,
    value     double precision NOT NULL,
    final     boolean          NOT NULL,
    PRIMARY KEY (contract, service, kpi, indicator, at)
);

-- "The latest points of a contract" (wall screens, the gauges after a restart).
CREATE INDEX pulse_indicator_points_contract_indicator_at
    ON pulse_indicator_points (contract, indicator, at);
