// Deactivate, reactivate, delete (bulk and the legacy single-user DELETE), restore and task polling on the
// v1 paths, through stream-chat's server-side methods (their v2 twins: lifecycle.test.ts; exports: test/exports/).
import type { StreamChat, UserResponse } from 'stream-chat';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { RFC3339_MICROS, chatError, expectV1Dates, serverSideChat, waitForTaskV1 } from '../helpers/stream-chat.js';

let server: TestServer;
let chat: StreamChat;

beforeAll(async () => {
  server = await startTestServer();
  chat = serverSideChat(server);
});
afterAll(async () => {
  await server?.close();
});

const v1User = (user: Record<string, unknown> & { id: string }) => user as UserResponse;
const flat = (user: unknown) => user as Record<string, unknown>;

async function createUsers(...ids: string[]) {
  await chat.upsertUsers(ids.map((id) => v1User({ id, name: `name of ${id}`, favourite: id })));
}

/** A user as stream-chat's queryUsers returns it, deactivated users included; undefined when deleted or absent. */
async function findUser(id: string, includeDeactivated = true) {
  const { users } = await chat.queryUsers({ id }, [], { include_deactivated_users: includeDeactivated });
  return users[0] as Record<string, unknown> | undefined;
}

async function storedRow(id: string) {
  return server.database.db.selectFrom('users').select(['id', 'deleted_at', 'deletion', 'deactivation']).where('id', '=', id).executeTakeFirst();
}

describe('deactivateUser / reactivateUser', () => {
  it('deactivates one user with options and answers the user in the v1 shape', async () => {
    await createUsers('solo', 'admin-1');
    const response = await chat.deactivateUser('solo', { mark_messages_deleted: true, created_by_id: 'admin-1' });
    const user = flat(response.user);
    expect(user).toMatchObject({ id: 'solo', name: 'name of solo', favourite: 'solo' });
    expect(user.deactivated_at).toMatch(RFC3339_MICROS);
    expectV1Dates(user);
    expect((await storedRow('solo'))?.deactivation).toEqual({ mark_messages_deleted: true, created_by_id: 'admin-1' });
    expect(await findUser('solo', false)).toBeUndefined();
    expect((await findUser('solo'))?.deactivated_at).toBe(user.deactivated_at);
  });

  it('reactivates with a new name; the user is active again and has no deactivated_at', async () => {
    const response = await chat.reactivateUser('solo', { name: 'Solo Again', restore_messages: true });
    expect(response.user).toMatchObject({ id: 'solo', name: 'Solo Again', favourite: 'solo' });
    expect(response.user).not.toHaveProperty('deactivated_at');
    expect((await findUser('solo', false))?.name).toBe('Solo Again');
  });

  it('answers 201 on the wire, and names its errors as Stream does', async () => {
    await createUsers('wire-d');
    const raw = await server.request('POST', '/users/wire-d/deactivate', { body: {} });
    expect(raw.status, raw.text).toBe(201);
    expect(raw.body.user.deactivated_at).toMatch(RFC3339_MICROS);
    const again = await server.request('POST', '/users/wire-d/reactivate', { body: {} });
    expect(again.status, again.text).toBe(201);

    const active = await chatError(chat.reactivateUser('wire-d'));
    expect(active).toMatchObject({ code: 4, status: 400, message: `ReactivateUser failed with error: "user "wire-d" is not deactivated, it can't be reactivated"` });
    const unknown = await chatError(chat.deactivateUser('nobody'));
    expect(unknown).toMatchObject({ code: 16, status: 404, message: 'DeactivateUser failed with error: "user "nobody" does not exist"' });
  });

  it('encodes ids the way stream-chat does (encodeURIComponent) and decodes them', async () => {
    await createUsers('a@b');
    const response = await chat.deactivateUser('a@b');
    expect(response.user.id).toBe('a@b');
    await chat.reactivateUser('a@b');
  });
});

