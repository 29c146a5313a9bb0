-- Webhooks: the app's configuration (a single URL with its event types, and the list of event hooks as given, each
-- with an id and timestamps), and the outbox of deliveries.
ALTER TABLE app_settings ADD COLUMN webhook_url text;

ALTER TABLE app_settings ADD COLUMN webhook_events jsonb NOT NULL DEFAULT '[]';

ALTER TABLE app_settings ADD COLUMN event_hooks jsonb NOT NULL DEFAULT '[]';

-- The strongest deletion a DeleteUsers task has applied to a user (and announced with user.deleted): a later task
-- applies, and announces, only a stronger one.
ALTER TABLE users ADD COLUMN deletion_applied text;

-- One row per event and hook, written in the transaction of the change that causes the event. `id` is the
-- X-Webhook-Id; `seq` is commit order, by which one hook receives one user's events.
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY,
  seq bigserial NOT NULL,
  hook_id text NOT NULL,
  user_id text,
  url text NOT NULL,
  timeout_ms integer NOT NULL,
  body text NOT NULL,
  -- pending: due at next_attempt_at; sending: leased; delivered; failed (retried for its whole lifetime)
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_owner text,
  lease_expires_at timestamptz,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz
);

-- The claim looks at unfinished deliveries only, in commit order, and at whether an earlier one of the same hook and
-- user is still unfinished.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (seq) WHERE status IN ('pending', 'sending');

CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (hook_id, user_id, seq) WHERE status IN ('pending', 'sending');

CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at) WHERE status IN ('delivered', 'failed');
