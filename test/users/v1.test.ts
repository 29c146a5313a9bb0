// The v1 users paths through the real `stream-chat` client (server-side), and raw HTTP for what the SDK hides:
// status codes, the wire date format, client-side (user token and anonymous) access.
import { decodeJwt } from 'jose';
import type { StreamChat, UserResponse } from 'stream-chat';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StreamChat as StreamChatClient } from 'stream-chat';
import { API_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { RFC3339_MICROS, chatError, expectV1Dates, serverSideChat } from '../helpers/stream-chat.js';

let server: TestServer;
let chat: StreamChat;
const connected: StreamChat[] = [];

beforeAll(async () => {
  server = await startTestServer({ worker: false });
  chat = serverSideChat(server);
});
afterEach(async () => {
  await Promise.all(connected.splice(0).map((client) => client.disconnectUser(200).catch(() => {})));
});
afterAll(async () => {
  await server?.close();
});

/** A flattened v1 user (stream-chat's UserResponse admits custom fields only by declaration merging). */
const v1User = (user: Record<string, unknown> & { id: string }) => user as UserResponse;

/** The user as the v2 API (node-sdk) sees it: custom data nested. */
async function storedV2(id: string) {
  const response = await server.client.queryUsers({ payload: { filter_conditions: { id }, include_deactivated_users: true } });
  return response.users[0];
}

/** A user token as stream-chat's createToken makes it, with an iat so revocation tests elsewhere cannot affect it. */
const userToken = (userId: string) => chat.createToken(userId, undefined, Math.floor(Date.now() / 1000) - 1);

describe('upsertUser / upsertUsers (POST /users)', () => {
  it('takes custom fields flattened and answers with them flattened, dates as RFC3339', async () => {
    const response = await chat.upsertUser(v1User({ id: 'reader', name: 'Reader', image: 'https://cdn/r.png', book: 'dune', pages: 412, tags: ['sf'] }));
    const user = response.users.reader as unknown as Record<string, unknown>;
    expect(user).toMatchObject({ id: 'reader', name: 'Reader', image: 'https://cdn/r.png', role: 'user', book: 'dune', pages: 412, tags: ['sf'] });
    expect(user.created_at).toMatch(RFC3339_MICROS);
    expect(user.updated_at).toMatch(RFC3339_MICROS);
    expect(Math.abs(Date.parse(user.created_at as string) - Date.now())).toBeLessThan(60_000);
    expect(user).toMatchObject({ banned: false, online: false, invisible: false, shadow_banned: false, blocked_user_ids: [], teams: [], language: '' });
    expect(user).toMatchObject({ devices: [], mutes: [], channel_mutes: [], unread_count: 0, total_unread_count: 0 });
    expectV1Dates(user);
    expect(response.membership_deletion_task_id).toBe('');

    // The same user through v2: custom data nested, built-ins outside it.
    const v2 = await storedV2('reader');
    expect(v2?.custom).toEqual({ book: 'dune', pages: 412, tags: ['sf'] });
    expect(v2?.name).toBe('Reader');
  });

  it('upserts several users at once and replaces custom data not sent again', async () => {
    const response = await chat.upsertUsers([
      v1User({ id: 'batch-a', book: 'a', shelf: 1 }),
      v1User({ id: 'batch-b', book: 'b', nested: { deep: { x: 1 } } }),
    ]);
    expect(Object.keys(response.users).sort()).toEqual(['batch-a', 'batch-b']);
    expect(response.users['batch-b']).toMatchObject({ nested: { deep: { x: 1 } } });

    const again = await chat.upsertUser(v1User({ id: 'batch-a', book: 'a2' }));
    expect(again.users['batch-a']).toMatchObject({ book: 'a2' });
    expect(again.users['batch-a']).not.toHaveProperty('shelf');
    expect((await storedV2('batch-a'))?.custom).toEqual({ book: 'a2' });
  });

  it('ignores the read-only fields of a user sent back as it was received', async () => {
    const first = (await chat.upsertUser(v1User({ id: 'roundtrip', name: 'R', color: 'red' }))).users.roundtrip!;
    const second = (await chat.upsertUser({ ...first, color: 'blue' } as UserResponse)).users.roundtrip as unknown as Record<string, unknown>;
    expect(second).toMatchObject({ id: 'roundtrip', name: 'R', color: 'blue', created_at: first.created_at });
    expect((await storedV2('roundtrip'))?.custom).toEqual({ color: 'blue' });
  });

  it('answers 201 on the wire with flattened fields and RFC3339 strings, never nanoseconds', async () => {
    const raw = await server.request('POST', '/users', { body: { users: { wire: { id: 'wire', role: 'user', book: 'dune' } } } });
    expect(raw.status, raw.text).toBe(201);
    expect(raw.body.users.wire.book).toBe('dune');
    expect(raw.body.users.wire).not.toHaveProperty('custom');
    expect(raw.text).toMatch(/"created_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"/);
    expect(raw.text).not.toMatch(/"(created_at|updated_at)":\d/);
    expect(typeof raw.body.duration).toBe('string');
  });

  it('rejects invalid users with code 4, named UpdateUsers as on v2, and writes nothing', async () => {
    const badId = await chatError(chat.upsertUser(v1User({ id: 'no spaces allowed' })));
    expect(badId).toMatchObject({ code: 4, status: 400 });
    expect(badId.message).toMatch(/^UpdateUsers failed with error: ".*"$/);

    const badName = await chatError(chat.upsertUser(v1User({ id: 'badname', name: 42 })));
    expect(badName).toMatchObject({ code: 4, status: 400 });
    expect(badName.message).toContain('UpdateUsers failed with error:');
    expect(await storedV2('badname')).toBeUndefined();

    const tooBig = await chatError(chat.upsertUser(v1User({ id: 'huge', blob: 'x'.repeat(6000) })));
    expect(tooBig).toMatchObject({ code: 4 });
    expect(tooBig.message).toContain('too large');
  });
});

describe('queryUsers (GET /users)', () => {
  beforeAll(async () => {
    await chat.upsertUsers([
      v1User({ id: 'q-1', name: 'Query One', genre: 'sf', rating: 3 }),
      v1User({ id: 'q-2', name: 'Query Two', genre: 'sf', rating: 5 }),
      v1User({ id: 'q-3', name: 'Query Three', genre: 'crime', rating: 4 }),
    ]);
  });

  it('filters on flattened custom fields, sorts, pages, and answers flattened users', async () => {
    const response = await chat.queryUsers({ genre: 'sf' } as never, [{ rating: -1 }] as never, { limit: 10 });
    expect(response.users.map((u) => u.id)).toEqual(['q-2', 'q-1']);
    const user = response.users[0] as unknown as Record<string, unknown>;
    expect(user).toMatchObject({ id: 'q-2', name: 'Query Two', genre: 'sf', rating: 5 });
    expectV1Dates(user);

    const paged = await chat.queryUsers({ id: { $in: ['q-1', 'q-2', 'q-3'] } }, { id: 1 }, { limit: 1, offset: 1 });
    expect(paged.users.map((u) => u.id)).toEqual(['q-2']);

    const autocomplete = await chat.queryUsers({ name: { $autocomplete: 'thr' } });
    expect(autocomplete.users.map((u) => u.id)).toEqual(['q-3']);
  });

  it('filters on dates given as RFC3339 strings', async () => {
    const { users } = await chat.queryUsers({ id: 'q-1' });
    const createdAt = users[0]!.created_at!;
    const after = await chat.queryUsers({ id: { $in: ['q-1', 'q-2', 'q-3'] }, created_at: { $gte: createdAt } } as never);
    expect(after.users.map((u) => u.id)).toContain('q-1');
  });

  it('answers 200 on the wire, and reports a bad filter as QueryUsers with code 4', async () => {
    const raw = await server.request('GET', '/users', { query: { payload: JSON.stringify({ filter_conditions: { id: 'q-3' } }) } });
    expect(raw.status).toBe(200);
    expect(raw.body.users).toHaveLength(1);
    expect(raw.body.users[0].genre).toBe('crime');
    expect(raw.text).toMatch(/"created_at":"[^"]+Z"/);

    const error = await chatError(chat.queryUsers({ name: { $autocomplete: '!!!' } }));
    expect(error).toMatchObject({ code: 4, status: 400 });
    expect(error.message).toBe(
      'QueryUsers failed with error: "$autocomplete field is empty or contains invalid characters. Please provide a valid string to autocomplete"',
    );
  });

  it('shares the rate-limit bucket of its v2 twin', async () => {
    const v1 = await server.request('GET', '/users');
    const v2 = await server.request('GET', '/api/v2/users');
    expect(Number(v2.headers.get('x-ratelimit-remaining'))).toBe(Number(v1.headers.get('x-ratelimit-remaining')) - 1);
    expect(v2.headers.get('x-ratelimit-limit')).toBe(v1.headers.get('x-ratelimit-limit'));
  });
});

describe('partialUpdateUser / partialUpdateUsers (PATCH /users)', () => {
  it('sets and unsets flattened custom and built-in fields', async () => {
    await chat.upsertUser(v1User({ id: 'partial', name: 'P', image: 'i', book: 'dune', year: 1965 }));
    const response = await chat.partialUpdateUser({ id: 'partial', set: { book: 'x', name: 'New P', 'meta.source': 'import' } as never, unset: ['image', 'year' as never] });
    const user = response.users.partial as unknown as Record<string, unknown>;
    expect(user).toMatchObject({ id: 'partial', name: 'New P', book: 'x', meta: { source: 'import' } });
    expect(user).not.toHaveProperty('image');
    expect(user).not.toHaveProperty('year');
    expectV1Dates(user);
    expect((await storedV2('partial'))?.custom).toEqual({ book: 'x', meta: { source: 'import' } });
  });

  it('updates several users at once', async () => {
    await chat.upsertUsers([v1User({ id: 'pa' }), v1User({ id: 'pb' })]);
    const response = await chat.partialUpdateUsers([
      { id: 'pa', set: { color: 'red' } as never },
      { id: 'pb', set: { color: 'blue' } as never },
    ]);
    expect(response.users.pa).toMatchObject({ color: 'red' });
    expect(response.users.pb).toMatchObject({ color: 'blue' });
  });

  it('answers 200 on the wire, and names errors UpdateUsersPartial', async () => {
    await chat.upsertUser(v1User({ id: 'partial-wire' }));
    const raw = await server.request('PATCH', '/users', { body: { users: [{ id: 'partial-wire', set: { a: 1 } }] } });
    expect(raw.status).toBe(200);
    expect(raw.body.users['partial-wire'].a).toBe(1);

    const missing = await chatError(chat.partialUpdateUser({ id: 'nobody', set: { name: 'x' } }));
    expect(missing).toMatchObject({ code: 16, status: 404, message: 'UpdateUsersPartial failed with error: "user "nobody" does not exist"' });
    const reserved = await chatError(chat.partialUpdateUser({ id: 'partial-wire', set: { created_at: 'x' } }));
    expect(reserved).toMatchObject({ code: 4 });
  });
});

describe('client-side callers on the v1 paths', () => {
  beforeAll(async () => {
    await chat.upsertUsers([v1User({ id: 'me', name: 'Me', mood: 'ok' }), v1User({ id: 'someone-else' })]);
  });

  const asUser = (userId: string) => ({ authorization: userToken(userId) });

  it('lets a user token query users (queryUsers client-side)', async () => {
    const raw = await server.request('GET', '/users', {
      headers: asUser('me'),
      query: { payload: JSON.stringify({ filter_conditions: { id: { $in: ['me', 'someone-else'] } }, sort: [{ field: 'id', direction: 1 }], presence: false }) },
    });
    expect(raw.status, raw.text).toBe(200);
    expect(raw.body.users.map((u: { id: string }) => u.id)).toEqual(['me', 'someone-else']);
    expect(raw.body.users[0].mood).toBe('ok');
  });

  it('lets a user upsert and partially update itself, flattened, but not others, its role or its teams', async () => {
    const own = await server.request('POST', '/users', { headers: asUser('me'), body: { users: { me: { id: 'me', name: 'Me', mood: 'great' } } } });
    expect(own.status, own.text).toBe(201);
    expect(own.body.users.me.mood).toBe('great');
    const partial = await server.request('PATCH', '/users', { headers: asUser('me'), body: { users: [{ id: 'me', set: { mood: 'fine' } }] } });
    expect(partial.status, partial.text).toBe(200);
    expect(partial.body.users.me.mood).toBe('fine');

    const other = await server.request('POST', '/users', { headers: asUser('me'), body: { users: { 'someone-else': { id: 'someone-else', name: 'x' } } } });
    expect(other.status).toBe(403);
    expect(other.body).toMatchObject({ code: 17, message: expect.stringMatching(/^UpdateUsers failed with error: /) });
    const role = await server.request('POST', '/users', { headers: asUser('me'), body: { users: { me: { id: 'me', role: 'admin' } } } });
    expect(role.body).toMatchObject({ code: 17, message: 'UpdateUsers failed with error: "user role can only be updated server-side"' });
    const teams = await server.request('PATCH', '/users', { headers: asUser('me'), body: { users: [{ id: 'me', set: { teams: ['red'] } }] } });
    expect(teams.body).toMatchObject({ code: 17, message: 'UpdateUsersPartial failed with error: "user teams can only be updated server-side"' });
  });

  it('serves stream-chat used client-side: connectUser, then queryUsers, partialUpdateUser, upsertUser and blocks as the user', async () => {
    const client = new StreamChatClient(API_KEY, { baseURL: server.baseUrl, allowServerSideConnect: true, timeout: 10_000 });
    connected.push(client);
    await client.connectUser({ id: 'me', name: 'Me' }, userToken('me'));
    // Requests now carry user_id and connection_id query parameters, and the user token.
    const { users } = await client.queryUsers({ id: { $in: ['me', 'someone-else'] } }, { id: 1 });
    expect(users.map((u) => u.id)).toEqual(['me', 'someone-else']);
    expect(users[0]).toMatchObject({ id: 'me', name: 'Me' });

    const partial = await client.partialUpdateUser({ id: 'me', set: { mood: 'connected' } as never });
    expect(partial.users.me).toMatchObject({ mood: 'connected' });
    // The user object the client holds (as of its connection), sent back whole with a change, is accepted: its
    // read-only fields are ignored, and an upsert replaces the custom data with what it sends.
    const held = client.user as unknown as Record<string, unknown>;
    const upsert = await client.upsertUser({ ...held, hobby: 'chess' } as unknown as UserResponse);
    expect(upsert.users.me).toMatchObject({ hobby: 'chess', mood: held.mood, created_at: held.created_at });
    await expect(client.partialUpdateUser({ id: 'someone-else', set: { mood: 'x' } as never })).rejects.toMatchObject({ code: 17, status: 403 });

    await client.blockUser('someone-else');
    expect((await client.getBlockedUsers()).blocks.map((b) => b.blocked_user_id)).toEqual(['someone-else']);
    await client.unBlockUser('someone-else');
    expect((await client.getBlockedUsers()).blocks).toEqual([]);
  });

  it('refuses user tokens on the server-side-only v1 paths with 403 code 17', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/users/someone-else/deactivate', {}, 'DeactivateUser'],
      ['POST', '/users/me/reactivate', {}, 'ReactivateUser'],
      ['POST', '/users/delete', { user_ids: ['someone-else'] }, 'DeleteUsers'],
      ['DELETE', '/users/someone-else', undefined, 'DeleteUser'],
      ['POST', '/users/restore', { user_ids: ['me'] }, 'RestoreUsers'],
      ['GET', '/users/me/export', undefined, 'ExportUser'],
      ['POST', '/export/users', { user_ids: ['me'] }, 'ExportUsers'],
      ['GET', '/tasks/00000000-0000-4000-8000-000000000000', undefined, 'GetTask'],
      ['GET', '/app', undefined, 'GetApp'],
      ['PATCH', '/app', { multi_tenant_enabled: true }, 'UpdateApp'],
    ];
    for (const [method, path, body, operation] of cases) {
      const raw = await server.request(method, path, { headers: asUser('me'), body });
      expect(raw.status, `${method} ${path}`).toBe(403);
      expect(raw.body.code).toBe(17);
      expect(raw.body.message).toMatch(new RegExp(`^${operation} failed with error: `));
    }
    expect((await storedV2('someone-else'))?.deactivated_at).toBeUndefined();
  });

  it('refuses anonymous callers everywhere but POST /guest', async () => {
    const anonymous = { 'stream-auth-type': 'anonymous', authorization: '' };
    const query = await server.request('GET', '/users', { headers: anonymous });
    expect(query.status).toBe(403);
    expect(query.body).toMatchObject({ code: 17, message: 'QueryUsers failed with error: "anonymous users are not allowed to perform this action"' });
    const block = await server.request('POST', '/users/block', { headers: anonymous, body: { blocked_user_id: 'me' } });
    expect(block.body).toMatchObject({ code: 17 });
  });

  it('refuses the token of a deactivated user with code 5', async () => {
    await chat.upsertUser(v1User({ id: 'sleeper' }));
    await chat.deactivateUser('sleeper');
    const raw = await server.request('GET', '/users', { headers: asUser('sleeper') });
    expect(raw.status).toBe(401);
    expect(raw.body).toMatchObject({ code: 5, message: 'QueryUsers failed with error: "user "sleeper" was deactivated"' });
    await chat.reactivateUser('sleeper');
    expect((await server.request('GET', '/users', { headers: asUser('sleeper') })).status).toBe(200);
  });
});

