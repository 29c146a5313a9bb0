// SQL of an import chunk (see service.ts): the chunk's users are staged in a temporary table by one statement, then
// classified against the stored users, checked, and merged by one INSERT … ON CONFLICT; blocks follow. Everything
// here runs inside the chunk's transaction.
import { sql } from 'kysely';
import type { Tx, UserRow } from '../db/schema.js';
import { USER_COLUMNS } from '../users/store/users.js';

/**
 * What the staging decides for each user:
 *   insert, update  written;
 *   same            already stored exactly so (its blocks are still brought in line with the line's);
 *   kept            the stored user is kept by the conflict policy (skip, or newer and not newer);
 *   deleted         refused: the stored user is deleted, and upsert's rule is that a deleted user is not updated;
 *   name            refused: its name is taken (unique usernames).
 */
export type StagedAction = 'insert' | 'update' | 'same' | 'kept' | 'deleted' | 'name';

export type ConflictPolicy = 'skip' | 'overwrite' | 'newer';

const STAGED_COLUMNS = sql`line integer, id text, name text, image text, role text, teams text[], teams_role jsonb,
  language text, invisible boolean, privacy_settings jsonb, custom jsonb, created_at timestamptz,
  updated_at timestamptz, last_active timestamptz, deactivated_at timestamptz, deleted_at timestamptz,
  revoke_tokens_issued_before timestamptz, blocked_user_ids text[]`;

/**
 * Stages the chunk (json, not jsonb: read once, it need not be converted): `usersJson` is a JSON array of objects with the staged columns (date-times as RFC3339 text), one
 * per user (ids distinct). The table lives until the transaction ends.
 */
export async function stageUsers(trx: Tx, usersJson: string): Promise<void> {
  await sql`CREATE TEMPORARY TABLE import_staging (${STAGED_COLUMNS}, action text, renamed boolean) ON COMMIT DROP`.execute(trx);
  await sql`
    INSERT INTO import_staging
    SELECT r.*, 'insert', true FROM json_to_recordset(${usersJson}::json) AS r(${STAGED_COLUMNS})`.execute(trx);
  // A temporary table has no statistics until analyzed: without them the planner guesses its size, and joined a
  // chunk of thousands of users to users by scanning users whole.
  await sql`ANALYZE import_staging`.execute(trx);
}

/** Locks the stored users the chunk names, in id order (the order every writer of several users locks them in). */
export async function lockStagedUsers(trx: Tx): Promise<void> {
  await sql`SELECT u.id FROM users u WHERE u.id IN (SELECT id FROM import_staging) ORDER BY u.id FOR UPDATE OF u`.execute(trx);
}

/** Makes the users' writes wait for this chunk and this chunk for theirs: how unique usernames hold across 10,000 names at once. */
export async function lockUsersTableForNames(trx: Tx): Promise<void> {
  await sql`LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`.execute(trx);
}

/** A stored row that equals its staged line; a line without created_at / updated_at / role takes the stored one. */
const SAME = sql`(
  s.name IS NOT DISTINCT FROM u.name AND s.image IS NOT DISTINCT FROM u.image AND coalesce(s.role, u.role) = u.role
  AND s.language = u.language AND s.teams = u.teams AND s.teams_role IS NOT DISTINCT FROM u.teams_role
  AND s.invisible = u.invisible AND s.privacy_settings IS NOT DISTINCT FROM u.privacy_settings AND s.custom = u.custom
  AND (s.created_at IS NULL OR s.created_at = u.created_at) AND (s.updated_at IS NULL OR s.updated_at = u.updated_at)
  AND s.last_active IS NOT DISTINCT FROM u.last_active AND s.deactivated_at IS NOT DISTINCT FROM u.deactivated_at
  AND s.deleted_at IS NOT DISTINCT FROM u.deleted_at
  AND s.revoke_tokens_issued_before IS NOT DISTINCT FROM u.revoke_tokens_issued_before)`;

/** Decides each staged user's action against what is stored, under the conflict policy. */
export async function classifyStaged(trx: Tx, policy: ConflictPolicy): Promise<void> {
  const keep =
    policy === 'skip'
      ? sql`true`
      : policy === 'newer'
        ? sql`(s.updated_at IS NOT NULL AND s.updated_at <= u.updated_at)`
        : sql`false`;
  // Every SET expression reads the staged row as it was before this statement.
  await sql`
    UPDATE import_staging s SET
      action = CASE WHEN ${SAME} THEN 'same' WHEN ${keep} THEN 'kept' WHEN u.deleted_at IS NOT NULL THEN 'deleted' ELSE 'update' END,
      created_at = coalesce(s.created_at, u.created_at),
      role = coalesce(s.role, u.role),
      -- the users whose name or teams this import changes (the only ones held to unique usernames, as in upsert)
      renamed = NOT (s.name IS NOT DISTINCT FROM u.name AND s.teams = u.teams AND u.deleted_at IS NULL AND u.deactivated_at IS NULL)
    FROM users u WHERE u.id = s.id`.execute(trx);
}

