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

-- Ends an attempt (delivered, failed or cancelled), fenced on its lease, and hands its queue on: the hook's last error;
-- when it failed, the deliveries waiting behind it already past the age limit fail with it; then the next one is due.
-- One call instead of a transaction of four statements. Each statement of a function takes its own snapshot: the
-- first waits, should a writer hold the delivery (FOR SHARE, webhooks/store.ts insertDeliveries), for that writer's
-- commit, and the last then sees what it wrote.
CREATE FUNCTION webhook_delivery_ended(
  p_id uuid, p_owner text, p_attempts integer, p_status text, p_error text, p_http_status integer, p_max_age_ms bigint
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  v_hook text;
  v_user text;
BEGIN
  UPDATE webhook_deliveries SET
    status = p_status,
    delivered_at = CASE WHEN p_status = 'delivered' THEN now() ELSE delivered_at END,
    body = coalesce(ended_body, body), ended_body = NULL,
    lease_owner = NULL, lease_expires_at = NULL,
    last_error = p_error, last_status = p_http_status
  WHERE id = p_id AND lease_owner = p_owner AND attempts = p_attempts AND status = 'sending'
  RETURNING hook_id, user_id INTO v_hook, v_user;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF p_error IS NOT NULL THEN
    INSERT INTO webhook_hook_errors (hook_id, last_error, last_error_at) VALUES (v_hook, p_error, now())
    ON CONFLICT (hook_id) DO UPDATE SET last_error = excluded.last_error, last_error_at = excluded.last_error_at;
  END IF;
  IF p_status = 'failed' THEN
    UPDATE webhook_deliveries SET status = 'failed', body = coalesce(ended_body, body), ended_body = NULL,
      last_error = 'past the age limit when the delivery ahead of it (' || p_id || ') failed'
    WHERE hook_id = v_hook AND user_id = v_user AND status = 'pending' AND next_attempt_at IS NULL
      AND age_from < now() - make_interval(secs => p_max_age_ms / 1000.0);
  END IF;
  UPDATE webhook_deliveries SET next_attempt_at = now()
  WHERE id = (
    SELECT d.id FROM webhook_deliveries d
    WHERE d.hook_id = v_hook AND d.user_id = v_user AND d.status IN ('pending', 'sending')
    ORDER BY d.seq LIMIT 1
  ) AND status = 'pending' AND next_attempt_at IS NULL;
  RETURN true;
END
$$;
