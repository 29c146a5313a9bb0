-- Rate-limit counters shared by every instance on one PostgreSQL database (Stream's limits are per app, not per
-- process): one row per bucket and one-minute window. UNLOGGED: no WAL, so counting costs no disk flush, and a crash
-- empties the table, which only forgives the current minute.
CREATE UNLOGGED TABLE rate_limit_counters (
  bucket text NOT NULL,
  -- Minutes since the Unix epoch.
  minute bigint NOT NULL,
  count integer NOT NULL,
  PRIMARY KEY (bucket, minute)
);