/**
 * Staged users to be written whose name another active user will hold after this chunk (a stored user the chunk does
 * not rewrite, or a user of an earlier line), within a shared team in `team` mode; with the first shared team.
 */
export async function findStagedNameConflicts(trx: Tx, inTeams: boolean): Promise<Array<{ line: number; id: string; name: string; team: string | null }>> {
  const shared = inTeams ? sql`AND o.teams && c.teams` : sql``;
  const team = inTeams ? sql`(SELECT t FROM unnest(o.teams) AS t WHERE t = ANY(c.teams) ORDER BY t LIMIT 1)` : sql`NULL::text`;
  const sameName = sql`stream_normalize_username(o.name) = stream_normalize_username(c.name) AND o.deleted_at IS NULL AND o.deactivated_at IS NULL`;
  const result = await sql<{ line: number; id: string; name: string; team: string | null }>`
    SELECT c.line, c.id, c.name, coalesce(stored.team, staged.team) AS team
    FROM import_staging c
    LEFT JOIN LATERAL (
      SELECT true AS found, ${team} AS team FROM users o
      WHERE ${sameName} AND o.id <> c.id ${shared}
        AND NOT EXISTS (SELECT 1 FROM import_staging w WHERE w.id = o.id AND w.action IN ('insert', 'update'))
      LIMIT 1
    ) stored ON true
    LEFT JOIN LATERAL (
      SELECT true AS found, ${team} AS team FROM import_staging o
      WHERE ${sameName} AND o.action IN ('insert', 'update') AND o.line < c.line ${shared}
      LIMIT 1
    ) staged ON true
    WHERE c.action IN ('insert', 'update') AND c.renamed AND c.name IS NOT NULL AND c.name <> ''
      AND c.deleted_at IS NULL AND c.deactivated_at IS NULL
      AND (stored.found OR staged.found)
    ORDER BY c.line`.execute(trx);
  return result.rows;
}

export async function refuseStaged(trx: Tx, ids: readonly string[], action: 'name'): Promise<void> {
  if (ids.length === 0) return;
  await sql`UPDATE import_staging SET action = ${action} WHERE id = ANY(${ids as string[]}::text[])`.execute(trx);
}

/** The users refused by what is stored (deleted ones), with their lines. */
export async function listRefusedStaged(trx: Tx): Promise<Array<{ line: number; id: string }>> {
  const result = await sql<{ line: number; id: string }>`
    SELECT line, id FROM import_staging WHERE action = 'deleted' ORDER BY line`.execute(trx);
  return result.rows;
}

/**
 * Writes the staged users to be inserted or updated, in one statement, in id order. Every field of the line replaces
 * the stored one; a deleted user is stored as a soft deletion already applied (restorable, and no task re-applies it).
 */
export async function mergeStaged(trx: Tx): Promise<number> {
  const result = await sql`
    INSERT INTO users (id, name, image, role, language, teams, teams_role, invisible, privacy_settings, custom,
      created_at, updated_at, last_active, deactivated_at, deleted_at, revoke_tokens_issued_before, deletion, deletion_applied)
    SELECT s.id, s.name, s.image, coalesce(s.role, 'user'), s.language, s.teams, s.teams_role, s.invisible, s.privacy_settings,
      s.custom, coalesce(s.created_at, s.updated_at, now()), coalesce(s.updated_at, now()), s.last_active, s.deactivated_at,
      s.deleted_at, s.revoke_tokens_issued_before,
      CASE WHEN s.deleted_at IS NULL THEN NULL ELSE '{"user": "soft"}'::jsonb END,
      CASE WHEN s.deleted_at IS NULL THEN NULL ELSE 'soft' END
    FROM import_staging s WHERE s.action IN ('insert', 'update')
    ORDER BY s.id
    ON CONFLICT (id) DO UPDATE SET
      name = excluded.name, image = excluded.image, role = excluded.role, language = excluded.language,
      teams = excluded.teams, teams_role = excluded.teams_role, invisible = excluded.invisible,
      privacy_settings = excluded.privacy_settings, custom = excluded.custom, created_at = excluded.created_at,
      updated_at = excluded.updated_at, last_active = excluded.last_active, deactivated_at = excluded.deactivated_at,
      deactivation = CASE WHEN excluded.deactivated_at IS NULL THEN NULL ELSE users.deactivation END,
      deleted_at = excluded.deleted_at, revoke_tokens_issued_before = excluded.revoke_tokens_issued_before,
      deletion = CASE WHEN excluded.deleted_at IS NULL THEN NULL ELSE coalesce(users.deletion, excluded.deletion) END,
      deletion_applied = CASE WHEN excluded.deleted_at IS NULL THEN NULL ELSE coalesce(users.deletion_applied, excluded.deletion_applied) END`.execute(trx);
  return Number(result.numAffectedRows ?? 0n);
}

