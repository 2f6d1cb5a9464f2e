-- What every table and column holds. Times are timestamptz: stored as UTC instants, shown in
-- the session's TimeZone (the pipeline's sessions use UTC).
COMMENT ON TABLE pulse_events IS
    'One row per accepted lifecycle event (CloudEvents id/source/type/time/subject/data). '
    'Deterministic content only: replaying the same input leaves identical rows. '
    'Partitioned by month of event_time (native partitions or TimescaleDB chunks).';
COMMENT ON COLUMN pulse_events.event_id IS
    'CloudEvents id of the event; with event_time the primary key, so duplicates are ignored.';
COMMENT ON COLUMN pulse_events.event_time IS
    'When the event happened in the source system (CloudEvents time), timestamptz, UTC. '
    'Partitioning column.';
COMMENT ON COLUMN pulse_events.source IS
    'CloudEvents source: the system or data set the event came from, e.g. bpic2013-volvo.';
COMMENT ON COLUMN pulse_events.item_id IS
    'The item (incident, ticket or order) the event is about: CloudEvents subject and Kafka key.';
COMMENT ON COLUMN pulse_events.item_kind IS
    'Kind of item: incident, ticket or order.';
COMMENT ON COLUMN pulse_events.event_type IS
    'CloudEvents type, pulse.<item_kind>.<lifecycle>, e.g. pulse.incident.resolved.';
COMMENT ON COLUMN pulse_events.lifecycle IS
    'What happened to the item: created, state_changed, priority_changed, assigned, paused, '
    'resumed, resolved, closed, reopened (incidents, tickets); placed, approved, shipped, '
    'delivered, cancelled (orders).';
COMMENT ON COLUMN pulse_events.sequence IS
    'Producer sequence number (CloudEvents sequence extension) ordering events of one item that '
    'share a timestamp; 0 when the producer sent none.';
COMMENT ON COLUMN pulse_events.state IS
    'The item''s state after the event, in the source system''s words; NULL when not given.';
COMMENT ON COLUMN pulse_events.priority IS
    'The item''s priority after the event, in the source system''s words; NULL when not given.';
COMMENT ON COLUMN pulse_events.assignee IS
    'Who (person or group) the item is assigned to after the event; NULL when not given or for '
    'orders.';
COMMENT ON COLUMN pulse_events.due_at IS
    'Orders: the promised delivery time carried by the event, timestamptz, UTC; NULL otherwise.';
COMMENT ON COLUMN pulse_events.attributes IS
    'Source-specific attributes of the event: a JSON object of string keys to string values; '
    '{} when none.';

COMMENT ON TABLE pulse_item_states IS
    'One row per item: its current state folded from all its events (processors.item_state). '
    'Upserts only replace a row with one of equal or higher event_count, so replays never move an '
    'item backwards.';
COMMENT ON COLUMN pulse_item_states.item_id IS
    'The item (incident, ticket or order): CloudEvents subject and Kafka key. Primary key.';
COMMENT ON COLUMN pulse_item_states.item_kind IS
    'Kind of item: incident, ticket or order.';
COMMENT ON COLUMN pulse_item_states.source IS
    'CloudEvents source of the item''s events, e.g. bpic2013-volvo.';
COMMENT ON COLUMN pulse_item_states.status IS
    'Normalised status from the latest status-setting event: open, paused, resolved, closed '
    '(incidents, tickets); placed, approved, shipped, delivered, cancelled (orders).';
COMMENT ON COLUMN pulse_item_states.state IS
    'Latest state in the source system''s words (by event time); NULL when never given.';
COMMENT ON COLUMN pulse_item_states.priority IS
    'Latest priority in the source system''s words (by event time); NULL when never given.';
COMMENT ON COLUMN pulse_item_states.assignee IS
    'Latest assignee (by event time); NULL when never given.';
COMMENT ON COLUMN pulse_item_states.opened_at IS
    'When the item was created or placed (earliest such event; else its earliest event), '
    'timestamptz, UTC.';
COMMENT ON COLUMN pulse_item_states.resolved_at IS
    'Latest resolution (resolved, delivered) unless reactivated since, timestamptz, UTC; '
    'NULL otherwise.';
COMMENT ON COLUMN pulse_item_states.closed_at IS
    'Latest closing (closed, cancelled) unless reactivated since, timestamptz, UTC; NULL otherwise.';
COMMENT ON COLUMN pulse_item_states.paused_since IS
    'When the current pause began if status is paused, timestamptz, UTC; NULL otherwise.';
COMMENT ON COLUMN pulse_item_states.due_at IS
    'Orders: latest promised delivery time, timestamptz, UTC; NULL when none.';
COMMENT ON COLUMN pulse_item_states.last_event_at IS
    'Event time of the item''s latest event, timestamptz, UTC.';
COMMENT ON COLUMN pulse_item_states.event_count IS
    'Number of distinct events (by id) folded into this state; only ever grows, and decides '
    'which of two writes of the same item wins.';
COMMENT ON COLUMN pulse_item_states.attributes IS
    'Latest source-specific attributes (JSON object of string to string); {} when none.';
