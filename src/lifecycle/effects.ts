// The effects of deactivation and reactivation, shared by the request side (service.ts: the single-user calls) and the
// task side (tasks.ts: the runners, alone and in batches), so that every path changes users and records events the
// same way. Each takes the caller's transaction and expects the users' rows locked already (src/db/locks.ts).
import type { ServiceContext } from '../context.js';
import type { Tx, UserRow } from '../db/schema.js';
import type { DeactivateOptions, ReactivateOptions } from '../tasks/payloads.js';
import { checkUniqueUsernames } from '../users/service.js';
import { clearDeactivated, setDeactivated } from '../users/store/lifecycle.js';
import { lockUsernames } from '../users/store/usernames.js';
import { findUsersByIds, inIdOrder } from '../users/store/users.js';
import { userActivation } from '../webhooks/events.js';

/** One deactivation asked for: these users, with these options (the actor is `options.created_by_id`). */
export interface Deactivation {
  user_ids: readonly string[];
  options: DeactivateOptions;
}

/**
 * Applies deactivations in order, as if each ran after the one before: a user named by several is deactivated by the
 * first (with its options, announced with its actor) and found already deactivated by the others; a user already
 * deactivated keeps its first date. Returns, for each deactivation, its users as they now stand (deleted ones left
 * out), in the order it named them. One UPDATE per distinct set of options (usually one).
 */
export async function applyDeactivations(ctx: ServiceContext, trx: Tx, deactivations: readonly Deactivation[]): Promise<UserRow[][]> {
  const firstAsker = new Map<string, number>();
  deactivations.forEach((deactivation, index) => {
    for (const id of deactivation.user_ids) if (!firstAsker.has(id)) firstAsker.set(id, index);
  });
  const groups = new Map<string, { options: DeactivateOptions; ids: string[] }>();
  for (const [id, index] of firstAsker) {
    const { options } = deactivations[index]!;
    const key = JSON.stringify(options);
    const group = groups.get(key) ?? groups.set(key, { options, ids: [] }).get(key)!;
    group.ids.push(id);
  }
  const changed: UserRow[] = [];
  for (const group of groups.values()) changed.push(...(await setDeactivated(trx, group.ids, group.options)));

  const changedBy = deactivations.map((): UserRow[] => []);
  for (const row of changed) changedBy[firstAsker.get(row.id)!]!.push(row);
  await recordActivations(
    ctx,
    trx,
    'user.deactivated',
    deactivations.map((deactivation, index) => ({ rows: changedBy[index]!, createdById: deactivation.options.created_by_id })),
  );
  const live = await withUnchanged(trx, [...firstAsker.keys()], changed);
  return deactivations.map((deactivation) => inIdOrder(live, deactivation.user_ids));
}

/**
 * Reactivates users, keeping usernames unique where the app enforces it: a name may have been taken while its user
 * was deactivated, so the name each comes back with (`name`, else its old one) is checked under the same lock
 * upserts take. A conflict fails the whole call (code 6), as a duplicate fails a whole upsert batch. Returns the users
 * (deleted ones left out), in the order given.
 */
export async function applyReactivation(ctx: ServiceContext, trx: Tx, ids: readonly string[], options: ReactivateOptions): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  const { enforce_unique_usernames: mode } = await ctx.settings.read(trx);
  if (mode !== 'no') {
    const stored = await findUsersByIds(trx, ids);
    await lockUsernames(trx, stored.map((row) => options.name ?? row.name));
  }
  const changed = await clearDeactivated(trx, ids, options.name);
  const rows = inIdOrder(await withUnchanged(trx, ids, changed), ids);
  await checkUniqueUsernames(trx, mode, rows);
  await recordActivations(ctx, trx, 'user.reactivated', [{ rows: changed, createdById: options.created_by_id }]);
  return rows;
}

/** The rows a change returned, with the other users of `ids` read as they stand; deleted users are left out. */
async function withUnchanged(trx: Tx, ids: readonly string[], changed: UserRow[]): Promise<UserRow[]> {
  const changedIds = new Set(changed.map((row) => row.id));
  const others = await findUsersByIds(trx, ids.filter((id) => !changedIds.has(id)));
  return [...changed, ...others.filter((row) => row.deleted_at === null)];
}

/**
 * user.deactivated or user.reactivated for each user changed, in order, naming who did it where the change says. The
 * actors are read once, and only when a hook wants the event.
 */
async function recordActivations(
  ctx: ServiceContext,
  trx: Tx,
  type: 'user.deactivated' | 'user.reactivated',
  changes: ReadonlyArray<{ rows: UserRow[]; createdById: string | undefined }>,
): Promise<void> {
  if (changes.every((change) => change.rows.length === 0) || !(await ctx.events.wanted(trx, type))) return;
  const actorIds = [...new Set(changes.flatMap((change) => (change.rows.length > 0 && change.createdById !== undefined ? [change.createdById] : [])))];
  const actors = new Map((await findUsersByIds(trx, actorIds)).map((row) => [row.id, row]));
  await ctx.events.record(
    trx,
    changes.flatMap((change) => {
      const actor = change.createdById === undefined ? undefined : actors.get(change.createdById);
      return change.rows.map((row) => userActivation(type, row, actor));
    }),
  );
}
