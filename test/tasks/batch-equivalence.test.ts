// The DeactivateUsers runners side by side: the same tasks, on two fresh databases with the same users, run by the
// single runner one after another and by the batch runner in one transaction, leave the same users, the same webhook
// outbox and the same task results. Unlike the worker (whose claim holds back a task that shares a user with an
// earlier unfinished one), the batch here holds tasks that overlap, so the batch runner's "the first task wins" is
// compared too.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsOf } from '../../src/auth/core.js';
import { createServiceContext, type ServiceContext } from '../../src/context.js';
import { toJsonText } from '../../src/lib/json.js';
import { deactivateUser, deleteUsers } from '../../src/lifecycle/service.js';
import type { DeactivateUsersPayload } from '../../src/tasks/payloads.js';
import { taskBatchHandlers, taskHandlers } from '../../src/tasks/handlers.js';
import { enqueueTask, type ClaimedTask } from '../../src/tasks/store.js';
import { upsertUsers } from '../../src/users/service.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

/** Tasks in queue order: overlapping users, two option sets, actors (one deactivated by an earlier task), a user already deactivated and one deleted. */
const PAYLOADS: DeactivateUsersPayload[] = [
  { user_ids: ['u0'], options: { created_by_id: 'actor' } },
  { user_ids: ['u1'], options: {} },
  { user_ids: ['u2', 'u3'], options: { mark_messages_deleted: true, created_by_id: 'actor' } },
  { user_ids: ['u1', 'u4'], options: { created_by_id: 'actor' } },
  { user_ids: ['u5', 'u6', 'gone'], options: { mark_channels_deleted: true } },
  { user_ids: ['u8'], options: {} },
  { user_ids: ['u7', 'u3'], options: { created_by_id: 'u8' } },
];

interface Side {
  database: TestDatabase;
  ctx: ServiceContext;
  tasks: ClaimedTask[];
}

async function prepare(): Promise<Side> {
  const database = await createTestDatabase();
  const ctx = createServiceContext({ db: database.db, credentials: credentialsOf('equivalence', 'equivalence-secret') });
  // Events are recorded only for a hook that takes them; nothing sends them here.
  await ctx.settings.update({ webhook_url: 'http://127.0.0.1:9/hook', webhook_events: [], event_hooks: [] });
  const ids = ['actor', 'gone', ...Array.from({ length: 9 }, (_, i) => `u${i}`)];
  await upsertUsers(ctx, { kind: 'server' }, ids.map((id, i) => ({ id, name: `User ${i}`, custom: { n: i } })));
  await deactivateUser(ctx, 'u5', {});
  await deleteUsers(ctx, ['gone'], {});
  const tasks: ClaimedTask[] = [];
  for (const payload of PAYLOADS) {
    const id = await database.db.transaction().execute((trx) => enqueueTask(trx, 'DeactivateUsers', payload, ctx.tasks));
    tasks.push({ id, type: 'DeactivateUsers', payload, attempts: 1, max_attempts: 5, lease_owner: 'equivalence' });
  }
  return { database, ctx, tasks };
}

/** Stores each task's result as its completion does, so that the comparison reads them from the database. */
async function storeResults(side: Side, results: readonly unknown[]) {
  for (const [index, task] of side.tasks.entries()) {
    await side.database.db.updateTable('tasks').set({ status: 'completed', result: toJsonText(results[index]) }).where('id', '=', task.id).execute();
  }
}

/** A value with its date-times (which differ between the runs) replaced and event bodies read. */
function normalized(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => normalized(item));
  if (typeof value === 'bigint') return String(value);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => {
      if ((/_at$/.test(key) || key === 'last_active' || key === 'age_from') && item !== null) return [key, 'T'];
      if ((key === 'body' || key === 'ended_body') && typeof item === 'string') return [key, normalized(JSON.parse(item))];
      return [key, normalized(item)];
    }),
  );
}

/** What the runs leave: the users, the webhook outbox and the tasks. */
async function stateOf(side: Side) {
  const db = side.database.db;
  const users = await sql`SELECT * FROM users ORDER BY id`.execute(db);
  // Per user in the order written; users in the order of their ids (within one task, the order rows come back from
  // the UPDATE in is the database's own).
  const outbox = await sql`SELECT user_id, hook_id, event_type, status, body, ended_body FROM webhook_deliveries ORDER BY user_id, seq`.execute(db);
  const tasks = await sql`SELECT type, status, payload, result FROM tasks ORDER BY seq`.execute(db);
  return normalized({ users: users.rows, outbox: outbox.rows, tasks: tasks.rows }) as { users: unknown[]; outbox: Array<{ event_type: string }>; tasks: unknown[] };
}

let single: Side;
let batch: Side;
beforeAll(async () => {
  [single, batch] = [await prepare(), await prepare()];
});
afterAll(async () => {
  await single?.database.drop();
  await batch?.database.drop();
});

describe('the DeactivateUsers runners', () => {
  it('leave the same users, outbox and task results run one at a time as in one batch', async () => {
    const run = taskHandlers(single.ctx).DeactivateUsers;
    const singleResults: unknown[] = [];
    for (const task of single.tasks) singleResults.push(await single.database.db.transaction().execute((trx) => run(trx, task)));
    await storeResults(single, singleResults);

    const runBatch = taskBatchHandlers(batch.ctx).DeactivateUsers!;
    const batchResults = await batch.database.db.transaction().execute((trx) => runBatch(trx, batch.tasks));
    await storeResults(batch, batchResults);

    const expected = await stateOf(single);
    // The scenario does what it is meant to: an event for each of the 8 users the tasks change (u5's is the set-up's),
    // none for the deleted user.
    expect(expected.outbox.filter((row) => row.event_type === 'user.deactivated')).toHaveLength(9);
    expect(await stateOf(batch)).toEqual(expected);
  });
});
