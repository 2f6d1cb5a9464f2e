-- Which schema migrations have been applied (sinks/schema.py). Created once, before version 1.
CREATE TABLE pulse_schema_version (
    version     integer     PRIMARY KEY,
    description text        NOT NULL,
    timescaledb boolean     NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE pulse_schema_version IS
    'Schema migrations applied by Outcome Pulse (sinks/schema.py), one row per version.';
COMMENT ON COLUMN pulse_schema_version.version IS
    'Migration number; the schema is at the highest version present.';
COMMENT ON COLUMN pulse_schema_version.description IS
    'What the migration created or changed, in words.';
COMMENT ON COLUMN pulse_schema_version.timescaledb IS
    'True when the migration was applied with the timescaledb extension (hypertables), false for '
    'native PostgreSQL range partitioning. Fixed by the first migration.';
COMMENT ON COLUMN pulse_schema_version.applied_at IS
    'When the migration was applied (timestamptz, UTC; wall-clock time of the database server).';
