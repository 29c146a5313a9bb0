// Deactivation, reactivation, deletion and restore. Single-user calls act at once; bulk calls enqueue a task in the
// request's transaction (tasks/handlers/ finish them). Unknown ids fail the whole request before anything changes.
import { sql } from 'kysely';
import { getAppSettings } from '../app-settings/service.js';
import type { JsonObject } from '../db/schema.js';
import { inputError, notFound } from '../http/errors.js';
import { enqueueTask } from '../tasks/queue.js';
import type { UserRow } from './representation.js';
import { USER_COLUMNS, findUsersByIds, inIdOrder, type Executor } from './store.js';
import { checkUniqueUsernames, lockUsernames } from './usernames.js';
import { checkUserId } from './validation.js';

export interface TaskSettings {
  maxAttempts: number;
}

export interface LockedUser {
  id: string;
  deactivated_at: UserRow['deactivated_at'];
}

/**
 * Locks the users (in id order, so concurrent requests cannot deadlock) and fails on any unknown or deleted id.
 * Reads only what the checks need: this runs on every enqueue.
 */
export async function lockExistingUsers(trx: Executor, ids: readonly string[], what = 'user'): Promise<LockedUser[]> {
  for (const id of ids) checkUserId(id);
  const unique = [...new Set(ids)].sort();
  const rows = await sql<LockedUser & { deleted_at: UserRow['deleted_at'] }>`
    SELECT id, deactivated_at, deleted_at FROM users
    WHERE id IN (${sql.join(unique.map((id) => sql`${id}`))})
    ORDER BY id
    FOR UPDATE`.execute(trx);
  const live = new Map(rows.rows.filter((row) => row.deleted_at === null).map((row) => [row.id, row]));
  return unique.map((id) => {
    const row = live.get(id);
    if (!row) throw notFound(`${what} "${id}" does not exist`);
    return { id: row.id, deactivated_at: row.deactivated_at };
  });
}

export function checkUserIds(ids: readonly string[], max: number) {
  if (ids.length === 0) throw inputError('user_ids must contain at least one user id');
  if (ids.length > max) throw inputError(`user_ids must contain at most ${max} user ids`);
  for (const id of ids) checkUserId(id);
}

export interface DeactivateOptions {
  mark_messages_deleted?: boolean;
  mark_channels_deleted?: boolean;
  created_by_id?: string;
}

/** Sets deactivated_at (keeping the first date if already deactivated) and records the options. */
export async function applyDeactivation(trx: Executor, ids: readonly string[], options: DeactivateOptions): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  const result = await sql<UserRow>`
    UPDATE users SET
      deactivated_at = now(),
      deactivation = ${JSON.stringify(options)}::jsonb,
      updated_at = now()
    WHERE id IN (${sql.join(ids.map((id) => sql`${id}`))}) AND deactivated_at IS NULL AND deleted_at IS NULL
    RETURNING ${USER_COLUMNS}`.execute(trx);
  const changed = new Map(result.rows.map((row) => [row.id, row]));
  const unchanged = ids.filter((id) => !changed.has(id));
  const others = await findUsersByIds(trx, unchanged);
  return inIdOrder([...result.rows, ...others.filter((row) => row.deleted_at === null)], ids);
}

export interface ReactivateOptions {
  name?: string;
  restore_messages?: boolean;
  restore_channels?: boolean;
  created_by_id?: string;
}

/** Clears deactivated_at; a new name, when given, replaces the old one. */
export async function applyReactivation(trx: Executor, ids: readonly string[], options: ReactivateOptions): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  const result = await sql<UserRow>`
    UPDATE users SET
      deactivated_at = NULL,
      deactivation = NULL,
      name = coalesce(${options.name ?? null}::text, name),
      updated_at = now()
    WHERE id IN (${sql.join(ids.map((id) => sql`${id}`))}) AND deactivated_at IS NOT NULL AND deleted_at IS NULL
    RETURNING ${USER_COLUMNS}`.execute(trx);
  const changed = new Map(result.rows.map((row) => [row.id, row]));
  const others = await findUsersByIds(trx, ids.filter((id) => !changed.has(id)));
  return inIdOrder([...result.rows, ...others.filter((row) => row.deleted_at === null)], ids);
}

export async function deactivateUser(trx: Executor, id: string, options: DeactivateOptions): Promise<UserRow> {
  if (options.created_by_id !== undefined) await lockExistingUsers(trx, [options.created_by_id]);
  await lockExistingUsers(trx, [id]);
  const [row] = await applyDeactivation(trx, [id], options);
  return row!;
}

/**
 * Reactivates users, keeping usernames unique where the app enforces it: a name may have been taken while its user
 * was deactivated, so the name each comes back with (`name`, else its old one) is checked under the same lock
 * upserts take. A conflict fails the whole call (code 6), as a duplicate fails a whole upsert batch.
 */
export async function applyReactivationUniquely(trx: Executor, ids: readonly string[], options: ReactivateOptions): Promise<UserRow[]> {
  const { enforce_unique_usernames: mode } = await getAppSettings(trx);
  if (mode !== 'no') {
    const stored = await findUsersByIds(trx, ids);
    await lockUsernames(trx, stored.map((row) => options.name ?? row.name));
  }
  const rows = await applyReactivation(trx, ids, options);
  await checkUniqueUsernames(trx, mode, rows);
  return rows;
}

