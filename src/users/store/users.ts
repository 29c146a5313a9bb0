// The users table: the select list every user-returning statement shares, and the statements of upsert, partial
// update, guest creation and the lookups the services make.
import { sql, type RawBuilder } from 'kysely';
import { executePrepared } from '../../db/prepared.js';
import type { Db, Micros, Tx, UserRow } from '../../db/schema.js';

/**
 * The ids a `users` row named `users` blocks, oldest block first. The ordered aggregate sets up a sort for every row
 * it runs on, blocks or not (measured: 0.8 ms of PostgreSQL's CPU per 100 updated users in an upsert, a fifth of the
 * statement); the EXISTS probe in front of it costs an index lookup, so only users who block someone pay for the sort.
 */
const BLOCKED_USER_IDS = sql`CASE WHEN NOT EXISTS (SELECT 1 FROM user_blocks b WHERE b.user_id = users.id) THEN '{}'::text[] ELSE (
  SELECT array_agg(b.blocked_user_id ORDER BY b.created_at, b.blocked_user_id)
  FROM user_blocks b WHERE b.user_id = users.id
) END`;

/** Whether that user has a live WebSocket connection (one seen in the last 90 s; see src/connect/). An invisible user is never shown online. */
const ONLINE = sql`(NOT users.invisible AND EXISTS (
  SELECT 1 FROM user_connections c WHERE c.user_id = users.id AND c.seen_at > now() - interval '90 seconds'
))`;

/** The select (or RETURNING) list of a user row, for a `users` row named `users`. */
export const USER_COLUMNS = sql`users.*, ${BLOCKED_USER_IDS} AS blocked_user_ids, ${ONLINE} AS online`;

async function selectUsers(db: Db, where: RawBuilder<unknown>): Promise<UserRow[]> {
  const result = await sql<UserRow>`SELECT ${USER_COLUMNS} FROM users WHERE ${where}`.execute(db);
  return result.rows;
}

