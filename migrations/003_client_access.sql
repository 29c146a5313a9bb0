-- Client-side access: monthly active users, live WebSocket connections, unique usernames.

-- One row per user and calendar month in which the user was active (user-token requests, connections). Kept after
-- the user is deleted: a month's count must not change afterwards.
CREATE TABLE user_activity (
  month date NOT NULL,
  user_id text NOT NULL,
  PRIMARY KEY (month, user_id)
);

-- Open WebSocket connections, one row each, refreshed while the connection lives. A user is online while a row of
-- theirs has been seen recently (a process that died leaves rows that age out).
CREATE TABLE user_connections (
  id uuid PRIMARY KEY,
  user_id text NOT NULL,
  connected_at timestamptz NOT NULL DEFAULT now(),
  seen_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX user_connections_user_idx ON user_connections (user_id, seen_at);

-- Usernames compare without case, whitespace or punctuation ("John Doe" = "john_doe").
CREATE FUNCTION stream_normalize_username(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT lower(regexp_replace(name, '[^[:alnum:]]+', '', 'g'))
$$;

CREATE INDEX users_normalized_name_idx ON users (stream_normalize_username(name)) WHERE deleted_at IS NULL;

-- The app's settings row exists from the start (credentials are filled in at first start when generated).
INSERT INTO app_settings (id) VALUES (1) ON CONFLICT (id) DO NOTHING;
