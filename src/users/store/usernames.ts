// Unique usernames (app setting enforce_unique_usernames: no | app | team). Names compare normalized (lower case,
// letters and digits only). Race-safe: a transaction takes an advisory lock per normalized name before it writes,
// so of two concurrent writers of one name the second sees the first's committed row and fails.
import { sql } from 'kysely';
import type { Tx } from '../../db/schema.js';

export async function lockUsernames(trx: Tx, names: Array<string | null | undefined>): Promise<void> {
  const present = [...new Set(names.filter((name): name is string => typeof name === 'string' && name !== ''))];
  if (present.length === 0) return;
  // Locks taken in one order everywhere, so two writers of overlapping names cannot deadlock.
  await sql`
    SELECT pg_advisory_xact_lock(h) FROM (
      SELECT DISTINCT hashtext('stream-username:' || stream_normalize_username(n)) AS h
      FROM unnest(ARRAY[${sql.join(present.map((n) => sql`${n}::text`))}]) AS n
    ) AS names ORDER BY h`.execute(trx);
}

/**
 * Another active user whose name normalizes like `name` (sharing a team with `teams`, when `inTeams`), with the first
 * shared team; undefined when there is none.
 */
export async function findNameConflict(
  trx: Tx,
  name: string,
  excludeId: string,
  teams: readonly string[],
  inTeams: boolean,
): Promise<{ id: string; team: string | null } | undefined> {
  const teamArray = teams.length > 0 ? sql`ARRAY[${sql.join(teams.map((t) => sql`${t}::text`))}]` : sql`'{}'::text[]`;
  const conflict = await sql<{ id: string; team: string | null }>`
    SELECT id, (SELECT t FROM unnest(users.teams) AS t WHERE t = ANY(${teamArray}) ORDER BY t LIMIT 1) AS team
    FROM users
    WHERE stream_normalize_username(name) = stream_normalize_username(${name}::text)
      AND deleted_at IS NULL AND deactivated_at IS NULL AND id <> ${excludeId}
      ${inTeams ? sql`AND users.teams && ${teamArray}` : sql``}
    LIMIT 1`.execute(trx);
  return conflict.rows[0];
}
