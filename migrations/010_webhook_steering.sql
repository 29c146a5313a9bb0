-- Webhooks an operator can steer (README "Webhooks").
--
-- A delivery no longer keeps where it goes: the hook's URL and timeout are read from the configuration when it is sent.
-- `url` stays as the URL when the event was recorded, without its query values, for the operator to read.
ALTER TABLE webhook_deliveries DROP COLUMN timeout_ms;

UPDATE webhook_deliveries SET url = regexp_replace(url, '[?#].*$', '');

-- The event's type, so that a hook that no longer takes it cancels the delivery.
ALTER TABLE webhook_deliveries ADD COLUMN event_type text;

UPDATE webhook_deliveries SET event_type = (body::jsonb) ->> 'type';

ALTER TABLE webhook_deliveries ALTER COLUMN event_type SET NOT NULL;

-- The body the delivery keeps once it has ended (delivered, failed or cancelled): a hard deletion's user.deleted is
-- then reduced to the user's id.
ALTER TABLE webhook_deliveries ADD COLUMN ended_body text;

-- The age limit counts from here: the commit, or an operator's "retry now".
ALTER TABLE webhook_deliveries ADD COLUMN age_from timestamptz;

UPDATE webhook_deliveries SET age_from = created_at;

ALTER TABLE webhook_deliveries ALTER COLUMN age_from SET NOT NULL;

ALTER TABLE webhook_deliveries ALTER COLUMN age_from SET DEFAULT now();

-- The receiver's last HTTP status, when it answered.
ALTER TABLE webhook_deliveries ADD COLUMN last_status integer;

ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_status_check;

ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_status_check
  CHECK (status IN ('pending', 'sending', 'delivered', 'failed', 'cancelled'));

-- Only the head of each (hook, user) queue is due: a pending delivery has a next_attempt_at when no earlier one of its
-- hook and user is unfinished, and none (NULL) while it waits behind one. Ending a head gives the next one its time.
-- The claim then reads due heads only, hook by hook, whatever the backlog behind them.
ALTER TABLE webhook_deliveries ALTER COLUMN next_attempt_at DROP NOT NULL;

ALTER TABLE webhook_deliveries ALTER COLUMN next_attempt_at DROP DEFAULT;

UPDATE webhook_deliveries d SET next_attempt_at = NULL
WHERE d.status = 'pending'
  AND EXISTS (
    SELECT 1 FROM webhook_deliveries e
    WHERE e.hook_id = d.hook_id AND e.user_id = d.user_id AND e.seq < d.seq AND e.status IN ('pending', 'sending'));

DROP INDEX webhook_deliveries_due_idx;

DROP INDEX webhook_deliveries_created_idx;

-- The claim: a hook's due heads in time order.
CREATE INDEX webhook_deliveries_head_idx ON webhook_deliveries (hook_id, next_attempt_at)
  WHERE status = 'pending' AND next_attempt_at IS NOT NULL;

-- Deliveries whose lease may run out (a few: at most the sends in flight).
CREATE INDEX webhook_deliveries_lease_idx ON webhook_deliveries (lease_expires_at) WHERE status = 'sending';

-- A hook's unfinished deliveries in commit order: counts, the oldest, cancelling and expiring them.
CREATE INDEX webhook_deliveries_hook_idx ON webhook_deliveries (hook_id, seq) WHERE status IN ('pending', 'sending');

-- A hook's failed and cancelled deliveries: counts, the list of failed ones, retrying them.
CREATE INDEX webhook_deliveries_ended_hook_idx ON webhook_deliveries (hook_id, status, seq) WHERE status IN ('failed', 'cancelled');

-- The purge: ended deliveries by age.
CREATE INDEX webhook_deliveries_ended_idx ON webhook_deliveries (created_at) WHERE status IN ('delivered', 'failed', 'cancelled');

-- The last failure of each hook, for the operator.
CREATE TABLE webhook_hook_errors (
  hook_id text PRIMARY KEY,
  last_error text NOT NULL,
  last_error_at timestamptz NOT NULL DEFAULT now()
);
