-- Personal data after a hard delete, and how long finished tasks are kept (README "Data retention").
-- A hard delete finds the tasks of a user (their results, and export files) by the ids in the payload, and its
-- webhook deliveries by user.
CREATE INDEX tasks_user_ids_idx ON tasks USING gin ((payload -> 'user_ids'));

-- Finished tasks are purged oldest first, in bounded batches.
CREATE INDEX tasks_finished_idx ON tasks (updated_at) WHERE status IN ('completed', 'failed');

CREATE INDEX webhook_deliveries_user_idx ON webhook_deliveries (user_id);
