// Reading users: one select list shared by every statement that returns users, so each response is built from
// the same columns (including the ids a user blocks).
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.js';
import type { UserRow } from './representation.js';

export type Executor = Kysely<Database>;

/**
 * The select list (or RETURNING list) of a user row, for a `users` row named `users`: its columns, the ids it
 * blocks, and whether it has a live WebSocket connection (one seen in the last 90 s; see src/connect/).
 */
export const USER_COLUMNS = sql`users.*, coalesce((
    SELECT array_agg(b.blocked_user_id ORDER BY b.created_at, b.blocked_user_id)
    FROM user_blocks b WHERE b.user_id = users.id
  ), '{}') AS blocked_user_ids,
  EXISTS (
    SELECT 1 FROM user_connections c WHERE c.user_id = users.id AND c.seen_at > now() - interval '90 seconds'
  ) AS online`;

/**
 * USER_COLUMNS for the RETURNING list of an upsert: a row the statement inserted (xmax = 0) can have no blocks and
 * no connection yet, so its two lookups are skipped.
 */
export const UPSERTED_USER_COLUMNS = sql`users.*,
  CASE WHEN users.xmax = 0 THEN '{}'::text[] ELSE coalesce((
    SELECT array_agg(b.blocked_user_id ORDER BY b.created_at, b.blocked_user_id)
    FROM user_blocks b WHERE b.user_id = users.id
  ), '{}') END AS blocked_user_ids,
  CASE WHEN users.xmax = 0 THEN false ELSE EXISTS (
    SELECT 1 FROM user_connections c WHERE c.user_id = users.id AND c.seen_at > now() - interval '90 seconds'
  ) END AS online`;

export async function selectUsers(executor: Executor, where: RawBuilder<unknown>): Promise<UserRow[]> {
  const result = await sql<UserRow>`SELECT ${USER_COLUMNS} FROM users WHERE ${where}`.execute(executor);
  return result.rows;
}

export async function findUsersByIds(executor: Executor, ids: readonly string[]): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  return selectUsers(executor, sql`users.id IN (${sql.join(ids.map((id) => sql`${id}`))})`);
}

/** Orders rows as the requested ids were given. */
export function inIdOrder(rows: UserRow[], ids: readonly string[]): UserRow[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.flatMap((id) => {
    const row = byId.get(id);
    return row ? [row] : [];
  });
}
