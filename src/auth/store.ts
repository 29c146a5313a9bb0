// What a user token's validity depends on: its user's state and the revocation cut-offs (the user's and the app's).
import { sql } from 'kysely';
import { executePrepared } from '../db/prepared.js';
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
  /** When a user of this id was hard deleted, if one was. */
  tombstone_at: Micros | null;
}

/** One state per requested id (in the order given; each with its tombstone hash), read in one statement. */
export async function readTokenStates(db: Db, users: ReadonlyArray<{ id: string; hash: string }>): Promise<TokenState[]> {
  if (users.length === 0) return [];
  // The ids as two array parameters, so that one text serves any number of users: a prepared statement (every
  // request with a user token reads it).
  const result = await executePrepared(db, sql<TokenState>`
    SELECT ids.id AS user_id, u.id IS NOT NULL AS exists, u.role, coalesce(u.teams, '{}') AS teams,
           u.deactivated_at, u.deleted_at,
           u.revoke_tokens_issued_before AS user_cutoff, a.revoke_tokens_issued_before AS app_cutoff,
           t.deleted_at AS tombstone_at
    FROM unnest(${users.map((user) => user.id)}::text[], ${users.map((user) => user.hash)}::text[])
      WITH ORDINALITY AS ids(id, hash, n)
    LEFT JOIN users u ON u.id = ids.id
    LEFT JOIN user_tombstones t ON t.id_hash = ids.hash
    LEFT JOIN app_settings a ON a.id = 1
    ORDER BY ids.n`);
  return result.rows;
}
