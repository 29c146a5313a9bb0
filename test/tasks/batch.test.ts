// Tasks run in batches (one transaction for many DeactivateUsers tasks) against the real database: the same results,
// user changes and events as run one at a time; a failing task fails alone; a task taken over is not completed.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskBatchHandlers, taskHandlers } from '../../src/tasks/handlers.js';
import { claimTasks, completeTasks, enqueueTask, runAndCompleteAll } from '../../src/tasks/store.js';
import { Worker, type TaskOutcome, type WorkerOptions } from '../../src/tasks/worker.js';
import { usingPostgres } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ worker: false, webhooks: false });
  // Events are recorded only for a hook that takes them; nobody sends them here (no dispatcher).
  await server.client.updateApp({ webhook_url: 'http://127.0.0.1:9/hook', webhook_events: [], event_hooks: [] });
});
afterAll(async () => {
  await server?.close();
});

const db = () => server.database.db;

/** Runs a worker until every task of `ids` is finished (completed, failed, or waiting for a retry), then stops it. */
async function drain(ids: string[], options: Partial<WorkerOptions> = {}) {
  const outcomes: TaskOutcome[] = [];
  const worker = new Worker({
    db: db(),
    handlers: taskHandlers(server.app.services),
    leaseMs: 30_000,
    concurrency: 1,
    pollMs: 50,
    backoffMs: 60_000,
    onOutcome: (_type, outcome) => outcomes.push(outcome),
    ...options,
  });
  await worker.start();
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const open = await db().selectFrom('tasks').select('id').where('id', 'in', ids).where('status', 'in', ['pending', 'running']).execute();
      if (open.length === 0) break;
      if (Date.now() > deadline) throw new Error(`${open.length} tasks still unfinished`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    await worker.stop();
  }
  return outcomes;
}

const enqueueDeactivation = (userIds: string[], createdById?: string) =>
  db()
    .transaction()
    .execute((trx) =>
      enqueueTask(trx, 'DeactivateUsers', { user_ids: userIds, options: createdById ? { created_by_id: createdById } : {} }, { maxAttempts: 5 }),
    );

async function tasksById(ids: string[]) {
  const rows = await db().selectFrom('tasks').select(['id', 'status', 'result', 'error', 'attempts', 'updated_at']).where('id', 'in', ids).execute();
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id)!);
}

/** A JSON value with the run's own prefix taken out of ids and every date-time replaced, to compare two runs. */
function normalized(value: unknown, prefix: string): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, v) => (/_at$/.test(key) && v !== null ? 'T' : v)).replaceAll(`${prefix}-`, 'X-'),
  );
}

async function eventsAbout(prefix: string) {
  const rows = await sql<{ user_id: string; body: string }>`
    SELECT user_id, body FROM webhook_deliveries WHERE user_id LIKE ${`${prefix}-%`} ORDER BY seq`.execute(db());
  return rows.rows.map((row) => normalized(JSON.parse(row.body), prefix));
}

async function usersOf(prefix: string) {
  const rows = await sql`SELECT id, deactivation, deactivated_at IS NOT NULL AS deactivated FROM users WHERE id LIKE ${`${prefix}-%`} ORDER BY id`.execute(db());
  return normalized(rows.rows, prefix);
}

/** One-user tasks for users <prefix>-0…7 (half of them naming an actor), then one naming two users already named. */
async function enqueueScenario(prefix: string): Promise<string[]> {
  const ids = Array.from({ length: 8 }, (_, i) => `${prefix}-${i}`);
  await server.client.upsertUsers([...ids, `${prefix}-actor`].map((id, i) => ({ id, name: `User ${i}`, custom: { n: i } })));
  const tasks: string[] = [];
  for (const [i, id] of ids.entries()) tasks.push(await enqueueDeactivation([id], i % 2 === 0 ? `${prefix}-actor` : undefined));
  tasks.push(await enqueueDeactivation([`${prefix}-1`, `${prefix}-2`]));
  return tasks;
}

