-- The claim query takes the oldest runnable tasks in (run_at, created_at) order. With an index on run_at alone the
-- planner read every unfinished task and sorted them on each claim (milliseconds with a backlog of 10,000); this index
-- holds the whole order, so that a claim reads only the rows it takes. Partial like the one it replaces: finished
-- tasks leave it. The queue-state query reads unfinished tasks through it too.
CREATE INDEX tasks_claim_order_idx ON tasks (run_at, created_at) WHERE status IN ('pending', 'waiting', 'running');

DROP INDEX tasks_claimable_idx;
