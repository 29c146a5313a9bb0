// Tasks on one user take effect in the order they were accepted, whatever their types and batching: the claim does
// not take a task while an earlier unfinished task shares a user with it, a failed attempt waiting for its retry
// included. Tasks on other users still run in parallel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskBatchHandlers, taskHandlers } from '../../src/tasks/handlers.js';
import { Worker, type TaskHandler } from '../../src/tasks/worker.js';
import { startTestServer, waitForTask, type TestServer } from '../helpers/server.js';

describe('per-user task order', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ worker: false, webhooks: false, rateLimit: { multiplier: 1000, overrides: {} } });
  }, 60_000);
  afterAll(async () => server?.close());

  async function withWorker<T>(handlers: Partial<Record<string, TaskHandler>>, work: () => Promise<T>, batches = true): Promise<T> {
    const worker = new Worker({
      db: server.database.db,
      handlers: { ...taskHandlers(server.app.services), ...handlers } as Record<string, TaskHandler>,
      batchHandlers: batches ? taskBatchHandlers(server.app.services) : {},
      listen: server.database.listen,
      leaseMs: 30_000,
      concurrency: 4,
      pollMs: 200,
      backoffMs: 300,
    });
    await worker.start();
    try {
      return await work();
    } finally {
      await worker.stop();
    }
  }

  it('ends 200 fresh users active after deactivate-then-reactivate pairs', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `pair-${i}`);
    for (let i = 0; i < ids.length; i += 100) await server.client.upsertUsers(ids.slice(i, i + 100).map((id) => ({ id })));
    // 25 users' pairs in flight at a time (the embedded database serves one statement at a time), accepted as a
    // backlog that the worker then drains with every kind of claim at once.
    const taskIds: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 25 }, async () => {
        while (next < ids.length) {
          const id = ids[next++]!;
          taskIds.push((await server.client.deactivateUsers({ user_ids: [id] })).task_id);
          taskIds.push((await server.client.reactivateUsers({ user_ids: [id] })).task_id);
        }
      }),
    );
    await withWorker({}, async () => {
      for (const id of taskIds) expect((await waitForTask(server.client, id, 60_000)).status).toBe('completed');
    });
    const all = [];
    for (let i = 0; i < ids.length; i += 100) {
      const page = await server.client.queryUsers({
        payload: { filter_conditions: { id: { $in: ids.slice(i, i + 100) } }, limit: 100, include_deactivated_users: true },
      });
      all.push(...page.users);
    }
    expect(all).toHaveLength(200);
    expect(all.filter((user) => user.deactivated_at !== undefined && user.deactivated_at !== null).map((user) => user.id)).toEqual([]);
  }, 120_000);

  it('keeps a later task on the same user waiting while an earlier one waits for its retry; other users go on', async () => {
    await server.client.upsertUsers([{ id: 'retried' }, { id: 'bystander' }]);
    let failures = 0;
    const flaky: TaskHandler = async (trx, task) => {
      if ((task.payload.user_ids as string[]).includes('retried') && failures++ === 0) throw new Error('a failed first attempt');
      return taskHandlers(server.app.services).DeactivateUsers(trx, task);
    };
    await withWorker({ DeactivateUsers: flaky }, async () => {
      const deactivation = await server.client.deactivateUsers({ user_ids: ['retried'] });
      const reactivation = await server.client.reactivateUsers({ user_ids: ['retried'] });
      const other = await server.client.deactivateUsers({ user_ids: ['bystander'] });
      expect((await waitForTask(server.client, other.task_id)).status).toBe('completed');
      expect((await waitForTask(server.client, deactivation.task_id)).status).toBe('completed');
      expect((await waitForTask(server.client, reactivation.task_id)).status).toBe('completed');
    }, false); // no batches: every deactivation goes through the flaky handler
    expect(failures).toBeGreaterThan(1);
    const { users } = await server.client.queryUsers({ payload: { filter_conditions: { id: { $in: ['retried', 'bystander'] } }, include_deactivated_users: true } });
    const byId = new Map(users.map((user) => [user.id, user]));
    expect(byId.get('retried')?.deactivated_at ?? null).toBeNull();
    expect(byId.get('bystander')?.deactivated_at).toBeTruthy();
  }, 60_000);
});
