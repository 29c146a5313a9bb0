// Nothing acknowledged is lost: a task whose process is killed mid-run completes after its lease expires, in a new
// process. Runs on both backends: on PGlite the restarted server also takes over the dead process's data-folder lock.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StreamClient } from '@stream-io/node-sdk';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, usingPostgres, type TestDatabase } from '../helpers/database.js';
import { runBundle, runServer, type Child } from '../helpers/process.js';
import { API_KEY, API_SECRET, waitForTask } from '../helpers/server.js';

// Each test starts processes of its own (about 5 s each on a loaded 2-core machine).
vi.setConfig({ testTimeout: 120_000 });

const children: Child[] = [];
let database: TestDatabase | undefined;
let dataDir: string | undefined;

afterEach(async () => {
  for (const child of children.splice(0)) await child.kill('SIGKILL');
  await database?.drop();
  database = undefined;
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

async function storage(): Promise<Record<string, string>> {
  if (usingPostgres) {
    database = await createTestDatabase();
    return { DATABASE_URL: database.url! };
  }
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crash-test-'));
  return { DATA_DIR: dataDir };
}

function tracked(child: Child): Child {
  children.push(child);
  return child;
}

function startWorker(env: Record<string, string>): Child {
  return tracked(runBundle('worker-process', env));
}

function startTestServer(env: Record<string, string>): Child {
  return tracked(runServer({
    ...env,
    PORT: '0',
    HOST: '127.0.0.1',
    WS_PORT: '0',
    STREAM_API_KEY: API_KEY,
    STREAM_API_SECRET: API_SECRET,
    TASK_LEASE_MS: '1500',
    TASK_POLL_MS: '200',
    LOG_LEVEL: 'info',
  }));
}

describe('a killed process loses no task', () => {
  it('completes a task after its worker was killed mid-task (kill -9), in a restarted server', async () => {
    const env = await storage();
    const first = startWorker({ ...env, SEED_TASK: '1', WORKER_MODE: 'block', TASK_LEASE_MS: '1500' });
    const [, taskId] = await first.waitFor(/enqueued ([0-9a-f-]{36})/);
    await first.waitFor(new RegExp(`running ${taskId}`));
    await first.kill('SIGKILL');

    const server = startTestServer(env);
    const [, url] = await server.waitFor(/serving the Stream users API on (http:\/\/[^"\s]+)/);
    const client = new StreamClient(API_KEY, API_SECRET, { basePath: url, timeout: 10_000 });
    const task = await waitForTask(client, taskId!, 30_000);
    expect(task.status).toBe('completed');
    const users = (task.result as { users: Array<{ id: string; deactivated_at?: number }> }).users;
    expect(users.map((u) => u.id).sort()).toEqual(['crash-a', 'crash-b']);
    expect(users.every((u) => typeof u.deactivated_at === 'number')).toBe(true);

    if (database) {
      const row = await database.db.selectFrom('tasks').select(['attempts', 'status']).where('id', '=', taskId!).executeTakeFirstOrThrow();
      expect(row).toEqual({ attempts: 2, status: 'completed' });
    }
    // A graceful stop exits cleanly.
    expect(await server.kill('SIGTERM')).toBe(0);
  });

  it.runIf(!usingPostgres)('refuses a second server on a data folder in use, and names the holder', async () => {
    const env = await storage();
    const server = startTestServer(env);
    await server.waitFor(/serving the Stream users API/);
    const second = startTestServer(env);
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(new RegExp(`is in use by process ${server.process.pid}`));
    expect(await server.kill('SIGTERM')).toBe(0);
  });
});

// Several server processes share one PostgreSQL database; PGlite is one process by design.
describe.runIf(usingPostgres)('two worker processes on one database', () => {
  it('run every task exactly once between them', async () => {
    const env = await storage();
    const db = database!.db;
    const { sql } = await import('kysely');
    await sql`CREATE TABLE task_runs (task_id uuid NOT NULL, worker integer NOT NULL, attempt integer NOT NULL)`.execute(db);
    const { enqueueTask } = await import('../../src/tasks/store.js');
    const ids = Array.from({ length: 60 }, (_, i) => `multi-${i}`);
    await db.insertInto('users').values(ids.map((id) => ({ id }))).execute();
    const workers = [
      startWorker({ ...env, WORKER_MODE: 'record' }),
      startWorker({ ...env, WORKER_MODE: 'record' }),
    ];
    await Promise.all(workers.map((worker) => worker.waitFor(/worker started/)));
    const taskIds: string[] = [];
    for (const id of ids) {
      taskIds.push(await db.transaction().execute((trx) => enqueueTask(trx, 'DeactivateUsers', { user_ids: [id], options: {} }, { maxAttempts: 5 })));
    }
    const deadline = Date.now() + 60_000;
    for (;;) {
      const open = await db.selectFrom('tasks').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '!=', 'completed').executeTakeFirstOrThrow();
      if (Number(open.n) === 0) break;
      if (Date.now() > deadline) throw new Error(`${open.n} tasks not completed`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const runs = await sql<{ task_id: string; runs: number }>`SELECT task_id::text, count(*)::int AS runs FROM task_runs GROUP BY task_id`.execute(db);
    expect(runs.rows).toHaveLength(taskIds.length);
    expect(runs.rows.every((row) => row.runs === 1)).toBe(true);
    const deactivated = await db.selectFrom('users').select('id').where('deactivated_at', 'is not', null).execute();
    expect(deactivated).toHaveLength(ids.length);
    for (const worker of workers) expect(await worker.kill('SIGTERM')).toBe(0);
  });
});
