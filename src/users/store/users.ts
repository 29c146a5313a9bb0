// The users table: the select list every user-returning statement shares, and the statements of upsert, partial
// update, guest creation and the lookups the services make.
import { sql, type RawBuilder } from 'kysely';
import type { Db, Micros, Tx } from '../../db/schema.js';
import type { UserRow } from '../representation.js';

/**
 * The select (or RETURNING) list of a user row, for a `users` row named `users`: its columns, the ids it blocks, and
 * whether it has a live WebSocket connection (one seen in the last 90 s; see src/connect/). In an upsert's RETURNING
 * list a row the statement inserted (xmax = 0) can have neither blocks nor a connection, so both lookups are skipped.
 */
function userColumns(options: { skipLookupsOfInserted: boolean }): RawBuilder<unknown> {
  const onlyIfUpdated = (lookup: RawBuilder<unknown>, inserted: RawBuilder<unknown>) =>
    options.skipLookupsOfInserted ? sql`CASE WHEN users.xmax = 0 THEN ${inserted} ELSE ${lookup} END` : lookup;
  const blocked = sql`coalesce((
    SELECT array_agg(b.blocked_user_id ORDER BY b.created_at, b.blocked_user_id)
    FROM user_blocks b WHERE b.user_id = users.id
  ), '{}')`;
  // An invisible user is never shown online.
  const online = sql`(NOT users.invisible AND EXISTS (
    SELECT 1 FROM user_connections c WHERE c.user_id = users.id AND c.seen_at > now() - interval '90 seconds'
  ))`;
  return sql`users.*, ${onlyIfUpdated(blocked, sql`'{}'::text[]`)} AS blocked_user_ids, ${onlyIfUpdated(online, sql`false`)} AS online`;
}

export const USER_COLUMNS = userColumns({ skipLookupsOfInserted: false });
const UPSERTED_USER_COLUMNS = userColumns({ skipLookupsOfInserted: true });

async function selectUsers(db: Db, where: RawBuilder<unknown>): Promise<UserRow[]> {
  const result = await sql<UserRow>`SELECT ${USER_COLUMNS} FROM users WHERE ${where}`.execute(db);
  return result.rows;
}

export async function findUsersByIds(db: Db, ids: readonly string[]): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  return selectUsers(db, sql`users.id IN (${sql.join(ids.map((id) => sql`${id}`))})`);
}

/** Orders rows as the requested ids were given. */
export function inIdOrder(rows: UserRow[], ids: readonly string[]): UserRow[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.flatMap((id) => {
    const row = byId.get(id);
    return row ? [row] : [];
  });
}

/**
 * Replace semantics, in one statement that is atomic on its own (it needs no surrounding transaction): it locks the
 * batch's existing users in id order and reads their latest state, and writes nothing at all when any of them is
 * deactivated or deleted. Fields not sent are cleared, except role and teams (NULL in the input: keep what is stored).
 * `inputsJson` is the JSON array of the users to write, in the recordset's column names.
 */
export async function upsertUserRows(db: Db, inputsJson: string): Promise<UserRow[]> {
  const result = await sql<UserRow>`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${inputsJson}::jsonb) AS i(
        id text, name text, image text, role text, teams text[], teams_role jsonb, language text,
        invisible boolean, privacy_settings jsonb, custom jsonb)
    )
    , existing AS (
      SELECT u.id, u.deactivated_at, u.deleted_at FROM users u JOIN input i ON i.id = u.id
      ORDER BY u.id
      FOR UPDATE OF u
    )
    INSERT INTO users (id, name, image, role, language, teams, teams_role, invisible, privacy_settings, custom)
    SELECT i.id, i.name, i.image, coalesce(i.role, 'user'), coalesce(i.language, ''), coalesce(i.teams, '{}'),
           i.teams_role, coalesce(i.invisible, false), i.privacy_settings, coalesce(i.custom, '{}')
    FROM input i
    WHERE NOT EXISTS (SELECT 1 FROM existing e WHERE e.deactivated_at IS NOT NULL OR e.deleted_at IS NOT NULL)
    ORDER BY i.id
    ON CONFLICT (id) DO UPDATE SET
      name = excluded.name,
      image = excluded.image,
      language = excluded.language,
      teams_role = excluded.teams_role,
      invisible = excluded.invisible,
      privacy_settings = excluded.privacy_settings,
      custom = excluded.custom,
      -- excluded.role/teams hold the defaults for new users; what was actually sent is in input
      role = coalesce((SELECT i.role FROM input i WHERE i.id = excluded.id), users.role),
      teams = coalesce((SELECT i.teams FROM input i WHERE i.id = excluded.id), users.teams),
      updated_at = now()
    WHERE users.deactivated_at IS NULL AND users.deleted_at IS NULL
    RETURNING ${UPSERTED_USER_COLUMNS}`.execute(db);
  return result.rows;
}

/** One user's partial update: `assignments` are SET items computed from the row's current values. */
export async function updateUserRow(trx: Tx, id: string, assignments: RawBuilder<unknown>[]): Promise<UserRow | undefined> {
  const result = await sql<UserRow>`
    UPDATE users SET ${sql.join([...assignments, sql`updated_at = now()`])}
    WHERE id = ${id} AND deleted_at IS NULL AND deactivated_at IS NULL
    RETURNING ${USER_COLUMNS}`.execute(trx);
  return result.rows[0];
}

export interface NewUser {
  id: string;
  name: string | null;
  image: string | null;
  role: string;
  language: string;
  teams_role: Record<string, string> | null;
  invisible: boolean;
  privacy_settings: Record<string, unknown> | null;
  custom: Record<string, unknown>;
}

/** Inserts a user unless the id is taken; undefined when it was. */
export async function insertUserIfAbsent(db: Db, user: NewUser): Promise<UserRow | undefined> {
  const result = await sql<UserRow>`
    INSERT INTO users (id, name, image, role, language, teams, teams_role, invisible, privacy_settings, custom)
    VALUES (${user.id}, ${user.name}, ${user.image}, ${user.role}, ${user.language}, '{}', ${JSON.stringify(user.teams_role)}::jsonb,
            ${user.invisible}, ${JSON.stringify(user.privacy_settings)}::jsonb, ${JSON.stringify(user.custom)}::jsonb)
    ON CONFLICT (id) DO NOTHING
    RETURNING ${USER_COLUMNS}`.execute(db);
  return result.rows[0];
}

/** Serializes concurrent writers of one user id that start from "does it exist?" (WebSocket connects). */
export async function lockUserId(trx: Tx, purpose: string, userId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${purpose}:${userId}`}, 0))`.execute(trx);
}

export interface LockedUser {
  id: string;
  deactivated_at: Micros | null;
  deleted_at: Micros | null;
  deletion: Record<string, unknown> | null;
  deletion_applied: string | null;
}

/** Locks the users that exist among `ids` (in id order, so that concurrent requests can't deadlock). */
export async function lockUsers(trx: Tx, ids: readonly string[]): Promise<LockedUser[]> {
  if (ids.length === 0) return [];
  const sorted = [...new Set(ids)].sort();
  const result = await sql<LockedUser>`
    SELECT id, deactivated_at, deleted_at, deletion, deletion_applied FROM users
    WHERE id IN (${sql.join(sorted.map((id) => sql`${id}`))})
    ORDER BY id
    FOR UPDATE`.execute(trx);
  return result.rows;
}