export async function reactivateUser(trx: Executor, id: string, options: ReactivateOptions): Promise<UserRow> {
  if (options.created_by_id !== undefined) await lockExistingUsers(trx, [options.created_by_id]);
  const [user] = await lockExistingUsers(trx, [id]);
  if (user!.deactivated_at === null) throw inputError(`user "${id}" is not deactivated, it can't be reactivated`);
  const [row] = await applyReactivationUniquely(trx, [id], options);
  return row!;
}

export async function enqueueDeactivation(trx: Executor, ids: string[], options: DeactivateOptions, settings: TaskSettings): Promise<string> {
  checkUserIds(ids, 100);
  if (options.created_by_id !== undefined) await lockExistingUsers(trx, [options.created_by_id]);
  await lockExistingUsers(trx, ids);
  return enqueueTask(trx, 'DeactivateUsers', { user_ids: [...new Set(ids)], options: options as JsonObject }, settings);
}

export async function enqueueReactivation(trx: Executor, ids: string[], options: ReactivateOptions, settings: TaskSettings): Promise<string> {
  checkUserIds(ids, 100);
  if (options.created_by_id !== undefined) await lockExistingUsers(trx, [options.created_by_id]);
  await lockExistingUsers(trx, ids);
  return enqueueTask(trx, 'ReactivateUsers', { user_ids: [...new Set(ids)], options: options as JsonObject }, settings);
}

/** ExportUsers: 1 to 25 existing users. */
export async function enqueueExport(trx: Executor, ids: string[], settings: TaskSettings): Promise<string> {
  checkUserIds(ids, 25);
  await lockExistingUsers(trx, ids);
  return enqueueTask(trx, 'ExportUsers', { user_ids: [...new Set(ids)] }, settings);
}

export type DeleteMode = 'soft' | 'pruning' | 'hard';

export interface DeleteOptions {
  user?: DeleteMode;
  messages?: DeleteMode;
  conversations?: 'soft' | 'hard';
  calls?: 'soft' | 'hard';
  files?: boolean;
  new_channel_owner_id?: string;
  new_call_owner_id?: string;
}

/**
 * Marks the users deleted now (invisible to queries, impossible to upsert) and records what was asked; the task
 * prunes or removes them. Options about messages, conversations, calls and files concern data held elsewhere: they
 * are validated and recorded on the user and in the task for downstream systems.
 */
export async function deleteUsers(trx: Executor, ids: string[], options: DeleteOptions, settings: TaskSettings): Promise<string> {
  checkUserIds(ids, 100);
  const mode = options.user ?? 'soft';
  if (mode === 'hard' && (options.messages !== 'hard' || options.conversations !== 'hard')) {
    throw inputError('hard deleting a user requires messages and conversations to be hard deleted too (messages: "hard", conversations: "hard")');
  }
  for (const owner of [options.new_channel_owner_id, options.new_call_owner_id]) {
    if (owner !== undefined) checkUserId(owner, 'new owner id');
  }
  const unique = [...new Set(ids)];
  await lockExistingUsersOrDeleted(trx, unique);
  const recorded = { ...options, user: mode };
  await sql`
    UPDATE users SET
      deleted_at = coalesce(deleted_at, now()),
      deletion = ${JSON.stringify(recorded)}::jsonb,
      updated_at = now()
    WHERE id IN (${sql.join(unique.map((id) => sql`${id}`))})`.execute(trx);
  return enqueueTask(trx, 'DeleteUsers', { user_ids: unique, options: recorded as JsonObject }, settings);
}

/** Deleting an already soft-deleted user again (e.g. to hard delete it) is allowed; unknown ids are not. */
async function lockExistingUsersOrDeleted(trx: Executor, ids: readonly string[]): Promise<void> {
  const rows = await sql<{ id: string }>`
    SELECT id FROM users WHERE id IN (${sql.join([...ids].sort().map((id) => sql`${id}`))}) ORDER BY id FOR UPDATE`.execute(trx);
  const found = new Set(rows.rows.map((row) => row.id));
  for (const id of ids) {
    if (!found.has(id)) throw notFound(`user "${id}" does not exist`);
  }
}

/** Brings soft-deleted users back, with their data; users pruned or hard deleted cannot be restored. */
export async function restoreUsers(trx: Executor, ids: string[]): Promise<void> {
  checkUserIds(ids, 100);
  const unique = [...new Set(ids)];
  const rows = await sql<Pick<UserRow, 'id' | 'deleted_at' | 'deletion'>>`
    SELECT id, deleted_at, deletion FROM users
    WHERE id IN (${sql.join([...unique].sort().map((id) => sql`${id}`))}) ORDER BY id FOR UPDATE`.execute(trx);
  const byId = new Map(rows.rows.map((row) => [row.id, row]));
  for (const id of unique) {
    const row = byId.get(id);
    if (!row) throw notFound(`user "${id}" does not exist`);
    if (row.deleted_at === null) throw inputError(`user "${id}" is not deleted, it can't be restored`);
    const mode = (row.deletion as { user?: string } | null)?.user ?? 'soft';
    if (mode !== 'soft') throw inputError(`user "${id}" was ${mode === 'hard' ? 'hard' : 'pruning'} deleted, it can't be restored`);
  }
  await sql`
    UPDATE users SET deleted_at = NULL, deletion = NULL, updated_at = now()
    WHERE id IN (${sql.join(unique.map((id) => sql`${id}`))})`.execute(trx);
}
