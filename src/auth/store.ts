// What a user token's validity depends on: its user's state and the revocation cut-offs (the user's and the app's).
import { sql } from 'kysely';
import type { Db, Micros } from '../db/schema.js';

export interface TokenState {
  user_id: string;
  /** The user's row exists (a token may be for a user that its first request creates). */
  exists: boolean;
  role: string | null;
  teams: string[];
  deactivated_at: Micros | null;
  deleted_at: Micros | null;
  user_cutoff: Micros | null;
  app_cutoff: Micros | null;
}

/** One state per requested id (in the order given), read in one statement. */
export async function readTokenStates(db: Db, userIds: readonly string[]): Promise<TokenState[]> {
  if (userIds.length === 0) return [];
  const result = await sql<TokenState>`
    SELECT ids.id AS user_id, u.id IS NOT NULL AS exists, u.role, coalesce(u.teams, '{}') AS teams,
           u.deactivated_at, u.deleted_at,
           u.revoke_tokens_issued_before AS user_cutoff, a.revoke_tokens_issued_before AS app_cutoff
    FROM unnest(ARRAY[${sql.join(userIds.map((id) => sql`${id}::text`))}]) WITH ORDINALITY AS ids(id, n)
    LEFT JOIN users u ON u.id = ids.id
    LEFT JOIN app_settings a ON a.id = 1
    ORDER BY ids.n`.execute(db);
  return result.rows;
}
