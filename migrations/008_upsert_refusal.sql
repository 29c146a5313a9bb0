-- An upsert is one plain INSERT … ON CONFLICT DO UPDATE (src/users/store/users.ts). It must write nothing when one of
-- its users is deactivated or deleted: the update of such a row calls this function, which aborts the statement.
-- SQLSTATE SU001 (a class of this server's own) carries the user's id as its message and the state as its detail.
CREATE FUNCTION stream_upsert_refused(user_id text, deleted boolean) RETURNS timestamptz
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'SU001', MESSAGE = user_id, DETAIL = CASE WHEN deleted THEN 'deleted' ELSE 'deactivated' END;
END
$$;