/** Every user, deleted and deactivated ones too, in id order: the page after `afterId` (a snapshot's reading). */
export async function listUsersAfter(db: Db, afterId: string | undefined, limit: number): Promise<UserRow[]> {
  const after = afterId === undefined ? sql`TRUE` : sql`users.id > ${afterId}`;
  const result = await sql<UserRow>`SELECT ${USER_COLUMNS} FROM users WHERE ${after} ORDER BY users.id LIMIT ${limit}`.execute(db);
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

/** What an upsert stores for one user; absent fields are cleared, except role and teams (null: keep what is stored). */
export interface UpsertInput {
  id: string;
  name: string | null;
  image: string | null;
  role: string | null;
  teams: string[] | null;
  teams_role: Record<string, string> | null;
  language: string | null;
  invisible: boolean | null;
  privacy_settings: Record<string, unknown> | null;
  custom: Record<string, unknown>;
}

/** The SQLSTATE stream_upsert_refused raises (migrations/008_upsert.sql): its message is the user's id. */
const UPSERT_REFUSED = 'SU001';

/** An upsert that touched a deactivated or deleted user: the statement wrote nothing. */
export class UpsertRefused extends Error {
  constructor(readonly userId: string, readonly state: 'deleted' | 'deactivated') {
    super(`user ${userId} is ${state}`);
  }
}

/**
 * Upserted rows are read back narrowly: the columns the statement set are the input's own values (merged back in
 * upsertUserRows), so only what the row kept or the database chose comes back. Blocks and presence are looked up for
 * updated rows only: an inserted row (xmax = 0) can have neither.
 */
const UPSERT_RETURNING = sql`users.id, users.role, users.teams, users.banned, users.shadow_banned, users.bypass_moderation,
  users.ban_expires, users.created_at, users.updated_at, users.last_active, users.deactivated_at, users.deleted_at,
  users.deletion, users.deactivation, users.revoke_tokens_issued_before, users.deletion_applied,
  CASE WHEN users.xmax = 0 THEN '{}'::text[] ELSE ${BLOCKED_USER_IDS} END AS blocked_user_ids,
  CASE WHEN users.xmax = 0 THEN false ELSE ${ONLINE} END AS online`;

/**
 * What an update does with a column the input may leave out (role, teams): keep the stored value for the users that
 * did not send it. Decided per batch so that the usual batches (nobody sent it, or everybody did) need no per-row test.
 */
function keptUnlessSent(column: 'role' | 'teams', inputs: readonly UpsertInput[]): RawBuilder<unknown> | undefined {
  const sent = inputs.filter((input) => input[column] !== null).map((input) => input.id);
  if (sent.length === 0) return undefined;
  if (sent.length === inputs.length) return sql`${sql.ref(column)} = excluded.${sql.ref(column)}`;
  return sql`${sql.ref(column)} = CASE WHEN excluded.id = ANY(${sent}::text[]) THEN excluded.${sql.ref(column)} ELSE users.${sql.ref(column)} END`;
}

/**
 * Replace semantics, in one plain INSERT … ON CONFLICT that is atomic on its own (it needs no surrounding
 * transaction). Rows are written in id order, so concurrent batches lock shared users in the same order. An update
 * always sees the row's latest version: one that is deactivated or deleted makes stream_upsert_refused raise, and the
 * whole statement writes nothing (thrown here as UpsertRefused). Fields not sent are cleared, except role and teams.
 * `inputsJson` is the JSON array of `inputs`, in the recordset's column names.
 */
export async function upsertUserRows(db: Db, inputs: readonly UpsertInput[], inputsJson: string): Promise<UserRow[]> {
  const updates = [
    sql`name = excluded.name`,
    sql`image = excluded.image`,
    sql`language = excluded.language`,
    sql`teams_role = excluded.teams_role`,
    sql`invisible = excluded.invisible`,
    sql`privacy_settings = excluded.privacy_settings`,
    sql`custom = excluded.custom`,
    ...[keptUnlessSent('role', inputs), keptUnlessSent('teams', inputs)].filter((item) => item !== undefined),
    sql`updated_at = now()`,
    sql`deactivated_at = CASE WHEN users.deactivated_at IS NULL AND users.deleted_at IS NULL THEN NULL
      ELSE stream_upsert_refused(users.id, users.deleted_at IS NOT NULL) END`,
  ];
  let returned: Array<Omit<UserRow, 'name' | 'image' | 'language' | 'teams_role' | 'invisible' | 'privacy_settings' | 'custom'>>;
  try {
    const result = await executePrepared(db, sql<(typeof returned)[number]>`
      INSERT INTO users (id, name, image, role, language, teams, teams_role, invisible, privacy_settings, custom)
      SELECT i.id, i.name, i.image, coalesce(i.role, 'user'), coalesce(i.language, ''), coalesce(i.teams, '{}'),
             i.teams_role, coalesce(i.invisible, false), i.privacy_settings, coalesce(i.custom, '{}')
      FROM jsonb_to_recordset(${inputsJson}::jsonb) AS i(
        id text, name text, image text, role text, teams text[], teams_role jsonb, language text,
        invisible boolean, privacy_settings jsonb, custom jsonb)
      ORDER BY i.id COLLATE "C" -- the lock order (src/db/locks.ts)
      ON CONFLICT (id) DO UPDATE SET ${sql.join(updates)}
      RETURNING ${UPSERT_RETURNING}`);
    returned = result.rows;
  } catch (error) {
    const { code, message, detail } = error as { code?: unknown; message: string; detail?: unknown };
    if (code === UPSERT_REFUSED) throw new UpsertRefused(message, detail === 'deleted' ? 'deleted' : 'deactivated');
    throw error;
  }
  const byId = new Map(inputs.map((input) => [input.id, input]));
  // A new object of one fixed shape per user: the driver's row objects are slow to extend or copy (measured at
  // several µs per row, a tenth of the request's CPU), and everything downstream reads these rows.
  return returned.map((row): UserRow => {
    const input = byId.get(row.id)!;
    return {
      id: row.id,
      name: input.name,
      image: input.image,
      role: row.role,
      language: input.language ?? '',
      teams: row.teams,
      teams_role: input.teams_role,
      invisible: input.invisible ?? false,
      privacy_settings: input.privacy_settings as UserRow['privacy_settings'],
      custom: input.custom as UserRow['custom'],
      banned: row.banned,
      shadow_banned: row.shadow_banned,
      bypass_moderation: row.bypass_moderation,
      ban_expires: row.ban_expires,
      created_at: row.created_at,
      updated_at: row.updated_at,
      last_active: row.last_active,
      deactivated_at: row.deactivated_at,
      deleted_at: row.deleted_at,
      deletion: row.deletion,
      deactivation: row.deactivation,
      revoke_tokens_issued_before: row.revoke_tokens_issued_before,
      deletion_applied: row.deletion_applied,
      blocked_user_ids: row.blocked_user_ids,
      online: row.online,
    };
  });
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

// The user-row and per-id locks belong to the one lock order of the server (src/db/locks.ts).
export { lockUserId, lockUserRows as lockUsers, type LockedUser } from '../../db/locks.js';
