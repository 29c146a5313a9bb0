// Deactivation, reactivation, deletion and restore, as requests ask for them. Single-user calls act at once, each in
// one transaction; bulk calls validate and lock every id, apply what must be visible at once, and enqueue a task in the
// same transaction (its runner is in tasks.ts; the effects both sides apply are in effects.ts). Unknown ids fail the
// whole request before anything changes.
import type { ServiceContext } from '../context.js';
import { inTransaction } from '../db/locks.js';
import type { Tx, UserRow } from '../db/schema.js';
import { inputError, notFound } from '../http/errors.js';
import { MAX_USERS_PER_REQUEST } from '../limits.js';
import type { DeactivateOptions, DeactivateUsersPayload, DeleteOptions, DeleteUsersPayload, ReactivateOptions, ReactivateUsersPayload } from '../tasks/payloads.js';
import { enqueueTask } from '../tasks/store.js';
import { userUpdated } from '../webhooks/events.js';
import { checkUniqueUsernames } from '../users/service.js';
import { clearDeleted, setDeleted } from '../users/store/lifecycle.js';
import { lockUsernames } from '../users/store/usernames.js';
import { findUsersByIds, lockUsers } from '../users/store/users.js';
import { checkUserId } from '../users/validation.js';
import { applyDeactivations, applyReactivation } from './effects.js';
import { findTombstones } from './store.js';

export type { DeactivateOptions, DeleteMode, DeleteOptions, ReactivateOptions } from '../tasks/payloads.js';

export function checkUserIds(ids: readonly string[], max: number) {
  if (ids.length === 0) throw inputError('user_ids must contain at least one user id');
  if (ids.length > max) throw inputError(`user_ids must contain at most ${max} user ids`);
  for (const id of ids) checkUserId(id);
}

/**
 * Locks the users (in id order, so concurrent requests cannot deadlock) and fails on any unknown or deleted id.
 * Returns them in id order.
 */
export async function lockExistingUsers(trx: Tx, ids: readonly string[], what = 'user') {
  for (const id of ids) checkUserId(id);
  const live = new Map((await lockUsers(trx, ids)).filter((row) => row.deleted_at === null).map((row) => [row.id, row]));
  return [...new Set(ids)].sort().map((id) => {
    const row = live.get(id);
    if (!row) throw notFound(`${what} "${id}" does not exist`);
    return row;
  });
}

/**
 * Locks the users a call acts on together with the user it names as the actor (created_by_id), in one statement in id
 * order: two calls that name each other (A deactivated by B, B by A) then wait for each other instead of deadlocking.
 */
async function lockTargetsAndActor(trx: Tx, ids: readonly string[], createdById: string | undefined) {
  const rows = await lockExistingUsers(trx, createdById === undefined ? ids : [...ids, createdById]);
  return new Map(rows.map((row) => [row.id, row]));
}

export async function deactivateUser(ctx: ServiceContext, id: string, options: DeactivateOptions): Promise<UserRow> {
  return inTransaction(ctx.db, async (trx) => {
    await lockTargetsAndActor(trx, [id], options.created_by_id);
    const [rows] = await applyDeactivations(ctx, trx, [{ user_ids: [id], options }]);
    return rows![0]!;
  });
}

export async function reactivateUser(ctx: ServiceContext, id: string, options: ReactivateOptions): Promise<UserRow> {
  return inTransaction(ctx.db, async (trx) => {
    const user = (await lockTargetsAndActor(trx, [id], options.created_by_id)).get(id);
    if (user!.deactivated_at === null) throw inputError(`user "${id}" is not deactivated, it can't be reactivated`);
    const [row] = await applyReactivation(ctx, trx, [id], options);
    return row!;
  });
}

export async function deactivateUsers(ctx: ServiceContext, ids: string[], options: DeactivateOptions): Promise<string> {
  checkUserIds(ids, MAX_USERS_PER_REQUEST);
  return inTransaction(ctx.db, async (trx) => {
    await lockTargetsAndActor(trx, ids, options.created_by_id);
    const payload: DeactivateUsersPayload = { user_ids: [...new Set(ids)], options };
    return enqueueTask(trx, 'DeactivateUsers', payload, ctx.tasks);
  });
}

export async function reactivateUsers(ctx: ServiceContext, ids: string[], options: ReactivateOptions): Promise<string> {
  checkUserIds(ids, MAX_USERS_PER_REQUEST);
  return inTransaction(ctx.db, async (trx) => {
    await lockTargetsAndActor(trx, ids, options.created_by_id);
    const payload: ReactivateUsersPayload = { user_ids: [...new Set(ids)], options };
    return enqueueTask(trx, 'ReactivateUsers', payload, ctx.tasks);
  });
}

