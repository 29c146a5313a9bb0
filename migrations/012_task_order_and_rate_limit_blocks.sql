-- Per-user task order: tasks that touch the same user take effect in the order they were accepted. `seq` is drawn
-- when the task is inserted, inside the request's transaction, which holds the rows of the task's users: of two
-- tasks sharing a user, the one accepted first has the lower seq. A claim does not take a task while an unfinished
-- task with a lower seq shares a user with it (src/tasks/store.ts), found through the index below, which holds the
-- user ids of unfinished tasks only.
CREATE SEQUENCE tasks_seq;
ALTER TABLE tasks ADD COLUMN seq bigint;
-- Unfinished tasks of an earlier version keep their creation order; finished ones never need a seq.
UPDATE tasks SET seq = ordered.n
FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM tasks WHERE status IN ('pending', 'waiting', 'running')) AS ordered
WHERE tasks.id = ordered.id;
SELECT setval('tasks_seq', coalesce((SELECT max(seq) FROM tasks), 0) + 1, false);
ALTER TABLE tasks ALTER COLUMN seq SET DEFAULT nextval('tasks_seq');
ALTER SEQUENCE tasks_seq OWNED BY tasks.seq;
-- fastupdate off: a claim probes this index for every candidate, and a pending list would be scanned on each probe.
CREATE INDEX tasks_unfinished_users_idx ON tasks USING gin ((payload -> 'user_ids')) WITH (fastupdate = off)
  WHERE status IN ('pending', 'waiting', 'running');

-- Rate-limit block reservations (src/rate-limits/store.ts): `count` is the units reserved by every instance in the
-- window, never more than the limit; `granted` is what the last reservation got, so that the statement that reserves
-- can answer it (RETURNING sees only the new row).
ALTER TABLE rate_limit_counters ADD COLUMN granted integer NOT NULL DEFAULT 0;
