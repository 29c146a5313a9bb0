// Lifecycle integrity: a hard-deleted user never comes back through an old token, deletion only escalates, restore is
// for soft deletes only, and concurrent calls that name each other do not deadlock.
import { sql } from 'kysely';
import { StreamChat } from 'stream-chat';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, API_SECRET, signToken, startTestServer, waitForTask, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The error a node-sdk call fails with: Stream's code and the HTTP status. */
async function sdkError(promise: Promise<unknown>): Promise<{ code: number; status: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: number; message: string; metadata?: { responseCode?: number } };
    return { code: e.code!, status: e.metadata?.responseCode ?? 0, message: e.message };
  }
  throw new Error('expected the call to fail');
}

async function deleteAndWait(user_ids: string[], options: Record<string, unknown> = {}) {
  const { task_id } = await server.client.deleteUsers({ user_ids, ...options });
  expect((await waitForTask(server.client, task_id)).status).toBe('completed');
}

const hard = { user: 'hard', messages: 'hard', conversations: 'hard' } as const;

/** A client-side upsert of oneself, with a user token. */
function upsertAsUser(userId: string, token: string) {
  return server.request('POST', '/api/v2/users', { body: { users: { [userId]: { id: userId, name: 'Back Again' } } }, headers: { authorization: token } });
}

