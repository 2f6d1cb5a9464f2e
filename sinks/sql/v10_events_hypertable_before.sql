-- TimescaleDB, before version 10's statements (v10_event_identity.sql): a unique constraint
-- cannot be created on compressed chunks, nor the compression settings changed while chunks are
-- compressed. So: stop the compression policy, decompress every chunk and turn compression off;
-- v10_events_hypertable_after.sql turns it on again with the new key's columns. One transaction
-- with the rest of the migration, so it needs the disk space of the decompressed chunks for its
-- duration. (TimescaleDB cannot be installed on the machine this was written on: these two files
-- are kept parallel to the plain path by hand, not run by its tests.)
SELECT remove_compression_policy('pulse_events', if_exists => TRUE);
SELECT decompress_chunk(c, if_compressed => TRUE) FROM show_chunks('pulse_events') c;
ALTER TABLE pulse_events SET (timescaledb.compress = FALSE);