describe('guests (POST /guest)', () => {
  it('creates a guest for an anonymous caller, custom fields flattened both ways, with a token for the returned id', async () => {
    const raw = await server.request('POST', '/guest', {
      headers: { 'stream-auth-type': 'anonymous', authorization: '' },
      body: { user: { id: 'visitor', name: 'Visitor', color: 'green' } },
    });
    expect(raw.status, raw.text).toBe(201);
    const user = raw.body.user;
    expect(user.id).toContain('visitor');
    expect(user.id).not.toBe('visitor');
    expect(user).toMatchObject({ role: 'guest', name: 'Visitor', color: 'green' });
    expectV1Dates(user);
    expect(decodeJwt(raw.body.access_token).user_id).toBe(user.id);

    // The token works for the guest's own requests.
    const own = await server.request('GET', '/users', {
      headers: { authorization: raw.body.access_token },
      query: { payload: JSON.stringify({ filter_conditions: { id: user.id } }) },
    });
    expect(own.status).toBe(200);
    expect(own.body.users[0]).toMatchObject({ id: user.id, role: 'guest', color: 'green' });
  });

  it('works through stream-chat setGuestUser (anonymous auth, then a connection as the guest)', async () => {
    const client = new StreamChatClient(API_KEY, { baseURL: server.baseUrl, allowServerSideConnect: true, timeout: 10_000 });
    connected.push(client);
    await client.setGuestUser(v1User({ id: 'sg', name: 'Set Guest', color: 'teal' }));
    expect(client.user?.id).toContain('sg');
    expect(client.user).toMatchObject({ role: 'guest', name: 'Set Guest', color: 'teal' });
    expect(decodeJwt(client._getToken()!).user_id).toBe(client.user!.id);
    const stored = await storedV2(client.user!.id);
    expect(stored).toMatchObject({ role: 'guest', custom: { color: 'teal' } });
  });

  it('names its errors CreateGuest', async () => {
    const raw = await server.request('POST', '/guest', { headers: { 'stream-auth-type': 'anonymous', authorization: '' }, body: { user: { id: 'bad id' } } });
    expect(raw.status).toBe(400);
    expect(raw.body).toMatchObject({ code: 4, message: expect.stringMatching(/^CreateGuest failed with error: /) });
  });
});

