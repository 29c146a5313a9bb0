// Deactivation, reactivation, deletion and restore. Single-user calls act at once, each in one transaction; bulk
// calls validate and lock every id, apply what must be visible at once, and enqueue a task in the same transaction
// (the run*Task functions below are what the worker's handlers call). Unknown ids fail the whole request before
// anything changes.
import { pseudonymizeActivity } from '../activity/store.js';
import type { ServiceContext } from '../context.js';
import { inTransaction } from '../db/locks.js';
import type { JsonObject, Tx } from '../db/schema.js';
import { inputError, notFound } from '../http/errors.js';
import { deleteExportsOfUsers } from '../exports/store.js';
import { enqueueTask, pruneResultUsers, reduceResultUsersToIds } from '../tasks/store.js';
import { deleteUserDeliveries } from '../webhooks/store.js';
import { userV2, type UserRow, type UserV2 } from '../users/representation.js';
import { userActivation, userDeleted, userUpdated, type AppliedDeletion } from '../webhooks/events.js';
import { checkUniqueUsernames } from '../users/service.js';
import { lockUsernames } from '../users/store/usernames.js';
import { findUsersByIds, inIdOrder, lockUsers } from '../users/store/users.js';
import { checkUserId } from '../users/validation.js';
import {
  clearDeactivated,
  clearDeleted,
  findTombstones,
  insertTombstones,
  pruneDeletedUsers,
  removeDeletedUsers,
  setDeactivated,
  setDeletionApplied,
  setDeleted,
} from './store.js';

export interface DeactivateOptions {
  mark_messages_deleted?: boolean;
  mark_channels_deleted?: boolean;
  created_by_id?: string;
}

export interface ReactivateOptions {
  name?: string;
  restore_messages?: boolean;
  restore_channels?: boolean;
  created_by_id?: string;
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

/** Deactivates users (an already deactivated one keeps its first date) and returns them all, in the order given. */
async function applyDeactivation(ctx: ServiceContext, trx: Tx, ids: readonly string[], options: DeactivateOptions): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  const changed = await setDeactivated(trx, ids, options as JsonObject);
  await recordActivation(ctx, trx, 'user.deactivated', changed, options.created_by_id);
  const changedIds = new Set(changed.map((row) => row.id));
  const others = await findUsersByIds(trx, ids.filter((id) => !changedIds.has(id)));
  return inIdOrder([...changed, ...others.filter((row) => row.deleted_at === null)], ids);
}

/** user.deactivated or user.reactivated for each user the call changed, naming who did it when the call says. */
async function recordActivation(
  ctx: ServiceContext,
  trx: Tx,
  type: 'user.deactivated' | 'user.reactivated',
  changed: UserRow[],
  createdById: string | undefined,
): Promise<void> {
  if (changed.length === 0 || !(await ctx.events.wanted(trx, type))) return;
  const [createdBy] = createdById === undefined ? [] : await findUsersByIds(trx, [createdById]);
  await ctx.events.record(trx, changed.map((row) => userActivation(type, row, createdBy)));
}

/**
 * Reactivates users, keeping usernames unique where the app enforces it: a name may have been taken while its user
 * was deactivated, so the name each comes back with (`name`, else its old one) is checked under the same lock
 * upserts take. A conflict fails the whole call (code 6), as a duplicate fails a whole upsert batch.
 */
async function applyReactivation(ctx: ServiceContext, trx: Tx, ids: readonly string[], options: ReactivateOptions): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  const { enforce_unique_usernames: mode } = await ctx.settings.read(trx);
  if (mode !== 'no') {
    const stored = await findUsersByIds(trx, ids);
    await lockUsernames(trx, stored.map((row) => options.name ?? row.name));
  }
  const changed = await clearDeactivated(trx, ids, options.name);
  const changedIds = new Set(changed.map((row) => row.id));
  const others = await findUsersByIds(trx, ids.filter((id) => !changedIds.has(id)));
  const rows = inIdOrder([...changed, ...others.filter((row) => row.deleted_at === null)], ids);
  await checkUniqueUsernames(trx, mode, rows);
  await recordActivation(ctx, trx, 'user.reactivated', changed, options.created_by_id);
  return rows;
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
    const [row] = await applyDeactivation(ctx, trx, [id], options);
    return row!;
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
  checkUserIds(ids, 100);
  return inTransaction(ctx.db, async (trx) => {
    await lockTargetsAndActor(trx, ids, options.created_by_id);
    return enqueueTask(trx, 'DeactivateUsers', { user_ids: [...new Set(ids)], options: options as JsonObject }, ctx.tasks);
  });
}

