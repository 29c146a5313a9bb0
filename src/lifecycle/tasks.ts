// The task side of the lifecycle: what the worker runs for DeactivateUsers (alone and in batches), ReactivateUsers
// and DeleteUsers (the task table, tasks/table.ts, names these). Each run applies its effects through the worker's
// transaction `trx`, idempotently; deactivation and reactivation go through the effects the request side applies too
// (effects.ts).
import { pseudonymizeActivity } from '../activity/store.js';
import type { ServiceContext } from '../context.js';
import type { Tx } from '../db/schema.js';
import { deleteExportsOfUsers } from '../exports/store.js';
import type { DeactivateUsersPayload, DeleteMode, DeleteUsersPayload, ReactivateUsersPayload } from '../tasks/payloads.js';
import { pruneResultUsers, reduceResultUsersToIds } from '../tasks/store.js';
import { userV2, type UserV2 } from '../users/representation.js';
import { pruneDeletedUsers, removeDeletedUsers, setDeletionApplied } from '../users/store/lifecycle.js';
import { findUsersByIds, lockUsers } from '../users/store/users.js';
import { userDeleted, type AppliedDeletion } from '../webhooks/events.js';
import { deleteUserDeliveries } from '../webhooks/store.js';
import { applyDeactivations, applyReactivation } from './effects.js';
import { insertTombstones } from './store.js';

/** DeactivateUsers: a user already deactivated keeps its first date, so a second run changes nothing. */
export async function runDeactivateUsersTask(ctx: ServiceContext, trx: Tx, payload: DeactivateUsersPayload): Promise<{ users: UserV2[] }> {
  await lockUsers(trx, payload.user_ids); // the lock order: rows first, in id order (src/db/locks.ts)
  const [rows] = await applyDeactivations(ctx, trx, [payload]);
  return { users: rows!.map((row) => userV2(row)) };
}

/**
 * Many DeactivateUsers tasks in one transaction, with the results, users and events that running them one after
 * another in this order gives (applyDeactivations applies them so, and runDeactivateUsersTask is the same call for one
 * task): a user named by several is deactivated by the first (with its options, announced with its created_by), and
 * is already deactivated for the others. The users are locked first, in id order, as requests lock them, so that the
 * batch cannot deadlock with one. A batch in which a task names as its actor (created_by_id) a user that a later task
 * deactivates is refused: run in turn, that task's event shows its actor still active.
 */
export async function runDeactivateUsersTasks(ctx: ServiceContext, trx: Tx, payloads: readonly DeactivateUsersPayload[]): Promise<{ users: UserV2[] }[]> {
  const firstTask = new Map<string, number>();
  payloads.forEach((payload, index) => {
    for (const id of payload.user_ids) if (!firstTask.has(id)) firstTask.set(id, index);
  });
  payloads.forEach((payload, index) => {
    const actor = payload.options.created_by_id;
    if (actor !== undefined && (firstTask.get(actor) ?? -1) > index) throw new Error('an actor of the batch is deactivated by a later task');
  });
  await lockUsers(trx, [...firstTask.keys()]);
  const users = await applyDeactivations(ctx, trx, payloads);
  return users.map((rows) => ({ users: rows.map((row) => userV2(row)) }));
}

/** ReactivateUsers: a user already active is left as it is; a username conflict fails the whole task. */
export async function runReactivateUsersTask(ctx: ServiceContext, trx: Tx, payload: ReactivateUsersPayload): Promise<{ users: UserV2[] }> {
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
export async function runDeleteUsersTask(ctx: ServiceContext, trx: Tx, payload: DeleteUsersPayload): Promise<Record<string, { status: string }>> {
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