describe('batches of DeactivateUsers tasks', () => {
  it('give each task the result, user changes and events it gets when the tasks run one at a time', async () => {
    const alone = await enqueueScenario('alone');
    expect(await drain(alone)).toEqual(alone.map(() => 'completed'));
    const batched = await enqueueScenario('batched');
    expect(await drain(batched, { batchHandlers: taskBatchHandlers(server.app.services), batchSize: 50 })).toEqual(batched.map(() => 'completed'));

    const aloneTasks = await tasksById(alone);
    const batchedTasks = await tasksById(batched);
    expect(batchedTasks.every((task) => task.status === 'completed' && task.attempts === 1)).toBe(true);
    // The eight one-user tasks in one transaction (one completion time); the last task, which shares users with
    // earlier ones, only once they are finished (per-user order: the claim does not take it before).
    expect(new Set(batchedTasks.slice(0, 8).map((task) => task.updated_at)).size).toBe(1);
    expect(batchedTasks[8]!.updated_at).toBeGreaterThan(batchedTasks[0]!.updated_at);
    expect(batchedTasks.map((task) => normalized(task.result, 'batched'))).toEqual(aloneTasks.map((task) => normalized(task.result, 'alone')));
    expect(await usersOf('batched')).toEqual(await usersOf('alone'));
    const events = await eventsAbout('batched');
    expect(events.filter((event) => (event as { type: string }).type === 'user.deactivated')).toHaveLength(8);
    expect(events).toEqual(await eventsAbout('alone'));
  });

  it('run a task whose effect fails alone: its neighbours complete, it alone is retried', async () => {
    await sql`
      CREATE FUNCTION refuse_deactivation() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id = 'refused-2' AND NEW.deactivated_at IS NOT NULL THEN RAISE EXCEPTION 'refused-2 cannot be deactivated'; END IF;
        RETURN NEW;
      END $$`.execute(db());
    await sql`CREATE TRIGGER refuse_deactivation BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION refuse_deactivation()`.execute(db());
    try {
      const ids = Array.from({ length: 5 }, (_, i) => `refused-${i}`);
      await server.client.upsertUsers(ids.map((id) => ({ id })));
      const tasks: string[] = [];
      for (const id of ids) tasks.push(await enqueueDeactivation([id]));
      const outcomes = await drain(tasks, { batchHandlers: taskBatchHandlers(server.app.services), batchSize: 50 });
      expect(outcomes.sort()).toEqual(['completed', 'completed', 'completed', 'completed', 'retried']);
      const rows = await tasksById(tasks);
      expect(rows.map((row) => row.status)).toEqual(['completed', 'completed', 'waiting', 'completed', 'completed']);
      expect(rows[2]).toMatchObject({ attempts: 1, error: { description: expect.stringContaining('refused-2 cannot be deactivated') } });
      const deactivated = await db().selectFrom('users').select('id').where('id', 'in', ids).where('deactivated_at', 'is not', null).orderBy('id').execute();
      expect(deactivated.map((row) => row.id)).toEqual(['refused-0', 'refused-1', 'refused-3', 'refused-4']);
    } finally {
      await sql`DROP TRIGGER refuse_deactivation ON users`.execute(db());
      await sql`DROP FUNCTION refuse_deactivation()`.execute(db());
    }
  });
});

describe('claims with a batching type', () => {
  it('claim other types in the same round when a batch claim finds nothing, though every unit was reserved for it', async () => {
    await server.client.upsertUsers([{ id: 'starved' }]);
    await server.client.deactivateUser({ user_id: 'starved' });
    const task = await db()
      .transaction()
      .execute((trx) => enqueueTask(trx, 'ReactivateUsers', { user_ids: ['starved'], options: {} }, { maxAttempts: 5 }));
    // One unit, and no poll for a minute: only the round that found no DeactivateUsers task can run it.
    expect(await drain([task], { batchHandlers: taskBatchHandlers(server.app.services), concurrency: 1, pollMs: 60_000 })).toEqual(['completed']);
  });
});

