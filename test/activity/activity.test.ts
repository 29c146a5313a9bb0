// Active users: last_active from user-token requests (at most once a minute per user), one activity row per user
// and calendar month, guests counted, anonymous callers never; the operator's monthly count.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const thisMonth = () => new Date().toISOString().slice(0, 7);

async function activeUsers(month?: string) {
  const response = await server.request('GET', '/operator/active-users', { query: month ? { month } : {} });
  expect(response.status).toBe(200);
  return response.body as { month: string; active_users: number };
}

async function lastActive(id: string) {
  const row = await server.database.db.selectFrom('users').select('last_active').where('id', '=', id).executeTakeFirstOrThrow();
  return row.last_active;
}

describe('active users', () => {
  it('records last_active and the month from user-token requests, once a minute at most', async () => {
    await server.client.upsertUsers([{ id: 'active-1' }, { id: 'idle-1' }]);
    const before = (await activeUsers()).active_users;
    expect(await lastActive('active-1')).toBeNull();

    const headers = { authorization: signToken({ user_id: 'active-1' }) };
    const first = await server.request('GET', '/api/v2/users', { headers });
    expect(first.status).toBe(200);
    const stamped = await lastActive('active-1');
    expect(stamped).not.toBeNull();
    await server.request('GET', '/api/v2/users', { headers });
    expect(await lastActive('active-1')).toBe(stamped); // not on every request

    expect(await lastActive('idle-1')).toBeNull(); // server-side requests about a user are not its activity
    expect((await activeUsers()).active_users).toBe(before + 1);
    // The SDK decodes it as a Date.
    const { users } = await server.client.queryUsers({ payload: { filter_conditions: { id: 'active-1' } } });
    expect(users[0]!.last_active).toBeInstanceOf(Date);
  });

  it('counts guests, never anonymous callers', async () => {
    const before = (await activeUsers()).active_users;
    const guest = await server.request('POST', '/api/v2/guest', {
      headers: { 'stream-auth-type': 'anonymous', authorization: '' },
      body: { user: { id: 'visitor' } },
    });
    expect(guest.status).toBe(201);
    expect((await activeUsers()).active_users).toBe(before); // anonymous: nothing counted
    const own = await server.request('GET', '/api/v2/users', { headers: { authorization: guest.body.access_token } });
    expect(own.status).toBe(200);
    expect((await activeUsers()).active_users).toBe(before + 1);
  });

  it("keeps an earlier month's count when users are active later", async () => {
    await server.client.upsertUsers([{ id: 'old-timer' }]);
    await sql`INSERT INTO user_activity (month, user_id) VALUES ('2026-01-01', 'old-timer'), ('2026-01-01', 'gone-user')`.execute(server.database.db);
    expect((await activeUsers('2026-01')).active_users).toBe(2);
    await server.request('GET', '/api/v2/users', { headers: { authorization: signToken({ user_id: 'old-timer' }) } });
    await server.client.deleteUsers({ user_ids: ['old-timer'], user: 'hard', messages: 'hard', conversations: 'hard' });
    expect((await activeUsers('2026-01')).active_users).toBe(2);
    expect((await activeUsers()).month).toBe(thisMonth());
  });

  it('refuses a malformed month and client-side callers', async () => {
    const bad = await server.request('GET', '/operator/active-users', { query: { month: '2026-13' } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe(4);
    const user = await server.request('GET', '/operator/active-users', { headers: { authorization: signToken({ user_id: 'active-1' }) } });
    expect(user.status).toBe(403);
    expect(user.body.code).toBe(17);
  });
});