/**
 * Brings the blocks of the written and unchanged users that have `blocked_user_ids` in line with it: blocks not
 * listed go, listed ones are added (in list order), and those of users not stored yet wait in import_pending_blocks.
 * Then blocks that waited for a user of this chunk are made. Returns the ids of this chunk's users whose blocks changed.
 */
export async function syncStagedBlocks(trx: Tx): Promise<Set<string>> {
  const listed = sql`s.action IN ('insert', 'update', 'same') AND s.blocked_user_ids IS NOT NULL`;
  const changed = new Set<string>();
  const removed = await sql<{ user_id: string }>`
    DELETE FROM user_blocks b USING import_staging s
    WHERE ${listed} AND b.user_id = s.id AND NOT (b.blocked_user_id = ANY(s.blocked_user_ids))
    RETURNING b.user_id`.execute(trx);
  await sql`
    DELETE FROM import_pending_blocks b USING import_staging s
    WHERE ${listed} AND b.user_id = s.id AND NOT (b.blocked_user_id = ANY(s.blocked_user_ids))`.execute(trx);
  const added = await sql<{ user_id: string }>`
    INSERT INTO user_blocks (user_id, blocked_user_id, created_at)
    SELECT s.id, b.blocked, now() + b.n * interval '1 microsecond'
    FROM import_staging s, unnest(s.blocked_user_ids) WITH ORDINALITY AS b(blocked, n)
    WHERE ${listed} AND EXISTS (SELECT 1 FROM users u WHERE u.id = b.blocked)
    ORDER BY s.id, b.n
    ON CONFLICT (user_id, blocked_user_id) DO NOTHING
    RETURNING user_id`.execute(trx);
  await sql`
    INSERT INTO import_pending_blocks (user_id, blocked_user_id, created_at)
    SELECT s.id, b.blocked, now() + b.n * interval '1 microsecond'
    FROM import_staging s, unnest(s.blocked_user_ids) WITH ORDINALITY AS b(blocked, n)
    WHERE ${listed} AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = b.blocked)
    ON CONFLICT (user_id, blocked_user_id) DO NOTHING`.execute(trx);
  await sql`
    WITH arrived AS (
      DELETE FROM import_pending_blocks p
      WHERE p.blocked_user_id IN (SELECT id FROM import_staging WHERE action IN ('insert', 'update', 'same'))
      RETURNING p.user_id, p.blocked_user_id, p.created_at
    )
    INSERT INTO user_blocks (user_id, blocked_user_id, created_at)
    SELECT user_id, blocked_user_id, created_at FROM arrived ORDER BY user_id, blocked_user_id
    ON CONFLICT (user_id, blocked_user_id) DO NOTHING`.execute(trx);
  for (const row of [...removed.rows, ...added.rows]) changed.add(row.user_id);
  return changed;
}

/** Counts of the staged actions. */
export async function countStaged(trx: Tx): Promise<Record<StagedAction, number>> {
  const result = await sql<{ action: StagedAction; n: number }>`SELECT action, count(*)::int AS n FROM import_staging GROUP BY action`.execute(trx);
  const counts: Record<StagedAction, number> = { insert: 0, update: 0, same: 0, kept: 0, deleted: 0, name: 0 };
  for (const row of result.rows) counts[row.action] = row.n;
  return counts;
}

/** The ids of the staged users with one of `actions`. */
export async function listStagedIds(trx: Tx, actions: readonly StagedAction[]): Promise<string[]> {
  const result = await sql<{ id: string }>`SELECT id FROM import_staging WHERE action = ANY(${actions as StagedAction[]}::text[])`.execute(trx);
  return result.rows.map((row) => row.id);
}

/** The written users (and those whose blocks changed) as rows, for their user.updated events. */
export async function selectImportedRows(trx: Tx, extraIds: readonly string[]): Promise<UserRow[]> {
  const result = await sql<UserRow>`
    SELECT ${USER_COLUMNS} FROM users
    WHERE users.id IN (SELECT id FROM import_staging WHERE action IN ('insert', 'update')) OR users.id = ANY(${extraIds as string[]}::text[])
    ORDER BY users.id`.execute(trx);
  return result.rows;
}
