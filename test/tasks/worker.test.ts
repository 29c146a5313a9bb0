// The task queue and worker against the real database: claiming, fencing, retries, leases, wake-up, shutdown.
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { claimTasks, completeTask, enqueueTask } from '../../src/tasks/store.js';
import { Worker, type TaskHandler, type WorkerOptions } from '../../src/tasks/worker.js';
import { createTestDatabase, usingPostgres, type TestDatabase } from '../helpers/database.js';

let database: TestDatabase;
const workers: Worker[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});
afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.stop();
});
afterAll(async () => {
  await database?.drop();
});

const enqueue = (payload: Record<string, unknown> = {}, maxAttempts = 5) =>
  database.db.transaction().execute((trx) => enqueueTask(trx, 'DeactivateUsers', payload, { maxAttempts }));

function startWorker(handler: TaskHandler, options: Partial<WorkerOptions> = {}): Worker {
  const worker = new Worker({
    db: database.db,
    handlers: { DeactivateUsers: handler },
    listen: database.listen,
    leaseMs: 5_000,
    concurrency: 2,
    pollMs: 100,
    backoffMs: 20,
    ...options,
  });
  workers.push(worker);
  void worker.start();
  return worker;
}

async function task(id: string) {
  return database.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms: ${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function clearQueue() {
  await sql`DELETE FROM tasks`.execute(database.db);
}

describe('claiming and fencing', () => {
  it('a worker whose lease expired cannot record completion over the one that took over', async () => {
    await clearQueue();
    const id = await enqueue();
    const [first] = await claimTasks(database.db, 'worker-a', 1, 60_000);
    expect(first?.id).toBe(id);
    expect(await claimTasks(database.db, 'worker-b', 1, 60_000)).toHaveLength(0); // leased: not claimable
    await sql`UPDATE tasks SET lease_expires_at = now() - interval '1 second' WHERE id = ${id}`.execute(database.db);
    const [second] = await claimTasks(database.db, 'worker-b', 1, 60_000);
    expect(second).toMatchObject({ id, attempts: 2, lease_owner: 'worker-b' });

    expect(await database.db.transaction().execute((trx) => completeTask(trx, first!, { by: 'a' }))).toBe(false);
    expect(await database.db.transaction().execute((trx) => completeTask(trx, second!, { by: 'b' }))).toBe(true);
    expect(await task(id)).toMatchObject({ status: 'completed', result: { by: 'b' }, lease_owner: null });
  });

  // Needs a second connection writing while the handler's transaction is open: PGlite has one connection, on
  // which nothing can interleave with a running handler (the fence itself is covered above on both backends).
  it.runIf(usingPostgres)('rolls back the effects of a run whose lease was lost', async () => {
    await clearQueue();
    await sql`CREATE TABLE IF NOT EXISTS effects (task_id uuid, note text)`.execute(database.db);
    const id = await enqueue();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    startWorker(
      async (trx, claimed) => {
        await sql`INSERT INTO effects VALUES (${claimed.id}, 'first run')`.execute(trx);
        await gate;
        return {};
      },
      { leaseMs: 60_000 },
    );
    await until(() => task(id), (t) => t.status === 'running');
    // Another worker takes the task over (as after a lease expiry) before the first one finishes.
    await sql`UPDATE tasks SET attempts = attempts + 1, lease_owner = 'usurper' WHERE id = ${id}`.execute(database.db);
    release();
    await until(() => workers[0]!.active === 0 ? Promise.resolve(true) : Promise.resolve(false), (v) => v);
    const effects = await sql<{ note: string }>`SELECT note FROM effects WHERE task_id = ${id}`.execute(database.db);
    expect(effects.rows).toEqual([]);
    expect(await task(id)).toMatchObject({ status: 'running', lease_owner: 'usurper' });
  });
});

describe('retries', () => {
  it('retries a failing handler with backoff, then completes', async () => {
    await clearQueue();
    const id = await enqueue();
    let calls = 0;
    startWorker(async () => {
      calls++;
      if (calls < 3) throw new Error(`flaky ${calls}`);
      return { ok: true };
    });
    const done = await until(() => task(id), (t) => t.status === 'completed');
    expect(calls).toBe(3);
    expect(done.attempts).toBe(3);
    expect(done.result).toEqual({ ok: true });
    expect(done.error).toBeNull();
  });

  it('fails for good after the last attempt, with an error type and description', async () => {
    await clearQueue();
    const id = await enqueue({}, 2);
    startWorker(async () => {
      throw new TypeError('boom');
    });
    const failed = await until(() => task(id), (t) => t.status === 'failed');
    expect(failed.attempts).toBe(2);
    expect(failed.error).toEqual({ type: 'TypeError', description: 'boom' });
  });

  it('shows a task waiting for its retry as waiting', async () => {
    await clearQueue();
    const id = await enqueue();
    startWorker(
      async () => {
        throw new Error('later');
      },
      { backoffMs: 60_000 },
    );
    const waiting = await until(() => task(id), (t) => t.status === 'waiting');
    expect(Number(waiting.run_at - waiting.updated_at)).toBeGreaterThan(50_000_000);
  });
});

describe('leases and wake-up', () => {
  it('renews the lease of a long task so that no other worker takes it over', async () => {
    await clearQueue();
    const id = await enqueue();
    let runs = 0;
    const slow: TaskHandler = async () => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      return {};
    };
    startWorker(slow, { leaseMs: 300, pollMs: 50 });
    startWorker(slow, { leaseMs: 300, pollMs: 50 });
    await until(() => task(id), (t) => t.status === 'completed');
    expect(runs).toBe(1);
  });

  it('wakes on NOTIFY instead of waiting for the poll interval', async () => {
    await clearQueue();
    startWorker(async () => ({}), { pollMs: 600_000 });
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the first (empty) poll pass
    const started = Date.now();
    const id = await enqueue();
    await until(() => task(id), (t) => t.status === 'completed', 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  // A handler that never finishes holds PGlite's only connection: this one runs where other connections exist.
  it.runIf(usingPostgres)('on shutdown releases a task it cannot finish, and another worker completes it', async () => {
    await clearQueue();
    const id = await enqueue();
    let unstick!: () => void;
    const stuckUntil = new Promise<void>((resolve) => (unstick = resolve));
    const stuck = startWorker(async () => {
      await stuckUntil;
      return { stale: true };
    }, { shutdownGraceMs: 100 });
    await until(() => task(id), (t) => t.status === 'running');
    await stuck.stop();
    expect(await task(id)).toMatchObject({ status: 'pending', attempts: 0, lease_owner: null });
    startWorker(async () => ({ finished: true }));
    expect(await until(() => task(id), (t) => t.status === 'completed')).toMatchObject({ result: { finished: true }, attempts: 1 });
    // The released run, finishing late, is fenced off: its result does not replace the completed one.
    unstick();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await task(id)).toMatchObject({ result: { finished: true } });
  });
});

describe('failures of the database while recording a failure', () => {
  it('never leave a rejection unhandled: the attempt is logged, the worker goes on', async () => {
    await clearQueue();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // Every query-builder UPDATE fails (failAttempt is one; the claim is raw SQL and succeeds).
      const failingUpdates = database.db.withPlugin({
        transformQuery: (args) => {
          if (args.node.kind === 'UpdateQueryNode') throw new Error('the database went away');
          return args.node;
        },
        transformResult: async (args) => args.result,
      });
      const logged: string[] = [];
      const logger = { error: (_obj: unknown, message: string) => logged.push(message), warn: () => {}, debug: () => {} };
      const id = await database.db.transaction().execute((trx) => enqueueTask(trx, 'NoSuchType' as never, {}, { maxAttempts: 1 }));
      startWorker(async () => ({}), { db: failingUpdates, logger: logger as never });
      await until(async () => logged, (messages) => messages.includes('a task attempt could not be recorded'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(unhandled).toEqual([]);
      // Nothing was recorded: the task is still the running attempt's, to be claimed again when its lease lapses.
      expect(await task(id)).toMatchObject({ status: 'running' });
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('shutdown', () => {
  it('stops a worker that is in the middle of a claim without waiting a poll interval', async () => {
    await clearQueue();
    let claiming = false;
    let claimsStarted = 0;
    // Slows the claim statement down (it is the only UPDATE written as raw SQL), so that stop() lands inside it.
    const slowClaims = database.db.withPlugin({
      transformQuery: (args) => {
        if (args.node.kind === 'RawNode' && args.node.sqlFragments.join('').includes("status = 'running'")) claimsStarted++;
        return args.node;
      },
      transformResult: async (args) => {
        if (claiming) await new Promise((resolve) => setTimeout(resolve, 300));
        return args.result;
      },
    });
    const worker = startWorker(async () => ({}), { db: slowClaims, pollMs: 60_000 });
    await until(async () => claimsStarted, (n) => n >= 1);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the first (empty) poll is asleep now
    claiming = true;
    worker.notify(); // wake it into a second claim, slowed down
    await until(async () => claimsStarted, (n) => n >= 2);
    const started = Date.now();
    await worker.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('closes the database without hanging on a released task whose handler never ends', async () => {
    const own = await createTestDatabase();
    try {
      const id = await own.db.transaction().execute((trx) => enqueueTask(trx, 'DeactivateUsers', {}, { maxAttempts: 5 }));
      let running = false;
      const worker = new Worker({
        db: own.db,
        handlers: {
          DeactivateUsers: async () => {
            running = true;
            await new Promise(() => {}); // never ends
          },
        },
        leaseMs: 30_000,
        concurrency: 1,
        pollMs: 50,
        shutdownGraceMs: 200,
      });
      await worker.start();
      await until(async () => running, (value) => value);
      await worker.stop();
      const started = Date.now();
      await own.close({ graceMs: 500 });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(id).toMatch(/-/);
    } finally {
      await own.drop().catch(() => {});
    }
  });
});
