-- The setup of every session the sinks open (outcome_pulse.sinks.session, sinks.queries).

-- name: utc_session
-- timestamptz values come back as aware UTC datetimes, comparable with rows computed in memory.
SET TIME ZONE 'UTC'