describe('fencing of a batch', () => {
  it('completes none of a batch in which a task was taken over, and applies none of its effects', async () => {
    await sql`DELETE FROM tasks WHERE status IN ('pending', 'waiting', 'running')`.execute(db());
    await sql`CREATE TABLE batch_effects (note text)`.execute(db());
    const ids = [await enqueueDeactivation([]), await enqueueDeactivation([]), await enqueueDeactivation([])];
    const claimed = await claimTasks(db(), 'owner-a', 3, 60_000);
    expect(claimed.map((task) => task.id).sort()).toEqual([...ids].sort());
    // Another worker takes one over, as after its lease ran out.
    const taken = claimed[1]!;
    await sql`UPDATE tasks SET attempts = attempts + 1, lease_owner = 'usurper' WHERE id = ${taken.id}`.execute(db());

    const completed = await runAndCompleteAll(db(), claimed, async (trx) => {
      await sql`INSERT INTO batch_effects VALUES ('applied')`.execute(trx);
      return claimed.map(() => ({ ok: true }));
    });
    expect(completed).toBe(false);
    expect((await sql`SELECT * FROM batch_effects`.execute(db())).rows).toEqual([]);
    const rows = await db().selectFrom('tasks').select(['id', 'status', 'lease_owner']).where('id', 'in', ids).execute();
    expect(rows.every((row) => row.status === 'running')).toBe(true);
    expect(rows.find((row) => row.id === taken.id)?.lease_owner).toBe('usurper');

    // The runs still held complete; the old owner's run of the taken task does not.
    expect(await db().transaction().execute((trx) => completeTasks(trx, claimed, claimed.map(() => ({}))))).toBe(2);
    const after = await db().selectFrom('tasks').select(['id', 'status']).where('id', 'in', ids).execute();
    for (const row of after) expect(row.status).toBe(row.id === taken.id ? 'running' : 'completed');
  });

  // A second connection writes while the batch's transaction is open: PGlite has one connection.
  it.runIf(usingPostgres)('runs the rest of a batch one at a time when a task was taken over mid-batch', async () => {
    await sql`DELETE FROM tasks WHERE status IN ('pending', 'waiting', 'running')`.execute(db());
    const ids = [await enqueueDeactivation([]), await enqueueDeactivation([]), await enqueueDeactivation([])];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const alone: string[] = [];
    const worker = new Worker({
      db: db(),
      handlers: {
        DeactivateUsers: async (_trx, task) => {
          alone.push(task.id);
          return { alone: true };
        },
      },
      batchHandlers: {
        DeactivateUsers: async (_trx, tasks) => {
          await gate;
          return tasks.map(() => ({ batched: true }));
        },
      },
      leaseMs: 60_000,
      concurrency: 1,
      pollMs: 50,
    });
    await worker.start();
    try {
      const deadline = Date.now() + 10_000;
      while ((await db().selectFrom('tasks').select('id').where('id', 'in', ids).where('status', '=', 'running').execute()).length < 3) {
        if (Date.now() > deadline) throw new Error('the batch was not claimed');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await sql`UPDATE tasks SET attempts = attempts + 1, lease_owner = 'usurper' WHERE id = ${ids[0]}`.execute(db());
      release();
      while (worker.active > 0) await new Promise((resolve) => setTimeout(resolve, 25));
    } finally {
      await worker.stop();
    }
    const rows = await tasksById(ids);
    expect(rows[0]).toMatchObject({ status: 'running', result: null });
    expect(rows.slice(1).map((row) => [row.status, row.result])).toEqual([
      ['completed', { alone: true }],
      ['completed', { alone: true }],
    ]);
    // The taken task's handler ran too, but its completion was fenced off and rolled back.
    expect(alone.sort()).toEqual([...ids].sort());
  });
});
