-- The identity migration: an item is (source, item id). Item ids are only unique within the
-- system that issued them; until now pulse_item_states was keyed by the id alone, so two sources
-- with an INC0001 were folded into one row. The same statements on plain PostgreSQL and
-- TimescaleDB.

-- 1. Rows that folded the events of several items. A row's source is its first event's; an item
--    id whose stored events also carry another source was two (or more) items folded into one
--    state, which no key can split. Such rows are moved, not kept under a key they do not
--    describe: pulse_item_states_merged holds them (and every source seen), and re-producing the
--    stored events under the new key gives each item its own row (README, "Upgrading to
--    source-and-item keys").
CREATE TABLE pulse_item_states_merged (
    LIKE pulse_item_states INCLUDING DEFAULTS INCLUDING COMMENTS,
    sources    text[]      NOT NULL,
    moved_at   timestamptz NOT NULL DEFAULT now()
);

WITH merged AS (
    SELECT s.item_id,
           (SELECT array_agg(DISTINCT e.source ORDER BY e.source)
            FROM pulse_events e WHERE e.item_id = s.item_id) AS sources
    FROM pulse_item_states s
    WHERE EXISTS (
        SELECT 1 FROM pulse_events e WHERE e.item_id = s.item_id AND e.source <> s.source
    )
),
moved AS (
    DELETE FROM pulse_item_states s USING merged m
    WHERE s.item_id = m.item_id
    RETURNING s.*, m.sources
)
INSERT INTO pulse_item_states_merged SELECT * FROM moved;

-- 2. The item key.
ALTER TABLE pulse_item_states DROP CONSTRAINT pulse_item_states_pkey;
ALTER TABLE pulse_item_states ADD PRIMARY KEY (source, item_id);

-- 3. An item's history is looked up by source and id (the monitor, evidence, drill-downs).
DROP INDEX pulse_events_item_time;
CREATE INDEX pulse_events_item_time ON pulse_events (source, item_id, event_time);

-- 4. Open clocks name their item's source, so a reader can join the item's state by its key.
--    A clock's source is its contract service's: filled here from the stored events of its
--    item id when they have one source; the contract monitor writes it on every round.
ALTER TABLE pulse_open_item_clocks ADD COLUMN source text;
UPDATE pulse_open_item_clocks k SET source = one.source
FROM (
    SELECT e.item_id, min(e.source) AS source
    FROM pulse_events e
    WHERE e.item_id IN (SELECT item_id FROM pulse_open_item_clocks)
    GROUP BY e.item_id
    HAVING count(DISTINCT e.source) = 1
) one
WHERE one.item_id = k.item_id;

COMMENT ON TABLE pulse_item_states_merged IS
    'Rows of pulse_item_states that the identity migration found folded from the events of '
    'several sources sharing an item id (keyed by id alone before it); kept for inspection. '
    'Re-producing the stored events gives each (source, item id) its own row in '
    'pulse_item_states.';
COMMENT ON COLUMN pulse_item_states_merged.sources IS
    'Every source whose stored events have this item id.';
COMMENT ON COLUMN pulse_item_states_merged.moved_at IS 'When the migration moved the row here.';
COMMENT ON COLUMN pulse_item_states.item_id IS
    'The item (incident, ticket or order) within its source: CloudEvents subject. The primary '
    'key is (source, item_id); the Kafka key is source, NUL, item_id.';
COMMENT ON COLUMN pulse_item_states.source IS
    'CloudEvents source of the item''s events, e.g. bpic2013-volvo. With item_id the primary key.';
COMMENT ON COLUMN pulse_events.item_id IS
    'The item (incident, ticket or order) the event is about, within its source: CloudEvents '
    'subject. The Kafka key is source, NUL, item_id.';
COMMENT ON COLUMN pulse_open_item_clocks.source IS
    'The item''s source: that of the KPI''s service. NULL only for rows written before this column '
    'whose item id had events of several sources, until the monitor rewrites the contract.';
COMMENT ON COLUMN pulse_open_item_clocks.item_id IS
    'The item (incident, ticket or order) within source; unique per contract and KPI because a '
    'KPI reads one service, and a service one source.';
