// Unique usernames (app setting enforce_unique_usernames: no | app | team). Names compare normalized (lower case,
// letters and digits only). Race-safe: a transaction takes an advisory lock per normalized name before it writes,
// so of two concurrent writers of one name the second sees the first's committed row and fails.
import { sql } from 'kysely';
import type { UniqueUsernames } from '../app-settings/service.js';
import { StreamError, ErrorCode } from '../http/errors.js';
import type { UserRow } from './representation.js';
import type { Executor } from './store.js';

export async function lockUsernames(trx: Executor, names: Array<string | null | undefined>): Promise<void> {
  const present = [...new Set(names.filter((name): name is string => typeof name === 'string' && name !== ''))];
  if (present.length === 0) return;
  // Locks taken in one order everywhere, so two writers of overlapping names cannot deadlock.
  await sql`
    SELECT pg_advisory_xact_lock(h) FROM (
      SELECT DISTINCT hashtext('stream-username:' || stream_normalize_username(n)) AS h
      FROM unnest(ARRAY[${sql.join(present.map((n) => sql`${n}::text`))}]) AS n
    ) AS names ORDER BY h`.execute(trx);
}

/** Fails when a written user's name is taken by another active user (in a shared team, for `team`). */
export async function checkUniqueUsernames(trx: Executor, mode: UniqueUsernames, rows: UserRow[]): Promise<void> {
  if (mode === 'no') return;
  for (const row of rows) {
    if (row.name === null || row.name === '' || row.deactivated_at !== null || row.deleted_at !== null) continue;
    const teams = row.teams.length > 0 ? sql`ARRAY[${sql.join(row.teams.map((t) => sql`${t}::text`))}]` : sql`'{}'::text[]`;
    const conflict = await sql<{ id: string; team: string | null }>`
      SELECT id, (SELECT t FROM unnest(users.teams) AS t WHERE t = ANY(${teams}) ORDER BY t LIMIT 1) AS team
      FROM users
      WHERE stream_normalize_username(name) = stream_normalize_username(${row.name}::text)
        AND deleted_at IS NULL AND deactivated_at IS NULL AND id <> ${row.id}
        ${mode === 'team' ? sql`AND users.teams && ${teams}` : sql``}
      LIMIT 1`.execute(trx);
    const other = conflict.rows[0];
    if (other) {
      throw new StreamError(
        ErrorCode.DuplicateUsername,
        mode === 'team' ? `username '${row.name}' already exists in team '${other.team}'` : `username '${row.name}' already exists`,
      );
    }
  }
}
