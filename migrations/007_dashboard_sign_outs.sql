-- Dashboard sessions signed out before they expired. A session is a signed token any instance accepts; this table is
-- how every instance refuses one that was signed out, until it would have expired (then the row is purged).
CREATE TABLE dashboard_sign_outs (
  session_id text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