describe('blockUser / unBlockUser / getBlockedUsers (/users/block, /users/unblock)', () => {
  beforeAll(async () => {
    await chat.upsertUsers([v1User({ id: 'blocker', name: 'Blocker', note: 'n' }), v1User({ id: 'pest', name: 'Pest', note: 'p' })]);
  });

  it('blocks, lists and unblocks server-side, with RFC3339 dates and flattened users', async () => {
    const block = (await chat.blockUser('pest', 'blocker')) as unknown as Record<string, unknown>;
    expect(block).toMatchObject({ blocked_by_user_id: 'blocker', blocked_user_id: 'pest' });
    expect(block.created_at).toMatch(RFC3339_MICROS);
    expect(block.blocked_at).toBe(block.created_at);

    const list = await chat.getBlockedUsers('blocker');
    expect(list.blocks).toHaveLength(1);
    const entry = list.blocks[0]!;
    expect(entry).toMatchObject({ user_id: 'blocker', blocked_user_id: 'pest', created_at: block.created_at });
    expect(entry.user).toMatchObject({ id: 'blocker', note: 'n', blocked_user_ids: ['pest'] });
    expect(entry.blocked_user).toMatchObject({ id: 'pest', note: 'p' });
    expectV1Dates(entry.user as unknown as Record<string, unknown>);

    await chat.unBlockUser('pest', 'blocker');
    expect((await chat.getBlockedUsers('blocker')).blocks).toEqual([]);
  });

  it('answers 201 and 200 on the wire, and lets a user block as itself only', async () => {
    const token = userToken('blocker');
    const block = await server.request('POST', '/users/block', { headers: { authorization: token }, body: { blocked_user_id: 'pest' } });
    expect(block.status, block.text).toBe(201);
    const list = await server.request('GET', '/users/block', { headers: { authorization: token } });
    expect(list.status).toBe(200);
    expect(list.body.blocks.map((b: { blocked_user_id: string }) => b.blocked_user_id)).toEqual(['pest']);
    const asOther = await server.request('POST', '/users/block', { headers: { authorization: token }, body: { blocked_user_id: 'pest', user_id: 'pest' } });
    expect(asOther.body).toMatchObject({ code: 17, message: expect.stringMatching(/^BlockUsers failed with error: /) });
    const unblock = await server.request('POST', '/users/unblock', { headers: { authorization: token }, body: { blocked_user_id: 'pest' } });
    expect(unblock.status).toBe(201);

    const serverSideWithoutUser = await chatError(chat.getBlockedUsers());
    expect(serverSideWithoutUser).toMatchObject({ code: 4, message: expect.stringMatching(/^GetBlockedUsers failed with error: /) });
  });
});

