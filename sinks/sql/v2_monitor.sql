-- The contract monitor's bookkeeping: which stored events it has not evaluated yet (the inbox,
-- filled by the sink in the same statement that inserts into pulse_events), and which process
-- currently evaluates contracts (a one-row lease, locked for the length of each tick).
CREATE TABLE pulse_monitor_inbox (
    event_time timestamptz NOT NULL,
    event_id   text        NOT NULL,
    PRIMARY KEY (event_time, event_id)
);

CREATE TABLE pulse_monitor_lease (
    id       integer     PRIMARY KEY CHECK (id = 1),
    owner    text,
    taken_at timestamptz
);
INSERT INTO pulse_monitor_lease (id, owner, taken_at) VALUES (1, NULL, NULL);
