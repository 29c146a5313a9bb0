// Client-side rights and the data they may touch: server-owned fields kept on a user's own upsert, custom data that can
// never pass for a built-in field, multi-tenant scope on blocks, unique usernames where (and only where) a write
// changes a name or teams, guest tokens under a revocation, concurrent blocks, presence of invisible users.
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serverSideChat } from '../helpers/stream-chat.js';
import { signToken, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
});
afterAll(async () => {
  await server?.close();
});
beforeEach(async () => {
  await server.client.updateApp({ multi_tenant_enabled: false, enforce_unique_usernames: 'no', revoke_tokens_issued_before: null as never });
});

const userToken = (userId: string) => signToken({ user_id: userId, iat: Math.floor(Date.now() / 1000) - 5 });
const asUser = (userId: string) => ({ authorization: userToken(userId) });

describe("a user's upsert of itself", () => {
  it('keeps role, teams and teams_role when not sent, and accepts them re-sent unchanged in any key order', async () => {
    await server.client.upsertUsers([{ id: 'tenant', role: 'moderator', teams: ['red', 'blue'], teams_role: { red: 'guest', blue: 'member' } }]);
    const omitted = await server.request('POST', '/api/v2/users', { body: { users: { tenant: { id: 'tenant', name: 'T' } } }, headers: asUser('tenant') });
    expect(omitted.status).toBe(201);
    expect(omitted.body.users.tenant).toMatchObject({ role: 'moderator', teams: ['red', 'blue'], teams_role: { red: 'guest', blue: 'member' } });

    const resent = await server.request('POST', '/api/v2/users', {
      body: { users: { tenant: { id: 'tenant', teams: ['blue', 'red'], teams_role: { blue: 'member', red: 'guest' } } } },
      headers: asUser('tenant'),
    });
    expect(resent.status).toBe(201);

    const widened = await server.request('POST', '/api/v2/users', {
      body: { users: { tenant: { id: 'tenant', teams_role: { red: 'admin', blue: 'member' } } } },
      headers: asUser('tenant'),
    });
    expect(widened.status).toBe(403);
    expect(widened.body).toMatchObject({ code: 17 });
  });
});

describe('custom data and built-in fields', () => {
  it('accepts any key in v2 custom data, a built-in name included (node-sdk "Date conversion")', async () => {
    const createdAt = new Date();
    const response = await server.client.upsertUsers([{ id: 'dated', custom: { created_at: createdAt } }]);
    expect(response.users.dated?.custom).toEqual({ created_at: createdAt.toISOString() });
  });

  it('never lets custom data pass for a built-in field in the v1 view, set or not', async () => {
    await server.client.upsertUsers([{ id: 'spoofer', name: 'Real Name' }]);
    await server.client.updateUsersPartial({
      users: [{ id: 'spoofer', set: { 'custom.deactivated_at': '2020-01-01T00:00:00Z', 'custom.name': 'Fake', 'custom.bypass_moderation': true, mood: 'ok' } }],
    });
    const v2 = (await server.client.queryUsers({ payload: { filter_conditions: { id: 'spoofer' } } })).users[0]!;
    expect(v2.custom).toEqual({ deactivated_at: '2020-01-01T00:00:00Z', name: 'Fake', bypass_moderation: true, mood: 'ok' });
    const chat = serverSideChat(server);
    const [v1] = (await chat.queryUsers({ id: 'spoofer' })).users as unknown as Array<Record<string, unknown>>;
    expect(v1).not.toHaveProperty('deactivated_at');
    expect(v1).not.toHaveProperty('bypass_moderation');
    expect(v1!.name).toBe('Real Name');
    expect(v1!.mood).toBe('ok');
  });
});

describe('multi-tenant blocks', () => {
  it('answers a block of another team\'s user as of an unknown one, and lists no such block', async () => {
    await server.client.upsertUsers([
      { id: 'red-1', teams: ['red'] },
      { id: 'red-2', teams: ['red'] },
      { id: 'blue-1', teams: ['blue'], name: 'Blue Secret' },
    ]);
    // Blocked by the server before the app turned multi-tenant.
    await server.client.blockUsers({ user_id: 'red-1', blocked_user_id: 'blue-1' });
    await server.client.updateApp({ multi_tenant_enabled: true });

    const outOfScope = await server.request('POST', '/api/v2/users/block', { body: { blocked_user_id: 'blue-1' }, headers: asUser('red-1') });
    const unknown = await server.request('POST', '/api/v2/users/block', { body: { blocked_user_id: 'nobody-at-all' }, headers: asUser('red-1') });
    expect(outOfScope.status).toBe(404);
    expect(outOfScope.body.code).toBe(16);
    expect(outOfScope.body.message.replace('blue-1', 'X')).toBe(unknown.body.message.replace('nobody-at-all', 'X'));
    expect((await server.request('POST', '/api/v2/users/unblock', { body: { blocked_user_id: 'blue-1' }, headers: asUser('red-1') })).status).toBe(404);

    expect((await server.request('POST', '/api/v2/users/block', { body: { blocked_user_id: 'red-2' }, headers: asUser('red-1') })).status).toBe(201);
    const listed = await server.request('GET', '/api/v2/users/block', { headers: asUser('red-1') });
    expect(listed.status).toBe(200);
    expect(listed.body.blocks.map((block: { blocked_user_id: string }) => block.blocked_user_id)).toEqual(['red-2']);
    expect(listed.text).not.toContain('Blue Secret');
    // Server-side, nothing is scoped.
    const all = await server.client.getBlockedUsers({ user_id: 'red-1' });
    expect(all.blocks.map((block) => block.blocked_user_id).sort()).toEqual(['blue-1', 'red-2']);
  });

  it('keeps two identical blocks at once from failing: both succeed, one block exists', async () => {
    await server.client.upsertUsers([{ id: 'twin-blocker' }, { id: 'twin-target' }]);
    for (let round = 0; round < 10; round++) {
      await server.client.unblockUsers({ user_id: 'twin-blocker', blocked_user_id: 'twin-target' });
      const results = await Promise.all(
        [1, 2, 3].map(() => server.request('POST', '/api/v2/users/block', { body: { blocked_user_id: 'twin-target' }, headers: asUser('twin-blocker') })),
      );
      expect(results.map((r) => r.status)).toEqual([201, 201, 201]);
      expect(new Set(results.map((r) => String(r.body.created_at))).size).toBe(1);
    }
    const rows = await sql<{ n: number }>`SELECT count(*)::int AS n FROM user_blocks WHERE user_id = 'twin-blocker'`.execute(server.database.db);
    expect(rows.rows[0]!.n).toBe(1);
  });
});

