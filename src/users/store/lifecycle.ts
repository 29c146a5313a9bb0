// The lifecycle columns of users: deactivated_at (with what the deactivation asked for), deleted_at (with what the
// deletion asked for), the pruning or removal that finishes a deletion, and last_active. Part of the users store, the
// one module that writes the users table; lifecycle/ and activity/ services call these.
import { sql, type RawBuilder } from 'kysely';
import type { Db, JsonObject, Tx, UserRow } from '../../db/schema.js';
import { USER_COLUMNS } from './users.js';

const idList = (ids: readonly string[]) => sql.join(ids.map((id) => sql`${id}`));
const now = () => sql<never>`now()`;

/** Deactivates the active, undeleted users among `ids`; returns those it changed. */
export async function setDeactivated(trx: Tx, ids: readonly string[], options: object): Promise<UserRow[]> {
  const result = await sql<UserRow>`
    UPDATE users SET deactivated_at = now(), deactivation = ${JSON.stringify(options)}::jsonb, updated_at = now()
    WHERE id IN (${idList(ids)}) AND deactivated_at IS NULL AND deleted_at IS NULL
    RETURNING ${USER_COLUMNS}`.execute(trx);
  return result.rows;
}

/** Reactivates the deactivated, undeleted users among `ids` (with a new name when given); returns those it changed. */
export async function clearDeactivated(trx: Tx, ids: readonly string[], name: string | undefined): Promise<UserRow[]> {
  const result = await sql<UserRow>`
    UPDATE users SET deactivated_at = NULL, deactivation = NULL, name = coalesce(${name ?? null}::text, name), updated_at = now()
    WHERE id IN (${idList(ids)}) AND deactivated_at IS NOT NULL AND deleted_at IS NULL
    RETURNING ${USER_COLUMNS}`.execute(trx);
  return result.rows;
}

/** How strong a deletion mode is: soft < pruning < hard. */
const modeRank = (mode: RawBuilder<unknown>) => sql`(CASE ${mode} WHEN 'hard' THEN 3 WHEN 'pruning' THEN 2 ELSE 1 END)`;

/**
 * Marks users deleted (keeping the first deletion date) and records what the deletion asked for, unless a user is
 * deleted already with a stronger mode: a later, weaker request never lowers what was asked.
 */
export async function setDeleted(trx: Tx, ids: readonly string[], deletion: JsonObject & { user: string }): Promise<void> {
  await sql`
    UPDATE users SET
      deleted_at = coalesce(deleted_at, now()),
      deletion = CASE WHEN deleted_at IS NOT NULL AND ${modeRank(sql`deletion ->> 'user'`)} > ${modeRank(sql`${deletion.user}::text`)}
                 THEN deletion ELSE ${JSON.stringify(deletion)}::jsonb END,
      updated_at = now()
    WHERE id IN (${idList(ids)})`.execute(trx);
}

/** Restore: the users are no longer deleted, and nothing of their deletion is left recorded. */
export async function clearDeleted(trx: Tx, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await trx
    .updateTable('users')
    .set({ deleted_at: null, deletion: null, deletion_applied: null, updated_at: now() })
    .where('id', 'in', [...ids])
    .execute();
}

/** Records which deletion a task has applied (and announced) to users still deleted. */
export async function setDeletionApplied(trx: Tx, ids: readonly string[], mode: string): Promise<void> {
  if (ids.length === 0) return;
  await trx.updateTable('users').set({ deletion_applied: mode }).where('id', 'in', [...ids]).where('deleted_at', 'is not', null).execute();
}

/** Pruning: the user stays (deleted) without its data; its blocks go. Only users still deleted are touched. */
export async function pruneDeletedUsers(trx: Tx, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`
    UPDATE users SET name = NULL, image = NULL, custom = '{}', teams_role = NULL, privacy_settings = NULL,
      language = '', updated_at = now()
    WHERE id IN (${idList(ids)}) AND deleted_at IS NOT NULL`.execute(trx);
  await sql`DELETE FROM user_blocks WHERE user_id IN (${idList(ids)}) OR blocked_user_id IN (${idList(ids)})`.execute(trx);
}

/** Hard deletion: the rows go (blocks with them, by cascade). Only users still deleted are touched. */
export async function removeDeletedUsers(trx: Tx, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await trx.deleteFrom('users').where('id', 'in', [...ids]).where('deleted_at', 'is not', null).execute();
}

/** Sets last_active to now; false when the user does not exist (yet) or is deleted. */
export async function touchLastActive(db: Db, userId: string): Promise<boolean> {
  const updated = await db.updateTable('users').set({ last_active: now() }).where('id', '=', userId).where('deleted_at', 'is', null).executeTakeFirst();
  return Number(updated.numUpdatedRows) > 0;
}