export async function reactivateUsers(ctx: ServiceContext, ids: string[], options: ReactivateOptions): Promise<string> {
  checkUserIds(ids, 100);
  return inTransaction(ctx.db, async (trx) => {
    await lockTargetsAndActor(trx, ids, options.created_by_id);
    return enqueueTask(trx, 'ReactivateUsers', { user_ids: [...new Set(ids)], options: options as JsonObject }, ctx.tasks);
  });
}

/**
 * Marks the users deleted now (invisible to queries, impossible to upsert) and records what was asked; the task
 * prunes or removes them. Options about messages, conversations, calls and files concern data held elsewhere: they
 * are validated and recorded on the user and in the task for downstream systems. Deleting an already deleted user
 * again (e.g. to hard delete it) is allowed; unknown ids are not.
 */
async function markDeleted(ctx: ServiceContext, trx: Tx, ids: string[], options: DeleteOptions): Promise<string> {
  checkUserIds(ids, 100);
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
  const recorded = { ...options, user: mode };
  await setDeleted(trx, unique, recorded);
  return enqueueTask(trx, 'DeleteUsers', { user_ids: unique, options: recorded as JsonObject }, ctx.tasks);
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
  checkUserIds(ids, 100);
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

// --- the tasks' side (tasks/handlers.ts): each run applies its effects through `trx`, idempotently -------------------

interface TaskUsers<Options> {
  user_ids: string[];
  options: Options;
}

/** DeactivateUsers: a user already deactivated keeps its first date, so a second run changes nothing. */
export async function runDeactivateUsersTask(ctx: ServiceContext, trx: Tx, payload: TaskUsers<DeactivateOptions>): Promise<{ users: UserV2[] }> {
  await lockUsers(trx, payload.user_ids); // the lock order: rows first, in id order (src/db/locks.ts)
  const rows = await applyDeactivation(ctx, trx, payload.user_ids, payload.options);
  return { users: rows.map((row) => userV2(row)) };
}

/**
 * Many DeactivateUsers tasks in one transaction, with the results, users and events that running them one after
 * another in this order gives: a user named by several is deactivated by the first (with its options, announced with
 * its created_by), and is already deactivated for the others. The users are locked first, in id order, as requests
 * lock them, so that the batch cannot deadlock with one. A batch in which a task names as its actor (created_by_id)
 * a user that a later task deactivates is refused: run in turn, that task's event shows its actor still active.
 */
export async function runDeactivateUsersTasks(
  ctx: ServiceContext,
  trx: Tx,
  payloads: readonly TaskUsers<DeactivateOptions>[],
): Promise<{ users: UserV2[] }[]> {
  const firstTask = new Map<string, number>();
  payloads.forEach((payload, index) => {
    for (const id of payload.user_ids) if (!firstTask.has(id)) firstTask.set(id, index);
  });
  payloads.forEach((payload, index) => {
    const actor = payload.options.created_by_id;
    if (actor !== undefined && (firstTask.get(actor) ?? -1) > index) throw new Error('an actor of the batch is deactivated by a later task');
  });
  const ids = [...firstTask.keys()];
  await lockUsers(trx, ids);

  // One UPDATE per distinct set of options (usually one), each over the users whose first task asked for it.
  const groups = new Map<string, { options: DeactivateOptions; ids: string[] }>();
  for (const [id, index] of firstTask) {
    const { options } = payloads[index]!;
    const key = JSON.stringify(options);
    const group = groups.get(key) ?? groups.set(key, { options, ids: [] }).get(key)!;
    group.ids.push(id);
  }
  const changed: UserRow[] = [];
  for (const group of groups.values()) changed.push(...(await setDeactivated(trx, group.ids, group.options as JsonObject)));

  if (changed.length > 0 && (await ctx.events.wanted(trx, 'user.deactivated'))) {
    const actorIds = [...new Set(payloads.flatMap((payload) => payload.options.created_by_id ?? []))];
    const actors = new Map((await findUsersByIds(trx, actorIds)).map((row) => [row.id, row]));
    const changedBy = new Map<number, UserRow[]>();
    for (const row of changed) {
      const index = firstTask.get(row.id)!;
      const rows = changedBy.get(index);
      if (rows) rows.push(row);
      else changedBy.set(index, [row]);
    }
    await ctx.events.record(
      trx,
      payloads.flatMap((payload, index) => {
        const actor = payload.options.created_by_id === undefined ? undefined : actors.get(payload.options.created_by_id);
        return (changedBy.get(index) ?? []).map((row) => userActivation('user.deactivated', row, actor));
      }),
    );
  }
  const changedIds = new Set(changed.map((row) => row.id));
  const others = await findUsersByIds(trx, ids.filter((id) => !changedIds.has(id)));
  const live = [...changed, ...others.filter((row) => row.deleted_at === null)];
  return payloads.map((payload) => ({ users: inIdOrder(live, payload.user_ids).map((row) => userV2(row)) }));
}

/** ReactivateUsers: a user already active is left as it is; a username conflict fails the whole task. */
export async function runReactivateUsersTask(ctx: ServiceContext, trx: Tx, payload: TaskUsers<ReactivateOptions>): Promise<{ users: UserV2[] }> {
  // The lock order (src/db/locks.ts): the rows, in id order, before the usernames applyReactivation locks.
  await lockUsers(trx, payload.user_ids);
  const rows = await applyReactivation(ctx, trx, payload.user_ids, payload.options);
  return { users: rows.map((row) => userV2(row)) };
}

/** How strong a deletion mode is: soft < pruning < hard. */
const DELETION_RANK: Record<string, number> = { soft: 1, pruning: 2, hard: 3 };

/**
 * DeleteUsers: the request already marked the users deleted; this finishes the job as each user's recorded deletion
 * says (the strongest asked for, whichever task runs first): soft keeps the data, pruning nullifies name, image and
 * custom data, hard removes the user and leaves a tombstone (so the id can be created afresh, but not by a token of
 * the deleted user). A user gets each stronger deletion once, announced with user.deleted (for a hard deletion, with
 * its last state before it): a second run, a run after a restore, or a weaker request's run, changes nothing.
 */
export async function runDeleteUsersTask(ctx: ServiceContext, trx: Tx, payload: TaskUsers<DeleteOptions>): Promise<Record<string, { status: string }>> {
  const { user_ids } = payload;
  const due = (await lockUsers(trx, user_ids)).flatMap((row) => {
    if (row.deleted_at === null) return [];
    const deletion = { ...(row.deletion as Partial<AppliedDeletion> | null), user: ((row.deletion as { user?: string } | null)?.user ?? 'soft') as DeleteMode };
    return DELETION_RANK[deletion.user]! > (DELETION_RANK[row.deletion_applied ?? ''] ?? 0) ? [{ id: row.id, deletion }] : [];
  });
  if (due.length === 0) return Object.fromEntries(user_ids.map((id) => [id, { status: 'ok' }]));
  const withMode = (mode: DeleteMode) => due.filter((user) => user.deletion.user === mode).map((user) => user.id);
  const announce = await ctx.events.wanted(trx, 'user.deleted');
  // The state before: for a hard deletion, the last there is.
  const before = announce ? new Map((await findUsersByIds(trx, due.map((user) => user.id))).map((row) => [row.id, row])) : undefined;

  const pruned = withMode('pruning');
  await pruneDeletedUsers(trx, pruned);
  await pruneResultUsers(trx, pruned);
  const hard = withMode('hard');
  if (hard.length > 0) {
    const hashes = await ctx.tombstones.hashes(trx, hard);
    await insertTombstones(trx, hashes);
    await removeDeletedUsers(trx, hard);
    await pseudonymizeActivity(trx, hard.map((id, i) => ({ id, hash: hashes[i]! })));
    // Nothing of the user stays behind the tombstone: its id in monthly activity (above), its data in finished task
    // results, its export files, and the webhook deliveries that carried it (before this deletion's own user.deleted is written, below).
    await reduceResultUsersToIds(trx, hard);
    await deleteExportsOfUsers(trx, hard);
    await deleteUserDeliveries(trx, hard);
  }
  for (const mode of ['soft', 'pruning'] as const) await setDeletionApplied(trx, withMode(mode), mode);

  if (before) {
    const after = new Map((await findUsersByIds(trx, due.map((user) => user.id))).map((row) => [row.id, row]));
    await ctx.events.record(
      trx,
      due.flatMap(({ id, deletion }) => {
        const row = after.get(id) ?? before.get(id);
        return row ? [userDeleted(row, deletion)] : [];
      }),
    );
  }
  return Object.fromEntries(user_ids.map((id) => [id, { status: 'ok' }]));
}

/** Whether a user of this id was hard deleted (its tombstone tells, once the deletion removed the row). */
export async function wasHardDeleted(ctx: ServiceContext, id: string): Promise<boolean> {
  checkUserId(id);
  const [hash] = await ctx.tombstones.hashes(ctx.db, [id]);
  return (await findTombstones(ctx.db, [hash!])).size > 0;
}