describe('unique usernames', () => {
  it('holds a partial update of teams to the team rule, and not an unrelated change of a user who shares a name', async () => {
    await server.client.upsertUsers([
      { id: 'named-red', name: 'Same Name', teams: ['red'] },
      { id: 'named-blue', name: 'same_name', teams: ['blue'] },
      { id: 'named-green', name: 'Same-Name', teams: ['green'] },
    ]);
    await server.client.updateApp({ enforce_unique_usernames: 'team' });
    const moved = await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'named-blue', set: { teams: ['red'] } }] } });
    expect(moved.status).toBe(400);
    expect(moved.body.code).toBe(6);
    expect(moved.body.message).toContain("already exists in team 'red'");

    await server.client.updateApp({ enforce_unique_usernames: 'app' });
    // Three users shared the name before the setting: an unrelated change of one of them is not refused.
    const unrelated = await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'named-blue', set: { mood: 'fine' } }] } });
    expect(unrelated.status).toBe(200);
    const renamed = await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'named-green', set: { name: 'SAME NAME' } }] } });
    expect(renamed.body.code).toBe(6);
  });
});

describe('guest tokens', () => {
  it('carry iat: a guest made after an app-wide revocation is not refused', async () => {
    await server.client.updateApp({ revoke_tokens_issued_before: new Date(Date.now() - 60_000) });
    const guest = await server.request('POST', '/api/v2/guest', { body: { user: { id: 'visitor' } }, headers: { 'stream-auth-type': 'anonymous', authorization: '' } });
    expect(guest.status).toBe(201);
    const payload = JSON.parse(Buffer.from(guest.body.access_token.split('.')[1], 'base64url').toString());
    expect(typeof payload.iat).toBe('number');
    const query = await server.request('GET', '/api/v2/users', { headers: { authorization: guest.body.access_token } });
    expect(query.status).toBe(200);
  });
});

describe('presence', () => {
  it('never shows an invisible user online, and purges presence rows left by dead processes', async () => {
    await server.client.upsertUsers([{ id: 'seen', invisible: false }, { id: 'unseen', invisible: true }]);
    await sql`INSERT INTO user_connections (id, user_id) VALUES (gen_random_uuid(), 'seen'), (gen_random_uuid(), 'unseen')`.execute(server.database.db);
    await sql`INSERT INTO user_connections (id, user_id, seen_at) VALUES (gen_random_uuid(), 'seen', now() - interval '10 minutes')`.execute(server.database.db);
    const { users } = await server.client.queryUsers({ payload: { filter_conditions: { id: { $in: ['seen', 'unseen'] } }, sort: [{ field: 'id', direction: 1 }] } });
    expect(users.map((user) => [user.id, user.online])).toEqual([['seen', true], ['unseen', false]]);

    const { purgeStaleConnections } = await import('../../src/connect/service.js');
    expect(await purgeStaleConnections(server.app.services)).toBe(1);
    const left = await sql<{ n: number }>`SELECT count(*)::int AS n FROM user_connections WHERE seen_at < now() - interval '90 seconds'`.execute(server.database.db);
    expect(left.rows[0]!.n).toBe(0);
    await sql`DELETE FROM user_connections`.execute(server.database.db);
  });
});

describe('$autocomplete on id', () => {
  it('matches without regard to case, as on name', async () => {
    await server.client.upsertUsers([{ id: 'Mixed-Case-Id' }, { id: 'mixed-lower' }, { id: 'other' }]);
    const { users } = await server.client.queryUsers({ payload: { filter_conditions: { id: { $autocomplete: 'MIXED' } }, sort: [{ field: 'id', direction: 1 }] } });
    expect(users.map((user) => user.id)).toEqual(['Mixed-Case-Id', 'mixed-lower']);
  });
});