describe('deactivateUsers / reactivateUsers and getTask', () => {
  it('deactivates in bulk; the task result lists the users in the v1 shape, with RFC3339 dates', async () => {
    await createUsers('bulk-a', 'bulk-b');
    const { task_id } = await chat.deactivateUsers(['bulk-a', 'bulk-b'], { mark_messages_deleted: true });
    expect(task_id).toMatch(/^[0-9a-f-]{36}$/);
    const task = await waitForTaskV1(chat, task_id);
    expect(task.status).toBe('completed');
    expect(task.task_id).toBe(task_id);
    expect(task.created_at).toMatch(RFC3339_MICROS);
    expect(task.updated_at).toMatch(RFC3339_MICROS);
    const users = (task.result as { users: Array<Record<string, unknown>> }).users;
    expect(users.map((u) => u.id).sort()).toEqual(['bulk-a', 'bulk-b']);
    for (const user of users) {
      expect(user.favourite).toBe(user.id);
      expect(user.deactivated_at).toMatch(RFC3339_MICROS);
      expectV1Dates(user);
    }
    expect(await findUser('bulk-a', false)).toBeUndefined();

    const reactivate = await chat.reactivateUsers(['bulk-a', 'bulk-b']);
    const done = await waitForTaskV1(chat, reactivate.task_id);
    expect(done.status).toBe('completed');
    for (const user of (done.result as { users: Array<Record<string, unknown>> }).users) expect(user).not.toHaveProperty('deactivated_at');
    expect((await findUser('bulk-a', false))?.id).toBe('bulk-a');
  });

  it('writes the same instants as the v2 task, to the microsecond', async () => {
    await createUsers('exact');
    const { task_id } = await chat.deactivateUsers(['exact']);
    await waitForTaskV1(chat, task_id);
    const v1 = await server.request('GET', `/tasks/${task_id}`);
    const v2 = await server.request('GET', `/api/v2/tasks/${task_id}`);
    expect(v1.status).toBe(200);
    const nanos = (text: string, field: string) => BigInt(new RegExp(`"${field}":\\s*(\\d+)`).exec(text)![1]!);
    const micros = (rfc3339: string) => BigInt(Date.parse(rfc3339)) * 1000n + BigInt(rfc3339.slice(23, 26));
    expect(micros(v1.body.created_at) * 1000n).toBe(nanos(v2.text, 'created_at'));
    expect(micros(v1.body.result.users[0].deactivated_at) * 1000n).toBe(nanos(v2.text, 'deactivated_at'));
    expect(v1.text).not.toMatch(/"(created_at|updated_at|deactivated_at)":\s*\d/);
  });

  it('answers an unknown task with 404 code 16, named GetTask', async () => {
    const error = await chatError(chat.getTask('00000000-0000-4000-8000-000000000000'));
    expect(error).toMatchObject({ code: 16, status: 404, message: 'GetTask failed with error: "task "00000000-0000-4000-8000-000000000000" does not exist"' });
  });
});

