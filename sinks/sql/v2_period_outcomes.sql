-- Lagging outcomes: each KPI's result per contract period and the money it moves
-- (processors.measurements.PeriodOutcome). Rewritten only when a value changed; a change to a
-- row that was already final is a correction and bumps its revision.
CREATE TABLE pulse_period_outcomes (
    contract      text             NOT NULL,
    kpi           text             NOT NULL,
    service       text             NOT NULL,
    period        text             NOT NULL,
    period_start  timestamptz      NOT NULL,
    period_end    timestamptz      NOT NULL,
    measured      bigint           NOT NULL,
    good          bigint           NOT NULL,
    baseline      bigint,
    measure       double precision,
    target_level  double precision NOT NULL,
    minimum_level double precision NOT NULL,
    status        text             NOT NULL,
    credit_due    numeric(18, 2)   NOT NULL,
    credit        numeric(18, 2)   NOT NULL,
    earned_back   numeric(18, 2)   NOT NULL,
    gain_share    numeric(18, 2)   NOT NULL,
    currency      text,
    final         boolean          NOT NULL,
    revision      integer          NOT NULL DEFAULT 1,
    updated_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (contract, kpi, period_start)
);

-- Events that arrived after the watermark had passed their time by more than the allowed
-- lateness (processors.measurements.LateEvent): applied anyway, recorded as evidence.
CREATE TABLE pulse_late_events (
    contract    text        NOT NULL,
    event_id    text        NOT NULL,
    event_time  timestamptz NOT NULL,
    watermark   timestamptz NOT NULL,
    changed     text[]      NOT NULL DEFAULT '{}',
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contract, event_id)
);
