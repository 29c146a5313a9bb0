// Activity rows: one user_activity row per user and calendar month (monthly active users). users.last_active is
// written by the users store (users/store/lifecycle.ts touchLastActive).
import { sql } from 'kysely';
import type { Db, Tx } from '../db/schema.js';

export async function markActiveThisMonth(db: Db, userId: string): Promise<void> {
  await sql`
    INSERT INTO user_activity (month, user_id) VALUES (date_trunc('month', now())::date, ${userId})
    ON CONFLICT DO NOTHING`.execute(db);
}

/** Distinct users active in a month, given as its first day ('YYYY-MM-01'). */
export async function countActiveUsers(db: Db, firstDay: string): Promise<number> {
  const result = await sql<{ n: number }>`SELECT count(*)::int AS n FROM user_activity WHERE month = ${firstDay}::date`.execute(db);
  return result.rows[0]?.n ?? 0;
}

/** Distinct users active in each month from `firstDay` ('YYYY-MM-01') on, as {month: 'YYYY-MM', n}; months without any are absent. */
export async function countActiveUsersByMonth(db: Db, firstDay: string): Promise<Array<{ month: string; n: number }>> {
  const result = await sql<{ month: string; n: number }>`
    SELECT to_char(month, 'YYYY-MM') AS month, count(*)::int AS n FROM user_activity
    WHERE month >= ${firstDay}::date GROUP BY month ORDER BY month`.execute(db);
  return result.rows;
}

/**
 * A hard deletion: the user's months of activity keep counting (a month's count must not change), under the
 * tombstone's keyed hash of its id instead of the id itself.
 */
export async function pseudonymizeActivity(trx: Tx, users: ReadonlyArray<{ id: string; hash: string }>): Promise<void> {
  if (users.length === 0) return;
  const pairs = sql.join(users.map((user) => sql`(${user.id}::text, ${`deleted:${user.hash}`}::text)`));
  await sql`
    WITH gone AS (
      DELETE FROM user_activity a USING (VALUES ${pairs}) AS p(id, pseudonym) WHERE a.user_id = p.id
      RETURNING a.month, p.pseudonym)
    INSERT INTO user_activity (month, user_id) SELECT month, pseudonym FROM gone ON CONFLICT DO NOTHING`.execute(trx);
}
