// Personal data after a deletion: a hard delete leaves the user's id alone in finished task results, deletes its
// export files and its earlier webhook deliveries (whatever their state) in the deletion's own transaction, while its
// user.deleted still carries the user; pruning clears the same fields in task results as in the user; finished tasks
// are purged after their retention, in bounded batches.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeOldTasks } from '../../src/tasks/service.js';
import { signToken, startTestServer, waitForTask, type TestServer } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';

let server: TestServer;
let receiver: Receiver;
beforeAll(async () => {
  // The receiver refuses everything: deliveries stay pending (retried) or end failed.
  receiver = await startReceiver(() => ({ status: 500 }));
  server = await startTestServer({ webhooks: { retry: { firstMs: 60_000, maxMs: 60_000, maxAgeMs: 3_600_000 } } });
  await server.client.updateApp({ webhook_url: receiver.url('/hooks'), webhook_events: ['user.updated', 'user.deleted', 'user.deactivated', 'user.reactivated'] });
});
afterAll(async () => {
  await server?.close();
  await receiver?.close();
});

const PRIVATE = { name: 'Private Name', image: 'face.png', language: 'fr', custom: { address: '1 Secret Road' }, privacy_settings: { read_receipts: { enabled: false } } };

async function taskText(id: string): Promise<string> {
  return (await server.request('GET', `/api/v2/tasks/${id}`)).text;
}

async function deliveriesOf(userId: string) {
  const result = await sql<{ body: string; status: string }>`SELECT body, status FROM webhook_deliveries WHERE user_id = ${userId} ORDER BY seq`.execute(server.database.db);
  return result.rows;
}

async function monthlyActive(): Promise<number> {
  const response = await server.request('GET', '/operator/active-users');
  return response.body.active_users;
}

async function exportFiles(taskId: string): Promise<number> {
  const result = await sql<{ n: number }>`SELECT count(*)::int AS n FROM exports WHERE task_id = ${taskId}::uuid`.execute(server.database.db);
  return result.rows[0]!.n;
}