describe('a hard-deleted user', () => {
  it('cannot come back through a token issued before its deletion: HTTP and WebSocket refuse it with code 5', async () => {
    await server.client.upsertUsers([{ id: 'ghost', name: 'Ghost', custom: { secret: 'x' } }]);
    const before = signToken({ user_id: 'ghost', iat: nowSeconds() - 5 });
    const withoutIat = signToken({ user_id: 'ghost' });
    await deleteAndWait(['ghost'], hard);

    // The tombstone is a keyed hash and a date: nothing of the user.
    const tombstones = await sql<{ id_hash: string }>`SELECT id_hash FROM user_tombstones`.execute(server.database.db);
    expect(tombstones.rows.length).toBe(1);
    expect(tombstones.rows[0]!.id_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(tombstones.rows[0]!.id_hash).not.toContain('ghost');

    for (const token of [before, withoutIat]) {
      const refused = await upsertAsUser('ghost', token);
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({ code: 5, StatusCode: 401 });
      expect(refused.body.message).toContain('was deleted');
    }
    // stream-chat reconnects with the old token: the connect is rejected, and nothing is recreated.
    const chat = new StreamChat(API_KEY, { baseURL: server.baseUrl, allowServerSideConnect: true });
    const rejection = await chat.connectUser({ id: 'ghost', name: 'Ghost', secret: 'x' } as never, before).then(
      () => undefined,
      (error: Error) => JSON.parse(error.message) as { code: number },
    );
    await chat.disconnectUser().catch(() => {});
    expect(rejection?.code).toBe(5);
    const { users } = await server.client.queryUsers({ payload: { filter_conditions: { id: 'ghost' }, include_deactivated_users: true } });
    expect(users).toEqual([]);

    // Restoring it is refused as for any user that was not soft deleted.
    const restore = await sdkError(server.client.restoreUsers({ user_ids: ['ghost'] }));
    expect(restore).toMatchObject({ code: 4, status: 400 });
    expect(restore.message).toContain('was hard deleted');
  });

  it('may be created afresh server-side; tokens issued after the deletion work, older ones and ones without iat never do', async () => {
    await server.client.upsertUsers([{ id: 'reborn' }]);
    const old = signToken({ user_id: 'reborn', iat: nowSeconds() - 5 });
    await deleteAndWait(['reborn'], hard);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the next second: iat has whole seconds
    const created = await server.client.upsertUsers([{ id: 'reborn', name: 'New Reborn' }]);
    expect(created.users.reborn?.name).toBe('New Reborn');

    const fresh = signToken({ user_id: 'reborn', iat: nowSeconds() });
    expect((await upsertAsUser('reborn', fresh)).status).toBe(201);
    expect((await upsertAsUser('reborn', old)).status).toBe(401);
    expect((await upsertAsUser('reborn', signToken({ user_id: 'reborn' }))).status).toBe(401);
  });
});

describe('deletion only escalates', () => {
  it('keeps a pruning deletion through a later soft one: restore is refused with code 4', async () => {
    await server.client.upsertUsers([{ id: 'pruned', name: 'Pruned', custom: { a: 1 } }]);
    await deleteAndWait(['pruned'], { user: 'pruning' });
    await deleteAndWait(['pruned'], { user: 'soft' });
    const restore = await sdkError(server.client.restoreUsers({ user_ids: ['pruned'] }));
    expect(restore).toMatchObject({ code: 4, status: 400 });
    expect(restore.message).toContain('was pruning deleted');
  });

  it('keeps a hard deletion asked for before a soft one, even when the soft one is handled first', async () => {
    // No worker yet: both requests are recorded before either task runs.
    const idle = await startTestServer({ worker: false });
    try {
      await idle.client.upsertUsers([{ id: 'doomed' }]);
      const first = await idle.client.deleteUsers({ user_ids: ['doomed'], ...hard });
      const second = await idle.client.deleteUsers({ user_ids: ['doomed'], user: 'soft' });
      const restore = await sdkError(idle.client.restoreUsers({ user_ids: ['doomed'] }));
      expect(restore.code).toBe(4);
      expect(restore.message).toContain('was hard deleted');
      // The soft request's task goes first.
      await sql`UPDATE tasks SET run_at = now() - interval '1 minute' WHERE id = ${second.task_id}::uuid`.execute(idle.database.db);
      await finishTasks(idle, [second.task_id, first.task_id]);
      expect(await idle.database.db.selectFrom('users').select('id').where('id', '=', 'doomed').execute()).toEqual([]);
    } finally {
      await idle.close();
    }
  });

  it('answers a partial update of a soft-deleted user with code 4', async () => {
    await server.client.upsertUsers([{ id: 'softly' }]);
    await deleteAndWait(['softly']);
    const refused = await sdkError(server.client.updateUsersPartial({ users: [{ id: 'softly', set: { name: 'x' } }] }));
    expect(refused).toMatchObject({ code: 4, status: 400 });
    expect(refused.message).toContain('user "softly" was deleted');
  });
});

/** Runs the queued tasks of a server started without a worker, one at a time in queue order, and waits for them. */
async function finishTasks(target: TestServer, taskIds: string[]) {
  const { Worker } = await import('../../src/tasks/worker.js');
  const { taskHandlers } = await import('../../src/tasks/handlers.js');
  const worker = new Worker({
    db: target.database.db,
    handlers: taskHandlers(target.app.services),
    leaseMs: 30_000,
    concurrency: 1,
    pollMs: 50,
  });
  await worker.start();
  try {
    for (const id of taskIds) expect((await waitForTask(target.client, id)).status).toBe('completed');
  } finally {
    await worker.stop();
  }
}

describe('restore and unique usernames', () => {
  it('refuses to restore a user whose name was taken meanwhile (code 6)', async () => {
    await server.client.updateApp({ enforce_unique_usernames: 'app' });
    try {
      await server.client.upsertUsers([{ id: 'first-holder', name: 'Taken Name' }]);
      await deleteAndWait(['first-holder']);
      await server.client.upsertUsers([{ id: 'second-holder', name: 'taken_name' }]);
      const refused = await sdkError(server.client.restoreUsers({ user_ids: ['first-holder'] }));
      expect(refused).toMatchObject({ code: 6, status: 400 });
      const { users } = await server.client.queryUsers({ payload: { filter_conditions: { id: 'first-holder' } } });
      expect(users).toEqual([]);
    } finally {
      await server.client.updateApp({ enforce_unique_usernames: 'no' });
    }
  });
});

describe('concurrency', () => {
  it('deactivates A by B and B by A at once without a deadlock', async () => {
    for (let round = 0; round < 10; round++) {
      const [a, b] = [`mutual-a-${round}`, `mutual-b-${round}`];
      await server.client.upsertUsers([{ id: a }, { id: b }]);
      const results = await Promise.allSettled([
        server.client.deactivateUser({ user_id: a, created_by_id: b }),
        server.client.deactivateUser({ user_id: b, created_by_id: a }),
      ]);
      // The two lock both users in the same order: one waits for the other, and both succeed.
      expect(results.map((result) => (result.status === 'rejected' ? String(result.reason) : 'ok'))).toEqual(['ok', 'ok']);
    }
  });
});
