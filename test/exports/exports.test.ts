// Exports (src/exports): ExportUsers as a task whose result is a signed download link, and ExportUser at once, on the
// v2 paths (node-sdk) and the v1 paths (stream-chat), side by side on one server.
import type { StreamChat, UserResponse } from 'stream-chat';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForTask, type TestServer } from '../helpers/server.js';
import { chatError, expectV1Dates, serverSideChat, waitForTaskV1 } from '../helpers/stream-chat.js';

let server: TestServer;
let chat: StreamChat;
beforeAll(async () => {
  server = await startTestServer();
  chat = serverSideChat(server);
});
afterAll(async () => {
  await server?.close();
});

async function createUsers(...ids: string[]) {
  await server.client.upsertUsers(ids.map((id) => ({ id, name: `name of ${id}`, custom: { favourite: id } })));
}

const flat = (user: unknown) => user as Record<string, unknown>;

async function createUsersV1(...ids: string[]) {
  await chat.upsertUsers(ids.map((id) => ({ id, name: `name of ${id}`, favourite: id }) as UserResponse));
}

describe('exportUsers and exportUser (v2)', () => {
  it('runs the seed snippet: exportUsers then getTask, and downloads the signed file', async () => {
    const client = server.client;
    await createUsers('exp-1', 'exp-2');
    const response = await client.exportUsers({
      user_ids: ['exp-1', 'exp-2'],
    });
    // you need to poll this endpoint
    const taskResponse = await waitForTask(client, response.task_id);
    expect(taskResponse.status === 'completed').toBe(true);
    const url = (taskResponse.result as { url: string }).url;
    expect(url.startsWith(`${server.baseUrl}/exports/users/`)).toBe(true);

    const download = await fetch(url);
    expect(download.status).toBe(200);
    const lines = (await download.text()).trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((line) => line.user.id)).toEqual(['exp-1', 'exp-2']);
    expect(lines[0].user.custom).toEqual({ favourite: 'exp-1' });
    expect(lines[0]).toMatchObject({ messages: [], reactions: [] });

    const tampered = url.replace(/signature=([0-9a-f])/, (_m, c: string) => `signature=${c === 'a' ? 'b' : 'a'}`);
    const refused = await fetch(tampered);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: 17 });
    const expired = new URL(url);
    expired.searchParams.set('expires', '1000');
    expect((await fetch(expired)).status).toBe(403); // the signature covers the expiry
  });

  it('exports one user synchronously', async () => {
    await createUsers('exp-solo');
    const response = await server.client.exportUser({ user_id: 'exp-solo' });
    expect(response.user?.id).toBe('exp-solo');
    expect(response.user?.created_at).toBeInstanceOf(Date);
    expect(response.messages).toEqual([]);
    await expect(server.client.exportUser({ user_id: 'missing-user' })).rejects.toMatchObject({ code: 16 });
  });
});

describe('exportUser / exportUsers (v1, stream-chat)', () => {
  it('exports one user synchronously, in the v1 shape', async () => {
    await createUsersV1('exp-v1');
    const response = await chat.exportUser('exp-v1');
    expect(response.user).toMatchObject({ id: 'exp-v1', name: 'name of exp-v1', favourite: 'exp-v1' });
    expectV1Dates(flat(response.user));
    expect(response.messages).toEqual([]);
    expect(response.reactions).toEqual([]);
    const raw = await server.request('GET', '/users/exp-v1/export');
    expect(raw.status).toBe(200);
    expect(raw.text).toMatch(/"created_at":"[^"]+Z"/);

    const missing = await chatError(chat.exportUser('nobody'));
    expect(missing).toMatchObject({ code: 16, message: 'ExportUser failed with error: "user "nobody" does not exist"' });
  });

  it('exports users in a task whose result is a download link', async () => {
    await createUsersV1('exp-a', 'exp-b');
    const { task_id } = await chat.exportUsers({ user_ids: ['exp-a', 'exp-b'] });
    const task = await waitForTaskV1(chat, task_id);
    expect(task.status).toBe('completed');
    const url = (task.result as { url: string }).url;
    expect(url).toContain('/exports/users/');
    const file = await fetch(url);
    expect(file.status).toBe(200);
    const lines = (await file.text()).trim().split('\n').map((line) => JSON.parse(line) as { user: { id: string } });
    expect(lines.map((line) => line.user.id)).toEqual(['exp-a', 'exp-b']);

    const tooMany = await chatError(chat.exportUsers({ user_ids: Array.from({ length: 26 }, (_, i) => `u${i}`) }));
    expect(tooMany).toMatchObject({ code: 4, message: expect.stringMatching(/^ExportUsers failed with error: /) });
  });
});