describe('personal data after a deletion', () => {
  it('hard delete: task results keep the id alone, export files and earlier deliveries go; user.deleted still carries the user', async () => {
    await server.client.upsertUsers([{ id: 'gone', ...PRIVATE }, { id: 'stays', ...PRIVATE }]);
    const deactivation = await waitForTask(server.client, (await server.client.deactivateUsers({ user_ids: ['gone', 'stays'] })).task_id);
    expect(deactivation.status).toBe('completed');
    const reactivation = await waitForTask(server.client, (await server.client.reactivateUsers({ user_ids: ['gone', 'stays'] })).task_id);
    expect(reactivation.status).toBe('completed');
    const ownExport = (await server.client.exportUsers({ user_ids: ['gone'] })).task_id;
    const sharedExport = (await server.client.exportUsers({ user_ids: ['gone', 'stays'] })).task_id;
    const otherExport = (await server.client.exportUsers({ user_ids: ['stays'] })).task_id;
    for (const id of [ownExport, sharedExport, otherExport]) expect((await waitForTask(server.client, id)).status).toBe('completed');
    expect(await exportFiles(ownExport)).toBe(1);
    // A delivery marked failed, to show that the state does not matter.
    await sql`UPDATE webhook_deliveries SET status = 'failed' WHERE user_id = 'gone' AND seq = (SELECT min(seq) FROM webhook_deliveries WHERE user_id = 'gone')`.execute(server.database.db);
    expect((await deliveriesOf('gone')).length).toBeGreaterThanOrEqual(3);
    expect(await taskText(deactivation.task_id)).toContain('1 Secret Road');
    // Active this month (a user-token request).
    const own = await server.request('GET', '/api/v2/users', { headers: { authorization: signToken({ user_id: 'gone', iat: Math.floor(Date.now() / 1000) - 5 }) } });
    expect(own.status).toBe(200);
    const activeBefore = await monthlyActive();
    expect(activeBefore).toBeGreaterThan(0);

    const deletion = await waitForTask(
      server.client,
      (await server.client.deleteUsers({ user_ids: ['gone'], user: 'hard', messages: 'hard', conversations: 'hard' })).task_id,
    );
    expect(deletion.status).toBe('completed');

    for (const task of [deactivation, reactivation]) {
      const stored = await server.client.getTask({ id: task.task_id });
      const users = (stored.result as { users: Array<Record<string, unknown>> }).users;
      expect(users.find((user) => user.id === 'gone')).toEqual({ id: 'gone' });
      expect(users.find((user) => user.id === 'stays')).toMatchObject({ id: 'stays', name: 'Private Name', custom: { address: '1 Secret Road' } });
      const v1 = await server.request('GET', `/tasks/${task.task_id}`);
      expect(v1.body.result.users.find((user: { id: string }) => user.id === 'gone')).toEqual({ id: 'gone' });
    }
    expect(await exportFiles(ownExport)).toBe(0);
    expect(await exportFiles(sharedExport)).toBe(0);
    expect(await exportFiles(otherExport)).toBe(1);
    // Its month of activity still counts, without its id.
    expect(await monthlyActive()).toBe(activeBefore);
    const activity = await sql<{ user_id: string }>`SELECT user_id FROM user_activity`.execute(server.database.db);
    expect(activity.rows.map((row) => row.user_id)).not.toContain('gone');
    expect(activity.rows.some((row) => row.user_id.startsWith('deleted:'))).toBe(true);
    // Left: the deletion's own user.deleted, which carries the user as Stream's does.
    const left = await deliveriesOf('gone');
    expect(left).toHaveLength(1);
    expect(JSON.parse(left[0]!.body)).toMatchObject({ type: 'user.deleted', user: { id: 'gone', name: 'Private Name', address: '1 Secret Road' } });
  });

  it('pruning clears in task results the fields it clears in the user', async () => {
    await server.client.upsertUsers([{ id: 'pruned', ...PRIVATE, role: 'user' }]);
    const deactivation = await waitForTask(server.client, (await server.client.deactivateUsers({ user_ids: ['pruned'] })).task_id);
    await waitForTask(server.client, (await server.client.reactivateUsers({ user_ids: ['pruned'] })).task_id);
    await waitForTask(server.client, (await server.client.deleteUsers({ user_ids: ['pruned'], user: 'pruning' })).task_id);
    const stored = await server.client.getTask({ id: deactivation.task_id });
    const [user] = (stored.result as { users: Array<Record<string, unknown>> }).users;
    expect(user).toMatchObject({ id: 'pruned', role: 'user', custom: {}, language: '' });
    for (const field of ['name', 'image', 'privacy_settings', 'teams_role']) expect(user).not.toHaveProperty(field);
    expect(await taskText(deactivation.task_id)).not.toContain('Secret');
  });

  it('purges finished tasks after their retention, in bounded batches, and leaves unfinished ones', async () => {
    const { db } = server.database;
    const count = async (where: string) =>
      (await sql<{ n: number }>`SELECT count(*)::int AS n FROM tasks WHERE status = ANY(${sql.raw(`ARRAY[${where}]`)})`.execute(db)).rows[0]!.n;
    const finished = await count(`'completed', 'failed'`);
    expect(finished).toBeGreaterThan(4);
    await sql`INSERT INTO tasks (id, type, status, payload, max_attempts, run_at) VALUES (gen_random_uuid(), 'ExportUsers', 'waiting', '{"user_ids": ["x"]}', 5, now() + interval '1 hour')`.execute(db);
    expect(await purgeOldTasks(db, 3_600_000)).toBe(0);
    expect(await purgeOldTasks(db, 0, 2)).toBe(finished);
    expect(await count(`'completed', 'failed'`)).toBe(0);
    expect(await count(`'waiting'`)).toBe(1);
    const files = await sql<{ n: number }>`SELECT count(*)::int AS n FROM exports`.execute(db);
    expect(files.rows[0]!.n).toBe(0);
  });
});
