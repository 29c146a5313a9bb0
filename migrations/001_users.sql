-- Users: typed columns for the built-in fields Stream filters and sorts on, jsonb for the rest.
-- Statements are separated by a semicolon at the end of a line (see src/db/migrate.ts).
CREATE TABLE users (
  id text PRIMARY KEY,
  name text,
  image text,
  role text NOT NULL DEFAULT 'user',
  language text NOT NULL DEFAULT '',
  teams text[] NOT NULL DEFAULT '{}',
  teams_role jsonb,
  invisible boolean NOT NULL DEFAULT false,
  privacy_settings jsonb,
  custom jsonb NOT NULL DEFAULT '{}',
  banned boolean NOT NULL DEFAULT false,
  shadow_banned boolean NOT NULL DEFAULT false,
  bypass_moderation boolean NOT NULL DEFAULT false,
  ban_expires timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_active timestamptz,
  deactivated_at timestamptz,
  deleted_at timestamptz,
  -- what the deletion request asked for (user/messages/conversations/... options), for downstream systems
  deletion jsonb,
  revoke_tokens_issued_before timestamptz
);

-- Default sort (created_at DESC, id DESC) walks this index backwards.
CREATE INDEX users_created_at_id_idx ON users (created_at, id);

CREATE INDEX users_updated_at_idx ON users (updated_at);

CREATE INDEX users_last_active_idx ON users (last_active);

CREATE INDEX users_name_idx ON users (name);

CREATE INDEX users_role_idx ON users (role);

CREATE INDEX users_teams_idx ON users USING gin (teams);

-- Equality and $contains on custom fields: custom @> '{"k": v}'.
CREATE INDEX users_custom_idx ON users USING gin (custom jsonb_path_ops);

-- $autocomplete is a case-insensitive word-prefix match: a prefix tsquery over the 'simple' configuration.
CREATE INDEX users_name_words_idx ON users USING gin (to_tsvector('simple', coalesce(name, '')));

CREATE INDEX users_username_words_idx ON users USING gin (to_tsvector('simple', coalesce(custom ->> 'username', '')));

CREATE TABLE user_blocks (
  user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  blocked_user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, blocked_user_id)
);

CREATE INDEX user_blocks_blocked_idx ON user_blocks (blocked_user_id);

-- Per-app settings. One row: this server hosts one app (one key/secret pair).
CREATE TABLE app_settings (
  id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  -- credentials generated on the embedded default when none are configured
  generated_api_key text,
  generated_api_secret text,
  revoke_tokens_issued_before timestamptz,
  guest_user_creation_disabled boolean NOT NULL DEFAULT false,
  enforce_unique_usernames text NOT NULL DEFAULT 'no',
  multi_tenant_enabled boolean NOT NULL DEFAULT false
);

-- Sets `value` at `path` inside `target`, creating intermediate objects (jsonb_set alone does not), so that a
-- partial update of "a.b.c" is one expression in one UPDATE.
CREATE FUNCTION stream_jsonb_set_path(target jsonb, path text[], value jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF target IS NULL OR jsonb_typeof(target) <> 'object' THEN
    target := '{}'::jsonb;
  END IF;
  IF cardinality(path) = 1 THEN
    RETURN jsonb_set(target, path, value, true);
  END IF;
  RETURN jsonb_set(target, path[1:1], stream_jsonb_set_path(target -> path[1], path[2:], value), true);
END
$$;

-- Merges `patch` into `target` recursively: objects merge key by key, anything else replaces.
CREATE FUNCTION stream_jsonb_deep_merge(target jsonb, patch jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  merged jsonb;
BEGIN
  IF target IS NULL OR jsonb_typeof(target) <> 'object' OR jsonb_typeof(patch) <> 'object' THEN
    RETURN patch;
  END IF;
  SELECT coalesce(jsonb_object_agg(k, CASE WHEN patch ? k THEN stream_jsonb_deep_merge(target -> k, patch -> k) ELSE target -> k END), '{}'::jsonb)
    INTO merged
    FROM (SELECT jsonb_object_keys(target) UNION SELECT jsonb_object_keys(patch)) AS keys(k);
  RETURN merged;
END
$$;