describe('deleteUsers / restoreUsers', () => {
  it('soft deletes in bulk (at once), finishes in a task, and restores the users with their data', async () => {
    await createUsers('del-a', 'del-b');
    const { task_id } = await chat.deleteUsers(['del-a', 'del-b'], { user: 'soft', messages: 'soft' });
    expect(await findUser('del-a')).toBeUndefined();
    const task = await waitForTaskV1(chat, task_id);
    expect(task).toMatchObject({ status: 'completed', result: { 'del-a': { status: 'ok' }, 'del-b': { status: 'ok' } } });

    const raw = await server.request('POST', '/users/restore', { body: { user_ids: ['del-a'] } });
    expect(raw.status, raw.text).toBe(201);
    await chat.restoreUsers(['del-b']);
    expect(await findUser('del-a')).toMatchObject({ id: 'del-a', name: 'name of del-a', favourite: 'del-a' });
    expect(await findUser('del-a')).not.toHaveProperty('deleted_at');
  });

  it('refuses to restore a user that is not deleted, with Stream message', async () => {
    await createUsers('alive');
    const error = await chatError(chat.restoreUsers(['alive']));
    expect(error).toMatchObject({ code: 4, status: 400, message: `RestoreUsers failed with error: "user "alive" is not deleted, it can't be restored"` });
  });

  it('hard deletes: the user is gone and its id can be created afresh', async () => {
    await createUsers('hard-x');
    const { task_id } = await chat.deleteUsers(['hard-x'], { user: 'hard', messages: 'hard', conversations: 'hard' });
    await waitForTaskV1(chat, task_id);
    expect(await storedRow('hard-x')).toBeUndefined();
    const again = await chat.upsertUser(v1User({ id: 'hard-x' }));
    expect(again.users['hard-x']).not.toHaveProperty('favourite');
  });

  it('refuses a hard user delete without hard messages and conversations, named DeleteUsers', async () => {
    await createUsers('half-hard');
    const error = await chatError(chat.deleteUsers(['half-hard'], { user: 'hard' }));
    expect(error).toMatchObject({ code: 4, message: expect.stringMatching(/^DeleteUsers failed with error: "hard deleting a user requires/) });
    expect(await findUser('half-hard')).toBeDefined();
  });
});

describe('deleteUser (legacy DELETE /users/{id})', () => {
  it('soft deletes one user at once and answers 200 {user, task_id, duration}', async () => {
    await createUsers('legacy-soft');
    const raw = await server.request('DELETE', '/users/legacy-soft');
    expect(raw.status, raw.text).toBe(200);
    expect(Object.keys(raw.body).sort()).toEqual(['duration', 'task_id', 'user']);
    expect(raw.body.user).toMatchObject({ id: 'legacy-soft', favourite: 'legacy-soft' });
    expect(raw.body.user.deleted_at).toMatch(RFC3339_MICROS);
    expect(await findUser('legacy-soft')).toBeUndefined();
    expect((await storedRow('legacy-soft'))?.deletion).toEqual({ user: 'soft' });
    expect((await waitForTaskV1(chat, raw.body.task_id)).status).toBe('completed');
    // Soft: it can be restored.
    await chat.restoreUsers(['legacy-soft']);
    expect(await findUser('legacy-soft')).toMatchObject({ favourite: 'legacy-soft' });
  });

  it('maps mark_messages_deleted and delete_conversation_channels to soft message and conversation deletion', async () => {
    await createUsers('legacy-opts');
    const response = await chat.deleteUser('legacy-opts', { mark_messages_deleted: true, delete_conversation_channels: true });
    expect(response.user.id).toBe('legacy-opts');
    expect(response.task_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await storedRow('legacy-opts'))?.deletion).toEqual({ user: 'soft', messages: 'soft', conversations: 'soft' });
  });

  it('hard deletes with hard_delete: the task removes the user', async () => {
    await createUsers('legacy-hard');
    const response = await chat.deleteUser('legacy-hard', { hard_delete: true, mark_messages_deleted: true });
    expect(response.user).toMatchObject({ id: 'legacy-hard' });
    expect(flat(response.user).deleted_at).toMatch(RFC3339_MICROS);
    const task = await waitForTaskV1(chat, response.task_id!);
    expect(task).toMatchObject({ status: 'completed', result: { 'legacy-hard': { status: 'ok' } } });
    expect(await storedRow('legacy-hard')).toBeUndefined();
    const payload = await server.database.db.selectFrom('tasks').select('payload').where('id', '=', response.task_id!).executeTakeFirstOrThrow();
    expect(payload.payload).toMatchObject({ user_ids: ['legacy-hard'], options: { user: 'hard', messages: 'hard', conversations: 'hard' } });
  });

  it('answers an unknown user with 404 code 16, named DeleteUser', async () => {
    const error = await chatError(chat.deleteUser('nobody-here'));
    expect(error).toMatchObject({ code: 16, status: 404, message: 'DeleteUser failed with error: "user "nobody-here" does not exist"' });
    const bad = await server.request('DELETE', '/users/x', { query: { hard_delete: 'maybe' } });
    expect(bad.body).toMatchObject({ code: 4, message: expect.stringMatching(/^DeleteUser failed with error: /) });
  });
});
