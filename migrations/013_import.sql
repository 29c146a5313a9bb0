-- Imports (src/import/): blocks of users not there yet. A user file is read in chunks, in any order, so a user's
-- block may name a user that a later chunk brings; it waits here, and becomes a block when that user arrives.
CREATE TABLE import_pending_blocks (
  user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  blocked_user_id text NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, blocked_user_id)
);

CREATE INDEX import_pending_blocks_blocked_idx ON import_pending_blocks (blocked_user_id);
