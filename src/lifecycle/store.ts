// The lifecycle columns of users: deactivated_at (with what the deactivation asked for), deleted_at (with what the
// deletion asked for), and the pruning or removal that finishes a deletion.
import { sql } from 'kysely';
import type { JsonObject, Tx } from '../db/schema.js';
import type { UserRow } from '../users/representation.js';
import { USER_COLUMNS } from '../users/store/users.js';

const idList = (ids: readonly string[]) => sql.join(ids.map((id) => sql`${id}`));

/** Deactivates the active, undeleted users among `ids`; returns those it changed. */
export async function setDeactivated(trx: Tx, ids: readonly string[], options: JsonObject): Promise<UserRow[]> {
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

/** Marks users deleted (keeping the first deletion date) and records what the deletion asked for. */
export async function setDeleted(trx: Tx, ids: readonly string[], deletion: JsonObject): Promise<void> {
  await sql`
    UPDATE users SET deleted_at = coalesce(deleted_at, now()), deletion = ${JSON.stringify(deletion)}::jsonb, updated_at = now()
    WHERE id IN (${idList(ids)})`.execute(trx);
}

export async function clearDeleted(trx: Tx, ids: readonly string[]): Promise<void> {
  await sql`UPDATE users SET deleted_at = NULL, deletion = NULL, updated_at = now() WHERE id IN (${idList(ids)})`.execute(trx);
}

/** Pruning: the user stays (deleted) without its data; its blocks go. Only users still deleted are touched. */
export async function pruneDeletedUsers(trx: Tx, ids: readonly string[]): Promise<void> {
  await sql`
    UPDATE users SET name = NULL, image = NULL, custom = '{}', teams_role = NULL, privacy_settings = NULL,
      language = '', updated_at = now()
    WHERE id IN (${idList(ids)}) AND deleted_at IS NOT NULL`.execute(trx);
  await sql`DELETE FROM user_blocks WHERE user_id IN (${idList(ids)}) OR blocked_user_id IN (${idList(ids)})`.execute(trx);
}

/** Hard deletion: the rows go (blocks with them, by cascade). Only users still deleted are touched. */
export async function removeDeletedUsers(trx: Tx, ids: readonly string[]): Promise<void> {
  await sql`DELETE FROM users WHERE id IN (${idList(ids)}) AND deleted_at IS NOT NULL`.execute(trx);
}