/**
 * Marks the users deleted now (invisible to queries, impossible to upsert) and records what was asked; the task
 * prunes or removes them. Options about messages, conversations, calls and files concern data held elsewhere: they
 * are validated and recorded on the user and in the task for downstream systems. Deleting an already deleted user
 * again (e.g. to hard delete it) is allowed; unknown ids are not.
 */
async function markDeleted(ctx: ServiceContext, trx: Tx, ids: string[], options: DeleteOptions): Promise<string> {
  checkUserIds(ids, MAX_USERS_PER_REQUEST);
  const mode = options.user ?? 'soft';
  if (mode === 'hard' && (options.messages !== 'hard' || options.conversations !== 'hard')) {
    throw inputError('hard deleting a user requires messages and conversations to be hard deleted too (messages: "hard", conversations: "hard")');
  }
  for (const owner of [options.new_channel_owner_id, options.new_call_owner_id]) {
    if (owner !== undefined) checkUserId(owner, 'new owner id');
  }
  const unique = [...new Set(ids)];
  const found = new Set((await lockUsers(trx, unique)).map((row) => row.id));
  for (const id of unique) {
    if (!found.has(id)) throw notFound(`user "${id}" does not exist`);
  }
  const payload: DeleteUsersPayload = { user_ids: unique, options: { ...options, user: mode } };
  await setDeleted(trx, unique, payload.options);
  return enqueueTask(trx, 'DeleteUsers', payload, ctx.tasks);
}

export async function deleteUsers(ctx: ServiceContext, ids: string[], options: DeleteOptions): Promise<string> {
  return inTransaction(ctx.db, (trx) => markDeleted(ctx, trx, ids, options));
}

/** The legacy single-user delete: DeleteUsers for one user, answering with the user as it now stands. */
export async function deleteUser(ctx: ServiceContext, id: string, options: DeleteOptions): Promise<{ row: UserRow; taskId: string }> {
  return inTransaction(ctx.db, async (trx) => {
    const taskId = await markDeleted(ctx, trx, [id], options);
    const [row] = await findUsersByIds(trx, [id]);
    return { row: row!, taskId };
  });
}

/**
 * Brings soft-deleted users back, with their data. Users pruned or hard deleted (also once the hard deletion has
 * removed them, which their tombstone tells) cannot be restored. A restored user's name is held to the app's
 * unique-username rule, as any write of a name is.
 */
export async function restoreUsers(ctx: ServiceContext, ids: string[]): Promise<void> {
  checkUserIds(ids, MAX_USERS_PER_REQUEST);
  const unique = [...new Set(ids)];
  const { enforce_unique_usernames: mode } = await ctx.settings.get();
  await inTransaction(ctx.db, async (trx) => {
    const byId = new Map((await lockUsers(trx, unique)).map((row) => [row.id, row]));
    const missing = unique.filter((id) => !byId.has(id));
    const hashes = await ctx.tombstones.hashes(trx, missing);
    const tombstoned = await findTombstones(trx, hashes);
    for (const id of unique) {
      const row = byId.get(id);
      if (!row) {
        if (tombstoned.has(hashes[missing.indexOf(id)]!)) throw inputError(`user "${id}" was hard deleted, it can't be restored`);
        throw notFound(`user "${id}" does not exist`);
      }
      if (row.deleted_at === null) throw inputError(`user "${id}" is not deleted, it can't be restored`);
      const deletion = (row.deletion as { user?: string } | null)?.user ?? 'soft';
      if (deletion !== 'soft') throw inputError(`user "${id}" was ${deletion === 'hard' ? 'hard' : 'pruning'} deleted, it can't be restored`);
    }
    if (mode !== 'no') await lockUsernames(trx, (await findUsersByIds(trx, unique)).map((row) => row.name));
    await clearDeleted(trx, unique);
    const restored = await findUsersByIds(trx, unique);
    await checkUniqueUsernames(trx, mode, restored);
    await ctx.events.record(trx, restored.map(userUpdated));
  });
}

/** Whether a user of this id was hard deleted (its tombstone tells, once the deletion removed the row). */
export async function wasHardDeleted(ctx: ServiceContext, id: string): Promise<boolean> {
  checkUserId(id);
  const [hash] = await ctx.tombstones.hashes(ctx.db, [id]);
  return (await findTombstones(ctx.db, [hash!])).size > 0;
}
