-- Tombstones of hard-deleted users: a keyed hash of the id (HMAC-SHA256 under app_settings.tombstone_key, so that a
-- tombstone holds no personal data) and when the hard deletion was applied. A user token for that id issued before
-- then stays refused, even once a server-side upsert has created a new user with the same id.
CREATE TABLE user_tombstones (
  id_hash text PRIMARY KEY,
  deleted_at timestamptz NOT NULL DEFAULT now()
);

-- The key of the tombstone hashes: 244 random bits (gen_random_uuid draws from the strong random source), made here
-- so that no request ever writes it.
ALTER TABLE app_settings ADD COLUMN tombstone_key text;

UPDATE app_settings SET tombstone_key = replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') WHERE tombstone_key IS NULL;

-- $autocomplete on id is a case-insensitive prefix match: lower(id) LIKE 'prefix%'.
CREATE INDEX users_id_lower_idx ON users (lower(id) text_pattern_ops);
