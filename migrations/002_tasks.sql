-- Durable asynchronous tasks (deactivation, reactivation, deletion, export), drained by the in-process worker.
-- A task is claimed with FOR UPDATE SKIP LOCKED and held through a lease (owner + expiry); a lease that runs out
-- (killed process) makes the task claimable again, and `attempts` fences completion to the current holder.
CREATE TABLE tasks (
  id uuid PRIMARY KEY,
  type text NOT NULL,
  -- pending: queued; waiting: failed an attempt, retried at run_at; running: leased; completed; failed
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'waiting', 'running', 'completed', 'failed')),
  payload jsonb NOT NULL,
  result jsonb,
  error jsonb,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  run_at timestamptz NOT NULL DEFAULT now(),
  lease_owner text,
  lease_expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The claim query looks only at unfinished tasks.
CREATE INDEX tasks_claimable_idx ON tasks (run_at) WHERE status IN ('pending', 'waiting', 'running');

-- Exported files live in the database, so that any instance can serve a download link.
CREATE TABLE exports (
  id uuid PRIMARY KEY,
  task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  content text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);

CREATE UNIQUE INDEX exports_task_idx ON exports (task_id);

CREATE INDEX exports_expires_idx ON exports (expires_at);

-- What a deactivation asked for (mark_messages_deleted, created_by_id, ...), for downstream systems.
ALTER TABLE users ADD COLUMN deactivation jsonb;
