import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForTask, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

async function createUsers(...ids: string[]) {
  await server.client.upsertUsers(ids.map((id) => ({ id, name: `name of ${id}`, custom: { favourite: id } })));
}

async function findUser(id: string, includeDeactivated = true) {
  const { users } = await server.client.queryUsers({
    payload: { filter_conditions: { id }, include_deactivated_users: includeDeactivated },
  });
  return users[0];
}

describe('deactivate and reactivate', () => {
  it('runs the seed snippet: deactivateUser, reactivateUsers, deactivateUsers', async () => {
    const client = server.client;
    await createUsers('seed-a', 'seed-b', 'seed-c');
    const single = await client.deactivateUser({
      user_id: 'seed-a',
    });
    expect(single.user?.deactivated_at).toBeInstanceOf(Date);
    // reactivate
    const reactivate = await client.reactivateUsers({
      user_ids: ['seed-a'],
    });
    expect((await waitForTask(client, reactivate.task_id)).status).toBe('completed');
    expect((await findUser('seed-a'))?.deactivated_at).toBeUndefined();
    // deactivating users in bulk is performed asynchronously
    const deactivateResponse = await client.deactivateUsers({
      user_ids: ['seed-b', 'seed-c'],
    });
    const task = await waitForTask(client, deactivateResponse.task_id);
    expect(task.status).toBe('completed');
    const users = (task.result as { users: Array<{ id: string; deactivated_at: number }> }).users;
    expect(users.map((u) => u.id).sort()).toEqual(['seed-b', 'seed-c']);
    expect(typeof users[0]!.deactivated_at).toBe('number');
    expect(await findUser('seed-b', false)).toBeUndefined();
    expect((await findUser('seed-b', true))?.deactivated_at).toBeInstanceOf(Date);
  });

  it('deactivates one user synchronously with options, and reactivates it with a new name', async () => {
    await createUsers('solo', 'admin-1');
    const deactivated = await server.client.deactivateUser({ user_id: 'solo', mark_messages_deleted: true, created_by_id: 'admin-1' });
    expect(deactivated.user?.id).toBe('solo');
    expect(await findUser('solo', false)).toBeUndefined();
    const row = await server.database.db.selectFrom('users').select('deactivation').where('id', '=', 'solo').executeTakeFirstOrThrow();
    expect(row.deactivation).toEqual({ mark_messages_deleted: true, created_by_id: 'admin-1' });

    const reactivated = await server.client.reactivateUser({ user_id: 'solo', name: 'Solo Again', restore_messages: true });
    expect(reactivated.user?.deactivated_at).toBeUndefined();
    expect(reactivated.user?.name).toBe('Solo Again');
    expect((await findUser('solo', false))?.id).toBe('solo');
  });

  it('fails a bulk reactivation whose user lost its name meanwhile, without retrying and reactivating nobody', async () => {
    await server.client.upsertUsers([{ id: 'zed-1', name: 'Zed' }, { id: 'other-1' }]);
    await server.client.deactivateUser({ user_id: 'zed-1' });
    await server.client.updateApp({ enforce_unique_usernames: 'app' });
    try {
      await server.client.upsertUsers([{ id: 'zed-2', name: 'zed' }]);
      const { task_id } = await server.client.reactivateUsers({ user_ids: ['zed-1'] });
      const task = await waitForTask(server.client, task_id);
      expect(task.status).toBe('failed');
      expect(task.error?.description).toBe("username 'Zed' already exists");
      const row = await server.database.db.selectFrom('tasks').select('attempts').where('id', '=', task_id).executeTakeFirstOrThrow();
      expect(row.attempts).toBe(1);
      expect((await findUser('zed-1'))?.deactivated_at).toBeInstanceOf(Date);
    } finally {
      await server.client.updateApp({ enforce_unique_usernames: 'no' });
    }
  });

  it('refuses to reactivate an active user', async () => {
    await createUsers('active-one');
    await expect(server.client.reactivateUser({ user_id: 'active-one' })).rejects.toMatchObject({
      code: 4,
      message: expect.stringContaining('ReactivateUser failed with error: "user "active-one" is not deactivated'),
    });
  });

  it('refuses to upsert or partially update a deactivated user', async () => {
    await createUsers('frozen');
    await server.client.deactivateUser({ user_id: 'frozen' });
    await expect(server.client.upsertUsers([{ id: 'frozen', name: 'x' }])).rejects.toMatchObject({
      code: 4,
      message: expect.stringContaining('was deactivated'),
    });
    await expect(server.client.updateUsersPartial({ users: [{ id: 'frozen', set: { name: 'x' } }] })).rejects.toMatchObject({ code: 4 });
    expect((await findUser('frozen'))?.name).toBe('name of frozen');
  });

  it('answers 404 code 16 for unknown ids, single or bulk, and enqueues nothing', async () => {
    await createUsers('known');
    const before = await server.database.db.selectFrom('tasks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    await expect(server.client.deactivateUser({ user_id: 'nobody-here' })).rejects.toMatchObject({ code: 16 });
    await expect(server.client.reactivateUser({ user_id: 'nobody-here' })).rejects.toMatchObject({ code: 16 });
    for (const call of [
      () => server.client.deactivateUsers({ user_ids: ['known', 'nobody-here'] }),
      () => server.client.reactivateUsers({ user_ids: ['known', 'nobody-here'] }),
      () => server.client.deleteUsers({ user_ids: ['known', 'nobody-here'] }),
      () => server.client.exportUsers({ user_ids: ['known', 'nobody-here'] }),
      () => server.client.restoreUsers({ user_ids: ['nobody-here'] }),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 16, metadata: { responseCode: 404 } });
    }
    const after = await server.database.db.selectFrom('tasks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
    expect((await findUser('known'))?.deleted_at).toBeUndefined();
  });

  it('validates bulk sizes', async () => {
    await expect(server.client.deactivateUsers({ user_ids: [] })).rejects.toMatchObject({ code: 4 });
    const ids = Array.from({ length: 101 }, (_, i) => `x${i}`);
    await expect(server.client.deactivateUsers({ user_ids: ids })).rejects.toMatchObject({ code: 4 });
    await expect(server.client.exportUsers({ user_ids: ids.slice(0, 26) })).rejects.toMatchObject({ code: 4 });
  });
});

describe('delete and restore', () => {
  it('runs the seed snippet: deleteUsers then restoreUsers (soft)', async () => {
    const client = server.client;
    await createUsers('to-delete');
    const response = await client.deleteUsers({ user_ids: ['to-delete'] });
    // deleted at once: invisible to queries and impossible to upsert
    expect(await findUser('to-delete')).toBeUndefined();
    await expect(client.upsertUsers([{ id: 'to-delete' }])).rejects.toMatchObject({ code: 4, message: expect.stringContaining('was deleted') });
    const task = await waitForTask(client, response.task_id);
    expect(task.status).toBe('completed');
    expect(task.result).toEqual({ 'to-delete': { status: 'ok' } });
    //restore
    await client.restoreUsers({ user_ids: ['to-delete'] });
    const restored = await findUser('to-delete');
    expect(restored?.name).toBe('name of to-delete');
    expect(restored?.custom).toEqual({ favourite: 'to-delete' });
  });

  it('restoring a user that is not deleted fails with the exact message', async () => {
    await createUsers('alive');
    const response = await server.request('POST', '/api/v2/users/restore', { body: { user_ids: ['alive'] } });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      code: 4,
      StatusCode: 400,
      message: 'RestoreUsers failed with error: "user "alive" is not deleted, it can\'t be restored"',
    });
  });

  it('pruning nullifies name, image and custom data but keeps id and timestamps, and cannot be restored', async () => {
    await server.client.upsertUsers([{ id: 'prune-me', name: 'P', image: 'img', custom: { secret: 1 } }]);
    const created = await findUser('prune-me');
    const response = await server.client.deleteUsers({ user_ids: ['prune-me'], user: 'pruning' });
    expect((await waitForTask(server.client, response.task_id)).status).toBe('completed');
    const row = await server.database.db.selectFrom('users').selectAll().where('id', '=', 'prune-me').executeTakeFirstOrThrow();
    expect(row.name).toBeNull();
    expect(row.image).toBeNull();
    expect(row.custom).toEqual({});
    expect(row.deleted_at).not.toBeNull();
    // The SDK decodes nanoseconds through a float: its Date may be a millisecond early.
    expect(Math.abs(Number(row.created_at / 1000n) - created!.created_at.getTime())).toBeLessThanOrEqual(1);
    await expect(server.client.restoreUsers({ user_ids: ['prune-me'] })).rejects.toMatchObject({ code: 4 });
  });

  it('hard delete requires hard messages and conversations, removes the user, and frees the id', async () => {
    await createUsers('hard-one');
    await expect(server.client.deleteUsers({ user_ids: ['hard-one'], user: 'hard' })).rejects.toMatchObject({ code: 4 });
    expect(await findUser('hard-one')).toBeDefined();
    const response = await server.client.deleteUsers({
      user_ids: ['hard-one'],
      user: 'hard',
      messages: 'hard',
      conversations: 'hard',
      calls: 'hard',
      files: true,
      new_channel_owner_id: 'new-owner',
    });
    expect((await waitForTask(server.client, response.task_id)).status).toBe('completed');
    const rows = await server.database.db.selectFrom('users').select('id').where('id', '=', 'hard-one').execute();
    expect(rows).toHaveLength(0);
    const task = await server.database.db.selectFrom('tasks').select('payload').where('id', '=', response.task_id).executeTakeFirstOrThrow();
    expect(task.payload).toMatchObject({ options: { user: 'hard', messages: 'hard', conversations: 'hard', calls: 'hard', files: true } });
    const again = await server.client.upsertUsers([{ id: 'hard-one', name: 'fresh' }]);
    expect(again.users['hard-one']?.name).toBe('fresh');
  });

  it('rejects unknown enum values', async () => {
    await createUsers('enum-user');
    const response = await server.request('POST', '/api/v2/users/delete', { body: { user_ids: ['enum-user'], user: 'obliterate' } });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe(4);
    expect(response.body.message).toMatch(/^DeleteUsers failed with error: "/);
  });
});

describe('GET /api/v2/tasks/{id}', () => {
  it('reports an unknown task as 404 code 16', async () => {
    await expect(server.client.getTask({ id: '00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({ code: 16 });
    const raw = await server.request('GET', '/api/v2/tasks/not-a-uuid');
    expect(raw.status).toBe(404);
    expect(Object.keys(raw.body).sort()).toEqual(['StatusCode', 'code', 'details', 'duration', 'message', 'more_info']);
  });

  it('writes task timestamps as integer nanoseconds and the result as JSON', async () => {
    await createUsers('raw-task');
    const { task_id } = await server.client.deactivateUsers({ user_ids: ['raw-task'] });
    await waitForTask(server.client, task_id);
    const raw = await server.request('GET', `/api/v2/tasks/${task_id}`);
    expect(raw.status).toBe(200);
    expect(raw.text).toMatch(/"created_at":\d{19},"updated_at":\d{19}/);
    expect(raw.text).toMatch(/"deactivated_at": ?\d{19}/);
    expect(raw.body).toMatchObject({ task_id, status: 'completed', duration: expect.any(String) });
  });
});
